"""Hugging Face export, loaded back by transformers and by bert_keras."""

import json

import keras
import numpy as np
import pytest

from tests.checkpoints import synthetic_vocabulary
from tests.export.random_models import VOCABULARY_SIZE, batch, random_backbone

from bert_keras.errors import ExportError
from bert_keras.export import to_huggingface
from bert_keras.models import BertBackbone, BertClassifier
from bert_keras.preprocessing import BertPreprocessor
from bert_keras.tokenizers import BertTokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

# The reference computes in float64 on our float32 weights, so a difference is
# our float32 rounding: about 1e-6 on these unit-scale outputs. 1e-4 leaves
# room for the backends' own erf and tanh, while a misplaced, transposed or
# mis-split tensor moves outputs by 1e-2 or more.
TOLERANCE = 1e-4


def random_classifier(num_classes, seed=0, sequence_length=16):
    classifier = BertClassifier(
        random_backbone(seed=seed),
        num_classes,
        preprocessor=BertPreprocessor(tokenizer(), sequence_length=sequence_length),
    )
    rng = np.random.default_rng(seed + 1)
    for variable in classifier.output_dense.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    return classifier


def tokenizer(lowercase=True):
    # Capitals in an uncased vocabulary: the casing read back must come from
    # the exported tokenizer_config.json, not be guessed from vocab.txt.
    vocabulary = synthetic_vocabulary(VOCABULARY_SIZE)[:-3] + ["The", "Cat", "##S"]
    return BertTokenizer(vocabulary, lowercase=lowercase)


def run_transformers(model, inputs):
    model = model.eval().double()
    with torch.no_grad():
        return model(
            input_ids=torch.from_numpy(inputs["token_ids"]).long(),
            token_type_ids=torch.from_numpy(inputs["segment_ids"]).long(),
            attention_mask=torch.from_numpy(inputs["padding_mask"]).long(),
        )


def assert_close(ours, theirs):
    np.testing.assert_allclose(
        np.asarray(ours, "float64"), theirs.numpy(), atol=TOLERANCE, rtol=0
    )


@pytest.mark.parametrize("activation", ["gelu", "gelu_approximate"])
def test_backbone_matches_transformers(tmp_path, activation):
    backbone = random_backbone(activation)
    to_huggingface(backbone, tmp_path / "hf", tokenizer=tokenizer())
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["hidden_act"] == {"gelu": "gelu", "gelu_approximate": "gelu_new"}[activation]
    assert config["architectures"] == ["BertModel"]

    reference = transformers.BertModel.from_pretrained(tmp_path / "hf")
    inputs = batch()
    expected = run_transformers(reference, inputs)
    outputs = backbone(inputs)
    # Padded positions carry no meaning in either implementation.
    mask = inputs["padding_mask"][..., None].astype(bool)
    assert_close(
        np.where(mask, outputs["sequence_output"], 0),
        torch.where(torch.from_numpy(mask), expected.last_hidden_state, 0),
    )
    assert_close(outputs["pooled_output"], expected.pooler_output)


@pytest.mark.parametrize("num_classes", [3, 1])
def test_classifier_matches_transformers(tmp_path, num_classes):
    classifier = random_classifier(num_classes)
    to_huggingface(classifier, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["num_labels"] == num_classes
    assert config["problem_type"] == (
        "regression" if num_classes == 1 else "single_label_classification"
    )
    assert json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())[
        "model_max_length"
    ] == 16

    reference = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "hf")
    inputs = batch()
    expected = run_transformers(reference, inputs)
    assert_close(classifier(inputs, training=False), expected.logits)


def test_weight_names_and_dtype(tmp_path):
    from safetensors.numpy import load_file

    to_huggingface(random_backbone(), tmp_path / "backbone", tokenizer=tokenizer())
    to_huggingface(random_classifier(2), tmp_path / "classifier")
    bare = load_file(str(tmp_path / "backbone" / "model.safetensors"))
    prefixed = load_file(str(tmp_path / "classifier" / "model.safetensors"))
    assert all(value.dtype == np.float32 for value in bare.values())
    assert {f"bert.{name}" for name in bare} | {"classifier.weight", "classifier.bias"} == set(
        prefixed
    )
    assert prefixed["classifier.weight"].shape == (2, 16)


@pytest.mark.parametrize("model", ["backbone", "classifier"])
def test_round_trip_is_bitwise(tmp_path, model):
    original = random_backbone("gelu", seed=4)
    exported = original
    if model == "classifier":
        exported = BertClassifier(
            original, 2, preprocessor=BertPreprocessor(tokenizer(), sequence_length=24)
        )
    to_huggingface(exported, tmp_path / "hf", tokenizer=tokenizer())
    loaded = BertBackbone.from_preset(str(tmp_path / "hf"))
    settings = {**original.get_config(), "name": loaded.name}
    assert loaded.get_config() == settings
    for ours, theirs in zip(original.weights, loaded.weights, strict=True):
        assert ours.path == theirs.path
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
        )


@pytest.mark.parametrize("lowercase", [True, False])
def test_tokenizer_round_trip(tmp_path, lowercase):
    ours = tokenizer(lowercase)
    to_huggingface(random_backbone(), tmp_path / "hf", tokenizer=ours)
    loaded = BertTokenizer.from_preset(str(tmp_path / "hf"))
    assert loaded.get_vocabulary() == ours.get_vocabulary()
    assert loaded.lowercase is lowercase

    text = "The Cats sat on the mat."
    theirs = transformers.BertTokenizer.from_pretrained(tmp_path / "hf")
    assert theirs(text, add_special_tokens=False)["input_ids"] == (
        ours(text).numpy().tolist()
    )


