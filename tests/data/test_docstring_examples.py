"""The `>>>` examples in the data modules' docstrings run as written."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "bert_keras.data.conlleval",
        "bert_keras.data.glue",
        "bert_keras.data.metrics",
        "bert_keras.data.pretraining.settings",
        "bert_keras.data.squad.evaluation",
        "bert_keras.data.squad.examples",
        "bert_keras.data.squad.postprocessing",
        "bert_keras.data.swag",
        "bert_keras.data.tagging",
        "bert_keras.data.tagging_metrics",
        "bert_keras.data.tagging_tasks",
        "bert_keras.data.text_words",
    ],
)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
