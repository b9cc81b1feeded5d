"""Argument types of the commands: each refuses a bad value as it is parsed,
before anything is loaded."""

import argparse
import math


def _number(kind, text):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def positive(kind, minimum=None):
    """An argparse `type`: a finite `kind` above zero, or at least `minimum`."""

    def parse(text):
        value = _number(kind, text)
        if minimum is None and value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    return parse


def finite(text):
    """An argparse `type`: any finite float."""
    return _number(float, text)


def proportion(text):
    """An argparse `type`: a float in [0, 1]."""
    value = _number(float, text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def dropout_rate(text):
    """An argparse `type`: a float in [0, 1)."""
    value = _number(float, text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def add_training_arguments(parser, max_seq_length, learning_rate, epochs, min_seq_length=3):
    """The original's training flags, shared by the fine-tuning commands."""
    parser.add_argument(
        "--max-seq-length", type=positive(int, minimum=min_seq_length), default=max_seq_length,
        help="longest packed sequence in word pieces, at most the preset's "
        "positions (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size", type=positive(int), default=32,
        help="examples per update, over all replicas (default: %(default)s)",
    )
    parser.add_argument(
        "--learning-rate", type=positive(float), default=learning_rate,
        help="peak learning rate of the original AdamW schedule (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs", type=positive(float), default=epochs,
        help="passes over the training data; fractions count steps as the "
        "original does (default: %(default)s)",
    )
    parser.add_argument(
        "--warmup-proportion", type=proportion, default=0.1,
        help="fraction of the steps spent warming the learning rate up "
        "linearly (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=12345,
        help="seed of the new head's weights, dropout and shuffling (default: %(default)s)",
    )