def test_existing_folder_is_kept_without_overwrite(tmp_path):
    target = tmp_path / "hf"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="overwrite"):
        to_huggingface(random_backbone(), target, tokenizer=tokenizer())
    assert [path.name for path in target.iterdir()] == ["notes.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["hf"]

    # A folder that is not an export of ours is never replaced.
    with pytest.raises(ExportError, match="not an export made by bert-keras"):
        to_huggingface(random_backbone(), target, tokenizer=tokenizer(), overwrite=True)
    assert (target / "notes.txt").read_text() == "keep me"

    (target / "notes.txt").unlink()
    target.rmdir()
    to_huggingface(random_backbone(), target, tokenizer=tokenizer())
    to_huggingface(random_backbone(), target, tokenizer=tokenizer(), overwrite=True)
    assert sorted(path.name for path in target.iterdir()) == [
        ".bert_keras_export",
        "config.json",
        "model.safetensors",
        "special_tokens_map.json",
        "tokenizer_config.json",
        "vocab.txt",
    ]


def test_missing_tokenizer_is_explained(tmp_path):
    with pytest.raises(ExportError, match=r"tokenizer=BertTokenizer\.from_preset"):
        to_huggingface(random_backbone(), tmp_path / "hf")
    classifier = BertClassifier(random_backbone(), 2)
    with pytest.raises(ExportError, match="preprocessor"):
        to_huggingface(classifier, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_other_models_are_refused(tmp_path):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ExportError, match="BertBackbone or BertClassifier"):
        to_huggingface(model, tmp_path / "hf", tokenizer=tokenizer())
    assert not (tmp_path / "hf").exists()


def test_written_files_follow_the_umask(tmp_path):
    import os

    previous = os.umask(0o022)
    try:
        to_huggingface(random_backbone(), tmp_path / "hf", tokenizer=tokenizer())
    finally:
        os.umask(previous)
    modes = {path.name: path.stat().st_mode & 0o777 for path in (tmp_path / "hf").iterdir()}
    assert set(modes.values()) == {0o644}, modes


def test_token_classifier_matches_transformers_and_loads_back(tmp_path):
    import warnings

    from bert_keras.models import BertTokenClassifier

    labels = ["O", "B-PER", "I-PER", "B-LOC-X", "I-LOC-X"]
    tagger = BertTokenClassifier(random_backbone(), labels, tokenizer=tokenizer(),
                                 sequence_length=16)
    rng = np.random.default_rng(3)
    for variable in tagger.output_dense.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    to_huggingface(tagger, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"]
    assert config["id2label"] == {str(i): label for i, label in enumerate(labels)}

    reference, info = transformers.BertForTokenClassification.from_pretrained(
        tmp_path / "hf", output_loading_info=True)
    assert not any(info.values()), info
    inputs = batch()
    mask = inputs["padding_mask"][..., None].astype(bool)
    expected = run_transformers(reference, inputs).logits
    ours = keras.ops.convert_to_numpy(tagger(inputs))
    assert_close(np.where(mask, ours, 0), torch.where(torch.from_numpy(mask), expected, 0))

    with warnings.catch_warnings():
        # Not even the missing pooler, which a tagger does not use.
        warnings.simplefilter("error")
        loaded = BertTokenClassifier.from_preset(str(tmp_path / "hf"))
    assert loaded.label_names == labels
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(inputs)), ours, atol=1e-6)
    with pytest.warns(UserWarning, match="a new head"):
        BertTokenClassifier.from_preset(str(tmp_path / "hf"), label_names=["O", "B-X"])


def test_multiple_choice_matches_transformers_and_loads_back(tmp_path):
    from bert_keras.models import BertMultipleChoice
    from bert_keras.preprocessing import BertMultipleChoicePreprocessor

    chooser = BertMultipleChoice(
        random_backbone(), 3,
        preprocessor=BertMultipleChoicePreprocessor(tokenizer(), sequence_length=16))
    rng = np.random.default_rng(5)
    for variable in chooser.output_dense.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    to_huggingface(chooser, tmp_path / "hf")
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == ["BertForMultipleChoice"]

    reference, info = transformers.BertForMultipleChoice.from_pretrained(
        tmp_path / "hf", output_loading_info=True)
    assert not any(info.values()), info
    # Two examples of three choices: the rows of the shared batch, in two orders.
    inputs = {name: np.stack([value, value[::-1]]) for name, value in batch().items()}
    expected = run_transformers(reference, inputs).logits
    ours = keras.ops.convert_to_numpy(chooser(inputs))
    assert ours.shape == (2, 3)
    np.testing.assert_allclose(ours[0], ours[1, ::-1], atol=1e-5)
    assert_close(ours, expected)

    loaded = BertMultipleChoice.from_preset(str(tmp_path / "hf"), num_choices=3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(inputs)), ours, atol=1e-6)
    contexts, choices = ["the cat sat"], [["on the mat", "The Cat", "dog"]]
    np.testing.assert_allclose(loaded.predict((contexts, choices), verbose=0),
                               chooser.predict((contexts, choices), verbose=0), atol=1e-6)
