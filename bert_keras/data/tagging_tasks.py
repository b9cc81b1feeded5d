"""The tagging tasks of `bert-keras tag`: where each keeps its splits, how
they are read, and how they are scored.

- `conll2003`: CoNLL-2003 NER (`word POS chunk NER`), IOB1 tags turned
  into IOB2 unless the scheme is `iob1`; files `train.txt`, `valid.txt`
  (or `dev.txt`) and `test.txt` as in most copies, or the original
  `eng.train`, `eng.testa` and `eng.testb`. Scored by entities.
- `wikiann`: WikiANN / PAN-X NER, `token<TAB>label` (IOB2); files
  `train`, `dev` and `test`, with or without `.tsv` or `.txt`. Scored by
  entities.
- `udpos`: Universal Dependencies part-of-speech tags, `token<TAB>UPOS`,
  files named as for `wikiann`. Scored by token accuracy.
- `columns`: any token-per-line files named as for `wikiann`, the word and
  the label in the columns given; scored by entities when every label is
  an IOB tag, else by accuracy.

Example:
>>> get_tagging_task("conll2003").entity_level
True
>>> get_tagging_task("udpos").entity_level
False
"""

import dataclasses
import pathlib
import re

from bert_keras.data import tagging
from bert_keras.errors import DataError

SPLITS = ("train", "dev", "test")
_IOB = re.compile(r"^(O|[BI]-.+)$")


def _names(stem):
    return (stem, f"{stem}.tsv", f"{stem}.txt")


_COLUMN_FILES = {split: _names(split) for split in SPLITS}
_CONLL_FILES = {
    "train": ("train.txt", "eng.train", "train"),
    "dev": ("valid.txt", "dev.txt", "eng.testa", "valid", "dev"),
    "test": ("test.txt", "eng.testb", "test"),
}


@dataclasses.dataclass(frozen=True)
class TaggingTask:
    """A tagging dataset layout.

    Attributes:
        name: the `--task` name.
        files: for each split, the file names looked for, in order.
        entity_level: True for IOB entity scores (precision, recall, F1 by
            type), False for token accuracy only, None to decide from the
            labels.
    """

    name: str
    files: dict
    entity_level: object

    def find_file(self, data_dir, split):
        """The file of `split` in `data_dir` (or `data_dir` itself when it
        is a file), or a `DataError` listing the names looked for."""
        data_dir = pathlib.Path(data_dir)
        if not data_dir.is_dir():
            raise DataError(f"--data-dir {data_dir} is not a folder.")
        for name in self.files[split]:
            if (data_dir / name).is_file():
                return data_dir / name
        raise DataError(
            f"{data_dir} has no {split} file for {self.name}: looked for "
            f"{', '.join(self.files[split])}."
        )

    def read(self, data_dir, split, scheme="iob2", word_column=0, label_column=-1):
        """The sentences of `split`, as `tagging.TaggedSentence`s."""
        path = self.find_file(data_dir, split)
        if self.name == "conll2003":
            sentences = tagging.read_conll2003(path, scheme=scheme)
        else:
            sentences = tagging.read_columns(path, word_column=word_column,
                                             label_column=label_column)
        if not sentences:
            raise DataError(f"{path} holds no sentence.")
        return sentences

    def scores_entities(self, sentences):
        """Whether `sentences` are scored by entities."""
        if self.entity_level is not None:
            return self.entity_level
        return all(_IOB.match(label) for s in sentences for label in s.labels)


_TASKS = {
    "conll2003": TaggingTask("conll2003", _CONLL_FILES, True),
    "wikiann": TaggingTask("wikiann", _COLUMN_FILES, True),
    "udpos": TaggingTask("udpos", _COLUMN_FILES, False),
    "columns": TaggingTask("columns", _COLUMN_FILES, None),
}
TASK_NAMES = tuple(_TASKS)


def get_tagging_task(name):
    """The `TaggingTask` called `name` (case-insensitive)."""
    try:
        return _TASKS[name.lower()]
    except KeyError:
        raise DataError(
            f"Unknown tagging task {name!r}; choose one of {', '.join(TASK_NAMES)}."
        ) from None
