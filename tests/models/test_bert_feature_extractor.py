"""`bert-keras extract-features` and BertFeatureExtractor against the output of
the original `extract_features.py` on the same checkpoint and input."""

import json
import pathlib

import numpy as np
import pytest

from bert_keras.cli.main import main
from bert_keras.errors import DataError
from bert_keras.models import BertFeatureExtractor

pytestmark = pytest.mark.model

REFERENCE = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "pretraining"
# The original rounds values to 6 decimals; its float32 forward pass and
# ours differ by about 1e-7 before that.
TOLERANCE = 1e-5


def reference_files():
    if not (REFERENCE / "features_output.jsonl").exists():
        pytest.skip(f"the shared reference data is absent ({REFERENCE})")
    return REFERENCE / "checkpoint_L2_H32_A2", REFERENCE / "features_input.txt"


def read_jsonl(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text("utf-8").splitlines()]


def assert_same_features(ours, theirs):
    assert len(ours) == len(theirs)
    for mine, original in zip(ours, theirs):
        assert list(mine) == ["linex_index", "features"]
        assert mine["linex_index"] == original["linex_index"]
        assert [f["token"] for f in mine["features"]] == [f["token"] for f in original["features"]]
        for token, token_original in zip(mine["features"], original["features"]):
            assert [layer["index"] for layer in token["layers"]] == [
                layer["index"] for layer in token_original["layers"]
            ]
            for layer, layer_original in zip(token["layers"], token_original["layers"]):
                np.testing.assert_allclose(layer["values"], layer_original["values"], atol=TOLERANCE)


def extract(tmp_path, input_file, output_name="features.jsonl", *flags):
    checkpoint, _ = reference_files()
    output = tmp_path / output_name
    code = main([
        "extract-features", "--input-file", str(input_file), "--output-file", str(output),
        "--preset", str(checkpoint), "--layers=-1,-2", "--max-seq-length=32", *flags,
    ])
    assert code == 0
    return output


def test_matches_the_original_output(tmp_path, capsys):
    _, input_file = reference_files()
    output = extract(tmp_path, input_file, "features.jsonl", "--batch-size", "2")
    assert "Wrote the features of 5 lines" in capsys.readouterr().out
    assert_same_features(read_jsonl(output), read_jsonl(REFERENCE / "features_output.jsonl"))
    # The original's own serialization: key order, separators, 6 decimals.
    first = output.read_text("utf-8").splitlines()[0]
    assert first.startswith('{"linex_index": 0, "features": [{"token": "[CLS]", "layers": [{"index": -1, "values": [')
    assert [p.name for p in tmp_path.iterdir()] == ["features.jsonl"]


def test_npz_holds_the_same_values_unrounded(tmp_path):
    _, input_file = reference_files()
    output = extract(tmp_path, input_file, "features.npz")
    original = read_jsonl(REFERENCE / "features_output.jsonl")
    with np.load(output) as arrays:
        assert sorted(arrays.files) == sorted(
            ["layers", "layer_-1", "layer_-2", "tokens", "linex_index", "offsets"]
        )
        assert arrays["layers"].tolist() == [-1, -2]
        assert arrays["linex_index"].tolist() == [0, 1, 2, 3, 4]
        offsets = arrays["offsets"]
        assert arrays["layer_-1"].dtype == np.float32 and arrays["layer_-1"].shape == (offsets[-1], 32)
        for i, example in enumerate(original):
            rows = slice(offsets[i], offsets[i + 1])
            assert arrays["tokens"][rows].tolist() == [f["token"] for f in example["features"]]
            for position, index in enumerate((-1, -2)):
                values = [f["layers"][position]["values"] for f in example["features"]]
                np.testing.assert_allclose(arrays[f"layer_{index}"][rows], values, atol=TOLERANCE)


