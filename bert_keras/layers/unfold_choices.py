import keras


@keras.saving.register_keras_serializable(package="bert_keras")
class UnfoldChoices(keras.layers.Layer):
    """One score per choice: `[batch * choices, 1]` scores back to
    `[batch, choices]`, the shape of the first two axes of the unfolded
    inputs (see `FoldChoices`).

    Example:
    >>> scores = keras.ops.zeros((8, 1))
    >>> tuple(UnfoldChoices()(scores, keras.ops.zeros((2, 4, 7), "int32")).shape)
    (2, 4)
    """

    def call(self, scores, inputs):
        return keras.ops.reshape(scores, (-1, keras.ops.shape(inputs)[1]))

    def compute_output_shape(self, scores_shape, inputs_shape):
        return tuple(inputs_shape[:2])
