"""Writes models as Hugging Face transformers folders.

The folder is what `save_pretrained` writes for `BertModel` (a backbone),
`BertForSequenceClassification` (a classifier), `BertForPreTraining` (a
pretrainer), `BertForTokenClassification` (a token classifier) or
`BertForMultipleChoice`, plus the files of transformers' `BertTokenizer`,
so `from_pretrained(folder)` loads it as is.
The weight names come from the table that reads such folders
(`convert_hf.backbone_rules`), reversed, so reading and writing cannot
disagree. The weights are written with the `safetensors` numpy API: neither
PyTorch nor transformers is needed to export.
"""

import json
import pathlib

import numpy as np

from bert_keras.errors import ExportError
from bert_keras.export.atomic_directory import atomic_directory
from bert_keras.safe_paths import share_like_umask
from bert_keras.export.model_parts import (
    float32_array,
    preprocessor_sequence_length,
    resolve_tokenizer,
    split_model,
)
from bert_keras.presets.convert_hf import (
    backbone_rules,
    masked_lm_head_rules,
    next_sentence_head_rules,
)
from bert_keras.presets.weight_mapping import scatter_weights

_HF_ACTIVATIONS = {
    "gelu": "gelu",
    # transformers' "gelu" is the exact erf form; "gelu_new" is the tanh
    # approximation of Google's checkpoints.
    "gelu_approximate": "gelu_new",
    "relu": "relu",
    "tanh": "tanh",
}
_SPECIAL_TOKENS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}


def _model_config(backbone, classifier, tokenizer, pretrainer=None, tagger=None, chooser=None):
    if backbone.activation not in _HF_ACTIVATIONS:
        raise ExportError(
            f"The activation {backbone.activation!r} has no transformers "
            f"equivalent that bert_keras reads back; exportable ones are "
            f"{sorted(_HF_ACTIVATIONS)}."
        )
    config = {
        "model_type": "bert",
        "architectures": ["BertModel"],
        "vocab_size": backbone.vocabulary_size,
        "hidden_size": backbone.hidden_dim,
        "num_hidden_layers": backbone.num_layers,
        "num_attention_heads": backbone.num_heads,
        "intermediate_size": backbone.intermediate_dim,
        "hidden_act": _HF_ACTIVATIONS[backbone.activation],
        "hidden_dropout_prob": backbone.dropout,
        "attention_probs_dropout_prob": backbone.attention_dropout,
        "max_position_embeddings": backbone.max_sequence_length,
        "type_vocab_size": backbone.num_segments,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": tokenizer.pad_token_id,
        "position_embedding_type": "absolute",
    }
    if pretrainer is not None:
        config["architectures"] = ["BertForPreTraining" if pretrainer.nsp else "BertForMaskedLM"]
    if tagger is not None:
        config.update(
            {
                "architectures": ["BertForTokenClassification"],
                "num_labels": len(tagger.label_names),
                "id2label": {str(i): label for i, label in enumerate(tagger.label_names)},
                "label2id": {label: i for i, label in enumerate(tagger.label_names)},
                "classifier_dropout": tagger.dropout,
            }
        )
    if chooser is not None:
        config.update(
            {"architectures": ["BertForMultipleChoice"], "classifier_dropout": chooser.dropout}
        )
    if classifier is not None:
        labels = [f"LABEL_{i}" for i in range(classifier.num_classes)]
        config.update(
            {
                "architectures": ["BertForSequenceClassification"],
                "num_labels": classifier.num_classes,
                "id2label": {str(i): label for i, label in enumerate(labels)},
                "label2id": {label: i for i, label in enumerate(labels)},
                "problem_type": (
                    "regression"
                    if classifier.num_classes == 1
                    else "single_label_classification"
                ),
                "classifier_dropout": classifier.dropout,
            }
        )
    return config


def _tensors(backbone, classifier, pretrainer=None, tagger=None, chooser=None):
    # `BertModel` saves its names bare; the task models nest it as `bert.`.
    bare = classifier is None and pretrainer is None and tagger is None and chooser is None
    rules = backbone_rules(backbone.num_layers, "" if bare else "bert.")
    variables = list(backbone.weights)
    if tagger is not None or (pretrainer is not None and not pretrainer.nsp):
        # `BertForTokenClassification` and `BertForMaskedLM` have no pooler.
        rules = [rule for rule in rules if not rule.ours.startswith("pooler/")]
    if pretrainer is not None:
        rules += masked_lm_head_rules() + (next_sentence_head_rules() if pretrainer.nsp else [])
        heads = [pretrainer.mlm_head] + ([pretrainer.nsp_head] if pretrainer.nsp else [])
        # The decoder is the word embedding, which transformers ties back.
        variables += [v for head in heads for v in head.weights
                      if v.path.startswith(("mlm_head/", "nsp_head/"))]
    tensors = scatter_weights(
        rules, {variable.path: float32_array(variable) for variable in variables}
    )
    if classifier is not None or tagger is not None or chooser is not None:
        head = (classifier or tagger or chooser).output_dense
        # torch.nn.Linear stores its weight as [out, in].
        tensors["classifier.weight"] = float32_array(head.kernel).T
        tensors["classifier.bias"] = float32_array(head.bias)
    return {name: np.ascontiguousarray(value) for name, value in tensors.items()}


