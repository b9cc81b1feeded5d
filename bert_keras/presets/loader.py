"""Turns a preset reference into a backbone, a tokenizer, or pretraining heads.

A reference is a registry name or alias, Google's folder name, a local Google
zip or folder, a local Hugging Face folder, or `hf://org/name`. Everything is
resolved to a `PresetSource` first, so each loader reads one description of
where the files are, which format they are in, and what their casing is.

Registry presets keep their converted weights in the cache, in Keras's own
`.weights.h5` format (the backbone) and `.npz` (the pretraining heads), so a
second load reads neither the TensorFlow checkpoint nor the zip again.
"""

import dataclasses
import hashlib
import json
import os
import pathlib
import tempfile

import numpy as np

from bert_keras.errors import PresetError
from bert_keras.presets import cache, download, registry
from bert_keras.presets.convert_google import (
    convert_google_checkpoint,
    read_google_config,
)
from bert_keras.presets.convert_hf import convert_hf_checkpoint, read_hf_config
from bert_keras.presets.hub import fetch_hub_folder
from bert_keras.presets.weight_mapping import assign_weights
from bert_keras.safe_paths import share_like_umask

_SHAPE_KEYS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "max_sequence_length",
    "num_segments",
)
_CONVERTED_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class PresetSource:
    """Where a preset's files are and what they hold.

    Attributes:
        format: `"google"` (TF1 checkpoint) or `"huggingface"` (safetensors).
        folder: the folder holding the files.
        config: `BertBackbone` keyword arguments.
        lowercase: whether the vocabulary is uncased.
        name: the registry name, or None for a local or `hf://` source.
    """

    format: str
    folder: pathlib.Path
    config: dict
    lowercase: bool
    name: str = None

    @property
    def vocabulary_path(self):
        return self.folder / "vocab.txt"


def vocabulary_is_uncased(vocabulary_path):
    # Uncased vocabularies were built from lower-cased text, so none of their
    # tokens (apart from the bracketed specials) has an upper-case letter.
    with open(vocabulary_path, encoding="utf-8") as file:
        for line in file:
            token = line.strip()
            if not (token.startswith("[") and token.endswith("]")):
                if token != token.lower():
                    return False
    return True


def _google_source(folder, name=None, lowercase=None):
    config = read_google_config(folder / "bert_config.json")
    if lowercase is None:
        google_names = {info.google_name: info for info in registry.list_presets()}
        if folder.name in google_names:
            lowercase = google_names[folder.name].lowercase
        else:
            lowercase = vocabulary_is_uncased(folder / "vocab.txt")
    return PresetSource("google", folder, config, lowercase, name)


def _huggingface_source(folder):
    config = read_hf_config(folder / "config.json")
    tokenizer_config = folder / "tokenizer_config.json"
    lowercase = None
    if tokenizer_config.exists():
        lowercase = json.loads(tokenizer_config.read_text("utf-8")).get(
            "do_lower_case"
        )
    if lowercase is None:
        lowercase = vocabulary_is_uncased(folder / "vocab.txt")
    return PresetSource("huggingface", folder, config, lowercase)


def _find_model_folder(folder):
    for candidate in (folder, *sorted(p for p in folder.iterdir() if p.is_dir())):
        if (candidate / "bert_config.json").exists():
            return candidate, "google"
        if (candidate / "config.json").exists():
            return candidate, "huggingface"
    raise PresetError(
        f"{folder} holds no BERT checkpoint: expected Google's files "
        "(bert_config.json, vocab.txt, bert_model.ckpt.*) or a Hugging Face "
        "folder (config.json, model.safetensors, vocab.txt)."
    )


def _local_source(path):
    if path.is_file():
        if path.suffix != ".zip":
            raise PresetError(
                f"{path} is a file but not a zip; pass a Google zip or a folder."
            )
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
        stat = path.stat()
        key = f"{digest}-{stat.st_size}-{int(stat.st_mtime)}"
        target = cache.cache_root() / "local" / key
        with cache.entry_lock(f"local-{key}"):
            if not target.exists():
                download.extract_zip(path, target)
        path = target
    folder, kind = _find_model_folder(path)
    if not (folder / "vocab.txt").exists():
        raise PresetError(f"{folder} lacks vocab.txt, the vocabulary.")
    if kind == "google":
        return _google_source(folder)
    return _huggingface_source(folder)


