"""Where downloaded presets live on disk, and the lock that guards each one.

Layout under the cache root (`BERT_KERAS_HOME`, default `~/.cache/bert_keras`):

    presets/<name>/          one entry: Google's files plus a `.complete` marker
    locks/presets/<name>.lock

Lock files live outside the entries so that removing a broken entry never
removes the lock another process is waiting on.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
from typing import Iterator

import filelock

from bert_keras.errors import PresetError

HOME_ENV = "BERT_KERAS_HOME"


def cache_root() -> pathlib.Path:
    """The root of bert_keras's cache: `$BERT_KERAS_HOME` or `~/.cache/bert_keras`."""
    configured = os.environ.get(HOME_ENV, "").strip()
    root = pathlib.Path(configured) if configured else pathlib.Path("~/.cache/bert_keras")
    return root.expanduser().absolute()


def _checked_name(name: str) -> str:
    # Names become folder names; anything that could step outside the cache
    # is refused rather than sanitised, so two names never share an entry.
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise PresetError(f"{name!r} cannot be used as a preset cache name.")
    return name


def preset_cache_dir(name: str) -> pathlib.Path:
    """The cache entry of preset `name`: `<cache root>/presets/<name>`."""
    return cache_root() / "presets" / _checked_name(name)


@contextlib.contextmanager
def entry_lock(name: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the inter-process lock of preset `name`'s cache entry.

    Waits for as long as another process holds it (`timeout=None`), since
    that process may be downloading a large zip. The lock is an OS file lock,
    so a process that dies releases it.
    """
    lock_path = cache_root() / "locks" / "presets" / f"{_checked_name(name)}.lock"
    lock = filelock.FileLock(lock_path, timeout=-1 if timeout is None else timeout)
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except filelock.Timeout as error:
        raise PresetError(
            f"Timed out after {timeout} s waiting for the lock {lock_path}, held by "
            "another process using the same preset cache entry."
        ) from error
    except OSError as error:
        raise PresetError(
            f"Cannot take the lock {lock_path}: {error}. "
            f"Set {HOME_ENV} to a writable folder."
        ) from error
    try:
        yield
    finally:
        lock.release()
