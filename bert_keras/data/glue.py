"""GLUE and XNLI tasks, read from the official TSV files.

Each task reads the files that Google's `run_classifier.py` reads, with the
same columns and labels, so that a fine-tuning run sees exactly the examples
the original scripts saw. The folder layout is the one of the GLUE download
script, one folder per task (the original's `--data_dir=$GLUE_DIR/MRPC`):

    $GLUE_DIR/MRPC/train.tsv, dev.tsv, test.tsv
    $GLUE_DIR/MNLI/train.tsv, dev_matched.tsv, dev_mismatched.tsv,
                   test_matched.tsv, test_mismatched.tsv
    $GLUE_DIR/diagnostic/diagnostic.tsv    (AX, test only)

`data_dir` may be the task's folder or `$GLUE_DIR` itself; the task's folder
name (`MRPC`, `SST-2`, `diagnostic` or `AX`, ...) is then looked up inside.
XNLI reads the two releases unpacked side by side in `$XNLI_DIR`:

    $XNLI_DIR/XNLI-MT-1.0/multinli/multinli.train.<language>.tsv   (train)
    $XNLI_DIR/XNLI-1.0/xnli.dev.tsv    (dev, all languages, filtered)

Files are read as the original does, with `csv.reader(delimiter="\\t",
quotechar=None)`: quotes are ordinary characters and each line is one row.

Example:
```python
from bert_keras.data import get_task

task = get_task("mrpc")
examples = task.read_examples("glue_data/MRPC", "train")
examples[0].text_a, examples[0].text_b, examples[0].label
train = task.dataset("glue_data/MRPC", "train")  # ((a, b), label) elements
```
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import os

import numpy as np

from bert_keras.data import metrics as _metrics
from bert_keras.errors import DataError

__all__ = [
    "TASKS",
    "XNLI_LANGUAGES",
    "Example",
    "Examples",
    "SkippedRow",
    "GlueTask",
    "get_task",
    "canonical_task_name",
]

logger = logging.getLogger(__name__)

XNLI_LANGUAGES = (
    "ar", "bg", "de", "el", "en", "es", "fr", "hi",
    "ru", "sw", "th", "tr", "ur", "vi", "zh",
)  # fmt: skip

_NLI_LABELS = ("contradiction", "entailment", "neutral")
_BINARY_LABELS = ("0", "1")
_ENTAILMENT_LABELS = ("entailment", "not_entailment")


@dataclasses.dataclass
class Example:
    """One row of a task file.

    Attributes:
        guid: `"<split>-<id>"`, where `<id>` is the row's own id column
            (`index` or `id`) when the file has one, else the row's 0-based
            position among the file's data rows. For test files it is the id
            GLUE expects next to each prediction in a submission.
        text_a: the first (or only) sentence.
        text_b: the second sentence of a pair task, `None` otherwise.
        label: the label string (one of the task's `labels`), a float score
            for STS-B, or `None` for test rows.
        line_number: 1-based line of the row in its file, as an editor shows.
    """

    guid: str
    text_a: str
    text_b: str | None
    label: str | float | None
    line_number: int


@dataclasses.dataclass(frozen=True)
class SkippedRow:
    """A row `read_examples(..., skip_bad_rows=True)` left out, and why."""

    path: str
    line_number: int
    reason: str


class Examples(list):
    """The list of `Example`s of one split, plus the rows that were skipped.

    Attributes:
        path: the file the examples were read from.
        skipped_rows: list of `SkippedRow`, empty unless `skip_bad_rows=True`
            left some rows out.
    """

    def __init__(self, examples=(), path="", skipped_rows=()):
        super().__init__(examples)
        self.path = path
        self.skipped_rows = list(skipped_rows)


@dataclasses.dataclass(frozen=True)
class _Layout:
    """Where one split's file is and which columns hold what.

    Column indices may be negative (counted from the end) where the original
    reads "the last column", as for MNLI's gold label.
    """

    file: tuple[str, ...]  # path parts below the task folder
    columns: tuple[str, ...]  # the header's names, or the documented ones
    header: bool
    text_a: int
    text_b: int | None = None
    label: int | None = None
    index: int | None = None  # the row's own id column
    language: int | None = None  # XNLI dev: keep rows of one language

    @property
    def min_columns(self):
        used = [self.text_a, self.text_b, self.label, self.index, self.language]
        needed = [c + 1 if c >= 0 else -c for c in used if c is not None]
        # A negative index must not land on a column that is read as text.
        if any(c is not None and c < 0 for c in used):
            needed.append(max(c for c in used if c is not None and c >= 0) + 2)
        return max(needed)

    def describe(self):
        """The expected layout, for error messages."""
        parts = [
            ("a header row: " if self.header else "no header row; columns: ")
            + " | ".join(self.columns)
        ]
        for role in ("text_a", "text_b", "label"):
            column = getattr(self, role)
            if column is not None:
                parts.append(f"{role} = {self.columns[column]!r}")
        return f"tab-separated, {', '.join(parts)}"


@dataclasses.dataclass(frozen=True)
class _TaskSpec:
    name: str
    folders: tuple[str, ...]  # folder names of the task below $GLUE_DIR
    labels: tuple[str, ...] | None  # None: regression
    splits: dict  # split name -> _Layout
    split_aliases: dict = dataclasses.field(default_factory=dict)
    label_aliases: dict = dataclasses.field(default_factory=dict)


def _columns(text):
    return tuple(text.split("\t"))


def _glue_pair(folder, names, labels):
    """QNLI, RTE or WNLI: `index`, two texts, `label`; test drops the label."""
    columns = _columns(names)
    return _TaskSpec(
        name=folder.lower(),
        folders=(folder,),
        labels=labels,
        splits={
            "train": _Layout(("train.tsv",), columns, True, 1, 2, 3, index=0),
            "dev": _Layout(("dev.tsv",), columns, True, 1, 2, 3, index=0),
            "test": _Layout(("test.tsv",), columns[:3], True, 1, 2, index=0),
        },
    )


_MNLI_PREFIX = (
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2"
)
_MNLI_TRAIN = _columns(_MNLI_PREFIX + "\tlabel1\tgold_label")
_MNLI_DEV = _columns(_MNLI_PREFIX + "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label")
_MNLI_TEST = _columns(_MNLI_PREFIX)
_MNLI_SPLITS = {
    "train": _Layout(("train.tsv",), _MNLI_TRAIN, True, 8, 9, -1, index=0),
    "dev_matched": _Layout(("dev_matched.tsv",), _MNLI_DEV, True, 8, 9, -1, index=0),
    "dev_mismatched": _Layout(("dev_mismatched.tsv",), _MNLI_DEV, True, 8, 9, -1, index=0),
    "test_matched": _Layout(("test_matched.tsv",), _MNLI_TEST, True, 8, 9, index=0),
    "test_mismatched": _Layout(("test_mismatched.tsv",), _MNLI_TEST, True, 8, 9, index=0),
}
_STSB = _columns(
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
)
_MRPC = _columns("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String")
_MRPC_TEST = _columns("index\t#1 ID\t#2 ID\t#1 String\t#2 String")
_COLA = ("source", "label", "mark", "sentence")
_QQP = _columns("id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate")
_XNLI_DEV = _columns(
    "language\tgold_label\tsentence1_binary_parse\tsentence2_binary_parse\t"
    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tpromptID\tpairID\tgenre\t"
    "label1\tlabel2\tlabel3\tlabel4\tlabel5\tsentence1_tokenized\tsentence2_tokenized\tmatch"
)

_SPECS = {
    spec.name: spec
    for spec in (
        _TaskSpec(
            name="cola",
            folders=("CoLA",),
            labels=_BINARY_LABELS,
            splits={
                # Only CoLA's test file has a header.
                "train": _Layout(("train.tsv",), _COLA, False, 3, label=1),
                "dev": _Layout(("dev.tsv",), _COLA, False, 3, label=1),
                "test": _Layout(("test.tsv",), ("index", "sentence"), True, 1, index=0),
            },
        ),
        _TaskSpec(
            name="sst-2",
            folders=("SST-2",),
            labels=_BINARY_LABELS,
            splits={
                "train": _Layout(("train.tsv",), ("sentence", "label"), True, 0, label=1),
                "dev": _Layout(("dev.tsv",), ("sentence", "label"), True, 0, label=1),
                "test": _Layout(("test.tsv",), ("index", "sentence"), True, 1, index=0),
            },
        ),
        _TaskSpec(
            name="mrpc",
            folders=("MRPC",),
            labels=_BINARY_LABELS,
            splits={
                "train": _Layout(("train.tsv",), _MRPC, True, 3, 4, 0),
                "dev": _Layout(("dev.tsv",), _MRPC, True, 3, 4, 0),
                "test": _Layout(("test.tsv",), _MRPC_TEST, True, 3, 4, index=0),
            },
        ),
        _TaskSpec(
            name="sts-b",
            folders=("STS-B",),
            labels=None,
            splits={
                "train": _Layout(("train.tsv",), _STSB, True, 7, 8, -1, index=0),
                "dev": _Layout(("dev.tsv",), _STSB, True, 7, 8, -1, index=0),
                "test": _Layout(("test.tsv",), _STSB[:-1], True, 7, 8, index=0),
            },
        ),
        _TaskSpec(
            name="qqp",
            folders=("QQP",),
            labels=_BINARY_LABELS,
            splits={
                "train": _Layout(("train.tsv",), _QQP, True, 3, 4, 5, index=0),
                "dev": _Layout(("dev.tsv",), _QQP, True, 3, 4, 5, index=0),
                "test": _Layout(
                    ("test.tsv",), ("id", "question1", "question2"), True, 1, 2, index=0
                ),
            },
        ),
        _TaskSpec(
            name="mnli",
            folders=("MNLI",),
            labels=_NLI_LABELS,
            splits=_MNLI_SPLITS,
            split_aliases={"dev": "dev_matched", "test": "test_matched"},
        ),
        _TaskSpec(
            name="mnli-mm",
            folders=("MNLI",),
            labels=_NLI_LABELS,
            splits=_MNLI_SPLITS,
            split_aliases={"dev": "dev_mismatched", "test": "test_mismatched"},
        ),
        _glue_pair("QNLI", "index\tquestion\tsentence\tlabel", _ENTAILMENT_LABELS),
        _glue_pair("RTE", "index\tsentence1\tsentence2\tlabel", _ENTAILMENT_LABELS),
        _glue_pair("WNLI", "index\tsentence1\tsentence2\tlabel", _BINARY_LABELS),
        _TaskSpec(
            name="ax",
            folders=("diagnostic", "AX"),
            labels=_NLI_LABELS,
            splits={
                "test": _Layout(
                    ("diagnostic.tsv",), ("index", "sentence1", "sentence2"), True, 1, 2, index=0
                )
            },
        ),
        _TaskSpec(
            name="xnli",
            folders=(),
            labels=_NLI_LABELS,
            splits={
                # "{language}" is filled in by the task.
                "train": _Layout(
                    ("XNLI-MT-1.0", "multinli", "multinli.train.{language}.tsv"),
                    ("premise", "hypo", "label"),
                    True,
                    0,
                    1,
                    2,
                ),
                "dev": _Layout(("XNLI-1.0", "xnli.dev.tsv"), _XNLI_DEV, True, 6, 7, 1, language=0),
            },
            # The machine-translated training files spell one label differently.
            label_aliases={"contradictory": "contradiction"},
        ),
    )
}

TASKS = tuple(_SPECS)
"""Canonical names of the tasks `get_task` knows."""


def _normalize(name):
    return str(name).strip().lower().replace("-", "").replace("_", "")


_NAME_LOOKUP = {_normalize(name): name for name in TASKS}
_NAME_LOOKUP.update({"diagnostic": "ax", "mnlimismatched": "mnli-mm", "mnlimatched": "mnli"})


def canonical_task_name(name):
    """The canonical name of a task, accepting any case, "-" or "_".

    Args:
        name: a task name such as "SST-2", "sst2", "STS_B" or "mnli-mm".

    Returns:
        One of `TASKS`.

    Raises:
        DataError: for an unknown task, listing the known ones.

    Example:
    >>> canonical_task_name("SST2")
    'sst-2'
    """
    key = _normalize(name)
    if key not in _NAME_LOOKUP:
        raise DataError(f"Unknown GLUE task {name!r}. Known tasks: {', '.join(TASKS)}.")
    return _NAME_LOOKUP[key]


class GlueTask:
    """One GLUE (or XNLI) task: its files, labels and metrics.

    Get one with `get_task`. Splits are "train", "dev" and "test"; MNLI also
    takes "dev_matched", "dev_mismatched", "test_matched" and
    "test_mismatched" ("dev" and "test" are the matched ones for "mnli" and
    the mismatched ones for "mnli-mm"); AX only has "test"; XNLI, like the
    original `XnliProcessor`, only "train" and "dev".

    Attributes:
        name: the canonical task name, one of `TASKS`.
        labels: the label strings in class-index order (the original
            `get_labels()`), or `None` for the regression task STS-B.
        is_regression: True for STS-B.
        num_classes: `len(labels)`, or 1 for regression.
        is_pair: whether examples have a `text_b`.
        metric_names: the metrics `compute_metrics` returns.
        splits: the split names `read_examples` accepts.
        language: XNLI's language (`None` for other tasks).
    """

    def __init__(self, spec, language=None):
        self._spec = spec
        self.name = spec.name
        self.labels = list(spec.labels) if spec.labels is not None else None
        self.is_regression = spec.labels is None
        self.num_classes = 1 if self.is_regression else len(self.labels)
        some_layout = next(iter(spec.splits.values()))
        self.is_pair = some_layout.text_b is not None
        self.metric_names = _metrics.metric_names(spec.name)
        self.splits = tuple(spec.splits) + tuple(spec.split_aliases)
        self.language = language
        self._label_ids = {label: i for i, label in enumerate(self.labels or ())}

    def __repr__(self):
        language = f", language={self.language!r}" if self.language else ""
        return f"GlueTask({self.name!r}{language})"

    def _layout(self, split):
        split_name = self._spec.split_aliases.get(split, split)
        if split_name not in self._spec.splits:
            raise DataError(
                f"Task {self.name!r} has no split {split!r}. Its splits: {', '.join(self.splits)}."
            )
        return self._spec.splits[split_name]

    def _find_file(self, data_dir, layout):
        parts = [part.format(language=self.language) for part in layout.file]
        candidates = [os.path.join(data_dir, *parts)]
        candidates += [os.path.join(data_dir, folder, *parts) for folder in self._spec.folders]
        for candidate in candidates:
            if os.path.isfile(candidate):
                return candidate
        raise DataError(
            f"No {self.name} file at {candidates[0]}"
            + (f" (nor {' or '.join(candidates[1:])})" if candidates[1:] else "")
            + f". Expected {layout.describe()}."
        )

    def read_examples(self, data_dir, split, skip_bad_rows=False):
        """Reads one split's examples, in file order.

        A row is bad when it lacks a column the task reads, when its label is
        not one of `labels` (or, for STS-B, not a number), or when it cannot
        be parsed. By default the first bad row raises a `DataError` naming
        the file and line. With `skip_bad_rows=True` bad rows are left out
        instead (the GLUE QQP training file has a few), listed in the
        result's `skipped_rows` and counted in a logged warning.

        Args:
            data_dir: the task's folder (or the folder holding it, such as
                `$GLUE_DIR`); for XNLI the folder holding `XNLI-MT-1.0` and
                `XNLI-1.0`.
            split: "train", "dev" or "test", or one of MNLI's named splits.
            skip_bad_rows: bool, skip bad rows instead of raising.

        Returns:
            An `Examples` list of `Example`, with `.skipped_rows` and `.path`.

        Raises:
            DataError: unknown split, missing file (naming the path and the
                expected layout), or a bad row unless `skip_bad_rows`.

        Example:
        ```python
        task = get_task("mnli")
        dev = task.read_examples("glue_data/MNLI", "dev_mismatched")
        print(len(dev), dev[0].label)
        rows = get_task("qqp").read_examples("glue_data/QQP", "train",
                                            skip_bad_rows=True)
        print(len(rows.skipped_rows), "rows skipped")
        ```
        """
        layout = self._layout(split)
        path = self._find_file(os.fspath(data_dir), layout)
        is_test = layout.label is None
        examples = Examples(path=path)
        try:
            # utf-8-sig: some copies of MRPC start with a byte-order mark.
            with open(path, encoding="utf-8-sig", newline="") as file:
                reader = csv.reader(file, delimiter="\t", quotechar=None)
                position = 0
                header_pending = layout.header
                while True:
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as error:
                        self._bad_row(examples, reader.line_num, str(error), skip_bad_rows and not is_test, is_test)
                        continue
                    if header_pending:
                        header_pending = False
                        continue
                    line_number = reader.line_num
                    parsed = self._parse_row(row, layout, split, position, line_number, is_test)
                    position += 1
                    if isinstance(parsed, str):
                        self._bad_row(examples, line_number, parsed, skip_bad_rows and not is_test, is_test)
                    elif parsed is not None:
                        examples.append(parsed)
        except UnicodeDecodeError as error:
            raise DataError(f"{path} is not UTF-8 text: {error}.") from error
        if not examples:
            kept = f" ({len(examples.skipped_rows)} bad rows skipped)" if examples.skipped_rows else ""
            language = f" in language {self.language!r}" if self.language else ""
            raise DataError(
                f"{path} holds no {split} examples{language}{kept}. Expected "
                f"{layout.describe()}; check that this is the right file."
            )
        if examples.skipped_rows:
            first = examples.skipped_rows[0]
            logger.warning(
                "Skipped %d bad row(s) of %s (first at line %d: %s).",
                len(examples.skipped_rows),
                path,
                first.line_number,
                first.reason,
            )
        return examples

    def _bad_row(self, examples, line_number, reason, skip, is_test=False):
        if not skip:
            fix = "(pass skip_bad_rows=True to skip such rows)"
            if is_test:
                # Test predictions are matched to rows by position alone.
                fix = ("(test rows are never skipped: each one has its line in "
                       "test_results.tsv, so fix or remove the row)")
            raise DataError(f"{examples.path}:{line_number}: {reason} {fix}.")
        examples.skipped_rows.append(SkippedRow(examples.path, line_number, reason))

    def _parse_row(self, row, layout, split, position, line_number, is_test):
        """An `Example`, `None` for a row filtered out, or why the row is bad."""
        if len(row) < layout.min_columns:
            return (
                f"expected at least {layout.min_columns} tab-separated columns, "
                f"found {len(row)} ({layout.describe()})"
            )
        if layout.language is not None and row[layout.language] != self.language:
            return None
        row_id = row[layout.index] if layout.index is not None else str(position)
        label = None
        if not is_test:
            label = row[layout.label]
            label = self._spec.label_aliases.get(label, label)
            if self.is_regression:
                try:
                    label = float(label)
                except ValueError:
                    return f"score {label!r} is not a number"
                if not math.isfinite(label):
                    return f"score {row[layout.label]!r} is not a finite number"
            elif label not in self._label_ids:
                return f"unknown label {label!r}; {self.name} labels are {self.labels}"
        return Example(
            guid=f"{split}-{row_id}",
            text_a=row[layout.text_a],
            text_b=row[layout.text_b] if layout.text_b is not None else None,
            label=label,
            line_number=line_number,
        )

    def dataset(self, data_dir, split, skip_bad_rows=False):
        """A `tf.data.Dataset` of one split, unbatched, in file order.

        Elements are `(features, label)`; for test splits just `features`.
        `features` is a scalar `tf.string` for single-sentence tasks and a
        tuple `(text_a, text_b)` of them for pair tasks, the form
        `BertPreprocessor` takes. `label` is the int32 class index into
        `labels`, or the float32 score for STS-B. Bad rows are handled as by
        `read_examples` (skipped rows are only logged here; call
        `read_examples` to list them).

        Args:
            data_dir: as for `read_examples`.
            split: as for `read_examples`.
            skip_bad_rows: as for `read_examples`.

        Returns:
            A `tf.data.Dataset`.

        Example:
        ```python
        task = get_task("rte")
        train = task.dataset("glue_data/RTE", "train")
        train = train.shuffle(10_000).batch(32).map(
            lambda features, label: (preprocessor(features), label))
        ```
        """
        return self.examples_dataset(self.read_examples(data_dir, split, skip_bad_rows=skip_bad_rows))

    def examples_dataset(self, examples):
        """`dataset`'s `tf.data.Dataset`, of examples already read.

        Examples with labels give `(features, label)` elements, test
        examples `features` alone.
        """
        import tensorflow as tf

        text_a = tf.constant([e.text_a for e in examples], dtype=tf.string)
        if self.is_pair:
            features = (text_a, tf.constant([e.text_b for e in examples], dtype=tf.string))
        else:
            features = text_a
        if all(e.label is None for e in examples):
            return tf.data.Dataset.from_tensor_slices(features)
        if self.is_regression:
            labels = np.array([e.label for e in examples], dtype=np.float32)
        else:
            labels = np.array([self._label_ids[e.label] for e in examples], dtype=np.int32)
        return tf.data.Dataset.from_tensor_slices((features, labels))

    def label_index(self, label):
        """The class index of a label string (for classification tasks).

        Example:
        >>> get_task("mnli").label_index("neutral")
        2
        """
        if self.is_regression:
            raise DataError(f"{self.name} is a regression task; it has no label indices.")
        if label not in self._label_ids:
            raise DataError(f"Unknown {self.name} label {label!r}; labels are {self.labels}.")
        return self._label_ids[label]

    def compute_metrics(self, labels, predictions):
        """The task's official GLUE metrics (see `metrics.glue_metrics`).

        Args:
            labels: 1-D array-like of gold class indices (scores for STS-B).
            predictions: 1-D array-like of predicted class indices (scores
                for STS-B). Logits or probabilities of shape
                `[n, num_classes]` are also accepted and reduced by argmax,
                and regression outputs of shape `[n, 1]` are flattened.

        Returns:
            A dict from metric name to float.

        Example:
        >>> get_task("sst2").compute_metrics([0, 1, 1], [[2.0, -1.0], [0.1, 0.3], [1.0, 0.0]])
        {'accuracy': 0.6666666666666666}
        """
        predictions = np.asarray(predictions)
        if predictions.ndim == 2:
            if self.is_regression and predictions.shape[1] == 1:
                predictions = predictions[:, 0]
            elif not self.is_regression and predictions.shape[1] == self.num_classes:
                predictions = np.argmax(predictions, axis=-1)
        return _metrics.glue_metrics(self.name, labels, predictions)


def get_task(name, language=None):
    """The GLUE (or XNLI) task of a name.

    Args:
        name: a task name, case-insensitive, with or without "-" or "_":
            "cola", "sst-2" / "sst2", "mrpc", "sts-b" / "stsb", "qqp",
            "mnli", "mnli-mm" (MNLI evaluated on its mismatched splits),
            "qnli", "rte", "wnli", "ax" / "diagnostic", "xnli".
        language: XNLI only: the language to train and evaluate on, one of
            `XNLI_LANGUAGES`; "zh" by default, as the original.

    Returns:
        A `GlueTask`.

    Raises:
        DataError: an unknown task (the message lists the known ones), or a
            `language` for a task other than XNLI or not in XNLI.

    Example:
    >>> task = get_task("MRPC")
    >>> task.labels, task.is_pair, task.metric_names
    (['0', '1'], True, ('accuracy', 'f1'))
    >>> get_task("xnli", language="de")
    GlueTask('xnli', language='de')
    """
    canonical = canonical_task_name(name)
    if canonical == "xnli":
        language = "zh" if language is None else language
        if language not in XNLI_LANGUAGES:
            raise DataError(
                f"XNLI has no language {language!r}. Its languages: {', '.join(XNLI_LANGUAGES)}."
            )
    elif language is not None:
        raise DataError(f"Only XNLI takes a language; {canonical!r} does not.")
    return GlueTask(_SPECS[canonical], language=language)
