"""Task heads saved with a checkpoint: Hugging Face's token classification.

A `BertForTokenClassification` folder holds its labels in `config.json`
(`id2label`) and its head as `classifier.weight` `[labels, hidden]` and
`classifier.bias`; a `BertTokenClassifier` reads both back. Only those two
tensors are read, not the whole checkpoint again.
"""

import json

import numpy as np

from bert_keras.errors import CheckpointError
from bert_keras.presets.loader import resolve_preset

TOKEN_CLASSIFICATION = "BertForTokenClassification"


def token_classifier_head(preset):
    """`(label_names, kernel, bias)` of a token-classification folder, or None.

    `kernel` is `[hidden, labels]`, as our dense layer holds it. Presets of
    other kinds (a Google checkpoint, a `BertModel` folder) give None.
    """
    from safetensors import safe_open

    source = resolve_preset(preset)
    if source.format != "huggingface":
        return None
    config = json.loads((source.folder / "config.json").read_text("utf-8"))
    if TOKEN_CLASSIFICATION not in (config.get("architectures") or []):
        return None
    count = len(config.get("id2label") or {})
    labels = [str(config["id2label"][str(i)]) for i in range(count)]
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
            f"{source.folder} is a {TOKEN_CLASSIFICATION} without its classifier "
            "weights (classifier.weight and classifier.bias)."
        )
    kernel = np.asarray(tensors["classifier.weight"], "float32").T
    if kernel.shape[1] != len(labels):
        raise CheckpointError(
            f"{source.folder}'s classifier has {kernel.shape[1]} outputs but its "
            f"config names {len(labels)} labels (id2label)."
        )
    return labels, kernel, np.asarray(tensors["classifier.bias"], "float32")
