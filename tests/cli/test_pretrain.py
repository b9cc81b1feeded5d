"""`bert-keras pretrain` as a user runs it: the original's eval results on a
Google checkpoint, runs killed with SIGKILL (mid-training and mid-save) that
resume to the weights of an uninterrupted run, and refusals of bad flags."""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bert_keras.cli.main import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference"
PRETRAINING = REFERENCE / "pretraining"
pytestmark = pytest.mark.skipif(
    not (PRETRAINING / "checkpoint_L2_H32_A2").is_dir(),
    reason="../shared/reference/pretraining (the original's outputs) is not present",
)
DATA = PRETRAINING / "sample_readme" / "examples.tfrecord"


def test_eval_prints_the_original_eval_results(tmp_path, capsys):
    expected = json.loads((PRETRAINING / "sample_readme" / "original_eval.json").read_text())
    code = main([
        "pretrain", "--do-eval", "--preset", str(PRETRAINING / "checkpoint_L2_H32_A2"),
        "--input-file", str(DATA), "--output-dir", str(tmp_path / "run"),
        "--eval-batch-size", str(expected["batch_size"]),
        "--max-eval-steps", str(expected["max_eval_steps"]),
    ])
    assert code == 0
    lines = (tmp_path / "run" / "eval_results.txt").read_text().splitlines()
    results = dict(line.split(" = ") for line in lines)
    assert list(results) == sorted(results)
    assert results.pop("global_step") == "0"
    for key, value in expected["eval_results"].items():
        assert abs(float(results[key]) - value) < 1e-5, key
    assert "masked_lm_accuracy = " in capsys.readouterr().out


@pytest.fixture(scope="module")
def scratch_config(tmp_path_factory):
    """A tiny architecture over the reference vocabulary, without dropout,
    so that two runs on the same data order train identically."""
    folder = tmp_path_factory.mktemp("config")
    config = json.loads((PRETRAINING / "checkpoint_L2_H32_A2" / "bert_config.json").read_text())
    config.update(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                  max_position_embeddings=128)
    (folder / "bert_config.json").write_text(json.dumps(config))
    shutil.copyfile(PRETRAINING / "checkpoint_L2_H32_A2" / "vocab.txt", folder / "vocab.txt")
    return folder / "bert_config.json"


def train_flags(config, output_dir, *extra):
    return ["pretrain", "--do-train", "--bert-config-file", str(config), "--input-file", str(DATA),
            "--output-dir", str(output_dir), "--train-batch-size", "4", "--num-train-steps", "12",
            "--num-warmup-steps", "2", "--save-checkpoints-steps", "4", "--learning-rate", "1e-3",
            *extra]


# Runs the command in a fresh process that SIGKILLs itself at a chosen
# moment: after update KILL_AT_STEP, or inside the save of checkpoint
# KILL_IN_SAVE after its weights are written but before the rename.
_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import keras
    from bert_keras.callbacks import StopOnNonFiniteLoss
    from bert_keras.training import checkpoints
    step_kill = int(os.environ.get("KILL_AT_STEP", "0"))
    save_kill = int(os.environ.get("KILL_IN_SAVE", "0"))
    original_end = StopOnNonFiniteLoss.on_train_batch_end
    def on_train_batch_end(self, batch, logs=None):
        original_end(self, batch, logs)
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == step_kill:
            os.kill(os.getpid(), signal.SIGKILL)
    StopOnNonFiniteLoss.on_train_batch_end = on_train_batch_end
    original_replace = checkpoints.os.replace
    def replace(source, target):
        if str(target).endswith(f"step-{save_kill:09d}"):
            os.kill(os.getpid(), signal.SIGKILL)
        original_replace(source, target)
    checkpoints.os.replace = replace
    from bert_keras.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def killed(flags, **kill):
    environment = dict(os.environ, PYTHONPATH=str(ROOT), BERT_KERAS_PROGRESS="0",
                       **{key: str(value) for key, value in kill.items()})
    result = subprocess.run([sys.executable, "-c", _KILLER, *flags], capture_output=True,
                            text=True, env=environment, timeout=600)
    assert result.returncode == -9, (result.returncode, result.stderr[-3000:])
    return result


def final_weights(output_dir):
    import keras

    model = keras.models.load_model(output_dir / "model.keras", compile=False)
    return {v.path: keras.ops.convert_to_numpy(v) for v in model.weights}


