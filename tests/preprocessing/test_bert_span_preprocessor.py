"""BertSpanPreprocessor: the original's windows in the graph, and answers
decoded from logits, against the outputs of Google's `run_squad.py`."""

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_keras.errors import DataError
from bert_keras.preprocessing import BertSpanPreprocessor
from bert_keras.tokenizers import BertTokenizer
from tests.checkpoints import synthetic_vocabulary

REFERENCE = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference"
SETTINGS = ["v1_uncased", "v1_cased", "v2_uncased", "v2_uncased_thresh"]


def reference_folder(setting):
    folder = REFERENCE / "squad" / setting
    if not folder.is_dir():
        pytest.skip(f"the SQuAD reference outputs are not at {folder}")
    return folder


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def vocabulary():
    path = REFERENCE / "tokenization" / "vocab_uncased.txt"
    if not path.exists():
        pytest.skip(f"the reference vocabulary is not at {path}")
    return path.read_text(encoding="utf-8").splitlines()


def setting_inputs(folder, vocabulary, pad_to_multiple_of):
    settings = json.loads((folder / "settings.json").read_text())
    preprocessor = BertSpanPreprocessor(
        BertTokenizer(vocabulary, lowercase=settings["do_lower_case"]),
        sequence_length=settings["max_seq_length"],
        doc_stride=settings["doc_stride"],
        max_query_length=settings["max_query_length"],
        pad_to_multiple_of=pad_to_multiple_of,
        n_best_size=settings["n_best_size"],
        max_answer_length=settings["max_answer_length"],
    )
    data = json.loads((folder / "input.json").read_text(encoding="utf-8"))
    ids, questions, contexts = [], [], []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                ids.append(qa["id"])
                questions.append(qa["question"])
                contexts.append(paragraph["context"])
    return settings, preprocessor, ids, questions, contexts


@pytest.mark.parametrize("setting", SETTINGS)
def test_windows_equal_the_original_features(setting, vocabulary):
    folder = reference_folder(setting)
    _, preprocessor, _, questions, contexts = setting_inputs(folder, vocabulary, 1)
    inputs, windows = preprocessor((questions, contexts))
    features = read_jsonl(folder / "predict_features.jsonl")
    assert len(windows["example_index"]) == len(features)
    for row, feature in enumerate(features):
        length = sum(feature["input_mask"])
        assert int(windows["example_index"][row]) == feature["example_index"]
        assert int(np.asarray(inputs["padding_mask"][row]).sum()) == length
        for ours, theirs in (("token_ids", "input_ids"), ("segment_ids", "segment_ids")):
            assert np.asarray(inputs[ours][row][:length]).tolist() == feature[theirs][:length]
        expected = [int(feature["token_is_max_context"].get(str(i), False)) for i in range(length)]
        assert np.asarray(windows["max_context"][row][:length]).tolist() == expected
        in_context = [str(i) in feature["token_to_orig_map"] for i in range(length)]
        assert (np.asarray(windows["start_char"][row][:length]) >= 0).tolist() == in_context


@pytest.mark.parametrize("setting", SETTINGS)
def test_decoded_answers_match_the_original_predictions(setting, vocabulary):
    folder = reference_folder(setting)
    settings, preprocessor, ids, questions, contexts = setting_inputs(
        folder, vocabulary, settings_length(folder)
    )
    _, windows = preprocessor((questions, contexts))
    logits = read_jsonl(folder / "logits.jsonl")
    version_2 = settings["version"].startswith("2")
    decoded = preprocessor.decode(
        windows,
        np.array([row["start_logits"] for row in logits], "float32"),
        np.array([row["end_logits"] for row in logits], "float32"),
        tf.constant(contexts),
        settings["null_score_diff_threshold"] if version_2 else None,
    )
    expected = json.loads((folder / "predictions.json").read_text(encoding="utf-8"))
    answers = [answer.decode("utf-8") for answer in decoded["answer"].numpy()]
    same = 0
    for qas_id, answer, context, begin, end in zip(
        ids, answers, contexts, decoded["answer_start"].numpy(), decoded["answer_end"].numpy()
    ):
        # Where the original cannot align pieces to the text it answers with
        # the whole words around the span; ours keeps the exact span.
        assert answer == expected[qas_id] or (answer and answer in expected[qas_id]), qas_id
        same += answer == expected[qas_id]
        if answer:
            assert " ".join(context[begin:end].split()) == " ".join(answer.split())
    assert same >= 0.5 * len(ids)
    if version_2:
        null_odds = json.loads((folder / "null_odds.json").read_text())
        # float32 logits here, float64 sums in the original.
        np.testing.assert_allclose(
            decoded["null_score_diff"].numpy(), [null_odds[i] for i in ids], atol=1e-5
        )


def settings_length(folder):
    # The original ranks every position of its padded sequence, padding
    # included, so the logits are compared at the full length.
    return json.loads((folder / "settings.json").read_text())["max_seq_length"]


@pytest.fixture(scope="module")
def small():
    return BertSpanPreprocessor(
        BertTokenizer(synthetic_vocabulary(60)), sequence_length=16, doc_stride=3, max_query_length=4
    )


def test_long_contexts_are_windowed_and_empty_ones_get_one(small):
    inputs, windows = small((["the dog"] * 2, ["the cat sat on the mat . " * 3, ""]))
    example_index = np.asarray(windows["example_index"]).tolist()
    assert example_index[-1] == 1 and example_index.count(1) == 1
    assert example_index.count(0) > 1
    # The empty context's window is `[CLS] the dog [SEP] [SEP]`.
    assert np.asarray(inputs["padding_mask"][-1]).sum() == 5
    decoded = small.decode(
        windows,
        np.zeros(np.shape(inputs["token_ids"]), "float32"),
        np.zeros(np.shape(inputs["token_ids"]), "float32"),
        tf.constant(["the cat sat on the mat . " * 3, ""]),
    )
    assert decoded["answer"].numpy()[1] == b""
    assert decoded["answer_start"].numpy()[1] == -1


def test_bad_inputs_and_arguments(small):
    with pytest.raises(DataError, match="pair"):
        small(["only questions"])
    with pytest.raises(DataError, match="one second text per first text"):
        small((["a", "b"], ["c"]))
    with pytest.raises(ValueError, match="leaves no room"):
        BertSpanPreprocessor(small.tokenizer, sequence_length=8, max_query_length=5)
    with pytest.raises(ValueError, match="doc_stride"):
        BertSpanPreprocessor(small.tokenizer, doc_stride=0)


def test_serialization_round_trip(small):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(small))
    assert restored.get_config() == small.get_config()
    pair = (["the dog"], ["the cat sat on the mat"])
    for ours, theirs in zip(tf.nest.flatten(small(pair)), tf.nest.flatten(restored(pair))):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
