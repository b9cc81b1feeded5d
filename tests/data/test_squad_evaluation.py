"""The SQuAD v1.1 / v2.0 metrics against an independent recomputation.

The recomputation below follows the official scripts' definitions but is
written differently (NumPy arrays, `str.translate`, cumulative sums), so
that a slip in either shows up as a difference.
"""

import collections
import json
import pathlib
import random
import re
import string

import numpy as np
import pytest

from bert_keras.data.squad.evaluation import (
    evaluate_files,
    evaluate_v1,
    evaluate_v2,
    format_evaluation,
)
from bert_keras.errors import DataError

REFERENCE = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference"
SEEDS = range(40)
TOLERANCE = 1e-12

_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalized_tokens(text):
    text = text.lower().translate(_DROP_PUNCTUATION)
    return re.sub(r"\b(?:a|an|the)\b", " ", text).split()


def token_f1(gold_tokens, predicted_tokens):
    overlap = sum((collections.Counter(gold_tokens) & collections.Counter(predicted_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = np.float64(overlap) / len(predicted_tokens)
    recall = np.float64(overlap) / len(gold_tokens)
    return float(2 * precision * recall / (precision + recall))


def questions(dataset):
    return [qa for article in dataset for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


def expected_v1(dataset, predictions):
    exact = np.zeros(len(questions(dataset)))
    f1 = np.zeros_like(exact)
    for i, qa in enumerate(questions(dataset)):
        if qa["id"] in predictions:
            predicted = normalized_tokens(predictions[qa["id"]])
            golds = [normalized_tokens(a["text"]) for a in qa["answers"]]
            exact[i] = any(predicted == gold for gold in golds)
            f1[i] = max(token_f1(gold, predicted) for gold in golds)
    return {"exact_match": 100 * exact.mean(), "f1": 100 * f1.mean()}


def expected_v2(dataset, predictions, na_probs=None, na_prob_thresh=1.0):
    # One row per question id (the last occurrence's answers win, as in a dict).
    by_id = {qa["id"]: qa for qa in questions(dataset)}
    ids = [qid for qid in by_id if qid in predictions]
    has_answer = np.array([bool(by_id[qid]["answers"]) for qid in ids])
    exact = np.zeros(len(ids))
    f1 = np.zeros(len(ids))
    for i, qid in enumerate(ids):
        predicted = normalized_tokens(predictions[qid])
        golds = [normalized_tokens(a["text"]) for a in by_id[qid]["answers"]]
        golds = [gold for gold in golds if gold] or [[]]
        exact[i] = any(predicted == gold for gold in golds)
        f1[i] = max(
            token_f1(gold, predicted) if gold and predicted else float(gold == predicted)
            for gold in golds
        )
    probabilities = np.array([(na_probs or {}).get(qid, 0.0) for qid in ids])
    says_no_answer = probabilities > na_prob_thresh
    exact_thresh = np.where(says_no_answer, ~has_answer, exact)
    f1_thresh = np.where(says_no_answer, ~has_answer, f1)
    result = {"exact": 100 * exact_thresh.mean(), "f1": 100 * f1_thresh.mean(), "total": len(ids)}
    for prefix, rows in (("HasAns", has_answer), ("NoAns", ~has_answer)):
        if rows.any():
            result[f"{prefix}_exact"] = 100 * exact_thresh[rows].mean()
            result[f"{prefix}_f1"] = 100 * f1_thresh[rows].mean()
            result[f"{prefix}_total"] = int(rows.sum())
    if na_probs is not None:
        # Answer the questions in order of rising probability (stable over
        # the file's order); the best prefix, first reached, wins.
        keys = [qid for qid in na_probs if qid in predictions and qid in by_id]
        order = np.argsort([na_probs[qid] for qid in keys], kind="stable")
        row = {qid: i for i, qid in enumerate(ids)}
        for name, scores in (("exact", exact), ("f1", f1)):
            gains = []
            for qid in (keys[i] for i in order):
                i = row[qid]
                gains.append(scores[i] if has_answer[i] else -float(bool(predictions[qid])))
            start = float((~has_answer).sum())
            # Accumulated from the start value, in the official order.
            running = np.cumsum([start] + gains)[1:]
            best = int(np.argmax(running)) if gains else 0
            if gains and running[best] > start:
                result[f"best_{name}"] = 100 * running[best] / len(ids)
                result[f"best_{name}_thresh"] = na_probs[keys[order[best]]]
            else:
                result[f"best_{name}"] = 100 * start / len(ids)
                result[f"best_{name}_thresh"] = 0.0
    return result


WORDS = "denver broncos the a an carolina panthers stadium levi's 24–10 santa clara café über 2016 in at of".split()


def random_text(rng, max_words=5):
    words = rng.choices(WORDS, k=rng.randint(1, max_words))
    text = " ".join(words)
    if rng.random() < 0.3:
        text = text.title()
    if rng.random() < 0.3:
        text = rng.choice(["(", '"', "", " "]) + text + rng.choice([".", ",", "!", "  ", ")"])
    return text


def random_set(seed, unanswerable=True):
    """A dataset and predictions with every kind of case, reproducibly."""
    rng = random.Random(seed)
    dataset = []
    predictions = {}
    na_probs = {}
    for a in range(rng.randint(1, 3)):
        paragraphs = []
        for p in range(rng.randint(1, 3)):
            qas = []
            for q in range(rng.randint(1, 12)):
                qid = f"{seed}_{a}_{p}_{q}"
                if unanswerable and rng.random() < 0.35:
                    answers = []
                else:
                    answers = [{"text": random_text(rng), "answer_start": 0}]
                    for _ in range(rng.randint(0, 3)):
                        answers.append(
                            rng.choice(
                                [answers[0], {"text": random_text(rng)}, {"text": rng.choice(["The", "!", "a ."])}]
                            )
                        )
                qas.append({"id": qid, "question": "?", "answers": answers})
                kind = rng.random()
                gold = answers[0]["text"] if answers else ""
                if kind < 0.1:
                    continue  # no prediction
                elif kind < 0.3:
                    predictions[qid] = gold
                elif kind < 0.45:
                    predictions[qid] = ""
                elif kind < 0.6:
                    predictions[qid] = " ".join(gold.split()[: rng.randint(0, 3)] + [rng.choice(WORDS)])
                elif kind < 0.65:
                    predictions[qid] = rng.choice(["the", "...", "A!"])
                else:
                    predictions[qid] = random_text(rng)
                # Rounded, so that many probabilities tie.
                na_probs[qid] = round(rng.random(), 1)
            paragraphs.append({"context": "", "qas": qas})
        dataset.append({"title": f"t{a}", "paragraphs": paragraphs})
    predictions["not_in_the_dataset"] = "Denver"
    na_probs["not_in_the_dataset"] = 0.3
    ids = list(na_probs)
    rng.shuffle(ids)
    return dataset, predictions, {qid: na_probs[qid] for qid in ids}


def assert_same(ours, expected):
    assert list(ours) == list(expected)
    for key, value in expected.items():
        if key.endswith("total"):
            assert ours[key] == value and isinstance(ours[key], int), key
        else:
            assert ours[key] == pytest.approx(value, abs=TOLERANCE, rel=0), key


@pytest.mark.parametrize("seed", SEEDS)
def test_v1_matches_independent_recomputation(seed, capsys):
    dataset, predictions, _ = random_set(seed, unanswerable=False)
    assert_same(evaluate_v1(dataset, predictions), expected_v1(dataset, predictions))
    missing = [qa["id"] for qa in questions(dataset) if qa["id"] not in predictions]
    assert capsys.readouterr().err.splitlines() == [
        f"Unanswered question {qid} will receive score 0." for qid in missing
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_v2_matches_independent_recomputation(seed, capsys):
    dataset, predictions, na_probs = random_set(seed)
    assert_same(evaluate_v2(dataset, predictions), expected_v2(dataset, predictions))
    threshold = [1.0, 0.5, 0.0][seed % 3]
    assert_same(
        evaluate_v2(dataset, predictions, na_probs, threshold),
        expected_v2(dataset, predictions, na_probs, threshold),
    )
    missing = [qa["id"] for qa in questions(dataset) if qa["id"] not in predictions]
    assert capsys.readouterr().err.splitlines() == [f"Missing prediction for {qid}" for qid in missing] * 2


def test_v1_hand_cases():
    data = [{"paragraphs": [{"qas": [
        {"id": "q1", "answers": [{"text": "The Broncos"}, {"text": "Denver Broncos"}]},
        {"id": "q2", "answers": [{"text": "a"}]},
        {"id": "q3", "answers": [{"text": "Levi's Stadium"}]},
    ]}]}]  # fmt: skip
    # q1: exact after normalization; q2: both normalize to "" (exact 1,
    # F1 0 in v1.1); q3: F1 2/3.
    result = evaluate_v1({"version": "1.1", "data": data}, {"q1": "broncos!", "q2": "an", "q3": "stadium"})
    assert result == {"exact_match": 100.0 * 2 / 3, "f1": 100.0 * (1 + 0 + 2 / 3) / 3}


def test_v2_hand_cases():
    data = [{"paragraphs": [{"qas": [
        {"id": "q1", "answers": [{"text": "Denver Broncos"}]},
        {"id": "q2", "answers": []},
        {"id": "q3", "answers": []},
        # Gold answers that normalize to nothing count as no answer ("").
        {"id": "q4", "answers": [{"text": "The"}]},
    ]}]}]  # fmt: skip
    predictions = {"q1": "Broncos", "q2": "", "q3": "Denver", "q4": ""}
    result = evaluate_v2(data, predictions)
    assert result == {
        "exact": 50.0, "f1": 100.0 * (2 / 3 + 1 + 0 + 1) / 4, "total": 4,
        "HasAns_exact": 50.0, "HasAns_f1": 100.0 * (2 / 3 + 1) / 2, "HasAns_total": 2,
        "NoAns_exact": 50.0, "NoAns_f1": 50.0, "NoAns_total": 2,
    }  # fmt: skip
    na_probs = {"q3": 0.9, "q1": 0.1, "q2": 0.9, "q4": 0.4}
    result = evaluate_v2(data, predictions, na_probs, na_prob_thresh=0.5)
    # Above 0.5, q2 and q3 count as answered "": both right.
    assert result["exact"] == 75.0 and result["NoAns_exact"] == 100.0
    # Rising probability: q1 (+2/3 F1), q4 (+1), q3 (-1), q2 (0), from 2.
    assert result["best_f1"] == 100.0 * (2 + 2 / 3 + 1) / 4 and result["best_f1_thresh"] == 0.4
    assert result["best_exact"] == 100.0 * 3 / 4 and result["best_exact_thresh"] == 0.4


def test_missing_v2_predictions_are_left_out(capsys):
    data = [{"paragraphs": [{"qas": [
        {"id": "q1", "answers": [{"text": "x"}]},
        {"id": "q2", "answers": []},
    ]}]}]  # fmt: skip
    result = evaluate_v2(data, {"q1": "x"})
    assert result == {"exact": 100.0, "f1": 100.0, "total": 1, "HasAns_exact": 100.0, "HasAns_f1": 100.0, "HasAns_total": 1}
    assert capsys.readouterr().err == "Missing prediction for q2\n"


def test_bad_inputs_raise_clear_errors():
    data = [{"paragraphs": [{"qas": [{"id": "q1", "answers": []}]}]}]
    with pytest.raises(DataError, match="no gold answers"):
        evaluate_v1(data, {"q1": "x"})
    with pytest.raises(DataError, match="no questions"):
        evaluate_v1([], {})
    with pytest.raises(DataError, match="No question of the dataset has a prediction"):
        evaluate_v2(data, {})
    with pytest.raises(DataError, match="must be a string"):
        evaluate_v2(data, {"q1": None})
    with pytest.raises(DataError, match="No no-answer probability"):
        evaluate_v2(data, {"q1": ""}, na_probs={"q9": 0.5})
    with pytest.raises(DataError, match="must be a number"):
        evaluate_v2(data, {"q1": ""}, na_probs={"q1": "high"})
    with pytest.raises(DataError, match="'paragraphs'"):
        evaluate_v2([{"title": "x"}], {})
    with pytest.raises(DataError, match="'data'"):
        evaluate_v1({"version": "1.1"}, {})


def write_json(path, content):
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def test_evaluate_files_picks_the_version(tmp_path):
    answered = {"id": "q1", "answers": [{"text": "Denver"}]}
    impossible = {"id": "q2", "answers": [], "is_impossible": True}
    predictions = write_json(tmp_path / "predictions.json", {"q1": "Denver", "q2": ""})
    odds = write_json(tmp_path / "null_odds.json", {"q1": -3.0, "q2": 2.5})

    def dataset(version, *qas):
        return write_json(tmp_path / "data.json", {"version": version, "data": [{"paragraphs": [{"qas": list(qas)}]}]})

    assert evaluate_files(dataset("1.1", answered), predictions) == {"exact_match": 100.0, "f1": 100.0}
    assert list(evaluate_files(dataset("v2.0", answered), predictions)) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total"]
    # Unanswerable questions make it 2.0 whatever the label says.
    assert evaluate_files(dataset("1.1", answered, impossible), predictions)["total"] == 2
    result = evaluate_files(dataset("1.1", answered), predictions, na_prob_path=odds)
    assert result["best_exact_thresh"] == -3.0


def test_evaluate_files_errors(tmp_path):
    good = write_json(tmp_path / "data.json", {"version": "1.1", "data": []})
    predictions = write_json(tmp_path / "predictions.json", {})
    with pytest.raises(DataError, match="No dataset file"):
        evaluate_files(tmp_path / "missing.json", predictions)
    with pytest.raises(DataError, match="No predictions file"):
        evaluate_files(good, tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        evaluate_files(tmp_path / "broken.json", predictions)
    with pytest.raises(DataError, match="not a SQuAD dataset"):
        evaluate_files(write_json(tmp_path / "list.json", []), predictions)
    with pytest.raises(DataError, match="JSON object from question id"):
        evaluate_files(good, write_json(tmp_path / "list.json", ["a"]))


@pytest.mark.parametrize("setting", ["v1_uncased", "v1_cased", "v2_uncased", "v2_uncased_thresh"])
def test_reference_predictions(setting):
    folder = REFERENCE / "squad" / setting
    if not folder.is_dir():
        pytest.skip(f"SQuAD reference data not found at {folder}")
    dataset = json.loads((folder / "input.json").read_text(encoding="utf-8"))
    predictions = json.loads((folder / "predictions.json").read_text(encoding="utf-8"))
    if setting.startswith("v1"):
        assert_same(evaluate_files(folder / "input.json", folder / "predictions.json"), expected_v1(dataset["data"], predictions))
        return
    null_odds = json.loads((folder / "null_odds.json").read_text(encoding="utf-8"))
    result = evaluate_files(folder / "input.json", folder / "predictions.json", folder / "null_odds.json")
    assert_same(result, expected_v2(dataset["data"], predictions, null_odds))


def test_format_evaluation_prints_as_the_official_scripts():
    assert format_evaluation({"exact_match": 1.0, "f1": 2.0}) == '{"exact_match": 1.0, "f1": 2.0}'
    assert format_evaluation({"exact": 1.0, "f1": 2.0, "total": 3}) == '{\n  "exact": 1.0,\n  "f1": 2.0,\n  "total": 3\n}'

