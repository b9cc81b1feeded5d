"""`bert_keras.optimizers` against trajectories of the original optimizer.

The reference files hold every variable after every step of Google's
`optimization.create_optimizer` on a small regression; the replay tests
rebuild that regression in Keras and demand the same numbers on each backend.
"""

import contextlib
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from keras import ops

from bert_keras import optimizers
from bert_keras.optimizers import BertAdamW, WarmupLinearDecay, create_optimizer

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "optimizer"
REFERENCE_FILES = ["adamw_warmup.json", "adamw_no_warmup.json"]
NAMES = [
    "layer_0/dense/kernel",
    "layer_0/dense/bias",
    "layer_0/LayerNorm/gamma",
    "layer_0/LayerNorm/beta",
    "output/kernel",
    "output/bias",
]
# The original's `modeling.layer_norm` (tf.contrib layer_norm) hard-codes
# 1e-12; with it the recorded first loss is reproduced to within one float32
# ulp in float64, while 1e-6 is three ulps off.
LAYER_NORM_EPSILON = 1e-12
VARIABLE_TOLERANCE = 1e-5
LOSS_RTOL = 1e-6


def load_reference(name):
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"reference trajectories not found at {REFERENCE}")
    return json.loads(path.read_text())


def schedule_for(settings):
    return WarmupLinearDecay(
        settings["init_lr"], settings["num_train_steps"], settings["num_warmup_steps"]
    )


def optimizer_for(settings):
    return BertAdamW(
        learning_rate=schedule_for(settings),
        weight_decay_rate=settings["weight_decay_rate"],
        beta_1=settings["beta_1"],
        beta_2=settings["beta_2"],
        epsilon=settings["epsilon"],
        exclude_from_weight_decay=settings["exclude_from_weight_decay"],
        global_clipnorm=settings["clip_norm"],
    )


def regression_loss(x, y, kernel, bias, gamma, beta, out_kernel, out_bias):
    """`settings["loss"]`, with the LayerNorm written as the original's."""
    hidden = ops.matmul(x, kernel) + bias
    mean = ops.mean(hidden, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(hidden - mean), axis=-1, keepdims=True)
    hidden = (hidden - mean) * ops.rsqrt(variance + LAYER_NORM_EPSILON) * gamma + beta
    prediction = ops.matmul(ops.tanh(hidden), out_kernel) + out_bias
    return ops.mean(ops.square(prediction - y)) * 50.0


def scoped_variable(path, value):
    """A `keras.Variable` whose `.path` is exactly `path`."""
    *scopes, leaf = path.split("/")
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(keras.name_scope(scope))
        return keras.Variable(np.asarray(value, "float32"), name=leaf)


def loss_and_gradients(loss_fn, variables):
    """Backend-specific autodiff; the optimizer under test is backend-agnostic."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        loss, grads = jax.value_and_grad(lambda values: loss_fn(*values))(
            [v.value for v in variables]
        )
        return float(loss), grads
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(*variables)
        return float(loss), tape.gradient(loss, [v.value for v in variables])
    pytest.skip(f"no gradient helper for the {backend} backend")


def check_step(step, loss, variables_by_name, expected):
    np.testing.assert_allclose(
        loss, step["loss_before"], rtol=LOSS_RTOL, err_msg=f"loss before step {step['step']}"
    )
    for name, value in variables_by_name.items():
        np.testing.assert_allclose(
            value,
            np.asarray(expected[name], "float32"),
            rtol=0,
            atol=VARIABLE_TOLERANCE,
            err_msg=f"{name} after step {step['step']}",
        )


@pytest.mark.parametrize("name", REFERENCE_FILES)
def test_replay_matches_original(name):
    reference = load_reference(name)
    x = np.asarray(reference["X"], "float32")
    y = np.asarray(reference["Y"], "float32")
    variables = [scoped_variable(n, reference["initial"][n]) for n in NAMES]
    assert [v.path for v in variables] == NAMES
    optimizer = optimizer_for(reference["settings"])

    def loss_fn(*values):
        return regression_loss(x, y, *values)

    for step in reference["trajectory"]:
        loss, grads = loss_and_gradients(loss_fn, variables)
        optimizer.apply(grads, variables)
        check_step(
            step,
            loss,
            {n: keras.ops.convert_to_numpy(v) for n, v in zip(NAMES, variables)},
            step["variables"],
        )
        assert int(optimizer.iterations) == step["global_step"]


class _Layer0(keras.layers.Layer):
    """`layer_0/dense` then `layer_0/LayerNorm`, named as in the original."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(5, name="dense")
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=LAYER_NORM_EPSILON, name="LayerNorm"
        )

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.layer_norm.build((*input_shape[:-1], 5))

    def call(self, x):
        return self.layer_norm(self.dense(x))


