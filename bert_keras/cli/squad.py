"""`bert-keras squad`: the original `run_squad.py`, on Keras 3.

Fine-tunes a `BertSpanLabeler` on a SQuAD 1.1 or 2.0 training file and
predicts a SQuAD file, with the original's flags, features and result
files: `predictions.json`, `nbest_predictions.json` and, for SQuAD 2.0,
`null_odds.json`. When the predicted file has answers, the official metrics
are printed and written to `eval_results.json`.

Example:
```
bert-keras squad --preset bert_base_en_uncased --do-train --do-predict \\
    --train-file train-v1.1.json --predict-file dev-v1.1.json --output-dir runs/squad
```
"""

import json
import pathlib

import numpy as np

from bert_keras.cli.arguments import add_training_arguments, finite, positive
from bert_keras.cli.common import (
    add_device_arguments,
    check_run_folder,
    check_sequence_length,
    device_strategy,
    fit_with_original_schedule,
    micro_batch_size,
    model_options,
    trained_or_saved_model,
)
from bert_keras.safe_paths import write_text_atomic

def add_parser(commands):
    parser = commands.add_parser(
        "squad",
        help="fine-tune and predict extractive question answering (run_squad.py)",
        description=(
            "Fine-tune a BertSpanLabeler on a SQuAD file and predict another, "
            "writing the original run_squad.py result files into OUTPUT_DIR."
        ),
    )
    parser.add_argument("--preset", default="bert_base_en_uncased", help="a preset name or path (default: %(default)s)")
    parser.add_argument("--train-file", help="SQuAD JSON for training, e.g. train-v1.1.json")
    parser.add_argument("--predict-file", help="SQuAD JSON to predict, e.g. dev-v1.1.json")
    parser.add_argument("--do-train", action="store_true", help="fine-tune on --train-file")
    parser.add_argument("--do-predict", action="store_true", help="predict --predict-file")
    parser.add_argument("--output-dir", required=True, help="where the model, logs and predictions go")
    add_training_arguments(parser, max_seq_length=384, learning_rate=3e-5, epochs=2.0, min_seq_length=8)
    parser.add_argument(
        "--doc-stride", type=positive(int), default=128,
        help="word pieces between the starts of a context's windows (default: %(default)s)",
    )
    parser.add_argument(
        "--max-query-length", type=positive(int), default=64,
        help="word pieces of a question kept, the rest cut (default: %(default)s)",
    )
    parser.add_argument(
        "--n-best-size", type=positive(int), default=20,
        help="candidate spans kept per question for nbest_predictions.json (default: %(default)s)",
    )
    parser.add_argument(
        "--max-answer-length", type=positive(int), default=30,
        help="longest answer in word pieces (default: %(default)s)",
    )
    parser.add_argument(
        "--version-2-with-negative", action="store_true",
        help="SQuAD 2.0: questions may have no answer",
    )
    parser.add_argument(
        "--null-score-diff-threshold", type=finite, default=0.0,
        help="SQuAD 2.0: answer \"\" when the null score beats the best span "
        "by more than this (default: %(default)s)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace a model already trained in OUTPUT_DIR")
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def run(args):
    from bert_keras.errors import DataError

    if not (args.do_train or args.do_predict):
        raise DataError("Nothing to do: pass --do-train, --do-predict, or both.")
    for flag, needed, path in (
        ("--train-file", args.do_train, args.train_file),
        ("--predict-file", args.do_predict, args.predict_file),
    ):
        if needed and not path:
            raise DataError(f"{flag} is required with --do-{flag.split('-')[2]}.")
    if args.max_seq_length <= args.max_query_length + 3:
        raise DataError(
            f"--max-seq-length {args.max_seq_length} leaves no room for the "
            f"context after a question of up to --max-query-length "
            f"{args.max_query_length} tokens and [CLS] [SEP] [SEP]; raise the "
            "first or lower the second."
        )
    output_dir = check_run_folder(
        args,
        inputs=[args.train_file, args.predict_file],
        results=["predictions.json", "nbest_predictions.json", "null_odds.json", "eval_results.json"],
    )
    for flag, needed, path in (
        ("--train-file", args.do_train, args.train_file),
        ("--predict-file", args.do_predict, args.predict_file),
    ):
        if needed and not pathlib.Path(path).is_file():
            raise DataError(f"{flag} {path} is not a file; pass the path of a SQuAD JSON file.")
    if args.do_train:
        check_sequence_length(args.preset, args.max_seq_length)
    # Read before any training: a file with no usable question is found now.
    train_examples = read_squad(args.train_file, True, args) if args.do_train else None
    predict_examples = read_squad(args.predict_file, False, args) if args.do_predict else None

    import keras

    from bert_keras.models import BertSpanLabeler
    from bert_keras.tokenizers import BertTokenizer

    keras.utils.set_random_seed(args.seed)
    tokenizer = BertTokenizer.from_preset(args.preset)
    strategy = device_strategy(args)
    micro_batch = micro_batch_size(args, strategy)
    with strategy.scope():
        labeler = trained_or_saved_model(
            output_dir,
            args,
            # The saved model answers raw questions with the same windows.
            build=lambda: BertSpanLabeler.from_preset(
                args.preset,
                sequence_length=args.max_seq_length,
                doc_stride=args.doc_stride,
                max_query_length=args.max_query_length,
                **model_options(args),
            ),
            train=lambda labeler: train(labeler, train_examples, tokenizer, args, output_dir, micro_batch),
            check=lambda labeler: _check_labeler(labeler, output_dir),
        )
        if args.do_predict:
            predict(labeler, predict_examples, tokenizer, args, output_dir)


