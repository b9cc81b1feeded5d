"""Helpers shared by the commands: training or loading, safe saving, early
checks and the device flags."""

import math
import os
import pathlib
import uuid

import numpy as np

from bert_keras.cli.arguments import dropout_rate, positive
from bert_keras.errors import DataError
from bert_keras.safe_paths import (
    check_output_folder,
    check_replaceable_model_file,
    check_spares_inputs,
)

MODEL_FILE = "model.keras"


def check_run_folder(args, inputs=(), results=(), model_file=MODEL_FILE):
    """The early checks of a command that trains into `--output-dir`.

    Raises before anything heavy is imported: the folder must be writable;
    with `--do-train` its model file must be new or replaceable; and
    neither it nor the `results` files written there may be one of `inputs`
    (the run's data files).
    """
    output_dir = pathlib.Path(args.output_dir)
    check_output_folder(output_dir)
    if getattr(args, "do_train", True):
        check_replaceable_model_file(output_dir / model_file, args.overwrite, inputs)
    for name in results:
        check_spares_inputs(output_dir / name, inputs, "A result file")
    return output_dir


def check_sequence_length(preset, length, flag="--max-seq-length"):
    """Raises `DataError` when `length` exceeds the preset's positions.

    Registry presets are answered from the registry, local ones from their
    config file, so this costs no model loading.
    """
    from bert_keras.presets.loader import backbone_config

    limit = backbone_config(preset)["max_sequence_length"]
    if length > limit:
        raise DataError(
            f"{flag} {length} is longer than the {limit} positions of "
            f"{preset}; pass {flag} {limit} or less."
        )


def load_saved_model(path, compile=True):
    """`keras.models.load_model`, with errors that name the file and the fix."""
    import keras

    import bert_keras.models  # noqa: F401  (registers the classes to load)

    try:
        return keras.models.load_model(path, compile=compile)
    except Exception as error:
        raise DataError(
            f"Cannot load {path} as a Keras model ({type(error).__name__}: "
            f"{error}). The file may be truncated or not a model saved by "
            "bert-keras; train again with --do-train --overwrite."
        ) from None


def trained_or_saved_model(output_dir, args, build, train, check=None):
    """The model of a command that fine-tunes into `output_dir`.

    With `--do-train`, `build()` makes a fresh model, `train(model)` fits it
    and it is saved to `output_dir/model.keras`; otherwise the model saved
    there by an earlier run is loaded and handed to `check(model)`, which
    raises if it does not fit the command.
    """
    model_path = output_dir / MODEL_FILE
    if args.do_train:
        model = build()
        train(model)
        save_model(model, model_path, args.overwrite)
        print(f"Saved the fine-tuned model to {model_path}.")
        return model
    if not model_path.exists():
        raise DataError(
            f"{model_path} does not exist: train first (--do-train), or point "
            "--output-dir at the folder of a fine-tuned model."
        )
    model = load_saved_model(model_path)
    if check is not None:
        check(model)
    return model


def save_model(model, path, overwrite):
    """Saves `model` to `path` so that `path` is never a partial file.

    Keras writes to a temporary file in the same folder, which then replaces
    `path` in one step; an interrupted save leaves any previous model as it
    was.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh name rather than `tempfile.mkstemp`, whose owner-only file
    # would leave the model unreadable to anyone else once renamed; Keras
    # insists on the `.keras` suffix.
    temporary = path.with_name(f".{path.stem}-{uuid.uuid4().hex[:12]}{path.suffix}")
    try:
        model.save(temporary)
        # Checked again: another run may have saved here while this one trained.
        check_replaceable_model_file(path, overwrite)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def softmax(logits):
    # Shifted by the row maximum so that large logits cannot overflow.
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def training_callbacks(output_dir):
    """A stop on a non-finite loss, an atomic weights checkpoint per epoch
    and TensorBoard logs, under `output_dir`."""
    import keras

    from bert_keras.callbacks import AtomicWeightsCheckpoint, StopOnNonFiniteLoss

    return [
        StopOnNonFiniteLoss("Lower --learning-rate, or look for non-finite values in the data."),
        AtomicWeightsCheckpoint(str(output_dir / "checkpoints" / "epoch_{epoch:03d}.weights.h5")),
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


def progress(iterable, total, unit, desc):
    """`iterable` behind a progress bar on stderr when it is a terminal;
    BERT_KERAS_PROGRESS=1 forces the bar on, 0 off."""
    import sys

    from tqdm import tqdm

    setting = os.environ.get("BERT_KERAS_PROGRESS", "").strip()
    shown = setting == "1" or (setting != "0" and sys.stderr.isatty())
    return tqdm(iterable, total=total, unit=unit, desc=desc, file=sys.stderr, disable=not shown)
