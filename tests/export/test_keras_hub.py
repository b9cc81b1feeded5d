"""keras-hub export, loaded back by keras-hub's own `from_preset`."""

import warnings

import keras
import numpy as np
import pytest

from tests.checkpoints import synthetic_vocabulary
from tests.export.random_models import VOCABULARY_SIZE, batch, random_backbone

from bert_keras.errors import DataError, ExportError
from bert_keras.export import to_keras_hub
from bert_keras.models import BertClassifier
from bert_keras.preprocessing import BertPreprocessor
from bert_keras.tokenizers import BertTokenizer

keras_hub = pytest.importorskip("keras_hub")

# Both sides compute in float32 on the same weights, and differ only in the
# order of operations (keras-hub's per-head EinsumDense against our fused
# projection): a few 1e-7 on unit-scale outputs. Any misplaced or mis-split
# tensor moves them by 1e-2 or more.
TOLERANCE = 1e-5


def tokenizer(lowercase=True):
    return BertTokenizer(synthetic_vocabulary(VOCABULARY_SIZE), lowercase=lowercase)


def assert_close(ours, theirs):
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours),
        keras.ops.convert_to_numpy(theirs),
        atol=TOLERANCE,
        rtol=0,
    )


def test_backbone_matches_keras_hub(tmp_path):
    backbone = random_backbone()
    to_keras_hub(backbone, tmp_path / "hub", tokenizer=tokenizer())
    loaded = keras_hub.models.BertBackbone.from_preset(str(tmp_path / "hub"))
    inputs = batch()
    ours, theirs = backbone(inputs), loaded(inputs)
    # Padded positions carry no meaning in either implementation.
    mask = inputs["padding_mask"][..., None].astype(bool)
    assert_close(
        np.where(mask, keras.ops.convert_to_numpy(ours["sequence_output"]), 0),
        np.where(mask, keras.ops.convert_to_numpy(theirs["sequence_output"]), 0),
    )
    assert_close(ours["pooled_output"], theirs["pooled_output"])

    hub_tokenizer = keras_hub.models.BertTokenizer.from_preset(str(tmp_path / "hub"))
    assert hub_tokenizer.get_vocabulary() == tokenizer().get_vocabulary()
    assert hub_tokenizer.lowercase is True


@pytest.mark.parametrize("num_classes", [3, 1])
def test_classifier_matches_keras_hub(tmp_path, num_classes):
    classifier = BertClassifier(
        random_backbone(seed=1),
        num_classes,
        preprocessor=BertPreprocessor(tokenizer(), sequence_length=16),
        dropout=0.2,
    )
    rng = np.random.default_rng(2)
    for variable in classifier.output_dense.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    to_keras_hub(classifier, tmp_path / "hub")

    # num_classes, dropout and the preprocessor come from the preset.
    loaded = keras_hub.models.BertTextClassifier.from_preset(str(tmp_path / "hub"))
    assert (loaded.num_classes, loaded.dropout) == (num_classes, 0.2)
    inputs = batch()
    assert_close(classifier(inputs, training=False), loaded(inputs, training=False))

    sentences = ["the cat sat on the mat .", "a dog , a cat !", "zzz"]
    theirs = loaded.preprocessor(sentences)
    ours = classifier.preprocessor(sentences)
    assert loaded.preprocessor.sequence_length == 16
    for key in ("token_ids", "segment_ids", "padding_mask"):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(theirs[key]), keras.ops.convert_to_numpy(ours[key])
        )


def test_exact_gelu_is_exported_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="tanh approximation"):
        to_keras_hub(random_backbone("gelu"), tmp_path / "hub", tokenizer=tokenizer())
    assert (tmp_path / "hub" / "config.json").exists()


def test_tanh_gelu_is_exported_silently(tmp_path):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*GELU", category=UserWarning)
        to_keras_hub(random_backbone(), tmp_path / "hub", tokenizer=tokenizer(False))
    hub_tokenizer = keras_hub.models.BertTokenizer.from_preset(str(tmp_path / "hub"))
    assert hub_tokenizer.lowercase is False


def test_other_activations_are_refused(tmp_path):
    with pytest.raises(ExportError, match="relu"):
        to_keras_hub(random_backbone("relu"), tmp_path / "hub", tokenizer=tokenizer())
    assert not (tmp_path / "hub").exists()


def test_sequence_length_must_fit_the_model(tmp_path):
    with pytest.raises(DataError, match="24 positions"):
        BertClassifier(
            random_backbone(), 2, preprocessor=BertPreprocessor(tokenizer(), sequence_length=512)
        )
    classifier = BertClassifier(
        random_backbone(), 2, preprocessor=BertPreprocessor(tokenizer(), sequence_length=24)
    )
    with pytest.raises(ExportError, match="max_sequence_length of 24"):
        to_keras_hub(classifier, tmp_path / "hub", sequence_length=512)
    to_keras_hub(classifier, tmp_path / "hub", sequence_length=24)
    loaded = keras_hub.models.BertTextClassifier.from_preset(str(tmp_path / "hub"))
    assert loaded.preprocessor.sequence_length == 24


def test_existing_folder_and_missing_tokenizer(tmp_path):
    target = tmp_path / "hub"
    target.mkdir()
    with pytest.raises(ExportError, match="overwrite"):
        to_keras_hub(random_backbone(), target, tokenizer=tokenizer())
    assert list(target.iterdir()) == []
    with pytest.raises(ExportError, match="tokenizer"):
        to_keras_hub(random_backbone(), target, overwrite=True)
    with pytest.raises(ExportError, match="BertBackbone or BertClassifier"):
        to_keras_hub(keras.Sequential([keras.layers.Dense(2)]), target, overwrite=True)
