"""`bert-keras multiple-choice --task swag` end to end on generated SWAG
files, with a preset served on 127.0.0.1.

The rule to learn: the right ending is the one that mentions a dog.
"""

import json

import numpy as np
import pytest

from bert_keras.cli.main import main

WORDS = ["the", "cat", "sat", "on", "mat", ".", "!"]
HEADER = ",video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,ending1,ending2,ending3,label"


def write_swag(folder, seed=0, train=160, dev=40, test=12):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)

    def words(count):
        return " ".join(str(w) for w in rng.choice(WORDS, count))

    for split, count in (("train", train), ("val", dev), ("test", test)):
        rows = []
        for i in range(count):
            label = int(rng.integers(4))
            endings = [words(3) for _ in range(4)]
            endings[label] = f"{words(1)} dog {words(1)}"
            row = [str(i), f"video{i}", str(i % 5), "", words(5), words(2), "gold", *endings]
            rows.append(",".join(row + ([] if split == "test" else [str(label)])))
        header = HEADER if split != "test" else HEADER[: -len(",label")]
        (folder / f"{split}.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def multiple_choice(data_dir, output_dir, *flags):
    return main([
        "multiple-choice", "--task", "swag", "--data-dir", str(data_dir),
        "--preset", "bert_tiny_en_uncased", "--output-dir", str(output_dir),
        "--max-seq-length", "24", "--batch-size", "16", "--learning-rate", "1e-3",
        "--epochs", "4", *flags,
    ])


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_train_eval_predict_writes_result_files(served, tmp_path, capsys):
    data_dir = write_swag(tmp_path / "swag")
    output_dir = tmp_path / "run"
    assert multiple_choice(data_dir, output_dir, "--do-train", "--do-eval", "--do-predict") == 0
    results = dict(line.split(" = ") for line in
                   (output_dir / "eval_results.txt").read_text().splitlines())
    saved = json.loads((output_dir / "eval_results.json").read_text())
    assert sorted(results) == ["eval_accuracy", "eval_loss", "global_step"]
    assert float(results["eval_accuracy"]) == saved["eval_accuracy"] >= 0.9
    # 160 examples / 16 * 4 epochs, as the original counts steps.
    assert saved["global_step"] == 40
    rows = [line.split("\t") for line in (output_dir / "test_results.tsv").read_text().splitlines()]
    assert len(rows) == 12 and all(len(row) == 4 for row in rows)
    assert np.allclose([sum(map(float, row)) for row in rows], 1.0, atol=1e-5)
    predictions = (output_dir / "test_predictions.csv").read_text().splitlines()
    assert predictions[0] == "id,label" and predictions[1].startswith("video0-0,")
    assert list((output_dir / "logs").rglob("*tfevents*"))
    assert multiple_choice(data_dir, output_dir, "--do-eval") == 0
    assert json.loads((output_dir / "eval_results.json").read_text()) == saved
    assert main(["export", "--model", str(output_dir / "model.keras"),
                 "--output", str(tmp_path / "exported")]) == 0
    assert "serving_default (context, choices)" in capsys.readouterr().out


@pytest.mark.backend_independent
def test_bad_files_are_refused_before_training(served, tmp_path, capsys):
    data_dir = write_swag(tmp_path / "swag")
    assert multiple_choice(data_dir, tmp_path / "run") == 1
    assert "--do-train" in capsys.readouterr().err
    (data_dir / "val.csv").unlink()
    assert multiple_choice(data_dir, tmp_path / "run", "--do-train", "--do-eval") == 1
    assert "val.csv does not exist" in capsys.readouterr().err
    lines = (data_dir / "train.csv").read_text().splitlines()
    fields = lines[3].split(",")
    fields[9] = ""
    lines[3] = ",".join(fields)
    (data_dir / "train.csv").write_text("\n".join(lines) + "\n")
    assert multiple_choice(data_dir, tmp_path / "run", "--do-train") == 1
    assert "train.csv, line 4: ending2 is empty" in capsys.readouterr().err
    assert not (tmp_path / "run" / "model.keras").exists()
