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
import pathlib

import numpy as np

from bert_keras.cli.common import (
    add_device_arguments,
    device_strategy,
    fit_with_original_schedule,
    micro_batch_size,
    model_options,
    positive,
    softmax,
    trained_or_saved_model,
)


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
    parser.add_argument("--max-seq-length", type=positive(int, minimum=3), default=128)
    parser.add_argument(
        "--batch-size", type=positive(int), default=32,
        help="examples per update, over all replicas (default: %(default)s)",
    )
    parser.add_argument("--learning-rate", type=positive(float), default=2e-5)
    parser.add_argument("--epochs", type=positive(float), default=3.0)
    parser.add_argument("--warmup-proportion", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--skip-bad-rows", action="store_true", help="skip malformed TSV rows (reported) instead of stopping")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already trained in OUTPUT_DIR")
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def run(args):
    import keras

    from bert_keras.data import get_task
    from bert_keras.errors import DataError
    from bert_keras.models import BertClassifier

    if not (args.do_train or args.do_eval or args.do_predict):
        raise DataError("Nothing to do: pass at least one of --do-train, --do-eval, --do-predict.")
    keras.utils.set_random_seed(args.seed)
    task = get_task(args.task)
    output_dir = pathlib.Path(args.output_dir)
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
                **model_options(args),
            ),
            train=lambda classifier: train(classifier, task, args, output_dir, micro_batch),
        )
        if args.do_eval:
            evaluate(classifier, task, args, output_dir)
        if args.do_predict:
            predict(classifier, task, args, output_dir)


def train(classifier, task, args, output_dir, micro_batch):
    examples = task.read_examples(args.data_dir, "train", skip_bad_rows=args.skip_bad_rows)
    dataset = task.dataset(args.data_dir, "train", skip_bad_rows=args.skip_bad_rows)
    dataset = dataset.shuffle(len(examples), seed=args.seed).repeat()
    fit_with_original_schedule(
        classifier, dataset, len(examples), "examples", args, output_dir, micro_batch,
        batch_size=micro_batch,
    )


def evaluate(classifier, task, args, output_dir):
    import keras

    examples = task.read_examples(args.data_dir, "dev", skip_bad_rows=args.skip_bad_rows)
    dataset = task.dataset(args.data_dir, "dev", skip_bad_rows=args.skip_bad_rows)
    outputs = classifier.predict(dataset.map(lambda features, label: features), batch_size=args.batch_size)
    labels = np.array([_label_value(task, example.label) for example in examples])
    predictions = outputs[:, 0] if task.is_regression else outputs.argmax(-1)
    results = {f"eval_{name}": float(value) for name, value in task.compute_metrics(labels, predictions).items()}
    # The loss from the same outputs, rather than a second pass of the model.
    results["eval_loss"] = float(keras.ops.convert_to_numpy(classifier.loss(labels, outputs)))
    results["global_step"] = int(keras.ops.convert_to_numpy(classifier.optimizer.iterations))
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / "eval_results.txt", "w", encoding="utf-8") as file:
        for key in sorted(results):
            file.write(f"{key} = {results[key]}\n")
    (output_dir / "eval_results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("***** Eval results *****")
    for key in sorted(results):
        print(f"  {key} = {results[key]}")
    return results


def predict(classifier, task, args, output_dir):
    dataset = task.dataset(args.data_dir, "test", skip_bad_rows=args.skip_bad_rows)
    outputs = classifier.predict(dataset, batch_size=args.batch_size)
    rows = outputs if task.is_regression else softmax(outputs)
    output_dir.mkdir(parents=True, exist_ok=True)
    with open(output_dir / "test_results.tsv", "w", encoding="utf-8") as file:
        for row in rows:
            file.write("\t".join(str(float(value)) for value in row) + "\n")
    print(f"Wrote {len(rows)} predictions to {output_dir / 'test_results.tsv'}.")


def _label_value(task, label):
    return float(label) if task.is_regression else task.label_index(label)
