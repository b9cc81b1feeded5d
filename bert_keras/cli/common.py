"""Helpers shared by the commands: training or loading, safe saving and
argument types."""

import argparse
import math
import os
import uuid

import numpy as np

from bert_keras.errors import BertKerasError, DataError

MODEL_FILE = "model.keras"


def trained_or_saved_model(output_dir, args, build, train):
    """The model of a command that fine-tunes into `output_dir`.

    With `--do-train`, `build()` makes a fresh model, `train(model)` fits it
    and it is saved to `output_dir/model.keras`; otherwise the model saved
    there by an earlier run is loaded.
    """
    import keras

    model_path = output_dir / MODEL_FILE
    if args.do_train:
        # Refused before any work, so a long run never ends in a refusal.
        check_can_write(model_path, args.overwrite)
        model = build()
        train(model)
        save_model(model, model_path, args.overwrite)
        print(f"Saved the fine-tuned model to {model_path}.")
        return model
    if model_path.exists():
        return keras.models.load_model(model_path)
    raise DataError(
        f"{model_path} does not exist: train first (--do-train), or point "
        "--output-dir at the folder of a fine-tuned model."
    )


def save_model(model, path, overwrite):
    """Saves `model` to `path` so that `path` is never a partial file.

    Keras writes to a temporary file in the same folder, which then replaces
    `path` in one step; an interrupted save leaves any previous model as it
    was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name rather than `tempfile.mkstemp`, whose owner-only file
    # would leave the model unreadable to anyone else once renamed; Keras
    # insists on the `.keras` suffix.
    temporary = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:12]}{path.suffix}")
    try:
        model.save(temporary)
        # Checked again: another run may have saved here while this one trained.
        check_can_write(path, overwrite)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def check_can_write(path, overwrite):
    if path.exists() and not overwrite:
        raise BertKerasError(
            f"{path} already holds a saved model; pass --overwrite to replace "
            "it, or choose another --output-dir."
        )


def softmax(logits):
    # Shifted by the row maximum so that large logits cannot overflow.
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def positive(kind, minimum=None):
    """An argparse `type`: a `kind` above zero, or at least `minimum`."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if minimum is None and value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    return parse


def dropout_rate(text):
    """An argparse `type`: a float in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid rate: {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, got {text}")
    return value


def training_callbacks(output_dir):
    """A weights checkpoint per epoch and TensorBoard logs, under `output_dir`."""
    import keras

    return [
        keras.callbacks.ModelCheckpoint(
            str(output_dir / "checkpoints" / "epoch_{epoch:03d}.weights.h5"),
            save_weights_only=True,
        ),
        keras.callbacks.TensorBoard(log_dir=str(output_dir / "logs")),
    ]


def add_device_arguments(parser):
    """The flags that choose devices, precision and memory savings."""
    from bert_keras.distribute import NAMES, PRECISIONS

    group = parser.add_argument_group("devices, precision and memory")
    group.add_argument(
        "--distribution",
        choices=NAMES,
        default="auto",
        help="where to run: auto picks a TPU, several workers (TF_CONFIG), "
        "all GPUs, one GPU or the CPU, in that order (default: %(default)s)",
    )
    group.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto: bfloat16 on TPUs and Ampere or newer GPUs, float16 with "
        "loss scaling on older GPUs, float32 on CPUs (default: %(default)s)",
    )
    group.add_argument(
        "--grad-accum-steps",
        type=positive(int),
        default=1,
        help="split each --batch-size batch into this many micro-batches and "
        "average their gradients into one update: the same training in the "
        "memory of a micro-batch (default: %(default)s)",
    )
    group.add_argument(
        "--remat",
        action="store_true",
        help="recompute each encoder block during the backward pass instead "
        "of keeping its activations: less memory, about a third more compute",
    )
    group.add_argument(
        "--attention-dropout",
        type=dropout_rate,
        default=None,
        help="dropout on the attention probabilities (default: the checkpoint's, "
        "0.1 as in the original). 0 lets attention run through the fused "
        "kernels, cuDNN flash attention on JAX GPUs: faster and much smaller "
        "at long sequences (benchmarks/README.md)",
    )
    group.add_argument(
        "--steps-per-execution",
        type=positive(int),
        default=1,
        help="training steps run per call into the compiled function; more "
        "saves host overhead on fast accelerators (default: %(default)s)",
    )


def model_options(args):
    """The task `from_preset` options among `add_device_arguments`'s flags."""
    return {"remat": args.remat, "attention_dropout": args.attention_dropout}


def device_strategy(args):
    """The strategy of `--distribution` and `--precision`, announced."""
    import keras

    from bert_keras import distribute

    strategy = distribute.get_strategy(args.distribution, precision=args.precision)
    replicas = distribute.num_replicas(strategy)
    print(
        f"Running on {replicas} replica{'s' if replicas > 1 else ''} "
        f"({type(strategy).__name__}) in {keras.config.dtype_policy().name}."
    )
    return strategy


def micro_batch_size(args, strategy):
    """Examples per micro-batch: `--batch-size` over `--grad-accum-steps`.

    `--batch-size` counts the examples of one update across all replicas
    (the original's `train_batch_size`); each micro-batch is split evenly
    across the replicas.
    """
    from bert_keras import distribute

    replicas = distribute.num_replicas(strategy)
    if args.batch_size % (args.grad_accum_steps * replicas):
        raise DataError(
            f"--batch-size {args.batch_size} does not split into "
            f"--grad-accum-steps {args.grad_accum_steps} micro-batches over "
            f"{replicas} replica(s); choose a multiple of "
            f"{args.grad_accum_steps * replicas}."
        )
    return args.batch_size // args.grad_accum_steps



def fit_with_original_schedule(model, dataset, num_examples, noun, args, output_dir, micro_batch, **fit_kwargs):
    """Compiles `model` with the original optimizer and trains it on `dataset`.

    Steps (updates) are counted as the original counts them,
    `int(num_examples / --batch-size * --epochs)`, with warmup over
    `--warmup-proportion` of them; each update is `--grad-accum-steps`
    micro-batches of `micro_batch`. `dataset` repeats; `fit_kwargs` go to
    `fit` (e.g. the micro-batch size of an unbatched dataset).
    """
    from bert_keras.optimizers import create_optimizer

    num_train_steps = max(1, int(num_examples / args.batch_size * args.epochs))
    updates_per_epoch = min(math.ceil(num_examples / args.batch_size), num_train_steps)
    model.compile(
        optimizer=create_optimizer(
            args.learning_rate,
            num_train_steps,
            warmup_proportion=args.warmup_proportion,
            gradient_accumulation_steps=args.grad_accum_steps,
        ),
        steps_per_execution=args.steps_per_execution,
    )
    print(
        f"Training on {num_examples} {noun}: {num_train_steps} steps of "
        f"{args.batch_size}{accumulation_note(args, micro_batch)}, "
        f"{int(num_train_steps * args.warmup_proportion)} of them warming up."
    )
    model.fit(
        dataset,
        epochs=math.ceil(num_train_steps / updates_per_epoch),
        steps_per_epoch=updates_per_epoch * args.grad_accum_steps,
        callbacks=training_callbacks(output_dir),
        **fit_kwargs,
    )


def accumulation_note(args, micro_batch):
    """How an update is made up, for the training announcements."""
    if args.grad_accum_steps == 1:
        return ""
    return f" (each {args.grad_accum_steps} micro-batches of {micro_batch})"
