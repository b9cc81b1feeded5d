"""`bert-keras multiple-choice`: fine-tunes, evaluates and predicts SWAG.

The paper's SWAG setup: each ending packed with its context, a score per
choice, softmax over the four. Reads `train.csv`, `val.csv` and `test.csv`
from `--data-dir`; writes `eval_results.txt` (`key = value` lines) and
`eval_results.json` (the official accuracy and the loss),
`test_results.tsv` (one line of choice probabilities per test example) and
`test_predictions.csv` (`id,label`), and, when training, TensorBoard logs
and `model.keras`.

Example:
```
bert-keras multiple-choice --task swag --data-dir swagaf/data \\
    --preset bert_base_en_uncased --output-dir runs/swag \\
    --do-train --do-eval --do-predict --learning-rate 2e-5 --batch-size 16
```
"""

import json

import numpy as np

from bert_keras.cli.arguments import add_training_arguments
from bert_keras.cli.common import (
    add_device_arguments,
    check_run_folder,
    check_sequence_length,
    device_strategy,
    fit_with_original_schedule,
    micro_batch_size,
    model_options,
    softmax,
    trained_or_saved_model,
)
from bert_keras.errors import DataError
from bert_keras.safe_paths import write_text_atomic

SPLIT_FILES = {"train": "train.csv", "dev": "val.csv", "test": "test.csv"}
RESULT_FILES = ("eval_results.txt", "eval_results.json", "test_results.tsv",
                "test_predictions.csv")
CHOICES = 4


def add_parser(commands):
    parser = commands.add_parser(
        "multiple-choice",
        help="fine-tune, evaluate and predict on SWAG (multiple choice)",
        description=(
            "Fine-tune a BertMultipleChoice on SWAG's train.csv, score val.csv with "
            "the official accuracy and predict test.csv, writing the results into "
            "OUTPUT_DIR."
        ),
    )
    parser.add_argument("--task", required=True, type=str.lower, choices=("swag",),
                        help="the dataset (swag)")
    parser.add_argument("--data-dir", required=True, help="the folder of train.csv, val.csv and test.csv")
    parser.add_argument("--preset", default="bert_base_en_uncased", help="a preset name or path (default: %(default)s)")
    parser.add_argument("--output-dir", required=True, help="where checkpoints, logs, the model and results go")
    parser.add_argument("--do-train", action="store_true", help="fine-tune on train.csv")
    parser.add_argument("--do-eval", action="store_true", help="score val.csv")
    parser.add_argument("--do-predict", action="store_true", help="predict test.csv")
    add_training_arguments(parser, max_seq_length=128, learning_rate=2e-5, epochs=3.0)
    parser.add_argument("--overwrite", action="store_true", help="replace a model already trained in OUTPUT_DIR")
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def run(args):
    import pathlib

    from bert_keras.data.swag import read_swag

    if not (args.do_train or args.do_eval or args.do_predict):
        raise DataError("Nothing to do: pass at least one of --do-train, --do-eval, --do-predict.")
    wanted = [split for split, flag in (("train", args.do_train), ("dev", args.do_eval),
                                        ("test", args.do_predict)) if flag]
    data_dir = pathlib.Path(args.data_dir)
    inputs = [data_dir / SPLIT_FILES[split] for split in wanted]
    for path in inputs:
        if not path.is_file():
            raise DataError(f"{path} does not exist; --data-dir must hold SWAG's "
                            f"{', '.join(SPLIT_FILES.values())}.")
    output_dir = check_run_folder(args, inputs=inputs, results=RESULT_FILES)
    if args.do_train:
        check_sequence_length(args.preset, args.max_seq_length)
    # Every split is read before any training.
    splits = {split: read_swag(path, labelled=split != "test") for split, path in
              zip(wanted, inputs)}
    for split, examples in splits.items():
        if not examples:
            raise DataError(f"{data_dir / SPLIT_FILES[split]} holds no example.")

    import keras

    from bert_keras.models import BertMultipleChoice

    keras.utils.set_random_seed(args.seed)
    strategy = device_strategy(args)
    micro_batch = micro_batch_size(args, strategy)
    with strategy.scope():
        chooser = trained_or_saved_model(
            output_dir, args,
            build=lambda: BertMultipleChoice.from_preset(
                args.preset, num_choices=CHOICES, sequence_length=args.max_seq_length,
                **model_options(args)),
            train=lambda chooser: train(chooser, splits["train"], args, output_dir, micro_batch),
            check=lambda chooser: check_model(chooser, output_dir),
        )
    if args.do_eval:
        evaluate(chooser, splits["dev"], args, output_dir)
    if args.do_predict:
        predict(chooser, splits["test"], args, output_dir)


def check_model(chooser, output_dir):
    from bert_keras.models import BertMultipleChoice

    where = output_dir / "model.keras"
    if not isinstance(chooser, BertMultipleChoice) or chooser.num_choices not in (None, CHOICES):
        raise DataError(f"{where} holds a {type(chooser).__name__} that does not choose among "
                        f"{CHOICES} endings; pass another --output-dir.")


def train(chooser, examples, args, output_dir, micro_batch):
    from bert_keras.data.swag import examples_dataset

    dataset = examples_dataset(examples).shuffle(len(examples), seed=args.seed).repeat()
    fit_with_original_schedule(chooser, dataset, len(examples), "examples", args, output_dir,
                               micro_batch, batch_size=micro_batch)


def evaluate(chooser, examples, args, output_dir):
    import keras

    from bert_keras.data.swag import accuracy, examples_dataset

    features = examples_dataset(examples).map(lambda features, label: features)
    logits = chooser.predict(features, batch_size=args.batch_size, verbose=0)
    labels = np.array([example.label for example in examples])
    results = {
        "eval_accuracy": accuracy(labels.tolist(), logits.argmax(-1).tolist()),
        # The loss from the same outputs, rather than a second pass.
        "eval_loss": float(keras.ops.convert_to_numpy(chooser.loss(labels, logits))),
        "global_step": int(keras.ops.convert_to_numpy(chooser.optimizer.iterations)),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / "eval_results.txt",
                      "".join(f"{key} = {results[key]}\n" for key in sorted(results)))
    write_text_atomic(output_dir / "eval_results.json", json.dumps(results, indent=2) + "\n")
    print("***** Eval results *****")
    for key in sorted(results):
        print(f"  {key} = {results[key]}")
    return results


def predict(chooser, examples, args, output_dir):
    from bert_keras.data.swag import examples_dataset

    logits = chooser.predict(examples_dataset(examples), batch_size=args.batch_size, verbose=0)
    rows = softmax(logits)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / "test_results.tsv", "".join(
        "\t".join(str(float(value)) for value in row) + "\n" for row in rows))
    write_text_atomic(output_dir / "test_predictions.csv", "id,label\n" + "".join(
        f"{example.example_id},{int(row.argmax())}\n" for example, row in zip(examples, rows)))
    print(f"Wrote {len(rows)} predictions to {output_dir / 'test_results.tsv'} and "
          f"{output_dir / 'test_predictions.csv'}.")
