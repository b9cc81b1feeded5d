"""Shared fixtures: fake Google zips and a local HTTP mirror of Google's bucket.

Nothing here touches the network: the mirror is an HTTP server on 127.0.0.1
that serves a temporary folder laid out like Google's bucket, and can be told
to misbehave in the ways real downloads do.
"""

from __future__ import annotations

import http.server
import io
import json
import pathlib
import threading
import time
import zipfile

import pytest

from tests.checkpoints import google_variables, write_google_checkpoint, zip_google_folder

from bert_keras.presets.registry import PresetInfo, get_preset_info

TINY = "bert_tiny_en_uncased"
# Placeholder contents: these tests exercise fetching, not loading weights.
CHECKPOINT_FILES = {
    "bert_model.ckpt.index": b"index placeholder",
    "bert_model.ckpt.data-00000-of-00001": b"\0" * 4096,
    "bert_model.ckpt.meta": b"meta placeholder",
}


def google_config(info: PresetInfo, **overrides) -> dict:
    """A bert_config.json as Google wrote it, for `info`'s architecture."""
    a = info.architecture
    config = {
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": a["hidden_dim"],
        "initializer_range": 0.02,
        "intermediate_size": a["intermediate_dim"],
        "max_position_embeddings": a["max_sequence_length"],
        "num_attention_heads": a["num_heads"],
        "num_hidden_layers": a["num_layers"],
        "type_vocab_size": a["num_segments"],
        "vocab_size": a["vocabulary_size"],
    }
    config.update(overrides)
    return config


def model_files(info: PresetInfo, **config_overrides) -> dict[str, bytes]:
    """The files of a Google zip for `info` (placeholder checkpoint)."""
    files = {
        "bert_config.json": json.dumps(google_config(info, **config_overrides)).encode(),
        "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n",
    }
    files.update(CHECKPOINT_FILES)
    return files


def zip_bytes(files: dict[str, bytes], folder: str = "") -> bytes:
    """A zip of `files`, at its root or inside `folder` like the 2018 releases."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if folder:
            archive.writestr(folder + "/", b"")
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}" if folder else name, data)
    return buffer.getvalue()


def google_zip(info: PresetInfo, **config_overrides) -> bytes:
    """The zip Google publishes for `info`: files at the root for the 2020
    compact models, inside a folder named like the model for older ones."""
    folder = "" if info.path.startswith("2020_02_20/") else info.google_name
    return zip_bytes(model_files(info, **config_overrides), folder)


class MirrorServer:
    """State shared between a test and the request handler thread."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        # "ok", "404", "500", "truncated", "notzip", "evil", or "slow" (ok,
        # but slow enough for a second client to arrive mid-download).
        self.mode = "ok"
        self.requests: list[str] = []
        self.url = ""
        self._lock = threading.Lock()

    def publish(self, relative_path: str, data: bytes) -> None:
        target = self.root / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    def downloads(self, relative_path: str) -> int:
        with self._lock:
            return sum(path == "/" + relative_path for path in self.requests)


def _handler(state: MirrorServer):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            state.record(self.path)
            target = state.root / self.path.lstrip("/")
            if state.mode == "404" or not target.is_file():
                return self._send(404, b"Not Found")
            if state.mode == "500":
                return self._send(500, b"Internal Server Error")
            if state.mode == "notzip":
                return self._send(200, b"<html><body>Sign in to continue</body></html>")
            body = target.read_bytes()
            if state.mode == "evil":
                files = {"../evil": b"escaped", **model_files(get_preset_info(TINY))}
                return self._send(200, zip_bytes(files))
            if state.mode == "truncated":
                # Announce the whole file, send half, then hang up.
                return self._send(200, body[: len(body) // 2], length=len(body))
            if state.mode == "slow":
                time.sleep(1.0)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for start in range(0, len(body), 1024):
                    self.wfile.write(body[start : start + 1024])
                    time.sleep(0.05)
                return None
            return self._send(200, body)

    return Handler


@pytest.fixture
def mirror(tmp_path):
    """An HTTP mirror on 127.0.0.1 serving the tiny preset's and base preset's zips."""
    state = MirrorServer(tmp_path / "mirror")
    for name in (TINY, "bert_base_en_uncased"):
        info = get_preset_info(name)
        state.publish(info.path, google_zip(info))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def preset_env(tmp_path, mirror, monkeypatch):
    """Cache in `tmp_path`, downloads from `mirror`, no progress bars."""
    home = tmp_path / "home"
    monkeypatch.setenv("BERT_KERAS_HOME", str(home))
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", mirror.url)
    monkeypatch.setenv("BERT_KERAS_PROGRESS", "0")
    return home


@pytest.fixture(scope="session")
def tiny_release(tmp_path_factory):
    """The tiny preset's zip as Google publishes it (flat, 2020 layout)."""
    info = get_preset_info(TINY)
    config = google_config(info)
    arrays = google_variables(config, seed=7)
    folder = write_google_checkpoint(
        tmp_path_factory.mktemp("release") / "files", config, arrays
    )
    archive = zip_google_folder(folder, folder.parent / "tiny.zip")
    return info, config, arrays, archive.read_bytes()


@pytest.fixture
def served(mirror, preset_env, tiny_release):
    """The mirror serves a real tiny checkpoint; returns (mirror, config, arrays)."""
    info, config, arrays, data = tiny_release
    mirror.publish(info.path, data)
    return mirror, config, arrays


_DATA_TESTS = pathlib.Path(__file__).parent / "data"


def pytest_collection_modifyitems(config, items):
    """Runs backend-independent tests under the TensorFlow backend only.

    They read, write and score data with tf.data and NumPy, never a Keras
    model, so a second backend would only repeat them. That is every test
    in `tests/data/` and any marked `backend_independent`. So are those
    marked `tensorflow_only`: long end-to-end runs (a CLI learning a task,
    a SavedModel or ONNX graph, which TensorFlow makes under any backend, a
    notebook) whose backend-dependent parts (training, saving, the export's
    hand-over to TensorFlow) other tests run under every backend.
    """
    import os

    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        return
    kept, dropped = [], []
    for item in items:
        independent = any(item.get_closest_marker(name) is not None
                          for name in ("backend_independent", "tensorflow_only")) or \
            _DATA_TESTS in pathlib.Path(str(item.fspath)).parents
        (dropped if independent else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
