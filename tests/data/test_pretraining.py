"""Pretraining instances and TFRecords against the original
`create_pretraining_data.py` on the same text, vocabulary and seed."""

import json
import pathlib

import pytest

from bert_keras.data.pretraining import create_training_instances, read_documents
from bert_keras.data.pretraining.examples import write_instance_to_example_files
from bert_keras.tokenizers import BertTokenizer

REFERENCE = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference"
SETTINGS = ["sample_readme", "sample_wwm", "sample_cased_short"]
FIELDS = ["tokens", "segment_ids", "is_random_next", "masked_lm_positions", "masked_lm_labels"]


def reference(name):
    folder = REFERENCE / "pretraining" / name
    if not (folder / "instances.jsonl").exists():
        pytest.skip(f"the shared reference data is absent ({folder})")
    settings = json.loads((folder / "settings.json").read_text())
    tokenizer = BertTokenizer(
        str(REFERENCE / "tokenization" / settings["vocab_file"]), lowercase=settings["do_lower_case"]
    )
    expected = [json.loads(line) for line in (folder / "instances.jsonl").read_text("utf-8").splitlines()]
    return folder, settings, tokenizer, expected


def instances_for(settings, tokenizer, **changes):
    arguments = dict(
        max_seq_length=settings["max_seq_length"],
        dupe_factor=settings["dupe_factor"],
        short_seq_prob=settings["short_seq_prob"],
        masked_lm_prob=settings["masked_lm_prob"],
        max_predictions_per_seq=settings["max_predictions_per_seq"],
        seed=settings["random_seed"],
        whole_word_mask=settings["do_whole_word_mask"],
    )
    arguments.update(changes)
    return create_training_instances([REFERENCE / settings["input_file"]], tokenizer, **arguments)


def as_rows(instances):
    return [{field: getattr(instance, field) for field in FIELDS} for instance in instances]


@pytest.mark.parametrize("name", SETTINGS)
def test_instances_equal_the_originals(name):
    _, settings, tokenizer, expected = reference(name)
    ours = as_rows(instances_for(settings, tokenizer))
    assert len(ours) == settings["instances"] == len(expected)
    for position, (mine, original) in enumerate(zip(ours, expected)):
        assert mine == {field: original[field] for field in FIELDS}, f"instance {position}"


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 1},
        {"whole_word_mask": True},
        {"masked_lm_prob": 0.1},
        {"short_seq_prob": 0.3},
    ],
    ids=["seed", "whole_word_mask", "masked_lm_prob", "short_seq_prob"],
)
def test_a_changed_setting_changes_the_instances(change):
    # The comparison above can fail: any other draw sequence differs.
    _, settings, tokenizer, expected = reference("sample_readme")
    ours = as_rows(instances_for(settings, tokenizer, **change))
    assert ours != [{field: row[field] for field in FIELDS} for row in expected]


