"""Reads Hugging Face BERT folders (`config.json` + `model.safetensors`).

Safetensors files are read with the `safetensors` numpy API, so no PyTorch is
needed. Names may carry the `bert.` prefix (`BertForPreTraining`, task
models) or not (`BertModel`), and LayerNorm parameters may be called
`weight`/`bias` or, in old conversions, `gamma`/`beta`.
"""

import json
import re

from bert_keras.errors import CheckpointError
from bert_keras.presets.weight_mapping import WeightRule, gather_weights, present_head_rules

_HF_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
    "relu": "relu",
    "tanh": "tanh",
}

_IGNORED = re.compile(
    r"position_ids$|^cls\.predictions\.decoder\.(weight|bias)$"
    r"|^(classifier|qa_outputs)\."
)


def _linear(ours, theirs):
    # torch.nn.Linear stores its weight as [out, in].
    return [
        WeightRule(f"{ours}/kernel", (f"{theirs}.weight",), transpose=True),
        WeightRule(f"{ours}/bias", (f"{theirs}.bias",)),
    ]


def _layer_norm(ours, theirs):
    return [
        WeightRule(f"{ours}/gamma", (f"{theirs}.weight",)),
        WeightRule(f"{ours}/beta", (f"{theirs}.bias",)),
    ]


def backbone_rules(num_layers, prefix="bert."):
    """The table from `BertBackbone` variable paths to Hugging Face names."""
    p = prefix
    rules = [
        WeightRule(
            "embeddings/token_embedding/embeddings",
            (f"{p}embeddings.word_embeddings.weight",),
        ),
        WeightRule(
            "embeddings/segment_embedding/embeddings",
            (f"{p}embeddings.token_type_embeddings.weight",),
        ),
        WeightRule(
            "embeddings/position_embeddings",
            (f"{p}embeddings.position_embeddings.weight",),
        ),
        *_layer_norm("embeddings/layer_norm", f"{p}embeddings.LayerNorm"),
    ]
    for i in range(num_layers):
        ours, theirs = f"encoder_block_{i}", f"{p}encoder.layer.{i}"
        qkv = [f"{theirs}.attention.self.{part}" for part in ("query", "key", "value")]
        rules += [
            WeightRule(
                f"{ours}/attention/qkv/kernel",
                tuple(f"{n}.weight" for n in qkv),
                transpose=True,
            ),
            WeightRule(f"{ours}/attention/qkv/bias", tuple(f"{n}.bias" for n in qkv)),
            *_linear(f"{ours}/attention/output", f"{theirs}.attention.output.dense"),
            *_layer_norm(
                f"{ours}/attention_layer_norm", f"{theirs}.attention.output.LayerNorm"
            ),
            *_linear(f"{ours}/intermediate", f"{theirs}.intermediate.dense"),
            *_linear(f"{ours}/output", f"{theirs}.output.dense"),
            *_layer_norm(f"{ours}/output_layer_norm", f"{theirs}.output.LayerNorm"),
        ]
    return rules + _linear("pooler/dense", f"{p}pooler.dense")


def masked_lm_head_rules():
    """The table for the `cls.predictions.` head (`BertForMaskedLM` too)."""
    return [
        *_linear("mlm_head/transform", "cls.predictions.transform.dense"),
        *_layer_norm("mlm_head/layer_norm", "cls.predictions.transform.LayerNorm"),
        WeightRule("mlm_head/output_bias", ("cls.predictions.bias",)),
    ]


def next_sentence_head_rules():
    """The table for the `cls.seq_relationship` head."""
    return _linear("nsp_head", "cls.seq_relationship")


def pretraining_head_rules():
    """The table for `BertForPreTraining`'s `cls.` heads."""
    return masked_lm_head_rules() + next_sentence_head_rules()


def read_hf_config(path):
    """Maps a Hugging Face BERT `config.json` to `BertBackbone` arguments."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}).") from None
    if not isinstance(config, dict):
        raise CheckpointError(
            f"{path} holds a JSON {type(config).__name__}, not an object of "
            "settings (model_type, hidden_size, ...); restore the model's own file."
        )
    if config.get("model_type") != "bert":
        raise CheckpointError(
            f"{path} describes a {config.get('model_type')!r} model; only "
            "model_type 'bert' folders can be loaded."
        )
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(
            f"{path}: position_embedding_type "
            f"{config['position_embedding_type']!r} is not supported; only "
            "'absolute' (the original BERT) is."
        )
    if abs(config.get("layer_norm_eps", 1e-12) - 1e-12) > 1e-15:
        raise CheckpointError(
            f"{path}: layer_norm_eps {config['layer_norm_eps']} differs from "
            "BERT's 1e-12; this model would not be reproduced exactly."
        )
    activation = config.get("hidden_act", "gelu")
    if activation not in _HF_ACTIVATIONS:
        raise CheckpointError(
            f"{path}: hidden_act {activation!r} is not one of "
            f"{sorted(_HF_ACTIVATIONS)}."
        )
    try:
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
            "activation": _HF_ACTIVATIONS[activation],
        }
    except KeyError as error:
        raise CheckpointError(f"{path} lacks the key {error}.") from None


def _canonical_name(name):
    # Old conversions name LayerNorm parameters gamma/beta.
    return re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(
        r"LayerNorm\.beta$", "LayerNorm.bias", name
    ))


def convert_hf_checkpoint(safetensors_paths, num_layers, with_heads=True):
    """Reads Hugging Face safetensors into arrays keyed by our variable paths.

    Args:
        safetensors_paths: the folder's `*.safetensors` files (sharded
            checkpoints have several).
        num_layers: the config's `num_hidden_layers`.
        with_heads: also read `BertForPreTraining`'s heads when present.

    Returns:
        `(backbone_arrays, head_arrays)`; `head_arrays` is None when the
        checkpoint has no pretraining heads or `with_heads` is False.
    """
    from safetensors.numpy import load_file

    tensors = {}
    for path in safetensors_paths:
        try:
            tensors.update(
                {_canonical_name(k): v for k, v in load_file(str(path)).items()}
            )
        except Exception as error:
            raise CheckpointError(
                f"Cannot read {path} as safetensors ({error})."
            ) from None
    available = set(tensors)
    prefix = "bert." if any(n.startswith("bert.") for n in available) else ""
    head_rules = present_head_rules(available, (
        ("cls.predictions.", masked_lm_head_rules()),
        ("cls.seq_relationship.", next_sentence_head_rules()),
    )) if with_heads else []
    def ignored(name):
        return _IGNORED.search(name) is not None or (
            not head_rules and name.startswith("cls.")
        )
    source = ", ".join(str(p) for p in safetensors_paths)
    rules = backbone_rules(num_layers, prefix)
    if f"{prefix}pooler.dense.weight" not in available:
        # `BertForMaskedLM` and token-level task models save no pooler; the
        # backbone then gets a new one (see `loader.load_backbone`).
        rules = [rule for rule in rules if not rule.ours.startswith("pooler/")]
    arrays = gather_weights(
        rules + head_rules,
        tensors.__getitem__,
        available,
        ignored,
        source,
    )
    heads = {rule.ours: arrays.pop(rule.ours) for rule in head_rules} or None
    return arrays, heads
