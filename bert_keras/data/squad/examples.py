"""SQuAD v1.1 and v2.0 files, read into examples as Google's `run_squad.py`
reads them.

A paragraph is split into words on whitespace only (" ", tab, CR, LF and
U+202F, exactly the original's set), and each question's answer is mapped
from its character offset (`answer_start`) to the first and last word it
touches. The WordPiece tokenization comes later, in
`bert_keras.data.squad.features`; answers are located in words here so that
predictions can be mapped back to the paragraph's own text, with its
original spelling, casing and accents.

The file layout is the official one:

    {"version": "1.1",
     "data": [{"title": ...,
               "paragraphs": [{"context": "...",
                               "qas": [{"id": "...", "question": "...",
                                        "answers": [{"text": "...",
                                                     "answer_start": 17}],
                                        "is_impossible": false}]}]}]}

(`is_impossible` only in v2.0 files, whose impossible questions have no
`answers` and may have `plausible_answers`, which are ignored.)

Training (`is_training=True`) reads exactly what the original reads: one
answer per answerable question and the positions of its words. Questions
whose answer cannot be recovered from the paragraph are skipped, as the
original skips them, but listed in the result's `skipped` and counted in a
logged warning. Prediction (`is_training=False`) reads no positions; every
question is kept and its gold answer texts are carried for evaluation.

Example:
```python
from bert_keras.data.squad import read_squad_examples

train = read_squad_examples("train-v1.1.json", is_training=True)
len(train), len(train.skipped)
dev = read_squad_examples("dev-v2.0.json", is_training=False,
                          version_2_with_negative=True)
dev[0].question_text, dev[0].answers
```
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re

from bert_keras.errors import DataError

__all__ = [
    "SquadExample",
    "SquadExamples",
    "SkippedQuestion",
    "read_squad_examples",
]

logger = logging.getLogger(__name__)

# The original's `is_whitespace`: only these split a paragraph into words.
# Other Unicode spaces (a no-break space, say) stay inside words, where the
# WordPiece tokenizer later splits on them.
_WORD = re.compile("[^ \t\r\n\u202f]+")


@dataclasses.dataclass(frozen=True)
class SquadExample:
    """One question on one paragraph.

    Attributes:
        qas_id: the question's `id`, the key of its prediction.
        question_text: the question.
        context_text: the paragraph, as in the file.
        doc_tokens: the paragraph's whitespace-separated words. Questions on
            the same paragraph share one tuple.
        char_to_word_offset: for each character of `context_text`, the index
            of the word it belongs to; whitespace belongs to the word before
            it (-1 before the first word).
        orig_answer_text: the answer's text as annotated; "" for an
            impossible question in training, `None` in prediction.
        start_position: index in `doc_tokens` of the answer's first word;
            -1 for an impossible question in training, `None` in prediction.
        end_position: index of its last word, likewise.
        is_impossible: whether the question has no answer (SQuAD v2.0). As in
            the original it is only read in training: prediction examples have
            `False`, and evaluation goes by `answers` being empty.
        answers: the texts of all gold answers, in file order (an empty tuple
            for an impossible question), for evaluation.
    """

    qas_id: str
    question_text: str
    context_text: str
    doc_tokens: tuple[str, ...]
    char_to_word_offset: tuple[int, ...]
    orig_answer_text: str | None
    start_position: int | None
    end_position: int | None
    is_impossible: bool
    answers: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class SkippedQuestion:
    """A training question `read_squad_examples` left out, and why."""

    qas_id: str
    reason: str


class SquadExamples(list):
    """The list of `SquadExample`s of one file, plus the questions skipped.

    Attributes:
        path: the file the examples were read from ("" for data passed in).
        skipped: list of `SkippedQuestion`, the training questions whose
            answer could not be recovered from the paragraph.
    """

    def __init__(self, examples=(), path="", skipped=()):
        super().__init__(examples)
        self.path = path
        self.skipped = list(skipped)


def _split_paragraph(text):
    """The original's split of a paragraph into words.

    Args:
        text: the paragraph.

    Returns:
        `(doc_tokens, char_to_word_offset)`, as in `SquadExample`.

    Example:
    >>> _split_paragraph("Hi  there,\\tyou")
    (('Hi', 'there,', 'you'), (0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2))
    """
    words = []
    offsets = []
    previous_start = 0
    for match in _WORD.finditer(text):
        # Characters from the previous word's start up to this word belong
        # to the previous word (or to -1 before the first).
        offsets.extend([len(words) - 1] * (match.start() - previous_start))
        previous_start = match.start()
        words.append(match.group())
    offsets.extend([len(words) - 1] * (len(text) - previous_start))
    return tuple(words), tuple(offsets)


def read_squad_examples(path_or_data, is_training, version_2_with_negative=False):
    """Reads the questions of a SQuAD file, in file order.

    The examples are those of the original `read_squad_examples`, field for
    field. Training questions whose answer cannot be recovered from the
    paragraph are skipped, as the original skips them, and listed in the
    result's `skipped` with a logged warning giving their number:

    - the words the answer's characters fall in do not contain the answer
      text (whitespace normalized), i.e. `answer_start` does not point at
      the answer (the original logs "Could not find answer" and skips);
    - `answer_start`, or `answer_start` plus the answer's length, lies
      outside the paragraph (the original crashes with an IndexError, or
      for a negative `answer_start` reads from the paragraph's end);
    - `answer_start` points at whitespace before the paragraph's first word
      (the original would keep a start word of -1);
    - the answer text is empty or only whitespace (the original would keep
      the question, with a span that is no answer).

    Prediction reads no positions, so none of these apply there.

    Args:
        path_or_data: path of a SQuAD JSON file, or its already parsed
            content (a dict with a "data" list).
        is_training: bool. Read answer positions (exactly one answer per
            answerable question, as in the official training files); with
            False, every question is kept and only gold answer texts are read.
        version_2_with_negative: bool, the original's flag: the file is
            SQuAD v2.0, whose questions have an `is_impossible` field.

    Returns:
        A `SquadExamples` list of `SquadExample`, with `.skipped` and `.path`.

    Raises:
        DataError: the file is missing, not UTF-8 or not JSON; a required key
            is missing or has the wrong type (naming the key and, where
            known, the question id); a paragraph's context has no words; two
            questions share an id; in training, an answerable question has
            other than one answer, or a v1.1 reading meets an impossible
            question; in v2.0, a question is impossible but has answers.

    Example:
    >>> data = {"data": [{"title": "t", "paragraphs": [{
    ...     "context": "Marie Curie was born in Warsaw.",
    ...     "qas": [{"id": "q1", "question": "Where was Curie born?",
    ...              "answers": [{"text": "Warsaw", "answer_start": 24}]}]}]}]}
    >>> example = read_squad_examples(data, is_training=True)[0]
    >>> example.doc_tokens[example.start_position:example.end_position + 1]
    ('Warsaw.',)
    >>> read_squad_examples(data, is_training=False)[0].answers
    ('Warsaw',)
    """
    if isinstance(path_or_data, (str, os.PathLike)):
        path = os.fspath(path_or_data)
        source = path
        content = _load_json(path)
    else:
        path = ""
        source = "the SQuAD data"
        content = path_or_data
    articles = _get(content, "data", list, source, "the top level")

    examples = SquadExamples(path=path)
    seen_ids = set()
    for article_index, article in enumerate(articles):
        article_where = f"article {article_index}"
        if isinstance(article, dict) and isinstance(article.get("title"), str):
            article_where += f" ({article['title']!r})"
        paragraphs = _get(article, "paragraphs", list, source, article_where)
        for paragraph_index, paragraph in enumerate(paragraphs):
            where = f"{article_where}, paragraph {paragraph_index}"
            context = _get(paragraph, "context", str, source, where)
            doc_tokens, char_to_word_offset = _split_paragraph(context)
            if not doc_tokens:
                raise DataError(
                    f"{source}: {where} has an empty context ({context!r}). Every "
                    "paragraph needs text for its questions to be answered from; "
                    "remove the paragraph or fill in its context."
                )
            for qa in _get(paragraph, "qas", list, source, where):
                qas_id = _get(qa, "id", str, source, where)
                if qas_id in seen_ids:
                    raise DataError(
                        f"{source}: question id {qas_id!r} ({where}) is used twice. "
                        "Ids key the predictions, so each must be unique."
                    )
                seen_ids.add(qas_id)
                parsed = _read_question(
                    qa,
                    qas_id,
                    context,
                    doc_tokens,
                    char_to_word_offset,
                    is_training,
                    version_2_with_negative,
                    f"{source}: question {qas_id!r} ({where})",
                )
                if isinstance(parsed, str):
                    examples.skipped.append(SkippedQuestion(qas_id, parsed))
                else:
                    examples.append(parsed)
    if examples.skipped:
        first = examples.skipped[0]
        logger.warning(
            "Skipped %d of %d training question(s) of %s whose answer could not be "
            "found in the paragraph (first: %s: %s).",
            len(examples.skipped),
            len(examples) + len(examples.skipped),
            source,
            first.qas_id,
            first.reason,
        )
    return examples


def _load_json(path):
    if not os.path.isfile(path):
        raise DataError(f"No SQuAD file at {path}.")
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text: {error}.") from error
    except json.JSONDecodeError as error:
        raise DataError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}). Expected a SQuAD file: "
            '{"data": [{"paragraphs": [{"context": ..., "qas": [...]}]}]}.'
        ) from error


def _get(mapping, key, kind, source, where):
    """`mapping[key]`, which must be of type `kind`, or a DataError."""
    if not isinstance(mapping, dict):
        raise DataError(
            f"{source}: {where} should be a JSON object; found {type(mapping).__name__}."
        )
    if key not in mapping:
        raise DataError(
            f"{source}: {where} has no {key!r} key. Expected the official SQuAD "
            "layout (data > paragraphs > context, qas > id, question, answers)."
        )
    value = mapping[key]
    # JSON true/false are bools, which are ints in Python.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(
            f"{source}: {where}: {key!r} should be {_JSON_NAMES[kind]}; "
            f"found {value!r:.80}."
        )
    return value


_JSON_NAMES = {
    str: "a string",
    list: "a list",
    int: "an integer",
    bool: "a boolean (true or false)",
    dict: "an object",
}


def _read_question(
    qa, qas_id, context, doc_tokens, char_to_word_offset, is_training, version_2, where
):
    """A `SquadExample`, or the reason a training question is skipped."""
    question = _get(qa, "question", str, where, "the question")
    is_impossible = False
    if version_2 and (is_training or "is_impossible" in qa):
        is_impossible = _get(qa, "is_impossible", bool, where, "the question")
    elif is_training and qa.get("is_impossible") is True:
        raise DataError(
            f"{where} is marked is_impossible, a SQuAD v2.0 question; pass "
            "version_2_with_negative=True to read v2.0 files."
        )
    # Only training reads the answers of answerable questions; elsewhere they
    # are optional (a test file may have none).
    if "answers" in qa or (is_training and not is_impossible):
        answers = _get(qa, "answers", list, where, "the question")
    else:
        answers = []
    answer_texts = tuple(
        _get(answer, "text", str, where, f"answer {i}") for i, answer in enumerate(answers)
    )
    if is_impossible and answers:
        raise DataError(
            f"{where} is marked is_impossible but has {len(answers)} answer(s). "
            "An impossible question's answers belong in plausible_answers; fix "
            "is_impossible or move the answers."
        )
    example = dict(
        qas_id=qas_id,
        question_text=question,
        context_text=context,
        doc_tokens=doc_tokens,
        char_to_word_offset=char_to_word_offset,
        orig_answer_text=None,
        start_position=None,
        end_position=None,
        is_impossible=is_impossible if is_training else False,
        answers=answer_texts,
    )
    if not is_training:
        return SquadExample(**example)
    if is_impossible:
        return SquadExample(
            **dict(example, orig_answer_text="", start_position=-1, end_position=-1)
        )
    if len(answers) != 1:
        raise DataError(
            f"{where} has {len(answers)} answers; for training each answerable "
            "question needs exactly one (the official training files have one). "
            "Read evaluation files with is_training=False."
        )
    text = answer_texts[0]
    answer_start = _get(answers[0], "answer_start", int, where, "answer 0")
    positions = _answer_words(text, answer_start, context, doc_tokens, char_to_word_offset)
    if isinstance(positions, str):
        return positions
    start, end = positions
    return SquadExample(
        **dict(example, orig_answer_text=text, start_position=start, end_position=end)
    )


def _answer_words(text, answer_start, context, doc_tokens, char_to_word_offset):
    """The first and last word of an answer, or why it cannot be found."""
    if not text.strip():
        return f"the answer text {text!r} is empty"
    answer_end = answer_start + len(text)
    if answer_start < 0 or answer_end > len(context):
        return (
            f"answer_start {answer_start} plus the answer's length {len(text)} runs "
            f"past the end of the context ({len(context)} characters)"
            if answer_start >= 0
            else f"answer_start {answer_start} is negative"
        )
    start = char_to_word_offset[answer_start]
    end = char_to_word_offset[answer_end - 1]
    if start < 0:
        return f"answer_start {answer_start} points at whitespace before the first word"
    # Word granularity: the words touched contain the answer, maybe more.
    actual = " ".join(doc_tokens[start : end + 1])
    cleaned = " ".join(text.split())
    if cleaned not in actual:
        return f"could not find answer {cleaned!r} in {actual!r} (at answer_start {answer_start})"
    return start, end
