"""`bert-keras classify`: the original `run_classifier.py`, on Keras 3.

Fine-tunes, evaluates and predicts on a GLUE (or XNLI) task in the official
TSV layout, with the original's flags and result files:
`eval_results.txt` (`key = value` lines), `eval_results.json`, and
`test_results.tsv` (one line of class probabilities per test example).

Example:
```
bert-keras classify --task mrpc --data-dir glue_data/MRPC \\
    --preset bert_base_en_uncased --output-dir runs/mrpc \\
    --do-train --do-eval --do-predict
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
from bert_keras.safe_paths import write_text_atomic

# Tasks whose models serve one another: the original predicts the MNLI
# diagnostic set (AX) and the mismatched dev set with the MNLI model.
_SHARED_MODELS = ({"mnli", "mnli-mm", "ax"},)


def add_parser(commands):
    parser = commands.add_parser(
        "classify",
        help="fine-tune, evaluate and predict on a GLUE task (run_classifier.py)",
        description=(
            "Fine-tune a BertClassifier on a GLUE task, evaluate it on the dev "
            "split and predict the test split, writing the original "
            "run_classifier.py result files into OUTPUT_DIR."
        ),
    )
    parser.add_argument("--task", required=True, help="cola, sst-2, mrpc, sts-b, qqp, mnli, mnli-mm, qnli, rte, wnli, ax or xnli")
    parser.add_argument("--data-dir", required=True, help="the task's folder of TSV files (or the GLUE folder above it)")
    parser.add_argument("--preset", default="bert_base_en_uncased", help="a preset name or path (default: %(default)s)")
    parser.add_argument("--output-dir", required=True, help="where checkpoints, logs, the model and results go")
    parser.add_argument("--do-train", action="store_true", help="fine-tune on the train split")
    parser.add_argument("--do-eval", action="store_true", help="evaluate on the dev split")
    parser.add_argument("--do-predict", action="store_true", help="predict the test split")
    add_training_arguments(parser, max_seq_length=128, learning_rate=2e-5, epochs=3.0)
    parser.add_argument(
        "--skip-bad-rows", action="store_true",
        help="skip malformed train and dev rows (reported) instead of stopping; "
        "test rows are never skipped, since predictions match them by position",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a model already trained in OUTPUT_DIR")
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def run(args):
    from bert_keras.data import get_task
    from bert_keras.errors import DataError

    if not (args.do_train or args.do_eval or args.do_predict):
        raise DataError("Nothing to do: pass at least one of --do-train, --do-eval, --do-predict.")
    task = get_task(args.task)
    output_dir = check_run_folder(args)
    if args.do_train:
        check_sequence_length(args.preset, args.max_seq_length)
    # Every split is read before any training, so that an empty or broken
    # dev or test file is found in a second, not after an hour of training.
    splits = {
        split: task.read_examples(args.data_dir, split, skip_bad_rows=args.skip_bad_rows)
        for split, wanted in (("train", args.do_train), ("dev", args.do_eval), ("test", args.do_predict))
        if wanted
    }

    import keras

    from bert_keras.models import BertClassifier

    keras.utils.set_random_seed(args.seed)
    strategy = device_strategy(args)
    micro_batch = micro_batch_size(args, strategy)
    with strategy.scope():
        classifier = trained_or_saved_model(
            output_dir,
            args,
            build=lambda: BertClassifier.from_preset(
                args.preset,
                num_classes=task.num_classes,
                sequence_length=args.max_seq_length,
                task_name=task.name,
                label_names=task.labels,
                **model_options(args),
            ),
            train=lambda classifier: train(classifier, task, splits["train"], args, output_dir, micro_batch),
            check=lambda classifier: check_model_task(classifier, task, output_dir),
        )
        if args.do_eval:
            evaluate(classifier, task, splits["dev"], args, output_dir)
        if args.do_predict:
            predict(classifier, task, splits["test"], args, output_dir)


def check_model_task(classifier, task, output_dir):
    """Refuses a saved model made for another task than `task`."""
    from bert_keras.errors import DataError
    from bert_keras.models import BertClassifier

    where = output_dir / "model.keras"
    if not isinstance(classifier, BertClassifier):
        raise DataError(f"{where} holds a {type(classifier).__name__}, not a BertClassifier.")
    trained_for = getattr(classifier, "task_name", None)
    compatible = trained_for is None or trained_for == task.name or any(
        {trained_for, task.name} <= family for family in _SHARED_MODELS
    )
    labels = getattr(classifier, "label_names", None)
    if (
        not compatible
        or classifier.num_classes != task.num_classes
        or (labels is not None and task.labels is not None and labels != task.labels)
    ):
        kind = "regression" if classifier.num_classes == 1 else f"{classifier.num_classes} classes"
        made = f"task {trained_for!r}" if trained_for else "another task"
        raise DataError(
            f"{where} was trained for {made} ({kind}"
            f"{f', labels {labels}' if labels else ''}), not for {task.name} "
            f"({'regression' if task.is_regression else f'labels {task.labels}'}). "
            "Pass the --task it was trained for, or another --output-dir."
        )


def train(classifier, task, examples, args, output_dir, micro_batch):
    dataset = task.examples_dataset(examples).shuffle(len(examples), seed=args.seed).repeat()
    fit_with_original_schedule(
        classifier, dataset, len(examples), "examples", args, output_dir, micro_batch,
        batch_size=micro_batch,
    )


def evaluate(classifier, task, examples, args, output_dir):
    import keras

    dataset = task.examples_dataset(examples)
    outputs = classifier.predict(dataset.map(lambda features, label: features), batch_size=args.batch_size)
    labels = np.array([_label_value(task, example.label) for example in examples])
    predictions = outputs[:, 0] if task.is_regression else outputs.argmax(-1)
    results = {f"eval_{name}": float(value) for name, value in task.compute_metrics(labels, predictions).items()}
    # The loss from the same outputs, rather than a second pass of the model.
    results["eval_loss"] = float(keras.ops.convert_to_numpy(classifier.loss(labels, outputs)))
    results["global_step"] = int(keras.ops.convert_to_numpy(classifier.optimizer.iterations))
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / "eval_results.txt", "".join(f"{key} = {results[key]}\n" for key in sorted(results)))
    write_text_atomic(output_dir / "eval_results.json", json.dumps(results, indent=2) + "\n")
    print("***** Eval results *****")
    for key in sorted(results):
        print(f"  {key} = {results[key]}")
    return results


def predict(classifier, task, examples, args, output_dir):
    outputs = classifier.predict(task.examples_dataset(examples), batch_size=args.batch_size)
    rows = outputs if task.is_regression else softmax(outputs)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        output_dir / "test_results.tsv",
        "".join("\t".join(str(float(value)) for value in row) + "\n" for row in rows),
    )
    print(f"Wrote {len(rows)} predictions to {output_dir / 'test_results.tsv'}.")


def _label_value(task, label):
    return float(label) if task.is_regression else task.label_index(label)
