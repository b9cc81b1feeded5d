"""The original BERT optimizer (`optimization.py`) as Keras 3 pieces, and LAMB.

Google's `optimization.create_optimizer` trains with `AdamWeightDecayOptimizer`
(Adam without bias correction, weight decay added to the update), global-norm
clipping to 1.0, and a learning rate that warms up linearly and then decays
linearly to zero. This package reproduces it step for step:

- `BertAdamW`: the optimizer.
- `WarmupLinearDecay`: the learning rate schedule.
- `create_optimizer`: both, configured as the original's fine-tuning scripts
  do (warmup as a proportion of the steps).
- `create_pretraining_optimizer`: as `run_pretraining.py` configures them
  (warmup in steps), or with `BertLamb`, the large-batch optimizer.

Everything is written with `keras.ops`, so it runs on the TensorFlow and JAX
backends, eagerly or compiled inside `model.fit`.
"""

from bert_keras.optimizers.bert_adamw import DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY, BertAdamW
from bert_keras.optimizers.bert_lamb import BertLamb
from bert_keras.optimizers.recipes import (
    OPTIMIZERS,
    create_optimizer,
    create_pretraining_optimizer,
)
from bert_keras.optimizers.warmup_linear_decay import WarmupLinearDecay

__all__ = [
    "DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY",
    "OPTIMIZERS",
    "BertAdamW",
    "BertLamb",
    "WarmupLinearDecay",
    "create_optimizer",
    "create_pretraining_optimizer",
]
