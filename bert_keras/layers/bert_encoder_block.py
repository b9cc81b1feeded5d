import functools

import keras
from keras import ops

from bert_keras.layers.activations import get_activation
from bert_keras.layers.multi_head_self_attention import MultiHeadSelfAttention
from bert_keras.layers.seeded_dropout import seeded_dropout


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
        remat: bool. Recompute the block during the backward pass instead of
            keeping its intermediate activations (gradient checkpointing).
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
        remat=False,
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
        self.remat = remat
        get_activation(activation)
        self.seed_generator = keras.random.SeedGenerator()

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
        self.output_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="output_layer_norm",
        )
        self.output_layer_norm.build(input_shape)
        self.built = True

    def call(self, x, padding_mask=None, training=None):
        seed = None
        if training and (self.dropout > 0 or self.attention_dropout > 0):
            # One draw per call, outside the recomputed function: all masks
            # derive from it statelessly, so that a rematerialized block
            # recomputes the very masks of its forward pass.
            seed = self.seed_generator.next()
        # Only tensors are passed to the recomputed function (JAX would
        # trace a bool into an array, TensorFlow cannot take a None).
        forward = functools.partial(self._forward, training=training, seed=seed)
        if padding_mask is None:
            forward = functools.partial(forward, padding_mask=None)
            arguments = (x,)
        else:
            arguments = (x, padding_mask)
        if self.remat and training:
            forward = keras.remat(forward)
        return forward(*arguments)

    def _forward(self, x, padding_mask, seed, training):
        attended = self.attention(
            x,
            padding_mask=padding_mask,
            training=training,
            seed=seed,
        )
        attended = self._dropout(attended, seed, 1)
        x = self.attention_layer_norm(x + attended)
        # On `[tokens, hidden]`, as in the attention: 2-D matrix products
        # fuse with their bias (and the GELU) on TensorFlow's CPU kernels.
        tokens = ops.reshape(x, (-1, ops.shape(x)[-1]))
        transformed = self.output_dense(self.intermediate_dense(tokens))
        transformed = self._dropout(ops.reshape(transformed, ops.shape(x)), seed, 2)
        return self.output_layer_norm(x + transformed)

    def _dropout(self, x, seed, offset):
        if seed is None:
            return x
        return seeded_dropout(x, self.dropout, seed, offset)

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
                "remat": self.remat,
            }
        )
        return config
