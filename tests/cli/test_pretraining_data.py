"""`bert-keras pretraining-data`: the original's flags, both modes, its refusals."""

import json
import pathlib

import pytest

from bert_keras.cli.main import main
from tests.data.test_pretraining_modes import VOCABULARY, records, write_shards

pytestmark = pytest.mark.backend_independent

REFERENCE = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference"


@pytest.fixture
def vocab_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(VOCABULARY) + "\n", encoding="utf-8")
    return path


def test_exact_mode_with_the_original_flags_equals_the_original(tmp_path, capsys):
    import tensorflow as tf

    folder = REFERENCE / "pretraining" / "sample_wwm"
    if not folder.exists():
        pytest.skip(f"the shared reference data is absent ({folder})")
    settings = json.loads((folder / "settings.json").read_text())
    outputs = [tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"]
    assert main([
        "pretraining-data", "--input-file", str(REFERENCE / settings["input_file"]),
        "--output-file", ",".join(map(str, outputs)),
        "--vocab-file", str(REFERENCE / "tokenization" / settings["vocab_file"]),
        "--do-lower-case", "--do-whole-word-mask",
        "--max-seq-length", str(settings["max_seq_length"]),
        "--max-predictions-per-seq", str(settings["max_predictions_per_seq"]),
        "--random-seed", str(settings["random_seed"]),
        "--dupe-factor", str(settings["dupe_factor"]),
        "--masked-lm-prob", str(settings["masked_lm_prob"]),
        "--short-seq-prob", str(settings["short_seq_prob"]),
    ]) == 0
    printed = capsys.readouterr().out
    assert f"-> {settings['instances']} instances" in printed and "instances/s" in printed

    def parsed(path):
        return [tf.train.Example.FromString(r) for r in records(path)]

    theirs = parsed(folder / "examples.tfrecord")
    assert parsed(outputs[0]) == theirs[0::2] and parsed(outputs[1]) == theirs[1::2]


def test_sharded_mode_in_process_resumes_and_says_how_to_parallelize(tmp_path, vocab_file,
                                                                     capsys, monkeypatch):
    import bert_keras.cli.pretraining_data as command

    monkeypatch.setattr(command.importlib.util, "find_spec", lambda name: None)
    write_shards(tmp_path, count=3)
    arguments = ["pretraining-data", "--mode", "sharded", "--input-file",
                 str(tmp_path / "shard-*.txt"), "--output-dir", str(tmp_path / "out"),
                 "--vocab-file", str(vocab_file), "--max-seq-length", "16",
                 "--max-predictions-per-seq", "4", "--dupe-factor", "2", "--gzip"]
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert "install bert-keras[beam]" in printed
    parts = sorted((tmp_path / "out").glob("part-*.tfrecord.gz"))
    assert [p.name for p in parts] == [f"part-0000{i}-of-00003.tfrecord.gz" for i in range(3)]
    made = [records(part) for part in parts]
    parts[2].unlink()
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert "Resuming: 2 of 3 parts are complete." in printed
    assert "With the parts kept from before" in printed
    assert [records(part) for part in parts] == made


def test_refusals_name_the_problem_and_leave_nothing(tmp_path, vocab_file, capsys):
    text = tmp_path / "text.txt"
    text.write_text("a b c\nd e f\n\ng h\n", encoding="utf-8")
    base = ["pretraining-data", "--vocab-file", str(vocab_file)]
    exact = [*base, "--input-file", str(text), "--output-file", str(tmp_path / "out.tfrecord")]

    def refused(arguments, message):
        assert main(arguments) == 1
        assert message in capsys.readouterr().err

    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    refused([*base, "--input-file", str(empty), "--output-file", str(tmp_path / "e.tfrecord")],
            "holds no document")
    refused([*base, "--mode", "sharded", "--input-file", str(empty), "--output-dir",
             str(tmp_path / "empty_out"), "--runner", "in-process"], "holds no document")
    refused([*exact, "--max-predictions-per-seq", "200"], "larger than max_seq_length 128")
    refused([*base, "--input-file", str(tmp_path / "missing-*.txt"), "--output-file",
             str(tmp_path / "m.tfrecord")], "matches no file")
    refused([*base, "--input-file", str(tmp_path), "--output-file",
             str(tmp_path / "m.tfrecord")], "is a folder")
    refused([*exact, "--output-dir", str(tmp_path / "d")], "--output-dir is for --mode sharded")
    refused([*base, "--mode", "sharded", "--input-file", str(text), "--output-file",
             str(tmp_path / "x")], "--output-file is for --mode exact")
    refused([*base, "--input-file", str(text), "--output-file", str(text)], "an input of this run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "empty_out", "text.txt",
                                                          "vocab.txt"]
    assert list((tmp_path / "empty_out").iterdir()) == []

    assert main(exact) == 0
    capsys.readouterr()
    refused(exact, "exists; pass --overwrite")
    assert main([*exact, "--overwrite"]) == 0

    for flag, value, message in (("--max-seq-length", "4", "must be at least 5"),
                                 ("--masked-lm-prob", "0", "must be above 0"),
                                 ("--masked-lm-prob", "1.5", "must be between 0 and 1")):
        with pytest.raises(SystemExit):
            main([*exact, flag, value])
        assert message in capsys.readouterr().err


def test_a_single_document_warns_and_runs(tmp_path, vocab_file, capsys):
    text = tmp_path / "one.txt"
    text.write_text("a b c\nd e f\ng h i\n", encoding="utf-8")
    assert main(["pretraining-data", "--vocab-file", str(vocab_file), "--input-file", str(text),
                 "--output-file", str(tmp_path / "out.tfrecord"), "--max-seq-length", "16",
                 "--max-predictions-per-seq", "4"]) == 0
    captured = capsys.readouterr()
    assert "Warning:" in captured.err and "single document" in captured.err
    assert records(tmp_path / "out.tfrecord")


def test_the_preset_gives_the_vocabulary_and_casing(served, tmp_path, capsys):
    from bert_keras.data.pretraining import PretrainingDataSettings, create_pretraining_data
    from bert_keras.tokenizers import BertTokenizer

    text = tmp_path / "text.txt"
    text.write_text("The the THE\nthe cat\n\nA b c\nthe end\n", encoding="utf-8")
    for casing, lowercase in (([], True), (["--no-do-lower-case"], False)):
        output = tmp_path / f"cli-{lowercase}.tfrecord"
        assert main(["pretraining-data", "--preset", "bert_tiny_en_uncased", "--input-file",
                     str(text), "--output-file", str(output), "--max-seq-length", "16",
                     "--max-predictions-per-seq", "4", *casing]) == 0
        expected = tmp_path / f"library-{lowercase}.tfrecord"
        tokenizer = BertTokenizer.from_preset("bert_tiny_en_uncased", lowercase=lowercase)
        create_pretraining_data([text], [expected], tokenizer,
                                PretrainingDataSettings(max_seq_length=16,
                                                        max_predictions_per_seq=4))
        assert records(output) == records(expected)
    assert records(tmp_path / "cli-True.tfrecord") != records(tmp_path / "cli-False.tfrecord")


@pytest.mark.slow
def test_beam_parts_equal_one_process_and_workers_warnings_are_shown(tmp_path, vocab_file,
                                                                     capsys):
    pytest.importorskip("apache_beam", reason="apache-beam is not installed (bert-keras[beam])")
    write_shards(tmp_path, count=2)
    # A shard of one document: its worker's warning must reach this terminal.
    (tmp_path / "shard-2.txt").write_text("a b c\nd e f\ng h\n", encoding="utf-8")
    common = ["pretraining-data", "--mode", "sharded", "--input-file",
              str(tmp_path / "shard-*.txt"), "--vocab-file", str(vocab_file),
              "--max-seq-length", "16", "--max-predictions-per-seq", "4", "--dupe-factor", "2"]
    assert main([*common, "--output-dir", str(tmp_path / "one"), "--runner", "in-process"]) == 0
    capsys.readouterr()
    assert main([*common, "--output-dir", str(tmp_path / "beam"), "--workers", "2"]) == 0
    captured = capsys.readouterr()
    assert "on Beam's DirectRunner with 2 worker processes" in captured.out
    assert "shard-2.txt holds a single document" in captured.err
    for index in range(3):
        name = f"part-0000{index}-of-00003.tfrecord"
        assert records(tmp_path / "beam" / name) == records(tmp_path / "one" / name)
