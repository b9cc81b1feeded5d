"""A small sentiment dataset that ships with the package, for demos and tests.

`sentiment.tsv` holds about 400 short English sentences written for this
package (reviews of films, restaurants, products, books, trips, games, music
and service), half positive and half negative, with a header row
`sentence<TAB>label` where label 1 is positive and 0 is negative. It is far
too small to measure a model with; it is large enough to watch fine-tuning
work end to end in a minute on a CPU.

Example:
>>> sentences, labels = load_sentiment_demo()
>>> len(sentences) == len(labels), int(labels.sum()) * 2 == len(labels)
(True, True)
>>> LABEL_NAMES[labels[0]], sentences[0]
('positive', 'Our hotel room had a stunning view of the harbor.')
"""

from __future__ import annotations

import csv
import io
import pathlib
from importlib import resources

import numpy as np

from bert_keras.errors import DataError

__all__ = ["LABEL_NAMES", "load_sentiment_demo"]

LABEL_NAMES = ("negative", "positive")
_FILE_NAME = "sentiment.tsv"


def load_sentiment_demo() -> tuple[list[str], np.ndarray]:
    """The packaged sentiment sentences and their labels, in file order.

    Returns:
        `(sentences, labels)`: a list of strings and an int32 array of the
        same length, 1 for positive and 0 for negative (`LABEL_NAMES[label]`
        names it).

    Raises:
        DataError: the file is missing or a row is malformed.
    """
    text = _read_text()
    # Sentences may contain quotes, which are ordinary characters here.
    rows = list(csv.reader(io.StringIO(text), delimiter="\t", quotechar=None))
    if not rows or rows[0] != ["sentence", "label"]:
        raise DataError(f"{_FILE_NAME} must start with the header 'sentence<TAB>label'.")
    sentences, labels = [], []
    for line_number, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or not row[0].strip() or row[1] not in ("0", "1"):
            raise DataError(f"{_FILE_NAME}, line {line_number}: malformed row {row!r}.")
        sentences.append(row[0])
        labels.append(int(row[1]))
    return sentences, np.asarray(labels, dtype="int32")


def _read_text() -> str:
    """The TSV's text: from the installed package, else from this folder.

    `importlib.resources` also finds the file inside a zipped install; the
    plain path covers a source tree imported in ways resources cannot see.
    """
    try:
        return resources.files("bert_keras.data").joinpath(_FILE_NAME).read_text("utf-8")
    except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError):
        pass
    path = pathlib.Path(__file__).resolve().with_name(_FILE_NAME)
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise DataError(
            f"The packaged dataset {_FILE_NAME} is missing from {path.parent}; "
            "reinstall bert-keras."
        ) from None
