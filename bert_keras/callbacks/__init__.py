"""Training callbacks that keep a run's results safe."""

from bert_keras.callbacks.atomic_weights_checkpoint import AtomicWeightsCheckpoint
from bert_keras.callbacks.stop_on_non_finite_loss import StopOnNonFiniteLoss

__all__ = ["AtomicWeightsCheckpoint", "StopOnNonFiniteLoss"]
