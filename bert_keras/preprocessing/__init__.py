"""Turning text into the backbone's inputs: packing, padding, batching."""

from bert_keras.preprocessing.bert_multiple_choice_preprocessor import (
    BertMultipleChoicePreprocessor,
)
from bert_keras.preprocessing.bert_preprocessor import BertPreprocessor
from bert_keras.preprocessing.bert_span_preprocessor import BertSpanPreprocessor
from bert_keras.preprocessing.bucketing import bucketed_batches

__all__ = [
    "BertMultipleChoicePreprocessor",
    "BertPreprocessor",
    "BertSpanPreprocessor",
    "bucketed_batches",
]
