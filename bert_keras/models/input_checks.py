"""Checks of token ids and labels where a task model first sees them.

Inside a compiled JAX step the values are unknown, so the embedding can only
clip bad ids (`bert_keras.layers.id_checks`); TensorFlow raises on its own,
in words of its own. Checking here, where the values are still NumPy arrays
or pass through `tf.data`, gives both backends the same `DataError` with the
same message, before any step runs.
"""

import contextlib
import re
import sys

import numpy as np

from bert_keras.errors import DataError
from bert_keras.layers.id_checks import TOKEN_ID_FIX, out_of_range_message, segment_id_fix

# What the messages built here and in `id_checks` look like, to find them
# again inside TensorFlow's error text.
_MESSAGE = re.compile(r"(Found (?:a )?[\w -]+? -?\d* ?outside \[0, \d+\)\.[^\]\n]*)")
_CHECK_TAG = "bert_keras input check: "


def _limits(backbone):
    return {
        "token_ids": (backbone.vocabulary_size, "token id", TOKEN_ID_FIX),
        "segment_ids": (backbone.num_segments, "segment id", segment_id_fix(backbone.num_segments)),
        "padding_mask": (2, "padding mask value", "The padding mask holds 1 for real tokens and 0 for padding."),
    }


def check_token_inputs(inputs, backbone, axes=("batch", "sequence")):
    """Raises `DataError` for a dict of id arrays the backbone cannot read;
    `axes` names the arrays' dimensions (`sequence` last)."""
    if not isinstance(inputs, dict):
        return
    missing = {"token_ids", "segment_ids", "padding_mask"} - set(inputs)
    if missing:
        raise DataError(
            f"Token-id inputs are a dict with token_ids, segment_ids and "
            f"padding_mask; {sorted(missing)} missing."
        )
    arrays = {name: np.asarray(inputs[name]) for name in ("token_ids", "segment_ids", "padding_mask")}
    shapes = {array.shape for array in arrays.values()}
    if len(shapes) > 1 or arrays["token_ids"].ndim != len(axes):
        raise DataError(
            f"token_ids, segment_ids and padding_mask must be [{', '.join(axes)}] "
            f"arrays of one shape; got {({k: v.shape for k, v in arrays.items()})}."
        )
    length = arrays["token_ids"].shape[-1]
    if length > backbone.max_sequence_length:
        raise DataError(
            f"Sequences of length {length} exceed this model's "
            f"max_sequence_length of {backbone.max_sequence_length}. Truncate "
            "them (BertPreprocessor(sequence_length=...) does)."
        )
    for name, (limit, what, fix) in _limits(backbone).items():
        message = out_of_range_message(arrays[name], limit, what, fix)
        if message:
            raise DataError(message)


def class_label_message(labels, num_classes):
    """Why `labels` are not class ids of `num_classes` classes (or regression
    targets when `num_classes` is 1), or None."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biuf":
        return f"Labels must be numbers; got {labels.dtype} values."
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        return "Found a label that is NaN or infinite; every label must be a finite number."
    if num_classes == 1:
        return None
    if labels.dtype.kind == "f" and np.any(labels != np.round(labels)):
        return f"Found label {labels[labels != np.round(labels)].flat[0]} that is not a class id."
    return out_of_range_message(
        labels, num_classes, "label", f"Class labels are ids 0 to {num_classes - 1}."
    )


def checked_dataset(dataset, backbone, num_classes=None):
    """`dataset` with assertions on its token ids and class labels.

    The assertions run in `tf.data` whatever the Keras backend, and fail
    with messages that `translated_errors` turns back into `DataError`s.

    Args:
        dataset: a `tf.data.Dataset` of `(features, labels, ...)` or
            features alone, where features are token-id dicts.
        backbone: the `BertBackbone` the ids are for.
        num_classes: int or None. Labels that are one tensor are checked to
            be class ids below this, when it is above 1.
    """
    import tensorflow as tf

    limits = _limits(backbone)

    def assertions(value, limit, message):
        message = f"{_CHECK_TAG}{message}"
        return [
            tf.debugging.assert_non_negative(value, message=message),
            tf.debugging.assert_less(value, tf.cast(limit, value.dtype), message=message),
        ]

    def check(features, *rest):
        checks = []
        if isinstance(features, dict):
            for name, (limit, what, fix) in limits.items():
                if name in features and features[name].dtype.is_integer:
                    checks += assertions(
                        features[name], limit, f"Found a {what} outside [0, {limit}). {fix}"
                    )
        if rest and num_classes and num_classes > 1 and isinstance(rest[0], tf.Tensor):
            checks += assertions(
                rest[0], num_classes,
                f"Found a label outside [0, {num_classes}). Class labels are ids 0 to {num_classes - 1}.",
            )
        if not checks:
            return (features, *rest) if rest else features
        with tf.control_dependencies(checks):
            checked = tf.nest.map_structure(tf.identity, (features, *rest))
        return checked if rest else checked[0]

    return dataset.map(check)


@contextlib.contextmanager
def translated_errors():
    """Turns TensorFlow's failed id and label assertions into `DataError`s."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        yield
        return
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        found = _MESSAGE.search(str(error.message))
        if found is None:
            raise
        raise DataError(found.group(1).strip()) from None
