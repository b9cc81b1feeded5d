"""SQuAD answers from start/end logits, exactly as Google's `run_squad.py`.

`compute_predictions` turns a model's start and end logits over the
features (document windows) of each question into the answer text, the
n-best list and, for SQuAD 2.0, the null odds, with the algorithm of the
original `write_predictions`, so that the files `write_predictions` writes
match the original's for the same logits (same texts, same order, same
floats):

- per feature, the `n_best_size` highest start and end logits are paired;
  pairs outside the document, starting at a token whose window is not its
  best context, ending before they start or longer than
  `max_answer_length` tokens are dropped;
- for SQuAD 2.0 the null score is the lowest `start_logits[0] +
  end_logits[0]` over the question's features;
- candidates are ranked by start + end logit; each one's text is mapped
  back from wordpieces to the original words (`get_final_text`), and
  repeated texts are skipped;
- probabilities are a softmax over the n-best scores;
- for SQuAD 2.0 the answer is "" when `null score - best span score`
  exceeds `null_score_diff_threshold`.

Where the original fails, this module decides, and says so in the
docstrings: a SQuAD 2.0 question whose n-best holds no span (the original
dereferences `None` there) and a question without features. Mismatched
inputs (a feature without a result, features out of order) raise
`bert_keras.errors.DataError` rather than silently dropping answers.

`get_final_text` needs BERT's BasicTokenizer (cleanup, CJK spacing, lower
casing with accent stripping, punctuation splitting) in plain Python to
align characters; no published library exposes this alignment exactly, so
the few functions it needs are ported here.

Example:
```python
from bert_keras.data.squad.postprocessing import (
    RawResult, compute_predictions, write_predictions)

results = [RawResult(f.unique_id, start, end) for f, (start, end)
           in zip(features, model_logits)]
predictions, nbest, null_odds = compute_predictions(
    examples, features, results, do_lower_case=True,
    version_2_with_negative=True, null_score_diff_threshold=0.0)
write_predictions("output", predictions, nbest, null_odds)
```
"""

from __future__ import annotations

import json
import math
import os
import sys
import typing
import unicodedata
import uuid
from collections.abc import Mapping

import numpy as np

from bert_keras.errors import DataError
from bert_keras.unicode_ranges import is_cjk

__all__ = [
    "NO_SPAN_NULL_ODDS",
    "RawResult",
    "compute_predictions",
    "get_final_text",
    "write_predictions",
]

NO_SPAN_NULL_ODDS = sys.float_info.max
"""The null odds of a SQuAD 2.0 question whose n-best holds no span.

The odds are `null score - best span score`; with no span the best span
score is minus infinity and the odds plus infinity, which JSON cannot hold.
The largest finite float stands in for it: it is valid JSON, and it sorts
above every real odds value and exceeds every finite threshold, so both
`compute_predictions` and the official evaluation's threshold search
treat the question as unanswered.
"""

# The original starts its running minimum of the null score here ("large
# and positive"); kept so that results match it even for absurd logits.
_NULL_SCORE_START = 1000000


class RawResult(typing.NamedTuple):
    """A model's logits for one feature, matched to it by `unique_id`.

    Attributes:
        unique_id: the feature's `unique_id`.
        start_logits: 1-D sequence (list or NumPy array) of start logits, one
            per token position of the feature.
        end_logits: 1-D sequence of end logits, same length.
    """

    unique_id: int
    start_logits: typing.Sequence[float]
    end_logits: typing.Sequence[float]


def _field(item, name):
    """`item.name`, or `item[name]` for a mapping."""
    if isinstance(item, Mapping):
        if name not in item:
            raise DataError(f"Missing field {name!r} in {_describe(item)}.")
        return item[name]
    try:
        return getattr(item, name)
    except AttributeError:
        raise DataError(f"Missing field {name!r} in {_describe(item)}.") from None


def _describe(item):
    text = repr(item)
    return text if len(text) <= 80 else text[:77] + "..."


def _int_keyed(mapping, name, unique_id):
    """`mapping` with int keys; JSON gives the decimal strings instead."""
    if all(type(key) is int for key in mapping):
        return mapping
    try:
        return {int(key): value for key, value in mapping.items()}
    except (TypeError, ValueError):
        raise DataError(
            f"Feature {unique_id!r}: {name} keys must be token positions, got "
            f"{_describe(list(mapping)[:5])}."
        ) from None