@pytest.mark.parametrize("name", SETTINGS)
def test_tfrecords_parse_to_the_originals_features(name, tmp_path):
    import tensorflow as tf

    folder, settings, tokenizer, _ = reference(name)
    instances = instances_for(settings, tokenizer)
    outputs = [tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"]
    count = write_instance_to_example_files(
        instances, tokenizer, settings["max_seq_length"], settings["max_predictions_per_seq"], outputs
    )
    assert count == len(instances)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tfrecord", "b.tfrecord"]

    def parsed(path):
        return [tf.train.Example.FromString(bytes(record.numpy())) for record in tf.data.TFRecordDataset(str(path))]

    theirs = parsed(folder / "examples.tfrecord")
    # Round-robin: instance k goes to file k % 2.
    first, second = parsed(outputs[0]), parsed(outputs[1])
    assert first == theirs[0::2] and second == theirs[1::2]
    features = theirs[0].features.feature
    assert len(features["input_ids"].int64_list.value) == settings["max_seq_length"]
    assert len(features["masked_lm_weights"].float_list.value) == settings["max_predictions_per_seq"]


def test_a_failed_write_leaves_nothing_and_keeps_earlier_files(tmp_path):
    _, settings, tokenizer, _ = reference("sample_readme")
    instances = instances_for(settings, tokenizer)
    output = tmp_path / "examples.tfrecord"
    output.write_bytes(b"an earlier run")
    with pytest.raises(ValueError, match="more than max_seq_length 64"):
        write_instance_to_example_files(instances, tokenizer, 64, 20, [output])
    assert output.read_bytes() == b"an earlier run"
    assert [p.name for p in tmp_path.iterdir()] == ["examples.tfrecord"]


def test_documents_are_read_as_the_original_reads_them(tmp_path):
    tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d"])
    first = tmp_path / "one.txt"
    # \r stays inside a line; a line of only spaces is a blank line; bad
    # bytes are dropped; a line with no tokens (here only a control
    # character) adds nothing; empty documents vanish.
    first.write_bytes(b"a b\n\n\n   \nc\rd\n\x00\nd \xff d\n")
    second = tmp_path / "two.txt"
    second.write_bytes(b"a\n\nb")
    documents = read_documents([first, second], tokenizer, batch_lines=2)
    assert documents == [[["a", "b"]], [["c", "d"], ["d", "d"], ["a"]], [["b"]]]


def test_the_fast_shuffle_draws_as_random_shuffle():
    import random

    from bert_keras.data.pretraining.instances import shuffle

    for seed in range(30):
        for size in (0, 1, 2, 3, 7, 64, 129, 1000):
            ours, theirs = random.Random(seed), random.Random(seed)
            mine, reference_list = list(range(size)), list(range(size))
            shuffle(mine, ours)
            theirs.shuffle(reference_list)
            assert mine == reference_list and ours.random() == theirs.random(), (seed, size)


def test_batch_encoding_is_protobufs_deterministic_serialization():
    import numpy as np

    from bert_keras.data.pretraining.example_encoding import encode_examples
    from bert_keras.data.pretraining.examples import serialize_example

    rng = np.random.default_rng(0)
    features = {
        "input_ids": rng.integers(0, 2**20, (40, 9)),
        "big": rng.integers(-2**62, 2**62, (40, 3)),
        "masked_lm_weights": rng.random((40, 5)).astype(np.float32),
        "empty": np.zeros((40, 0), np.int64),
        "next_sentence_labels": rng.integers(0, 2, (40, 1)),
        "long": rng.integers(0, 2**33, (40, 3000)),
    }
    features["big"][0] = [-1, 0, 2**63 - 1]
    ours = encode_examples(features)
    for row, record in enumerate(ours):
        # serialize_example makes `masked_lm_weights` a FloatList, the rest Int64Lists.
        expected = serialize_example({name: values[row].tolist()
                                      for name, values in features.items()})
        assert record == expected, row


def test_batch_features_pad_any_instance_as_the_original():
    from bert_keras.data.pretraining import TrainingInstance
    from bert_keras.data.pretraining.examples import batch_features

    ids = {"[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "a": 5, "b": 6}
    pair = TrainingInstance(["[CLS]", "a", "[SEP]", "[MASK]", "[SEP]"], [0, 0, 0, 1, 1], True,
                            [3], ["b"])
    # Not a pair's layout: the segments are read one by one.
    odd = TrainingInstance(["[CLS]", "b", "a"], [0, 1, 0], False, [], [])
    features = batch_features([pair, odd], ids, 6, 2)
    assert {name: values.tolist() for name, values in features.items()} == {
        "input_ids": [[2, 5, 3, 4, 3, 0], [2, 6, 5, 0, 0, 0]],
        "input_mask": [[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]],
        "segment_ids": [[0, 0, 0, 1, 1, 0], [0, 1, 0, 0, 0, 0]],
        "masked_lm_positions": [[3, 0], [0, 0]],
        "masked_lm_ids": [[6, 0], [0, 0]],
        "masked_lm_weights": [[1.0, 0.0], [0.0, 0.0]],
        "next_sentence_labels": [[1], [0]],
    }
