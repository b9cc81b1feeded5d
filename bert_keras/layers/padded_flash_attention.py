"""cuDNN flash attention over each example's own length, on JAX GPUs.

A padding mask reaches `keras.ops.dot_product_attention` as a mask or a
`[batch, 1, 1, seq]` bias, and JAX's cuDNN wrapper takes neither for
self-attention (it wants a bias as long as the queries), so Keras falls back
to XLA's attention, which keeps `[batch, heads, seq, seq]` probabilities for
the backward pass. BERT pads at the end, so the same attention is cuDNN's
padding mode with one key length per example, which also skips the padded
keys. No `keras.ops` function takes sequence lengths, hence this one JAX
call.
"""

import keras
from keras import ops

from bert_keras.layers.padding_bias import padding_bias


def padded_flash_attention(query, key, value, padding_mask):
    """Attention that ignores padded keys, or None where the kernel does not apply.

    Every query position attends to the first `sum(padding_mask)` keys of
    its example, exactly what the mask means when it is 1s followed by 0s.
    An example whose mask is not such a prefix, or has no token at all,
    sends the batch through the original's additive mask instead (a `cond`
    on the mask, so the result never depends on that assumption).

    Returns None off the JAX backend, off GPUs, in float32 (cuDNN's flash
    kernels take 16-bit inputs) and wherever JAX cannot build the cuDNN
    call for these shapes, so that callers fall back to
    `keras.ops.dot_product_attention`.
    """
    if keras.backend.backend() != "jax":
        return None
    import jax
    import jax.numpy as jnp

    if jax.default_backend() != "gpu" or query.dtype not in (jnp.bfloat16, jnp.float16):
        return None
    try:
        return attention_by_lengths(query, key, value, padding_mask, "cudnn")
    except Exception:  # JAX raises several types for shapes cuDNN does not take.
        return None


def attention_by_lengths(query, key, value, padding_mask, implementation):
    """`padded_flash_attention` through `jax.nn.dot_product_attention(implementation=...)`."""
    import jax

    tokens = ops.cast(padding_mask, "bool")
    lengths = ops.sum(ops.cast(tokens, "int32"), axis=-1)
    positions = ops.arange(ops.shape(tokens)[-1], dtype="int32")
    is_suffix_padded = ops.logical_and(
        ops.all(ops.equal(tokens, positions[None, :] < lengths[:, None])),
        ops.all(lengths > 0),
    )

    def by_lengths():
        return jax.nn.dot_product_attention(
            query, key, value, key_value_seq_lengths=lengths, implementation=implementation
        )

    # Differentiating a `cond` keeps the residuals of both branches; the
    # masked branch recomputes its forward pass in the backward one instead
    # of keeping `[batch, heads, seq, seq]` probabilities beside cuDNN's.
    @jax.checkpoint
    def by_mask():
        return jax.nn.dot_product_attention(
            query, key, value, bias=padding_bias(padding_mask, query.dtype),
            implementation="xla",
        )

    return jax.lax.cond(is_suffix_padded, by_lengths, by_mask)
