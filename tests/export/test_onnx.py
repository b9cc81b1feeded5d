"""ONNX exports on token ids: ONNX Runtime, in a process with neither
TensorFlow nor Keras, gives the Keras model's outputs; the folder's
tokenizer files give our ids; bad requests are clear errors.

The graph is TensorFlow's whatever the backend, so the conversion of each
kind of model is checked once, under TensorFlow; under JAX the classifier
test checks the hand-over to a TensorFlow process.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the ONNX tests need onnxruntime (pip install 'bert-keras[onnx]')")
pytest.importorskip("tf2onnx", reason="the ONNX export needs tf2onnx (pip install 'bert-keras[onnx]')")

from bert_keras.errors import ExportError  # noqa: E402
from bert_keras.export import export_onnx  # noqa: E402
from bert_keras.export import onnx as onnx_module  # noqa: E402
from bert_keras.models import BertBackbone  # noqa: E402
from bert_keras.preprocessing import BertPreprocessor  # noqa: E402
from bert_keras.tokenizers import BertTokenizer  # noqa: E402
from tests.export.test_saved_model import TEXT_A, TEXT_B, VOCABULARY, make_classifier  # noqa: E402

# Our float32 model on both sides; ONNX Runtime fuses and reorders the same
# float operations (LayerNorm, GELU, MatMul+Add), a few 1e-7 here.
TOLERANCE = 1e-5


def run_in_onnxruntime(model_path, inputs):
    """The outputs of `model_path` on `inputs`, run by a process that imports
    onnxruntime and numpy only."""
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        import onnxruntime
        session = onnxruntime.InferenceSession({str(model_path)!r},
                                               providers=["CPUExecutionProvider"])
        inputs = {{k: np.asarray(v, dtype=np.int32) for k, v in json.loads(sys.stdin.read()).items()}}
        names = [output.name for output in session.get_outputs()]
        outputs = dict(zip(names, session.run(names, inputs)))
        assert not any(m.split(".")[0] in ("tensorflow", "keras", "bert_keras", "torch")
                       for m in sys.modules), sorted(sys.modules)
        print(json.dumps({{"names": [i.name for i in session.get_inputs()],
                          "outputs": {{k: v.tolist() for k, v in outputs.items()}}}}))
        """
    )
    environment = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps({k: np.asarray(v).tolist()
                                                         for k, v in inputs.items()}),
        capture_output=True, text=True, env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def session_outputs(folder, inputs):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(folder / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    feed = {k: np.asarray(v, dtype=np.int32) for k, v in inputs.items()}
    return dict(zip(names, session.run(names, feed)))


@pytest.fixture(scope="module")
def classifier():
    return make_classifier()


@pytest.mark.model
def test_classifier_runs_in_onnxruntime_as_keras(classifier, tmp_path):
    folder = export_onnx(classifier, tmp_path / "onnx")
    inputs = {k: keras.ops.convert_to_numpy(v)
              for k, v in classifier.preprocessor((TEXT_A, TEXT_B)).items()}
    assert inputs["padding_mask"].min() == 0  # padded rows are part of the check
    result = run_in_onnxruntime(folder / "model.onnx", inputs)
    assert result["names"] == ["token_ids", "segment_ids", "padding_mask"]
    logits = keras.ops.convert_to_numpy(classifier(inputs, training=False))
    np.testing.assert_allclose(result["outputs"]["logits"], logits, atol=TOLERANCE)
    np.testing.assert_allclose(
        result["outputs"]["probabilities"],
        keras.ops.convert_to_numpy(keras.ops.softmax(logits)), atol=TOLERANCE,
    )
    metadata = json.loads((folder / "bert_keras.json").read_text())
    assert metadata["model"] == "BertClassifier" and metadata["num_classes"] == 3
    assert metadata["inputs"] == ["token_ids", "segment_ids", "padding_mask"]
    assert metadata["outputs"] == ["logits", "probabilities"]
    assert metadata["max_seq_length"] == 24 and metadata["lowercase"] is False
    import onnx

    operations = [node.op_type for node in onnx.load(str(folder / "model.onnx")).graph.node]
    # The embeddings' and two per block, each one node.
    assert operations.count("LayerNormalization") == 5
    assert not {"GlobalAveragePool", "ReduceMean", "Sqrt", "Reciprocal"} & set(operations)


@pytest.mark.tensorflow_only
def test_the_folder_tokenizer_gives_our_ids(classifier, tmp_path):
    transformers = pytest.importorskip("transformers")
    folder = export_onnx(classifier, tmp_path / "onnx")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    texts = ["The film was good.", "the movie is not very bad , and the plot !"]
    theirs = tokenizer(texts, padding="longest", return_tensors="np")
    ours = {k: keras.ops.convert_to_numpy(v) for k, v in classifier.preprocessor(texts).items()}
    # Ours pads to a multiple of 8 tokens; the columns past theirs are padding.
    width = theirs["input_ids"].shape[1]
    assert not ours["padding_mask"][:, width:].any()
    np.testing.assert_array_equal(theirs["input_ids"], ours["token_ids"][:, :width])
    np.testing.assert_array_equal(theirs["attention_mask"], ours["padding_mask"][:, :width])
    outputs = session_outputs(folder, {"token_ids": theirs["input_ids"],
                                       "segment_ids": theirs["token_type_ids"],
                                       "padding_mask": theirs["attention_mask"]})
    np.testing.assert_allclose(
        outputs["logits"], keras.ops.convert_to_numpy(classifier(ours, training=False)),
        atol=TOLERANCE)


@pytest.mark.tensorflow_only
def test_every_task_exports_its_token_id_outputs(tmp_path):
    from bert_keras.models import (
        BertMultipleChoice,
        BertSentenceEncoder,
        BertSpanLabeler,
        BertTokenClassifier,
    )
    from bert_keras.preprocessing import BertMultipleChoicePreprocessor, BertSpanPreprocessor

    keras.utils.set_random_seed(11)
    tokenizer = BertTokenizer(VOCABULARY, lowercase=False)
    backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    rng = np.random.default_rng(2)
    ids = rng.integers(0, len(VOCABULARY), (3, 10)).astype("int32")
    mask = (np.arange(10)[None] < np.array([[10], [6], [2]])).astype("int32")
    flat = {"token_ids": ids, "segment_ids": (np.arange(10)[None] > 4).astype("int32") * mask,
            "padding_mask": mask}
    choices = {k: np.stack([v, v[::-1]], axis=1) for k, v in flat.items()}
    # The erf GELU of transformers-sourced models (MiniLM among them).
    erf_backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32, activation="gelu",
    )
    cases = {
        "backbone": (backbone, BertPreprocessor(tokenizer, sequence_length=16), flat,
                     ["sequence_output", "pooled_output"]),
        "erf-backbone": (erf_backbone, BertPreprocessor(tokenizer, sequence_length=16), flat,
                         ["sequence_output", "pooled_output"]),
        "tagger": (BertTokenClassifier(backbone, ["O", "B-X", "I-X"], tokenizer=tokenizer,
                                       sequence_length=16), None, flat, ["logits"]),
        "span": (BertSpanLabeler(backbone, preprocessor=BertSpanPreprocessor(
            tokenizer, sequence_length=16, max_query_length=4, doc_stride=4)), None, flat,
            ["start_logits", "end_logits"]),
        "encoder": (BertSentenceEncoder(backbone, preprocessor=BertPreprocessor(
            tokenizer, sequence_length=16)), None, flat, ["embeddings"]),
        "choice": (BertMultipleChoice(backbone, preprocessor=BertMultipleChoicePreprocessor(
            tokenizer, sequence_length=16)), None, choices, ["logits", "probabilities"]),
    }
    for name, (model, preprocessor, inputs, names) in cases.items():
        folder = export_onnx(model, tmp_path / name, preprocessor=preprocessor)
        outputs = session_outputs(folder, inputs)
        assert sorted(outputs) == sorted(names), name
        expected = model(inputs, training=False)
        if name.endswith("backbone"):
            expected = {k: expected[k] for k in ("sequence_output", "pooled_output")}
        elif name == "choice":
            expected = {"logits": expected, "probabilities": keras.ops.softmax(expected)}
        elif name == "encoder":
            expected = {"embeddings": expected}
        elif not isinstance(expected, dict):
            expected = {"logits": expected}
        for key, value in expected.items():
            np.testing.assert_allclose(outputs[key], keras.ops.convert_to_numpy(value),
                                       atol=TOLERANCE, err_msg=f"{name}: {key}")
        metadata = json.loads((folder / "bert_keras.json").read_text())
        assert sorted(metadata["outputs"]) == sorted(names), name
    assert json.loads((tmp_path / "tagger" / "bert_keras.json").read_text())[
        "label_names"] == ["O", "B-X", "I-X"]


