"""`pretraining_dataset` over the original's TFRecords, and dynamic masking."""

import collections
import pathlib

import numpy as np
import pytest

from bert_keras.data.pretraining import DynamicMasking, pretraining_dataset
from bert_keras.errors import DataError
from bert_keras.tokenizers import BertTokenizer

REFERENCE = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference"
NAMES = ["input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
         "masked_lm_weights", "next_sentence_labels"]


def reference_file(name="sample_readme"):
    path = REFERENCE / "pretraining" / name / "examples.tfrecord"
    if not path.exists():
        pytest.skip(f"the shared reference data is absent ({path})")
    return path


def stored_features(path):
    """Each record's features straight from its protobuf, as NumPy arrays."""
    import tensorflow as tf

    rows = []
    for record in tf.data.TFRecordDataset(str(path)):
        feature = tf.train.Example.FromString(bytes(record.numpy())).features.feature
        rows.append({
            name: np.array(feature[name].float_list.value, np.float32)
            if name == "masked_lm_weights" else np.array(feature[name].int64_list.value)
            for name in NAMES
        })
    return rows


def batches_as_rows(dataset):
    rows = []
    for batch in dataset:
        size = batch["input_ids"].shape[0]
        rows.extend({name: batch[name][i].numpy() for name in NAMES} for i in range(size))
    return rows


def test_eval_reads_the_stored_features_in_order_in_the_original_layout():
    path = reference_file()
    stored = stored_features(path)
    dataset = pretraining_dataset(str(path), 8, 128, 20, is_training=False, layout="original")
    batch = next(iter(dataset))
    assert {name: (tuple(batch[name].shape), batch[name].dtype.name) for name in NAMES} == {
        **{name: ((8, 128), "int32") for name in ("input_ids", "input_mask", "segment_ids")},
        **{name: ((8, 20), "int32") for name in ("masked_lm_positions", "masked_lm_ids")},
        "masked_lm_weights": ((8, 20), "float32"),
        "next_sentence_labels": ((8, 1), "int32"),
    }
    rows = batches_as_rows(dataset)
    # 60 records: the remainder of 4 is dropped, as drop_remainder did.
    assert len(stored) == 60 and len(rows) == 56
    for position, (ours, theirs) in enumerate(zip(rows, stored)):
        for name in NAMES:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=f"{position} {name}")


def key(row):
    return tuple(row["input_ids"]) + tuple(row["masked_lm_positions"])


def test_training_shuffles_interleaves_and_repeats_every_record(tmp_path):
    import tensorflow as tf

    stored = stored_features(reference_file())
    # Two files, one gzip-compressed copy set: both kinds read.
    records = [r.numpy() for r in tf.data.TFRecordDataset(str(reference_file()))]
    for name, subset in (("a", records[0::2]), ("b", records[1::2])):
        with tf.io.TFRecordWriter(str(tmp_path / f"{name}.tfrecord.gz"), "GZIP") as writer:
            for record in subset:
                writer.write(record)
    dataset = pretraining_dataset(str(tmp_path / "*.tfrecord.gz"), 6, 128, 20, seed=5,
                                  layout="original")
    rows = batches_as_rows(dataset.take(40))
    seen = collections.Counter(key(row) for row in rows)
    assert set(seen) == {key(row) for row in stored}
    assert [key(row) for row in rows[:60]] != [key(row) for row in stored]
    again = batches_as_rows(pretraining_dataset(str(tmp_path / "*.gz"), 6, 128, 20, seed=5,
                                                layout="original").take(40))
    assert [key(row) for row in again] == [key(row) for row in rows]


def test_the_keras_layout_names_the_backbone_inputs_and_the_targets():
    inputs, labels, weights = next(iter(pretraining_dataset(str(reference_file()), 4, 128, 20,
                                                            is_training=False)))
    stored = stored_features(reference_file())[0]
    assert sorted(inputs) == ["masked_lm_positions", "padding_mask", "segment_ids", "token_ids"]
    np.testing.assert_array_equal(inputs["token_ids"][0], stored["input_ids"])
    np.testing.assert_array_equal(inputs["padding_mask"][0], stored["input_mask"])
    np.testing.assert_array_equal(labels["masked_lm"][0], stored["masked_lm_ids"])
    np.testing.assert_array_equal(labels["next_sentence"][0], stored["next_sentence_labels"])
    np.testing.assert_array_equal(weights["masked_lm"][0], stored["masked_lm_weights"])


