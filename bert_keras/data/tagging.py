"""Word-level tagging data: CoNLL-2003 and token-per-line files, and labels.

Two layouts are read, both one token per line with blank lines between
sentences:

- CoNLL-2003 (`read_conll2003`): `word POS chunk NER`, space-separated,
  with `-DOCSTART-` lines between documents. Its NER tags are IOB1 as
  distributed (a phrase starts with `I-`; `B-` only splits two adjacent
  phrases of one type); they are converted to IOB2 (every phrase starts
  with `B-`) unless `scheme="iob1"` keeps them.
- Columns (`read_columns`): `token<TAB>label` as in WikiANN/PAN-X and the
  Universal Dependencies POS sets, or any columns with the word and the
  label chosen by index.

Example:
>>> lines = ["-DOCSTART- -X- -X- O", "", "EU NNP B-NP I-ORG", "rejects VBZ B-VP O",
...          "German JJ B-NP I-MISC", "call NN I-NP O", ""]
>>> [sentence] = read_conll2003(lines)
>>> sentence.words, sentence.labels
(['EU', 'rejects', 'German', 'call'], ['B-ORG', 'O', 'B-MISC', 'O'])
>>> label_vocabulary([sentence])
['O', 'B-MISC', 'B-ORG', 'I-MISC', 'I-ORG']
"""

import collections
import dataclasses
import os

from bert_keras.errors import DataError

DOCUMENT_START = "-DOCSTART-"
SCHEMES = ("iob2", "iob1")


@dataclasses.dataclass
class TaggedSentence:
    """One sentence: its words and one label per word."""

    words: list
    labels: list


def read_conll2003(source, scheme="iob2"):
    """Reads CoNLL-2003 NER data (`word POS chunk NER` lines).

    Args:
        source: a file path, or an iterable of lines.
        scheme: `"iob2"` (default) converts the distributed IOB1 tags so
            that every phrase starts with `B-`; `"iob1"` keeps them.

    Returns:
        A list of `TaggedSentence`, without the `-DOCSTART-` lines.

    Raises:
        DataError: a line without four fields, naming the file and line.
    """
    if scheme not in SCHEMES:
        raise DataError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}.")
    sentences = read_columns(source, word_column=0, label_column=3, fields=4)
    if scheme == "iob2":
        for sentence in sentences:
            sentence.labels = iob1_to_iob2(sentence.labels)
    return sentences


def read_columns(source, word_column=0, label_column=-1, fields=None, delimiter=None):
    """Reads token-per-line data: a word and a label on each line.

    Args:
        source: a file path, or an iterable of lines.
        word_column, label_column: int. Which fields hold the word and the
            label (by default the first and the last).
        fields: int or None. The number of fields every line must have;
            None takes the first line's.
        delimiter: the field separator; None splits at tabs when the line
            has one (words may then contain spaces), else at whitespace.

    Returns:
        A list of `TaggedSentence`. `-DOCSTART-` lines end a sentence and
        are dropped.

    Raises:
        DataError: a line with another number of fields than the others,
            naming the file and line.
    """
    name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else "input"
    sentences, words, labels = [], [], []

    def end_sentence():
        if words:
            sentences.append(TaggedSentence(list(words), list(labels)))
        words.clear()
        labels.clear()

    for number, line in enumerate(_lines(source), 1):
        line = line.rstrip("\r\n")
        if not line.strip():
            end_sentence()
            continue
        separator = delimiter if delimiter is not None else ("\t" if "\t" in line else None)
        parts = line.split(separator)
        if parts[0] == DOCUMENT_START:
            end_sentence()
            continue
        if fields is None:
            fields = len(parts)
        if len(parts) != fields or fields < 2:
            raise DataError(
                f"{name}, line {number}: {len(parts)} field(s) in {line!r}, where "
                f"{max(fields, 2)} are expected (the word, then the label"
                f"{' and the other columns' if fields > 2 else ''}). Fix or remove the line."
            )
        words.append(parts[word_column])
        labels.append(parts[label_column])
    end_sentence()
    return sentences


def iob1_to_iob2(labels):
    """IOB1 tags to IOB2: an `I-` tag that starts a phrase becomes `B-`."""
    converted, previous = [], "O"
    for label in labels:
        if label.startswith("I-") and (previous == "O" or previous[2:] != label[2:]):
            label = "B-" + label[2:]
        converted.append(label)
        previous = label
    return converted


def label_vocabulary(sentences):
    """The labels of `sentences`, `O` first (when present), then sorted.

    With a `B-TYPE` or `I-TYPE` label, both are in: a type seen only in
    one-word phrases can still be predicted inside a longer one.
    """
    labels = {label for sentence in sentences for label in sentence.labels}
    labels |= {f"{prefix}-{label[2:]}" for label in labels if label[:2] in ("B-", "I-")
               for prefix in "BI"}
    return sorted(labels, key=lambda label: (label != "O", label))


def check_labels(sentences, vocabulary, name="the data"):
    """Raises a `DataError` naming the labels of `sentences` that are not in
    `vocabulary` (those of the training data), with their counts."""
    known = set(vocabulary)
    unknown = collections.Counter(
        label for sentence in sentences for label in sentence.labels if label not in known
    )
    if unknown:
        listed = ", ".join(f"{label} ({count}x)" for label, count in unknown.most_common())
        raise DataError(
            f"{name} has labels the training data does not: {listed}. The model can "
            "only predict the training labels; add examples of these to the "
            "training data, or map them to labels it has."
        )


def _lines(source):
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, encoding="utf-8") as file:
                yield from file
        except OSError as error:
            raise DataError(f"Cannot read {os.fspath(source)}: {error.strerror}.") from None
        except UnicodeDecodeError as error:
            raise DataError(
                f"{os.fspath(source)} is not UTF-8 ({error.reason} at byte {error.start}); "
                "convert it, e.g. with iconv."
            ) from None
    else:
        yield from source