@pytest.mark.slow
def test_a_run_killed_anywhere_resumes_to_the_uninterrupted_weights(
        tmp_path, scratch_config, capsys):
    from bert_keras.training import TrainingCheckpoints

    assert main(train_flags(scratch_config, tmp_path / "whole")) == 0
    interrupted = tmp_path / "interrupted"
    flags = train_flags(scratch_config, interrupted)
    killed(flags, KILL_AT_STEP=6)
    checkpoints = TrainingCheckpoints(interrupted / "checkpoints")
    assert checkpoints.steps() == [4]
    killed(flags, KILL_IN_SAVE=8)
    # The kill left a partial checkpoint, which does not count.
    assert checkpoints.steps() == [4]
    assert list((interrupted / "checkpoints").glob(".step-000000008-*.partial"))
    capsys.readouterr()
    assert main(flags) == 0
    out = capsys.readouterr().out
    assert "Resuming at step 4 of 12" in out
    assert checkpoints.steps() == [4, 8, 12]
    assert not list((interrupted / "checkpoints").glob(".*partial"))
    whole, resumed = final_weights(tmp_path / "whole"), final_weights(interrupted)
    assert whole.keys() == resumed.keys()
    for name in whole:
        np.testing.assert_allclose(resumed[name], whole[name], atol=1e-5, rtol=0, err_msg=name)
    log = [json.loads(line) for line in (interrupted / "train_log.jsonl").read_text().splitlines()]
    assert [record["global_step"] for record in log] == [4, 8, 12]
    # Finished is final: the same command trains nothing more.
    assert main(flags + ["--do-eval", "--max-eval-steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "Training finished already at step 12" in out and "global_step = 12" in out


def test_phase_two_starts_from_phase_one_and_lamb_trains(tmp_path, scratch_config, capsys):
    phase1 = tmp_path / "phase1"
    assert main(train_flags(scratch_config, phase1)[:-8] + [
        "--num-train-steps", "4", "--num-warmup-steps", "1", "--save-checkpoints-steps", "4",
        "--learning-rate", "1e-3"]) == 0
    capsys.readouterr()
    phase2 = tmp_path / "phase2"
    assert main([
        "pretrain", "--do-train", "--do-eval", "--init-checkpoint", str(phase1),
        "--input-file", str(DATA), "--output-dir", str(phase2), "--train-batch-size", "4",
        "--num-train-steps", "2", "--num-warmup-steps", "0", "--optimizer", "lamb",
        "--max-eval-steps", "2", "--grad-accum-steps", "2", "--remat",
    ]) == 0
    out = capsys.readouterr().out
    assert f"Starting from the weights of {phase1}'s step 4 (heads included)" in out
    assert "2 micro-batches of 2" in out
    # The step counts updates: 2 of them, from 4 micro-batches.
    assert "global_step = 2" in out
    assert (phase2 / "vocab.txt").read_text() == (phase1 / "vocab.txt").read_text()

    # The pretrained model leaves as the original's checkpoint folder and as
    # transformers' BertForPreTraining; both load back with their heads.
    import keras
    import tensorflow as tf

    from bert_keras.models import BertPretrainer

    trained = keras.models.load_model(phase2 / "model.keras", compile=False)
    x = {"token_ids": np.array([[2, 1000, 2000, 3]], "int32"), "segment_ids": np.zeros((1, 4), "int32"),
         "padding_mask": np.ones((1, 4), "int32"), "masked_lm_positions": np.array([[1, 2]], "int32")}
    for fmt in ("google", "huggingface"):
        assert main(["export", "--model", str(phase2 / "model.keras"), "--output",
                     str(tmp_path / fmt), "--format", fmt]) == 0
        exported = BertPretrainer.from_preset(str(tmp_path / fmt))
        assert exported.heads_source == "checkpoint"
        for key, value in trained.predict_on_batch(x).items():
            np.testing.assert_allclose(exported.predict_on_batch(x)[key], value, atol=1e-6, rtol=0)
    step = tf.train.load_checkpoint(str(tmp_path / "google" / "bert_model.ckpt")).get_tensor(
        "global_step")
    assert step == 2
    assert main(["export", "--model", str(phase2 / "model.keras"), "--output",
                 str(tmp_path / "sm")]) == 1
    assert "exports as --format google or huggingface" in capsys.readouterr().err


def refused(flags, capsys):
    assert main(flags) == 1
    return capsys.readouterr().err


@pytest.mark.backend_independent
def test_refusals_name_the_flags(tmp_path, scratch_config, capsys):
    out = tmp_path / "run"
    err = refused(train_flags(scratch_config, out, "--max-seq-length", "64"), capsys)
    assert "max_seq_length 128, not 64" in err
    err = refused(train_flags(scratch_config, out)[:5] + [str(tmp_path / "none-*.tfrecord")]
                  + train_flags(scratch_config, out)[6:], capsys)
    assert "matches no file" in err
    err = refused(train_flags(scratch_config, out, "--num-warmup-steps", "13"), capsys)
    assert "--num-warmup-steps 13 is more than --num-train-steps 12" in err
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    config = json.loads(scratch_config.read_text())
    (wrong / "bert_config.json").write_text(json.dumps({**config, "vocab_size": 30000}))
    shutil.copyfile(scratch_config.with_name("vocab.txt"), wrong / "vocab.txt")
    err = refused(train_flags(wrong / "bert_config.json", out), capsys)
    assert "vocab_size 30000" in err and "30522 tokens" in err
    assert not out.exists()


def test_resuming_with_other_flags_is_refused(tmp_path, scratch_config, capsys):
    out = tmp_path / "run"
    flags = train_flags(scratch_config, out)
    flags[flags.index("--num-train-steps") + 1] = "4"
    assert main(flags) == 0
    err = refused(train_flags(scratch_config, out, "--learning-rate", "2e-3"), capsys)
    assert "--learning-rate was 0.001, now 0.002" in err and "--num-train-steps was 4, now 12" in err
    assert main(train_flags(scratch_config, out, "--overwrite")) == 0