def _write_json(path, content):
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")


def to_huggingface(model, folder, tokenizer=None, overwrite=False):
    """Writes `model` as a Hugging Face transformers folder.

    A `BertBackbone` becomes a `BertModel`, a `BertClassifier` a
    `BertForSequenceClassification` (`num_classes=1` as regression), a
    `BertPretrainer` a `BertForPreTraining` (a `BertForMaskedLM` with
    `nsp=False`), a `BertTokenClassifier` a `BertForTokenClassification`
    (its labels in `id2label`), a `BertMultipleChoice` a
    `BertForMultipleChoice`. The
    folder holds `config.json`, `model.safetensors` (float32),
    `vocab.txt`, `tokenizer_config.json` and `special_tokens_map.json`;
    `BertBackbone.from_preset(folder)` and `BertTokenizer.from_preset(folder)`
    read it back unchanged. The folder appears whole or not at all.

    Args:
        model: a `bert_keras.models.BertBackbone`, `BertClassifier`,
            `BertPretrainer`, `BertTokenClassifier` or `BertMultipleChoice`.
        folder: the folder to write.
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`; by default the
            one of the classifier's preprocessor or the token classifier.
        overwrite: bool. Whether an existing `folder` may be replaced.

    Returns:
        The folder, as a `pathlib.Path`.

    Raises:
        ExportError: `model` is of another type or its activation has no
            transformers equivalent; there is no tokenizer; or `folder`
            exists (without `overwrite`) or cannot be written.

    Example:
    ```python
    import transformers
    from bert_keras.export import to_huggingface
    from bert_keras.models import BertClassifier

    classifier = BertClassifier.from_preset("bert_tiny_en_uncased", num_classes=2)
    to_huggingface(classifier, "exported")
    transformers.BertForSequenceClassification.from_pretrained("exported")
    ```
    """
    from safetensors.numpy import save_file

    from bert_keras.models import BertMultipleChoice, BertPretrainer, BertTokenClassifier

    pretrainer = model if isinstance(model, BertPretrainer) else None
    tagger = model if isinstance(model, BertTokenClassifier) else None
    chooser = model if isinstance(model, BertMultipleChoice) else None
    if chooser is not None:
        backbone, classifier = chooser.backbone, None
        tokenizer = resolve_tokenizer(
            backbone, tokenizer or getattr(chooser.preprocessor, "tokenizer", None))
    elif pretrainer is not None:
        backbone, classifier = pretrainer.backbone, None
        tokenizer = resolve_tokenizer(backbone, tokenizer)
    elif tagger is not None:
        backbone, classifier = tagger.backbone, None
        tokenizer = resolve_tokenizer(backbone, tokenizer or tagger.tokenizer)
    else:
        backbone, classifier = split_model(model)
        tokenizer = resolve_tokenizer(model, tokenizer)
    config = _model_config(backbone, classifier, tokenizer, pretrainer, tagger, chooser)
    tensors = _tensors(backbone, classifier, pretrainer, tagger, chooser)
    max_length = (
        getattr(tagger, "sequence_length", None)
        or preprocessor_sequence_length(model)
        or backbone.max_sequence_length
    )
    with atomic_directory(folder, overwrite, kind="huggingface") as temporary:
        _write_json(temporary / "config.json", config)
        # The tag `save_pretrained` writes, which transformers 4 checks.
        save_file(
            tensors, str(temporary / "model.safetensors"), metadata={"format": "pt"}
        )
        share_like_umask(temporary / "model.safetensors")
        write_tokenizer_files(temporary, tokenizer, max_length)
    return pathlib.Path(folder).absolute()


def write_tokenizer_files(folder, tokenizer, max_length):
    """Writes `tokenizer` into `folder` as transformers' `BertTokenizer` reads it:
    `vocab.txt`, `tokenizer_config.json` and `special_tokens_map.json`."""
    folder = pathlib.Path(folder)
    (folder / "vocab.txt").write_text(
        "".join(token + "\n" for token in tokenizer.get_vocabulary()), encoding="utf-8"
    )
    _write_json(
        folder / "tokenizer_config.json",
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": tokenizer.lowercase,
            "model_max_length": max_length,
            **_SPECIAL_TOKENS,
        },
    )
    _write_json(folder / "special_tokens_map.json", _SPECIAL_TOKENS)
