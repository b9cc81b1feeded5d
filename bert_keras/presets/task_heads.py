"""Task heads saved with a checkpoint: Hugging Face's token classification
and multiple choice.

A `BertForTokenClassification` folder holds its labels in `config.json`
(`id2label`) and its head as `classifier.weight` `[labels, hidden]` and
`classifier.bias`; a `BertTokenClassifier` reads both back. A
`BertForMultipleChoice` holds a `[1, hidden]` classifier over the pooled
output of each choice, which a `BertMultipleChoice` reads back. Only those
two tensors are read, not the whole checkpoint again.
"""

import json

import numpy as np

from bert_keras.errors import CheckpointError
from bert_keras.presets.loader import resolve_preset

TOKEN_CLASSIFICATION = "BertForTokenClassification"
MULTIPLE_CHOICE = "BertForMultipleChoice"


def token_classifier_head(preset):
    """`(label_names, kernel, bias)` of a token-classification folder, or None.

    `kernel` is `[hidden, labels]`, as our dense layer holds it. Presets of
    other kinds (a Google checkpoint, a `BertModel` folder) give None.
    """
    head = _classifier_head(preset, TOKEN_CLASSIFICATION)
    if head is None:
        return None
    config, kernel, bias = head
    count = len(config.get("id2label") or {})
    labels = [str(config["id2label"][str(i)]) for i in range(count)]
    if kernel.shape[1] != len(labels):
        raise CheckpointError(
            f"{resolve_preset(preset).folder}'s classifier has {kernel.shape[1]} outputs but "
            f"its config names {len(labels)} labels (id2label)."
        )
    return labels, kernel, bias


def multiple_choice_head(preset):
    """`(kernel, bias)` of a multiple-choice folder (`kernel` `[hidden, 1]`),
    or None for presets of other kinds."""
    head = _classifier_head(preset, MULTIPLE_CHOICE)
    if head is None:
        return None
    _, kernel, bias = head
    if kernel.shape[1] != 1:
        raise CheckpointError(
            f"{resolve_preset(preset).folder}'s classifier has {kernel.shape[1]} outputs; "
            f"a {MULTIPLE_CHOICE} scores each choice with one."
        )
    return kernel, bias


def _classifier_head(preset, architecture):
    """`(config, kernel, bias)` of the `classifier` of an `architecture`
    folder, or None for presets of other kinds."""
    from safetensors import safe_open

    source = resolve_preset(preset)
    if source.format != "huggingface":
        return None
    config = json.loads((source.folder / "config.json").read_text("utf-8"))
    if architecture not in (config.get("architectures") or []):
        return None
    tensors = {}
    for path in sorted(source.folder.glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="numpy") as file:
                for name in ("classifier.weight", "classifier.bias"):
                    if name in file.keys():
                        tensors[name] = file.get_tensor(name)
        except Exception as error:
            raise CheckpointError(f"Cannot read {path} as safetensors ({error}).") from None
    if set(tensors) != {"classifier.weight", "classifier.bias"}:
        raise CheckpointError(
            f"{source.folder} is a {architecture} without its classifier "
            "weights (classifier.weight and classifier.bias)."
        )
    kernel = np.asarray(tensors["classifier.weight"], "float32").T
    return config, kernel, np.asarray(tensors["classifier.bias"], "float32")
