"""Training to a number of updates that survives being killed.

`fit_resumable` trains in stretches of `save_every` updates, one Keras epoch
each, and saves a checkpoint after every stretch. Run again, it loads the
newest checkpoint (weights, optimizer moments, step count and so the
learning rate) and asks `make_dataset` for the data from the batch where
that checkpoint stopped, so a deterministic (seeded) input order carries on
exactly where it was; at most the updates since the last checkpoint are
done twice.
"""

import json
import math

import keras

from bert_keras.errors import TrainingError


class _CheckpointEachEpoch(keras.callbacks.Callback):
    def __init__(self, checkpoints, log_path):
        super().__init__()
        self.checkpoints = checkpoints
        self.log_path = log_path

    def on_epoch_end(self, epoch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self.checkpoints.save(self.model, step)
        if self.log_path is not None:
            record = {"global_step": step, **{k: float(v) for k, v in (logs or {}).items()}}
            with open(self.log_path, "a", encoding="utf-8") as file:
                file.write(json.dumps(record) + "\n")


def _trim_log(log_path, step):
    """Drops log lines past `step`, written by a run killed before its
    next checkpoint."""
    if log_path is None or not log_path.exists():
        return
    lines = log_path.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.strip() and json.loads(line)["global_step"] <= step]
    log_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def fit_resumable(model, make_dataset, num_train_steps, save_every, checkpoints,
                  accumulation=1, callbacks=(), verbose="auto", log_path=None):
    """Trains a compiled `model` to `num_train_steps` updates, resumably.

    Args:
        model: a compiled Keras model; its optimizer's `iterations` counts
            the updates.
        make_dataset: a function from a number of batches to skip to the
            (infinite) training dataset that starts after them.
        num_train_steps: int. The updates the run ends at.
        save_every: int. Updates between checkpoints.
        checkpoints: a `TrainingCheckpoints`.
        accumulation: int. Batches per update (gradient accumulation).
        callbacks: more Keras callbacks.
        verbose: Keras's `verbose` for `fit`.
        log_path: optional `pathlib.Path` of a JSON Lines file that gets the
            logs of every stretch, with its `global_step`.

    Returns:
        `(start_step, final_step)`: the step the run started from (0 when
        new, else the checkpoint's) and the one it ended at.
    """
    start = checkpoints.restore_latest(model)
    if start > num_train_steps:
        raise TrainingError(
            f"The latest checkpoint is at step {start}, past the "
            f"{num_train_steps} steps asked for; pass --num-train-steps "
            f"{start} or more, or start afresh with --overwrite."
        )
    _trim_log(log_path, start)
    callbacks = [*callbacks, _CheckpointEachEpoch(checkpoints, log_path)]
    step = start
    stretches = (num_train_steps - step) // save_every
    first_epoch = math.ceil(step / save_every)
    if stretches:
        model.fit(
            make_dataset(step * accumulation),
            initial_epoch=first_epoch,
            epochs=first_epoch + stretches,
            steps_per_epoch=save_every * accumulation,
            callbacks=callbacks,
            verbose=verbose,
        )
        step += stretches * save_every
    if step < num_train_steps:
        # The last, shorter stretch starts where the others stopped.
        model.fit(
            make_dataset(step * accumulation),
            initial_epoch=first_epoch + stretches,
            epochs=first_epoch + stretches + 1,
            steps_per_epoch=(num_train_steps - step) * accumulation,
            callbacks=callbacks,
            verbose=verbose,
        )
    final = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    return start, final
