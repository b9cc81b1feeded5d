"""Google TF1 checkpoints in the original layout, converted and checked
against Hugging Face transformers run on the same weights."""

import numpy as np
import pytest

from bert_keras.errors import CheckpointError
from bert_keras.models import BertBackbone
from bert_keras.presets.loader import load_pretraining_heads
from tests.checkpoints import (
    google_variables,
    tiny_google_config,
    write_google_checkpoint,
    zip_google_folder,
)
from tests.presets.huggingface_reference import batch, compare_with_reference

@pytest.fixture(scope="module")
def google_checkpoint(tmp_path_factory):
    config = tiny_google_config()
    arrays = google_variables(config, seed=0)
    slots = {
        "global_step": np.array(1000, "int64"),
        "bert/pooler/dense/kernel/adam_m": np.zeros((16, 16), "float32"),
        "bert/pooler/dense/kernel/adam_v": np.zeros((16, 16), "float32"),
    }
    folder = write_google_checkpoint(
        tmp_path_factory.mktemp("google") / "uncased_L-2_H-16_A-2", config, arrays, extra=slots
    )
    return folder, config, arrays


def test_folder_matches_transformers(google_checkpoint):
    folder, config, arrays = google_checkpoint
    backbone = BertBackbone.from_preset(str(folder))
    assert backbone.activation == "gelu_approximate"
    heads = load_pretraining_heads(str(folder), backbone)
    compare_with_reference(backbone, heads, config, arrays)


@pytest.mark.parametrize("top_folder", [None, "uncased_L-2_H-16_A-2"])
def test_zip_layouts_load(google_checkpoint, tmp_path, monkeypatch, top_folder):
    monkeypatch.setenv("BERT_KERAS_HOME", str(tmp_path / "home"))
    folder, config, arrays = google_checkpoint
    archive = zip_google_folder(folder, tmp_path / "model.zip", top_folder)
    backbone = BertBackbone.from_preset(str(archive))
    expected = BertBackbone.from_preset(str(folder))
    inputs = batch(config)
    np.testing.assert_array_equal(
        np.asarray(backbone(inputs)["pooled_output"]),
        np.asarray(expected(inputs)["pooled_output"]),
    )


def test_missing_variable_is_named(tmp_path):
    config = tiny_google_config()
    arrays = google_variables(config)
    del arrays["bert/encoder/layer_1/output/dense/bias"]
    folder = write_google_checkpoint(tmp_path / "m", config, arrays)
    with pytest.raises(CheckpointError, match="layer_1/output/dense/bias"):
        BertBackbone.from_preset(str(folder))


def test_misshaped_variable_is_named(tmp_path):
    config = tiny_google_config()
    arrays = google_variables(config)
    arrays["bert/pooler/dense/bias"] = np.zeros(15, "float32")
    folder = write_google_checkpoint(tmp_path / "m", config, arrays)
    with pytest.raises(CheckpointError, match=r"pooler/dense/bias.*\(15,\)"):
        BertBackbone.from_preset(str(folder))


def test_unexpected_variable_is_an_error(tmp_path):
    config = tiny_google_config()
    arrays = google_variables(config)
    folder = write_google_checkpoint(
        tmp_path / "m", config, arrays, extra={"bert/encoder/layer_2/output/dense/bias": np.zeros(16, "float32")}
    )
    with pytest.raises(CheckpointError, match="layer_2"):
        BertBackbone.from_preset(str(folder))


def test_checkpoint_without_heads_loads_backbone(tmp_path):
    config = tiny_google_config()
    arrays = google_variables(config, with_heads=False)
    folder = write_google_checkpoint(tmp_path / "m", config, arrays)
    backbone = BertBackbone.from_preset(str(folder))
    np.testing.assert_array_equal(
        backbone.get_layer("pooler").dense.bias.numpy(), arrays["bert/pooler/dense/bias"]
    )
