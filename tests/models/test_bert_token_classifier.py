"""BertTokenClassifier: learns word labels through their first pieces, reads
long sentences through windows, round-trips through `.keras` files, and
refuses bad data by name.

Tolerances: 1e-5 on the loss against NumPy (float32 log-softmax sums);
equality of predicted tags elsewhere.
"""

import random

import keras
import numpy as np
import pytest

from bert_keras.errors import DataError
from bert_keras.models import BertBackbone, BertTokenClassifier
from bert_keras.tokenizers import BertTokenizer

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank"]
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "##s", "."]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + NAMES + WORDS + [
    name.capitalize() for name in NAMES]
LABELS = ["O", "B-PER", "I-PER"]


def sentences(count, seed, longest=9):
    """Capitalized names start a person, a lower-case name after one goes on."""
    rng = random.Random(seed)
    words, labels = [], []
    for _ in range(count):
        sentence, tags = [], []
        for _ in range(rng.randint(3, longest)):
            if rng.random() < 0.3:
                sentence.append(rng.choice(NAMES).capitalize())
                tags.append("B-PER")
                if rng.random() < 0.4:
                    sentence.append(rng.choice(NAMES))
                    tags.append("I-PER")
            else:
                sentence.append(rng.choice(["the", "cat", "sat", "dogs", "mat", "."]))
                tags.append("O")
        words.append(sentence)
        labels.append(tags)
    return words, labels


def tagger(sequence_length=32, **kwargs):
    keras.utils.set_random_seed(0)
    backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=32,
    )
    # Cased, so that a capitalized name (a person's start) is its own piece.
    tokenizer = BertTokenizer(VOCABULARY, lowercase=False)
    return BertTokenClassifier(backbone, LABELS, tokenizer=tokenizer,
                               sequence_length=sequence_length, **kwargs)


@pytest.fixture(scope="module")
def trained():
    model = tagger()
    model.compile(learning_rate=2e-3)
    words, labels = sentences(96, seed=0)
    model.fit(words, labels, epochs=12, batch_size=8, verbose=0)
    return model


@pytest.mark.model
def test_learns_entities_from_word_labels(trained):
    words, labels = sentences(24, seed=1)
    scores = trained.tag_scores(words, labels)
    assert scores["f1"] > 0.9 and scores["accuracy"] > 0.95
    assert scores["predictions"] == trained.predict_words(words)
    results = trained.evaluate(words, labels, return_dict=True, verbose=0)
    # Keras's token accuracy counts the labelled first pieces: the words.
    assert results["accuracy"] == pytest.approx(scores["accuracy"], abs=1e-6)


@pytest.mark.model
def test_windows_give_the_tags_of_one_window(trained):
    words, _ = sentences(6, seed=2, longest=14)
    windowed = BertTokenClassifier.from_config(
        {**trained.get_config(), "sequence_length": 8, "stride": 2})
    windowed.set_weights(trained.get_weights())
    assert max(len(trained.tokenizer(" ".join(s)).numpy()) for s in words) > 6
    assert windowed.predict_words(words) == trained.predict_words(words)


@pytest.mark.model
def test_raw_text_gives_words_offsets_and_entities(trained):
    texts = ["Alice bob sat the mat.", "  the​  Carol sat", ""]
    results = trained.predict(texts)
    assert [r["words"] for r in results] == [
        ["Alice", "bob", "sat", "the", "mat", "."], ["the", "Carol", "sat"], []]
    assert [r["tags"] for r in results] == trained.predict_words([r["words"] for r in results])
    for text, result in zip(texts, results):
        assert [text[s:e] for s, e in result["offsets"]] == result["words"]
    assert results[0]["entities"] == [{"text": "Alice bob", "type": "PER", "start": 0, "end": 9}]
    assert results[1]["entities"] == [{"text": "Carol", "type": "PER", "start": 8, "end": 13}]
    assert trained.predict("Alice sat")[0]["entities"][0]["text"] == "Alice"
    assert trained.predict([]) == []
    # Token ids still go to Keras.
    batch = next(trained._encoder([["Alice"]], None).dataset(1, 0).as_numpy_iterator())
    assert trained.predict(batch, verbose=0).shape == (1, 8, len(LABELS))


