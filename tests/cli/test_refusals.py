"""The commands refuse bad flags, paths and data as a user meets them: in a
subprocess, before any model work (TensorFlow and Keras are never imported),
and without touching a byte of the user's files."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Runs the command, then fails if the refusal needed TensorFlow or Keras.
_RUNNER = textwrap.dedent(
    """
    import sys
    from bert_keras.cli.main import main
    code = main(sys.argv[1:])
    heavy = sorted(name for name in ("tensorflow", "keras", "jax") if name in sys.modules)
    if heavy:
        print("imported before refusing: " + ", ".join(heavy), file=sys.stderr)
        code = 99
    sys.exit(code)
    """
)


def refuse(*args, cwd=None):
    """Runs `bert-keras ARGS`; returns its stderr, which must hold a refusal."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT), BERT_KERAS_PROGRESS="0")
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER, *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=environment, timeout=120,
    )
    assert result.returncode in (1, 2), (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


def snapshot(folder):
    """Every file below `folder` with its bytes' digest."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


@pytest.fixture
def run_folder(tmp_path):
    """A user's run folder: a model, checkpoints and notes."""
    victim = tmp_path / "work" / "victim"
    (victim / "checkpoints").mkdir(parents=True)
    with __import__("zipfile").ZipFile(victim / "model.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("metadata.json", "{}")
        archive.writestr("model.weights.h5", b"\0" * 64)
    (victim / "checkpoints" / "epoch_001.weights.h5").write_bytes(b"\1" * 64)
    (victim / "notes.txt").write_text("three weeks of notes")
    return victim


def test_export_overwrite_never_replaces_the_users_folders(run_folder):
    work = run_folder.parent
    before = snapshot(work)
    model = run_folder / "model.keras"
    dangerous = {
        "the folder holding the source": (run_folder, work),
        "its parent": (work, run_folder),
        "the current folder": (".", run_folder),
        "the current folder, absolute": (run_folder, run_folder),
        "a parent of the current folder": ("..", run_folder),
        "a folder of the user's, not an export": (run_folder / "checkpoints", work),
    }
    for why, (output, cwd) in dangerous.items():
        for extra in ((), ("--format", "huggingface"), ("--format", "keras_hub")):
            error = refuse("export", "--model", model, "--output", output, "--overwrite", *extra, cwd=cwd)
            assert "Refusing to replace" in error or "an input of this run" in error, (why, error)
    assert snapshot(work) == before


def test_the_training_commands_replace_only_their_own_model_file(run_folder, tmp_path):
    before = snapshot(run_folder)
    # A folder, or a file that is no Keras model, where the model would go.
    (run_folder / "sentiment_classifier.keras").mkdir()
    error = refuse("demo", "--output-dir", run_folder, "--overwrite")
    assert "is not a file" in error
    (run_folder / "sentiment_classifier.keras").rmdir()
    (run_folder / "model.keras").rename(run_folder / "saved.keras")
    (run_folder / "model.keras").write_text("my own notes, named badly")
    error = refuse(
        "classify", "--task", "sst-2", "--data-dir", run_folder, "--output-dir", run_folder,
        "--do-train", "--overwrite",
    )
    assert "not a Keras model file" in error
    (run_folder / "model.keras").unlink()
    (run_folder / "saved.keras").rename(run_folder / "model.keras")
    assert snapshot(run_folder) == before

    # squad never writes its results over its own input.
    squad_file = run_folder / "predictions.json"
    squad_file.write_text(json.dumps({"version": "1.1", "data": []}))
    error = refuse(
        "squad", "--do-predict", "--predict-file", squad_file, "--output-dir", run_folder,
    )
    assert "an input of this run" in error


@pytest.mark.parametrize(
    "flags, message",
    [
        (("--learning-rate", "nan"), "must be a finite number"),
        (("--learning-rate", "0"), "must be positive"),
        (("--epochs", "inf"), "must be a finite number"),
        (("--epochs", "-1"), "must be positive"),
        (("--warmup-proportion", "1.5"), "between 0 and 1"),
        (("--warmup-proportion", "nan"), "must be a finite number"),
        (("--max-seq-length", "2"), "at least 3"),
    ],
)
def test_bad_numbers_are_refused_as_they_are_parsed(tmp_path, flags, message):
    error = refuse(
        "classify", "--task", "sst-2", "--data-dir", tmp_path, "--output-dir", tmp_path / "run",
        "--do-train", *flags,
    )
    assert message in error


def write_sst2(folder, train="a fine film\t1\n", dev="a dull film\t0\n", test="0\tan odd film\n"):
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows, header in (("train", train, "sentence\tlabel\n"), ("dev", dev, "sentence\tlabel\n"),
                                ("test", test, "index\tsentence\n")):
        (folder / f"{split}.tsv").write_text(header + rows)
    return folder


@pytest.mark.parametrize("split", ["train", "dev", "test"])
@pytest.mark.parametrize("contents", ["", "header only"])
def test_an_empty_split_is_named_before_training(tmp_path, split, contents):
    data = write_sst2(tmp_path / "SST-2", **{split: ""})
    if contents == "":
        (data / f"{split}.tsv").write_text("")
    error = refuse(
        "classify", "--task", "sst-2", "--data-dir", data, "--output-dir", tmp_path / "run",
        "--do-train", "--do-eval", "--do-predict", "--preset", "bert_tiny_en_uncased",
    )
    assert f"{data / f'{split}.tsv'} holds no" in error


def test_test_rows_are_never_skipped(tmp_path):
    data = write_sst2(tmp_path / "SST-2", test="0\tfine\n1\n2\talso fine\n")
    error = refuse(
        "classify", "--task", "sst-2", "--data-dir", data, "--output-dir", tmp_path / "run",
        "--do-predict", "--skip-bad-rows",
    )
    assert f"{data / 'test.tsv'}:3:" in error and "test rows are never skipped" in error


def test_non_finite_scores_are_bad_rows(tmp_path):
    data = tmp_path / "STS-B"
    data.mkdir()
    header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
    (data / "train.tsv").write_text(header + "0\tg\tf\ty\t0\ts\ts\ta cat\ta dog\tnan\n")
    error = refuse(
        "classify", "--task", "sts-b", "--data-dir", data, "--output-dir", tmp_path / "run",
        "--do-train", "--preset", "bert_tiny_en_uncased",
    )
    assert "train.tsv:2: score 'nan' is not a finite number" in error


def test_max_seq_length_beyond_the_presets_positions(tmp_path):
    data = write_sst2(tmp_path / "SST-2")
    error = refuse(
        "classify", "--task", "sst-2", "--data-dir", data, "--output-dir", tmp_path / "run",
        "--do-train", "--preset", "bert_tiny_en_uncased", "--max-seq-length", "1024",
    )
    assert "--max-seq-length 1024 is longer than the 512 positions" in error
    error = refuse("demo", "--output-dir", tmp_path / "demo", "--max-seq-length", "600")
    assert "600 is longer than the 512 positions" in error


def test_output_folders_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep")
    for output, message in (
        (blocker, "is a file, not a folder"),
        (blocker / "run", f"lies under {blocker}, which is a file"),
        ("/proc/bert_keras_run", "cannot be written"),
    ):
        error = refuse("demo", "--output-dir", output)
        assert message in error, error
    assert blocker.read_text() == "keep"


def test_a_squad_file_without_questions(tmp_path):
    squad = tmp_path / "empty.json"
    squad.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": []}]}))
    error = refuse(
        "squad", "--do-train", "--train-file", squad, "--output-dir", tmp_path / "run",
        "--preset", "bert_tiny_en_uncased",
    )
    assert f"{squad} holds no question to train on" in error


def test_export_flags_that_do_not_apply(tmp_path):
    error = refuse(
        "export", "--preset", "bert_tiny_en_uncased", "--output", tmp_path / "hf",
        "--format", "huggingface", "--null-score-diff-threshold", "0",
    )
    assert "--null-score-diff-threshold" in error
    error = refuse("export", "--preset", tmp_path / "missing", "--output", tmp_path / "out")
    assert "does not exist" in error


def test_every_flag_has_help_with_its_default():
    from bert_keras.cli.main import build_parser

    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command")
    for name, command in commands.choices.items():
        for action in command._actions:
            if action.dest == "help":
                continue
            assert action.help, f"{name} {action.option_strings} has no help"
            takes_value = action.nargs != 0 and action.option_strings
            if takes_value and action.default is not None and not action.required:
                assert "%(default)s" in action.help, f"{name} {action.option_strings} hides its default"


def test_no_native_log_lines_unless_asked(tmp_path):
    """TensorFlow's C++ lines stay out of a command's output, unless the user
    sets TF_CPP_MIN_LOG_LEVEL."""
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    args = [sys.executable, "-m", "bert_keras.cli.main", "export", "--model", str(broken),
            "--output", str(tmp_path / "out")]
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    quiet = subprocess.run(args, capture_output=True, text=True, env=environment, timeout=300)
    assert quiet.returncode == 1
    lines = quiet.stderr.strip().splitlines()
    assert lines[0].startswith(f"bert-keras export: error: Cannot load {broken} as a Keras model"), lines
    assert not any("absl" in line or line[:5] in ("I0000", "W0000", "E0000") for line in lines), lines

    environment["TF_CPP_MIN_LOG_LEVEL"] = "0"
    asked = subprocess.run(args, capture_output=True, text=True, env=environment, timeout=300)
    assert asked.returncode == 1 and "Cannot load" in asked.stderr
    assert len(asked.stderr.strip().splitlines()) > len(lines)


def test_feature_and_embedding_commands_refuse_before_loading(tmp_path):
    text = tmp_path / "lines.txt"
    text.write_text("one line\n")
    out = tmp_path / "out.jsonl"
    features = ["extract-features", "--preset", "bert_tiny_en_uncased", "--input-file", text]
    assert "[-3] do not name encoder blocks of a 2-layer model" in refuse(
        *features, "--output-file", out, "--layers=-1,-3"
    )
    assert "longer than the 512 positions" in refuse(
        *features, "--output-file", out, "--max-seq-length", "513"
    )
    assert "does not exist; create" in refuse(*features, "--output-file", tmp_path / "no" / "f.jsonl")
    assert "is a folder" in refuse(
        "extract-features", "--preset", "bert_tiny_en_uncased", "--input-file", tmp_path,
        "--output-file", out,
    )
    embed = ["embed", "--preset", "all_minilm_l6_v2", "--input-file", text]
    assert "must end in .npy" in refuse(*embed, "--output-file", tmp_path / "e.txt")
    unreadable = tmp_path / "locked.txt"
    unreadable.write_text("secret\n")
    unreadable.chmod(0)
    if os.access(unreadable, os.R_OK):
        unreadable.chmod(0o644)  # root reads anything; the check cannot be shown
    else:
        assert "Cannot read --input-file" in refuse(
            "embed", "--preset", "all_minilm_l6_v2", "--input-file", unreadable,
            "--output-file", tmp_path / "e.npy",
        )
    assert "longer than the 512 positions" in refuse(
        *embed, "--output-file", tmp_path / "e.npy", "--max-seq-length", "1000"
    )
    assert not out.exists() and not (tmp_path / "e.npy").exists()
