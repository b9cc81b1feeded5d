"""SavedModels on raw text: reloaded with TensorFlow and tensorflow-text
alone, they give the Keras model's outputs; exports are all or nothing.

Under the JAX backend the same tests exercise the export of a JAX-trained
model, which goes through a TensorFlow process.
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from bert_keras.errors import ExportError
from bert_keras.export import export_saved_model
from bert_keras.export import saved_model as saved_model_module
from bert_keras.models import BertBackbone, BertClassifier
from bert_keras.preprocessing import BertPreprocessor
from bert_keras.tokenizers import BertTokenizer

VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "film", "movie",
    "was", "is", "good", "great", "bad", "awful", "plot", "and", "not", "very",
    "cafe", "café", "中", "国", ".", ",", "!", "##s", "##ed", "##ly",
]  # fmt: skip

# Pairs (some with an empty second sentence, which packs as one sentence),
# empty strings, text far past `max_seq_length`, accents, CJK, unknown words.
TEXT_A = [
    "The film was good.",
    "",
    "a very bad plot " * 200,
    "Café CAFÉ cafe",
    "中国 film!",
    "zebra quux",
    "the movie",
]
TEXT_B = ["the plot is not great", "", "awful", "", "", "good", "great " * 100]

# Our own model in float32 on both sides of the comparison; only the order of
# float operations differs (XLA or Eigen kernels, batch shapes), a few 1e-7
# on probabilities.
TOLERANCE = 1e-5


def make_classifier(num_classes=3, sequence_length=24):
    keras.utils.set_random_seed(7)
    backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    preprocessor = BertPreprocessor(
        BertTokenizer(VOCABULARY, lowercase=False), sequence_length=sequence_length,
        padding="longest",
    )
    classifier = BertClassifier(backbone, num_classes, preprocessor=preprocessor)
    # A few steps of fine-tuning move the weights off their initialization.
    classifier.compile(learning_rate=1e-3)
    labels = np.arange(len(TEXT_A)) % num_classes
    if num_classes == 1:
        labels = labels.astype("float32")
    classifier.fit((TEXT_A, TEXT_B), labels, batch_size=4, epochs=1, verbose=0)
    return classifier


def run_in_plain_tensorflow(script):
    """Runs `script` in a process that imports TensorFlow, not bert_keras."""
    prelude = textwrap.dedent(
        """
        import json, sys
        import tensorflow as tf
        import tensorflow_text  # registers the WordPiece op
        imported = set(sys.modules)
        """
    )
    epilogue = textwrap.dedent(
        """
        # tensorflow_text imports Keras itself; loading and running the
        # export must import nothing more of it, and nothing of ours.
        assert not any("keras" in name for name in set(sys.modules) - imported)
        assert not any(name.startswith("bert_keras") for name in sys.modules)
        """
    )
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    environment.pop("KERAS_BACKEND", None)
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script) + epilogue],
        capture_output=True, text=True, env=environment,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def classifier():
    return make_classifier()


@pytest.fixture(scope="module")
def exported(classifier, tmp_path_factory):
    return export_saved_model(classifier, tmp_path_factory.mktemp("export") / "classifier")


def test_reloaded_with_tensorflow_text_only_matches_keras(classifier, exported):
    outputs = run_in_plain_tensorflow(
        f"""
        loaded = tf.saved_model.load({str(exported)!r})
        pairs = loaded.signatures["serving_default"](
            text_a=tf.constant({TEXT_A!r}), text_b=tf.constant({TEXT_B!r})
        )
        singles = loaded.signatures["serve_text"](text_a=tf.constant({TEXT_A!r}))
        ids = loaded.signatures["serve_token_ids"](
            token_ids=tf.constant([[2, 5, 7, 3, 0]]),
            segment_ids=tf.constant([[0, 0, 0, 0, 0]]),
            padding_mask=tf.constant([[1, 1, 1, 1, 0]]),
        )
        with open(loaded.vocabulary_file.asset_path.numpy(), encoding="utf-8") as file:
            vocabulary = file.read().splitlines()
        print(json.dumps({{
            "pairs": {{k: v.numpy().tolist() for k, v in pairs.items()}},
            "singles": {{k: v.numpy().tolist() for k, v in singles.items()}},
            "ids": {{k: v.numpy().tolist() for k, v in ids.items()}},
            "max_seq_length": int(loaded.max_seq_length.numpy()),
            "lowercase": bool(loaded.lowercase.numpy()),
            "vocabulary": vocabulary,
        }}))
        """
    )
    logits = classifier.predict((TEXT_A, TEXT_B), verbose=0)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
    np.testing.assert_allclose(outputs["pairs"]["logits"], logits, atol=TOLERANCE)
    np.testing.assert_allclose(outputs["pairs"]["probabilities"], probabilities, atol=TOLERANCE)
    np.testing.assert_allclose(
        outputs["singles"]["logits"], classifier.predict(TEXT_A, verbose=0), atol=TOLERANCE
    )
    # An empty second sentence is the same as none, as in the original.
    np.testing.assert_allclose(outputs["pairs"]["logits"][1], outputs["singles"]["logits"][1], atol=TOLERANCE)
    token_inputs = {
        "token_ids": np.array([[2, 5, 7, 3, 0]], "int32"),
        "segment_ids": np.zeros((1, 5), "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 0]], "int32"),
    }
    np.testing.assert_allclose(
        outputs["ids"]["logits"],
        keras.ops.convert_to_numpy(classifier(token_inputs, training=False)),
        atol=TOLERANCE,
    )
    assert outputs["max_seq_length"] == 24
    assert outputs["lowercase"] is False
    assert outputs["vocabulary"] == VOCABULARY


def test_metadata_describes_the_export(exported):
    metadata = json.loads((exported / "assets.extra" / "bert_keras.json").read_text())
    assert metadata["model"] == "BertClassifier"
    assert metadata["num_classes"] == 3
    assert metadata["max_seq_length"] == 24
    assert metadata["backbone"]["num_layers"] == 2
    assert metadata["signatures"]["serving_default"] == {
        "inputs": ["text_a", "text_b"],
        "outputs": ["logits", "probabilities"],
    }


@pytest.mark.slow
def test_saved_model_cli_lists_string_signatures(exported):
    cli = pathlib.Path(sys.executable).with_name("saved_model_cli")
    if not cli.exists():
        pytest.skip(f"saved_model_cli is not installed next to {sys.executable}")
    result = subprocess.run(
        [str(cli), "show", "--dir", str(exported), "--all"],
        capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    signatures = result.stdout.split("signature_def['")
    by_name = {block.split("'")[0]: block for block in signatures[1:]}
    assert {"serving_default", "serve_text", "serve_token_ids"} <= set(by_name)
    default = by_name["serving_default"]
    for name in ("text_a", "text_b"):
        assert f"inputs['{name}'] tensor_info:\n        dtype: DT_STRING" in default
    assert "outputs['probabilities']" in default
    assert "dtype: DT_INT32" in by_name["serve_token_ids"]


def test_bad_requests_name_the_problem(exported):
    messages = run_in_plain_tensorflow(
        f"""
        loaded = tf.saved_model.load({str(exported)!r})
        messages = []
        try:
            loaded.signatures["serving_default"](
                text_a=tf.constant(["a", "b"]), text_b=tf.constant(["a"])
            )
        except tf.errors.InvalidArgumentError as error:
            messages.append(error.message)
        try:
            loaded.signatures["serve_token_ids"](
                token_ids=tf.constant([[2, 999, 3]]),
                segment_ids=tf.constant([[0, 0, 0]]),
                padding_mask=tf.constant([[1, 1, 1]]),
            )
        except tf.errors.InvalidArgumentError as error:
            messages.append(error.message)
        try:
            loaded.signatures["serve_token_ids"](
                token_ids=tf.fill([1, 40], 2),
                segment_ids=tf.zeros([1, 40], tf.int32),
                padding_mask=tf.ones([1, 40], tf.int32),
            )
        except tf.errors.InvalidArgumentError as error:
            messages.append(error.message)
        print(json.dumps(messages))
        """
    )
    assert len(messages) == 3
    assert "text_a and text_b must hold the same number of strings" in messages[0]
    assert f"Found a token id outside [0, {len(VOCABULARY)})" in messages[1]
    assert "serve_token_ids takes at most 32 tokens per row" in messages[2]


def test_an_empty_request_gets_an_empty_answer(exported):
    shapes = run_in_plain_tensorflow(
        f"""
        loaded = tf.saved_model.load({str(exported)!r})
        empty = tf.constant([], tf.string)
        pair = loaded.signatures["serving_default"](text_a=empty, text_b=empty)
        single = loaded.signatures["serve_text"](text_a=empty)
        print(json.dumps([pair["probabilities"].shape.as_list(), single["logits"].shape.as_list()]))
        """
    )
    assert shapes == [[0, 3], [0, 3]]


def test_a_threshold_is_refused_for_a_classifier(classifier, tmp_path):
    with pytest.raises(ExportError, match="no such answer"):
        export_saved_model(classifier, tmp_path / "export", null_score_diff_threshold=0.0)
    assert not (tmp_path / "export").exists()


@pytest.mark.tensorflow_only
def test_backbone_export_for_feature_extraction(classifier, tmp_path):
    backbone = classifier.backbone
    with pytest.raises(ExportError, match="preprocessor=BertPreprocessor"):
        export_saved_model(backbone, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    path = export_saved_model(backbone, tmp_path / "backbone", preprocessor=classifier.preprocessor)
    outputs = run_in_plain_tensorflow(
        f"""
        loaded = tf.saved_model.load({str(path)!r})
        outputs = loaded.signatures["serving_default"](
            text_a=tf.constant({TEXT_A!r}), text_b=tf.constant({TEXT_B!r})
        )
        print(json.dumps({{k: v.numpy().tolist() for k, v in outputs.items()}}))
        """
    )
    inputs = classifier.preprocessor((TEXT_A, TEXT_B))
    expected = backbone(inputs, training=False)
    length = np.asarray(outputs["token_ids"]).shape[1]
    for key in ("token_ids", "padding_mask"):
        np.testing.assert_array_equal(outputs[key], np.asarray(inputs[key])[:, :length])
    mask = np.asarray(outputs["padding_mask"], bool)
    np.testing.assert_allclose(
        np.asarray(outputs["sequence_output"])[mask],
        keras.ops.convert_to_numpy(expected["sequence_output"])[:, :length][mask],
        atol=TOLERANCE,
    )
    np.testing.assert_allclose(
        outputs["pooled_output"], keras.ops.convert_to_numpy(expected["pooled_output"]), atol=TOLERANCE
    )


@pytest.mark.tensorflow_only
def test_regression_exports_predictions(tmp_path):
    regressor = make_classifier(num_classes=1)
    path = export_saved_model(regressor, tmp_path / "regressor")
    outputs = run_in_plain_tensorflow(
        f"""
        loaded = tf.saved_model.load({str(path)!r})
        outputs = loaded.signatures["serve_text"](text_a=tf.constant({TEXT_A!r}))
        print(json.dumps({{k: v.numpy().tolist() for k, v in outputs.items()}}))
        """
    )
    assert set(outputs) == {"predictions"}
    np.testing.assert_allclose(
        outputs["predictions"], regressor.predict(TEXT_A, verbose=0)[:, 0], atol=TOLERANCE
    )


@pytest.mark.tensorflow_only
def test_existing_export_is_kept_unless_overwrite(classifier, exported, tmp_path):
    target = tmp_path / "export"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="overwrite=True"):
        export_saved_model(classifier, target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    with pytest.raises(ExportError, match="not an export made by bert-keras"):
        export_saved_model(classifier, target, overwrite=True)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    (target / "keep.txt").unlink()
    export_saved_model(classifier, target, overwrite=True)
    export_saved_model(classifier, target, overwrite=True)
    assert (target / "saved_model.pb").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_a_failure_mid_write_leaves_nothing(classifier, tmp_path, monkeypatch):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("writes in a TensorFlow process under this backend; the TensorFlow run injects the failure")

    def fail_halfway(model, preprocessor, folder, null_score_diff_threshold):
        (folder / "saved_model.pb").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(saved_model_module, "_write", fail_halfway)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(classifier, tmp_path / "export")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_process_is_reported_and_leaves_nothing(classifier, tmp_path, monkeypatch):
    if keras.backend.backend() == "tensorflow":
        pytest.skip("exports in this process under TensorFlow")
    crashing = tmp_path / "crashing-python"
    crashing.write_text("#!/bin/sh\necho 'MemoryError: out of memory' >&2\nexit 1\n")
    crashing.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(crashing))
    with pytest.raises(ExportError, match="TensorFlow process failed(.|\n)*MemoryError"):
        export_saved_model(classifier, tmp_path / "export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crashing-python"]


def test_unwritable_destination_is_a_clear_error(classifier, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        export_saved_model(classifier, blocker / "export")
    with pytest.raises(ExportError, match="is a file"):
        export_saved_model(classifier, blocker)
    assert blocker.read_text() == "not a folder"


def test_only_bert_models_are_exported(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ExportError, match="BertBackbone or BertClassifier"):
        export_saved_model(model, tmp_path / "export")


def test_keras_file_loads_in_a_fresh_process(classifier, tmp_path):
    path = tmp_path / "classifier.keras"
    classifier.save(path)
    script = textwrap.dedent(
        f"""
        import json
        import keras
        import bert_keras.models  # registers the classes
        model = keras.models.load_model({str(path)!r})
        print(json.dumps(model.predict(({TEXT_A!r}, {TEXT_B!r}), verbose=0).tolist()))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(
        json.loads(result.stdout.strip().splitlines()[-1]),
        classifier.predict((TEXT_A, TEXT_B), verbose=0),
        atol=TOLERANCE,
    )


