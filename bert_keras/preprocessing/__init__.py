"""Turning raw text into the inputs of the BERT backbone."""

from bert_keras.preprocessing.bert_preprocessor import BertPreprocessor

__all__ = ["BertPreprocessor"]
