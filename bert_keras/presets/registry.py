"""The registry of Google's released BERT checkpoints.

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
_ENTRY_KEYS = (
    "name",
    "aliases",
    "google_name",
    "path",
    "architecture",
    "lowercase",
    "language",
    "description",
)
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
        """Where the zip is downloaded from, `BERT_KERAS_PRESET_MIRROR` applied."""
        return base_url() + self.path

    def backbone_config(self) -> dict[str, Any]:
        """Keyword arguments of `BertBackbone` that rebuild this architecture."""
        config = {key: self.architecture[key] for key in _ARCHITECTURE_KEYS}
        # Google's bert_config.json files all use 0.1 for both dropouts.
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
    missing = [key for key in _ENTRY_KEYS if key not in raw]
    unknown = sorted(set(raw) - set(_ENTRY_KEYS))
    _require(not missing, where, f"missing keys {missing}")
    _require(not unknown, where, f"unknown keys {unknown}")
    for key in ("name", "google_name", "path", "language", "description"):
        _require(
            isinstance(raw[key], str) and raw[key], where, f"{key} must be a non-empty string"
        )
    _require(
        isinstance(raw["aliases"], list)
        and all(isinstance(alias, str) and alias for alias in raw["aliases"]),
        where,
        "aliases must be a list of non-empty strings",
    )
    _require(isinstance(raw["lowercase"], bool), where, "lowercase must be true or false")
    _require(
        raw["path"].endswith(".zip") and not raw["path"].startswith("/"),
        where,
        "path must be a relative path to a .zip file",
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
        google_name=raw["google_name"],
        path=raw["path"],
        architecture=dict(arch),
        lowercase=raw["lowercase"],
        language=raw["language"],
        description=raw["description"],
        family=family,
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
        # The dated path ("2020_02_20/uncased_L-2_H-128_A-2", with or without
        # ".zip") is unique even where folder names repeat.
        claim(info.path, info)
        claim(info.path[: -len(".zip")], info)

    # Google reused folder names across releases (uncased_L-12_H-768_A-12 is
    # both the 2018 BERT-Base and the 2020 re-trained 12/768 compact model).
    # The bare folder name goes to the earliest release, the one users have
    # known by that name the longest; later ones keep their dated paths.
    by_google_name: dict[str, PresetInfo] = {}
    for info in sorted(presets, key=lambda item: item.path):
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
        | {info.google_name for info in presets}
    )
    close = _closest(str(name), candidates)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise PresetError(f"Unknown preset {name!r}.{hint} {_HOW_TO_LIST}")


def format_parameters(count: int) -> str:
    """A short human form of a parameter count: 4.4M, 110M, 1.2B."""
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B"
    if count >= 100_000_000:
        return f"{count / 1e6:.0f}M"
    if count >= 1_000_000:
        return f"{count / 1e6:.1f}M"
    return f"{count / 1e3:.0f}K"


def preset_table() -> str:
    """Every preset as a plain-text table, one row each."""
    header = ("name", "layers", "hidden", "heads", "intermediate", "params", "casing", "language")
    rows = [header]
    for info in list_presets():
        a = info.architecture
        rows.append(
            (
                info.name,
                str(a["num_layers"]),
                str(a["hidden_dim"]),
                str(a["num_heads"]),
                str(a["intermediate_dim"]),
                format_parameters(info.num_parameters),
                "uncased" if info.lowercase else "cased",
                info.language,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    # Names and words read best left-aligned, numbers right-aligned.
    numeric = {1, 2, 3, 4, 5}

    def render(row: tuple[str, ...]) -> str:
        cells = (
            cell.rjust(width) if column in numeric else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths))
        )
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([render(header), rule, *(render(row) for row in rows[1:])])