class _Regression(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.layer_0 = _Layer0(name="layer_0")
        self.head = keras.layers.Dense(3, name="output")

    def call(self, x):
        return self.head(ops.tanh(self.layer_0(x)))


def _per_example_loss(y_true, y_pred):
    # Keras averages these over the batch: the mean of the original's loss.
    return ops.mean(ops.square(y_pred - y_true), axis=-1) * 50.0


@pytest.mark.parametrize("name", REFERENCE_FILES)
def test_replay_through_compiled_train_step(name):
    """Same trajectory from `train_on_batch` with a jit-compiled train step."""
    reference = load_reference(name)
    x = np.asarray(reference["X"], "float32")
    y = np.asarray(reference["Y"], "float32")
    model = _Regression(name="regression")
    model(x[:1])
    by_name = {v.path.removeprefix("regression/"): v for v in model.trainable_weights}
    assert sorted(by_name) == sorted(NAMES)
    for n, v in by_name.items():
        v.assign(np.asarray(reference["initial"][n], "float32"))
    optimizer = optimizer_for(reference["settings"])
    model.compile(optimizer=optimizer, loss=_per_example_loss, jit_compile=True)

    for step in reference["trajectory"]:
        loss = model.train_on_batch(x, y)
        check_step(
            step,
            float(loss),
            {n: keras.ops.convert_to_numpy(v) for n, v in by_name.items()},
            step["variables"],
        )
    assert int(optimizer.iterations) == reference["trajectory"][-1]["global_step"]


def _original_rate(init_lr, num_train_steps, num_warmup_steps, step):
    """The original's graph, op by op, in float32."""
    f32 = np.float32
    k = f32(step)
    decayed = f32(init_lr) * (f32(1) - min(k, f32(num_train_steps)) / f32(num_train_steps))
    if num_warmup_steps and step < num_warmup_steps:
        return f32(init_lr) * (k / f32(num_warmup_steps))
    return decayed


@pytest.mark.parametrize(
    "init_lr, num_train_steps, num_warmup_steps",
    [(0.01, 20, 5), (0.005, 12, 0), (2e-5, 1000, 100)],
)
def test_schedule_matches_original_formula(init_lr, num_train_steps, num_warmup_steps):
    schedule = WarmupLinearDecay(init_lr, num_train_steps, num_warmup_steps)
    steps = {0, 1, num_warmup_steps - 1, num_warmup_steps, num_warmup_steps + 1}
    steps |= {num_train_steps - 1, num_train_steps, num_train_steps + 7}
    steps.discard(-1)
    for step in sorted(steps):
        rate = schedule(ops.convert_to_tensor(step, "int32"))
        got = np.float32(keras.ops.convert_to_numpy(rate))
        assert got == _original_rate(init_lr, num_train_steps, num_warmup_steps, step), step


def test_schedule_values():
    schedule = WarmupLinearDecay(0.01, num_train_steps=20, num_warmup_steps=5)
    values = [float(schedule(k)) for k in (0, 1, 4, 5, 19, 20, 25)]
    # Warmup from 0; afterwards the decay counts from step 0, not from step 5.
    np.testing.assert_allclose(values, [0.0, 0.002, 0.008, 0.0075, 0.0005, 0.0, 0.0], atol=1e-9)
    no_warmup = WarmupLinearDecay(0.005, num_train_steps=12)
    assert float(no_warmup(0)) == pytest.approx(0.005)
    with pytest.raises(ValueError):
        WarmupLinearDecay(0.01, num_train_steps=0)
    with pytest.raises(ValueError):
        WarmupLinearDecay(0.01, num_train_steps=10, num_warmup_steps=-1)


def test_weight_decay_exclusions_by_path():
    initial = {
        "encoder_block_0/attention_layer_norm/gamma": 2.0,
        "encoder_block_0/qkv/bias": 2.0,
        "encoder_block_0/qkv/kernel": 2.0,
        "layer_0/LayerNorm/beta": 2.0,
        "pooler/dense/kernel": 2.0,
    }
    variables = {n: scoped_variable(n, np.full((2, 3), value)) for n, value in initial.items()}
    optimizer = BertAdamW(learning_rate=0.1)
    optimizer.exclude_from_weight_decay(var_names=["^pooler/"])
    # A zero gradient leaves Adam's term at 0: only the decay can move a value.
    zeros = [ops.zeros((2, 3)) for _ in variables]
    optimizer.apply(zeros, list(variables.values()))
    decayed = np.float32(2.0) - np.float32(0.1) * (np.float32(0.01) * np.float32(2.0))
    expected = {
        "encoder_block_0/attention_layer_norm/gamma": 2.0,
        "encoder_block_0/qkv/bias": 2.0,
        "encoder_block_0/qkv/kernel": decayed,
        "layer_0/LayerNorm/beta": 2.0,
        "pooler/dense/kernel": 2.0,
    }
    for name, variable in variables.items():
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(variable), np.full((2, 3), expected[name], "float32"), name
        )
    with pytest.raises(ValueError, match="before"):
        optimizer.exclude_from_weight_decay(var_names=["kernel"])


