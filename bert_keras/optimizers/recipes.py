"""The optimizers of the original scripts, configured as they configure them."""

from bert_keras.optimizers.bert_adamw import BertAdamW
from bert_keras.optimizers.warmup_linear_decay import WarmupLinearDecay


def create_optimizer(
    learning_rate,
    num_train_steps,
    warmup_proportion=0.1,
    weight_decay_rate=0.01,
    gradient_accumulation_steps=1,
):
    """The optimizer of the original BERT fine-tuning scripts.

    `BertAdamW` (clipping to global norm 1.0) with
    `WarmupLinearDecay(learning_rate, num_train_steps, num_warmup_steps)`,
    where `num_warmup_steps = int(num_train_steps * warmup_proportion)` as in
    the original `run_classifier.py` (the float product is truncated, so e.g.
    100 steps at 0.29 warm up for 28).

    Args:
        learning_rate: float. Peak learning rate (the original's `init_lr`).
        num_train_steps: int. Total optimizer steps of the run.
        warmup_proportion: float. Fraction of `num_train_steps` to warm up.
        weight_decay_rate: float. See `BertAdamW`.
        gradient_accumulation_steps: int. Batches whose gradients are
            averaged into each update (Keras's optimizer accumulation:
            average, then clip, then update), so `k` batches of `b` examples
            make exactly the update of one batch of `k * b`. The schedule
            counts updates: `num_train_steps` is in updates, not batches.

    Returns:
        A `BertAdamW`.

    Example:
    >>> optimizer = create_optimizer(2e-5, num_train_steps=1000)
    >>> optimizer.get_config()["learning_rate"]["config"]["num_warmup_steps"]
    100
    >>> float(optimizer.learning_rate)  # step 0 of warmup
    0.0
    """
    schedule = WarmupLinearDecay(
        learning_rate, num_train_steps, int(num_train_steps * warmup_proportion)
    )
    if gradient_accumulation_steps < 1:
        raise ValueError(
            "`gradient_accumulation_steps` must be at least 1. Received: "
            f"{gradient_accumulation_steps}"
        )
    # Keras takes None for "no accumulation", and 2 or more otherwise.
    accumulation = gradient_accumulation_steps if gradient_accumulation_steps > 1 else None
    return BertAdamW(
        learning_rate=schedule,
        weight_decay_rate=weight_decay_rate,
        gradient_accumulation_steps=accumulation,
    )


OPTIMIZERS = ("adamw", "lamb")


def create_pretraining_optimizer(
    learning_rate,
    num_train_steps,
    num_warmup_steps,
    optimizer="adamw",
    weight_decay_rate=0.01,
    gradient_accumulation_steps=1,
):
    """The optimizer of `run_pretraining.py`, or LAMB for large batches.

    `run_pretraining.py` takes `num_train_steps` and `num_warmup_steps` as
    absolute step counts (not a proportion) and trains with the original
    `BertAdamW`. `optimizer="lamb"` uses `BertLamb` with the same schedule,
    decay and exclusions, as the large-batch BERT recipes do.

    Args:
        learning_rate: float. Peak learning rate.
        num_train_steps: int. Updates over which the rate decays to 0.
        num_warmup_steps: int. Updates of linear warmup, at most
            `num_train_steps`.
        optimizer: `"adamw"` or `"lamb"`.
        weight_decay_rate: float. Decay coefficient.
        gradient_accumulation_steps: int. Batches per update; the schedule
            counts updates.

    Returns:
        A `BertAdamW` or a `BertLamb`.

    Example:
    >>> lamb = create_pretraining_optimizer(1e-3, 1000, 100, optimizer="lamb")
    >>> type(lamb).__name__, lamb.get_config()["learning_rate"]["config"]["num_warmup_steps"]
    ('BertLamb', 100)
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"`optimizer` must be one of {OPTIMIZERS}. Received: {optimizer!r}")
    if not 0 <= num_warmup_steps <= num_train_steps:
        raise ValueError(
            f"`num_warmup_steps` ({num_warmup_steps}) must be between 0 and "
            f"`num_train_steps` ({num_train_steps})."
        )
    if gradient_accumulation_steps < 1:
        raise ValueError(
            "`gradient_accumulation_steps` must be at least 1. Received: "
            f"{gradient_accumulation_steps}"
        )
    from bert_keras.optimizers.bert_lamb import BertLamb

    kind = BertLamb if optimizer == "lamb" else BertAdamW
    return kind(
        learning_rate=WarmupLinearDecay(learning_rate, num_train_steps, num_warmup_steps),
        weight_decay_rate=weight_decay_rate,
        gradient_accumulation_steps=(
            gradient_accumulation_steps if gradient_accumulation_steps > 1 else None
        ),
    )
