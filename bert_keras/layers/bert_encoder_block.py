import keras

from bert_keras.layers.activations import get_activation
from bert_keras.layers.multi_head_self_attention import MultiHeadSelfAttention


@keras.saving.register_keras_serializable(package="bert_keras")
class BertEncoderBlock(keras.layers.Layer):
    """One post-LayerNorm transformer encoder block of the original BERT.

    `x = LayerNorm(x + Dropout(Attention(x)))`, then
    `x = LayerNorm(x + Dropout(Dense(activation(Dense(x)))))`.

    Args:
        num_heads: int. Number of attention heads.
        intermediate_dim: int. Width of the feed-forward layer.
        activation: str. `"gelu_approximate"` (the tanh form that every
            Google checkpoint was trained with) or `"gelu"` (exact erf form,
            used by some Hugging Face checkpoints); see
            `bert_keras.layers.activations`.
        dropout: float. Dropout rate on both residual branches.
        attention_dropout: float. Dropout rate on the attention probabilities.
        layer_norm_epsilon: float. The original uses 1e-12.
        initializer_range: float. Stddev of the truncated normal initializer.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    >>> block = BertEncoderBlock(num_heads=2, intermediate_dim=32)
    >>> x = keras.random.normal((2, 5, 8))
    >>> tuple(block(x, padding_mask=keras.ops.ones((2, 5), "int32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        activation="gelu_approximate",
        dropout=0.0,
        attention_dropout=0.0,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range
        get_activation(activation)

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        initializer = keras.initializers.TruncatedNormal(
            stddev=self.initializer_range
        )
        self.attention = MultiHeadSelfAttention(
            self.num_heads,
            attention_dropout=self.attention_dropout,
            initializer_range=self.initializer_range,
            dtype=self.dtype_policy,
            name="attention",
        )
        self.attention.build(input_shape)
        self.attention_dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="attention_dropout"
        )
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="attention_layer_norm",
        )
        self.attention_layer_norm.build(input_shape)
        self.intermediate_dense = keras.layers.Dense(
            self.intermediate_dim,
            activation=get_activation(self.activation),
            kernel_initializer=initializer,
            dtype=self.dtype_policy,
            name="intermediate",
        )
        self.intermediate_dense.build(input_shape)
        self.output_dense = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=initializer,
            dtype=self.dtype_policy,
            name="output",
        )
        self.output_dense.build((*input_shape[:-1], self.intermediate_dim))
        self.output_dropout_layer = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="output_dropout"
        )
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="output_layer_norm",
        )
        self.output_layer_norm.build(input_shape)
        self.built = True

    def call(self, x, padding_mask=None, training=None):
        attended = self.attention(x, padding_mask=padding_mask, training=training)
        attended = self.attention_dropout_layer(attended, training=training)
        x = self.attention_layer_norm(x + attended)
        transformed = self.output_dense(self.intermediate_dense(x))
        transformed = self.output_dropout_layer(transformed, training=training)
        return self.output_layer_norm(x + transformed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config
