"""Writing a folder so that it appears whole or not at all."""

import contextlib
import os
import pathlib
import shutil
import uuid

from bert_keras.errors import ExportError


def check_destination(target, overwrite):
    """Raises `ExportError` if `target` cannot receive an export."""
    target = pathlib.Path(target)
    if target.exists() and not target.is_dir():
        raise ExportError(f"{target} is a file; exports are folders. Choose another path.")
    if target.exists() and not overwrite:
        raise ExportError(
            f"{target} already exists; pass `overwrite=True` (`--overwrite` on "
            "the command line) to replace it, or choose another path."
        )


@contextlib.contextmanager
def atomic_directory(target, overwrite=False):
    """Yields an empty temporary folder that replaces `target` on success.

    The temporary folder sits next to `target`, so the final step is a
    rename on one file system: readers see the old folder or the new one,
    never a partial export. If the block raises, the temporary folder is
    removed and `target` is left as it was.

    Args:
        target: the folder to write.
        overwrite: bool. Whether an existing `target` may be replaced.

    Raises:
        ExportError: `target` exists (without `overwrite`) or is a file, or
            its parent folder cannot be written.
    """
    target = pathlib.Path(target).absolute()
    check_destination(target, overwrite)
    token = uuid.uuid4().hex[:12]
    temporary = target.with_name(f".{target.name}.partial-{token}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary.mkdir()
    except OSError as error:
        raise ExportError(
            f"Cannot write to {target.parent} ({error.strerror or error}); "
            "choose a folder you can write to."
        ) from error
    try:
        yield temporary
        # Checked again: another process may have written there meanwhile.
        check_destination(target, overwrite)
        previous = None
        if target.exists():
            previous = target.with_name(f".{target.name}.previous-{token}")
            os.replace(target, previous)
        try:
            os.replace(temporary, target)
        except BaseException:
            if previous is not None:
                os.replace(previous, target)
            raise
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