def _hub_source(reference):
    return _huggingface_source(fetch_hub_folder(reference[len("hf://") :]))


def _registry_entry(reference):
    """The registry entry named `reference`, which is not an existing path."""
    try:
        return registry.get_preset_info(reference)
    except PresetError:
        if os.sep in reference or reference.endswith(".zip"):
            raise PresetError(
                f"The path {reference} does not exist, and it is no preset "
                "name. Pass an existing Google zip or folder, a Hugging Face "
                "folder, or a preset name (`bert-keras presets list`)."
            ) from None
        raise


def resolve_preset(preset):
    """Resolves a preset reference to a `PresetSource`, downloading if needed."""
    if isinstance(preset, PresetSource):
        return preset
    if not isinstance(preset, (str, os.PathLike)):
        raise PresetError(
            f"A preset is a name, a path or 'hf://org/name', not {type(preset)}."
        )
    reference = os.fspath(preset)
    if reference.startswith("hf://"):
        return _hub_source(reference)
    path = pathlib.Path(reference).expanduser()
    if path.exists():
        return _local_source(path)
    info = _registry_entry(reference)
    folder = download.fetch_preset(info)
    if info.source == "huggingface":
        # Converting a safetensors file is quick, so it gets no cache entry.
        return _huggingface_source(folder)
    return _google_source(folder, name=info.name, lowercase=info.lowercase)


def _read_checkpoint(source):
    if source.format == "google":
        return convert_google_checkpoint(
            source.folder / "bert_model.ckpt", source.config["num_layers"]
        )
    paths = sorted(source.folder.glob("*.safetensors"))
    if not paths:
        raise PresetError(
            f"{source.folder} has no *.safetensors weights. Save the model "
            "with `save_pretrained(..., safe_serialization=True)`."
        )
    return convert_hf_checkpoint(paths, source.config["num_layers"])


def checkpoint_arrays(preset):
    """`(backbone_arrays, head_arrays)` read from `preset`'s checkpoint,
    keyed by variable path (`head_arrays` is None without heads)."""
    return _read_checkpoint(resolve_preset(preset))


def _atomic_save(folder, filename, write):
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=filename)
    os.close(handle)
    try:
        write(temp)
        share_like_umask(temp)
        os.replace(temp, folder / filename)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def _converted_folder(source):
    return cache.preset_cache_dir(source.name) / "converted"


def _converted_stamp(source):
    # A re-downloaded entry gets a new marker, which invalidates conversions
    # made from the old files.
    marker = cache.preset_cache_dir(source.name) / download.MARKER
    return {"format": _CONVERTED_FORMAT, "source": marker.read_text("utf-8")}


def _converted_file(source, filename):
    """A file of the conversion cache, or None if absent or stale."""
    folder = _converted_folder(source)
    try:
        stamp = json.loads((folder / "stamp.json").read_text("utf-8"))
        current = stamp == _converted_stamp(source)
    except (OSError, ValueError):
        return None
    path = folder / filename
    return path if current and path.exists() else None


def _load_converted(source, backbone):
    """Loads cached converted weights; returns False when there are none."""
    path = _converted_file(source, "backbone.weights.h5")
    if path is None:
        return False
    try:
        backbone.load_weights(str(path))
    except (OSError, ValueError):
        return False
    return True


def _save_converted(source, backbone, heads):
    folder = _converted_folder(source)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stamp.json").unlink(missing_ok=True)
    _atomic_save(folder, "backbone.weights.h5", backbone.save_weights)
    if heads is not None:
        _atomic_save(
            folder, "pretraining_heads.npz", lambda path: np.savez(path, **heads)
        )
    _atomic_save(
        folder,
        "stamp.json",
        lambda path: pathlib.Path(path).write_text(json.dumps(_converted_stamp(source))),
    )


