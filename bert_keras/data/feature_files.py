"""Writing extracted features: the original's JSON Lines, or a compact `.npz`.

Both writers stream: they take an iterator of examples and hold one at a
time, so memory stays constant however long the input. Both write to a
temporary file beside the destination and rename it at the end, so an
interrupted run leaves any earlier file as it was.

JSON Lines is what `extract_features.py` writes, one line per example:
`{"linex_index": i, "features": [{"token": t, "layers": [{"index": l,
"values": [...]}]}]}`, values rounded to 6 decimals, layers in the order
asked for. Readable anywhere, but about 15 KB per token for four layers of
BERT-Base.

The `.npz` holds the same numbers unrounded, at 4 bytes each (about 12 KB
per token for the same four layers, with no parsing to read them back):
- `layers`: int64 `[k]`, the layer indices in the order asked for;
- `layer_<index>` (e.g. `layer_-1`): float32 `[total_tokens, hidden]`, the
  tokens of every example one after another;
- `tokens`: str `[total_tokens]`;
- `linex_index`: int64 `[examples]`;
- `offsets`: int64 `[examples + 1]`: example `i`'s rows are
  `offsets[i]:offsets[i + 1]`.
"""

import contextlib
import io
import json
import os
import pathlib
import shutil
import tempfile
import zipfile

import numpy as np

from bert_keras.data.embedding_files import temporary_beside as _temporary_beside

_COPY_BYTES = 1 << 22


def _finish(temporary, path):
    from bert_keras.safe_paths import share_like_umask

    share_like_umask(temporary)
    os.replace(temporary, path)


def feature_json(linex_index, example):
    """One example as the original's JSON line (without the newline)."""
    features = [
        {
            "token": token,
            "layers": [
                {"index": index, "values": [round(value, 6) for value in values[row].tolist()]}
                for index, values in example["layers"].items()
            ],
        }
        for row, token in enumerate(example["tokens"])
    ]
    return json.dumps({"linex_index": linex_index, "features": features})


def write_jsonl(path, examples):
    """Writes `(linex_index, example)` pairs as JSON Lines; returns the count."""
    path = pathlib.Path(path)
    temporary = _temporary_beside(path)
    count = 0
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            for linex_index, example in examples:
                file.write(feature_json(linex_index, example) + "\n")
                count += 1
        _finish(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return count


@contextlib.contextmanager
def _npy_member(archive, name, shape, dtype):
    """An open `name.npy` member of `archive`, its header written, for the data."""
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                  "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_2_0(member, header)
        yield member


def _write_npy_member(archive, name, shape, dtype, source):
    """Streams raw bytes from `source` into `archive` as `name.npy`."""
    with _npy_member(archive, name, shape, dtype) as member:
        with open(source, "rb") as file:
            shutil.copyfileobj(file, member, _COPY_BYTES)


def write_npz(path, examples, layers):
    """Writes `(linex_index, example)` pairs as the `.npz` above; returns the count.

    Each layer's rows go to a raw scratch file as they come, and the archive
    is assembled from those once the total is known.
    """
    path = pathlib.Path(path)
    layers = [int(index) for index in layers]
    temporary = _temporary_beside(path)
    count, total, hidden, longest = 0, 0, None, 1
    linex, offsets = [], [0]
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as scratch:
        scratch = pathlib.Path(scratch)
        layer_files = {index: open(scratch / f"layer{position}", "wb")
                       for position, index in enumerate(layers)}
        # Only "\n" ends a token's line: a token may hold any other character.
        tokens_file = open(scratch / "tokens", "w", encoding="utf-8", newline="\n")
        try:
            for linex_index, example in examples:
                for index in layers:
                    values = np.ascontiguousarray(example["layers"][index], dtype="<f4")
                    hidden = values.shape[1]
                    layer_files[index].write(values.tobytes())
                for token in example["tokens"]:
                    tokens_file.write(token + "\n")
                    longest = max(longest, len(token))
                total += len(example["tokens"])
                linex.append(linex_index)
                offsets.append(total)
                count += 1
        finally:
            for file in (*layer_files.values(), tokens_file):
                file.close()
        try:
            with zipfile.ZipFile(temporary, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                archive.writestr("layers.npy", _npy_bytes(np.asarray(layers, "int64")))
                archive.writestr("linex_index.npy", _npy_bytes(np.asarray(linex, "int64")))
                archive.writestr("offsets.npy", _npy_bytes(np.asarray(offsets, "int64")))
                for position, index in enumerate(layers):
                    _write_npy_member(archive, f"layer_{index}", (total, hidden or 0), "<f4",
                                      scratch / f"layer{position}")
                _write_tokens(archive, scratch / "tokens", total, longest)
            _finish(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return count


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _write_tokens(archive, tokens_path, total, longest):
    """The tokens as a fixed-width unicode array, streamed from their file."""
    dtype = f"<U{longest}"
    with _npy_member(archive, "tokens", (total,), dtype) as member:
        with open(tokens_path, encoding="utf-8", newline="\n") as file:
            chunk = []
            for line in file:
                chunk.append(line[:-1])
                if len(chunk) == 65536:
                    member.write(np.asarray(chunk, dtype=dtype).tobytes())
                    chunk = []
            if chunk:
                member.write(np.asarray(chunk, dtype=dtype).tobytes())
