"""`classify` on a saved model: refused for another task, wrapped errors for
a damaged file."""

import pytest

from bert_keras.cli.main import main
from bert_keras.models import BertBackbone, BertClassifier
from bert_keras.preprocessing import BertPreprocessor
from bert_keras.tokenizers import BertTokenizer
from tests.cli.test_refusals import write_sst2

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "fine", "dull", "film"]


def save_classifier(path, num_classes, **kwargs):
    backbone = BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=16,
    )
    preprocessor = BertPreprocessor(BertTokenizer(VOCABULARY), sequence_length=16, padding="longest")
    path.parent.mkdir(parents=True, exist_ok=True)
    BertClassifier(backbone, num_classes, preprocessor=preprocessor, **kwargs).save(path)


def evaluate(task, data, run):
    return main(["classify", "--task", task, "--data-dir", str(data), "--output-dir", str(run), "--do-eval"])


@pytest.mark.model
def test_a_saved_model_is_checked_against_the_task(tmp_path, capsys):
    data = write_sst2(tmp_path / "SST-2")
    run = tmp_path / "run"
    save_classifier(run / "model.keras", 1, task_name="sts-b")
    assert evaluate("sst-2", data, run) == 1
    error = capsys.readouterr().err
    assert "was trained for task 'sts-b' (regression)" in error and "not for sst-2" in error

    save_classifier(run / "model.keras", 2, task_name="cola", label_names=["0", "1"])
    assert evaluate("sst-2", data, run) == 1
    assert "task 'cola'" in capsys.readouterr().err

    # A model saved without a task is still checked by its number of classes.
    save_classifier(run / "model.keras", 3)
    assert evaluate("sst-2", data, run) == 1
    assert "(3 classes)" in capsys.readouterr().err

    save_classifier(run / "model.keras", 2, task_name="sst-2", label_names=["0", "1"])
    assert evaluate("sst-2", data, run) == 0
    assert "eval_accuracy" in capsys.readouterr().out


def test_a_truncated_model_file_is_a_clear_error(tmp_path, capsys):
    data = write_sst2(tmp_path / "SST-2")
    run = tmp_path / "run"
    save_classifier(run / "model.keras", 2)
    content = (run / "model.keras").read_bytes()
    (run / "model.keras").write_bytes(content[: len(content) // 2])
    assert evaluate("sst-2", data, run) == 1
    error = capsys.readouterr().err
    assert f"Cannot load {run / 'model.keras'} as a Keras model" in error
    assert "train again with --do-train --overwrite" in error
