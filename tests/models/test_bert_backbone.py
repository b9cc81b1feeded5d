"""BertBackbone: shapes, outputs, serialization and bad inputs."""

import keras
import numpy as np
import pytest

from bert_keras.models import BertBackbone

TINY = dict(
    vocabulary_size=30,
    num_layers=2,
    num_heads=2,
    hidden_dim=16,
    intermediate_dim=32,
    max_sequence_length=12,
)


def batch(length=7):
    rng = np.random.default_rng(0)
    return {
        "token_ids": rng.integers(0, 30, (3, length)).astype("int32"),
        "segment_ids": (np.arange(length) >= 3).astype("int32")[None].repeat(3, 0),
        "padding_mask": (np.arange(length)[None] < np.array([[length], [5], [2]])).astype("int32"),
    }


@pytest.fixture
def backbone():
    keras.utils.set_random_seed(0)
    return BertBackbone(**TINY)


def test_outputs_and_shapes(backbone):
    outputs = backbone(batch())
    assert outputs["sequence_output"].shape == (3, 7, 16)
    assert outputs["pooled_output"].shape == (3, 16)
    assert len(outputs["encoder_outputs"]) == 2
    np.testing.assert_array_equal(outputs["encoder_outputs"][-1], outputs["sequence_output"])


def test_any_length_up_to_the_maximum(backbone):
    for length in (1, 5, 12):
        assert backbone(batch(length))["sequence_output"].shape == (3, length, 16)
    with pytest.raises(ValueError, match="max_sequence_length of 12"):
        backbone(batch(13))


def test_padding_does_not_change_real_positions(backbone):
    inputs = batch()
    padded = {k: np.pad(v, ((0, 0), (0, 4))) for k, v in inputs.items()}
    padded["token_ids"][:, 7:] = 5
    short = backbone(inputs)["sequence_output"]
    long = backbone(padded)["sequence_output"]
    np.testing.assert_allclose(np.asarray(long)[:, :7], short, atol=1e-5)


def test_parameter_count_matches_the_formula(backbone):
    v, h, i, p, s, layers = 30, 16, 32, 12, 2, 2
    per_layer = 4 * (h * h + h) + 2 * h + h * i + i + i * h + h + 2 * h
    assert backbone.count_params() == v * h + p * h + s * h + 2 * h + layers * per_layer + h * h + h


def test_keras_file_round_trip(backbone, tmp_path):
    path = tmp_path / "backbone.keras"
    backbone.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, BertBackbone)
    assert restored.get_config() == backbone.get_config()
    inputs = batch()
    np.testing.assert_allclose(
        restored(inputs)["pooled_output"], backbone(inputs)["pooled_output"], atol=1e-6
    )


def test_get_config_lists_constructor_arguments(backbone):
    config = backbone.get_config()
    assert set(config) == set(TINY) | {
        "dropout", "attention_dropout", "num_segments", "activation", "dtype", "remat", "name",
        "trainable",
    }
    assert BertBackbone.from_config(config).count_params() == backbone.count_params()


def test_out_of_vocabulary_ids_raise(backbone):
    inputs = batch()
    inputs["token_ids"][1, 2] = 30
    with pytest.raises(ValueError, match="token id 30 outside"):
        backbone(inputs)


def test_out_of_vocabulary_ids_raise_in_a_tensorflow_graph(backbone):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("graph assertions are TensorFlow's")
    import tensorflow as tf

    inputs = batch()
    inputs["token_ids"][0, 0] = 99
    with pytest.raises(tf.errors.InvalidArgumentError, match="token id outside"):
        tf.function(backbone)(inputs)


def test_mixed_precision(backbone):
    mixed = BertBackbone(**TINY, dtype="mixed_bfloat16")
    outputs = mixed(batch())
    assert keras.backend.standardize_dtype(outputs["sequence_output"].dtype) == "bfloat16"
    restored = BertBackbone.from_config(mixed.get_config())
    assert restored.dtype_policy.name == "mixed_bfloat16"


def test_trains_with_fit(backbone):
    inputs = batch()
    head = keras.layers.Dense(1)
    features = backbone.input
    model = keras.Model(features, head(backbone(features)["pooled_output"]))
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(inputs, np.ones((3, 1)), epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_out_of_vocabulary_ids_never_give_nans_in_compiled_jax(backbone):
    if keras.backend.backend() != "jax":
        pytest.skip("JAX-traced code cannot raise on values")
    inputs = batch()
    inputs["token_ids"][0, 0] = 99
    outputs = backbone.predict(inputs, verbose=0)
    assert np.isfinite(outputs["sequence_output"]).all()
