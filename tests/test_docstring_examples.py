"""The `>>>` examples in docstrings run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = [
    "bert_keras.layers.bert_embedding",
    "bert_keras.layers.multi_head_self_attention",
    "bert_keras.layers.bert_encoder_block",
    "bert_keras.layers.bert_pooler",
    "bert_keras.layers.fold_choices",
    "bert_keras.layers.unfold_choices",
    "bert_keras.layers.masked_lm_head",
    "bert_keras.layers.sentence_pooling",
    "bert_keras.tokenizers.bert_tokenizer",
    "bert_keras.preprocessing.bert_multiple_choice_preprocessor",
    "bert_keras.distribute",
    "bert_keras.optimizers.bert_adamw",
    "bert_keras.optimizers.bert_lamb",
    "bert_keras.optimizers.recipes",
    "bert_keras.optimizers.warmup_linear_decay",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
