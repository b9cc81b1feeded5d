"""Where bert_keras may write, and what it may replace.

Every command and export that writes goes through these checks before any
slow work, so that a refusal comes in a second and nothing a user keeps is
ever replaced:

- an output folder must be a folder (or creatable as one) that can be
  written to;
- `overwrite` replaces only what bert_keras itself wrote before: an export
  folder carrying `EXPORT_MARKER` (or an empty folder), or a Keras model
  file;
- never the current directory or a folder above it, and never a path that
  holds, or lies inside, one of the run's inputs (the model being
  exported, the preset, the data files).
"""

import json
import os
import pathlib
import tempfile
import zipfile

from bert_keras.errors import BertKerasError, OutputError

# Written at the top of every export folder; recognising our own exports by
# it is what lets `overwrite` replace them and nothing else.
EXPORT_MARKER = ".bert_keras_export"
# SavedModels exported before the marker existed carry this file.
_LEGACY_SAVED_MODEL_MARKER = pathlib.Path("assets.extra") / "bert_keras.json"
_KERAS_ARCHIVE_MEMBERS = {"config.json", "metadata.json"}


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def share_like_umask(path):
    """Gives `path` the mode a plain `open()` would have given it.

    Temporary files (`tempfile.mkstemp`, safetensors' writer) are created
    owner-only; a file a user shares must follow the umask like any other.
    """
    os.chmod(path, 0o666 & ~_umask())


def check_output_folder(folder, flag="--output-dir"):
    """Raises `OutputError` unless `folder` is, or can become, a writable folder.

    Nothing is created: the nearest existing ancestor is probed with a
    temporary file.
    """
    folder = pathlib.Path(folder).expanduser().absolute()
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        where = "is" if existing == folder else f"lies under {existing}, which is"
        raise OutputError(
            f"{flag} {folder} {where} a file, not a folder; choose a folder path."
        )
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise OutputError(
            f"{flag} {folder} cannot be written ({error.strerror or error} in "
            f"{existing}); choose a folder you can write to."
        ) from None


def _resolved(path):
    return pathlib.Path(path).expanduser().resolve()


def _is_within(path, folder):
    return path == folder or folder in path.parents


def check_spares_inputs(target, inputs, flag):
    """Raises `OutputError` when writing `target` could touch one of `inputs`.

    `target` may neither be nor hold an input, nor lie inside an input
    folder.
    """
    target = _resolved(target)
    for source in inputs:
        if source is None or not os.path.exists(os.fspath(source)):
            continue
        source = _resolved(source)
        if _is_within(source, target) or _is_within(target, source):
            relation = "is" if source == target else (
                "holds" if _is_within(source, target) else "lies inside"
            )
            raise OutputError(
                f"{flag} {target} {relation} {source}, an input of this run; "
                "writing there could destroy it. Choose an output path apart "
                "from the inputs."
            )


def looks_like_export(folder):
    """Whether `folder` is an export bert_keras wrote, or empty."""
    folder = pathlib.Path(folder)
    if (folder / EXPORT_MARKER).is_file() or (folder / _LEGACY_SAVED_MODEL_MARKER).is_file():
        return True
    return folder.is_dir() and not any(folder.iterdir())


def write_export_marker(folder, kind):
    """Marks `folder` as an export of `kind`, which `overwrite` may replace."""
    from bert_keras import __version__

    (pathlib.Path(folder) / EXPORT_MARKER).write_text(
        json.dumps({"format": kind, "bert_keras": __version__}) + "\n", encoding="utf-8"
    )


def check_replaceable_folder(target, overwrite, inputs=(), flag="--output"):
    """Raises `OutputError` unless an export may be written to `target`.

    An existing `target` is replaced only with `overwrite`, and only when it
    is an earlier export (see `looks_like_export`), not the current folder
    or one above it, and apart from `inputs`.
    """
    target = pathlib.Path(target).expanduser()
    check_spares_inputs(target, inputs, flag)
    if not target.exists():
        check_output_folder(target.parent, flag=f"{flag}'s parent")
        return
    if not target.is_dir():
        raise OutputError(f"{flag} {target} is a file; exports are folders. Choose another path.")
    if not overwrite:
        raise OutputError(
            f"{target} already exists; pass `overwrite=True` (`--overwrite` on "
            "the command line) to replace it, or choose another path."
        )
    resolved, here = _resolved(target), pathlib.Path.cwd().resolve()
    if _is_within(here, resolved):
        raise OutputError(
            f"Refusing to replace {resolved}: it is the current folder or one "
            "above it. Choose a new folder for the export."
        )
    if not looks_like_export(target):
        raise OutputError(
            f"Refusing to replace {target}: it is not an export made by "
            f"bert-keras (those carry a {EXPORT_MARKER} file), so replacing "
            "it could destroy files of yours. Choose a new folder, or remove "
            "this one yourself."
        )


def looks_like_keras_file(path):
    """Whether `path` is a `.keras` model archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            return _KERAS_ARCHIVE_MEMBERS <= set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def check_replaceable_model_file(path, overwrite, inputs=()):
    """Raises `OutputError` unless a model may be saved to `path`.

    An existing `path` is replaced only with `overwrite`, and only when it is
    a Keras model file; never when it is one of `inputs`.
    """
    path = pathlib.Path(path)
    check_output_folder(path.parent)
    check_spares_inputs(path, inputs, "The model file")
    if not os.path.lexists(path):
        return
    if path.is_dir() or not path.is_file():
        raise OutputError(
            f"{path} exists and is not a file; the model is saved there. "
            "Move it away or choose another --output-dir."
        )
    if not overwrite:
        raise BertKerasError(
            f"{path} already holds a saved model; pass --overwrite to replace "
            "it, or choose another --output-dir."
        )
    if not looks_like_keras_file(path):
        raise OutputError(
            f"Refusing to replace {path}: it is not a Keras model file, so it "
            "is not one a bert-keras run saved. Move it away or choose "
            "another --output-dir."
        )


def write_text_atomic(path, text):
    """Writes `text` to `path` through a temporary file and a rename."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def check_output_file(path, overwrite, inputs=(), flag="--output-file"):
    """Raises `OutputError` unless `path` can be written as a new result file.

    Its folder must exist and be writable (nothing is created: a typo in
    the folder should not silently make a new tree); an existing file is
    replaced only with `overwrite`; and it may not be one of `inputs`.
    """
    path = pathlib.Path(path).expanduser().absolute()
    if path.is_dir():
        raise OutputError(f"{flag} {path} is a folder; give a file path inside it.")
    if not path.parent.is_dir():
        raise OutputError(
            f"The folder of {flag} {path} does not exist; create {path.parent} "
            "first, or choose a path in an existing folder."
        )
    check_output_folder(path.parent, flag=f"The folder of {flag}")
    check_spares_inputs(path, inputs, flag)
    if path.exists() and not overwrite:
        raise OutputError(
            f"{flag} {path} exists; pass --overwrite to replace it, or choose "
            "another path."
        )
