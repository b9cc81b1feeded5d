"""Raw text from Python, checked and put in one shape for every task.

Accepted, by every task model and preprocessor alike:

- a string: a batch of one;
- a list (or rank-1 array) of strings: a batch of single texts;
- a tuple `(texts_a, texts_b)` of two such batches: pairs, by column;
- a list of 2-tuples (or 2-lists) of strings: pairs, by row.

Everything else, and rows that are not text (None, numbers, strings with
lone surrogates, bytes that are not UTF-8), is a `DataError` that names the
row and shows these forms. NumPy only: TensorFlow tensors are left to the
callers.
"""

import numpy as np

from bert_keras.errors import DataError

ACCEPTED = (
    'a string; a list of strings; a tuple (texts_a, texts_b) of two '
    'equally long lists for pairs; or a list of (text_a, text_b) pairs, e.g. '
    '[("a great film", "I loved it"), ("a dull mess", "I left early")]'
)


def is_python_text(x):
    """Whether `x` is Python or NumPy data that can only mean raw text.

    Lists, tuples and strings are text to a task whose preprocessor is
    attached; token-id inputs are dicts or datasets.
    """
    if isinstance(x, (str, bytes, list, tuple)):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind in "USO"


def _row_text(value, where):
    """`value` as a `str` or valid UTF-8 `bytes`, or a `DataError`."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(
                f"{where} is not valid UTF-8 ({error.reason} at byte "
                f"{error.start}); decode the text with its own encoding first."
            ) from None
        return value
    if not isinstance(value, str):
        raise DataError(
            f"{where} is {type(value).__name__} {value!r}, not text. Accepted "
            f"inputs: {ACCEPTED}."
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise DataError(
            f"{where} holds a lone surrogate (U+{ord(value[error.start]):04X}) at "
            f"character {error.start}, which is not a Unicode character and "
            "cannot be encoded as UTF-8; this usually comes from reading bytes "
            "with the wrong encoding or errors='surrogateescape'. Fix the "
            "text, e.g. with .encode('utf-8', 'replace').decode('utf-8')."
        ) from None
    return value


def _column(values, name):
    if isinstance(values, (str, bytes)):
        return [_row_text(values, name)]
    array = np.asarray(values, dtype=object) if isinstance(values, (list, tuple)) else values
    if not isinstance(array, np.ndarray) or array.ndim > 1:
        raise DataError(
            f"{name} must be a list of strings; got "
            f"{type(values).__name__}{'' if not hasattr(array, 'shape') else f' of shape {array.shape}'}. "
            f"Accepted inputs: {ACCEPTED}."
        )
    return [_row_text(value, f"{name}[{i}]") for i, value in enumerate(array.reshape(-1))]


def standardize_text(x, pairs="optional"):
    """Checks raw text and returns it as `(texts_a,)` or `(texts_a, texts_b)`.

    Args:
        x: raw text in one of the accepted forms (module docstring).
        pairs: `"optional"` (single texts or pairs), or `"required"` (pairs
            only, e.g. questions and contexts).

    Returns:
        A tuple of one or two lists of `str` (or UTF-8 `bytes`), equally long.

    Raises:
        DataError: naming the first bad row and the accepted forms.
    """
    if isinstance(x, tuple):
        if len(x) != 2:
            raise DataError(
                f"A tuple input must be a pair (texts_a, texts_b); got {len(x)} "
                f"elements. Accepted inputs: {ACCEPTED}."
            )
        columns = (_column(x[0], "texts_a"), _column(x[1], "texts_b"))
        if len(columns[0]) != len(columns[1]):
            raise DataError(
                f"Pairs need one second text per first text; got "
                f"{len(columns[0])} and {len(columns[1])}. Pass equally long "
                "lists (use \"\" for a missing second text)."
            )
    elif isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == 2:
        columns = (_column(x[:, 0], "texts_a"), _column(x[:, 1], "texts_b"))
    elif isinstance(x, list) and x and all(isinstance(row, (tuple, list)) for row in x):
        bad = next((i for i, row in enumerate(x) if len(row) != 2), None)
        if bad is not None:
            raise DataError(
                f"Row {bad} of a list of pairs has {len(x[bad])} items, not 2. "
                f"Accepted inputs: {ACCEPTED}."
            )
        columns = (
            [_row_text(row[0], f"row {i}'s text_a") for i, row in enumerate(x)],
            [_row_text(row[1], f"row {i}'s text_b") for i, row in enumerate(x)],
        )
    elif isinstance(x, list) and any(isinstance(row, (tuple, list)) for row in x):
        raise DataError(
            f"A list mixes pairs with single texts. Accepted inputs: {ACCEPTED}."
        )
    else:
        columns = (_column(x, "texts"),)
    if pairs == "required" and columns == ([],):
        return [], []
    if pairs == "required" and len(columns) != 2:
        raise DataError(
            "This model reads pairs, e.g. (questions, contexts): pass a tuple "
            "of two equally long lists, or a list of 2-tuples."
        )
    return columns
