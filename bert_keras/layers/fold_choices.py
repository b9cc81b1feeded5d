import keras


@keras.saving.register_keras_serializable(package="bert_keras")
class FoldChoices(keras.layers.Layer):
    """Folds the choices of multiple-choice inputs into the batch, so that
    the backbone reads each choice as one sequence.

    `[batch, choices, seq]` becomes `[batch * choices, seq]`;
    `UnfoldChoices` takes the per-sequence scores back.

    Example:
    >>> tuple(FoldChoices()(keras.ops.zeros((2, 4, 7), "int32")).shape)
    (8, 7)
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)

    def call(self, inputs):
        return keras.ops.reshape(inputs, (-1, keras.ops.shape(inputs)[-1]))

    def compute_output_shape(self, input_shape):
        batch, choices, length = input_shape
        folded = None if batch is None or choices is None else batch * choices
        return (folded, length)