def _logits(result, name, unique_id):
    # The original's float(x) of each float32 logit; float64 keeps the
    # value exactly, and lists of Python floats come back unchanged.
    values = np.asarray(_field(result, name), dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise DataError(
            f"Result {unique_id!r}: {name} must be a non-empty 1-D sequence, "
            f"got shape {values.shape}."
        )
    return values.tolist()


class _Window(typing.NamedTuple):
    """One feature with its logits, in the form the search needs."""

    tokens: list
    token_to_orig_map: dict
    token_is_max_context: dict
    start_logits: list
    end_logits: list


def _window(feature, results_by_id, example_index):
    unique_id = _field(feature, "unique_id")
    if unique_id not in results_by_id:
        raise DataError(
            f"No result for feature {unique_id!r} of example {example_index}: "
            "every feature needs its logits (RawResult with the same unique_id)."
        )
    result = results_by_id[unique_id]
    return _Window(
        tokens=list(_field(feature, "tokens")),
        token_to_orig_map=_int_keyed(
            _field(feature, "token_to_orig_map"), "token_to_orig_map", unique_id
        ),
        token_is_max_context=_int_keyed(
            _field(feature, "token_is_max_context"), "token_is_max_context", unique_id
        ),
        start_logits=_logits(result, "start_logits", unique_id),
        end_logits=_logits(result, "end_logits", unique_id),
    )


def _features_by_example(features):
    """Yields `(example_index, [feature, ...])`, reading features lazily.

    Only one example's features are held at a time, which requires them in
    the order `convert_examples_to_features` produces: by example.
    """
    current = None
    group = []
    for feature in features:
        index = _field(feature, "example_index")
        if index != current:
            if current is not None and index < current:
                raise DataError(
                    f"Features must be ordered by example_index: feature "
                    f"{_field(feature, 'unique_id')!r} of example {index} comes "
                    f"after features of example {current}."
                )
            if group:
                yield current, group
            current, group = index, []
        group.append(feature)
    if group:
        yield current, group


def _best_indexes(logits, n_best_size):
    # Python's sort is stable, also with reverse=True: equal logits keep
    # the lower index first, as in the original.
    order = sorted(range(len(logits)), key=logits.__getitem__, reverse=True)
    return order[:n_best_size]


def _softmax(scores):
    """The original `_compute_softmax`, float for float."""
    if not scores:
        return []
    max_score = None
    for score in scores:
        if max_score is None or score > max_score:
            max_score = score
    exp_scores = []
    total = 0.0
    for score in scores:
        value = math.exp(score - max_score)
        exp_scores.append(value)
        total += value
    return [value / total for value in exp_scores]


def _example_nbest(
    doc_tokens,
    windows,
    n_best_size,
    max_answer_length,
    do_lower_case,
    version_2_with_negative,
):
    """`(nbest, score_null)`: nbest is a list of `(text, start, end)`."""
    # Each candidate: (window index, start index, end index, start, end).
    candidates = []
    score_null = _NULL_SCORE_START
    null_window = 0
    null_start_logit = null_end_logit = 0.0
    for window_index, window in enumerate(windows):
        start_logits, end_logits = window.start_logits, window.end_logits
        if version_2_with_negative:
            window_null_score = start_logits[0] + end_logits[0]
            if window_null_score < score_null:
                score_null = window_null_score
                null_window = window_index
                null_start_logit = start_logits[0]
                null_end_logit = end_logits[0]
        num_tokens = len(window.tokens)
        orig_map = window.token_to_orig_map
        for start in _best_indexes(start_logits, n_best_size):
            for end in _best_indexes(end_logits, n_best_size):
                if start >= num_tokens or end >= num_tokens:
                    continue
                if start not in orig_map or end not in orig_map:
                    continue
                if not window.token_is_max_context.get(start, False):
                    continue
                if end < start or end - start + 1 > max_answer_length:
                    continue
                candidates.append(
                    (window_index, start, end, start_logits[start], end_logits[end])
                )
    if version_2_with_negative:
        candidates.append((null_window, 0, 0, null_start_logit, null_end_logit))
    candidates.sort(key=lambda candidate: candidate[3] + candidate[4], reverse=True)

    seen = set()
    nbest = []
    for window_index, start, end, start_logit, end_logit in candidates:
        if len(nbest) >= n_best_size:
            break
        # As the original: start index 0 ([CLS]) is the null answer.
        if start > 0:
            window = windows[window_index]
            text = _span_text(window, doc_tokens, start, end, do_lower_case)
            if text in seen:
                continue
        else:
            text = ""
        seen.add(text)
        nbest.append((text, start_logit, end_logit))

    if version_2_with_negative and "" not in seen:
        nbest.append(("", null_start_logit, null_end_logit))
    if not nbest:
        # No valid span at all (SQuAD 1.1 only): the original's placeholder.
        nbest.append(("empty", 0.0, 0.0))
    return nbest, score_null


def _span_text(window, doc_tokens, start, end, do_lower_case):
    """The original words of a wordpiece span, trimmed to the prediction."""
    tok_text = " ".join(window.tokens[start : end + 1])
    # Joins wordpieces back into words.
    tok_text = tok_text.replace(" ##", "").replace("##", "")
    tok_text = " ".join(tok_text.split())
    orig_start = window.token_to_orig_map[start]
    orig_end = window.token_to_orig_map[end]
    orig_text = " ".join(doc_tokens[orig_start : orig_end + 1])
    return get_final_text(tok_text, orig_text, do_lower_case)


def compute_predictions(
    examples,
    features,
    results,
    n_best_size=20,
    max_answer_length=30,
    do_lower_case=True,
    version_2_with_negative=False,
    null_score_diff_threshold=0.0,
):
    """Answers, n-best lists and null odds, as the original `write_predictions`.

    Examples, features and results may be objects with the named attributes
    or dicts with the named keys. Features are read lazily, one example's at
    a time, so they may come from a generator; results are all held, keyed
    by `unique_id` (keep their logits as NumPy arrays to save memory).

    Cases the original does not handle:

    - A SQuAD 2.0 question whose n-best holds no span, only the null answer
      (the original crashes on `best_non_null_entry` being `None`): its
      answer is "", and its null odds are `NO_SPAN_NULL_ODDS`, the largest
      finite float, standing in for the infinite odds of
      `null score - (-inf)`.
    - A question without features (its context has no tokens): for SQuAD
      1.1 its n-best is the original's placeholder `"empty"` with logits
      0.0 and probability 1.0, as the original does; for SQuAD 2.0 (where
      the original crashes) its n-best is only the null answer with logits
      0.0, so it is answered "" with odds `NO_SPAN_NULL_ODDS`, as above.

    Args:
        examples: iterable of examples with `qas_id` (str) and `doc_tokens`
            (the context's whitespace-separated words), in the order their
            features' `example_index` counts.
        features: iterable of features with `unique_id`, `example_index`,
            `tokens` (wordpieces), `token_to_orig_map` (token position to
            index into `doc_tokens`) and `token_is_max_context` (token
            position to bool); map keys are ints or, as read back from
            JSON, their decimal strings. Ordered by `example_index`.
        results: iterable of `RawResult` (or objects or dicts with
            `unique_id`, `start_logits`, `end_logits`). A repeated
            `unique_id` keeps the last result, as the original.
        n_best_size: number of start and end positions paired per feature,
            and the length of the n-best list.
        max_answer_length: longest answer, in wordpieces.
        do_lower_case: whether the model's tokenizer lower-cases; must match
            it for the answers to map back to the original text.
        version_2_with_negative: SQuAD 2.0 (questions may have no answer).
        null_score_diff_threshold: SQuAD 2.0: answer "" when the null score
            minus the best span score exceeds this.

    Returns:
        `(predictions, nbest, null_odds)`, dicts keyed by `qas_id` in
        example order: the answer text; the n-best list of dicts with
        `text`, `probability`, `start_logit` and `end_logit`; and for SQuAD
        2.0 the null score minus the best span score (`None` for 1.1).

    Raises:
        DataError: a feature without a result, features out of example
            order or of an example that does not exist, a missing field, or
            logits that are not a non-empty 1-D sequence.
        ValueError: `n_best_size` or `max_answer_length` below 1.

    Example:
    >>> example = {"qas_id": "q1", "doc_tokens": ["Steve", "Smith's", "dog."]}
    >>> feature = {
    ...     "unique_id": 7, "example_index": 0,
    ...     "tokens": ["[CLS]", "who", "?", "[SEP]", "steve", "smith", "'", "s",
    ...                "dog", ".", "[SEP]"],
    ...     "token_to_orig_map": {4: 0, 5: 1, 6: 1, 7: 1, 8: 2, 9: 2},
    ...     "token_is_max_context": {i: True for i in range(4, 10)}}
    >>> start = [0.0] * 11; start[4] = 5.0
    >>> end = [0.0] * 11; end[5] = 5.0; end[7] = 3.0
    >>> predictions, nbest, null_odds = compute_predictions(
    ...     [example], [feature], [RawResult(7, start, end)], n_best_size=2)
    >>> predictions
    {'q1': 'Steve Smith'}
    >>> [(entry["text"], round(entry["probability"], 4)) for entry in nbest["q1"]]
    [('Steve Smith', 0.8808), ("Steve Smith's", 0.1192)]
    """
    if n_best_size < 1:
        raise ValueError(f"n_best_size must be at least 1, got {n_best_size}.")
    if max_answer_length < 1:
        raise ValueError(f"max_answer_length must be at least 1, got {max_answer_length}.")
    results_by_id = {}
    for result in results:
        results_by_id[_field(result, "unique_id")] = result

    predictions = {}
    all_nbest = {}
    null_odds = {} if version_2_with_negative else None
    groups = _features_by_example(features)
    pending = next(groups, None)
    num_examples = 0
    for example_index, example in enumerate(examples):
        num_examples += 1
        example_features = []
        if pending is not None and pending[0] == example_index:
            example_features = pending[1]
            pending = next(groups, None)
        windows = [_window(f, results_by_id, example_index) for f in example_features]
        qas_id = _field(example, "qas_id")
        nbest, score_null = _example_nbest(
            _field(example, "doc_tokens"),
            windows,
            n_best_size,
            max_answer_length,
            do_lower_case,
            version_2_with_negative,
        )
        probabilities = _softmax([start + end for _, start, end in nbest])
        all_nbest[qas_id] = [
            {"text": text, "probability": probability, "start_logit": start, "end_logit": end}
            for (text, start, end), probability in zip(nbest, probabilities)
        ]
        if not version_2_with_negative:
            predictions[qas_id] = nbest[0][0]
            continue
        best_span = next((entry for entry in nbest if entry[0]), None)
        if best_span is None:
            null_odds[qas_id] = NO_SPAN_NULL_ODDS
            predictions[qas_id] = ""
            continue
        # Subtracted in the original's order, for the same float.
        score_diff = score_null - best_span[1] - best_span[2]
        null_odds[qas_id] = score_diff
        predictions[qas_id] = "" if score_diff > null_score_diff_threshold else best_span[0]
    if pending is not None:
        raise DataError(
            f"Feature {_field(pending[1][0], 'unique_id')!r} belongs to example "
            f"{pending[0]!r}, but there are only {num_examples} examples."
        )
    return predictions, all_nbest, null_odds


def write_predictions(output_dir, predictions, nbest, null_odds=None):
    """Writes the original's `predictions.json`, `nbest_predictions.json` and
    (SQuAD 2.0) `null_odds.json`.

    The JSON is formatted as the original's (`json.dumps(..., indent=4)`
    plus a newline). Each file is written under a temporary name in
    `output_dir` and then renamed, so a reader never sees a partial file.

    Args:
        output_dir: folder to write into, created if needed.
        predictions: dict `qas_id -> answer`, from `compute_predictions`.
        nbest: dict `qas_id -> n-best list`, from `compute_predictions`.
        null_odds: dict `qas_id -> null odds`, or `None` (SQuAD 1.1) to
            write no `null_odds.json`.

    Returns:
        The list of paths written.

    Example:
    ```python
    predictions, nbest, null_odds = compute_predictions(...)
    write_predictions("squad_output", predictions, nbest, null_odds)
    ```
    """
    output_dir = os.fspath(output_dir)
    os.makedirs(output_dir, exist_ok=True)
    files = [("predictions.json", predictions), ("nbest_predictions.json", nbest)]
    if null_odds is not None:
        files.append(("null_odds.json", null_odds))
    paths = []
    for name, content in files:
        path = os.path.join(output_dir, name)
        _write_text(path, json.dumps(content, indent=4) + "\n")
        paths.append(path)
    return paths


def _write_text(path, text):
    # A fresh name opened with the default mode, rather than mkstemp's
    # owner-only file, so the renamed file has the usual permissions.
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(temporary, "x", encoding="utf-8", newline="") as file:
            file.write(text)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


# BERT's BasicTokenizer, as get_final_text uses it.


def _is_whitespace(char):
    # Tab, newline and carriage return are control characters that BERT
    # counts as white space.
    return char in " \t\n\r" or unicodedata.category(char) == "Zs"


def _is_control(char):
    return char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char):
    code = ord(char)
    # Every ASCII character other than letters and digits counts, also
    # those Unicode does not call punctuation ("$", "^", "`", ...).
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _split_on_punctuation(word):
    pieces = []
    start_new_piece = True
    for char in word:
        if _is_punctuation(char):
            pieces.append(char)
            start_new_piece = True
        else:
            if start_new_piece:
                pieces.append("")
            start_new_piece = False
            pieces[-1] += char
    return pieces


