"""Choices of the feature and embedding models, checked without Keras, so
that the commands can refuse a bad flag before importing it."""

import numbers

from bert_keras.errors import DataError

# Our names for the pooling modes; `pooled` takes the backbone's tanh pooler.
POOLING_MODES = ("cls", "pooled", "mean", "max", "mean_sqrt_len")


def pooling_modes(pooling):
    """`pooling` (a mode or a list of modes) as a checked tuple of modes."""
    if isinstance(pooling, str):
        modes = (pooling,)
    elif isinstance(pooling, (list, tuple)):
        modes = tuple(pooling)
    else:
        modes = ()
    if not modes or any(mode not in POOLING_MODES for mode in modes):
        raise DataError(
            f"Unknown pooling {pooling!r}: use one of {list(POOLING_MODES)}, or a "
            "list of them to concatenate (e.g. ['cls', 'mean'])."
        )
    return modes


DEFAULT_LAYERS = (-1, -2, -3, -4)


def check_layers(layers, num_layers):
    """`layers` as a tuple of ints, each a valid index into `num_layers` blocks."""
    layers = tuple(layers)
    bad = [
        index for index in layers
        if isinstance(index, bool) or not isinstance(index, numbers.Integral)
        or not -num_layers <= index < num_layers
    ]
    if not layers or bad:
        raise DataError(
            f"Layer indices {bad or list(layers)} do not name encoder blocks of a "
            f"{num_layers}-layer model: use 0 to {num_layers - 1} (0 is the first "
            f"block's output) or -1 to -{num_layers} (-1 is the last)."
        )
    return tuple(int(index) for index in layers)
