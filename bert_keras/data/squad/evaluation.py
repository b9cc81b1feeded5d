"""The official SQuAD v1.1 and v2.0 evaluations, float for float.

`evaluate_v1` returns what the official `evaluate-v1.1.py` prints
(`exact_match`, `f1`) and `evaluate_v2` what `evaluate-v2.0.py` prints
(`exact`, `f1`, `total`, the `HasAns_` and `NoAns_` breakdowns and, given
no-answer probabilities, the best thresholds). Answers are normalized as
the scripts do (lower case, no punctuation, no articles a/an/the, single
spaces), scores are summed in the same order and scaled by `100.0` the same
way, so the numbers are the same floats, not merely close ones.

The two scripts differ in ways kept here: v1.1 scores a missing
prediction 0 and counts it in the total, while v2.0 leaves it out; v2.0
treats an empty answer as correct for a question without answers (its F1
is 1 when gold and prediction are both empty).

Where the official scripts crash, this module decides:

- v2.0 with missing predictions crashes building its HasAns/NoAns
  breakdown. Here questions without a prediction are left out of every
  number, as the official overall `exact`/`f1`/`total` already do, and
  each is reported on stderr ("Missing prediction for ...", which the
  official prints to stdout, ahead of its JSON).
- Empty datasets, v1.1 questions without gold answers, non-string
  predictions and no-answer probabilities missing for a scored question
  raise `bert_keras.errors.DataError`.

`evaluate_files` reads the dataset and prediction files and picks the
version; `format_evaluation` gives the text the official script prints.

Example:
```python
from bert_keras.data.squad.evaluation import evaluate_files, format_evaluation

result = evaluate_files("dev-v2.0.json", "predictions.json",
                        na_prob_path="null_odds.json")
print(format_evaluation(result))
```
"""

from __future__ import annotations

import collections
import json
import os
import re
import string
import sys

from bert_keras.errors import DataError

