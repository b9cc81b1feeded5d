"""SQuAD examples to model features, as Google's `run_squad.py` makes them,
and the `tf.data` pipeline that feeds them to a model.

Each example becomes one feature per window of its paragraph. The question
(its first `max_query_length` word pieces) and a window of the paragraph's
word pieces make one sequence, `[CLS] question [SEP] window [SEP]`, padded
with zeros to `max_seq_length`. Windows hold `max_seq_length - len(question)
- 3` pieces and start `doc_stride` pieces apart, so a long paragraph is seen
whole, most pieces in two or more windows; each piece is scored in the
window where it has the most context on both sides (`token_is_max_context`).
In training, the answer's start and end are positions in the sequence, or 0
(`[CLS]`) in windows that do not hold the whole answer and for impossible
questions.

Features are produced by a generator, so a large file never needs all its
features in memory, and the word pieces of many examples are computed in one
batched call of the tokenizer. `features_dataset` turns them into a
`tf.data.Dataset` with the model's input names: `token_ids`, `segment_ids`
and `padding_mask` (the original's `input_ids`, `segment_ids` and
`input_mask`).

Example:
```python
from bert_keras.data.squad import (
    convert_examples_to_features, features_dataset, read_squad_examples)
from bert_keras.tokenizers import BertTokenizer

tokenizer = BertTokenizer.from_preset("bert_base_en_uncased")
examples = read_squad_examples("train-v1.1.json", is_training=True)
train = features_dataset(
    lambda: convert_examples_to_features(examples, tokenizer, is_training=True),
    max_seq_length=384, is_training=True,
).shuffle(10_000).batch(32)
```
"""

from __future__ import annotations

import collections.abc
import dataclasses
import itertools
import logging

import numpy as np

from bert_keras.errors import DataError

__all__ = [
    "SquadFeature",
    "convert_examples_to_features",
    "features_dataset",
]

logger = logging.getLogger(__name__)

# Examples whose texts go through the tokenizer in one call: large enough
# to amortize the call, small enough to keep streaming.
_CHUNK_SIZE = 512


@dataclasses.dataclass
class SquadFeature:
    """One window of one example: the original `InputFeatures`.

    Attributes:
        unique_id: the feature's id, counting up from `unique_id_start`
            across all features; it matches predictions to features.
        example_index: index of the example in the examples converted.
        doc_span_index: index of the window within its example.
        tokens: the word pieces of the sequence, `[CLS]` to the last
            `[SEP]`, without padding.
        token_to_orig_map: position in the sequence -> index of the word of
            `doc_tokens` the piece comes from, for the paragraph's pieces.
        token_is_max_context: position in the sequence -> whether this window
            is the one where the piece has the most context.
        input_ids: token ids, zero-padded to `max_seq_length`.
        input_mask: 1 on tokens, 0 on padding.
        segment_ids: 0 for `[CLS]`, the question and its `[SEP]`, 1 for the
            window and its `[SEP]`, 0 on padding.
        start_position: in training, the sequence position of the answer's
            first piece, or 0 where the window lacks the answer or the
            question is impossible; `None` in prediction.
        end_position: likewise for the answer's last piece.
        is_impossible: the example's `is_impossible`.
    """

    unique_id: int
    example_index: int
    doc_span_index: int
    tokens: list[str]
    token_to_orig_map: dict[int, int]
    token_is_max_context: dict[int, bool]
    input_ids: list[int]
    input_mask: list[int]
    segment_ids: list[int]
    start_position: int | None
    end_position: int | None
    is_impossible: bool


