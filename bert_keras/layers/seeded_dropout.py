"""Dropout drawn from a seed tensor, repeatable inside recomputed code."""

import keras
from keras import ops


class _GivenSeed(keras.random.SeedGenerator):
    """Hands `keras.random` a seed tensor as if drawn from a generator.

    `keras.random` functions take seed tensors on JAX only; on the other
    backends they take an int or a `SeedGenerator`, and call its `next()`.
    No state is created or advanced.
    """

    def __init__(self, seed):
        self._seed = seed

    def next(self, ordered=True):
        return self._seed


def seeded_dropout(x, rate, seed, offset):
    """`keras.random.dropout(x, rate)` with a mask that depends on `seed` only.

    Args:
        x: the tensor to drop from.
        rate: float. Fraction of entries set to zero (the rest are scaled up).
        seed: a seed tensor of shape `[2]`, from `SeedGenerator.next()`.
        offset: int. Tells apart the masks drawn from one `seed`; it moves
            the seed's first word, which a generator never advances.
    """
    if rate == 0:
        return x
    seed = ops.add(seed, ops.convert_to_tensor([offset, 0], dtype=seed.dtype))
    return keras.random.dropout(x, rate, seed=_GivenSeed(seed))
