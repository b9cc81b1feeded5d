"""BERT models: the backbone and the task models built on it."""

from bert_keras.models.bert_backbone import BertBackbone

__all__ = ["BertBackbone"]