def _basic_tokenize(text, do_lower_case):
    """BERT's `BasicTokenizer(do_lower_case).tokenize(text)`."""
    chars = []
    for char in text:
        code = ord(char)
        if code == 0 or code == 0xFFFD or _is_control(char):
            continue
        if _is_whitespace(char):
            chars.append(" ")
        elif is_cjk(code):
            chars.append(f" {char} ")
        else:
            chars.append(char)
    pieces = []
    for word in "".join(chars).split():
        if do_lower_case:
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(char for char in word if unicodedata.category(char) != "Mn")
        pieces.extend(_split_on_punctuation(word))
    # Lower casing and accent stripping can leave empty pieces.
    return " ".join(pieces).split()


def _without_spaces(text):
    """`text` without " " characters, and a map from its positions back."""
    positions = [i for i, char in enumerate(text) if char != " "]
    return "".join(text[i] for i in positions), positions


def get_final_text(pred_text, orig_text, do_lower_case):
    """The part of `orig_text` that the normalized `pred_text` covers.

    `orig_text` is the original words of a predicted span, `pred_text` the
    span's wordpieces joined back (lower-cased, accents stripped,
    punctuation split off, as BERT tokenized them). The answer should be
    the original characters of just the prediction: "Steve Smith", not the
    normalized "steve smith" nor the whole word span "Steve Smith's".

    As the original: `orig_text` goes through BERT's BasicTokenizer; if the
    result without spaces has as many characters as `orig_text` without
    spaces, they are aligned one to one and `pred_text`'s first occurrence
    in the tokenized text is mapped back. Otherwise (or when `pred_text` is
    not found, or its ends do not map) the whole `orig_text` is returned.

    Args:
        pred_text: the detokenized prediction.
        orig_text: the original words of the span, joined by single spaces.
        do_lower_case: whether the tokenizer lower-cases and strips accents.

    Returns:
        A substring of `orig_text`, or `orig_text` itself.

    Example:
    >>> get_final_text("steve smith", "Steve Smith's", do_lower_case=True)
    'Steve Smith'
    >>> get_final_text("creme brulee", "Crème Brûlée,", do_lower_case=True)
    'Crème Brûlée'
    >>> get_final_text("zurich", "Berlin", do_lower_case=True)
    'Berlin'
    """
    tok_text = " ".join(_basic_tokenize(orig_text, do_lower_case))
    start = tok_text.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1

    orig_chars, orig_positions = _without_spaces(orig_text)
    tok_chars, tok_positions = _without_spaces(tok_text)
    if len(orig_chars) != len(tok_chars):
        return orig_text

    # Positions in tok_text -> the same characters' positions in orig_text.
    tok_to_orig = {
        tok_position: orig_positions[i] for i, tok_position in enumerate(tok_positions)
    }
    if start not in tok_to_orig or end not in tok_to_orig:
        return orig_text
    return orig_text[tok_to_orig[start] : tok_to_orig[end] + 1]
