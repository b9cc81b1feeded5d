"""Reads Google's original TF1 BERT checkpoints (`bert_model.ckpt.*`).

Keras 3 restores by object structure only, and these checkpoints are keyed
by TF1 variable names, so we read them with `tf.train.load_checkpoint` and map
names through the tables below.
"""

import json
import re

from bert_keras.errors import CheckpointError
from bert_keras.presets.weight_mapping import WeightRule, gather_weights, present_head_rules

# `modeling.py`'s "gelu" is the tanh approximation.
_GOOGLE_ACTIVATIONS = {
    "gelu": "gelu_approximate",
    "relu": "relu",
    "tanh": "tanh",
}

_IGNORED = re.compile(
    r"(^|/)global_step$|/adam_[mv]$|/Adam(_1)?$|/Momentum$|/LAMB(_1)?$"
    r"|(^|/)(good_steps|loss_scale)$"
)


def _dense(ours, theirs):
    return [
        WeightRule(f"{ours}/kernel", (f"{theirs}/kernel",)),
        WeightRule(f"{ours}/bias", (f"{theirs}/bias",)),
    ]


def _layer_norm(ours, theirs):
    return [
        WeightRule(f"{ours}/gamma", (f"{theirs}/gamma",)),
        WeightRule(f"{ours}/beta", (f"{theirs}/beta",)),
    ]


def backbone_rules(num_layers):
    """The table from `BertBackbone` variable paths to Google names."""
    rules = [
        WeightRule(
            "embeddings/token_embedding/embeddings",
            ("bert/embeddings/word_embeddings",),
        ),
        WeightRule(
            "embeddings/segment_embedding/embeddings",
            ("bert/embeddings/token_type_embeddings",),
        ),
        WeightRule(
            "embeddings/position_embeddings",
            ("bert/embeddings/position_embeddings",),
        ),
        *_layer_norm("embeddings/layer_norm", "bert/embeddings/LayerNorm"),
    ]
    for i in range(num_layers):
        ours, theirs = f"encoder_block_{i}", f"bert/encoder/layer_{i}"
        qkv = [f"{theirs}/attention/self/{part}" for part in ("query", "key", "value")]
        rules += [
            WeightRule(
                f"{ours}/attention/qkv/kernel", tuple(f"{n}/kernel" for n in qkv)
            ),
            WeightRule(f"{ours}/attention/qkv/bias", tuple(f"{n}/bias" for n in qkv)),
            *_dense(f"{ours}/attention/output", f"{theirs}/attention/output/dense"),
            *_layer_norm(
                f"{ours}/attention_layer_norm", f"{theirs}/attention/output/LayerNorm"
            ),
            *_dense(f"{ours}/intermediate", f"{theirs}/intermediate/dense"),
            *_dense(f"{ours}/output", f"{theirs}/output/dense"),
            *_layer_norm(f"{ours}/output_layer_norm", f"{theirs}/output/LayerNorm"),
        ]
    return rules + _dense("pooler/dense", "bert/pooler/dense")


def masked_lm_head_rules():
    """The table for the masked-LM head (`cls/predictions/...`)."""
    return [
        *_dense("mlm_head/transform", "cls/predictions/transform/dense"),
        *_layer_norm("mlm_head/layer_norm", "cls/predictions/transform/LayerNorm"),
        WeightRule("mlm_head/output_bias", ("cls/predictions/output_bias",)),
    ]


def next_sentence_head_rules():
    """The table for the next-sentence head (`cls/seq_relationship/...`)."""
    return [
        # Stored as [2, hidden] and applied transposed by `run_pretraining.py`.
        WeightRule(
            "nsp_head/kernel", ("cls/seq_relationship/output_weights",), transpose=True
        ),
        WeightRule("nsp_head/bias", ("cls/seq_relationship/output_bias",)),
    ]


def pretraining_head_rules():
    """The table for both pretraining heads (`cls/...`)."""
    return masked_lm_head_rules() + next_sentence_head_rules()


def read_google_config(path):
    """Maps a `bert_config.json` to `BertBackbone` keyword arguments."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise CheckpointError(
                f"{path} holds a JSON {type(config).__name__}, not an object of "
                "settings (vocab_size, hidden_size, ...); restore the model's own file."
            )
        activation = config.get("hidden_act", "gelu")
        if activation not in _GOOGLE_ACTIVATIONS:
            raise CheckpointError(
                f"{path}: hidden_act {activation!r} is not one of "
                f"{sorted(_GOOGLE_ACTIVATIONS)}."
            )
        return {
            "vocabulary_size": config["vocab_size"],
            "num_layers": config["num_hidden_layers"],
            "num_heads": config["num_attention_heads"],
            "hidden_dim": config["hidden_size"],
            "intermediate_dim": config["intermediate_size"],
            "dropout": config.get("hidden_dropout_prob", 0.1),
            "attention_dropout": config.get("attention_probs_dropout_prob", 0.1),
            "max_sequence_length": config.get("max_position_embeddings", 512),
            "num_segments": config.get("type_vocab_size", 2),
            "activation": _GOOGLE_ACTIVATIONS[activation],
        }
    except (KeyError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"{path} is not a valid BERT config ({error!r}); it needs "
            "vocab_size, hidden_size, num_hidden_layers, num_attention_heads "
            "and intermediate_size."
        ) from None


def convert_google_checkpoint(checkpoint_prefix, num_layers, with_heads=True):
    """Reads a Google TF1 checkpoint into arrays keyed by our variable paths.

    Args:
        checkpoint_prefix: path prefix of the checkpoint, e.g.
            `.../uncased_L-12_H-768_A-12/bert_model.ckpt`.
        num_layers: the config's `num_hidden_layers`.
        with_heads: also read the pretraining heads (`cls/...`); when False
            they are ignored if present.

    Returns:
        `(backbone_arrays, head_arrays)`; `head_arrays` holds the heads the
        checkpoint has, and is None when it has none or `with_heads` is
        False.
    """
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(checkpoint_prefix))
    except (tf.errors.OpError, ValueError) as error:
        raise CheckpointError(
            f"Cannot read the TensorFlow checkpoint {checkpoint_prefix} "
            f"({error.__class__.__name__}). It needs the files "
            "bert_model.ckpt.index and bert_model.ckpt.data-00000-of-00001."
        ) from None
    available = set(reader.get_variable_to_shape_map())
    rules = backbone_rules(num_layers)
    head_rules = present_head_rules(available, (
        ("cls/predictions/", masked_lm_head_rules()),
        ("cls/seq_relationship/", next_sentence_head_rules()),
    )) if with_heads else []
    def ignored(name):
        return _IGNORED.search(name) is not None or (
            not head_rules and name.startswith("cls/")
        )
    arrays = gather_weights(
        rules + head_rules, reader.get_tensor, available, ignored, checkpoint_prefix
    )
    heads = {rule.ours: arrays.pop(rule.ours) for rule in head_rules} or None
    return arrays, heads
