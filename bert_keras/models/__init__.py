"""BERT models: the backbone and the task models built on it."""

from bert_keras.models.bert_backbone import BertBackbone
from bert_keras.models.bert_classifier import BertClassifier
from bert_keras.models.bert_feature_extractor import BertFeatureExtractor
from bert_keras.models.bert_multiple_choice import BertMultipleChoice
from bert_keras.models.bert_pretrainer import BertPretrainer
from bert_keras.models.bert_sentence_encoder import BertSentenceEncoder
from bert_keras.models.bert_span_labeler import BertSpanLabeler
from bert_keras.models.bert_task import BertTask
from bert_keras.models.bert_token_classifier import BertTokenClassifier

__all__ = [
    "BertBackbone",
    "BertClassifier",
    "BertFeatureExtractor",
    "BertMultipleChoice",
    "BertPretrainer",
    "BertSentenceEncoder",
    "BertSpanLabeler",
    "BertTask",
    "BertTokenClassifier",
]
