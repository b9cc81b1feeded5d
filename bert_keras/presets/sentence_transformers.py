"""The settings of a sentence-transformers folder, read without the library.

A sentence-transformers model folder is a Hugging Face BERT folder plus
`modules.json`, which lists the pipeline (a Transformer, a Pooling module
with its own `config.json`, optionally a Normalize module), and
`sentence_bert_config.json`, whose `max_seq_length` truncates the input.
`BertSentenceEncoder.from_preset` reads these to pool, normalize and
truncate as the library does. Casing is not read from here: the library
itself takes it from the tokenizer's own `tokenizer_config.json`.
"""

import json
import pathlib

from bert_keras.errors import PresetError

# The library's pooling flags, in the order it concatenates active modes.
_LEGACY_FLAGS = (
    ("pooling_mode_cls_token", "cls"),
    ("pooling_mode_max_tokens", "max"),
    ("pooling_mode_mean_tokens", "mean"),
    ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"),
    ("pooling_mode_weightedmean_tokens", "weightedmean"),
    ("pooling_mode_lasttoken", "lasttoken"),
)
# The library's mode names that differ from ours.
_MODE_NAMES = {"mean_sqrt_len_tokens": "mean_sqrt_len"}
SUPPORTED_MODES = ("cls", "max", "mean", "mean_sqrt_len")


def _read_json(path):
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise PresetError(f"Cannot read {path} ({error}).") from None
    if not isinstance(value, (dict, list)):
        raise PresetError(f"{path} must hold a JSON object or list.")
    return value


def _pooling_modes(config, path):
    if "pooling_mode" in config:
        modes = config["pooling_mode"]
        modes = [modes] if isinstance(modes, str) else list(modes)
    else:
        modes = [mode for flag, mode in _LEGACY_FLAGS if config.get(flag)] or ["mean"]
    modes = [_MODE_NAMES.get(mode, mode) for mode in modes]
    unsupported = [mode for mode in modes if mode not in SUPPORTED_MODES]
    if unsupported:
        raise PresetError(
            f"{path} pools with {unsupported}, which BertSentenceEncoder does "
            f"not implement (it has {list(SUPPORTED_MODES)} and 'pooled'). "
            "Load the folder with an explicit pooling=..., knowing that its "
            "embeddings will then differ from the library's."
        )
    return modes[0] if len(modes) == 1 else modes


def find_modules_file(folder):
    """The `modules.json` of the sentence-transformers folder holding `folder`."""
    folder = pathlib.Path(folder)
    # Older folders keep the Hugging Face model in a subfolder of their own.
    for candidate in (folder, folder.parent):
        if (candidate / "modules.json").is_file():
            return candidate / "modules.json"
    return None


def read_sentence_transformers_settings(folder, read_pooling=True):
    """Pooling, normalization and length of a sentence-transformers folder.

    Args:
        folder: the Hugging Face model folder (or the folder above it).
        read_pooling: bool. False skips the Pooling module's settings, for a
            caller that chose its own pooling.

    Returns:
        None if there is no `modules.json`; otherwise a dict with `pooling`
        (a mode, a list of modes concatenated in order, or None when not
        read or when there is no Pooling module), `normalize`
        (bool) and `sequence_length` (int or None).

    Raises:
        PresetError: a module or a pooling mode that we do not implement, or
            an unreadable settings file.
    """
    modules_file = find_modules_file(folder)
    if modules_file is None:
        return None
    root = modules_file.parent
    modules = _read_json(modules_file)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise PresetError(f"{modules_file} must be a list of module objects.")
    settings = {"pooling": None, "normalize": False, "sequence_length": None}
    kinds = []
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        kinds.append(kind)
        if kind == "Pooling" and read_pooling:
            config = _read_json(root / module.get("path", "") / "config.json")
            settings["pooling"] = _pooling_modes(config, root / module.get("path", ""))
        elif kind == "Normalize":
            settings["normalize"] = True
        elif kind not in ("Transformer", "Pooling"):
            raise PresetError(
                f"{modules_file} lists a {module.get('type')!r} module, which "
                "BertSentenceEncoder does not implement (it reads Transformer, "
                "Pooling and Normalize). Use sentence-transformers for this model."
            )
    if kinds[:1] != ["Transformer"]:
        raise PresetError(f"{modules_file} does not start with a Transformer module.")
    bert_config = root / "sentence_bert_config.json"
    if bert_config.is_file():
        length = _read_json(bert_config).get("max_seq_length")
        if length is not None:
            settings["sequence_length"] = int(length)
    return settings
