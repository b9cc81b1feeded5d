"""`fit_resumable` with gradient accumulation: a run stopped between
checkpoints and started again continues from the checkpoint's update, on
the micro-batch where it stopped, and ends at the uninterrupted weights.

Tolerance 1e-6: both runs do the same float32 arithmetic in the same order,
only reloaded in between (measured: equal); resuming one micro-batch off,
or with the schedule counting micro-batches, moves weights by 1e-3 or more.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.test_training_memory import classifier, pretraining_data

from bert_keras.optimizers import create_pretraining_optimizer
from bert_keras.training import TrainingCheckpoints, fit_resumable

UPDATES, SAVE_EVERY, ACCUMULATION, MICRO_BATCH = 6, 2, 2, 4


class Stop(Exception):
    pass


class StopAtUpdate(keras.callbacks.Callback):
    """Stops training mid-stretch, as a killed process would."""

    def __init__(self, update):
        super().__init__()
        self.update = update

    def on_train_batch_end(self, batch, logs=None):
        if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == self.update:
            raise Stop


def make_dataset(skip_batches):
    x, y, sample_weight = pretraining_data()
    dataset = tf.data.Dataset.from_tensor_slices((x, y, sample_weight))
    return dataset.repeat().batch(MICRO_BATCH).skip(skip_batches)


def pretrainer():
    model = classifier(task="pretrainer")
    model.compile(optimizer=create_pretraining_optimizer(
        1e-2, UPDATES, 1, gradient_accumulation_steps=ACCUMULATION))
    return model


def run(folder, callbacks=()):
    model = pretrainer()
    result = fit_resumable(
        model, make_dataset, UPDATES, SAVE_EVERY, TrainingCheckpoints(folder),
        accumulation=ACCUMULATION, callbacks=callbacks, verbose=0,
    )
    return model, result


@pytest.mark.model
def test_a_stopped_accumulating_run_resumes_to_the_uninterrupted_weights(tmp_path):
    whole, (start, final) = run(tmp_path / "whole")
    assert (start, final) == (0, UPDATES)

    with pytest.raises(Stop):
        run(tmp_path / "resumed", callbacks=[StopAtUpdate(SAVE_EVERY + 1)])
    assert TrainingCheckpoints(tmp_path / "resumed").steps() == [SAVE_EVERY]
    resumed, (start, final) = run(tmp_path / "resumed")
    assert (start, final) == (SAVE_EVERY, UPDATES)
    assert TrainingCheckpoints(tmp_path / "resumed").steps() == [2, 4, 6]
    assert float(resumed.optimizer.learning_rate) == 0.0
    for a, b in zip(resumed.weights, whole.weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), atol=1e-6, rtol=0,
            err_msg=a.path,
        )
