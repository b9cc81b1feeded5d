"""Exports made by TensorFlow, run from any Keras backend.

A SavedModel, and the ONNX graph converted from it, are TensorFlow graphs.
Under JAX (or torch) the model is handed to a TensorFlow-backend process as
a temporary `.keras` copy, with its preprocessor serialized beside it, and
that process writes the very export a TensorFlow-backend caller would.
"""

import json
import os
import subprocess
import sys
import tempfile

import keras

from bert_keras.errors import ExportError


def export_in_tensorflow_process(module, model, preprocessor, export_dir, flags=()):
    """Runs `python -m module MODEL PREPROCESSOR EXPORT_DIR *flags` on TensorFlow.

    Raises:
        ExportError: the process failed; the message ends with its last
            lines of standard error.
    """
    with tempfile.TemporaryDirectory() as scratch:
        model_path = os.path.join(scratch, "model.keras")
        preprocessor_path = os.path.join(scratch, "preprocessor.json")
        model.save(model_path)
        with open(preprocessor_path, "w", encoding="utf-8") as file:
            json.dump(keras.saving.serialize_keras_object(preprocessor), file)
        command = [sys.executable, "-m", module, model_path, preprocessor_path,
                   str(export_dir), *flags]
        environment = dict(os.environ, KERAS_BACKEND="tensorflow")
        environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        result = subprocess.run(command, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise ExportError(
            "Exporting through a TensorFlow process failed; its last "
            f"messages:\n{result.stderr[-3000:]}"
        )


def load_handed_over(model_path, preprocessor_path):
    """`(model, preprocessor)` as `export_in_tensorflow_process` handed them over."""
    import bert_keras.models  # noqa: F401  (registers the classes to load)
    import bert_keras.preprocessing  # noqa: F401

    model = keras.saving.load_model(model_path, compile=False)
    with open(preprocessor_path, encoding="utf-8") as file:
        preprocessor = keras.saving.deserialize_keras_object(json.load(file))
    return model, preprocessor
