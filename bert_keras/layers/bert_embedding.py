import keras
from keras import ops

from bert_keras.layers.id_checks import TOKEN_ID_FIX, check_id_range, segment_id_fix


@keras.saving.register_keras_serializable(package="bert_keras")
class BertEmbedding(keras.layers.Layer):
    """Token, position and segment embeddings, summed and normalized.

    The sum of a learned embedding per token id, per position and per segment
    id, followed by LayerNormalization and dropout, as in the original BERT.

    Args:
        vocabulary_size: int. Number of rows of the token table.
        hidden_dim: int. Width of every embedding.
        max_sequence_length: int. Number of learned positions.
        num_segments: int. Number of segment (token type) ids.
        dropout: float. Dropout rate applied after the LayerNorm.
        layer_norm_epsilon: float. The original uses 1e-12.
        initializer_range: float. Stddev of the truncated normal initializer.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    >>> layer = BertEmbedding(vocabulary_size=30, hidden_dim=8,
    ...                       max_sequence_length=16, num_segments=2)
    >>> tuple(layer(ops.ones((2, 5), "int32"), ops.zeros((2, 5), "int32")).shape)
    (2, 5, 8)
    """

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        max_sequence_length,
        num_segments=2,
        dropout=0.0,
        layer_norm_epsilon=1e-12,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.hidden_dim = hidden_dim
        self.max_sequence_length = max_sequence_length
        self.num_segments = num_segments
        self.dropout = dropout
        self.layer_norm_epsilon = layer_norm_epsilon
        self.initializer_range = initializer_range

        initializer = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            hidden_dim,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments,
            hidden_dim,
            embeddings_initializer=initializer,
            dtype=self.dtype_policy,
            name="segment_embedding",
        )
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="layer_norm"
        )
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="dropout"
        )

    def build(self, token_ids_shape, segment_ids_shape=None):
        self.token_embedding.build(token_ids_shape)
        self.segment_embedding.build(token_ids_shape)
        self.position_embeddings = self.add_weight(
            shape=(self.max_sequence_length, self.hidden_dim),
            initializer=keras.initializers.TruncatedNormal(
                stddev=self.initializer_range
            ),
            name="position_embeddings",
        )
        self.layer_norm.build((*token_ids_shape, self.hidden_dim))
        self.built = True

    def call(self, token_ids, segment_ids, training=None):
        sequence_length = ops.shape(token_ids)[1]
        if isinstance(sequence_length, int) and (
            sequence_length > self.max_sequence_length
        ):
            raise ValueError(
                f"Sequences of length {sequence_length} exceed this model's "
                f"max_sequence_length of {self.max_sequence_length}. Truncate "
                "them (BertPreprocessor(sequence_length=...) does)."
            )
        token_ids = check_id_range(
            token_ids,
            self.vocabulary_size,
            "token id",
            TOKEN_ID_FIX,
        )
        segment_ids = check_id_range(
            segment_ids,
            self.num_segments,
            "segment id",
            segment_id_fix(self.num_segments),
        )
        positions = ops.cast(
            self.position_embeddings[:sequence_length], self.compute_dtype
        )
        x = (
            self.token_embedding(token_ids)
            + self.segment_embedding(segment_ids)
            + positions[None, :, :]
        )
        x = self.layer_norm(x)
        return self.dropout_layer(x, training=training)

    def compute_output_shape(self, token_ids_shape, segment_ids_shape=None):
        return (*token_ids_shape, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "hidden_dim": self.hidden_dim,
                "max_sequence_length": self.max_sequence_length,
                "num_segments": self.num_segments,
                "dropout": self.dropout,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "initializer_range": self.initializer_range,
            }
        )
        return config
