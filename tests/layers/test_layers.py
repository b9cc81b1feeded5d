"""The BERT layers on tiny shapes: math against plain numpy, masks,
dropout paths, mixed precision and serialization."""

import keras
import numpy as np
import pytest
from keras import ops

from bert_keras.layers import (
    BertEmbedding,
    BertEncoderBlock,
    BertPooler,
    MaskedLMHead,
    MultiHeadSelfAttention,
)
from bert_keras.layers.activations import get_activation
from bert_keras.layers.padding_bias import padding_bias


def numpy_attention(layer, x, mask):
    kernel, bias = (np.asarray(w) for w in layer.qkv_dense.weights)
    batch, length, hidden = x.shape
    heads, size = layer.num_heads, hidden // layer.num_heads
    qkv = (x @ kernel + bias).reshape(batch, length, 3, heads, size)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size)
    scores = scores + (1.0 - mask[:, None, None, :]) * -10000.0
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
    out_kernel, out_bias = (np.asarray(w) for w in layer.output_dense.weights)
    return context @ out_kernel + out_bias


def test_attention_matches_the_original_formula():
    keras.utils.set_random_seed(0)
    layer = MultiHeadSelfAttention(num_heads=2)
    x = np.random.default_rng(0).normal(size=(3, 5, 8)).astype("float32")
    # The last example has no token: the original then attends to every key.
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], "float32")
    output = layer(x, padding_mask=mask)
    np.testing.assert_allclose(output, numpy_attention(layer, x, mask), atol=1e-5)


def test_attention_ignores_padded_keys():
    keras.utils.set_random_seed(0)
    layer = MultiHeadSelfAttention(num_heads=2)
    x = np.random.default_rng(0).normal(size=(1, 5, 8)).astype("float32")
    changed = x.copy()
    changed[:, 3:] = 100.0
    mask = np.array([[1, 1, 1, 0, 0]], "int32")
    np.testing.assert_allclose(
        layer(x, padding_mask=mask)[:, :3], layer(changed, padding_mask=mask)[:, :3], atol=1e-5
    )


def test_explicit_training_path_equals_fused_path_without_dropout():
    keras.utils.set_random_seed(0)
    layer = MultiHeadSelfAttention(num_heads=2, attention_dropout=0.5)
    x = np.random.default_rng(1).normal(size=(2, 4, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "int32")
    fused = layer(x, padding_mask=mask, training=False)
    explicit = layer._explicit_attention(
        *[ops.transpose(ops.reshape(layer.qkv_dense(x), (2, 4, 3, 2, 4))[:, :, i], (0, 2, 1, 3))
          for i in range(3)],
        padding_bias(mask, "float32"),
        training=False,
    )
    explicit = layer.output_dense(ops.reshape(explicit, (2, 4, 8)))
    np.testing.assert_allclose(fused, explicit, atol=1e-5)
    dropped = layer(x, padding_mask=mask, training=True)
    assert not np.allclose(dropped, fused)


@pytest.mark.parametrize(
    "mask",
    [
        [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]],
        # Not suffix padding, and an example without tokens: the masked branch.
        [[1, 1, 1, 1, 1, 1], [0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 0, 0]],
        [[1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0]],
    ],
    ids=["suffix-padded", "holes", "empty-row"],
)
def test_attention_by_lengths_equals_masked_attention(mask):
    if keras.backend.backend() != "jax":
        pytest.skip("the sequence-length path is JAX's")
    import jax

    from bert_keras.layers.padded_flash_attention import attention_by_lengths

    rng = np.random.default_rng(0)
    query, key, value = (rng.normal(size=(3, 6, 2, 4)).astype("float32") for _ in range(3))
    mask = np.array(mask, "int32")

    def masked(query):
        # The original's additive mask, which also spreads an empty row's
        # weight evenly over its keys.
        scores = jax.numpy.einsum("btnh,bsnh->bnts", query, key) / 2.0
        scores = scores + (1.0 - mask[:, None, None, :]) * -10000.0
        return jax.numpy.einsum("bnts,bsnh->btnh", jax.nn.softmax(scores, -1), value)

    def by_lengths(query):
        return attention_by_lengths(query, key, value, mask, implementation="xla")

    np.testing.assert_allclose(jax.jit(by_lengths)(query), masked(query), atol=1e-6)
    gradients = [
        jax.grad(lambda q, f=f: jax.numpy.sum(f(q) ** 2))(query) for f in (by_lengths, masked)
    ]
    np.testing.assert_allclose(*gradients, atol=1e-5)


def test_padded_flash_attention_is_left_to_gpus_in_16_bits():
    from bert_keras.layers.padded_flash_attention import padded_flash_attention

    x = np.ones((1, 4, 2, 8), "float32")
    assert padded_flash_attention(x, x, x, np.ones((1, 4), "int32")) is None


