"""`bert-keras squad` and `squad-eval` end to end: a random-weight preset
served on 127.0.0.1 learns a span rule from a generated SQuAD file, and the
official metrics of its predictions are high."""

import json

import numpy as np
import pytest
import tensorflow as tf

from bert_keras.cli.main import main
from bert_keras.data.squad import evaluate_files
from tests.data.squad_files import answer, question, squad_data, write_squad

FILLER = ["the", "cat", "sat", "on", "mat", ".", ",", "a", "b", "c"]


def write_marked_squad(path, count, version, seed):
    """Each answer runs from the word "dog" to the next "!"; a v2.0 question
    on a paragraph without them has no answer."""
    rng = np.random.default_rng(seed)
    paragraphs = []
    for i in range(count):
        words = list(rng.choice(FILLER, rng.integers(8, 30)))
        impossible = version == "2.0" and i % 3 == 0
        if impossible:
            context = " ".join(words)
            qa = question(f"q{i}", "where is the dog ?", is_impossible=True)
        else:
            span = ["dog", *rng.choice(FILLER[:5], rng.integers(0, 3)), "!"]
            at = int(rng.integers(0, len(words) + 1))
            context = " ".join(words[:at] + span + words[at:])
            qa = question(
                f"q{i}", "where is the dog ?", [answer(context, " ".join(span))],
                is_impossible=False if version == "2.0" else None,
            )
        paragraphs.append((context, [qa]))
    return write_squad(path, squad_data(paragraphs, version=version))


def squad(tmp_path, version, *flags):
    train = write_marked_squad(tmp_path / "train.json", 192, version, seed=0)
    dev = write_marked_squad(tmp_path / "dev.json", 48, version, seed=1)
    output_dir = tmp_path / "run"
    code = main([
        "squad", "--preset", "bert_tiny_en_uncased", "--train-file", str(train),
        "--predict-file", str(dev), "--do-train", "--do-predict", "--output-dir", str(output_dir),
        # Short windows, so that long paragraphs span several of them.
        "--max-seq-length", "32", "--doc-stride", "8", "--max-query-length", "8",
        "--batch-size", "16", "--learning-rate", "2e-3", "--epochs", "6", *flags,
    ])
    return code, dev, output_dir


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_squad_v1_learns_and_reports_official_metrics(served, tmp_path, capsys):
    code, dev, output_dir = squad(tmp_path, "1.1")
    assert code == 0
    printed = capsys.readouterr().out
    results = json.loads((output_dir / "eval_results.json").read_text())
    assert set(results) == {"exact_match", "f1"}
    assert results["f1"] >= 90.0, results
    assert json.dumps(results) in printed
    predictions = json.loads((output_dir / "predictions.json").read_text())
    assert len(predictions) == 48
    nbest = json.loads((output_dir / "nbest_predictions.json").read_text())
    assert abs(sum(entry["probability"] for entry in nbest["q0"]) - 1.0) < 1e-6
    assert not (output_dir / "null_odds.json").exists()
    assert (output_dir / "model.keras").exists()

    # squad-eval prints what the official script prints for the same files.
    assert main(["squad-eval", str(dev), str(output_dir / "predictions.json")]) == 0
    assert capsys.readouterr().out.strip() == json.dumps(results)

    # The exported model answers raw questions with the same windows and
    # spans as the Python post-processing.
    exported = tmp_path / "exported"
    assert main(["export", "--model", str(output_dir / "model.keras"), "--output", str(exported)]) == 0
    paragraphs = json.loads(dev.read_text())["data"][0]["paragraphs"]
    serve = tf.saved_model.load(str(exported)).signatures["serving_default"]
    served = serve(
        question=tf.constant([p["qas"][0]["question"] for p in paragraphs]),
        context=tf.constant([p["context"] for p in paragraphs]),
    )
    answers = [answer.decode() for answer in served["answer"].numpy()]
    assert answers == [predictions[p["qas"][0]["id"]] for p in paragraphs]


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_squad_v2_predicts_no_answer(served, tmp_path, capsys):
    code, dev, output_dir = squad(tmp_path, "2.0", "--version-2-with-negative")
    assert code == 0
    results = json.loads((output_dir / "eval_results.json").read_text())
    assert results["HasAns_total"] == 32 and results["NoAns_total"] == 16
    assert results["f1"] >= 80.0, results
    assert results["NoAns_exact"] >= 80.0, results
    null_odds = json.loads((output_dir / "null_odds.json").read_text())
    assert set(null_odds) == set(json.loads((output_dir / "predictions.json").read_text()))
    assert results == evaluate_files(dev, output_dir / "predictions.json", output_dir / "null_odds.json")


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    output = str(tmp_path / "run")
    assert main(["squad", "--output-dir", output]) == 1
    assert "Nothing to do" in capsys.readouterr().err
    assert main(["squad", "--do-train", "--output-dir", output]) == 1
    assert "--train-file is required" in capsys.readouterr().err
    assert main([
        "squad", "--do-predict", "--predict-file", "x.json", "--output-dir", output,
        "--max-seq-length", "32", "--max-query-length", "30",
    ]) == 1
    assert "leaves no room" in capsys.readouterr().err


def test_squad_eval_reports_bad_files(tmp_path, capsys):
    dataset = write_squad(tmp_path / "dev.json", squad_data([("the dog sat", [question("q", "who ?", [answer("the dog sat", "dog")])])]))
    assert main(["squad-eval", str(dataset), str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps({"q": "dog sat"}))
    assert main(["squad-eval", str(dataset), str(predictions)]) == 0
    # Precision 1/2, recall 1, computed as the official script does.
    f1 = 2 * 0.5 * 1.0 / (0.5 + 1.0)
    assert json.loads(capsys.readouterr().out) == {"exact_match": 0.0, "f1": 100.0 * f1 / 1}