def test_bad_reads_are_refused_with_the_fix(tmp_path):
    path = str(reference_file())
    with pytest.raises(DataError, match="No file matches"):
        pretraining_dataset(str(tmp_path / "*.tfrecord"), 8)
    with pytest.raises(DataError, match="written with max_seq_length 128, not 64; pass"):
        pretraining_dataset(path, 8, 64, 20)
    with pytest.raises(DataError, match="max_predictions_per_seq 20, not 10"):
        pretraining_dataset(path, 8, 128, 10)
    (tmp_path / "text.tfrecord").write_bytes(b"not a record file")
    with pytest.raises(DataError, match="is not a TFRecord file"):
        pretraining_dataset(str(tmp_path / "text.tfrecord"), 8)
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(tmp_path / "other.tfrecord")) as writer:
        writer.write(tf.train.Example().SerializeToString())
    with pytest.raises(DataError, match="does not hold pretraining examples"):
        pretraining_dataset(str(tmp_path / "other.tfrecord"), 8)
    # Empty files would make training repeat nothing forever.
    tf.io.TFRecordWriter(str(tmp_path / "empty.tfrecord")).close()
    with pytest.raises(DataError, match="hold no record"):
        pretraining_dataset(str(tmp_path / "empty.tfrecord"), 8)


def masking_rows(masking, epochs=1, batch_size=4):
    dataset = pretraining_dataset(str(reference_file("sample_wwm")), batch_size, 64, 10,
                                  is_training=False, layout="original", masking=masking)
    return [batches_as_rows(dataset) for _ in range(epochs)]


def restored(row):
    ids = row["input_ids"].copy()
    used = row["masked_lm_weights"] > 0
    ids[row["masked_lm_positions"][used]] = row["masked_lm_ids"][used]
    return ids


def mask_positions(rows):
    return [tuple(row["masked_lm_positions"]) for row in rows]


def test_dynamic_masking_follows_the_rules_and_redraws_each_epoch():
    tokenizer = BertTokenizer(str(REFERENCE / "tokenization" / "vocab_uncased.txt"))
    vocabulary = tokenizer.get_vocabulary()
    stored = stored_features(reference_file("sample_wwm"))
    masking = DynamicMasking(vocabulary, whole_word_mask=True, seed=11)
    first, second = masking_rows(masking, epochs=2)
    replaced = collections.Counter()
    for row, original in zip(first, stored):
        # The pieces under the masks are the original's, and nothing else moved.
        np.testing.assert_array_equal(restored(row), restored(original))
        used = row["masked_lm_weights"] > 0
        positions = row["masked_lm_positions"][used]
        tokens = [vocabulary[i] for i in restored(row)]
        length = int(row["input_mask"].sum())
        assert 1 <= used.sum() <= min(10, max(1, round(length * 0.15)))
        assert list(positions) == sorted(positions) and all(p < length for p in positions)
        assert not {tokens[p] for p in positions} & {"[CLS]", "[SEP]"}
        chosen = set(positions.tolist())
        for p in range(1, length):
            if tokens[p].startswith("##") and (p in chosen) != (p - 1 in chosen):
                assert tokens[p - 1] in ("[CLS]", "[SEP]"), "a word was split"
        for p, label in zip(positions, row["masked_lm_ids"][used]):
            shown = row["input_ids"][p]
            replaced["mask" if shown == vocabulary.index("[MASK]") else
                     "kept" if shown == label else "random"] += 1
    total = sum(replaced.values())
    assert abs(replaced["mask"] / total - 0.8) < 0.08, replaced
    assert replaced["kept"] and replaced["random"]
    assert mask_positions(first) != mask_positions(second)

    # Seeded: a new run of the same seed draws the same masks.
    def first_epoch(seed):
        return mask_positions(masking_rows(DynamicMasking(vocabulary, whole_word_mask=True,
                                                          seed=seed))[0])

    assert first_epoch(11) == mask_positions(first)
    assert first_epoch(12) != mask_positions(first)


def test_dynamic_masking_needs_a_bert_vocabulary():
    with pytest.raises(DataError, match=r"lacks \[MASK\]"):
        DynamicMasking(["[PAD]", "[CLS]", "[SEP]", "a"])
