"""Reusable Keras layers that make up BERT, written with `keras.ops` only."""

from bert_keras.layers.bert_embedding import BertEmbedding
from bert_keras.layers.bert_encoder_block import BertEncoderBlock
from bert_keras.layers.bert_pooler import BertPooler
from bert_keras.layers.fold_choices import FoldChoices
from bert_keras.layers.masked_lm_head import MaskedLMHead
from bert_keras.layers.multi_head_self_attention import MultiHeadSelfAttention
from bert_keras.layers.sentence_pooling import SentencePooling
from bert_keras.layers.unfold_choices import UnfoldChoices

__all__ = [
    "BertEmbedding",
    "BertEncoderBlock",
    "BertPooler",
    "FoldChoices",
    "MaskedLMHead",
    "MultiHeadSelfAttention",
    "SentencePooling",
    "UnfoldChoices",
]
