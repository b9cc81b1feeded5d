"""What the task models do with the inputs users actually pass: pairs as
lists, single strings, nothing at all, bad rows, bad ids and labels. The
same errors, word for word, under every backend."""

import keras
import numpy as np
import pytest

from bert_keras.callbacks import AtomicWeightsCheckpoint, StopOnNonFiniteLoss
from bert_keras.errors import DataError, TrainingError
from bert_keras.models import BertBackbone, BertClassifier, BertSpanLabeler
from bert_keras.preprocessing import BertPreprocessor, BertSpanPreprocessor
from bert_keras.tokenizers import BertTokenizer

pytestmark = pytest.mark.model

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "great", "film", "dull", "mess", "x", "y"]


def backbone():
    keras.utils.set_random_seed(1)
    return BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=16,
    )


@pytest.fixture(scope="module")
def classifier():
    preprocessor = BertPreprocessor(BertTokenizer(VOCABULARY), sequence_length=16, padding="longest")
    return BertClassifier(backbone(), 2, preprocessor=preprocessor)


def ids(token=5, segment=0, length=4):
    return {
        "token_ids": np.full((2, length), token, "int32"),
        "segment_ids": np.full((2, length), segment, "int32"),
        "padding_mask": np.ones((2, length), "int32"),
    }


def test_a_list_of_pairs_means_pairs(classifier):
    as_rows = classifier.predict([("a great film", "x"), ("a dull mess", "y")], verbose=0)
    as_columns = classifier.predict((["a great film", "a dull mess"], ["x", "y"]), verbose=0)
    assert as_rows.shape == (2, 2)
    np.testing.assert_allclose(as_rows, as_columns, atol=1e-6)
    singles = classifier.predict(["a great film", "a dull mess"], verbose=0)
    assert not np.allclose(as_rows, singles)


def test_a_single_string_is_a_batch_of_one(classifier):
    one = classifier.predict("a great film", verbose=0)
    np.testing.assert_allclose(one, classifier.predict(["a great film"], verbose=0), atol=1e-6)


def test_no_examples_give_no_rows(classifier):
    assert classifier.predict([], verbose=0).shape == (0, 2)
    with pytest.raises(DataError, match="There are no training examples"):
        classifier.fit([], [])


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([None], r"texts\[0\] is NoneType None, not text"),
        (["fine", 3], r"texts\[1\] is int 3, not text"),
        (["fine", "bad \ud800 text"], r"texts\[1\] holds a lone surrogate \(U\+D800\) at character 4"),
        ((["a", "b"], ["c"]), "one second text per first text; got 2 and 1"),
        ([("a", "b", "c")], "Row 0 of a list of pairs has 3 items, not 2"),
        ([("a", "b"), "c"], "mixes pairs with single texts"),
    ],
)
def test_bad_text_names_the_row(classifier, inputs, message):
    with pytest.raises(DataError, match=message):
        classifier.predict(inputs, verbose=0)


@pytest.mark.parametrize(
    "inputs, message",
    [
        (ids(token=len(VOCABULARY)), f"Found token id {len(VOCABULARY)} outside \\[0, {len(VOCABULARY)}\\)"),
        (ids(token=-1), f"Found token id -1 outside \\[0, {len(VOCABULARY)}\\)"),
        (ids(segment=2), r"Found segment id 2 outside \[0, 2\)\. This model has 2 segments"),
        (ids(length=20), "Sequences of length 20 exceed this model's max_sequence_length of 16"),
    ],
)
def test_bad_ids_are_refused_alike_on_every_backend(classifier, inputs, message):
    bare = BertClassifier(classifier.backbone, 2)
    with pytest.raises(DataError, match=message):
        bare.predict(inputs, verbose=0)
    with pytest.raises(DataError, match=message):
        bare.fit(inputs, np.array([0, 1]), verbose=0)
    # The model is still usable afterwards.
    assert bare.predict(ids(), verbose=0).shape == (2, 2)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([0, 2], r"Found label 2 outside \[0, 2\)\. Class labels are ids 0 to 1\."),
        ([-1, 0], r"Found label -1 outside \[0, 2\)"),
        ([0.5, 1.0], "Found label 0.5 that is not a class id"),
        ([np.nan, 1.0], "NaN or infinite"),
        ([0, 1, 1], "There are 2 training examples but 3 labels"),
    ],
)
def test_bad_labels_are_refused_alike_on_every_backend(classifier, labels, message):
    with pytest.raises(DataError, match=message):
        classifier.fit(["a great film", "a dull mess"], np.array(labels), verbose=0)


