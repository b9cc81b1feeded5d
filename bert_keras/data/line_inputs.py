"""Text files of one example per line, read as `extract_features.py` reads them.

The original reads with `GFile.readline`, which ends a line at `\\n` only
(never at `\\r` or Unicode line separators), decodes it as UTF-8 dropping
invalid bytes (`tokenization.convert_to_unicode`), strips it, and splits a
sentence pair on ` ||| ` with the regular expression below: greedy, so the
last ` ||| ` of a line separates the pair, and one at either edge of the
stripped line (which has lost the space around it) splits nothing. An empty
line is an example with no tokens. Lines are streamed, so a file of any size
reads in constant memory.
"""

import os
import re

from bert_keras.errors import DataError

PAIR_PATTERN = re.compile(r"^(.*) \|\|\| (.*)$")
_CHUNK_BYTES = 1 << 20


def split_pair(line):
    """A stripped line as `(text_a, text_b)`, `text_b` None for one sentence."""
    match = PAIR_PATTERN.match(line)
    if match is None:
        return line, None
    return match.group(1), match.group(2)


def check_readable(path, flag="--input-file"):
    """Raises `DataError` unless `path` is a file this process can read."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{flag} {path} does not exist; pass the path of a text file.")
    if os.path.isdir(path):
        raise DataError(f"{flag} {path} is a folder; pass the path of a text file.")
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as error:
        raise DataError(f"Cannot read {flag} {path}: {error.strerror or error}.") from None


def count_lines(path):
    """Examples in `path`: its `\\n`s, plus one for a last line without one."""
    count, last = 0, b"\n"
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def read_lines(path):
    """Yields each line of `path`, decoded and stripped, in order."""
    with open(path, "rb") as file:
        for raw in file:
            yield raw.decode("utf-8", "ignore").strip()


def read_examples(path, pairs=True):
    """Yields `(text_a, text_b)` per line of `path`; see the module docstring.

    Args:
        path: str or path of a UTF-8 text file.
        pairs: bool. False reads every line as one text (`text_b` None).
    """
    for line in read_lines(path):
        yield split_pair(line) if pairs else (line, None)
