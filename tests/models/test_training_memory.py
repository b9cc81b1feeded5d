"""Training in less memory without changing the result: gradient
accumulation, rematerialized encoder blocks, and mixed precision, for a
classifier and for a pretrainer (its own loss, padded prediction slots and
two heads).

Tolerance 1e-6 on trained weights: the variants compute the same float32
sums in another grouping (accumulated micro-batches, recomputed blocks), a
few rounding steps apart (measured: at most 1.4e-7); a lost micro-batch, a
schedule counting micro-batches or a different dropout mask moves weights by
1e-3 or more.
"""

import keras
import numpy as np
import pytest

from bert_keras.models import BertBackbone, BertClassifier, BertPretrainer
from bert_keras.optimizers import create_optimizer

EXAMPLES, SEQUENCE, PREDICTIONS = 16, 8, 3
TOLERANCE = 1e-6
TASKS = pytest.mark.parametrize("task", ["classifier", "pretrainer"])


def token_data(seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, SEQUENCE + 1, EXAMPLES)
    padding_mask = (np.arange(SEQUENCE)[None, :] < lengths[:, None]).astype("int32")
    inputs = {
        "token_ids": rng.integers(5, 30, (EXAMPLES, SEQUENCE)).astype("int32") * padding_mask,
        "segment_ids": np.zeros((EXAMPLES, SEQUENCE), "int32"),
        "padding_mask": padding_mask,
    }
    return inputs, rng.integers(0, 2, EXAMPLES)


def pretraining_data():
    """Two real predictions and one padded slot in every example, so that
    every micro-batch holds the same masked-LM weight and the mean of their
    weighted means is the large batch's."""
    inputs, next_sentence = token_data()
    rng = np.random.default_rng(1)
    positions = np.zeros((EXAMPLES, PREDICTIONS), "int32")
    for row, length in enumerate(inputs["padding_mask"].sum(axis=1)):
        positions[row, 1:] = rng.choice(length, PREDICTIONS - 1, replace=False)
    weights = (np.arange(PREDICTIONS) > 0)[None, :].repeat(EXAMPLES, 0).astype("float32")
    labels = {
        "masked_lm": np.take_along_axis(inputs["token_ids"], positions, 1) * (weights > 0),
        "next_sentence": next_sentence,
    }
    sample_weight = {"masked_lm": weights, "next_sentence": np.ones(EXAMPLES, "float32")}
    return {**inputs, "masked_lm_positions": positions}, labels, sample_weight


def training_data(task):
    if task == "pretrainer":
        return pretraining_data()
    return (*token_data(), None)


def classifier(dropout=0.0, remat=False, task="classifier"):
    keras.utils.set_random_seed(3)
    backbone = BertBackbone(
        vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=SEQUENCE, dropout=dropout, attention_dropout=dropout, remat=remat,
    )
    if task == "pretrainer":
        return BertPretrainer(backbone)
    model = BertClassifier(backbone, num_classes=2, dropout=dropout)
    model.preprocessor = None
    return model


def trained_weights(model, batch_size, epochs=1):
    task = "pretrainer" if isinstance(model, BertPretrainer) else "classifier"
    inputs, labels, sample_weight = training_data(task)
    keras.utils.set_random_seed(11)
    model.fit(
        inputs, labels, sample_weight=sample_weight, batch_size=batch_size, epochs=epochs,
        shuffle=False, verbose=0,
    )
    return [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]


def outputs(model, inputs, training=False):
    result = model(inputs, training=training)
    if isinstance(result, dict):
        parts = [keras.ops.convert_to_numpy(result[key]) for key in sorted(result)]
        return np.concatenate([part.reshape(EXAMPLES, -1) for part in parts], axis=1)
    return keras.ops.convert_to_numpy(result)


def assert_same_weights(first, second, tolerance=TOLERANCE):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_allclose(a, b, atol=tolerance)


def clip_norm():
    # TensorFlow's gradient of an embedding lookup lists a row once per
    # occurrence, and the original's global norm (kept on TensorFlow) counts
    # each occurrence; accumulation must sum the rows first, as JAX always
    # does. So the two agree under clipping on JAX only, and on TensorFlow
    # whenever the norm stays below the threshold.
    return 1e-3 if keras.backend.backend() == "jax" else None


