"""Writes models as Google's original BERT checkpoint folders.

The folder is what the original release ships and `run_pretraining.py`
saves: `bert_config.json`, `vocab.txt`, and `bert_model.ckpt.index` with
`bert_model.ckpt.data-00000-of-00001`, a TF1 checkpoint whose variables
carry the original names (`bert/...`, `cls/...`, `global_step`), so it loads
wherever Google's checkpoints load (`tf.train.load_checkpoint`, the
original `modeling.py` through `init_from_checkpoint`) and
`BertBackbone.from_preset(folder)` reads it back bit for bit. The names
come from the table that reads such checkpoints (`convert_google`),
reversed.
"""

import json
import pathlib

import numpy as np

from bert_keras.errors import ExportError
from bert_keras.export.atomic_directory import atomic_directory
from bert_keras.export.model_parts import float32_array
from bert_keras.presets.convert_google import (
    backbone_rules,
    masked_lm_head_rules,
    next_sentence_head_rules,
)
from bert_keras.presets.weight_mapping import scatter_weights

# Google's `modeling.get_activation` names; its "gelu" is the tanh form.
_GOOGLE_ACTIVATIONS = {"gelu_approximate": "gelu", "relu": "relu", "tanh": "tanh"}


def _parts(model):
    """`(backbone, rules, arrays, global_step, head_tensors)` of `model`."""
    from bert_keras.models import BertBackbone, BertClassifier, BertPretrainer

    if isinstance(model, BertPretrainer):
        backbone = model.backbone
        rules = masked_lm_head_rules() + (next_sentence_head_rules() if model.nsp else [])
        heads = [model.mlm_head] + ([model.nsp_head] if model.nsp else [])
        variables = [v for head in heads for v in head.weights
                     if v.path.startswith(("mlm_head/", "nsp_head/"))]
        extra = {}
    elif isinstance(model, BertClassifier):
        backbone, rules, variables = model.backbone, [], []
        # `run_classifier.py` names its head `output_weights` ([classes,
        # hidden]) and `output_bias`.
        extra = {"output_weights": float32_array(model.output_dense.kernel).T,
                 "output_bias": float32_array(model.output_dense.bias)}
    elif isinstance(model, BertBackbone):
        backbone, rules, variables, extra = model, [], [], {}
    else:
        raise ExportError(
            "A Google checkpoint holds a BertBackbone, BertPretrainer or "
            f"BertClassifier; got {type(model).__name__}."
        )
    arrays = {v.path: float32_array(v) for v in [*backbone.weights, *variables]}
    optimizer = getattr(model, "optimizer", None)
    step = 0
    if optimizer is not None and optimizer.built:
        import keras

        step = int(keras.ops.convert_to_numpy(optimizer.iterations))
    return backbone, backbone_rules(backbone.num_layers) + rules, arrays, step, extra


def google_config(backbone):
    """The `bert_config.json` of `backbone`, in the original's keys."""
    if backbone.activation not in _GOOGLE_ACTIVATIONS:
        raise ExportError(
            f"The activation {backbone.activation!r} has no name in Google's "
            f"modeling.py; exportable ones are {sorted(_GOOGLE_ACTIVATIONS)}."
        )
    return {
        "attention_probs_dropout_prob": backbone.attention_dropout,
        "hidden_act": _GOOGLE_ACTIVATIONS[backbone.activation],
        "hidden_dropout_prob": backbone.dropout,
        "hidden_size": backbone.hidden_dim,
        "initializer_range": 0.02,
        "intermediate_size": backbone.intermediate_dim,
        "max_position_embeddings": backbone.max_sequence_length,
        "num_attention_heads": backbone.num_heads,
        "num_hidden_layers": backbone.num_layers,
        "type_vocab_size": backbone.num_segments,
        "vocab_size": backbone.vocabulary_size,
    }


def _write_checkpoint(prefix, tensors):
    import tensorflow as tf

    names = sorted(tensors)
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors[name]) for name in names],
    )


def to_google_checkpoint(model, folder, vocabulary, overwrite=False):
    """Writes `model` as a Google BERT checkpoint folder.

    A `BertBackbone` gives the `bert/` variables; a `BertPretrainer` adds its
    heads (`cls/predictions/...`, and `cls/seq_relationship/...` with the
    next-sentence head); a `BertClassifier` adds `output_weights` and
    `output_bias` as `run_classifier.py` names them. `global_step` is the
    optimizer's step count (0 without one). The folder appears whole or not
    at all.

    Args:
        model: a `BertBackbone`, `BertPretrainer` or `BertClassifier`.
        folder: the folder to write.
        vocabulary: the path of the model's `vocab.txt`, or a list of tokens.
        overwrite: bool. Whether an earlier export at `folder` may be
            replaced.

    Returns:
        The folder, as a `pathlib.Path`.

    Example:
    ```python
    from bert_keras.export import to_google_checkpoint
    from bert_keras.models import BertPretrainer

    pretrainer = BertPretrainer.from_preset("bert_tiny_en_uncased")
    to_google_checkpoint(pretrainer, "exported", "vocab.txt")
    ```
    """
    backbone, rules, arrays, step, extra = _parts(model)
    tokens = _tokens(vocabulary)
    if len(tokens) != backbone.vocabulary_size:
        raise ExportError(
            f"The vocabulary has {len(tokens)} tokens but the model's "
            f"vocabulary_size is {backbone.vocabulary_size}; pass the vocab.txt "
            "the model was trained with."
        )
    config = google_config(backbone)
    tensors = {name: np.ascontiguousarray(value)
               for name, value in scatter_weights(rules, arrays).items()}
    tensors.update(extra)
    tensors["global_step"] = np.asarray(step, "int64")
    with atomic_directory(folder, overwrite, kind="google") as temporary:
        (temporary / "bert_config.json").write_text(
            json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        (temporary / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
        _write_checkpoint(temporary / "bert_model.ckpt", tensors)
    return pathlib.Path(folder).absolute()


def _tokens(vocabulary):
    if isinstance(vocabulary, (list, tuple)):
        return list(vocabulary)
    path = pathlib.Path(vocabulary)
    if not path.is_file():
        raise ExportError(f"The vocabulary {path} is not a file.")
    return path.read_text(encoding="utf-8").splitlines()
