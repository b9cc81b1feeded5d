"""`bert-keras squad-eval`: the official SQuAD v1.1 and v2.0 evaluation.

Prints exactly what `evaluate-v1.1.py` or `evaluate-v2.0.py` prints for the
same files; the version follows the dataset (see
`bert_keras.data.squad.evaluate_files`).

Example:
```
bert-keras squad-eval dev-v2.0.json runs/squad/predictions.json \\
    --na-prob-file runs/squad/null_odds.json
```
"""


def add_parser(commands):
    parser = commands.add_parser(
        "squad-eval",
        help="score SQuAD predictions with the official v1.1 / v2.0 metrics",
        description="Score a predictions.json against a SQuAD dataset file, as the official scripts do.",
    )
    parser.add_argument("dataset", help="the SQuAD JSON with gold answers, e.g. dev-v1.1.json")
    parser.add_argument("predictions", help="JSON object from question id to answer text")
    parser.add_argument("--na-prob-file", help="SQuAD 2.0: JSON object from question id to no-answer score (null_odds.json)")
    parser.add_argument(
        "--na-prob-thresh", type=float, default=1.0,
        help="SQuAD 2.0: predict no answer when the no-answer score exceeds this (default: %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args):
    from bert_keras.data.squad import evaluate_files, format_evaluation

    result = evaluate_files(args.dataset, args.predictions, args.na_prob_file, args.na_prob_thresh)
    print(format_evaluation(result))
