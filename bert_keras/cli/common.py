"""Helpers shared by the commands: training or loading, safe saving and
argument types."""

import argparse
import os
import uuid

import numpy as np

from bert_keras.errors import BertKerasError, DataError

MODEL_FILE = "model.keras"


def trained_or_saved_model(output_dir, args, build, train):
    """The model of a command that fine-tunes into `output_dir`.

    With `--do-train`, `build()` makes a fresh model, `train(model)` fits it
    and it is saved to `output_dir/model.keras`; otherwise the model saved
    there by an earlier run is loaded.
    """
    import keras

    model_path = output_dir / MODEL_FILE
    if args.do_train:
        # Refused before any work, so a long run never ends in a refusal.
        check_can_write(model_path, args.overwrite)
        model = build()
        train(model)
        save_model(model, model_path, args.overwrite)
        print(f"Saved the fine-tuned model to {model_path}.")
        return model
    if model_path.exists():
        return keras.models.load_model(model_path)
    raise DataError(
        f"{model_path} does not exist: train first (--do-train), or point "
        "--output-dir at the folder of a fine-tuned model."
    )


def save_model(model, path, overwrite):
    """Saves `model` to `path` so that `path` is never a partial file.

    Keras writes to a temporary file in the same folder, which then replaces
    `path` in one step; an interrupted save leaves any previous model as it
    was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name rather than `tempfile.mkstemp`, whose owner-only file
    # would leave the model unreadable to anyone else once renamed; Keras
    # insists on the `.keras` suffix.
    temporary = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:12]}{path.suffix}")
    try:
        model.save(temporary)
        # Checked again: another run may have saved here while this one trained.
        check_can_write(path, overwrite)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def check_can_write(path, overwrite):
    if path.exists() and not overwrite:
        raise BertKerasError(
            f"{path} already holds a saved model; pass --overwrite to replace "
            "it, or choose another --output-dir."
        )


def softmax(logits):
    # Shifted by the row maximum so that large logits cannot overflow.
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def positive(kind, minimum=None):
    """An argparse `type`: a `kind` above zero, or at least `minimum`."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if minimum is None and value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    return parse


def training_callbacks(output_dir):
    """A weights checkpoint per epoch and TensorBoard logs, under `output_dir`."""
    import keras

    return [
        keras.callbacks.ModelCheckpoint(
            str(output_dir / "checkpoints" / "epoch_{epoch:03d}.weights.h5"),
            save_weights_only=True,
        ),
        keras.callbacks.TensorBoard(log_dir=str(output_dir / "logs")),
    ]