@pytest.mark.tensorflow_only
def test_span_labeler_answers_raw_questions(tmp_path):
    from bert_keras.models import BertSpanLabeler
    from bert_keras.preprocessing import BertSpanPreprocessor

    keras.utils.set_random_seed(5)
    backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    preprocessor = BertSpanPreprocessor(
        BertTokenizer(VOCABULARY), sequence_length=20, doc_stride=4, max_query_length=6
    )
    labeler = BertSpanLabeler(backbone, preprocessor=preprocessor)
    questions = ["what was the film ?", "is it good", "中国 ?", "empty"]
    contexts = ["The film was very good and the plot, not bad. " * 3, "a great movie!", "中国 film", ""]
    path = export_saved_model(labeler, tmp_path / "span", null_score_diff_threshold=0.5)
    outputs = run_in_plain_tensorflow(
        f"""
        loaded = tf.saved_model.load({str(path)!r})
        outputs = loaded.signatures["serving_default"](
            question=tf.constant({questions!r}), context=tf.constant({contexts!r})
        )
        result = {{k: v.numpy().tolist() for k, v in outputs.items() if k != "answer"}}
        result["answer"] = [a.decode("utf-8") for a in outputs["answer"].numpy()]
        print(json.dumps(result))
        """
    )
    expected = labeler.predict((questions, contexts), null_score_diff_threshold=0.5)
    assert outputs["answer"] == expected["answer"].tolist()
    assert outputs["answer"][3] == ""
    for key in ("answer_start", "answer_end"):
        assert outputs[key] == expected[key].tolist()
    for key in ("score", "null_score_diff"):
        np.testing.assert_allclose(outputs[key], expected[key], atol=TOLERANCE, rtol=1e-6)
    start_logits = np.asarray(outputs["start_logits"])
    # `[questions, windows, seq]`: the long context takes several windows,
    # the empty one a single one.
    assert start_logits.shape[0] == 4 and start_logits.shape[1] > 2
    assert np.all(start_logits[3, 1:] == -1e9) and np.any(start_logits[3, 0] > -1e9)



