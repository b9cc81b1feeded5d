"""The CoNLL `conlleval` evaluation, line for line, and its printed report.

Written by hand because no library reproduces the script itself: seqeval
agrees on entity counts for IOB tags (and `tagging_metrics` uses it there),
but it neither reads the script's input nor prints its report, and it
chunks IOE and bracket tags, a type written `0`, and tags without a hyphen
differently.

The input is the script's: one token per line, fields split by a delimiter
(a regular expression, a single space by default), the gold tag and then the
predicted tag last; an empty line, or one whose first field is `-X-`, ends a
sentence. A tag splits at its first hyphen into a chunk tag (`B`, `I`, `E`,
`O`, ...) and a type, so types may contain hyphens. `-DOCSTART-` lines count
as tokens outside any chunk, as in the script. Lines keep a trailing `\\r`,
as the script's `chomp` does.

Example:
>>> counts = evaluate(["EU B-ORG B-ORG", "rejects O O", "German B-MISC O", ""])
>>> print(counts.report(), end="")
processed 3 tokens with 2 phrases; found: 1 phrases; correct: 1.
accuracy:  66.67%; precision: 100.00%; recall:  50.00%; FB1:  66.67
             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  0
              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1
"""

import collections
import dataclasses
import re

from bert_keras.errors import DataError

BOUNDARY = "-X-"


@dataclasses.dataclass
class ConllCounts:
    """What `conlleval` counts: tokens, correct tags, and phrases per type.

    `gold`, `found` and `correct` map each type to the number of gold
    phrases, predicted phrases and exactly matching predicted phrases.
    """

    tokens: int = 0
    correct_tags: int = 0
    gold: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    found: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    correct: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    def types(self):
        """The types reported, in the script's order (byte order, deduplicated
        against the previous name only while it is not empty, as it does)."""
        names, last = [], None
        for name in sorted([*self.gold, *self.found]):
            if not _perl_true(last) or last != name:
                names.append(name)
            last = name
        return names

    def scores(self, name=None):
        """`(precision, recall, f1)` in percent, overall or for type `name`."""
        if name is None:
            correct, found, gold = (sum(c.values()) for c in (self.correct, self.found, self.gold))
        else:
            correct, found, gold = self.correct[name], self.found[name], self.gold[name]
        precision = 100 * correct / found if found > 0 else 0.0
        recall = 100 * correct / gold if gold > 0 else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        return precision, recall, f1

    def accuracy(self):
        """Token accuracy in percent (None without tokens)."""
        return 100 * self.correct_tags / self.tokens if self.tokens > 0 else None

    def report(self, latex=False):
        """The text `conlleval` prints (`conlleval -l` with `latex=True`)."""
        return _latex_report(self) if latex else _text_report(self)


