"""`bert-keras embed`: a text file to one embedding per line, in line order."""

import json

import numpy as np
import pytest

from bert_keras.cli.main import main
from bert_keras.models import BertSentenceEncoder
from tests.models.test_bert_sentence_encoder import sentence_transformers_folder

pytestmark = pytest.mark.model

LINES = ["the cat sat on the mat .", "", "a dog ran far", "the the the cat sat", "dog"]


@pytest.fixture
def folder(tmp_path):
    return sentence_transformers_folder(tmp_path / "st", {"pooling_mode_mean_tokens": True})[0]


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "sentences.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def test_npy_and_jsonl_hold_the_encoders_embeddings(folder, input_file, tmp_path, capsys):
    expected = BertSentenceEncoder.from_preset(str(folder)).predict(LINES, verbose=0)
    npy = tmp_path / "out.npy"
    assert main(["embed", "--preset", str(folder), "--input-file", str(input_file),
                 "--output-file", str(npy), "--batch-size", "2"]) == 0
    printed = capsys.readouterr().out
    assert "Pooling mean, normalized, up to 12 tokens." in printed
    assert "Wrote 5 embeddings of dimension 16" in printed
    embeddings = np.load(npy)
    assert embeddings.dtype == np.float32 and embeddings.shape == (5, 16)
    np.testing.assert_allclose(embeddings, expected, atol=1e-6)

    jsonl = tmp_path / "out.jsonl"
    assert main(["embed", "--preset", str(folder), "--input-file", str(input_file),
                 "--output-file", str(jsonl)]) == 0
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [row["index"] for row in rows] == list(range(5))
    np.testing.assert_allclose([row["embedding"] for row in rows], expected, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["st", "sentences.txt", "out.npy", "out.jsonl"]
    )


def test_flags_override_the_folder(folder, input_file, tmp_path):
    out = tmp_path / "raw.npy"
    assert main(["embed", "--preset", str(folder), "--input-file", str(input_file),
                 "--output-file", str(out), "--pooling", "max", "--no-normalize"]) == 0
    expected = BertSentenceEncoder.from_preset(str(folder), pooling="max", normalize=False)
    np.testing.assert_allclose(np.load(out), expected.predict(LINES, verbose=0), atol=1e-6)
    assert not np.allclose(np.linalg.norm(np.load(out), axis=1), 1.0)


def test_bad_requests_are_refused(folder, input_file, tmp_path, capsys):
    common = ["embed", "--preset", str(folder), "--input-file", str(input_file)]
    assert main([*common, "--output-file", str(tmp_path / "out.csv")]) == 1
    assert "must end in .npy" in capsys.readouterr().err
    assert main([*common, "--output-file", str(tmp_path / "no" / "out.npy")]) == 1
    assert "does not exist; create" in capsys.readouterr().err
    assert main(["embed", "--preset", str(folder), "--input-file", str(tmp_path / "none.txt"),
                 "--output-file", str(tmp_path / "out.npy")]) == 1
    assert "none.txt does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*common, "--output-file", str(tmp_path / "out.npy"), "--pooling", "sum"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'sum'" in capsys.readouterr().err
