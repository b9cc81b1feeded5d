"""`bert_keras.distribute`: the strategy switch, and training under it.

Several devices need their own process (a backend fixes its devices when it
starts), so `train_tiny.py` trains under each distribution in a subprocess
and the tests compare what it saw with a one-device run of the same model,
data and seed: TensorFlow with two logical CPUs (`MirroredStrategy`) and two
worker processes on 127.0.0.1 (`MultiWorkerMirroredStrategy`), JAX with four
host devices (`DataParallel`, and `ModelParallel` with the BERT layout map).

Tolerance: 1e-5 on losses and logits. The runs add the same float32
gradients in a different order (per replica, then across), which moves
results by a few float32 rounding steps (measured: at most 4e-7); a wrong
loss scale, clipping before the sum or a lost update moves them by 1e-3
or more.
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
    np.testing.assert_allclose(result["logits"], reference["logits"], atol=TOLERANCE)


@pytest.fixture(scope="module")
def tensorflow_runs(tmp_path_factory):
    if BACKEND != "tensorflow":
        pytest.skip("TensorFlow strategies")
    return finish(*train_tiny(tmp_path_factory.mktemp("tf"), ["single", "mirrored", "mirrored:2"]))


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory):
    if BACKEND != "jax":
        pytest.skip("JAX distributions")
    return finish(
        *train_tiny(
            tmp_path_factory.mktemp("jax"),
            ["single", "data_parallel", "model_parallel", "data_parallel:2"],
            XLA_FLAGS="--xla_force_host_platform_device_count=4",
        )
    )


@pytest.mark.slow
@only_tensorflow
def test_mirrored_over_two_cpus_trains_like_one_device(tensorflow_runs):
    assert tensorflow_runs["mirrored"]["replicas"] == 2
    assert_same_training(tensorflow_runs["mirrored"], tensorflow_runs["single"])


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
def test_data_parallel_over_four_devices_trains_like_one(jax_runs):
    assert jax_runs["data_parallel"]["replicas"] == 4
    assert_same_training(jax_runs["data_parallel"], jax_runs["single"])


@pytest.mark.slow
@only_jax
def test_model_parallel_layout_splits_weights_and_trains_like_one_device(jax_runs):
    result = jax_runs["model_parallel"]
    assert result["replicas"] == 2
    assert result["qkv_kernel_sharding"] == "P(None, 'model')"
    assert_same_training(result, jax_runs["single"])


@pytest.mark.slow
@only_jax
def test_accumulation_across_devices_equals_the_large_batch(jax_runs):
    accumulated, single = jax_runs["data_parallel:2"], jax_runs["single"]
    assert accumulated["updates"] == single["updates"]
    # Each logged step is one micro-batch here, so only the outcome compares.
    np.testing.assert_allclose(accumulated["logits"], single["logits"], atol=TOLERANCE)


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
