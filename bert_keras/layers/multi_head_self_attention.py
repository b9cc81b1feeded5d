import keras
from keras import ops

from bert_keras.layers.padded_flash_attention import padded_flash_attention
from bert_keras.layers.padding_bias import padding_bias
from bert_keras.layers.seeded_dropout import seeded_dropout


@keras.saving.register_keras_serializable(package="bert_keras")
class MultiHeadSelfAttention(keras.layers.Layer):
    """Multi-head self-attention with a fused query/key/value projection.

    One dense layer projects the input to queries, keys and values at once
    (kernel `[hidden, 3 * hidden]`, laid out as `[q | k | v]`, each
    `[num_heads, head_dim]`), which is one large matrix product instead of
    three. Whenever no dropout has to be applied to the attention
    probabilities, attention runs through a fused kernel: on JAX GPUs in
    16-bit precision, cuDNN flash attention told each example's length
    (`padded_flash_attention`), elsewhere `keras.ops.dot_product_attention`.
    While training with `attention_dropout > 0` it runs the explicit form,
    because the fused kernels take no dropout. Softmax is computed in
    float32 either way.

    Args:
        num_heads: int. Number of attention heads; must divide the width.
        attention_dropout: float. Dropout rate on the attention probabilities.
        initializer_range: float. Stddev of the truncated normal initializer.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    >>> layer = MultiHeadSelfAttention(num_heads=2)
    >>> x = keras.random.normal((2, 5, 8))
    >>> tuple(layer(x, padding_mask=ops.ones((2, 5), "int32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self, num_heads, attention_dropout=0.0, initializer_range=0.02, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"The width {hidden_dim} is not a multiple of num_heads="
                f"{self.num_heads}."
            )
        self.head_dim = hidden_dim // self.num_heads
        initializer = keras.initializers.TruncatedNormal(
            stddev=self.initializer_range
        )
        self.qkv_dense = keras.layers.Dense(
            3 * hidden_dim,
            kernel_initializer=initializer,
            dtype=self.dtype_policy,
            name="qkv",
        )
        self.qkv_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=initializer,
            dtype=self.dtype_policy,
            name="output",
        )
        self.output_dense.build(input_shape)
        self.dropout_layer = keras.layers.Dropout(
            self.attention_dropout, dtype=self.dtype_policy, name="dropout"
        )
        self.built = True

    def call(self, x, padding_mask=None, training=None, seed=None):
        """Attends over `x` (`[batch, seq, hidden]`).

        `padding_mask` (`[batch, seq]`, 1 for tokens) hides padded keys.
        `seed`, a stateless seed tensor, draws the attention dropout mask
        instead of the layer's own generator, for callers that must be able
        to recompute the same mask.
        """
        batch_size, sequence_length, hidden_dim = ops.shape(x)
        qkv = ops.reshape(
            self.qkv_dense(x),
            (batch_size, sequence_length, 3, self.num_heads, self.head_dim),
        )
        query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        bias = None
        if padding_mask is not None:
            bias = padding_bias(padding_mask, "float32")
        if training and self.attention_dropout > 0:
            context = self._explicit_attention(query, key, value, bias, training, seed)
        else:
            context = None
            if padding_mask is not None:
                context = padded_flash_attention(query, key, value, padding_mask)
            if context is None:
                context = ops.dot_product_attention(query, key, value, bias=bias)
        context = ops.reshape(context, (batch_size, sequence_length, hidden_dim))
        return self.output_dense(context)

    def _explicit_attention(self, query, key, value, bias, training, seed=None):
        scores = ops.einsum("btnh,bsnh->bnts", query, key)
        scores = ops.cast(scores, "float32") / (self.head_dim**0.5)
        if bias is not None:
            scores = scores + ops.cast(bias, "float32")
        probabilities = ops.softmax(scores, axis=-1)
        if seed is None:
            probabilities = self.dropout_layer(probabilities, training=training)
        else:
            probabilities = seeded_dropout(
                probabilities, self.attention_dropout, seed, offset=0
            )
        probabilities = ops.cast(probabilities, value.dtype)
        return ops.einsum("bnts,bsnh->btnh", probabilities, value)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "attention_dropout": self.attention_dropout,
                "initializer_range": self.initializer_range,
            }
        )
        return config
