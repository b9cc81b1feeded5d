"""Batches of pretraining features as serialized `tf.train.Example` bytes.

Hand-written because building one `tf.train.Example` per instance cost more
than making the instances; here a whole batch is encoded with NumPy, varints
and length prefixes included, and cut into records at the end. The bytes
equal protobuf's deterministic serialization (feature keys sorted), which
the tests check, so every process writes the same files.

The wire format used: an Example is field 1 (Features), a Features is a
repeated field 1 of map entries, each entry a key (field 1) and a Feature
(field 2); a Feature holds a FloatList in field 2 or an Int64List in field
3, each a packed field 1 of floats (little-endian) or varints. Every field
here is length-delimited: a tag byte, the length as a varint, the bytes.
"""

import numpy as np


def _varints(values):
    """The varints of int64 `values` (1-D): `(bytes as uint8, bytes per value)`."""
    values = np.asarray(values, np.int64)
    # Negatives take ten bytes (two's complement), as protobuf writes them.
    largest = 1 << 63 if values.size and values.min() < 0 else int(values.max(initial=0))
    width = max(1, -(-largest.bit_length() // 7))
    if width == 1:
        return values.astype(np.uint8), np.ones(len(values), np.int64)
    kind = np.uint32 if width <= 4 else np.uint64
    unsigned = values.astype(kind)
    used = np.ones(len(values), np.int64)
    for group in range(1, width):
        used += unsigned >= kind(1) << kind(7 * group)
    encoded = np.empty((len(values), width), np.uint8)
    for group in range(width):
        more = np.where(used > group + 1, 0x80, 0).astype(np.uint8)
        encoded[:, group] = ((unsigned >> kind(7 * group)) & kind(0x7F)).astype(np.uint8) | more
    return encoded[np.arange(width) < used[:, None]], used


def _join_rows(parts):
    """Concatenates, row by row, `(flat uint8, lengths)` parts of the same rows."""
    lengths = sum(part_lengths for _, part_lengths in parts)
    joined = np.empty(int(lengths.sum()), np.uint8)
    offsets = np.cumsum(lengths) - lengths
    for flat, part_lengths in parts:
        starts = np.cumsum(part_lengths) - part_lengths
        joined[np.repeat(offsets - starts, part_lengths) + np.arange(len(flat))] = flat
        offsets = offsets + part_lengths
    return joined, lengths


def _constant(data, rows):
    return np.tile(np.frombuffer(data, np.uint8), rows), np.full(rows, len(data))


def _varint_sizes(values):
    return _varints(values)[1]


def _feature_parts(name, values):
    """Feature `name` of each row: `(its entry's headers, its values' bytes, size)`.

    The lengths of every level are computed first, so the values' bytes are
    copied once, into the record, and only the small headers are built here.
    """
    rows, width = values.shape
    if values.dtype.kind == "f":
        payload = (np.ascontiguousarray(values, "<f4").view(np.uint8).reshape(-1),
                   np.full(rows, 4 * width))
        tag = 0x12
    else:
        flat, used = _varints(values.reshape(-1))
        payload = (flat, used.reshape(rows, width).sum(axis=1))
        tag = 0x1A
    key = name.encode("utf-8")
    payload_size = payload[1]
    # An empty list is an empty Int64List or FloatList: no packed field.
    list_size = np.where(payload_size > 0, 1 + _varint_sizes(payload_size) + payload_size, 0) \
        if width else np.zeros(rows, np.int64)
    feature_size = 1 + _varint_sizes(list_size) + list_size
    entry_size = 2 + len(key) + 1 + _varint_sizes(feature_size) + feature_size
    pieces = [
        _constant(b"\x0a", rows), _varints(entry_size),
        _constant(bytes([0x0A, len(key)]) + key + b"\x12", rows), _varints(feature_size),
        _constant(bytes([tag]), rows), _varints(list_size),
    ]
    if width:
        pieces += [_constant(b"\x0a", rows), _varints(payload_size)]
    headers = _join_rows(pieces)
    return headers, payload, 1 + _varint_sizes(entry_size) + entry_size


def encode_examples(features):
    """Serialized Examples of a batch: `features` maps names to `[batch, n]` arrays.

    Integer arrays become Int64Lists, float arrays FloatLists. Names are
    shorter than 128 bytes (their length is written as one byte).
    """
    parts = [_feature_parts(name, np.asarray(features[name])) for name in sorted(features)]
    features_size = sum(size for _, _, size in parts)
    rows = len(features_size)
    pieces = [_constant(b"\x0a", rows), _varints(features_size)]
    for headers, payload, _ in parts:
        pieces += [headers, payload]
    flat, lengths = _join_rows(pieces)
    data = flat.tobytes()
    ends = np.cumsum(lengths).tolist()
    return [data[start:end] for start, end in zip([0, *ends[:-1]], ends)]
