"""SWAG (Situations With Adversarial Generations): the CSV files, the
choices a `BertMultipleChoice` reads, and the official accuracy.

The regular files (`train.csv`, `val.csv`, `test.csv`) have a header with
at least `sent1`, `sent2` and `ending0` to `ending3`, and `label` (the
index of the right ending) except in the test file. As in the paper and in
the common fine-tuning recipe, the context of an example is `sent1` and its
choices are `sent2` followed by each ending: `[CLS] sent1 [SEP] sent2
ending [SEP]`.

Example:
>>> lines = ["video-id,fold-ind,sent1,sent2,ending0,ending1,ending2,ending3,label",
...          "v1,7,Someone opens the door.,He,walks in.,flies off.,eats it.,sings.,0"]
>>> [example] = read_swag(lines)
>>> example.context, example.choices()[0], example.label
('Someone opens the door.', 'He walks in.', 0)
"""

import csv
import dataclasses
import os

from bert_keras.errors import DataError

ENDINGS = ("ending0", "ending1", "ending2", "ending3")
_REQUIRED = ("sent1", "sent2") + ENDINGS


@dataclasses.dataclass
class SwagExample:
    """One SWAG example: `context` (`sent1`), the `start` of the
    continuation (`sent2`), its four `endings`, and the `label` (None in the
    test file)."""

    example_id: str
    context: str
    start: str
    endings: list
    label: object = None

    def choices(self):
        """The four continuations: `start` and each ending."""
        return [f"{self.start} {ending}".strip() for ending in self.endings]


def read_swag(source, labelled=None):
    """Reads a SWAG CSV file.

    Args:
        source: a file path, or an iterable of lines.
        labelled: bool or None. Whether every row must have a label; None
            requires one when the header has a `label` column.

    Returns:
        A list of `SwagExample`.

    Raises:
        DataError: a missing column, a row with a missing or empty ending,
            or a label other than 0 to 3, naming the file and line.
    """
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "input"
    file = None
    if isinstance(source, (str, os.PathLike)):
        try:
            file = open(source, encoding="utf-8", newline="")
        except OSError as error:
            raise DataError(f"Cannot read {name}: {error.strerror}.") from None
        lines = file
    else:
        lines = source
    try:
        return _read(csv.DictReader(lines), name, labelled)
    except UnicodeDecodeError as error:
        raise DataError(f"{name} is not UTF-8 ({error.reason} at byte {error.start}).") from None
    except csv.Error as error:
        raise DataError(f"{name} is not a readable CSV file ({error}).") from None
    finally:
        if file is not None:
            file.close()


def _read(reader, name, labelled):
    header = reader.fieldnames or []
    missing = [column for column in _REQUIRED if column not in header]
    if missing:
        raise DataError(
            f"{name} lacks the SWAG column(s) {', '.join(missing)}; its header is "
            f"{','.join(header) or '(empty)'}. A SWAG file has sent1, sent2, ending0 to "
            "ending3 and (except the test file) label."
        )
    if labelled is None:
        labelled = "label" in header
    examples = []
    for row in reader:
        where = f"{name}, line {reader.line_num}"
        empty = [column for column in ENDINGS if not (row.get(column) or "").strip()]
        if None in row or any(value is None for value in row.values()):
            fields = sum(value is not None for key, value in row.items() if key is not None)
            fields += len(row.get(None) or [])
            raise DataError(f"{where}: the row has {fields} fields where the header names "
                            f"{len(header)}. Fix or remove the row.")
        if empty or not row["sent1"].strip():
            raise DataError(f"{where}: {', '.join(empty or ['sent1'])} is empty. Every "
                            "example needs its context and four endings.")
        label = None
        if labelled:
            text = (row.get("label") or "").strip()
            if text not in ("0", "1", "2", "3"):
                raise DataError(f"{where}: the label {text!r} is not 0, 1, 2 or 3.")
            label = int(text)
        example_id = "-".join(row.get(key) or "" for key in ("video-id", "fold-ind")).strip("-")
        examples.append(SwagExample(
            example_id or str(len(examples)), row["sent1"].strip(), row["sent2"].strip(),
            [row[column].strip() for column in ENDINGS], label))
    return examples


def examples_dataset(examples):
    """A `tf.data.Dataset` of `((context, choices), label)` examples (the
    label left out for the test file), unbatched, for `BertMultipleChoice`."""
    import numpy as np
    import tensorflow as tf

    features = ([e.context for e in examples], [e.choices() for e in examples])
    if any(e.label is None for e in examples):
        return tf.data.Dataset.from_tensor_slices((features,))
    labels = np.asarray([e.label for e in examples], "int32")
    return tf.data.Dataset.from_tensor_slices((features, labels))


def accuracy(labels, predictions):
    """SWAG's official metric: the fraction of examples whose predicted
    ending is the right one."""
    if len(labels) != len(predictions):
        raise DataError(f"{len(labels)} labels but {len(predictions)} predictions.")
    if not labels:
        return 0.0
    return sum(int(a) == int(b) for a, b in zip(labels, predictions)) / len(labels)
