"""`bert-keras classify` end to end on a generated MRPC-format dataset,
with a preset served on 127.0.0.1."""

import json

import numpy as np
import pytest

from bert_keras.cli.main import main

WORDS = ["the", "cat", "sat", "on", "mat", ".", ","]


def write_mrpc(folder, seed=0, train=240, dev=60, test=20):
    """MRPC's layout; a pair is a paraphrase (1) iff its second sentence
    mentions a dog, a signal a tiny model learns in a few epochs."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)

    def sentence(with_dog):
        words = list(rng.choice(WORDS, rng.integers(3, 9)))
        if with_dog:
            words.insert(int(rng.integers(0, len(words) + 1)), "dog")
        return " ".join(words)

    def rows(count, labelled=True):
        for i in range(count):
            label = i % 2
            first, second = sentence(rng.random() < 0.5), sentence(label == 1)
            yield (str(label) if labelled else str(i)), first, second

    header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    for split, count in (("train", train), ("dev", dev)):
        lines = [f"{label}\t{i}\t{i + 1000}\t{a}\t{b}\n" for i, (label, a, b) in enumerate(rows(count))]
        (folder / f"{split}.tsv").write_text(header + "".join(lines))
    test_header = "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    lines = [f"{index}\t{i}\t{i + 1000}\t{a}\t{b}\n" for i, (index, a, b) in enumerate(rows(test, False))]
    (folder / "test.tsv").write_text(test_header + "".join(lines))
    return folder


@pytest.fixture
def mrpc(tmp_path):
    return write_mrpc(tmp_path / "MRPC")


def classify(data_dir, output_dir, *flags):
    return main([
        "classify", "--task", "mrpc", "--data-dir", str(data_dir), "--preset", "bert_tiny_en_uncased",
        "--output-dir", str(output_dir), "--max-seq-length", "32", "--batch-size", "16",
        "--learning-rate", "1e-3", "--epochs", "4", *flags,
    ])


@pytest.mark.slow
def test_train_eval_predict_writes_the_original_result_files(served, mrpc, tmp_path):
    output_dir = tmp_path / "run"
    assert classify(mrpc, output_dir, "--do-train", "--do-eval", "--do-predict") == 0
    lines = (output_dir / "eval_results.txt").read_text().splitlines()
    results = dict(line.split(" = ") for line in lines)
    assert sorted(results) == ["eval_accuracy", "eval_f1", "eval_loss", "global_step"]
    assert json.loads((output_dir / "eval_results.json").read_text())["eval_accuracy"] == float(
        results["eval_accuracy"]
    )
    assert float(results["eval_accuracy"]) >= 0.9
    # Cross-entropy of a classifier that is right on 90% of pairs.
    assert 0.0 < float(results["eval_loss"]) < 0.5
    # 240 examples / 16 * 4 epochs, as the original counts steps.
    assert int(results["global_step"]) == 60
    rows = [line.split("\t") for line in (output_dir / "test_results.tsv").read_text().splitlines()]
    assert len(rows) == 20 and all(len(row) == 2 for row in rows)
    assert np.allclose([sum(map(float, row)) for row in rows], 1.0, atol=1e-5)
    assert list((output_dir / "checkpoints").glob("epoch_*.weights.h5"))
    assert list((output_dir / "logs").rglob("*tfevents*"))

    # Evaluating again loads the saved model; training again is refused.
    before = (output_dir / "model.keras").read_bytes()
    assert classify(mrpc, output_dir, "--do-eval") == 0
    assert classify(mrpc, output_dir, "--do-train") == 1
    assert (output_dir / "model.keras").read_bytes() == before


def test_nothing_to_do_and_missing_model_are_explained(served, mrpc, tmp_path, capsys):
    assert classify(mrpc, tmp_path / "empty") == 1
    assert "--do-train" in capsys.readouterr().err
    assert classify(mrpc, tmp_path / "empty", "--do-eval") == 1
    assert "model.keras does not exist" in capsys.readouterr().err


def test_bad_rows_name_file_and_line(served, mrpc, tmp_path, capsys):
    with open(mrpc / "train.tsv", "a") as file:
        file.write("1\tonly three\tcolumns\n")
    assert classify(mrpc, tmp_path / "run", "--do-train") == 1
    error = capsys.readouterr().err
    assert "train.tsv:242" in error


@pytest.mark.slow
def test_accumulation_remat_and_device_flags_keep_the_original_step_count(served, mrpc, tmp_path, capsys):
    import keras

    output_dir = tmp_path / "run"
    assert classify(
        mrpc, output_dir, "--do-train", "--do-eval", "--epochs", "1", "--grad-accum-steps", "2",
        "--remat", "--distribution", "cpu", "--precision", "float32", "--steps-per-execution", "2",
        "--attention-dropout", "0",
    ) == 0
    printed = capsys.readouterr().out
    assert "Running on 1 replica" in printed and "float32" in printed
    assert "15 steps of 16 (each 2 micro-batches of 8)" in printed
    # 240 examples / 16 per update: the updates of the original, not the micro-batches.
    assert json.loads((output_dir / "eval_results.json").read_text())["global_step"] == 15
    backbone = keras.models.load_model(output_dir / "model.keras").backbone
    assert backbone.remat and backbone.attention_dropout == 0
    assert all(block.attention.attention_dropout == 0 for block in backbone.encoder_blocks)


@pytest.mark.parametrize("rate", ["1", "-0.1", "high"])
def test_an_attention_dropout_outside_zero_to_one_is_refused(rate, tmp_path, capsys):
    with pytest.raises(SystemExit):
        classify(tmp_path, tmp_path / "run", "--do-train", "--attention-dropout", rate)
    assert "--attention-dropout" in capsys.readouterr().err


def test_a_batch_that_does_not_split_is_refused(served, mrpc, tmp_path, capsys):
    assert classify(mrpc, tmp_path / "run", "--do-train", "--batch-size", "15", "--grad-accum-steps", "2") == 1
    assert "choose a multiple of 2" in capsys.readouterr().err