__all__ = [
    "evaluate_v1",
    "evaluate_v2",
    "evaluate_files",
    "format_evaluation",
    "normalize_answer",
]

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(text):
    """Lower-cases, drops ASCII punctuation and articles, single-spaces.

    The answer normalization of both official scripts.

    Example:
    >>> normalize_answer("The  Denver Broncos!")
    'denver broncos'
    """
    text = text.lower()
    text = "".join(char for char in text if char not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _data(dataset):
    """The list of articles, from it or from the whole SQuAD JSON."""
    if isinstance(dataset, dict):
        if "data" not in dataset:
            raise DataError("The SQuAD JSON has no 'data' list of articles.")
        dataset = dataset["data"]
    if not isinstance(dataset, list):
        raise DataError(f"The SQuAD data must be a list of articles, got {type(dataset).__name__}.")
    return dataset


def _questions(dataset):
    """Yields every `qa` dict of the dataset, in file order."""
    for article in _data(dataset):
        try:
            paragraphs = article["paragraphs"]
        except (KeyError, TypeError):
            raise DataError("Every SQuAD article needs a 'paragraphs' list.") from None
        for paragraph in paragraphs:
            try:
                questions = paragraph["qas"]
            except (KeyError, TypeError):
                raise DataError("Every SQuAD paragraph needs a 'qas' list.") from None
            for qa in questions:
                if not isinstance(qa, dict) or "id" not in qa or "answers" not in qa:
                    raise DataError(
                        f"Every SQuAD question needs an 'id' and 'answers', got {qa!r:.80}."
                    )
                yield qa


def _answer_texts(qa):
    try:
        return [answer["text"] for answer in qa["answers"]]
    except (KeyError, TypeError):
        raise DataError(f"Question {qa['id']!r}: every answer needs a 'text'.") from None


def _prediction(predictions, qid):
    prediction = predictions[qid]
    if not isinstance(prediction, str):
        raise DataError(
            f"The prediction for {qid!r} must be a string, got {type(prediction).__name__}."
        )
    return prediction


def _f1_v1(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def evaluate_v1(dataset, predictions):
    """The official SQuAD v1.1 evaluation (`evaluate-v1.1.py`).

    Each question scores the best exact match and the best token F1 over
    its gold answers. A question without a prediction scores 0 and is
    reported on stderr ("Unanswered question ... will receive score 0."),
    as the official script does. Predictions for unknown ids are ignored.

    Args:
        dataset: the SQuAD JSON's `data` list, or the whole JSON dict.
        predictions: dict `question id -> answer text`.

    Returns:
        `{"exact_match": ..., "f1": ...}`, percentages.

    Raises:
        DataError: no questions, a question without gold answers (a SQuAD
            2.0 question: use `evaluate_v2`), a malformed dataset, or a
            prediction that is not a string.

    Example:
    >>> data = [{"paragraphs": [{"qas": [
    ...     {"id": "q1", "answers": [{"text": "Denver Broncos"}]},
    ...     {"id": "q2", "answers": [{"text": "Levi's Stadium"}, {"text": "Levi's"}]}]}]}]
    >>> evaluate_v1(data, {"q1": "the Denver Broncos", "q2": "Stadium"})
    {'exact_match': 50.0, 'f1': 83.33333333333333}
    """
    f1 = exact_match = total = 0
    for qa in _questions(dataset):
        total += 1
        qid = qa["id"]
        if qid not in predictions:
            print(f"Unanswered question {qid} will receive score 0.", file=sys.stderr)
            continue
        ground_truths = _answer_texts(qa)
        if not ground_truths:
            raise DataError(
                f"Question {qid!r} has no gold answers, which SQuAD v1.1 does "
                "not allow; evaluate SQuAD 2.0 data with evaluate_v2."
            )
        prediction = _prediction(predictions, qid)
        normalized = normalize_answer(prediction)
        exact_match += max(normalized == normalize_answer(truth) for truth in ground_truths)
        f1 += max(_f1_v1(prediction, truth) for truth in ground_truths)
    if total == 0:
        raise DataError("The dataset has no questions to evaluate.")
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def _tokens_v2(text):
    if not text:
        return []
    return normalize_answer(text).split()


def _exact_v2(gold, prediction):
    return int(normalize_answer(gold) == normalize_answer(prediction))


def _f1_v2(gold, prediction):
    gold_tokens = _tokens_v2(gold)
    prediction_tokens = _tokens_v2(prediction)
    common = collections.Counter(gold_tokens) & collections.Counter(prediction_tokens)
    num_same = sum(common.values())
    if len(gold_tokens) == 0 or len(prediction_tokens) == 0:
        # A no-answer on either side: right only if both are no-answers.
        return int(gold_tokens == prediction_tokens)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(gold_tokens)
    return (2 * precision * recall) / (precision + recall)


def _eval_dict(exact_scores, f1_scores, qids):
    total = len(qids)
    return {
        "exact": 100.0 * sum(exact_scores[qid] for qid in qids) / total,
        "f1": 100.0 * sum(f1_scores[qid] for qid in qids) / total,
        "total": total,
    }


def _best_threshold(predictions, scores, na_probs, has_answer):
    """The official `find_best_thresh`: the best score over thresholds.

    Starting from "answer nothing" (every no-answer question right), the
    questions are answered in order of rising no-answer probability, and
    the best running score and the probability where it was reached win.
    """
    num_no_answer = sum(1 for qid in scores if not has_answer[qid])
    current = best = num_no_answer
    best_threshold = 0.0
    # Stable sort over the file's order, as the official script: ties keep
    # their order, which decides where a tie group's running score peaks.
    for qid in sorted(na_probs, key=lambda key: na_probs[key]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            diff = scores[qid]
        elif predictions[qid]:
            diff = -1
        else:
            diff = 0
        current += diff
        if current > best:
            best = current
            best_threshold = na_probs[qid]
    return 100.0 * best / len(scores), best_threshold


def evaluate_v2(dataset, predictions, na_probs=None, na_prob_thresh=1.0):
    """The official SQuAD v2.0 evaluation (`evaluate-v2.0.py`).

    A question has an answer when its `answers` list is not empty. Its gold
    answers are those that normalize to something, or `[""]` if none does,
    so that the empty prediction is right for unanswerable questions. With
    `na_probs`, a question whose no-answer probability exceeds
    `na_prob_thresh` counts as answered "", and the best thresholds over
    all probabilities are added.

    A question without a prediction is reported on stderr and left out of
    every number (the official script leaves it out of `exact`, `f1` and
    `total` and then crashes on its breakdown). Predictions for unknown ids
    are ignored.

    Args:
        dataset: the SQuAD JSON's `data` list, or the whole JSON dict.
        predictions: dict `question id -> answer text` ("" for no answer).
        na_probs: optional dict `question id -> no-answer probability` (or
            any score where higher means "no answer", such as the null odds
            of `compute_predictions`); needs every predicted question.
        na_prob_thresh: see above; the official default is 1.0.

    Returns:
        A dict with, in this order, `exact`, `f1`, `total`, then
        `HasAns_exact`, `HasAns_f1`, `HasAns_total` if some scored question
        has an answer, `NoAns_exact`, `NoAns_f1`, `NoAns_total` if some has
        none, and with `na_probs` `best_exact`, `best_exact_thresh`,
        `best_f1`, `best_f1_thresh`. Scores are percentages.

    Raises:
        DataError: no question with a prediction, a malformed dataset, a
            prediction that is not a string, or `na_probs` lacking a
            predicted question.

    Example:
    >>> data = [{"paragraphs": [{"qas": [
    ...     {"id": "q1", "answers": [{"text": "Denver Broncos"}]},
    ...     {"id": "q2", "answers": []}]}]}]
    >>> result = evaluate_v2(data, {"q1": "Broncos", "q2": ""})
    >>> result["exact"], result["f1"], result["total"]
    (50.0, 83.33333333333333, 2)
    >>> result["HasAns_f1"], result["NoAns_f1"]
    (66.66666666666666, 100.0)
    >>> evaluate_v2(data, {"q1": "Broncos", "q2": "Denver"},
    ...             na_probs={"q1": 0.2, "q2": 0.7})["best_f1_thresh"]
    0.2
    """
    has_answer = {}
    exact_raw = {}
    f1_raw = {}
    for qa in _questions(dataset):
        qid = qa["id"]
        has_answer[qid] = bool(qa["answers"])
        gold_answers = [text for text in _answer_texts(qa) if normalize_answer(text)]
        if not gold_answers:
            gold_answers = [""]
        if qid not in predictions:
            print(f"Missing prediction for {qid}", file=sys.stderr)
            continue
        prediction = _prediction(predictions, qid)
        exact_raw[qid] = max(_exact_v2(gold, prediction) for gold in gold_answers)
        f1_raw[qid] = max(_f1_v2(gold, prediction) for gold in gold_answers)
    if not exact_raw:
        raise DataError(
            "No question of the dataset has a prediction."
            if has_answer
            else "The dataset has no questions to evaluate."
        )

    given_na_probs = na_probs is not None
    if not given_na_probs:
        na_probs = {qid: 0.0 for qid in predictions}
    for qid, probability in na_probs.items():
        if isinstance(probability, bool) or not isinstance(probability, (int, float)):
            raise DataError(
                f"The no-answer probability of {qid!r} must be a number, got {probability!r}."
            )
    missing = [qid for qid in exact_raw if qid not in na_probs]
    if missing:
        raise DataError(
            f"No no-answer probability for {len(missing)} predicted question(s), "
            f"such as {missing[0]!r}."
        )

    def thresholded(scores):
        return {
            qid: float(not has_answer[qid]) if na_probs[qid] > na_prob_thresh else score
            for qid, score in scores.items()
        }

    exact_thresh = thresholded(exact_raw)
    f1_thresh = thresholded(f1_raw)
    result = _eval_dict(exact_thresh, f1_thresh, list(exact_thresh))
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        qids = [qid for qid, value in has_answer.items() if value is wanted and qid in exact_raw]
        if qids:
            for key, value in _eval_dict(exact_thresh, f1_thresh, qids).items():
                result[f"{prefix}_{key}"] = value
    if given_na_probs:
        best_exact, exact_threshold = _best_threshold(predictions, exact_raw, na_probs, has_answer)
        best_f1, f1_threshold = _best_threshold(predictions, f1_raw, na_probs, has_answer)
        result["best_exact"] = best_exact
        result["best_exact_thresh"] = exact_threshold
        result["best_f1"] = best_f1
        result["best_f1_thresh"] = f1_threshold
    return result


def _read_json(path, what):
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        raise DataError(f"No {what} file at {path}.") from None
    except IsADirectoryError:
        raise DataError(f"The {what} path {path} is a folder, not a JSON file.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(f"The {what} file {path} is not valid JSON: {error}.") from None


def _is_v2(dataset_json):
    version = str(dataset_json.get("version", "")).strip().lower().lstrip("v")
    if version.split(".")[0] == "2":
        return True
    # Unanswerable questions only exist in SQuAD 2.0, whatever the label.
    return any(qa.get("is_impossible") or not qa["answers"] for qa in _questions(dataset_json))


def _string_map(content, what, path, values):
    if not isinstance(content, dict):
        raise DataError(
            f"The {what} file {path} must hold a JSON object from question id to "
            f"{values}, got {type(content).__name__}."
        )
    return content


def evaluate_files(dataset_path, predictions_path, na_prob_path=None, na_prob_thresh=1.0):
    """Evaluates a predictions file against a SQuAD dataset file.

    SQuAD 2.0 (`evaluate_v2`) is chosen when the dataset's `version` is
    2.x ("v2.0" in the official files), when it has unanswerable questions
    (`is_impossible` or no answers), or when `na_prob_path` is given;
    otherwise SQuAD 1.1 (`evaluate_v1`).

    Args:
        dataset_path: the SQuAD JSON (`dev-v1.1.json`, `dev-v2.0.json`).
        predictions_path: JSON object `question id -> answer`, such as
            `predictions.json` from `write_predictions`.
        na_prob_path: optional JSON object `question id -> no-answer
            probability`, such as `null_odds.json` (SQuAD 2.0 only).
        na_prob_thresh: as for `evaluate_v2`.

    Returns:
        The dict of `evaluate_v1` or `evaluate_v2`.

    Raises:
        DataError: a missing or unreadable file, JSON that is not a SQuAD
            dataset or an object of predictions, or any error of the
            evaluation itself.

    Example:
    ```python
    result = evaluate_files("dev-v1.1.json", "output/predictions.json")
    print(result["exact_match"], result["f1"])
    ```
    """
    dataset_json = _read_json(os.fspath(dataset_path), "dataset")
    if not isinstance(dataset_json, dict) or "data" not in dataset_json:
        raise DataError(
            f"{dataset_path} is not a SQuAD dataset: expected a JSON object with "
            "'version' and a 'data' list of articles."
        )
    predictions = _string_map(
        _read_json(os.fspath(predictions_path), "predictions"),
        "predictions",
        predictions_path,
        "answer text",
    )
    if na_prob_path is not None:
        na_probs = _string_map(
            _read_json(os.fspath(na_prob_path), "no-answer probability"),
            "no-answer probability",
            na_prob_path,
            "probability",
        )
        return evaluate_v2(dataset_json, predictions, na_probs, na_prob_thresh)
    if _is_v2(dataset_json):
        return evaluate_v2(dataset_json, predictions, na_prob_thresh=na_prob_thresh)
    return evaluate_v1(dataset_json, predictions)


def format_evaluation(result):
    """The text the official script prints for `result`.

    `evaluate-v1.1.py` prints `json.dumps(result)`; `evaluate-v2.0.py`
    prints `json.dumps(result, indent=2)`.

    Example:
    >>> print(format_evaluation({"exact_match": 50.0, "f1": 75.0}))
    {"exact_match": 50.0, "f1": 75.0}
    """
    if "exact_match" in result:
        return json.dumps(result)
    return json.dumps(result, indent=2)
