"""Masked-LM and next-sentence pretraining data, exact to the original
`create_pretraining_data.py`."""

from bert_keras.data.pretraining.documents import read_documents
from bert_keras.data.pretraining.instances import (
    TrainingInstance,
    create_instances_from_document,
    create_masked_lm_predictions,
    create_training_instances,
    truncate_seq_pair,
)

__all__ = [
    "TrainingInstance",
    "create_instances_from_document",
    "create_masked_lm_predictions",
    "create_training_instances",
    "read_documents",
    "truncate_seq_pair",
]
