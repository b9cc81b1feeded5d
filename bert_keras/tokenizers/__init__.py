"""Tokenizers of bert_keras."""

from bert_keras.tokenizers.bert_tokenizer import BertTokenizer

__all__ = ["BertTokenizer"]
