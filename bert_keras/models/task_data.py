"""How the task models read the data handed to `fit`, `evaluate` and
`predict`: raw text or token ids, arrays or datasets, checked at the door."""

import sys

import keras
import numpy as np

from bert_keras.data.text_inputs import is_python_text, standardize_text
from bert_keras.errors import DataError
from bert_keras.models.input_checks import check_token_inputs, checked_dataset


def checked_data(model, x, y, purpose, allow_empty=False):
    """`(x, y)` checked for `model`, with raw Python text standardized.

    Raw text becomes a list of strings or a tuple of two lists; token-id
    dicts and labels are range-checked; datasets get `tf.data` assertions.
    Tensors pass as they are.

    Raises:
        DataError: bad text, ids or labels, counts that differ, or no
            examples at all (unless `allow_empty`).
    """
    count = None
    if model.preprocessor is not None and is_python_text(x):
        columns = standardize_text(x, pairs=model.text_pairs)
        count = len(columns[0])
        x = columns[0] if len(columns) == 1 else columns
    elif isinstance(x, dict):
        check_token_inputs(x, model.backbone, model.token_axes)
        count = len(np.asarray(x["token_ids"]))
    elif is_dataset(x) and not holds_text(x):
        x = checked_dataset(x, model.backbone, model.label_classes())
    elif x is None or (isinstance(x, np.ndarray) and x.size == 0):
        count = 0
    if count == 0 and not allow_empty:
        raise DataError(
            f"There are no {purpose} examples: the inputs are empty. Pass at "
            "least one example."
        )
    if isinstance(y, list) and all(np.ndim(value) == 0 for value in y):
        # A plain list of labels is one array, not a structure of scalars.
        y = np.asarray(y)
    if y is not None and _is_concrete(y):
        labels = keras.tree.map_structure(np.asarray, y)
        first = keras.tree.flatten(labels)[0]
        if count is not None and first.shape[:1] != (count,):
            raise DataError(
                f"There are {count} {purpose} examples but {len(first)} labels; "
                "pass one label per example."
            )
        message = model.label_message(labels, x)
        if message:
            raise DataError(message)
    return x, y


def empty_outputs(model):
    """What `predict` returns for no examples: arrays with 0 rows."""
    return keras.tree.map_structure(
        lambda output: np.zeros((0, *[d or 0 for d in output.shape[1:]]), dtype="float32"),
        model.output,
    )


def _is_concrete(value):
    return all(
        isinstance(leaf, (list, tuple, np.ndarray, int, float, np.generic))
        for leaf in keras.tree.flatten(value)
    ) or isinstance(value, (list, np.ndarray))


def spans_workers(strategy):
    """Whether `strategy` is a TensorFlow strategy with replicas on other hosts."""
    tf = _tensorflow()
    return (
        tf is not None
        and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
        and strategy.num_replicas_in_sync > len(strategy.extended.worker_devices)
    )


def _tensorflow():
    """TensorFlow if it is loaded, else None.

    Data can hold TensorFlow tensors or datasets only once TensorFlow is
    loaded, so the task models train on arrays without importing it (a
    JAX-only machine need not have it).
    """
    return sys.modules.get("tensorflow")


def is_dataset(x):
    tf = _tensorflow()
    return tf is not None and isinstance(x, tf.data.Dataset)


def holds_text(x):
    """Whether `x` (data for `fit`, `evaluate` or `predict`) is raw text."""
    tf = _tensorflow()
    if tf is None:
        return any(
            isinstance(leaf, (str, bytes)) or _is_text_array(leaf)
            for leaf in keras.tree.flatten(x)
        )
    if isinstance(x, tf.data.Dataset):
        return any(spec.dtype == tf.string for spec in tf.nest.flatten(x.element_spec))
    for leaf in tf.nest.flatten(x):
        if isinstance(leaf, (str, bytes)):
            return True
        if isinstance(leaf, tf.Tensor):
            if leaf.dtype == tf.string:
                return True
            continue
        if _is_text_array(leaf):
            return True
    return False


def _is_text_array(leaf):
    array = np.asarray(leaf) if isinstance(leaf, (list, np.ndarray)) else None
    return bool(
        array is not None
        and array.size
        and (array.dtype.kind in "SU" or isinstance(array.flat[0], (str, bytes)))
    )


def features_first(*element):
    """Dataset elements as `(features, *labels_and_weights)`.

    Elements made only of strings are features alone (a text, a pair, a
    dict); otherwise the first item is the features.
    """
    import tensorflow as tf

    if all(leaf.dtype == tf.string for leaf in tf.nest.flatten(element)):
        return (element[0] if len(element) == 1 else tuple(element),)
    return element


def count_examples(x):
    return len(x[0]) if isinstance(x, tuple) else len(x)


def batches_per_epoch(x, batch_size):
    """Training steps per epoch as the original counts them, or None."""
    if is_dataset(x):
        import tensorflow as tf

        cardinality = int(x.cardinality())
        if cardinality < 0:
            return None
        unbatched = tf.nest.flatten(x.element_spec)[0].shape.rank == 0
        return cardinality / batch_size if unbatched else cardinality
    if isinstance(x, dict):
        return len(next(iter(x.values()))) / batch_size
    return count_examples(x) / batch_size
