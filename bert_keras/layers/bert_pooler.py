import keras


@keras.saving.register_keras_serializable(package="bert_keras")
class BertPooler(keras.layers.Layer):
    """The tanh dense layer on the first (`[CLS]`) token of the sequence.

    Args:
        initializer_range: float. Stddev of the truncated normal initializer.
        **kwargs: other `keras.layers.Layer` arguments (`name`, `dtype`).

    Example:
    >>> tuple(BertPooler()(keras.random.normal((2, 5, 8))).shape)
    (2, 8)
    """

    def __init__(self, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.dense = keras.layers.Dense(
            input_shape[-1],
            activation="tanh",
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=self.initializer_range
            ),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.dense.build((input_shape[0], input_shape[-1]))
        self.built = True

    def call(self, sequence_output):
        return self.dense(sequence_output[:, 0, :])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config["initializer_range"] = self.initializer_range
        return config