@pytest.mark.model
@TASKS
def test_accumulated_micro_batches_train_like_one_large_batch(task):
    large = classifier(task=task)
    optimizer = create_optimizer(1e-2, 4, warmup_proportion=0.25)
    optimizer.global_clipnorm = clip_norm()
    large.compile(optimizer=optimizer)
    expected = trained_weights(large, batch_size=8, epochs=2)

    accumulated = classifier(task=task)
    optimizer = create_optimizer(1e-2, 4, warmup_proportion=0.25, gradient_accumulation_steps=4)
    optimizer.global_clipnorm = clip_norm()
    accumulated.compile(optimizer=optimizer)
    assert_same_weights(trained_weights(accumulated, batch_size=2, epochs=2), expected)
    # The schedule counted updates, not micro-batches: 16 micro-batches, 4 updates.
    assert int(keras.ops.convert_to_numpy(accumulated.optimizer.iterations)) == 4
    assert float(accumulated.optimizer.learning_rate) == 0.0


@pytest.mark.model
def test_default_recipe_schedules_updates_with_accumulation():
    model = classifier()
    model.compile(learning_rate=1e-3, gradient_accumulation_steps=2)
    trained_weights(model, batch_size=4, epochs=1)
    assert model.optimizer.gradient_accumulation_steps == 2
    # 16 examples in micro-batches of 4: 4 batches, 2 updates.
    assert model.optimizer.get_config()["learning_rate"]["config"]["num_train_steps"] == 2
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2


def test_accumulation_with_an_own_optimizer_is_configured_there():
    with pytest.raises(ValueError, match="gradient_accumulation_steps=4"):
        classifier().compile(optimizer="adam", gradient_accumulation_steps=4)
    with pytest.raises(ValueError, match="at least 1"):
        create_optimizer(1e-3, 10, gradient_accumulation_steps=0)


@pytest.mark.model
@TASKS
def test_remat_changes_neither_outputs_nor_gradients_even_with_dropout(task):
    plain = classifier(dropout=0.1, task=task)
    remat = classifier(dropout=0.1, remat=True, task=task)
    inputs = training_data(task)[0]
    np.testing.assert_allclose(outputs(remat, inputs), outputs(plain, inputs), atol=TOLERANCE)
    for model in (plain, remat):
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    # Same seeds, so the same dropout masks: the recomputed forward pass must
    # draw exactly the masks of the first one for the gradients to agree.
    assert_same_weights(trained_weights(remat, 8, epochs=2), trained_weights(plain, 8, epochs=2))


@pytest.mark.model
def test_dropout_masks_change_from_step_to_step_and_vanish_at_inference():
    model = classifier(dropout=0.3, remat=True)
    inputs, _ = token_data()
    first, second = (keras.ops.convert_to_numpy(model(inputs, training=True)) for _ in range(2))
    assert not np.allclose(first, second)
    inference = keras.ops.convert_to_numpy(model(inputs))
    np.testing.assert_array_equal(inference, keras.ops.convert_to_numpy(model(inputs)))


def test_remat_survives_serialization():
    backbone = classifier(remat=True).backbone
    restored = BertBackbone.from_config(backbone.get_config())
    assert restored.remat and all(block.remat for block in restored.encoder_blocks)


@pytest.fixture
def float16_policy():
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(policy)


@pytest.mark.model
@TASKS
def test_float16_training_scales_the_loss(float16_policy, task):
    model = classifier(task=task)
    assert model.backbone.compute_dtype == "float16"
    model.compile(learning_rate=1e-3)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    if keras.backend.backend() == "jax":
        pytest.skip("XLA has no float16 matrix products on CPU")
    weights = trained_weights(model, batch_size=8, epochs=2)
    assert all(np.isfinite(w).all() for w in weights)
    # Logits stay float32 so that the loss is computed exactly.
    assert outputs(model, training_data(task)[0]).dtype == np.float32


@pytest.fixture
def restore_policy():
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


@pytest.mark.model
def test_bfloat16_pretraining_follows_float32_training(restore_policy):
    keras.config.set_dtype_policy("float32")
    reference = classifier(task="pretrainer")
    reference.compile(learning_rate=1e-2)
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = classifier(task="pretrainer")
    assert model.backbone.compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.trainable_variables)
    model.compile(learning_rate=1e-2)
    inputs, labels, sample_weight = pretraining_data()
    history = {}
    for name, each in (("float32", reference), ("bfloat16", model)):
        keras.utils.set_random_seed(11)
        history[name] = each.fit(
            inputs, labels, sample_weight=sample_weight, batch_size=4, epochs=3,
            shuffle=False, verbose=0,
        ).history["loss"]
    # bfloat16 keeps 8 bits of mantissa (relative error 2**-8 per rounding),
    # so losses of about 4 agree to a few hundredths, while training moves
    # them by several tenths.
    np.testing.assert_allclose(history["bfloat16"], history["float32"], atol=0.05)
    assert history["bfloat16"][-1] < history["bfloat16"][0] - 0.2
    assert outputs(model, inputs).dtype == np.float32