def test_no_weight_decay_when_rate_is_zero():
    kernel = scoped_variable("dense/kernel", np.ones((2, 2)))
    BertAdamW(learning_rate=0.1, weight_decay_rate=0.0).apply([ops.zeros((2, 2))], [kernel])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(kernel), np.ones((2, 2)))


def test_global_norm_clipping_as_tf_clip_by_global_norm():
    # Norm 5 over two variables: both scaled by 1 / 5, seen in the first moment.
    a = scoped_variable("a/kernel", [0.0, 0.0])
    b = scoped_variable("b/kernel", [0.0])
    optimizer = BertAdamW(learning_rate=0.0)
    optimizer.apply([ops.convert_to_tensor([3.0, 0.0]), ops.convert_to_tensor([4.0])], [a, b])
    moments = {v.path: keras.ops.convert_to_numpy(v) for v in optimizer.variables}
    np.testing.assert_allclose(moments["bert_adamw/a_kernel_adam_m"], [0.06, 0.0], rtol=1e-6)
    np.testing.assert_allclose(moments["bert_adamw/b_kernel_adam_m"], [0.08], rtol=1e-6)
    # Under the clip norm nothing is scaled.
    c = scoped_variable("c/kernel", [0.0])
    small = BertAdamW(learning_rate=0.0)
    small.apply([ops.convert_to_tensor([0.5])], [c])
    moments = {v.path: keras.ops.convert_to_numpy(v) for v in small.variables}
    np.testing.assert_allclose(moments["bert_adamw/c_kernel_adam_m"], [0.05], rtol=1e-6)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="row-slice gradients are TensorFlow's"
)
def test_sparse_embedding_gradients_as_original():
    """`tf.gather` gradients (IndexedSlices, a row repeated) as the original.

    The original clips on the slices as given (a repeated row counts twice in
    the norm) and then sums repeated rows in its dense Adam arithmetic.
    """
    import tensorflow as tf

    rng = np.random.RandomState(0)
    table0 = rng.randn(10, 4).astype("float32") * 3
    scale0 = rng.randn(4).astype("float32")
    ids = tf.constant([1, 3, 3, 7])

    def loss_fn(table, scale):
        return tf.reduce_sum(tf.square(tf.gather(table, ids) * scale))

    # The original's update, written out in TensorFlow.
    table, scale = tf.Variable(table0), tf.Variable(scale0)
    moments = [[tf.zeros_like(table), tf.zeros_like(table)], [tf.zeros_like(scale)] * 2]
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = loss_fn(table, scale)
        grads, _ = tf.clip_by_global_norm(tape.gradient(loss, [table, scale]), 1.0)
        for grad, var, slots in zip(grads, [table, scale], moments):
            m = tf.multiply(0.9, slots[0]) + tf.multiply(1.0 - 0.9, grad)
            v = tf.multiply(0.999, slots[1]) + tf.multiply(1.0 - 0.999, tf.square(grad))
            var.assign(var - 0.1 * (m / (tf.sqrt(v) + 1e-6) + 0.01 * var))
            slots[:] = [m, v]

    k_table = keras.Variable(table0, name="embeddings")
    k_scale = keras.Variable(scale0, name="kernel")
    optimizer = BertAdamW(learning_rate=0.1)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = loss_fn(k_table.value, k_scale.value)
        grads = tape.gradient(loss, [k_table.value, k_scale.value])
        assert isinstance(grads[0], tf.IndexedSlices)
        optimizer.apply(grads, [k_table, k_scale])
    np.testing.assert_allclose(k_table.numpy(), table.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(k_scale.numpy(), scale.numpy(), rtol=0, atol=1e-6)


def test_rejects_keras_weight_decay():
    with pytest.raises(ValueError, match="weight_decay_rate"):
        BertAdamW(weight_decay=0.01)


def test_config_round_trip():
    optimizer = BertAdamW(
        learning_rate=WarmupLinearDecay(3e-4, 50, 7),
        weight_decay_rate=0.02,
        beta_1=0.8,
        beta_2=0.99,
        epsilon=1e-7,
        exclude_from_weight_decay=["bias"],
        global_clipnorm=2.0,
    )
    config = optimizer.get_config()
    for key in ("weight_decay_rate", "beta_1", "beta_2", "epsilon", "exclude_from_weight_decay"):
        assert key in config
    assert "weight_decay" not in config
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored, BertAdamW)
    assert restored.get_config() == config
    schedule = restored.get_config()["learning_rate"]
    assert schedule["config"] == {
        "learning_rate": 3e-4,
        "num_train_steps": 50,
        "num_warmup_steps": 7,
    }
    float_lr = BertAdamW.from_config(BertAdamW(learning_rate=1e-3).get_config())
    assert float(float_lr.learning_rate) == pytest.approx(1e-3)


