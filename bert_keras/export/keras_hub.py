"""Writes models as keras-hub presets.

The model is rebuilt with keras-hub's own classes (`BertBackbone`,
`BertTokenizer`, and for a classifier `BertTextClassifier` with its
preprocessor), our weights are copied into them, and keras-hub's
`save_to_preset` writes the folder, so the folder is exactly what keras-hub
expects to load, in whatever format its version uses.

keras-hub's `BertBackbone` always computes the tanh approximation of GELU
(Google's); a model with the exact GELU is exported with a warning, and
other activations cannot be expressed.
"""

import pathlib
import warnings

import numpy as np

from bert_keras.errors import ExportError
from bert_keras.export.atomic_directory import atomic_directory
from bert_keras.export.model_parts import (
    float32_array,
    preprocessor_sequence_length,
    resolve_tokenizer,
    split_model,
)
from bert_keras.presets.weight_mapping import WeightRule, assign_weights, scatter_weights

_DEFAULT_SEQUENCE_LENGTH = 512


def _layer_norm(ours, theirs):
    return [
        WeightRule(f"{ours}/gamma", (f"{theirs}/gamma",)),
        WeightRule(f"{ours}/beta", (f"{theirs}/beta",)),
    ]


def _dense(ours, theirs):
    return [
        WeightRule(f"{ours}/kernel", (f"{theirs}/kernel",)),
        WeightRule(f"{ours}/bias", (f"{theirs}/bias",)),
    ]


def keras_hub_rules(num_layers):
    """The table from `BertBackbone` variable paths to keras-hub's.

    keras-hub's attention projections are `EinsumDense` layers that keep
    heads and head width as separate axes (query kernel `[hidden, heads,
    head_dim]`, output kernel `[heads, head_dim, hidden]`); the arrays this
    table yields are flat and must be reshaped to keras-hub's shapes.
    """
    rules = [
        WeightRule("embeddings/token_embedding/embeddings", ("token_embedding/embeddings",)),
        WeightRule(
            "embeddings/segment_embedding/embeddings", ("segment_embedding/embeddings",)
        ),
        WeightRule("embeddings/position_embeddings", ("position_embedding/embeddings",)),
        *_layer_norm("embeddings/layer_norm", "embeddings_layer_norm"),
    ]
    for i in range(num_layers):
        ours, theirs = f"encoder_block_{i}", f"transformer_layer_{i}"
        attention = f"{theirs}/self_attention_layer"
        qkv = [f"{attention}/{part}" for part in ("query", "key", "value")]
        rules += [
            WeightRule(
                f"{ours}/attention/qkv/kernel", tuple(f"{n}/kernel" for n in qkv)
            ),
            WeightRule(f"{ours}/attention/qkv/bias", tuple(f"{n}/bias" for n in qkv)),
            *_dense(f"{ours}/attention/output", f"{attention}/attention_output"),
            *_layer_norm(
                f"{ours}/attention_layer_norm", f"{theirs}/self_attention_layer_norm"
            ),
            *_dense(f"{ours}/intermediate", f"{theirs}/feedforward_intermediate_dense"),
            *_dense(f"{ours}/output", f"{theirs}/feedforward_output_dense"),
            *_layer_norm(f"{ours}/output_layer_norm", f"{theirs}/feedforward_layer_norm"),
        ]
    return rules + _dense("pooler/dense", "pooled_dense")


def _check_activation(activation):
    if activation == "gelu":
        warnings.warn(
            "This model uses the exact (erf) GELU, and keras-hub's BertBackbone "
            "always computes the tanh approximation: the exported model's "
            "outputs will differ slightly from this one's (the two differ by "
            "up to 5e-4 per activation, outputs typically by 1e-4 to 1e-3).",
            UserWarning,
            stacklevel=3,
        )
    elif activation != "gelu_approximate":
        raise ExportError(
            f"keras-hub's BertBackbone has no {activation!r} activation (it "
            "always uses the tanh GELU), so this model cannot be exported to "
            "keras-hub. Export it with `to_huggingface` instead."
        )


def _sequence_length(model, backbone, sequence_length):
    if sequence_length is None:
        sequence_length = preprocessor_sequence_length(model) or min(
            _DEFAULT_SEQUENCE_LENGTH, backbone.max_sequence_length
        )
    if not 3 <= sequence_length <= backbone.max_sequence_length:
        raise ExportError(
            f"The keras-hub preprocessor's sequence_length {sequence_length} "
            "must be at least 3 and at most the model's max_sequence_length "
            f"of {backbone.max_sequence_length}; pass `sequence_length=`."
        )
    return sequence_length


