"""Fetching presets into the cache: success, caching, every failure, races."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import stat
import subprocess
import sys
import zipfile

import pytest

from bert_keras.errors import PresetError
from bert_keras.presets import cache
from bert_keras.presets.download import (
    MARKER,
    REQUIRED_FILES,
    download_preset,
    extract_zip,
    fetch_preset,
)
from bert_keras.presets.registry import get_preset_info

from tests.conftest import TINY, google_config, google_zip, model_files, zip_bytes

# Downloads and caches files; no model, so one backend suffices.
pytestmark = pytest.mark.backend_independent

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
WAYS_OUT = ("BERT_KERAS_PRESET_MIRROR", "from_preset()")


def _assert_nothing_cached(home: pathlib.Path) -> None:
    """No entry and no temporary file anywhere in the cache."""
    presets = home / "presets"
    leftovers = sorted(str(p.relative_to(home)) for p in presets.rglob("*")) if presets.exists() else []
    assert leftovers == []


def _assert_entry(folder: pathlib.Path, info) -> None:
    assert folder == cache.preset_cache_dir(info.name)
    for name in REQUIRED_FILES:
        assert (folder / name).is_file()
    config = json.loads((folder / "bert_config.json").read_text())
    assert config == google_config(info)
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    marker = json.loads((folder / MARKER).read_text())
    assert marker["path"] == info.path and len(marker["sha256"]) == 64


def _dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Closed again: nothing listens there now.
    return f"http://127.0.0.1:{port}/"


def test_cache_locations(monkeypatch, tmp_path):
    monkeypatch.delenv("BERT_KERAS_HOME", raising=False)
    assert cache.cache_root() == pathlib.Path.home() / ".cache" / "bert_keras"
    monkeypatch.setenv("BERT_KERAS_HOME", str(tmp_path))
    assert cache.cache_root() == tmp_path
    assert cache.preset_cache_dir("bert_base_zh") == tmp_path / "presets" / "bert_base_zh"
    for bad in ("", "..", "a/b", "a\\b"):
        with pytest.raises(PresetError):
            cache.preset_cache_dir(bad)


def test_download_then_cache_hit_without_network(preset_env, mirror, monkeypatch):
    info = get_preset_info(TINY)
    folder = fetch_preset(info)
    _assert_entry(folder, info)
    assert (folder / "bert_model.ckpt.meta").is_file()
    assert mirror.downloads(info.path) == 1

    assert fetch_preset(info) == folder
    assert download_preset("uncased_L-2_H-128_A-2") == folder
    assert mirror.downloads(info.path) == 1
    # Even with the mirror unreachable, the cached entry is served.
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", _dead_url())
    assert fetch_preset(info) == folder


def test_zip_with_files_in_a_folder(preset_env, mirror):
    info = get_preset_info("bert_base_en_uncased")
    _assert_entry(download_preset("bert_base_en_uncased"), info)
    assert mirror.downloads(info.path) == 1


@pytest.mark.parametrize("as_uri", [True, False], ids=["file-url", "plain-directory"])
def test_local_mirror(tmp_path, monkeypatch, as_uri):
    info = get_preset_info(TINY)
    zip_path = tmp_path / "bucket" / info.path
    zip_path.parent.mkdir(parents=True)
    zip_path.write_bytes(google_zip(info))
    bucket = tmp_path / "bucket"
    monkeypatch.setenv("BERT_KERAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", bucket.as_uri() if as_uri else str(bucket))
    _assert_entry(fetch_preset(info), info)


@pytest.mark.parametrize(
    "mode,fragments",
    [
        ("404", ["HTTP 404", "no file at that path"]),
        ("500", ["HTTP 500", "server failed"]),
        ("truncated", ["truncated", "Content-Length"]),
        ("notzip", ["is not a zip archive"]),
        ("evil", ["'..'", "'../evil'"]),
    ],
)
def test_download_faults_leave_nothing_behind(preset_env, mirror, tmp_path, mode, fragments):
    info = get_preset_info(TINY)
    mirror.mode = mode
    with pytest.raises(PresetError) as caught:
        fetch_preset(info)
    message = str(caught.value)
    for fragment in (info.url, *fragments, *WAYS_OUT):
        assert fragment in message
    _assert_nothing_cached(preset_env)
    assert not list(tmp_path.rglob("evil"))


def test_zip_without_content_length_check(preset_env, mirror):
    # A cut-off zip served without a length is still caught: its central
    # directory (at the end) is missing.
    info = get_preset_info(TINY)
    data = google_zip(info)
    mirror.publish(info.path, data[: len(data) - 40])
    with pytest.raises(PresetError, match="is not a zip archive"):
        fetch_preset(info)
    _assert_nothing_cached(preset_env)


def test_config_mismatch_names_the_fields(preset_env, mirror):
    info = get_preset_info(TINY)
    mirror.publish(info.path, google_zip(info, hidden_size=256, vocab_size=28996))
    with pytest.raises(PresetError) as caught:
        fetch_preset(info)
    message = str(caught.value)
    assert "hidden_size=256 (registry: 128)" in message
    assert "vocab_size=28996 (registry: 30522)" in message
    assert "num_hidden_layers" not in message
    assert info.url in message and info.name in message
    _assert_nothing_cached(preset_env)


def test_zip_lacking_a_checkpoint_file(preset_env, mirror):
    info = get_preset_info(TINY)
    files = model_files(info)
    del files["bert_model.ckpt.index"]
    mirror.publish(info.path, zip_bytes(files))
    with pytest.raises(PresetError, match=r"lacks bert_model\.ckpt\.index"):
        fetch_preset(info)
    _assert_nothing_cached(preset_env)


def _delete_vocab(folder):
    (folder / "vocab.txt").unlink()


def _truncate_index(folder):
    with open(folder / "bert_model.ckpt.index", "r+b") as handle:
        handle.truncate(3)


def _garble_marker(folder):
    (folder / MARKER).write_text("{")


def _drop_marker(folder):
    (folder / MARKER).unlink()


def _stale_path(folder):
    marker = json.loads((folder / MARKER).read_text())
    marker["path"] = "2018_10_18/elsewhere.zip"
    (folder / MARKER).write_text(json.dumps(marker))


@pytest.mark.parametrize(
    "damage", [_delete_vocab, _truncate_index, _garble_marker, _drop_marker, _stale_path]
)
def test_damaged_entry_is_fetched_again(preset_env, mirror, damage):
    info = get_preset_info(TINY)
    folder = fetch_preset(info)
    damage(folder)
    assert fetch_preset(info) == folder
    _assert_entry(folder, info)
    assert mirror.downloads(info.path) == 2


def test_damaged_entry_and_failed_refetch_leaves_nothing(preset_env, mirror):
    info = get_preset_info(TINY)
    _truncate_index(fetch_preset(info))
    mirror.mode = "500"
    with pytest.raises(PresetError, match="HTTP 500"):
        fetch_preset(info)
    _assert_nothing_cached(preset_env)


def test_unreachable_host(preset_env, monkeypatch):
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", _dead_url())
    info = get_preset_info(TINY)
    with pytest.raises(PresetError) as caught:
        fetch_preset(info)
    message = str(caught.value)
    assert info.url in message and "Cannot reach" in message
    for fragment in WAYS_OUT:
        assert fragment in message
    assert info.path in message
    _assert_nothing_cached(preset_env)


@pytest.mark.slow
def test_two_processes_fetch_one_entry(preset_env, mirror):
    info = get_preset_info(TINY)
    mirror.mode = "slow"
    script = (
        "import sys\n"
        "from bert_keras.presets.download import download_preset\n"
        "print(download_preset(sys.argv[1]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, TINY],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [worker.communicate(timeout=60) for worker in workers]
    for worker, (out, err) in zip(workers, results):
        assert worker.returncode == 0, err
        assert pathlib.Path(out.strip()) == cache.preset_cache_dir(info.name)
    _assert_entry(cache.preset_cache_dir(info.name), info)
    assert mirror.downloads(info.path) == 1


def _zip_file(tmp_path, members) -> pathlib.Path:
    path = tmp_path / "model.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for info_or_name, data in members:
            archive.writestr(info_or_name, data)
    return path


@pytest.mark.parametrize("folder", ["", "uncased_L-2_H-128_A-2"], ids=["root", "folder"])
def test_extract_zip_layouts(tmp_path, folder):
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(zip_bytes(model_files(get_preset_info(TINY)), folder))
    if folder:
        # An existing empty destination is fine too.
        (tmp_path / "out").mkdir()
    model_dir = extract_zip(zip_path, tmp_path / "out")
    assert model_dir == (tmp_path / "out" / folder if folder else tmp_path / "out")
    assert set(REQUIRED_FILES) <= {p.name for p in model_dir.iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip", "out"]


def _symlink_member():
    member = zipfile.ZipInfo("bert_config.json")
    member.external_attr = (stat.S_IFLNK | 0o777) << 16
    return member


@pytest.mark.parametrize(
    "bad_member,fragment",
    [
        ("/etc/evil", "an absolute path"),
        ("../evil", "a '..' path component"),
        ("inner/../../evil", "a '..' path component"),
        (_symlink_member(), "a symbolic link"),
    ],
    ids=["absolute", "parent", "nested-parent", "symlink"],
)
def test_extract_zip_refuses_escaping_members(tmp_path, bad_member, fragment):
    files = model_files(get_preset_info(TINY))
    if isinstance(bad_member, str):
        members = [*files.items(), (bad_member, b"escaped")]
    else:
        files.pop("bert_config.json")
        members = [*files.items(), (bad_member, b"/etc/passwd")]
    zip_path = _zip_file(tmp_path, members)
    with pytest.raises(PresetError, match=fragment) as caught:
        extract_zip(zip_path, tmp_path / "out")
    assert str(zip_path) in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip"]
    assert not list(tmp_path.rglob("evil"))


def test_extract_zip_refuses_corrupt_member(tmp_path):
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(zip_bytes(model_files(get_preset_info(TINY))))
    data = bytearray(zip_path.read_bytes())
    # Flip a byte inside the compressed checkpoint shard so it no longer
    # decompresses to data matching its CRC.
    with zipfile.ZipFile(zip_path) as archive:
        member = archive.getinfo("bert_model.ckpt.data-00000-of-00001")
    offset = member.header_offset + 30 + len(member.filename) + len(member.extra) + 5
    data[offset] ^= 0xFF
    zip_path.write_bytes(bytes(data))
    with pytest.raises(PresetError, match="corrupt"):
        extract_zip(zip_path, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip"]


def test_extract_zip_refuses_non_empty_destination(tmp_path):
    zip_path = tmp_path / "model.zip"
    zip_path.write_bytes(zip_bytes(model_files(get_preset_info(TINY))))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(PresetError, match="not empty"):
        extract_zip(zip_path, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