@pytest.mark.model
@pytest.mark.tensorflow_only
def test_multiple_choice_scores_raw_choices(tmp_path):
    from bert_keras.models import BertMultipleChoice
    from bert_keras.preprocessing import BertMultipleChoicePreprocessor

    keras.utils.set_random_seed(3)
    backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    packer = BertMultipleChoicePreprocessor(
        BertTokenizer(VOCABULARY, lowercase=True), sequence_length=16, padding="longest")
    chooser = BertMultipleChoice(backbone, 3, preprocessor=packer)
    contexts = ["The film was good.", "a very bad plot " * 20]
    choices = [["and great", "", "not good"], ["Café!", "awful " * 30, "the movie"]]
    chooser.fit((contexts, choices), [0, 2], epochs=1, verbose=0)
    folder = export_saved_model(chooser, tmp_path / "chooser")
    outputs = run_in_plain_tensorflow(
        f"""
        loaded = tf.saved_model.load({str(folder)!r})
        scores = loaded.signatures["serving_default"](
            context=tf.constant({contexts!r}), choices=tf.constant({choices!r}))
        ids = loaded.signatures["serve_token_ids"](
            token_ids=tf.constant([[[2, 5, 3, 6, 3]] * 3]),
            segment_ids=tf.constant([[[0, 0, 0, 1, 1]] * 3]),
            padding_mask=tf.constant([[[1, 1, 1, 1, 1]] * 3]))
        print(json.dumps({{"scores": {{k: v.numpy().tolist() for k, v in scores.items()}},
                           "ids": ids["logits"].numpy().tolist()}}))
        """
    )
    logits = chooser.predict((contexts, choices), verbose=0)
    np.testing.assert_allclose(outputs["scores"]["logits"], logits, atol=TOLERANCE)
    np.testing.assert_allclose(np.sum(outputs["scores"]["probabilities"], -1), 1.0, atol=1e-6)
    assert np.ptp(outputs["ids"][0]) < TOLERANCE
    metadata = json.loads((folder / "assets.extra" / "bert_keras.json").read_text())
    assert metadata["model"] == "BertMultipleChoice" and metadata["num_choices"] == 3
    assert sorted(metadata["signatures"]["serving_default"]["inputs"]) == ["choices", "context"]


