"""The parts of a model that every export format needs.

An exportable model is a `BertBackbone` or a `BertClassifier`; each format
needs its backbone, its head if any, and the tokenizer whose vocabulary
travels with it.
"""

import keras
import numpy as np

from bert_keras.errors import ExportError


def split_model(model):
    """Returns `(backbone, classifier)` of an exportable model.

    `classifier` is None for a bare `BertBackbone`.

    Raises:
        ExportError: `model` is neither a `BertBackbone` nor a
            `BertClassifier`.
    """
    from bert_keras.models import BertBackbone, BertClassifier

    if isinstance(model, BertClassifier):
        return model.backbone, model
    if isinstance(model, BertBackbone):
        return model, None
    raise ExportError(
        "Only a bert_keras.models.BertBackbone or BertClassifier can be "
        f"exported; got {type(model).__name__}."
    )


def resolve_tokenizer(model, tokenizer):
    """The tokenizer to export: `tokenizer`, else the model's preprocessor's.

    Raises:
        ExportError: there is neither, or the tokenizer is not a
            `bert_keras.tokenizers.BertTokenizer`, or its vocabulary is
            larger than the model's.
    """
    from bert_keras.tokenizers import BertTokenizer

    backbone, classifier = split_model(model)
    if tokenizer is None and classifier is not None and classifier.preprocessor is not None:
        tokenizer = classifier.preprocessor.tokenizer
    if tokenizer is None:
        raise ExportError(
            "An export needs the model's vocabulary, and this model has no "
            "preprocessor to take it from. Pass the tokenizer, e.g. "
            "`tokenizer=BertTokenizer.from_preset(...)` with the preset the "
            "model was trained from, or attach a `BertPreprocessor`."
        )
    if not isinstance(tokenizer, BertTokenizer):
        raise ExportError(
            "`tokenizer` must be a bert_keras.tokenizers.BertTokenizer; got "
            f"{type(tokenizer).__name__}."
        )
    if tokenizer.vocabulary_size() > backbone.vocabulary_size:
        raise ExportError(
            f"The tokenizer has {tokenizer.vocabulary_size()} tokens, more "
            f"than the model's vocabulary_size of {backbone.vocabulary_size}: "
            "they do not belong together."
        )
    return tokenizer


def preprocessor_sequence_length(model):
    """The sequence length of the model's preprocessor, or None."""
    preprocessor = getattr(model, "preprocessor", None)
    return None if preprocessor is None else preprocessor.sequence_length


def float32_array(variable):
    """A variable's value as a float32 numpy array, whatever the backend."""
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float32")