def test_bad_requests_are_clear_errors(classifier, tmp_path, monkeypatch):
    with pytest.raises(ExportError, match="opset=13 is older than the exports are tested at; use 17"):
        export_onnx(classifier, tmp_path / "old", opset=13)
    with pytest.raises(ExportError, match="quantize='int4' is not a quantization.*\"int8\""):
        export_onnx(classifier, tmp_path / "int4", quantize="int4")
    backbone = classifier.backbone
    with pytest.raises(ExportError, match="has no preprocessor.*BertPreprocessor"):
        export_onnx(backbone, tmp_path / "bare")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="overwrite"):
        export_onnx(classifier, tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    monkeypatch.setitem(sys.modules, "tf2onnx", None)
    with pytest.raises(ExportError, match=r"needs tf2onnx and onnx \(tf2onnx is missing\).*"
                       r"bert-keras\[onnx\]"):
        export_onnx(classifier, tmp_path / "missing")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.tensorflow_only
def test_a_failure_mid_write_leaves_nothing(classifier, tmp_path, monkeypatch):
    def fail_halfway(model, preprocessor, folder, *options):
        (folder / "model.onnx").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(onnx_module, "_write", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(classifier, tmp_path / "onnx")
    assert list(tmp_path.iterdir()) == []


def sentiment_examples(rng, count):
    """Sentences whose label is whether their one opinion word is positive."""
    opinions = (("bad", "awful"), ("good", "great"))
    fillers = ("the", "film", "movie", "was", "is", "plot", "and", "very", "a")
    labels = rng.integers(0, 2, count)
    texts = []
    for label in labels:
        words = list(rng.choice(fillers, rng.integers(3, 9)))
        words.insert(rng.integers(0, len(words) + 1), rng.choice(opinions[label]))
        texts.append(" ".join(words))
    return texts, labels


@pytest.mark.tensorflow_only
def test_int8_predicts_the_labels_of_float32(tmp_path):
    import onnx

    from bert_keras.models import BertClassifier

    keras.utils.set_random_seed(3)
    texts, labels = sentiment_examples(np.random.default_rng(3), 320)
    backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=32,
    )
    preprocessor = BertPreprocessor(BertTokenizer(VOCABULARY, lowercase=False), sequence_length=16)
    classifier = BertClassifier(backbone, 2, preprocessor=preprocessor)
    classifier.compile(learning_rate=3e-3)
    classifier.fit(texts[:192], labels[:192], batch_size=32, epochs=6, verbose=0)

    float32 = export_onnx(classifier, tmp_path / "float32")
    int8 = export_onnx(classifier, tmp_path / "int8", quantize="int8")
    ids = {k: keras.ops.convert_to_numpy(v) for k, v in preprocessor(texts[192:]).items()}
    expected = session_outputs(float32, ids)["probabilities"]
    result = run_in_onnxruntime(int8 / "model.onnx", ids)
    probabilities = np.asarray(result["outputs"]["probabilities"])
    assert np.mean(expected.argmax(-1) == labels[192:]) >= 0.9  # it learned the task
    # int8 weights and activations carry about 1% error per matmul, which
    # moves probabilities by 1e-4 here and 1e-2 on BERT-Base; a label flips only where
    # float32 itself is close to 0.5.
    assert np.mean(probabilities.argmax(-1) == expected.argmax(-1)) >= 126 / 128
    np.testing.assert_allclose(probabilities, expected, atol=0.02)
    def weight_matmuls(graph):
        weights = {initializer.name for initializer in graph.initializer}
        return [node for node in graph.node if node.op_type == "MatMul" and set(node.input) & weights]

    graph = onnx.load(str(int8 / "model.onnx")).graph
    assert not weight_matmuls(graph)
    int8_weights = {i.name.removesuffix("_quantized") for i in graph.initializer
                    if i.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
                    and i.name.endswith("_quantized")}
    float_inputs = {name for node in weight_matmuls(onnx.load(str(float32 / "model.onnx")).graph)
                    for name in node.input}
    # Two blocks of four dense layers, the pooler and the head; and the
    # token embeddings.
    assert len(float_inputs & int8_weights) == 10
    assert any("token_embedding" in name for name in int8_weights)
    assert json.loads((int8 / "bert_keras.json").read_text())["quantization"] == "int8"
    assert json.loads((float32 / "bert_keras.json").read_text())["quantization"] is None
    assert sorted(p.name for p in int8.iterdir()) == sorted(p.name for p in float32.iterdir())
