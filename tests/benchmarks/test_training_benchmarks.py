"""The training benchmarks run end to end at their smallest sizes.

Each script runs as its users run it, in a process of its own; the tests
check that it finishes and prints its table. Timings and memory figures are
printed, never asserted (benchmarks/README.md).
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


def run_script(name, *arguments, backend):
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *arguments],
        env={**os.environ, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


@pytest.mark.slow
@pytest.mark.model
def test_training_throughput_prints_its_table(tmp_path):
    backend = keras.backend.backend()
    report_path = tmp_path / "throughput.json"
    # torch.compile is left out: building its CPU kernels alone takes longer
    # than everything else here.
    printed = run_script(
        "training_throughput.py", "--mode", "tiny", "--skip", "torch.compile",
        "--json", str(report_path), backend=backend,
    )
    assert "seq/s" in printed and "ours/peer" in printed and "versions:" in printed
    for implementation in (f"bert_keras ({backend})", f"keras-hub ({backend})",
                           "transformers (torch, sdpa)"):
        assert printed.count(implementation) == 2, printed
    report = json.loads(report_path.read_text())
    assert [w["name"] for w in report["workloads"]] == ["2-layer training", "2-layer inference"]
    assert report["backend"] == backend and report["device"]
    for workload in report["workloads"]:
        assert len(workload["results"]) == 3
        assert workload["results"][0]["ours_over_peer"] == 1.0


@pytest.mark.slow
def test_max_batch_size_prints_its_table(tmp_path):
    if keras.backend.backend() != "jax":
        pytest.skip("the script compiles through JAX whatever the backend; the JAX run covers it")
    report_path = tmp_path / "max_batch.json"
    printed = run_script(
        "max_batch_size.py", "--models", "tiny", "--sequence-lengths", "64",
        "--variants", "float32", "bfloat16-remat", "--json", str(report_path),
        backend="jax",
    )
    assert "original" in printed and "\ntiny     64 " in printed
    assert "only its float32 column is meaningful" in printed
    report = json.loads(report_path.read_text())
    assert report["estimate"] is True
    assert sorted(r["variant"] for r in report["results"]) == ["bfloat16-remat", "float32"]


@pytest.mark.slow
def test_attention_kernels_prints_its_table(tmp_path):
    if keras.backend.backend() != "jax":
        pytest.skip("the script runs JAX's attention paths whatever the backend")
    report_path = tmp_path / "attention.json"
    printed = run_script(
        "attention_kernels.py", "--mode", "tiny", "--steps", "2", "--rounds", "2",
        "--json", str(report_path), backend="jax",
    )
    assert "time/by lengths" in printed
    results = json.loads(report_path.read_text())["shapes"][0]["results"]
    assert list(results) == [
        "explicit, dropout 0.1", "explicit", "keras.ops (bias)", "keras.ops (XLA)", "by lengths",
    ]
    # On a CPU the paths without dropout compute the same float32 attention.
    for label, result in results.items():
        assert "error" not in result, result
        if label != "explicit, dropout 0.1":
            assert result["output_error"] < 1e-5 and result["gradient_error"] < 1e-5


@pytest.mark.slow
@pytest.mark.backend_independent
def test_pretraining_data_benchmark_reports_cores_and_memory(tmp_path):
    # The speed comparison installs TF Model Garden from the package index,
    # which tests may not reach; the other two measurements run here.
    report = {}
    for what in ("cores", "memory"):
        printed = run_script(
            "pretraining_data.py", what, "--shard-mb", "0.05", "--cores-shards", "2",
            "--memory-mb", "0.1", "--memory-shards", "2", "--dupe-factor", "1",
            "--out", str(tmp_path / f"{what}.json"), backend="tensorflow",
        )
        assert f'"{what}"' in printed
        report.update(json.loads((tmp_path / f"{what}.json").read_text()))
    assert report["memory"]["instances"] > 0 and report["memory"]["peak_rss_mib"] > 0
    cores = report["cores"]
    assert cores["one_process"]["instances"] == cores["all_cores"]["instances"] > 0