def _present(backbone, arrays, source):
    """The backbone's variables that `arrays` holds; only a missing pooler
    is allowed, and it keeps its new initialization, with a warning."""
    variables = backbone.weights
    if "pooler/dense/kernel" not in arrays:
        import warnings

        warnings.warn(
            f"{source.folder} has no pooler (a BertForMaskedLM or token-level "
            "model): the pooler starts from a new random initialization. The "
            "pooled output means nothing until it is trained.",
            stacklevel=4,
        )
        variables = [v for v in variables if not v.path.startswith("pooler/")]
    return variables


def backbone_config(preset, **overrides):
    """The `BertBackbone` arguments of a preset, with `overrides` applied.

    A registry name is answered from the registry, without a download.
    """
    if isinstance(preset, str) and not preset.startswith("hf://"):
        if not pathlib.Path(preset).expanduser().exists():
            return {**_registry_entry(preset).backbone_config(), **overrides}
    return {**resolve_preset(preset).config, **overrides}


def load_backbone(preset, load_weights=True, **overrides):
    """Builds a `BertBackbone` for `preset`; see `BertBackbone.from_preset`."""
    from bert_keras.models.bert_backbone import BertBackbone

    if not load_weights:
        return BertBackbone(**backbone_config(preset, **overrides))
    source = resolve_preset(preset)
    changed = [k for k in _SHAPE_KEYS if k in overrides and overrides[k] != source.config[k]]
    if changed:
        raise PresetError(
            f"Cannot change {changed} when loading weights: they fix the "
            "shapes of the pretrained weights. Pass load_weights=False for a "
            "new architecture."
        )
    backbone = BertBackbone(**{**source.config, **overrides})
    if source.name is None:
        arrays, _ = _read_checkpoint(source)
        assign_weights(_present(backbone, arrays, source), arrays, source.folder)
        return backbone
    with cache.entry_lock(f"{source.name}-converted"):
        if not _load_converted(source, backbone):
            arrays, heads = _read_checkpoint(source)
            assign_weights(backbone.weights, arrays, source.folder)
            _save_converted(source, backbone, heads)
    return backbone


def pretraining_head_weights(preset):
    """The pretraining heads' arrays of `preset`, keyed by variable path.

    Returns:
        `(arrays, folder)`: `arrays` holds the `mlm_head/...` and
        `nsp_head/...` weights the checkpoint has (either may be absent),
        or is None when it has no head at all.
    """
    source = resolve_preset(preset)
    path = _converted_file(source, "pretraining_heads.npz") if source.name else None
    if path is not None:
        with np.load(path) as stored:
            return dict(stored), source.folder
    return _read_checkpoint(source)[1], source.folder


def load_pretraining_heads(preset, backbone):
    """Builds the pretraining heads of `preset`, tied to `backbone`.

    Returns:
        `(mlm_head, nsp_head)`: a `MaskedLMHead` whose decoder is the
        backbone's token embedding, and a `keras.layers.Dense(2)` on the
        pooled output, with the checkpoint's weights.
    """
    import keras

    from bert_keras.layers.masked_lm_head import MaskedLMHead

    heads, folder = pretraining_head_weights(preset)
    if heads is None:
        raise PresetError(
            f"The checkpoint of {preset} has no pretraining heads (cls/...)."
        )
    hidden_dim = backbone.hidden_dim
    mlm_head = MaskedLMHead(
        backbone.token_embedding,
        activation=backbone.activation,
        dtype=backbone.dtype_policy,
        name="mlm_head",
    )
    mlm_head.build((None, None, hidden_dim), (None, None))
    nsp_head = keras.layers.Dense(2, dtype=backbone.dtype_policy, name="nsp_head")
    nsp_head.build((None, hidden_dim))
    # The decoder reads the backbone's embedding, which is loaded already.
    variables = [v for v in mlm_head.weights if v.path.startswith("mlm_head/")]
    assign_weights(variables + nsp_head.weights, heads, folder)
    return mlm_head, nsp_head


def load_tokenizer(preset, **kwargs):
    """Builds the `BertTokenizer` of `preset` with the preset's casing."""
    from bert_keras.tokenizers import BertTokenizer

    source = resolve_preset(preset)
    kwargs.setdefault("lowercase", source.lowercase)
    return BertTokenizer(vocabulary=str(source.vocabulary_path), **kwargs)
