"""Masked-LM and next-sentence pretraining data, exact to the original
`create_pretraining_data.py`, and its reading for training.

- `create_pretraining_data` (exact mode): the input as one corpus, as one
  run of the original.
- `prepare_sharded_run` with `run_sharded` or `beam_pipeline.run_with_beam`
  (sharded mode): each file alone, seeded `seed + index`, resumable.
- `pretraining_dataset`: the TFRecords as the original `input_fn` reads
  them, optionally with `DynamicMasking`.
"""

from bert_keras.data.pretraining.dataset import pretraining_dataset
from bert_keras.data.pretraining.documents import read_documents
from bert_keras.data.pretraining.dynamic_masking import DynamicMasking
from bert_keras.data.pretraining.exact import create_pretraining_data
from bert_keras.data.pretraining.instances import (
    TrainingInstance,
    create_instances_from_document,
    create_masked_lm_predictions,
    create_training_instances,
    truncate_seq_pair,
)
from bert_keras.data.pretraining.settings import PretrainingDataSettings, shard_seed
from bert_keras.data.pretraining.sharded import prepare_sharded_run, run_sharded
from bert_keras.data.pretraining.summary import DataSummary

__all__ = [
    "DataSummary",
    "DynamicMasking",
    "PretrainingDataSettings",
    "TrainingInstance",
    "create_instances_from_document",
    "create_masked_lm_predictions",
    "create_pretraining_data",
    "create_training_instances",
    "pretraining_dataset",
    "prepare_sharded_run",
    "read_documents",
    "run_sharded",
    "shard_seed",
    "truncate_seq_pair",
]
