"""Taking models out of Keras: SavedModels on raw text, ONNX, Hugging Face,
keras-hub, Google checkpoints.

- `export_saved_model(model, export_dir)`: a TensorFlow SavedModel whose
  signatures take raw strings (tokenizer and packing inside), for TensorFlow
  Serving or `tf.saved_model.load` with only `tensorflow_text` installed.
- `export_onnx(model, folder)`: an ONNX Runtime folder, the model on token
  ids (`model.onnx`) with the tokenizer's files beside it.
- `to_huggingface(model, folder)`: a transformers folder (`config.json`,
  `model.safetensors`, `vocab.txt`, `tokenizer_config.json`).
- `to_keras_hub(model, folder)`: a keras-hub preset folder.
- `to_google_checkpoint(model, folder, vocabulary)`: Google's original
  checkpoint folder (`bert_config.json`, `vocab.txt`, `bert_model.ckpt.*`).
"""

import importlib

_EXPORTS = {
    "export_saved_model": "bert_keras.export.saved_model",
    "export_onnx": "bert_keras.export.onnx",
    "to_huggingface": "bert_keras.export.huggingface",
    "to_keras_hub": "bert_keras.export.keras_hub",
    "to_google_checkpoint": "bert_keras.export.google_checkpoint",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'bert_keras.export' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