def test_schedule_serialization():
    schedule = WarmupLinearDecay(1e-4, 100, 10)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    assert isinstance(restored, WarmupLinearDecay)
    assert restored.get_config() == schedule.get_config()


@pytest.mark.parametrize(
    "num_train_steps, warmup_proportion, expected",
    [(1000, 0.1, 100), (20, 0.25, 5), (100, 0.29, 28), (12, 0.0, 0)],
)
def test_create_optimizer_warmup_count(num_train_steps, warmup_proportion, expected):
    optimizer = create_optimizer(5e-5, num_train_steps, warmup_proportion, weight_decay_rate=0.03)
    assert isinstance(optimizer, BertAdamW)
    config = optimizer.get_config()
    assert config["learning_rate"]["config"] == {
        "learning_rate": 5e-5,
        "num_train_steps": num_train_steps,
        "num_warmup_steps": expected,
    }
    assert config["weight_decay_rate"] == 0.03
    assert config["global_clipnorm"] == 1.0
    # Step 0 has rate 0 when warming up, the full rate otherwise.
    assert float(optimizer.learning_rate) == pytest.approx(0.0 if expected else 5e-5)


def _lamb_problem(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"dense/kernel": (3, 4), "dense/bias": (4,), "layer_norm/gamma": (4,)}
    values = {name: rng.normal(size=shape).astype("float32") for name, shape in shapes.items()}
    grads = [{name: rng.normal(size=shape).astype("float32") for name, shape in shapes.items()}
             for _ in range(4)]
    return values, grads


def _run(optimizer, values, grads):
    variables = {}
    for name, value in values.items():
        with keras.name_scope(name.split("/")[0]):
            variables[name] = keras.Variable(value, name=name.split("/")[1])
    for step in grads:
        optimizer.apply([ops.convert_to_tensor(step[n]) for n in values],
                        [variables[n] for n in values])
    return {n: ops.convert_to_numpy(v) for n, v in variables.items()}


def test_lamb_without_decay_or_exclusions_is_keras_lamb():
    values, grads = _lamb_problem()
    ours = _run(optimizers.BertLamb(learning_rate=0.01, weight_decay_rate=0.0,
                                    exclude_from_weight_decay=(), global_clipnorm=None),
                values, grads)
    theirs = _run(keras.optimizers.Lamb(learning_rate=0.01, epsilon=1e-6), values, grads)
    for name in values:
        np.testing.assert_allclose(ours[name], theirs[name], atol=1e-6, rtol=0)


def test_lamb_decays_inside_the_trust_ratio_and_exempts_biases_and_layer_norm():
    values, grads = _lamb_problem(1)
    lr, decay, b1, b2, eps = 0.01, 0.1, 0.9, 0.999, 1e-6
    ours = _run(optimizers.BertLamb(learning_rate=lr, weight_decay_rate=decay,
                                    global_clipnorm=None), values, grads)
    for name, value in values.items():
        w, m, v = value.astype("float64"), 0.0, 0.0
        exempt = "bias" in name or "layer_norm" in name
        for t, step in enumerate(grads, 1):
            g = step[name].astype("float64")
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            update = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
            if not exempt:
                update = update + decay * w
                update = update * np.linalg.norm(w) / np.linalg.norm(update)
            w = w - lr * update
        np.testing.assert_allclose(ours[name], w, atol=1e-5, rtol=0, err_msg=name)


def test_pretraining_optimizer_takes_absolute_warmup_steps():
    optimizer = optimizers.create_pretraining_optimizer(1e-4, 1000, 37)
    assert isinstance(optimizer, BertAdamW) and not isinstance(optimizer, optimizers.BertLamb)
    config = optimizer.get_config()["learning_rate"]["config"]
    assert (config["num_train_steps"], config["num_warmup_steps"]) == (1000, 37)
    with pytest.raises(ValueError, match="num_warmup_steps"):
        optimizers.create_pretraining_optimizer(1e-4, 10, 11)
    lamb = optimizers.create_pretraining_optimizer(1e-4, 10, 1, optimizer="lamb",
                                                   gradient_accumulation_steps=2)
    assert isinstance(lamb, optimizers.BertLamb) and lamb.gradient_accumulation_steps == 2
    restored = optimizers.BertLamb.from_config(lamb.get_config())
    assert restored.get_config() == lamb.get_config()
