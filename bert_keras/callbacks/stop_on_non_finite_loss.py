import math

import keras

from bert_keras.errors import TrainingError


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Ends training with a `TrainingError` as soon as the loss is NaN or infinite.

    Keras's `TerminateOnNaN` stops quietly, after which a script goes on to
    save a ruined model; raising instead stops the script before any save,
    so models and checkpoints written earlier stay as they were.

    Args:
        hint: str. A sentence appended to the error, naming what the user
            can change (e.g. a flag).

    Example:
    ```python
    classifier.fit(x, y, callbacks=[StopOnNonFiniteLoss()])
    ```
    """

    def __init__(self, hint="Lower the learning rate, or look for non-finite labels or inputs."):
        super().__init__()
        self.hint = hint
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = float(keras.ops.convert_to_numpy(loss).reshape(-1)[0])
        if not math.isfinite(value):
            raise TrainingError(
                f"The training loss became {value} at batch {batch + 1} of "
                f"epoch {self._epoch + 1}, so training stopped and nothing "
                f"of this epoch was saved. {self.hint}"
            )