def convert_examples_to_features(
    examples,
    tokenizer,
    max_seq_length=384,
    doc_stride=128,
    max_query_length=64,
    is_training=False,
    unique_id_start=1000000000,
):
    """Generates the features of examples, as the original does.

    The features equal, field for field, those of the original
    `convert_examples_to_features` with `FullTokenizer` on the same
    vocabulary and casing. The arguments are checked at once; the features
    are made as they are consumed, a few hundred examples at a time.

    In training, the answer span is first mapped from words to word pieces
    and then narrowed to the pieces of the annotated text where they match
    it exactly (the original's `_improve_answer_span`: the answer "1895" in
    the word "(1895-1943)." becomes the single piece "1895"). An example whose
    paragraph has no word pieces at all (only characters the tokenizer
    drops) gets no feature, as in the original; a warning says so.

    Args:
        examples: an iterable of `SquadExample` (from `read_squad_examples`,
            read with the same `is_training`); it is consumed lazily.
        tokenizer: a `BertTokenizer`.
        max_seq_length: int, length of every sequence, padding included.
        doc_stride: int, pieces between the starts of successive windows.
        max_query_length: int, the question's pieces beyond this are cut.
        is_training: bool, compute the answers' start and end positions.
        unique_id_start: int, `unique_id` of the first feature.

    Returns:
        A generator of `SquadFeature`.

    Raises:
        ValueError: (at the call) a non-positive length or stride, or
            `max_seq_length` too short to hold `[CLS]`, a question of
            `max_query_length` pieces, two `[SEP]` and one paragraph piece.
        DataError: (while generating) in training, an example read with
            `is_training=False`, or answer positions outside its words.

    Example:
    ```python
    features = convert_examples_to_features(
        examples, tokenizer, max_seq_length=384, doc_stride=128,
        max_query_length=64, is_training=False)
    for feature in features:  # one window at a time
        ...
    ```
    """
    for name, value in (
        ("max_seq_length", max_seq_length),
        ("doc_stride", doc_stride),
        ("max_query_length", max_query_length),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
    if max_seq_length - max_query_length - 3 < 1:
        raise ValueError(
            f"max_seq_length={max_seq_length} leaves no room for the paragraph: a "
            f"sequence holds [CLS], up to max_query_length={max_query_length} question "
            "pieces and two [SEP], so max_seq_length must exceed max_query_length + 3 "
            f"(here at least {max_query_length + 4})."
        )
    settings = _Settings(
        max_seq_length=int(max_seq_length),
        doc_stride=int(doc_stride),
        max_query_length=int(max_query_length),
        is_training=bool(is_training),
    )
    return _generate_features(examples, tokenizer, settings, int(unique_id_start))


@dataclasses.dataclass(frozen=True)
class _Settings:
    max_seq_length: int
    doc_stride: int
    max_query_length: int
    is_training: bool


def _generate_features(examples, tokenizer, settings, unique_id):
    vocabulary = tokenizer.get_vocabulary()
    special = (tokenizer.cls_token_id, tokenizer.sep_token_id)
    iterator = iter(examples)
    example_index = 0
    while True:
        chunk = list(itertools.islice(iterator, _CHUNK_SIZE))
        if not chunk:
            return
        for example, pieces in zip(chunk, _tokenize_chunk(chunk, tokenizer, settings)):
            features = _example_features(
                example, example_index, pieces, settings, unique_id, vocabulary, special
            )
            if not features:
                logger.warning(
                    "Question %s has no paragraph word pieces (its context %r has only "
                    "characters the tokenizer drops); it gets no feature.",
                    example.qas_id,
                    example.context_text[:80],
                )
            yield from features
            unique_id += len(features)
            example_index += 1


@dataclasses.dataclass(frozen=True)
class _Pieces:
    query: list  # the question's piece ids
    words: list  # one list of piece ids per doc token
    answer: list | None  # the answer text's piece ids, in training


def _tokenize_chunk(chunk, tokenizer, settings):
    """The word pieces of a chunk of examples, from one tokenizer call.

    As in the original, each word of a paragraph is tokenized on its own and
    the question and the answer text each as a whole. Questions on the same
    paragraph share their `doc_tokens`, which are tokenized once.
    """
    texts = []
    paragraph_rows = {}  # id(doc_tokens) -> index of its first word in texts
    rows = []
    for example in chunk:
        key = id(example.doc_tokens)
        if key not in paragraph_rows:
            paragraph_rows[key] = len(texts)
            texts.extend(example.doc_tokens)
        query_row = len(texts)
        texts.append(example.question_text)
        answer_row = None
        if settings.is_training and not example.is_impossible:
            if example.start_position is None or example.orig_answer_text is None:
                raise DataError(
                    f"Question {example.qas_id!r} has no answer position: its examples "
                    "were read with is_training=False. Read training files with "
                    "read_squad_examples(..., is_training=True)."
                )
            answer_row = len(texts)
            texts.append(example.orig_answer_text)
        rows.append((paragraph_rows[key], query_row, answer_row))

    ids = tokenizer.tokenize(texts)
    flat = ids.flat_values.numpy().tolist()
    splits = ids.row_splits.numpy().tolist()

    def row(i):
        return flat[splits[i] : splits[i + 1]]

    paragraph_pieces = {}
    for example, (paragraph_row, query_row, answer_row) in zip(chunk, rows):
        if paragraph_row not in paragraph_pieces:
            paragraph_pieces[paragraph_row] = [
                row(paragraph_row + i) for i in range(len(example.doc_tokens))
            ]
        yield _Pieces(
            query=row(query_row),
            words=paragraph_pieces[paragraph_row],
            answer=None if answer_row is None else row(answer_row),
        )


def _example_features(example, example_index, pieces, settings, unique_id, vocabulary, special):
    cls_id, sep_id = special
    query = pieces.query[: settings.max_query_length]

    doc = []  # the paragraph's piece ids
    tok_to_orig_index = []
    orig_to_tok_index = []
    for word_index, word_pieces in enumerate(pieces.words):
        orig_to_tok_index.append(len(doc))
        doc.extend(word_pieces)
        tok_to_orig_index.extend([word_index] * len(word_pieces))

    answer_start = answer_end = None
    if settings.is_training and not example.is_impossible:
        answer_start, answer_end = _answer_pieces(example, pieces, doc, orig_to_tok_index)

    spans = _doc_spans(len(doc), settings.max_seq_length - len(query) - 3, settings.doc_stride)
    best_span = _max_context_spans(spans, len(doc))
    doc_offset = len(query) + 2  # [CLS] query [SEP]
    features = []
    for span_index, (span_start, span_length) in enumerate(spans):
        span_ids = doc[span_start : span_start + span_length]
        input_ids = [cls_id, *query, sep_id, *span_ids, sep_id]
        tokens = [vocabulary[i] for i in input_ids]
        positions = range(doc_offset, doc_offset + span_length)
        token_to_orig_map = {
            p: tok_to_orig_index[span_start + i] for i, p in enumerate(positions)
        }
        token_is_max_context = {
            p: best_span[span_start + i] == span_index for i, p in enumerate(positions)
        }
        num_padding = settings.max_seq_length - len(input_ids)
        segment_ids = [0] * doc_offset + [1] * (span_length + 1) + [0] * num_padding
        input_mask = [1] * len(input_ids) + [0] * num_padding
        input_ids = input_ids + [0] * num_padding

        start_position = end_position = None
        if settings.is_training:
            span_end = span_start + span_length - 1
            if (
                example.is_impossible
                or answer_start < span_start
                or answer_end > span_end
            ):
                start_position = end_position = 0
            else:
                start_position = answer_start - span_start + doc_offset
                end_position = answer_end - span_start + doc_offset

        features.append(
            SquadFeature(
                unique_id=unique_id + span_index,
                example_index=example_index,
                doc_span_index=span_index,
                tokens=tokens,
                token_to_orig_map=token_to_orig_map,
                token_is_max_context=token_is_max_context,
                input_ids=input_ids,
                input_mask=input_mask,
                segment_ids=segment_ids,
                start_position=start_position,
                end_position=end_position,
                is_impossible=example.is_impossible,
            )
        )
    return features


def _answer_pieces(example, pieces, doc, orig_to_tok_index):
    """The answer's first and last paragraph piece (the original's
    `_improve_answer_span` applied to the pieces of its words)."""
    num_words = len(example.doc_tokens)
    if not 0 <= example.start_position <= example.end_position < num_words:
        raise DataError(
            f"Question {example.qas_id!r}: answer words {example.start_position}.."
            f"{example.end_position} are outside its paragraph's {num_words} words."
        )
    start = orig_to_tok_index[example.start_position]
    if example.end_position < num_words - 1:
        end = orig_to_tok_index[example.end_position + 1] - 1
    else:
        end = len(doc) - 1
    # The shortest-from-the-left, longest-from-the-right sub-span whose
    # pieces are exactly the answer text's pieces, if any.
    answer = pieces.answer
    for new_start in range(start, end + 1):
        for new_end in range(end, new_start - 1, -1):
            if doc[new_start : new_end + 1] == answer:
                return new_start, new_end
    return start, end


def _doc_spans(num_pieces, max_pieces, doc_stride):
    """`(start, length)` of each window over the paragraph's pieces."""
    spans = []
    start = 0
    while start < num_pieces:
        length = min(num_pieces - start, max_pieces)
        spans.append((start, length))
        if start + length == num_pieces:
            break
        start += min(length, doc_stride)
    return spans


def _max_context_spans(spans, num_pieces):
    """For each piece, the index of the window where it has the most context.

    A piece's context in a window is the fewer of the pieces on its left and
    on its right, plus 0.01 times the window's length to break ties in favour
    of longer windows; the first of equal windows wins (the original's
    `_check_is_max_context`, computed once for all pieces).
    """
    best_span = [None] * num_pieces
    best_score = [None] * num_pieces
    for span_index, (start, length) in enumerate(spans):
        end = start + length - 1
        for position in range(start, end + 1):
            score = min(position - start, end - position) + 0.01 * length
            if best_score[position] is None or score > best_score[position]:
                best_score[position] = score
                best_span[position] = span_index
    return best_span


def features_dataset(features, max_seq_length=384, is_training=False):
    """A `tf.data.Dataset` of features, streamed from Python, unbatched.

    Training elements are `(inputs, labels)`; prediction elements are
    `(inputs, unique_id)`, which `model.predict` takes as they are (it
    ignores the second part) and which keep each output's feature id:

        inputs = {"token_ids": int32 [max_seq_length],
                  "segment_ids": int32 [max_seq_length],
                  "padding_mask": int32 [max_seq_length]}
        labels = {"start_positions": int32 [], "end_positions": int32 []}
        unique_id: int64 []

    Args:
        features: a list (or other re-iterable collection) of `SquadFeature`,
            or a function of no arguments returning an iterable of them, such
            as `lambda: convert_examples_to_features(...)`, called again for
            each pass over the dataset, so features stream and are never all
            in memory. A one-shot iterator (such as the generator itself) is
            refused: it would leave every pass after the first empty.
        max_seq_length: int, the features' sequence length.
        is_training: bool, yield answer positions (features made with
            `is_training=True`) instead of unique ids.

    Returns:
        A `tf.data.Dataset`.

    Raises:
        DataError: `features` is a one-shot iterator; or a feature's sequence
            length is not `max_seq_length`, or, in training, a feature has no
            answer positions (raised at once for a collection, and while
            iterating, wrapped in a TensorFlow error, for a function).

    Example:
    ```python
    predict = features_dataset(features, max_seq_length=384).batch(64)
    outputs = model.predict(predict)
    unique_ids = [int(u) for _, u in predict.unbatch()]
    ```
    """
    # Imported here so that reading and converting do not load tf.data.
    import tensorflow as tf

    if callable(features):
        make_features = features
    elif isinstance(features, collections.abc.Iterator):
        raise DataError(
            "features_dataset needs features it can iterate over again for each "
            "pass, not a one-shot iterator: pass a list, or a function returning a "
            "fresh iterator, e.g. lambda: convert_examples_to_features(...)."
        )
    else:
        for feature in features:
            _check_feature(feature, max_seq_length, is_training)

        def make_features():
            return features

    def generate():
        for feature in make_features():
            _check_feature(feature, max_seq_length, is_training)
            inputs = {
                "token_ids": np.asarray(feature.input_ids, np.int32),
                "segment_ids": np.asarray(feature.segment_ids, np.int32),
                "padding_mask": np.asarray(feature.input_mask, np.int32),
            }
            if is_training:
                yield inputs, {
                    "start_positions": np.int32(feature.start_position),
                    "end_positions": np.int32(feature.end_position),
                }
            else:
                yield inputs, np.int64(feature.unique_id)

    sequence = tf.TensorSpec([max_seq_length], tf.int32)
    inputs = {"token_ids": sequence, "segment_ids": sequence, "padding_mask": sequence}
    if is_training:
        position = tf.TensorSpec([], tf.int32)
        second = {"start_positions": position, "end_positions": position}
    else:
        second = tf.TensorSpec([], tf.int64)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(inputs, second))
    if not callable(features):
        # Known length: Keras can show progress and expects the end.
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(features)))
    return dataset


def _check_feature(feature, max_seq_length, is_training):
    lengths = {len(feature.input_ids), len(feature.segment_ids), len(feature.input_mask)}
    if lengths != {max_seq_length}:
        raise DataError(
            f"Feature {feature.unique_id} has sequence length {max(lengths)}, not "
            f"max_seq_length={max_seq_length}: pass the max_seq_length the features "
            "were made with."
        )
    if is_training and feature.start_position is None:
        raise DataError(
            f"Feature {feature.unique_id} has no answer positions: it was made with "
            "is_training=False. Make training features with is_training=True."
        )
