"""Writing a folder so that it appears whole or not at all."""

import contextlib
import os
import pathlib
import shutil
import uuid

from bert_keras.errors import ExportError
from bert_keras.safe_paths import OutputError, check_replaceable_folder, write_export_marker


def check_destination(target, overwrite, inputs=()):
    """Raises `ExportError` if `target` cannot receive an export.

    An existing `target` is replaced only with `overwrite`, and only if it is
    an earlier bert_keras export (or empty), neither the current folder nor
    one above it, and apart from `inputs` (the files the export is made
    from); see `bert_keras.safe_paths`.
    """
    try:
        check_replaceable_folder(target, overwrite, inputs)
    except OutputError as error:
        raise ExportError(str(error)) from None


@contextlib.contextmanager
def atomic_directory(target, overwrite=False, kind="export"):
    """Yields an empty temporary folder that replaces `target` on success.

    The temporary folder sits next to `target`, so the final step is a
    rename on one file system: readers see the old folder or the new one,
    never a partial export. If the block raises, the temporary folder is
    removed and `target` is left as it was. The new folder is marked as an
    export of `kind`, so that a later `overwrite` may replace it.

    Args:
        target: the folder to write.
        overwrite: bool. Whether an existing export at `target` may be
            replaced.
        kind: str. The export format, recorded in the marker.

    Raises:
        ExportError: `target` exists (without `overwrite`), is not an
            export to replace, is a file, or its parent folder cannot be
            written.
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
        write_export_marker(temporary, kind)
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
