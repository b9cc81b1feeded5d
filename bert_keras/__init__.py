"""bert_keras: Google's original BERT, rebuilt exactly as Keras 3 models.

The public API:
- `bert_keras.models.BertBackbone`
- `bert_keras.tokenizers.BertTokenizer`
- `bert_keras.preprocessing.BertPreprocessor`
- `bert_keras.presets` (`list_presets`, `download_preset`, ...)
- `bert_keras.layers` (the reusable building blocks)
- `bert_keras.export` (SavedModels on raw text, Hugging Face, keras-hub)
- `bert_keras.callbacks` (stop on a non-finite loss, atomic checkpoints)
- `bert_keras.distribute` (`get_strategy`: CPU, GPUs, TPU or many workers,
  with mixed precision to match)

Submodules load on first use, so that `import bert_keras` (and the command
line) does not pay for TensorFlow before it is needed.
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "callbacks",
    "data",
    "distribute",
    "errors",
    "export",
    "layers",
    "models",
    "optimizers",
    "preprocessing",
    "presets",
    "tokenizers",
)
_EXPORTS = {
    "BertBackbone": "bert_keras.models",
    "BertClassifier": "bert_keras.models",
    "BertFeatureExtractor": "bert_keras.models",
    "BertSentenceEncoder": "bert_keras.models",
    "BertSpanLabeler": "bert_keras.models",
    "BertPreprocessor": "bert_keras.preprocessing",
    "BertSpanPreprocessor": "bert_keras.preprocessing",
    "BertTokenizer": "bert_keras.tokenizers",
    "BertKerasError": "bert_keras.errors",
    "CheckpointError": "bert_keras.errors",
    "DataError": "bert_keras.errors",
    "PresetError": "bert_keras.errors",
}

__all__ = [*_EXPORTS, *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"bert_keras.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'bert_keras' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
