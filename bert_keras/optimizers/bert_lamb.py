import keras
from keras import ops

from bert_keras.optimizers.bert_adamw import BertAdamW


# Hand-written because Keras's `Lamb` decays weights outside the trust ratio
# and adapts every variable; the large-batch BERT recipe (You et al., 2019)
# puts the decay inside it and exempts LayerNorm parameters and biases.
@keras.saving.register_keras_serializable(package="bert_keras")
class BertLamb(BertAdamW):
    """LAMB, the layer-wise adaptive optimizer of large-batch BERT pretraining.

    Per variable, at update `t` (from 1), with gradient `g` after global-norm
    clipping:

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        update = (m / (1 - beta_1 ** t)) / (sqrt(v / (1 - beta_2 ** t)) + epsilon)
        update += weight_decay_rate * variable          # unless excluded
        ratio = ||variable|| / ||update||               # 1 if either is 0, or excluded
        variable -= lr * ratio * update

    Variables whose path matches `exclude_from_weight_decay` (LayerNorm and
    biases by default) get neither the decay nor the trust ratio, as in the
    recipe. With `weight_decay_rate=0` and no exclusions it is Keras's
    `keras.optimizers.Lamb`.

    Args:
        learning_rate: float or a `LearningRateSchedule`, e.g.
            `WarmupLinearDecay`.
        weight_decay_rate: float. Decay coefficient added to the update.
        beta_1, beta_2: floats. Decays of the moments.
        epsilon: float. Added to the root of the second moment.
        exclude_from_weight_decay: regular expressions; variables whose path
            matches one get no decay and no trust ratio.
        global_clipnorm: float or None. Clip all gradients together first.
        name: string. Name of the optimizer.
        **kwargs: other `keras.optimizers.Optimizer` arguments.

    Example:
    >>> kernel = keras.Variable([[3.0, 4.0]], name="kernel")
    >>> optimizer = BertLamb(learning_rate=0.1, weight_decay_rate=0.0)
    >>> optimizer.apply([keras.ops.ones((1, 2))], [kernel])
    >>> [round(float(x), 4) for x in kernel.numpy()[0]]  # moved by 0.1 * ||w|| / ||u||
    [2.6464, 3.6464]
    """

    def __init__(self, learning_rate=0.001, epsilon=1e-6, name="bert_lamb", **kwargs):
        super().__init__(learning_rate=learning_rate, epsilon=epsilon, name=name, **kwargs)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        index, next_m, next_v = self._moments(gradient, variable)
        step = ops.cast(self.iterations + 1, dtype)
        m_hat = ops.divide(next_m, 1.0 - ops.power(ops.cast(self.beta_1, dtype), step))
        v_hat = ops.divide(next_v, 1.0 - ops.power(ops.cast(self.beta_2, dtype), step))
        update = ops.divide(m_hat, ops.add(ops.sqrt(v_hat), self.epsilon))
        if not self._exempt_flags[index]:
            if self._decay_flags[index]:
                update = ops.add(update, ops.multiply(self.weight_decay_rate, variable))
            weight_norm = ops.sqrt(ops.sum(ops.square(variable)))
            update_norm = ops.sqrt(ops.sum(ops.square(update)))
            ratio = ops.where(
                ops.greater(weight_norm, 0),
                ops.where(ops.greater(update_norm, 0), weight_norm / update_norm, 1.0),
                1.0,
            )
            update = ops.multiply(ratio, update)
        self._apply_update(variable, index, next_m, next_v, learning_rate, update)