TAGGER_TEXTS = [
    "The film was good, and the plot.",
    "",
    "\u200b\x00",
    "Café CAFÉ cafe 中国!",
    "zebra quux, the movie " * 12,
    "a very bad plot",
]


@pytest.mark.model
@pytest.mark.tensorflow_only
def test_tagger_tags_raw_text_in_the_graph_as_predict_does(tmp_path):
    from bert_keras.models import BertTokenClassifier

    keras.utils.set_random_seed(5)
    backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    labels = ["O", "B-ORG", "I-ORG", "B-LOC-X", "I-LOC-X", "NOUN"]
    # Windows of 8 pieces: the long text is read in many, and ties between
    # windows are common.
    tagger = BertTokenClassifier(backbone, labels, tokenizer=BertTokenizer(VOCABULARY),
                                 sequence_length=8, stride=3)
    # Large random logits: every label is predicted somewhere.
    rng = np.random.default_rng(0)
    for variable in tagger.output_dense.weights:
        variable.assign(rng.normal(0.0, 3.0, variable.shape).astype("float32"))
    expected = tagger.predict(TAGGER_TEXTS)
    assert sum(len(r["entities"]) for r in expected) > 5
    folder = export_saved_model(tagger, tmp_path / "tagger")
    outputs = run_in_plain_tensorflow(
        f"""
        loaded = tf.saved_model.load({str(folder)!r})
        tagged = loaded.signatures["serving_default"](text=tf.constant({TAGGER_TEXTS!r}))
        empty = loaded.signatures["serving_default"](text=tf.constant([], tf.string))
        print(json.dumps({{
            "tagged": {{k: v.numpy().tolist() for k, v in tagged.items()}},
            "empty": {{k: list(v.shape) for k, v in empty.items()}},
        }}, default=lambda b: b.decode("utf-8")))
        """
    )
    tagged = outputs["tagged"]
    for row, result in enumerate(expected):
        count = tagged["num_words"][row]
        assert count == len(result["words"])
        assert tagged["words"][row][:count] == result["words"]
        assert tagged["tags"][row][:count] == result["tags"]
        offsets = list(zip(tagged["word_starts"][row], tagged["word_ends"][row]))[:count]
        assert offsets == [tuple(pair) for pair in result["offsets"]]
        entities = [
            {"text": tagged["entity_texts"][row][i], "type": tagged["entity_types"][row][i],
             "start": tagged["entity_starts"][row][i], "end": tagged["entity_ends"][row][i]}
            for i in range(tagged["num_entities"][row])
        ]
        assert entities == result["entities"]
    assert outputs["empty"]["num_words"] == [0]
    metadata = json.loads((folder / "assets.extra" / "bert_keras.json").read_text())
    assert metadata["model"] == "BertTokenClassifier" and metadata["label_names"] == labels
