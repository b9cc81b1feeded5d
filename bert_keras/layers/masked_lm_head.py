import keras
from keras import ops

from bert_keras.layers.activations import get_activation


@keras.saving.register_keras_serializable(package="bert_keras")
class MaskedLMHead(keras.layers.Layer):
    """The masked-language-model head of the original BERT pretraining.

    Dense + activation + LayerNorm on the selected positions, then logits over
    the vocabulary through the transposed word-embedding table (the decoder is
    tied to the embeddings, as in the original) plus an output bias.

    Args:
        token_embedding: the backbone's `keras.layers.Embedding` for tokens.
        activation: str. The backbone's activation name.
        layer_norm_epsilon: float. The original uses 1e-12.
        initializer_range: float. Stddev of the truncated normal initializer.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        sequence_output: `[batch, seq, hidden]` float tensor.
        mask_positions: `[batch, num_masked]` int tensor of the positions to
            predict.

    Example:
    >>> embedding = keras.layers.Embedding(30, 8)
    >>> embedding.build((None,))
    >>> head = MaskedLMHead(embedding)
    >>> tuple(head(keras.random.normal((2, 5, 8)), ops.zeros((2, 3), "int32")).shape)
    (2, 3, 30)
    """

    def __init__(
        self,
        token_embedding,
        activation="gelu_approximate",
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.token_embedding = token_embedding
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

    def build(self, sequence_output_shape, mask_positions_shape=None):
        hidden_dim = sequence_output_shape[-1]
        self.transform_dense = keras.layers.Dense(
            hidden_dim,
            activation=get_activation(self.activation),
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=self.initializer_range
            ),
            dtype=self.dtype_policy,
            name="transform",
        )
        self.transform_dense.build((None, None, hidden_dim))
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon,
            dtype=self.dtype_policy,
            name="layer_norm",
        )
        self.layer_norm.build((None, None, hidden_dim))
        self.output_bias = self.add_weight(
            shape=(self.token_embedding.input_dim,),
            initializer="zeros",
            name="output_bias",
        )
        self.built = True

    def call(self, sequence_output, mask_positions):
        selected = ops.take_along_axis(
            sequence_output, ops.cast(mask_positions, "int32")[:, :, None], axis=1
        )
        x = self.layer_norm(self.transform_dense(selected))
        embeddings = ops.cast(self.token_embedding.embeddings, x.dtype)
        logits = ops.matmul(x, ops.transpose(embeddings))
        return logits + ops.cast(self.output_bias, x.dtype)

    def compute_output_shape(self, sequence_output_shape, mask_positions_shape):
        return (*mask_positions_shape, self.token_embedding.input_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "token_embedding": keras.saving.serialize_keras_object(
                    self.token_embedding
                ),
                "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config["token_embedding"] = keras.layers.deserialize(
            config["token_embedding"]
        )
        return cls(**config)
