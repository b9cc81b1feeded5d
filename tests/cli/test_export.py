"""`bert-keras export`: a saved classifier or a served preset, to each format."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_keras.cli.main import main
from bert_keras.models import BertBackbone, BertClassifier
from bert_keras.preprocessing import BertPreprocessor
from bert_keras.tokenizers import BertTokenizer
from tests.checkpoints import synthetic_vocabulary
from tests.conftest import TINY

TEXTS = ["the cat sat on the mat", "", "a dog!"]


@pytest.fixture(scope="module")
def saved_classifier(tmp_path_factory):
    keras.utils.set_random_seed(3)
    vocabulary = synthetic_vocabulary(40)
    backbone = BertBackbone(
        vocabulary_size=len(vocabulary), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    preprocessor = BertPreprocessor(BertTokenizer(vocabulary), sequence_length=16, padding="longest")
    classifier = BertClassifier(backbone, 2, preprocessor=preprocessor)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    classifier.save(path)
    return path, classifier


@pytest.mark.tensorflow_only
def test_saved_model_from_a_keras_file(saved_classifier, tmp_path, capsys):
    path, classifier = saved_classifier
    output = tmp_path / "exported"
    assert main(["export", "--model", str(path), "--output", str(output)]) == 0
    assert "serving_default" in capsys.readouterr().out
    serve = tf.saved_model.load(str(output)).signatures["serve_text"]
    np.testing.assert_allclose(
        serve(text_a=tf.constant(TEXTS))["logits"].numpy(),
        classifier.predict(TEXTS, verbose=0),
        atol=1e-5,
    )
    assert main(["export", "--model", str(path), "--output", str(output)]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", "--model", str(path), "--output", str(output), "--overwrite"]) == 0


def test_huggingface_and_keras_hub_formats(saved_classifier, tmp_path):
    path, _ = saved_classifier
    hf = tmp_path / "hf"
    assert main(["export", "--model", str(path), "--output", str(hf), "--format", "huggingface"]) == 0
    config = json.loads((hf / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert (hf / "model.safetensors").exists() and (hf / "vocab.txt").exists()
    hub = tmp_path / "hub"
    assert main(["export", "--model", str(path), "--output", str(hub), "--format", "keras_hub"]) == 0
    assert json.loads((hub / "task.json").read_text())["class_name"] == "BertTextClassifier"


@pytest.mark.tensorflow_only
def test_preset_backbone_with_a_sequence_length(served, tmp_path):
    output = tmp_path / "features"
    assert main(
        ["export", "--preset", TINY, "--output", str(output), "--max-seq-length", "16"]
    ) == 0
    loaded = tf.saved_model.load(str(output))
    assert int(loaded.max_seq_length.numpy()) == 16
    outputs = loaded.signatures["serve_text"](text_a=tf.constant(["word " * 40]))
    assert outputs["sequence_output"].shape[1] == 16
    assert outputs["pooled_output"].shape == (1, 128)


def test_bad_model_paths_are_clear_errors(tmp_path, capsys):
    output = str(tmp_path / "out")
    assert main(["export", "--model", str(tmp_path / "missing.keras"), "--output", output]) == 1
    assert "is not a file" in capsys.readouterr().err
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    assert main(["export", "--model", str(broken), "--output", output]) == 1
    assert "Cannot load" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.tensorflow_only
def test_onnx_format_runs_in_onnxruntime(saved_classifier, tmp_path, capfd):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    path, classifier = saved_classifier
    output = tmp_path / "onnx"
    assert main(["export", "--model", str(path), "--output", str(output), "--format", "onnx"]) == 0
    printed, errors = capfd.readouterr()
    assert f"Exported {output / 'model.onnx'} on token ids" in printed
    assert errors.strip() == ""
    ids = {k: keras.ops.convert_to_numpy(v) for k, v in classifier.preprocessor(TEXTS).items()}
    session = onnxruntime.InferenceSession(str(output / "model.onnx"))
    (logits,) = session.run(["logits"], ids)
    np.testing.assert_allclose(logits, classifier.predict(TEXTS, verbose=0), atol=1e-5)
    assert sorted(p.name for p in output.iterdir()) == [
        ".bert_keras_export", "bert_keras.json", "model.onnx", "special_tokens_map.json",
        "tokenizer_config.json", "vocab.txt"]

    capfd.readouterr()  # TensorFlow's own lines from predict above
    int8 = tmp_path / "int8"
    assert main(["export", "--model", str(path), "--output", str(int8), "--format", "onnx",
                 "--quantize", "int8"]) == 0
    printed, errors = capfd.readouterr()
    assert f"Exported an int8 {int8 / 'model.onnx'} on token ids" in printed
    assert errors.strip() == ""
    (int8_logits,) = onnxruntime.InferenceSession(str(int8 / "model.onnx")).run(["logits"], ids)
    np.testing.assert_array_equal(int8_logits.argmax(-1), logits.argmax(-1))


def test_quantize_asks_for_the_onnx_format(tmp_path, capfd):
    assert main(["export", "--model", str(tmp_path / "m.keras"), "--output", str(tmp_path / "out"),
                 "--quantize", "int8"]) != 0
    assert "--quantize int8 makes an ONNX Runtime model; add --format onnx." in capfd.readouterr().err