def _hub_backbone(backbone):
    import keras_hub

    hub_backbone = keras_hub.models.BertBackbone(
        vocabulary_size=backbone.vocabulary_size,
        num_layers=backbone.num_layers,
        num_heads=backbone.num_heads,
        hidden_dim=backbone.hidden_dim,
        intermediate_dim=backbone.intermediate_dim,
        # keras-hub has one rate for the residual and attention dropouts.
        dropout=backbone.dropout,
        max_sequence_length=backbone.max_sequence_length,
        num_segments=backbone.num_segments,
        dtype=backbone.dtype_policy.name,
    )
    arrays = scatter_weights(
        keras_hub_rules(backbone.num_layers),
        {variable.path: float32_array(variable) for variable in backbone.weights},
    )
    shapes = {variable.path: tuple(variable.shape) for variable in hub_backbone.weights}
    if set(arrays) != set(shapes):
        unmatched = sorted(set(arrays) ^ set(shapes))
        raise ExportError(
            f"keras-hub {keras_hub.__version__} names BertBackbone's variables "
            f"differently from what this export knows (e.g. {unmatched[:3]}); "
            "export with the keras-hub version bert_keras was tested with."
        )
    # Our fused projection lays heads out as [q | k | v], each
    # [num_heads, head_dim] flattened row-major, and so does the input axis
    # of our output projection: reshaping is exact.
    arrays = {path: np.reshape(array, shapes[path]) for path, array in arrays.items()}
    assign_weights(hub_backbone.weights, arrays, "The keras-hub export")
    return hub_backbone


def to_keras_hub(model, folder, tokenizer=None, sequence_length=None, overwrite=False):
    """Writes `model` as a keras-hub preset folder.

    A `BertBackbone` becomes a `keras_hub.models.BertBackbone` with its
    `BertTokenizer`; a `BertClassifier` a `keras_hub.models.
    BertTextClassifier` with its preprocessor. Load the folder with
    keras-hub's `from_preset(folder)`. The folder appears whole or not at all.

    keras-hub's `BertBackbone` always uses the tanh GELU of Google's
    checkpoints (`activation="gelu_approximate"`, exported exactly). A model
    with the exact `"gelu"` is exported with a `UserWarning`, as its outputs
    will differ slightly; `"relu"` and `"tanh"` cannot be exported. keras-hub
    has one dropout rate: the backbone's `dropout` also becomes the attention
    dropout.

    Args:
        model: a `bert_keras.models.BertBackbone` or `BertClassifier`.
        folder: the folder to write.
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`; by default the
            one of the classifier's preprocessor.
        sequence_length: int. The packed length of a classifier's keras-hub
            preprocessor; by default the length of the model's preprocessor,
            else 512 (or `max_sequence_length` if smaller).
        overwrite: bool. Whether an existing `folder` may be replaced.

    Returns:
        The folder, as a `pathlib.Path`.

    Raises:
        ExportError: `model` is of another type or its activation is not a
            GELU; there is no tokenizer; `sequence_length` does not fit the
            model; or `folder` exists (without `overwrite`) or cannot be
            written.

    Example:
    ```python
    import keras_hub
    from bert_keras.export import to_keras_hub
    from bert_keras.models import BertClassifier

    classifier = BertClassifier.from_preset("bert_tiny_en_uncased", num_classes=2)
    to_keras_hub(classifier, "exported")
    keras_hub.models.BertTextClassifier.from_preset("exported")
    ```
    """
    import keras_hub

    backbone, classifier = split_model(model)
    tokenizer = resolve_tokenizer(model, tokenizer)
    _check_activation(backbone.activation)
    sequence_length = _sequence_length(model, backbone, sequence_length)
    hub_tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=tokenizer.get_vocabulary(),
        lowercase=tokenizer.lowercase,
        # The original strips accents exactly when it lowercases; keras-hub
        # would otherwise keep them.
        strip_accents=tokenizer.lowercase,
    )
    hub_backbone = _hub_backbone(backbone)
    with atomic_directory(folder, overwrite, kind="keras_hub") as temporary:
        if classifier is None:
            hub_backbone.save_to_preset(str(temporary))
            hub_tokenizer.save_to_preset(str(temporary))
        else:
            hub_classifier = keras_hub.models.BertTextClassifier(
                hub_backbone,
                classifier.num_classes,
                preprocessor=keras_hub.models.BertTextClassifierPreprocessor(
                    hub_tokenizer, sequence_length=sequence_length
                ),
                dropout=classifier.dropout,
            )
            head = classifier.output_dense
            hub_classifier.output_dense.kernel.assign(float32_array(head.kernel))
            hub_classifier.output_dense.bias.assign(float32_array(head.bias))
            hub_classifier.save_to_preset(str(temporary))
    return pathlib.Path(folder).absolute()