def test_bad_labels_in_a_dataset_are_refused(classifier):
    import tensorflow as tf

    bare = BertClassifier(classifier.backbone, 2)
    bare.compile(optimizer="adam")
    dataset = tf.data.Dataset.from_tensor_slices((ids(), np.array([0, 5]))).batch(2)
    with pytest.raises(DataError, match=r"Found a label outside \[0, 2\)"):
        bare.fit(dataset, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices(ids(token=99)).batch(2)
    with pytest.raises(DataError, match=r"Found a token id outside \[0, 12\)"):
        bare.predict(dataset, verbose=0)


def test_a_sequence_length_beyond_the_positions_is_refused():
    with pytest.raises(DataError, match="packs up to 32 tokens, but the backbone has 16 positions"):
        BertClassifier(backbone(), 2, preprocessor=BertPreprocessor(BertTokenizer(VOCABULARY), sequence_length=32))
    with pytest.raises(DataError, match="16 positions"):
        BertSpanLabeler(
            backbone(), preprocessor=BertSpanPreprocessor(
                BertTokenizer(VOCABULARY), sequence_length=32, max_query_length=8
            ),
        )


def test_the_span_labeler_reads_pairs_the_same_ways():
    labeler = BertSpanLabeler(
        backbone(),
        preprocessor=BertSpanPreprocessor(BertTokenizer(VOCABULARY), sequence_length=16, doc_stride=4,
                                          max_query_length=4),
    )
    rows = labeler.predict([("a film", "a great film"), ("x", "a dull mess")])
    columns = labeler.predict((["a film", "x"], ["a great film", "a dull mess"]))
    assert list(rows["answer"]) == list(columns["answer"])
    np.testing.assert_allclose(rows["score"], columns["score"], atol=1e-6)
    assert labeler.predict([])["answer"].shape == (0,)
    with pytest.raises(DataError, match="reads pairs"):
        labeler.predict(["a film"])


def test_a_non_finite_loss_stops_training_and_keeps_the_checkpoints(tmp_path):
    preprocessor = BertPreprocessor(BertTokenizer(VOCABULARY), sequence_length=16, padding="longest")
    regressor = BertClassifier(backbone(), 1, preprocessor=preprocessor)
    regressor.compile(learning_rate=1e-3)
    checkpoints = str(tmp_path / "epoch_{epoch:03d}.weights.h5")
    callbacks = [StopOnNonFiniteLoss(), AtomicWeightsCheckpoint(checkpoints)]
    regressor.fit(["a great film", "a dull mess"], np.array([1.0, 0.0]), batch_size=2, epochs=1,
                  callbacks=callbacks, verbose=0)
    saved = (tmp_path / "epoch_001.weights.h5").read_bytes()
    with pytest.raises(TrainingError, match="The training loss became inf at batch 1 of epoch 1"):
        regressor.fit(["a great film", "a dull mess"], np.array([3e38, -3e38], "float32"), batch_size=2,
                      epochs=1, callbacks=callbacks, verbose=0)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["epoch_001.weights.h5"]
    assert (tmp_path / "epoch_001.weights.h5").read_bytes() == saved


def test_detokenize_names_an_id_past_the_vocabulary():
    with pytest.raises(DataError, match=f"Found token id 99 outside \\[0, {len(VOCABULARY)}\\)"):
        BertTokenizer(VOCABULARY).detokenize([[5, 99]])
