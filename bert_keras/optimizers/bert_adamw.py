import re

import keras
from keras import ops

DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


# Hand-written because no library optimizer reproduces the original: Keras's
# AdamW (and others) bias-correct Adam and apply the decay outside the update.
@keras.saving.register_keras_serializable(package="bert_keras")
class BertAdamW(keras.optimizers.Optimizer):
    """Adam with weight decay exactly as the original BERT's optimizer.

    Per variable, with gradient `g` (after global-norm clipping) and rate `lr`:

        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g ** 2
        update = m / (sqrt(v) + epsilon) + weight_decay_rate * variable
        variable -= lr * update

    There is no bias correction, and the decay term is dropped for variables
    whose path matches any pattern of `exclude_from_weight_decay`
    (`re.search` on `variable.path`, e.g.
    `encoder_block_0/attention_layer_norm/gamma`).

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`
            (see `WarmupLinearDecay`). Defaults to `0.001`.
        weight_decay_rate: float. Decay coefficient added to the update.
        beta_1: float. Decay of the first moment.
        beta_2: float. Decay of the second moment.
        epsilon: float. Added to `sqrt(v)`; the original uses 1e-6.
        exclude_from_weight_decay: sequence of regular expressions; variables
            whose path matches one get no weight decay.
        global_clipnorm: float or None. Clip all gradients together to this
            global norm, as `tf.clip_by_global_norm`; None turns it off.
        name: string. Name of the optimizer (prefix of its variables' paths).
        **kwargs: other `keras.optimizers.Optimizer` arguments (`clipnorm`,
            `clipvalue` with `global_clipnorm=None`, `use_ema`, ...). Not
            `weight_decay`: Keras's decoupled decay would decay twice.

    Example:
    >>> kernel = keras.Variable([[1.0]], name="kernel")
    >>> optimizer = BertAdamW(learning_rate=0.1)
    >>> optimizer.apply([keras.ops.zeros((1, 1))], [kernel])
    >>> round(float(kernel.numpy()[0, 0]), 6)  # only decay moved it: 1 - 0.1 * 0.01
    0.999
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay_rate=0.01,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-6,
        exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
        global_clipnorm=1.0,
        name="bert_adamw",
        **kwargs,
    ):
        if kwargs.pop("weight_decay", None) is not None:
            raise ValueError(
                "BertAdamW adds its decay to the update; pass "
                "`weight_decay_rate`, not `weight_decay`."
            )
        super().__init__(
            learning_rate=learning_rate,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
        self.weight_decay_rate = weight_decay_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self._exclude_patterns = tuple(exclude_from_weight_decay or ())
        self._excluded_keys = set()
        # True for the placeholder of `BertTask.compile()`'s default recipe.
        self.stand_in = False

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Exclude more variables from weight decay, before the first step.

        Keras's own method only configures the decoupled decay this optimizer
        does not use, so it is redirected here: `var_names` are patterns
        matched against variable paths, added to those given at construction.

        Args:
            var_list: `keras.Variable`s to exclude.
            var_names: regular expressions matched against `variable.path`.
        """
        if self.built:
            raise ValueError(
                "`exclude_from_weight_decay()` must be called before the "
                "optimizer is built."
            )
        self._excluded_keys.update(self._var_key(v) for v in var_list or ())
        self._exclude_patterns += tuple(var_names or ())

    def _excluded(self, variable):
        if self._var_key(variable) in self._excluded_keys:
            return True
        return any(re.search(p, variable.path) for p in self._exclude_patterns)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Named after the original's slots (`<variable>/adam_m`, `/adam_v`).
        self._m, self._v = self.add_optimizer_variables(var_list, ["adam_m", "adam_v"])
        # Decided here, where paths are known: under TensorFlow `update_step`
        # receives the backend variable, which has no Keras path.
        self._exempt_flags = tuple(self._excluded(v) for v in var_list)
        self._decay_flags = tuple(
            bool(self.weight_decay_rate) and not exempt for exempt in self._exempt_flags
        )

    def load_own_variables(self, store):
        saved = len(store.keys())
        if saved != len(self.variables) and (saved <= 1 or (self.stand_in and not self.built)):
            # One side never trained, so there is no state to carry over:
            # the file's optimizer was never built (it saved its step count
            # alone), or this is a task's default stand-in in a model loaded
            # without its compile config, which `fit` replaces anyway.
            # Keras would warn that it skipped them.
            return
        super().load_own_variables(store)

    def apply(self, grads, trainable_variables=None):
        # Under a TensorFlow strategy Keras clips each replica's share of the
        # gradient and sums the shares only for the update; the original
        # clips the sum. So the shares are summed here, first, and
        # `_all_reduce_sum_gradients` leaves the sums alone.
        context = _tensorflow_replica_context()
        if context is not None:
            grads = list(grads)
            present = [g for g in grads if g is not None]
            summed = iter(context.all_reduce("sum", present) if present else [])
            grads = [None if g is None else next(summed) for g in grads]
        return super().apply(grads, trainable_variables)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return grads_and_vars

    def _get_current_learning_rate(self):
        # Keras evaluates a schedule at its count of batches; with gradient
        # accumulation that runs ahead of the count of updates
        # (`iterations`), which is what the original's schedule counts.
        if isinstance(self._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            return self._learning_rate(self.iterations)
        return super()._get_current_learning_rate()

    def _moments(self, gradient, variable):
        """`(index, next_m, next_v)`: the variable's slot index and its
        moments after `gradient`, not yet assigned."""
        if hasattr(gradient, "indices"):
            # Row slices (TensorFlow's gradient of an embedding lookup) become
            # dense with repeated rows summed, as the original's dense
            # arithmetic converts them; squaring the slices would differ.
            gradient = ops.add(ops.zeros_like(variable), gradient)
        gradient = ops.cast(gradient, variable.dtype)
        index = self._get_variable_index(variable)
        m, v = self._m[index], self._v[index]
        # Same operations in the same order as the original, for equal floats.
        next_m = ops.add(
            ops.multiply(self.beta_1, m), ops.multiply(1.0 - self.beta_1, gradient)
        )
        next_v = ops.add(
            ops.multiply(self.beta_2, v),
            ops.multiply(1.0 - self.beta_2, ops.square(gradient)),
        )
        return index, next_m, next_v

    def _apply_update(self, variable, index, next_m, next_v, learning_rate, update):
        self.assign(self._m[index], next_m)
        self.assign(self._v[index], next_v)
        self.assign_sub(variable, ops.multiply(ops.cast(learning_rate, variable.dtype), update))

    def update_step(self, gradient, variable, learning_rate):
        index, next_m, next_v = self._moments(gradient, variable)
        update = ops.divide(next_m, ops.add(ops.sqrt(next_v), self.epsilon))
        if self._decay_flags[index]:
            update = ops.add(update, ops.multiply(self.weight_decay_rate, variable))
        self._apply_update(variable, index, next_m, next_v, learning_rate, update)

    def get_config(self):
        config = super().get_config()
        # Keras's decoupled decay is always off here; `weight_decay_rate` rules.
        config.pop("weight_decay", None)
        config.update(
            {
                "weight_decay_rate": self.weight_decay_rate,
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "exclude_from_weight_decay": list(self._exclude_patterns),
            }
        )
        return config


def _tensorflow_replica_context():
    """The replica context of a TensorFlow strategy with several replicas, or None."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context
