"""A tiny BERT backbone with random weights, and a batch to feed it, for
comparing an exported model with its reference implementation."""

import keras
import numpy as np

from bert_keras.models import BertBackbone

VOCABULARY_SIZE = 40


def random_backbone(activation="gelu_approximate", seed=0):
    """A tiny backbone whose every weight, LayerNorms included, is random."""
    keras.utils.set_random_seed(seed)
    backbone = BertBackbone(
        vocabulary_size=VOCABULARY_SIZE,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_sequence_length=24,
        activation=activation,
    )
    rng = np.random.default_rng(seed)
    for variable in backbone.weights:
        noise = rng.normal(0.0, 0.1, variable.shape).astype("float32")
        variable.assign(keras.ops.convert_to_numpy(variable) + noise)
    return backbone


def batch():
    """A padded batch of sentence pairs, one row without padding."""
    rng = np.random.default_rng(3)
    length = 12
    return {
        "token_ids": rng.integers(0, VOCABULARY_SIZE, (3, length)).astype("int32"),
        "segment_ids": (np.arange(length)[None] >= np.array([[5], [3], [2]])).astype("int32"),
        "padding_mask": (np.arange(length)[None] < np.array([[length], [7], [4]])).astype(
            "int32"
        ),
    }
