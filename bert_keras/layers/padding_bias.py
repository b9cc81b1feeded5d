"""The padding mask as the original applies it."""

from keras import ops


def padding_bias(padding_mask, dtype):
    """The original's additive mask, `[batch, 1, 1, seq]`: -10000 on padded keys.

    Adding it rather than selecting with the mask keeps the original's
    answer for an example with no token at all (such as run_classifier.py's
    padding examples): it shifts every logit alike, so all keys are attended.
    Otherwise a padded key's weight underflows to exactly zero either way.
    """
    tokens = ops.cast(padding_mask, dtype)
    return ((1.0 - tokens) * -10000.0)[:, None, None, :]
