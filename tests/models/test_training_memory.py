"""Training in less memory without changing the result: gradient
accumulation, rematerialized encoder blocks, and mixed precision.

Tolerance 1e-6 on trained weights: the variants compute the same float32
sums in another grouping (accumulated micro-batches, recomputed blocks), a
few rounding steps apart (measured: at most 1.4e-7); a lost micro-batch, a
schedule counting micro-batches or a different dropout mask moves weights by
1e-3 or more.
"""

import keras
import numpy as np
import pytest

from bert_keras.models import BertBackbone, BertClassifier
from bert_keras.optimizers import create_optimizer

EXAMPLES, SEQUENCE = 16, 8
TOLERANCE = 1e-6


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


def classifier(dropout=0.0, remat=False):
    keras.utils.set_random_seed(3)
    backbone = BertBackbone(
        vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=SEQUENCE, dropout=dropout, attention_dropout=dropout, remat=remat,
    )
    model = BertClassifier(backbone, num_classes=2, dropout=dropout)
    model.preprocessor = None
    return model


def trained_weights(model, batch_size, epochs=1):
    inputs, labels = token_data()
    keras.utils.set_random_seed(11)
    model.fit(inputs, labels, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    return [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]


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
def test_accumulated_micro_batches_train_like_one_large_batch():
    large = classifier()
    optimizer = create_optimizer(1e-2, 4, warmup_proportion=0.25)
    optimizer.global_clipnorm = clip_norm()
    large.compile(optimizer=optimizer)
    expected = trained_weights(large, batch_size=8, epochs=2)

    accumulated = classifier()
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
def test_remat_changes_neither_outputs_nor_gradients_even_with_dropout():
    plain, remat = classifier(dropout=0.1), classifier(dropout=0.1, remat=True)
    inputs, _ = token_data()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(remat(inputs)), keras.ops.convert_to_numpy(plain(inputs)), atol=TOLERANCE
    )
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
def test_float16_training_scales_the_loss(float16_policy):
    model = classifier()
    assert model.backbone.compute_dtype == "float16"
    model.compile(learning_rate=1e-3)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    if keras.backend.backend() == "jax":
        pytest.skip("XLA has no float16 matrix products on CPU")
    weights = trained_weights(model, batch_size=8, epochs=2)
    assert all(np.isfinite(w).all() for w in weights)
    # Logits stay float32 so that the loss is computed exactly.
    inputs, _ = token_data()
    assert keras.ops.convert_to_numpy(model(inputs)).dtype == np.float32