def read_squad(path, is_training, args):
    """The examples of a SQuAD file; an error if none can be used."""
    from bert_keras.data.squad import read_squad_examples
    from bert_keras.errors import DataError

    examples = read_squad_examples(
        path, is_training=is_training, version_2_with_negative=args.version_2_with_negative
    )
    if not len(examples):
        skipped = f" ({len(examples.skipped)} skipped)" if getattr(examples, "skipped", None) else ""
        raise DataError(
            f"{path} holds no question to {'train on' if is_training else 'predict'}{skipped}; "
            "check that it is a SQuAD file with paragraphs and questions."
        )
    return examples


def _check_labeler(labeler, output_dir):
    from bert_keras.errors import DataError
    from bert_keras.models import BertSpanLabeler

    if not isinstance(labeler, BertSpanLabeler):
        raise DataError(
            f"{output_dir / 'model.keras'} holds a {type(labeler).__name__}, not a "
            "BertSpanLabeler; pass the --output-dir of a `bert-keras squad` run."
        )


def _features(examples, tokenizer, args, is_training):
    from bert_keras.data.squad import convert_examples_to_features

    return lambda: convert_examples_to_features(
        examples,
        tokenizer,
        max_seq_length=args.max_seq_length,
        doc_stride=args.doc_stride,
        max_query_length=args.max_query_length,
        is_training=is_training,
    )


def train(labeler, examples, tokenizer, args, output_dir, micro_batch):
    from bert_keras.data.squad import features_dataset

    if examples.skipped:
        print(f"Skipped {len(examples.skipped)} training question(s) whose answer is not in the context.")
    # The original shuffles the examples once before making features, and
    # counts steps in examples, not in the (more numerous) windows.
    order = np.random.default_rng(args.seed).permutation(len(examples))
    examples = [examples[i] for i in order]
    dataset = (
        features_dataset(
            _features(examples, tokenizer, args, is_training=True),
            max_seq_length=args.max_seq_length,
            is_training=True,
        )
        .repeat()
        # The original's shuffle buffer over its feature file.
        .shuffle(100, seed=args.seed)
        .batch(micro_batch, drop_remainder=True)
        .map(_as_outputs)
    )
    fit_with_original_schedule(labeler, dataset, len(examples), "questions", args, output_dir, micro_batch)


def _as_outputs(inputs, labels):
    """Labels keyed by the model's outputs."""
    return inputs, {
        "start_logits": labels["start_positions"],
        "end_logits": labels["end_positions"],
    }


def predict(labeler, examples, tokenizer, args, output_dir):
    from bert_keras.data.squad import (
        RawResult,
        compute_predictions,
        evaluate_files,
        features_dataset,
        format_evaluation,
        write_predictions,
    )

    # Made once: the model reads their ids, the post-processing their maps.
    features = list(_features(examples, tokenizer, args, is_training=False)())
    dataset = features_dataset(features, max_seq_length=args.max_seq_length).batch(args.batch_size)
    outputs = labeler.predict(dataset.map(lambda inputs, unique_id: inputs))
    results = [
        RawResult(feature.unique_id, start, end)
        for feature, start, end in zip(features, outputs["start_logits"], outputs["end_logits"])
    ]
    predictions, nbest, null_odds = compute_predictions(
        examples,
        features,
        results,
        n_best_size=args.n_best_size,
        max_answer_length=args.max_answer_length,
        do_lower_case=tokenizer.lowercase,
        version_2_with_negative=args.version_2_with_negative,
        null_score_diff_threshold=args.null_score_diff_threshold,
    )
    write_predictions(output_dir, predictions, nbest, null_odds if args.version_2_with_negative else None)
    print(f"Wrote {len(predictions)} predictions to {output_dir / 'predictions.json'}.")
    if any(example.answers for example in examples):
        na_probs = output_dir / "null_odds.json" if args.version_2_with_negative else None
        results = evaluate_files(args.predict_file, output_dir / "predictions.json", na_probs)
        write_text_atomic(output_dir / "eval_results.json", json.dumps(results, indent=2) + "\n")
        print(format_evaluation(results))
