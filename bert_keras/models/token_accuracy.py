import keras


@keras.saving.register_keras_serializable(package="bert_keras")
class TokenAccuracy(keras.metrics.Metric):
    """The share of weighted tokens whose label is the argmax of the logits.

    Summed over every token of every batch. Keras's `SparseCategoricalAccuracy`
    averages each example's tokens first, so batches padded to different
    lengths would count differently; here each weighted token counts once.
    """

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        labels = ops.cast(y_true, "int32")
        weights = ops.ones(ops.shape(labels)) if sample_weight is None else sample_weight
        weights = ops.cast(weights, "float32")
        hits = ops.cast(ops.argmax(y_pred, axis=-1) == labels, "float32")
        self.correct.assign_add(ops.sum(hits * weights))
        self.count.assign_add(ops.sum(weights))

    def result(self):
        return keras.ops.divide_no_nan(self.correct, self.count)