def evaluate(lines, delimiter=" ", outside_tag="O", raw=False):
    """Counts `lines` of the script's input as `conlleval` does.

    Args:
        lines: an iterable of lines, with or without their `\\n`.
        delimiter: the field delimiter, a regular expression (`-d`).
        outside_tag: the tag meaning outside any chunk (`-o`), for `raw`.
        raw: tags have no `B-`/`I-` prefix; every non-outside tag is a
            one-token chunk (`-r`).

    Returns:
        A `ConllCounts`.

    Raises:
        DataError: a line whose number of fields differs from the first
            line's, or with fewer than two fields, naming the line.
    """
    counts = ConllCounts()
    pattern = re.compile(delimiter)
    fields_per_line = None
    last_gold, last_gold_type, last_guess, last_guess_type = "O", "", "O", ""
    in_correct = False
    for number, line in enumerate(lines, 1):
        features = _perl_split(pattern, line[:-1] if line.endswith("\n") else line)
        if fields_per_line is None:
            fields_per_line = len(features) or None
        elif features and len(features) != fields_per_line:
            raise DataError(
                f"line {number} has {len(features)} fields, where the first line "
                f"has {fields_per_line} (conlleval: unexpected number of features: "
                f"{len(features)} ({fields_per_line})). Every token line needs the "
                "same columns, the gold and the predicted tag last."
            )
        if not features or features[0] == BOUNDARY:
            features = [BOUNDARY, "O", "O"]
        if len(features) < 2:
            raise DataError(
                f"line {number} ({line.rstrip()!r}) has one field; conlleval needs "
                "the gold and the predicted tag as the last two."
            )
        if raw:
            features[-2:] = [_raw_tag(tag, outside_tag) for tag in features[-2:]]
        guess, guess_type = _split_tag(features[-1])
        gold, gold_type = _split_tag(features[-2])
        first = features[0] if len(features) > 2 else None
        if first == BOUNDARY:
            guess = "O"

        gold_ends = _chunk_ends(last_gold, gold, last_gold_type, gold_type)
        guess_ends = _chunk_ends(last_guess, guess, last_guess_type, guess_type)
        if in_correct:
            if gold_ends and guess_ends and last_guess_type == last_gold_type:
                in_correct = False
                counts.correct[last_gold_type] += 1
            elif gold_ends != guess_ends or guess_type != gold_type:
                in_correct = False
        gold_starts = _chunk_starts(last_gold, gold, last_gold_type, gold_type)
        guess_starts = _chunk_starts(last_guess, guess, last_guess_type, guess_type)
        if gold_starts and guess_starts and guess_type == gold_type:
            in_correct = True
        if gold_starts:
            counts.gold[gold_type] += 1
        if guess_starts:
            counts.found[guess_type] += 1
        if first != BOUNDARY:
            counts.correct_tags += gold == guess and guess_type == gold_type
            counts.tokens += 1
        last_gold, last_gold_type, last_guess, last_guess_type = gold, gold_type, guess, guess_type
    if in_correct:
        counts.correct[last_gold_type] += 1
    return counts


def _perl_true(value):
    return value not in (None, "", "0")


def _perl_split(pattern, line):
    # Perl's split keeps empty fields between delimiters and drops the
    # trailing ones.
    fields = pattern.split(line)
    while fields and fields[-1] == "":
        fields.pop()
    return fields


def _raw_tag(tag, outside_tag):
    if tag == outside_tag:
        tag = "O"
    return tag if tag == "O" else f"B-{tag}"


def _split_tag(tag):
    chunk, hyphen, kind = tag.partition("-")
    # The script reads the type as a Perl truth value: "0" counts as none.
    return (chunk, kind if hyphen and _perl_true(kind) else "")


def _chunk_ends(previous, tag, previous_type, kind):
    return (
        (previous, tag) in _ENDS
        or (previous not in ("O", ".") and previous_type != kind)
        or previous in ("[", "]")
    )


def _chunk_starts(previous, tag, previous_type, kind):
    return (
        (previous, tag) in _STARTS
        or (tag not in ("O", ".") and previous_type != kind)
        or tag in ("[", "]")
    )


_ENDS = {("B", "B"), ("B", "O"), ("I", "B"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O")}
_STARTS = {("B", "B"), ("I", "B"), ("O", "B"), ("O", "I"), ("E", "E"), ("E", "I"), ("O", "E")}


def _text_report(counts):
    precision, recall, f1 = counts.scores()
    lines = [
        f"processed {counts.tokens} tokens with {sum(counts.gold.values())} phrases; "
        f"found: {sum(counts.found.values())} phrases; correct: {sum(counts.correct.values())}."
    ]
    if counts.tokens > 0:
        lines.append(
            "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f"
            % (counts.accuracy(), precision, recall, f1)
        )
    for name in counts.types():
        precision, recall, f1 = counts.scores(name)
        lines.append(
            "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d"
            % (name, precision, recall, f1, counts.found[name])
        )
    return "".join(line + "\n" for line in lines)


def _latex_report(counts):
    text = "        & Precision &  Recall  & F$_{\\beta=1} \\\\\\hline"
    for name in counts.types():
        text += "\n%-7s &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\" % (name, *counts.scores(name))
    text += "\\hline\n"
    text += "Overall &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\\\hline\n" % counts.scores()
    return text
