"""NumPy arrays that are slow to build, kept once per machine in the cache.

`cached_arrays` loads `<cache root>/tokenizer/<name>-<hash>.npz`, where the
hash covers the source files that build the arrays and the Unicode version,
so changing how they are built names a new file. A missing or damaged file
is built again and written through a temporary name and a rename; a cache
that cannot be written only costs the build.
"""

import hashlib
import os
import pathlib
import unicodedata

import numpy as np


def cache_file(name, sources):
    """The cache path of arrays `name` built by the files `sources`."""
    from bert_keras.presets.cache import cache_root

    digest = hashlib.sha256(unicodedata.unidata_version.encode())
    for source in sources:
        digest.update(pathlib.Path(source).read_bytes())
    return cache_root() / "tokenizer" / f"{name}-{digest.hexdigest()[:16]}.npz"


def cached_arrays(name, sources, build):
    """`build()`'s dict of arrays, from the cache when it holds them."""
    path = cache_file(name, sources)
    try:
        with np.load(path) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError, KeyError, EOFError):
        pass
    arrays = build()
    temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)
        os.replace(temporary, path)
    except OSError:
        pass
    finally:
        temporary.unlink(missing_ok=True)
    return arrays
