import os
import pathlib
import uuid

import keras


class AtomicWeightsCheckpoint(keras.callbacks.Callback):
    """Saves the model's weights after every epoch, whole or not at all.

    Keras's `ModelCheckpoint` writes straight into its target, so a run
    killed mid-save leaves a corrupt file where a good one may have been.
    This callback writes each checkpoint under a temporary name in the same
    folder and renames it into place.

    Args:
        filepath: str. A `.weights.h5` path, formatted with `epoch` (from 1),
            e.g. `"checkpoints/epoch_{epoch:03d}.weights.h5"`.

    Example:
    ```python
    classifier.fit(x, y, epochs=3,
                   callbacks=[AtomicWeightsCheckpoint("ckpt/epoch_{epoch:03d}.weights.h5")])
    ```
    """

    def __init__(self, filepath):
        super().__init__()
        if not str(filepath).endswith(".weights.h5"):
            raise ValueError(f"`filepath` must end in `.weights.h5`; got {filepath!r}.")
        self.filepath = str(filepath)

    def on_epoch_end(self, epoch, logs=None):
        path = pathlib.Path(self.filepath.format(epoch=epoch + 1))
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{uuid.uuid4().hex[:12]}-{path.name}")
        try:
            self.model.save_weights(temporary)
            os.replace(temporary, path)
        finally:
            if temporary.exists():
                temporary.unlink()
