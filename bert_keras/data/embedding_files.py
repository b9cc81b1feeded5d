"""Writing sentence embeddings: a `.npy` matrix, or JSON Lines.

Both stream a known number of rows to a temporary file beside the
destination and rename it at the end. The `.npy` is float32
`[lines, dim]`, row `i` for line `i`, readable with `numpy.load` (memory-
mapped with `mmap_mode="r"` for large files). JSON Lines has one
`{"index": i, "embedding": [...]}` per line, full float32 precision.
"""

import json
import os
import pathlib
import tempfile

import numpy as np


def temporary_beside(path):
    """A new empty file next to `path`, for writing it atomically."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    return pathlib.Path(name)


def write_embeddings(path, batches, rows, dim):
    """Writes `batches` (float arrays `[n, dim]`) to `path`; returns the row count.

    `rows` must be the total of the batches' rows: a `.npy` header states
    the shape before the data.
    """
    from bert_keras.safe_paths import share_like_umask

    path = pathlib.Path(path)
    temporary = temporary_beside(path)
    written = 0
    try:
        if path.suffix == ".npy":
            with open(temporary, "wb") as file:
                header = {"descr": "<f4", "fortran_order": False, "shape": (rows, dim)}
                np.lib.format.write_array_header_2_0(file, header)
                for batch in batches:
                    file.write(np.ascontiguousarray(batch, dtype="<f4").tobytes())
                    written += len(batch)
        else:
            with open(temporary, "w", encoding="utf-8") as file:
                for batch in batches:
                    for row in np.asarray(batch, dtype="float32"):
                        file.write(json.dumps({"index": written, "embedding": row.tolist()}) + "\n")
                        written += 1
        if written != rows:
            raise ValueError(f"{written} embeddings were computed for {rows} lines.")
        share_like_umask(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return written
