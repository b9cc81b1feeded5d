"""SQuAD post-processing against the original `run_squad.py` outputs."""

import json
import math
import pathlib

import numpy as np
import pytest

from bert_keras.data.squad import postprocessing
from bert_keras.data.squad.postprocessing import (
    NO_SPAN_NULL_ODDS,
    RawResult,
    compute_predictions,
    get_final_text,
    write_predictions,
)
from bert_keras.errors import DataError

REFERENCE = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference"
SQUAD = REFERENCE / "squad"
SETTINGS = ["v1_uncased", "v1_cased", "v2_uncased", "v2_uncased_thresh"]
TOLERANCE = 1e-6


def read_jsonl(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def read_json(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def reference_inputs(setting):
    """(settings, examples, features with int map keys, results) of a folder."""
    folder = SQUAD / setting
    if not folder.is_dir():
        pytest.skip(f"SQuAD reference data not found at {folder}")
    settings = read_json(folder / "settings.json")
    examples = read_jsonl(folder / "predict_examples.jsonl")
    features = read_jsonl(folder / "predict_features.jsonl")
    for feature in features:
        for key in ("token_to_orig_map", "token_is_max_context"):
            feature[key] = {int(position): value for position, value in feature[key].items()}
    results = [
        RawResult(row["unique_id"], row["start_logits"], row["end_logits"])
        for row in read_jsonl(folder / "logits.jsonl")
    ]
    return settings, examples, features, results


def run_reference(setting, features=None, results=None):
    settings, examples, reference_features, reference_results = reference_inputs(setting)
    return compute_predictions(
        examples,
        reference_features if features is None else features,
        reference_results if results is None else results,
        n_best_size=settings["n_best_size"],
        max_answer_length=settings["max_answer_length"],
        do_lower_case=settings["do_lower_case"],
        version_2_with_negative=settings["version"].startswith("2"),
        null_score_diff_threshold=settings["null_score_diff_threshold"],
    )


def max_nbest_difference(ours, theirs):
    """Asserts the same texts in the same order; returns the largest float gap."""
    assert list(ours) == list(theirs)
    largest = 0.0
    for qas_id, entries in theirs.items():
        assert [e["text"] for e in ours[qas_id]] == [e["text"] for e in entries], qas_id
        for mine, original in zip(ours[qas_id], entries):
            assert list(mine) == ["text", "probability", "start_logit", "end_logit"]
            for key in ("probability", "start_logit", "end_logit"):
                largest = max(largest, abs(mine[key] - original[key]))
    return largest


@pytest.mark.parametrize("setting", SETTINGS)
def test_matches_the_original_outputs(setting):
    predictions, nbest, null_odds = run_reference(setting)
    folder = SQUAD / setting
    expected = read_json(folder / "predictions.json")
    assert list(predictions) == list(expected)
    assert predictions == expected
    assert max_nbest_difference(nbest, read_json(folder / "nbest_predictions.json")) <= TOLERANCE
    if setting.startswith("v2"):
        expected_odds = read_json(folder / "null_odds.json")
        assert list(null_odds) == list(expected_odds)
        assert max(abs(null_odds[k] - expected_odds[k]) for k in expected_odds) <= TOLERANCE
    else:
        assert null_odds is None


@pytest.mark.parametrize("setting", ["v1_cased", "v2_uncased_thresh"])
def test_written_files_round_trip(setting, tmp_path):
    predictions, nbest, null_odds = run_reference(setting)
    paths = write_predictions(tmp_path / "out", predictions, nbest, null_odds)
    names = ["predictions.json", "nbest_predictions.json"]
    names += ["null_odds.json"] if null_odds is not None else []
    assert [pathlib.Path(p).name for p in paths] == names
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)  # no leftovers
    assert read_json(tmp_path / "out" / "predictions.json") == predictions
    assert read_json(tmp_path / "out" / "nbest_predictions.json") == nbest
    if null_odds is not None:
        assert read_json(tmp_path / "out" / "null_odds.json") == null_odds
    # Text only, so these bytes do not depend on the platform's floats.
    original = (SQUAD / setting / "predictions.json").read_text(encoding="utf-8")
    assert (tmp_path / "out" / "predictions.json").read_text(encoding="utf-8") == original


def test_write_predictions_replaces_files_and_skips_null_odds_for_v1(tmp_path):
    (tmp_path / "predictions.json").write_text("old")
    write_predictions(tmp_path, {"q": "a"}, {"q": []})
    assert (tmp_path / "predictions.json").read_text() == '{\n    "q": "a"\n}\n'
    assert not (tmp_path / "null_odds.json").exists()


def test_lazy_features_string_keys_dict_results_and_float32():
    settings, examples, features, results = reference_inputs("v2_uncased")
    expected = run_reference("v2_uncased")
    # Features as read back from JSON (string keys), from a generator;
    # results as dicts holding NumPy arrays.
    as_json = (json.loads(json.dumps(feature)) for feature in features)
    as_dicts = [
        {"unique_id": r.unique_id, "start_logits": np.array(r.start_logits), "end_logits": r.end_logits}
        for r in results
    ]
    assert run_reference("v2_uncased", features=as_json, results=as_dicts) == expected

    # float32 logits give what the original's float(x) of each gives.
    float32 = [
        RawResult(r.unique_id, np.float32(r.start_logits), np.float32(r.end_logits)) for r in results
    ]
    widened = [
        RawResult(r.unique_id, [float(x) for x in r.start_logits], [float(x) for x in r.end_logits])
        for r in float32
    ]
    assert run_reference("v2_uncased", results=float32) == run_reference("v2_uncased", results=widened)


# Small hand-made inputs: one example, one feature of 11 tokens.
TOKENS = ["[CLS]", "who", "?", "[SEP]", "steve", "smith", "'", "s", "dog", ".", "[SEP]"]
EXAMPLE = {"qas_id": "q1", "doc_tokens": ["Steve", "Smith's", "dog."]}


def feature(unique_id=7, example_index=0):
    return {
        "unique_id": unique_id,
        "example_index": example_index,
        "tokens": TOKENS,
        "token_to_orig_map": {4: 0, 5: 1, 6: 1, 7: 1, 8: 2, 9: 2},
        "token_is_max_context": {i: True for i in range(4, 10)},
    }


def logits(peaks, size=11):
    values = [0.0] * size
    for position, value in peaks.items():
        values[position] = value
    return values


def test_null_only_nbest_answers_empty_with_largest_finite_odds():
    # Every high start logit lies in the question: no span is valid.
    start = logits({0: 1.0, 1: 9.0, 2: 8.0})
    end = logits({0: 0.5, 1: 9.0, 2: 8.0})
    for threshold in (0.0, -1e9, math.inf):
        predictions, nbest, null_odds = compute_predictions(
            [EXAMPLE], [feature()], [RawResult(7, start, end)], n_best_size=2,
            version_2_with_negative=True, null_score_diff_threshold=threshold,
        )
        assert predictions == {"q1": ""}
        assert nbest == {"q1": [{"text": "", "probability": 1.0, "start_logit": 1.0, "end_logit": 0.5}]}
        assert null_odds == {"q1": NO_SPAN_NULL_ODDS}
    # Strict JSON can hold it, and it sorts above any real odds.
    assert json.loads(json.dumps(null_odds, allow_nan=False)) == null_odds
    assert NO_SPAN_NULL_ODDS > 1e300 and math.isfinite(NO_SPAN_NULL_ODDS)


def test_v1_without_valid_span_gives_the_original_placeholder():
    start = logits({1: 9.0})
    predictions, nbest, null_odds = compute_predictions(
        [EXAMPLE], [feature()], [RawResult(7, start, start)], n_best_size=1
    )
    assert predictions == {"q1": "empty"}
    assert nbest["q1"] == [{"text": "empty", "probability": 1.0, "start_logit": 0.0, "end_logit": 0.0}]
    assert null_odds is None


def test_examples_without_features():
    examples = [dict(EXAMPLE, qas_id=f"q{i}") for i in range(3)]
    features = [feature(7, 0), feature(8, 2)]
    start = logits({4: 5.0})
    end = logits({5: 5.0})
    results = [RawResult(7, start, end), RawResult(8, start, end)]
    predictions, nbest, _ = compute_predictions(examples, features, results, n_best_size=2)
    assert predictions == {"q0": "Steve Smith", "q1": "empty", "q2": "Steve Smith"}
    predictions, nbest, null_odds = compute_predictions(
        examples, features, results, n_best_size=2, version_2_with_negative=True
    )
    assert predictions == {"q0": "Steve Smith", "q1": "", "q2": "Steve Smith"}
    assert nbest["q1"] == [{"text": "", "probability": 1.0, "start_logit": 0.0, "end_logit": 0.0}]
    assert null_odds["q1"] == NO_SPAN_NULL_ODDS
    assert null_odds["q0"] == 0.0 - 5.0 - 5.0


def test_v2_threshold_and_null_entry_beyond_n_best():
    start = logits({0: 2.0, 4: 5.0})
    end = logits({0: 2.0, 5: 4.0})
    args = ([EXAMPLE], [feature()], [RawResult(7, start, end)])
    predictions, nbest, null_odds = compute_predictions(*args, n_best_size=1, version_2_with_negative=True)
    # The null answer is added after the n-best when it did not make it.
    assert [entry["text"] for entry in nbest["q1"]] == ["Steve Smith", ""]
    assert null_odds == {"q1": 4.0 - 5.0 - 4.0}
    assert predictions == {"q1": "Steve Smith"}
    predictions, _, _ = compute_predictions(
        *args, n_best_size=1, version_2_with_negative=True, null_score_diff_threshold=-5.5
    )
    assert predictions == {"q1": ""}


def test_equal_scores_keep_position_order_and_repeated_texts_are_skipped():
    # Starts 4 and 5 tie; 4 ("Steve ...") comes first. Ends 6 and 7 give
    # the same final text for start 5 ("Smith's"), kept once.
    start = logits({4: 3.0, 5: 3.0})
    end = logits({6: 2.0, 7: 2.0})
    _, nbest, _ = compute_predictions(
        [EXAMPLE], [feature()], [RawResult(7, start, end)], n_best_size=4
    )
    texts = [entry["text"] for entry in nbest["q1"]]
    assert texts == ["Steve Smith'", "Steve Smith's", "Smith'", "Smith's"]


def test_null_score_is_the_minimum_over_features():
    examples = [EXAMPLE]
    features = [feature(7), feature(8)]
    features[1]["token_is_max_context"] = {i: False for i in range(4, 10)}
    results = [
        RawResult(7, logits({0: 3.0, 4: 5.0}), logits({0: 3.0, 5: 5.0})),
        RawResult(8, logits({0: -1.0, 4: 9.0}), logits({0: 0.5, 5: 9.0})),
    ]
    _, nbest, null_odds = compute_predictions(
        examples, features, results, n_best_size=2, version_2_with_negative=True
    )
    # Feature 8's spans are not in their best context; its null score counts.
    assert null_odds == {"q1": -1.0 + 0.5 - 5.0 - 5.0}
    assert nbest["q1"][-1] == {
        "text": "", "probability": nbest["q1"][-1]["probability"], "start_logit": -1.0, "end_logit": 0.5,
    }


def test_bad_inputs_raise_clear_errors():
    start = logits({4: 5.0})
    good = [RawResult(7, start, start)]
    with pytest.raises(DataError, match="No result for feature 8"):
        compute_predictions([EXAMPLE], [feature(8)], good)
    with pytest.raises(DataError, match="ordered by example_index"):
        compute_predictions([EXAMPLE, EXAMPLE], [feature(7, 1), feature(7, 0)], good)
    with pytest.raises(DataError, match="only 1 examples"):
        compute_predictions([EXAMPLE], [feature(7, 0), feature(7, 3)], good)
    with pytest.raises(DataError, match="'doc_tokens'"):
        compute_predictions([{"qas_id": "q1"}], [feature()], good)
    with pytest.raises(DataError, match="1-D"):
        compute_predictions([EXAMPLE], [feature()], [RawResult(7, [[1.0]], [[1.0]])])
    with pytest.raises(DataError, match="token positions"):
        bad = feature()
        bad["token_to_orig_map"] = {"four": 0}
        compute_predictions([EXAMPLE], [bad], good)
    with pytest.raises(ValueError, match="n_best_size"):
        compute_predictions([EXAMPLE], [feature()], good, n_best_size=0)


@pytest.mark.parametrize(
    "pred_text, orig_text, do_lower_case, expected",
    [
        # The original's own example: the trailing "'s" is dropped.
        ("steve smith", "Steve Smith's", True, "Steve Smith"),
        # Casing and accents come back from the original text.
        ("creme brulee", "the Crème Brûlée,", True, "Crème Brûlée"),
        ("zurich", "Zürich's", True, "Zürich"),
        ("Zürich", "Zürich's", False, "Zürich"),
        # Punctuation split off by the tokenizer.
        ("24 – 10", "24–10 at", True, "24–10"),
        ("( santa clara", "(Santa Clara,", True, "(Santa Clara"),
        ("12 . 50", "12.50;", True, "12.50"),
        # Characters the tokenizer spaces apart.
        ("北 京", "北京是中国的首都。", True, "北京"),
        # A part of a word.
        ("ly", "naïvely,", True, "ly"),
        # Failures return the whole original text: not found (cased text
        # does not lower-case), lengths differ (a no-break space becomes a
        # plain space, a zero-width space is dropped), an end on a space.
        ("zurich", "Zürich's", False, "Zürich's"),
        ("12 500", "12\u00a0500 euros", True, "12\u00a0500 euros"),
        ("ab", "a\u200bb c", True, "a\u200bb c"),
        ("smith ", "Steve Smith's", True, "Steve Smith's"),
        ("", "Steve", True, "Steve"),
    ],
)
def test_get_final_text(pred_text, orig_text, do_lower_case, expected):
    assert get_final_text(pred_text, orig_text, do_lower_case) == expected


def test_basic_tokenizer_port_matches_the_original_on_reference_cases():
    # The original FullTokenizer splits each BasicTokenizer word into
    # wordpieces (continuations marked "##") or replaces it by one [UNK]:
    # regrouped, the pieces give back the words, except the [UNK] ones.
    cases = REFERENCE / "tokenization" / "cases.jsonl"
    if not cases.is_file():
        pytest.skip(f"tokenization reference data not found at {cases}")
    checked = 0
    for case in read_jsonl(cases):
        for key, lower in (("uncased", True), ("cased", False)):
            words = []
            for piece in case[key]:
                if piece.startswith("##"):
                    words[-1] += piece[2:]
                else:
                    words.append(piece)
            ours = postprocessing._basic_tokenize(case["text"], lower)
            assert len(ours) == len(words), case["text"]
            for mine, theirs in zip(ours, words):
                if theirs != "[UNK]":
                    assert mine == theirs, case["text"]
                    checked += 1
    assert checked > 1000