def test_odd_lines_split_as_the_original_regex_does(tmp_path):
    checkpoint, _ = reference_files()
    lines = [
        "||| starts with the separator",
        "ends with the separator |||",
        " ||| spaces on both sides ||| ",
        "a ||| b ||| c",
        "a|||b",
        "",
        "   ",
        "\u00a0 no-break spaces \u00a0",
        "line\rwith a carriage return",
        " ".join(["long"] * 200),
    ]
    input_file = tmp_path / "odd.txt"
    input_file.write_bytes(("\n".join(lines) + "\n").encode("utf-8") + b"bad \xff byte")
    output = extract(tmp_path, input_file)
    ours = read_jsonl(output)
    assert [example["linex_index"] for example in ours] == list(range(len(lines) + 1))

    # What the original's reader makes of each line, by its rules written
    # out: strip, then split on the last " ||| " with text on both sides.
    expected_texts = [
        ("||| starts with the separator", None),
        ("ends with the separator |||", None),
        ("||| spaces on both sides |||", None),
        ("a ||| b", "c"),
        ("a|||b", None),
        ("", None),
        ("", None),
        ("no-break spaces", None),
        ("line\rwith a carriage return", None),
        (" ".join(["long"] * 200), None),
        ("bad  byte", None),
    ]
    extractor = BertFeatureExtractor.from_preset(str(checkpoint), layers=[-1, -2], sequence_length=32)
    direct = extractor.extract(expected_texts, batch_size=3)
    for mine, example in zip(ours, direct):
        assert [f["token"] for f in mine["features"]] == example["tokens"]
        for token_position, feature in enumerate(mine["features"]):
            for layer in feature["layers"]:
                np.testing.assert_allclose(
                    layer["values"], example["layers"][layer["index"]][token_position], atol=TOLERANCE
                )
    tokens = [[f["token"] for f in example["features"]] for example in ours]
    assert tokens[0][:4] == ["[CLS]", "|", "|", "|"] and tokens[0].count("[SEP]") == 1
    assert tokens[3].count("[SEP]") == 2 and tokens[3][-2:] == ["c", "[SEP]"]
    assert tokens[5] == tokens[6] == ["[CLS]", "[SEP]"]
    assert len(tokens[9]) == 32 and tokens[9][-1] == "[SEP]"


def test_python_api_layers_are_in_the_order_asked(tmp_path):
    checkpoint, _ = reference_files()
    extractor = BertFeatureExtractor.from_preset(str(checkpoint), layers=[0, -1, 1])
    (example,) = extractor.extract(["the cat sat"])
    assert list(example["layers"]) == [0, -1, 1]
    # In a two-layer model, -1 and 1 are the same block.
    np.testing.assert_array_equal(example["layers"][-1], example["layers"][1])
    assert example["layers"][0].shape == (len(example["tokens"]), 32)
    with pytest.raises(DataError, match=r"\[2\] do not name encoder blocks of a 2-layer"):
        BertFeatureExtractor(extractor.backbone, layers=[0, 2])
    with pytest.raises(DataError, match="string or a \\(text_a, text_b\\) pair"):
        extractor.extract([("only one",)])


def test_refuses_bad_flags_before_loading(tmp_path, capsys):
    checkpoint, input_file = reference_files()
    common = ["extract-features", "--preset", str(checkpoint), "--input-file", str(input_file)]
    out = str(tmp_path / "out.jsonl")
    assert main([*common, "--output-file", out, "--layers=-3"]) == 1
    assert "[-3] do not name encoder blocks of a 2-layer model" in capsys.readouterr().err
    assert main([*common, "--output-file", str(tmp_path / "missing" / "out.jsonl")]) == 1
    assert "does not exist; create" in capsys.readouterr().err
    assert main([*common, "--output-file", out, "--max-seq-length", "600"]) == 1
    assert "longer than the 512 positions" in capsys.readouterr().err
    assert main(["extract-features", "--preset", str(checkpoint), "--input-file",
                 str(tmp_path / "nope.txt"), "--output-file", out]) == 1
    assert "nope.txt does not exist" in capsys.readouterr().err
    assert main([*common, "--output-file", str(input_file)]) == 1
    assert "an input of this run" in capsys.readouterr().err
    pathlib.Path(out).write_text("earlier results")
    assert main([*common, "--output-file", out]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert pathlib.Path(out).read_text() == "earlier results"
    with pytest.raises(SystemExit):
        main([*common, "--output-file", out, "--layers", "last"])
    assert "comma-separated integers" in capsys.readouterr().err


def test_keras_round_trip(tmp_path):
    import keras

    checkpoint, _ = reference_files()
    extractor = BertFeatureExtractor.from_preset(str(checkpoint), layers=[-2, 0], sequence_length=16)
    extractor.save(tmp_path / "extractor.keras")
    reloaded = keras.models.load_model(tmp_path / "extractor.keras")
    assert isinstance(reloaded, BertFeatureExtractor) and reloaded.layer_indices == (-2, 0)
    texts = ["the cat sat on the mat", ("a pair", "of texts")]
    for mine, theirs in zip(reloaded.extract(texts), extractor.extract(texts)):
        assert mine["tokens"] == theirs["tokens"]
        for index in (-2, 0):
            np.testing.assert_allclose(mine["layers"][index], theirs["layers"][index], atol=1e-6)
