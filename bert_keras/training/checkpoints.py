import json
import os
import pathlib
import re
import shutil
import uuid

from bert_keras.errors import TrainingError

_STEP_FOLDER = re.compile(r"^step-(\d{9})$")
_WEIGHTS = "model.weights.h5"
_STATE = "state.json"


class TrainingCheckpoints:
    """A run's checkpoints: the model's weights and its optimizer's state.

    Each checkpoint is a folder `step-<global step>/` holding
    `model.weights.h5` (Keras saves the optimizer's variables with the
    model's, so the step count, Adam's moments and any gradient
    accumulators come back too) and `state.json`. It is written under a
    temporary name and renamed once complete, so a process killed during a
    save leaves the previous checkpoint as the latest one. The newest
    `keep` checkpoints are kept (5, as the original's Estimator keeps).

    Args:
        folder: the folder of the checkpoints, created on the first save.
        keep: int. How many checkpoints to keep.

    Example:
    ```python
    checkpoints = TrainingCheckpoints("runs/pretrain/checkpoints")
    checkpoints.save(pretrainer, step=1000)
    step = checkpoints.restore_latest(pretrainer)  # 1000
    ```
    """

    def __init__(self, folder, keep=5):
        self.folder = pathlib.Path(folder)
        self.keep = keep

    def steps(self):
        """The global steps of the complete checkpoints, oldest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = _STEP_FOLDER.match(path.name)
            if match and (path / _STATE).is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def latest_step(self):
        """The newest complete checkpoint's step, or None."""
        steps = self.steps()
        return steps[-1] if steps else None

    def path(self, step):
        return self.folder / f"step-{step:09d}"

    def save(self, model, step, state=None):
        """Writes `model`'s weights and optimizer state as checkpoint `step`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".step-{step:09d}-{uuid.uuid4().hex[:12]}.partial"
        temporary.mkdir()
        try:
            model.save_weights(str(temporary / _WEIGHTS))
            # Written last: a folder without it is not a checkpoint.
            (temporary / _STATE).write_text(
                json.dumps({"global_step": step, **(state or {})}) + "\n", encoding="utf-8"
            )
            target = self.path(step)
            if target.exists():
                shutil.rmtree(target)
            os.replace(temporary, target)
        finally:
            if temporary.exists():
                shutil.rmtree(temporary, ignore_errors=True)
        self._prune()

    def _prune(self):
        for step in self.steps()[: -self.keep]:
            shutil.rmtree(self.path(step), ignore_errors=True)
        for path in self.folder.glob(".step-*.partial"):
            # Left by a process killed while saving.
            shutil.rmtree(path, ignore_errors=True)

    def restore(self, model, step):
        """Loads checkpoint `step` into `model`, whose optimizer it builds.

        Returns:
            The checkpoint's `state.json` as a dict.
        """
        path = self.path(step)
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(model.trainable_variables)
        try:
            model.load_weights(str(path / _WEIGHTS))
        except (OSError, ValueError, KeyError) as error:
            raise TrainingError(
                f"Cannot load the checkpoint {path} ({type(error).__name__}: {error}). "
                "It does not match this model; resume with the flags the run "
                "was started with, or start afresh with --overwrite."
            ) from None
        return json.loads((path / _STATE).read_text(encoding="utf-8"))

    def restore_latest(self, model):
        """Loads the newest checkpoint into `model`; returns its step, or 0
        when there is none."""
        step = self.latest_step()
        if step is None:
            return 0
        self.restore(model, step)
        return step

    def clear(self):
        """Removes every checkpoint."""
        if self.folder.exists():
            shutil.rmtree(self.folder)
