"""Long training runs that can be killed and resumed."""

from bert_keras.training.checkpoints import TrainingCheckpoints
from bert_keras.training.resumable_fit import fit_resumable

__all__ = ["TrainingCheckpoints", "fit_resumable"]