@pytest.mark.model
def test_keras_file_round_trip_keeps_labels_and_tokenizer(trained, tmp_path):
    trained.save(tmp_path / "tagger.keras")
    loaded = keras.models.load_model(tmp_path / "tagger.keras")
    assert isinstance(loaded, BertTokenClassifier) and loaded.label_names == LABELS
    assert loaded.tokenizer.get_vocabulary() == VOCABULARY
    words, _ = sentences(8, seed=3)
    for a, b in zip(loaded.predict_word_logits(words), trained.predict_word_logits(words)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.model
def test_the_loss_is_the_mean_over_labelled_pieces():
    model = tagger(dropout=0.0)
    words = [["Alice", "dogs", "sat"], ["bob", "."]]
    labels = [["B-PER", "O", "O"], ["I-PER", "O"]]
    x, y, weights = next(model._windows(words, labels, "training").dataset(2, 0)
                         .as_numpy_iterator())
    # "dogs" has two pieces; the second, [CLS], [SEP] and padding are ignored.
    assert weights.sum() == 5 and (y[weights == 0] == -100).all()
    logits = keras.ops.convert_to_numpy(model(x)).astype("float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    labelled = weights > 0
    expected = -log_probs[labelled, y[labelled]].mean()
    loss = float(keras.ops.convert_to_numpy(model.compute_loss(x, y, model(x), weights)))
    assert loss == pytest.approx(expected, abs=1e-5)
    # Token-id arrays with -100 labels score only the labelled pieces too.
    results = model.evaluate(x, y, return_dict=True, verbose=0)
    hits = logits.argmax(-1) == y
    assert results["accuracy"] == pytest.approx(hits[labelled].mean(), abs=1e-6)
    assert results["loss"] == pytest.approx(expected, abs=1e-5)


@pytest.mark.model
def test_every_piece_can_carry_the_label():
    model = tagger(label_all_pieces=True)
    windows = model._windows([["Alice", "dogs"]], [["B-PER", "O"]], "training")
    assert windows.labels[0].tolist() == [-100, 1, 0, 0, -100]
    model.fit([["Alice", "dogs"]], [["B-PER", "O"]], epochs=1, verbose=0)


@pytest.mark.model
def test_a_word_without_pieces_keeps_its_place(trained):
    words = [["Alice", "\u200b", "bob", "sat"]]
    tags = trained.predict_words(words)[0]
    assert tags[1] == "O" and tags[0] == "B-PER" and tags[2:] == ["I-PER", "O"]
    assert trained.predict_words([[]]) == [[]]


@pytest.mark.model
def test_an_empty_sentence_trains_as_nothing():
    model = tagger()
    history = model.fit([[], []], [[], []], epochs=1, batch_size=2, verbose=0).history
    assert history["loss"] == [0.0]
    history = model.fit([["Alice"], []], [["B-PER"], []], epochs=1, batch_size=2, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_bad_data_is_named():
    model = tagger()
    with pytest.raises(DataError, match=r"B-ORG \(2x\)"):
        model.fit([["Alice", "x", "y"]], [["B-PER", "B-ORG", "B-ORG"]])
    with pytest.raises(DataError, match="sentence 0 has 2 words but 1 labels"):
        model.fit([["Alice", "x"]], [["B-PER"]])
    with pytest.raises(DataError, match="lists of words"):
        model.predict_words(["Alice sat"])
    with pytest.raises(DataError, match="need their labels"):
        model.fit([["Alice"]])
    with pytest.raises(ValueError, match="two distinct labels"):
        BertTokenClassifier(model.backbone, ["O", "O"])
    with pytest.raises(DataError, match="no tokenizer"):
        BertTokenClassifier(model.backbone, LABELS).predict_words([["a"]])
