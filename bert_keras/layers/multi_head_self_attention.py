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
    three. On JAX, whenever no dropout has to be applied to the attention
    probabilities, attention runs through a fused kernel: on GPUs in
    16-bit precision, cuDNN flash attention told each example's length
    (`padded_flash_attention`), elsewhere `keras.ops.dot_product_attention`.
    While training with `attention_dropout > 0`, and always on TensorFlow
    (whose `dot_product_attention` is no kernel, only more transposes), it
    runs the explicit form in heads-major order. Softmax is computed in
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
        # The projections run on `[tokens, hidden]`: a 2-D matrix product,
        # which TensorFlow's CPU kernels fuse with the bias add; on 3-D
        # inputs a reshape sits between them and nothing fuses.
        qkv = ops.reshape(
            self.qkv_dense(ops.reshape(x, (-1, hidden_dim))),
            (batch_size, sequence_length, 3, self.num_heads, self.head_dim),
        )
        bias = None
        if padding_mask is not None:
            bias = padding_bias(padding_mask, "float32")
        dropout = bool(training) and self.attention_dropout > 0
        context = None
        if not dropout and keras.backend.backend() != "tensorflow":
            query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
            if padding_mask is not None:
                context = padded_flash_attention(query, key, value, padding_mask)
            if context is None:
                context = ops.dot_product_attention(query, key, value, bias=bias)
        if context is None:
            # TensorFlow's `dot_product_attention` is two einsums, each of
            # which transposes both operands; one transpose to heads-major
            # order serves both matrix products here.
            heads = ops.transpose(qkv, (2, 0, 3, 1, 4))
            context = self._explicit_attention(
                heads[0], heads[1], heads[2], bias, training if dropout else False, seed
            )
        context = ops.reshape(context, (-1, hidden_dim))
        return ops.reshape(
            self.output_dense(context), (batch_size, sequence_length, hidden_dim)
        )

    def _explicit_attention(self, query, key, value, bias, training, seed=None):
        """Attention of heads-major `query`, `key` and `value`
        (`[batch, heads, seq, head_dim]`), as the original computes it;
        returns the context `[batch, seq, heads, head_dim]`."""
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))
        scores = ops.cast(scores, "float32") / (self.head_dim**0.5)
        if bias is not None:
            scores = scores + ops.cast(bias, "float32")
        probabilities = ops.softmax(scores, axis=-1)
        if training:
            if seed is None:
                probabilities = self.dropout_layer(probabilities, training=training)
            else:
                probabilities = seeded_dropout(
                    probabilities, self.attention_dropout, seed, offset=0
                )
        probabilities = ops.cast(probabilities, value.dtype)
        return ops.transpose(ops.matmul(probabilities, value), (0, 2, 1, 3))

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