def test_gelu_forms_differ_and_match_their_formulas():
    x = np.linspace(-4, 4, 33).astype("float32")
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(get_activation("gelu_approximate")(x), tanh_form, atol=1e-6)
    from math import erf

    exact = np.array([0.5 * v * (1 + erf(v / np.sqrt(2))) for v in x])
    np.testing.assert_allclose(get_activation("gelu")(x), exact, atol=1e-6)
    with pytest.raises(ValueError, match="gelu_approximate"):
        get_activation("swish2")


def test_embedding_sums_tables_then_normalizes():
    keras.utils.set_random_seed(0)
    layer = BertEmbedding(vocabulary_size=10, hidden_dim=8, max_sequence_length=6)
    tokens = np.array([[1, 2, 3]], "int32")
    segments = np.array([[0, 1, 1]], "int32")
    out = np.asarray(layer(tokens, segments))
    summed = (
        np.asarray(layer.token_embedding.embeddings)[tokens]
        + np.asarray(layer.segment_embedding.embeddings)[segments]
        + np.asarray(layer.position_embeddings)[None, :3]
    )
    normalized = (summed - summed.mean(-1, keepdims=True)) / np.sqrt(
        summed.var(-1, keepdims=True) + 1e-12
    )
    np.testing.assert_allclose(out, normalized, atol=1e-5)


@pytest.mark.parametrize(
    "tokens, segments, message",
    [
        ([[1, 10]], [[0, 0]], "token id 10 outside"),
        ([[1, -1]], [[0, 0]], "token id -1 outside"),
        ([[1, 2]], [[0, 2]], "segment id 2 outside"),
    ],
)
def test_out_of_range_ids_raise_eagerly(tokens, segments, message):
    layer = BertEmbedding(vocabulary_size=10, hidden_dim=8, max_sequence_length=6)
    with pytest.raises(ValueError, match=message):
        layer(np.array(tokens, "int32"), np.array(segments, "int32"))


def test_too_long_sequences_raise():
    layer = BertEmbedding(vocabulary_size=10, hidden_dim=8, max_sequence_length=4)
    with pytest.raises(ValueError, match="max_sequence_length of 4"):
        layer(np.ones((1, 5), "int32"), np.zeros((1, 5), "int32"))


def test_encoder_block_is_post_layer_norm():
    keras.utils.set_random_seed(0)
    block = BertEncoderBlock(num_heads=2, intermediate_dim=16)
    x = np.random.default_rng(2).normal(size=(2, 3, 8)).astype("float32")
    out = np.asarray(block(x))
    # Post-LN: every output position is normalized, then scaled by gamma=1.
    np.testing.assert_allclose(out.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(-1), 1, atol=1e-3)


def test_mixed_precision_keeps_float32_statistics():
    block = BertEncoderBlock(num_heads=2, intermediate_dim=16, dtype="mixed_bfloat16")
    x = np.random.default_rng(2).normal(size=(2, 3, 8)).astype("float32")
    out = block(ops.cast(x, "bfloat16"), padding_mask=np.ones((2, 3), "int32"))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    assert all(w.dtype == "float32" for w in block.weights)
    assert np.isfinite(np.asarray(ops.cast(out, "float32"))).all()


def test_pooler_uses_first_token():
    pooler = BertPooler()
    x = np.random.default_rng(2).normal(size=(2, 3, 8)).astype("float32")
    changed = x.copy()
    changed[:, 1:] = 0
    np.testing.assert_allclose(pooler(x), pooler(changed))


def test_masked_lm_head_is_tied_to_the_embedding():
    embedding = keras.layers.Embedding(12, 8)
    embedding.build((None,))
    head = MaskedLMHead(embedding)
    x = np.random.default_rng(2).normal(size=(2, 4, 8)).astype("float32")
    positions = np.array([[0, 3], [1, 1]], "int32")
    logits = np.asarray(head(x, positions))
    assert logits.shape == (2, 2, 12)
    selected = np.take_along_axis(x, positions[..., None], axis=1)
    kernel, bias = (np.asarray(w) for w in head.transform_dense.weights)
    hidden = 0.5 * (h := selected @ kernel + bias) * (
        1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h**3))
    )
    hidden = (hidden - hidden.mean(-1, keepdims=True)) / np.sqrt(hidden.var(-1, keepdims=True) + 1e-12)
    np.testing.assert_allclose(logits, hidden @ np.asarray(embedding.embeddings).T, atol=1e-4)


@pytest.mark.parametrize(
    "layer",
    [
        BertEmbedding(vocabulary_size=10, hidden_dim=8, max_sequence_length=6, dropout=0.1),
        MultiHeadSelfAttention(num_heads=2, attention_dropout=0.1),
        BertEncoderBlock(num_heads=2, intermediate_dim=16, activation="gelu"),
        BertPooler(initializer_range=0.1),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_config_round_trip(layer):
    config = layer.get_config()
    restored = type(layer).from_config(config)
    assert restored.get_config() == config
