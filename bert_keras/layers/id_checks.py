"""Range checks for integer ids fed to embedding tables.

An out-of-range id makes `take` return garbage or NaN rows depending on the
backend, so we fail loudly wherever the values can be seen: eagerly on every
backend, and inside TensorFlow graphs (`tf.function`, `tf.data`, `fit`) through
an assertion op. Inside a traced JAX function the values are unknown and no
check is possible without a host round trip on every step; there the ids are
clipped into range, because JAX's `take` would otherwise fill the rows of
bad ids with NaN and poison every later computation silently.
"""

import keras
import numpy as np
from keras import ops

from bert_keras.errors import DataError


def _is_traced(x):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly() or not hasattr(x, "numpy")
    return False


TOKEN_ID_FIX = (
    "Token ids must come from this model's vocabulary: use the tokenizer of "
    "the same preset."
)


def segment_id_fix(num_segments):
    return (
        f"This model has {num_segments} segments (0 for the first sentence, "
        "1 for the second)."
    )


def out_of_range_message(values, limit, what, fix):
    """The error message for the first of `values` outside `[0, limit)`, or None."""
    values = np.asarray(values)
    if not values.size or (values.min() >= 0 and values.max() < limit):
        return None
    bad = values[(values < 0) | (values >= limit)]
    return f"Found {what} {int(bad.flat[0])} outside [0, {limit}). {fix}"


def check_id_range(ids, limit, what, fix):
    """Raises `DataError` when `ids` has a value outside `[0, limit)`.

    Args:
        ids: integer tensor.
        limit: the table size.
        what: a name for the ids, used in the message (e.g. "token id").
        fix: a sentence telling the user how to fix it.

    Returns:
        `ids`; with a TensorFlow assertion attached when traced by
        TensorFlow; clipped into `[0, limit)` when traced by another backend.
    """
    if keras.backend.is_keras_tensor(ids):
        return ids
    message = f"Found a {what} outside [0, {limit}). {fix}"
    if not _is_traced(ids):
        message = out_of_range_message(ops.convert_to_numpy(ids), limit, what, fix)
        if message:
            raise DataError(message)
        return ids
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        checks = [
            tf.debugging.assert_non_negative(ids, message=message),
            tf.debugging.assert_less(ids, tf.cast(limit, ids.dtype), message=message),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(ids)
    return ops.clip(ids, 0, limit - 1)
