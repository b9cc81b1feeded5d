"""BertClassifier: raw text in, training with the default recipe, dynamic
padding identical to fixed padding, serialization, regression, pairs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_keras.models import BertBackbone, BertClassifier
from bert_keras.preprocessing import BertPreprocessor
from bert_keras.tokenizers import BertTokenizer

VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "great", "awful",
    "film", "movie", "the", "a", "is", "was", "very", "not", "plot", "and",
]
FILLER = ["the", "a", "film", "movie", "is", "was", "very", "plot", "and"]


def sentiment_data(count, seed=0):
    """Label 1 iff the sentence holds "good" or "great"; lengths vary 3-17."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(count):
        label = i % 2
        word = rng.choice(["good", "great"] if label else ["bad", "awful"])
        left = " ".join(rng.choice(FILLER, rng.integers(1, 9)))
        right = " ".join(rng.choice(FILLER, rng.integers(1, 9)))
        texts.append(f"{left} {word} {right}")
        labels.append(label)
    return texts, np.array(labels, "int32")


def make_classifier(num_classes=2, padding="longest", seed=0, **backbone_overrides):
    keras.utils.set_random_seed(seed)
    config = dict(
        vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=24,
    )
    config.update(backbone_overrides)
    preprocessor = BertPreprocessor(
        BertTokenizer(VOCABULARY), sequence_length=24, padding=padding
    )
    return BertClassifier(BertBackbone(**config), num_classes, preprocessor=preprocessor)


def test_learns_from_raw_strings_with_the_default_recipe():
    # Tiny random-init models sit on a loss plateau for a seed-dependent
    # number of steps before finding the keyword; this width, rate and seed
    # leave it well within 16 epochs on both backends.
    classifier = make_classifier(hidden_dim=32, intermediate_dim=64, num_heads=4)
    texts, labels = sentiment_data(64)
    classifier.compile(learning_rate=2e-3)
    history = classifier.fit(texts, labels, batch_size=8, epochs=16, verbose=0)
    assert history.history["loss"][-1] < 0.1
    # The schedule covers exactly the steps `fit` ran: 8 per epoch.
    schedule = classifier.optimizer.learning_rate
    assert int(classifier.optimizer.iterations.numpy()) == 128
    assert float(keras.ops.convert_to_numpy(schedule)) == 0.0
    test_texts, test_labels = sentiment_data(32, seed=1)
    logits = classifier.predict(test_texts, verbose=0)
    assert logits.shape == (32, 2)
    assert np.mean(logits.argmax(-1) == test_labels) >= 0.9


def test_dynamic_padding_gives_the_same_outputs_as_fixed_padding():
    dynamic = make_classifier(padding="longest")
    fixed = make_classifier(padding="max_length")
    fixed.set_weights(dynamic.get_weights())
    texts, labels = sentiment_data(40)
    np.testing.assert_allclose(
        dynamic.predict(texts, batch_size=7, verbose=0),
        fixed.predict(texts, batch_size=7, verbose=0),
        atol=1e-5,
    )
    ours = dynamic.evaluate(texts, labels, batch_size=8, verbose=0, return_dict=True)
    theirs = fixed.evaluate(texts, labels, batch_size=8, verbose=0, return_dict=True)
    assert ours["accuracy"] == pytest.approx(theirs["accuracy"])
    assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-5)


def test_training_batches_are_bucketed_by_length():
    classifier = make_classifier()
    texts, labels = sentiment_data(64)
    dataset = classifier._text_dataset(texts, labels, None, 8, True, bucketed=True)
    widths = [int(features["token_ids"].shape[1]) for features, _ in dataset]
    assert set(widths) <= {8, 16, 24}
    assert len(set(widths)) > 1


def test_keras_file_round_trip_keeps_the_preprocessor(tmp_path):
    classifier = make_classifier()
    texts, _ = sentiment_data(6)
    path = tmp_path / "classifier.keras"
    classifier.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, BertClassifier)
    assert restored.preprocessor.padding == "longest"
    np.testing.assert_allclose(
        restored.predict(texts, verbose=0), classifier.predict(texts, verbose=0), atol=1e-6
    )


def test_detached_preprocessor_takes_token_ids():
    classifier = make_classifier()
    preprocessor = classifier.preprocessor
    texts, labels = sentiment_data(16)
    features = {k: np.asarray(v) for k, v in preprocessor(texts).items()}
    expected = classifier.predict(texts, verbose=0)
    classifier.preprocessor = None
    np.testing.assert_allclose(classifier.predict(features, verbose=0), expected, atol=1e-5)
    classifier.fit(features, labels, batch_size=8, epochs=1, verbose=0)


def test_regression_uses_mean_squared_error():
    regressor = make_classifier(num_classes=1)
    assert isinstance(regressor.loss, keras.losses.MeanSquaredError)
    texts, labels = sentiment_data(16)
    regressor.fit(texts, labels.astype("float32") * 5.0, batch_size=8, epochs=1, verbose=0)
    assert regressor.predict(texts, verbose=0).shape == (16, 1)


def test_sentence_pairs_from_lists_and_datasets():
    classifier = make_classifier(num_classes=3)
    first, _ = sentiment_data(10)
    second, _ = sentiment_data(10, seed=2)
    labels = np.arange(10) % 3
    classifier.fit((first, second), labels, batch_size=4, epochs=1, verbose=0)
    from_lists = classifier.predict((first, second), verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((first, second))
    np.testing.assert_allclose(classifier.predict(dataset, verbose=0), from_lists, atol=1e-5)
    labelled = tf.data.Dataset.from_tensor_slices(((first, second), labels))
    result = classifier.evaluate(labelled, verbose=0, return_dict=True)
    assert set(result) >= {"loss", "accuracy"}


def test_unknown_dataset_size_needs_steps():
    classifier = make_classifier()
    texts, labels = sentiment_data(16)
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).filter(lambda t, l: True)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        classifier.fit(dataset, epochs=1, verbose=0)
    classifier.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)


def test_from_preset_attaches_the_preset_tokenizer(served):
    classifier = BertClassifier.from_preset("bert_tiny_en_uncased", num_classes=3)
    assert classifier.preprocessor.sequence_length == 128
    assert classifier.preprocessor.tokenizer.lowercase
    assert classifier.predict(["the cat sat", "on the mat ."], verbose=0).shape == (2, 3)
