"""A preset loaded by name, end to end: a checkpoint in Google's exact
layout is served from 127.0.0.1 through BERT_KERAS_PRESET_MIRROR, fetched,
converted, cached, and checked against transformers on the same weights."""

import numpy as np
import pytest

from bert_keras.models import BertBackbone
from bert_keras.presets import load_pretraining_heads, loader
from bert_keras.presets.registry import get_preset_info
from bert_keras.tokenizers import BertTokenizer
from tests.presets.huggingface_reference import batch, compare_with_reference

TINY = "bert_tiny_en_uncased"


def test_named_preset_matches_transformers(served):
    mirror, config, arrays = served
    backbone = BertBackbone.from_preset(TINY)
    heads = load_pretraining_heads(TINY, backbone)
    compare_with_reference(backbone, heads, config, arrays)
    assert mirror.downloads(get_preset_info(TINY).path) == 1


def test_second_load_reads_the_converted_cache(served, monkeypatch):
    mirror, config, arrays = served
    first = BertBackbone.from_preset(TINY)

    def no_checkpoint_reads(*args, **kwargs):
        raise AssertionError("the TensorFlow checkpoint was read again")

    monkeypatch.setattr(loader, "convert_google_checkpoint", no_checkpoint_reads)
    second = BertBackbone.from_preset("uncased_L-2_H-128_A-2")
    inputs = batch(config)
    np.testing.assert_array_equal(
        np.asarray(first(inputs)["pooled_output"]), np.asarray(second(inputs)["pooled_output"])
    )
    heads = load_pretraining_heads(TINY, second)
    compare_with_reference(second, heads, config, arrays)
    assert mirror.downloads(get_preset_info(TINY).path) == 1


def test_architecture_only_needs_no_download(served):
    mirror, _, _ = served
    backbone = BertBackbone.from_preset(TINY, load_weights=False, dropout=0.0)
    assert (backbone.num_layers, backbone.hidden_dim, backbone.dropout) == (2, 128, 0.0)
    assert mirror.requests == []


def test_tokenizer_casing_comes_from_the_registry(served):
    tokenizer = BertTokenizer.from_preset(TINY)
    assert tokenizer.lowercase is True
    assert tokenizer.vocabulary_size() == 30522


def test_shape_changing_overrides_are_refused(served):
    from bert_keras.errors import PresetError

    with pytest.raises(PresetError, match="hidden_dim"):
        BertBackbone.from_preset(TINY, hidden_dim=64)
