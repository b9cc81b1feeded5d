"""`bert_keras.distribute`: the strategy switch, and training under it.

Several devices need their own process (a backend fixes its devices when it
starts), so `train_tiny.py` trains under each distribution in a subprocess
and the tests compare what it saw with a one-device run of the same model,
data and seed (a classifier, and a pretrainer with its own losses, metrics
and the LAMB recipe): TensorFlow with two logical CPUs (`MirroredStrategy`) and two
worker processes on 127.0.0.1 (`MultiWorkerMirroredStrategy`), JAX with four
host devices (`DataParallel`, and `ModelParallel` with the BERT layout map).

Tolerance: 1e-5 on losses, logits and evaluation metrics. The runs add the
same float32 gradients in a different order (per replica, then across),
which moves results by a few float32 rounding steps (measured: at most
3e-6, on pretraining losses of about 4.4); a wrong loss scale, clipping
before the sum or a lost update moves them by 1e-3 or more.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from bert_keras import distribute
from bert_keras.errors import DistributionError

SCRIPT = pathlib.Path(__file__).with_name("train_tiny.py")
ROOT = pathlib.Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5
BACKEND = keras.backend.backend()
only_tensorflow = pytest.mark.skipif(BACKEND != "tensorflow", reason="a TensorFlow strategy")
only_jax = pytest.mark.skipif(BACKEND != "jax", reason="a JAX distribution")


def train_tiny(tmp_path, runs, name="runs", **environment):
    """Starts `train_tiny.py` with `runs`; returns the process and its output path."""
    output = tmp_path / f"{name}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKEND": BACKEND, **environment}
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(output), *runs],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    return process, output


def finish(process, output):
    log, _ = process.communicate(timeout=600)
    assert process.returncode == 0, log[-3000:]
    return json.loads(output.read_text())


def assert_same_training(result, reference):
    assert "error" not in result, result.get("error")
    assert result["updates"] == reference["updates"]
    np.testing.assert_allclose(result["losses"], reference["losses"], atol=TOLERANCE)
    assert_same_outcome(result, reference)


def assert_same_outcome(result, reference):
    np.testing.assert_allclose(result["logits"], reference["logits"], atol=TOLERANCE)
    assert set(result["metrics"]) == set(reference["metrics"])
    for name, value in reference["metrics"].items():
        assert abs(result["metrics"][name] - value) < TOLERANCE, name


@pytest.fixture(scope="module")
def tensorflow_runs(tmp_path_factory):
    if BACKEND != "tensorflow":
        pytest.skip("TensorFlow strategies")
    # The pretrainer trains after the classifier through the same strategy.
    runs = ["single", "mirrored", "mirrored:2", "pretrainer/single", "pretrainer/mirrored"]
    return finish(*train_tiny(tmp_path_factory.mktemp("tf"), runs))


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory):
    if BACKEND != "jax":
        pytest.skip("JAX distributions")
    return finish(
        *train_tiny(
            tmp_path_factory.mktemp("jax"),
            [
                f"{task}{mode}"
                for task in ("", "pretrainer/")
                for mode in ("single", "data_parallel", "model_parallel", "data_parallel:2")
            ],
            XLA_FLAGS="--xla_force_host_platform_device_count=4",
        )
    )


TASKS = pytest.mark.parametrize("task", ["", "pretrainer/"], ids=["classifier", "pretrainer"])


@pytest.mark.slow
@only_tensorflow
@TASKS
def test_mirrored_over_two_cpus_trains_like_one_device(tensorflow_runs, task):
    assert tensorflow_runs[f"{task}mirrored"]["replicas"] == 2
    assert_same_training(tensorflow_runs[f"{task}mirrored"], tensorflow_runs[f"{task}single"])


@pytest.mark.slow
@only_tensorflow
def test_accumulation_under_a_tensorflow_strategy_is_refused_clearly(tensorflow_runs):
    error = tensorflow_runs["mirrored:2"]["error"]
    assert error.startswith("DistributionError") and "KERAS_BACKEND=jax" in error


@pytest.mark.slow
@only_tensorflow
def test_two_workers_over_localhost_train_like_one_device(tmp_path, tensorflow_runs):
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [
        train_tiny(
            tmp_path, ["multi_worker"], name=f"worker{index}",
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        for index in range(2)
    ]
    for process, output in workers:
        result = finish(process, output)["multi_worker"]
        assert result["replicas"] == 2
        assert_same_training(result, tensorflow_runs["single"])


@pytest.mark.slow
@only_jax
@TASKS
def test_data_parallel_over_four_devices_trains_like_one(jax_runs, task):
    assert jax_runs[f"{task}data_parallel"]["replicas"] == 4
    assert_same_training(jax_runs[f"{task}data_parallel"], jax_runs[f"{task}single"])


@pytest.mark.slow
@only_jax
@TASKS
def test_model_parallel_layout_splits_weights_and_trains_like_one_device(jax_runs, task):
    result = jax_runs[f"{task}model_parallel"]
    assert result["replicas"] == 2
    assert result["qkv_kernel_sharding"] == "P(None, 'model')"
    assert_same_training(result, jax_runs[f"{task}single"])


@pytest.mark.slow
@only_jax
@TASKS
def test_accumulation_across_devices_equals_the_large_batch(jax_runs, task):
    accumulated, single = jax_runs[f"{task}data_parallel:2"], jax_runs[f"{task}single"]
    assert "error" not in accumulated, accumulated.get("error")
    assert accumulated["updates"] == single["updates"]
    # Each logged step is one micro-batch here, so only the outcome compares.
    assert_same_outcome(accumulated, single)


@pytest.fixture
def restore_dtype_policy():
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


def test_bad_names_list_the_choices():
    with pytest.raises(DistributionError, match="multi_gpu"):
        distribute.get_strategy("gpus")
    with pytest.raises(DistributionError, match="mixed_bfloat16"):
        distribute.get_strategy("cpu", precision="bf16")


def test_missing_devices_are_explained():
    with pytest.raises(DistributionError, match="needs a GPU"):
        distribute.get_strategy("gpu")
    with pytest.raises(DistributionError, match="needs a GPU"):
        distribute.get_strategy("multi_gpu")


@only_tensorflow
def test_tensorflow_names_their_limits(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(DistributionError, match="TF_CONFIG"):
        distribute.get_strategy("multi_worker")
    with pytest.raises(DistributionError, match="KERAS_BACKEND=jax"):
        distribute.get_strategy("cpu", model_parallel=2)


@only_tensorflow
def test_the_same_mirrored_devices_give_the_same_strategy():
    # A second MirroredStrategy over the same devices would fail its first
    # all-reduce; `tensorflow_runs` trains two models in a row through it.
    first = distribute.get_strategy("multi_gpu", devices=["/cpu:0"])
    assert distribute.get_strategy("multi_gpu", devices=("/cpu:0",)) is first


@only_jax
def test_jax_multi_worker_without_a_cluster_is_explained(monkeypatch):
    for variable in ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(DistributionError, match="KERAS_DISTRIBUTION_JOB_ADDRESSES"):
        distribute.get_strategy("multi_worker")


def test_cpu_strategy_has_one_replica_and_float32(restore_dtype_policy):
    keras.config.set_dtype_policy("mixed_bfloat16")
    strategy = distribute.get_strategy("auto")
    assert distribute.num_replicas(strategy) == 1
    assert keras.config.dtype_policy().name == "float32"
    with strategy.scope():
        pass


def test_precision_can_be_chosen_or_left_alone(restore_dtype_policy):
    distribute.get_strategy("cpu", precision="mixed_bfloat16")
    assert keras.config.dtype_policy().name == "mixed_bfloat16"
    keras.config.set_dtype_policy("mixed_float16")
    distribute.get_strategy("cpu", precision=None)
    assert keras.config.dtype_policy().name == "mixed_float16"


@pytest.mark.parametrize(
    "platform, capability, expected",
    [
        ("tpu", None, "mixed_bfloat16"),
        ("gpu", (9, 0), "mixed_bfloat16"),
        ("gpu", (8, 0), "mixed_bfloat16"),
        ("gpu", (7, 5), "mixed_float16"),
        ("gpu", None, "mixed_float16"),
        ("cpu", None, "float32"),
    ],
)
def test_default_precision_follows_the_hardware(platform, capability, expected):
    assert distribute.default_precision(platform, capability) == expected
