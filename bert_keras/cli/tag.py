"""`bert-keras tag`: fine-tunes, evaluates and predicts word tags (NER, POS).

The original README's recipe for word-level tasks on CoNLL-2003, WikiANN
(PAN-X), Universal Dependencies POS, or any token-per-line files. Writes
`eval_results.txt` (`key = value` lines) and `eval_results.json` (overall
and per type), `eval_predictions.txt` and `predictions.txt` (the dev and
test words with their gold and predicted tags, in `conlleval`'s input
format, so `bert-keras tag-eval` or `conlleval` itself reads them), and,
when training, TensorBoard logs and `model.keras`.

Example:
```
bert-keras tag --task conll2003 --data-dir conll2003 \\
    --preset bert_base_en_cased --output-dir runs/ner \\
    --do-train --do-eval --do-predict
```
"""

import json

from bert_keras.cli.arguments import add_training_arguments
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
from bert_keras.errors import DataError
from bert_keras.safe_paths import write_text_atomic

RESULT_FILES = ("eval_results.txt", "eval_results.json", "eval_predictions.txt", "predictions.txt")


def add_parser(commands):
    from bert_keras.data.tagging_tasks import TASK_NAMES

    parser = commands.add_parser(
        "tag",
        help="fine-tune, evaluate and predict word tags: NER, POS (CoNLL-2003, WikiANN, UD)",
        description=(
            "Fine-tune a BertTokenClassifier on token-per-line data, score the dev "
            "split as conlleval does and tag the test split, writing the results "
            "into OUTPUT_DIR."
        ),
    )
    parser.add_argument("--task", required=True, type=str.lower, choices=TASK_NAMES,
                        help="the data's layout and scoring (see `bert_keras.data.tagging_tasks`)")
    parser.add_argument("--data-dir", required=True, help="the folder of the train, dev and test files")
    parser.add_argument("--preset", default="bert_base_en_cased",
                        help="a preset name or path; cased models suit NER (default: %(default)s)")
    parser.add_argument("--output-dir", required=True, help="where checkpoints, logs, the model and results go")
    parser.add_argument("--do-train", action="store_true", help="fine-tune on the train split")
    parser.add_argument("--do-eval", action="store_true", help="score the dev split")
    parser.add_argument("--do-predict", action="store_true", help="tag the test split")
    add_training_arguments(parser, max_seq_length=128, learning_rate=5e-5, epochs=3.0)
    parser.add_argument("--scheme", choices=("iob2", "iob1"), default="iob2",
                        help="conll2003: convert the distributed IOB1 tags to IOB2, or keep "
                        "them (default: %(default)s)")
    parser.add_argument("--word-column", type=int, default=0,
                        help="columns: the field of the word (default: %(default)s)")
    parser.add_argument("--label-column", type=int, default=-1,
                        help="columns: the field of the label, -1 for the last (default: %(default)s)")
    parser.add_argument("--label-all-pieces", action="store_true",
                        help="train on every piece of a word (B- becomes I-) instead of its first")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already trained in OUTPUT_DIR")
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def run(args):
    from bert_keras.data.tagging import check_labels, label_vocabulary
    from bert_keras.data.tagging_tasks import get_tagging_task

    if not (args.do_train or args.do_eval or args.do_predict):
        raise DataError("Nothing to do: pass at least one of --do-train, --do-eval, --do-predict.")
    task = get_tagging_task(args.task)
    wanted = [split for split, flag in zip(("train", "dev", "test"),
                                           (args.do_train, args.do_eval, args.do_predict)) if flag]
    inputs = [task.find_file(args.data_dir, split) for split in wanted]
    output_dir = check_run_folder(args, inputs=inputs, results=RESULT_FILES)
    if args.do_train:
        check_sequence_length(args.preset, args.max_seq_length)
    # Every split is read, and its labels checked, before any training.
    splits = {split: task.read(args.data_dir, split, scheme=args.scheme,
                               word_column=args.word_column, label_column=args.label_column)
              for split in wanted}
    labels = label_vocabulary(splits["train"]) if args.do_train else None
    if labels is not None:
        for split in ("dev", "test"):
            if split in splits:
                check_labels(splits[split], labels, name=f"The {split} file")

    import keras

    from bert_keras.models import BertTokenClassifier

    keras.utils.set_random_seed(args.seed)
    strategy = device_strategy(args)
    micro_batch = micro_batch_size(args, strategy)
    with strategy.scope():
        tagger = trained_or_saved_model(
            output_dir, args,
            build=lambda: BertTokenClassifier.from_preset(
                args.preset, label_names=labels, sequence_length=args.max_seq_length,
                label_all_pieces=args.label_all_pieces, **model_options(args)),
            train=lambda tagger: train(tagger, splits["train"], args, output_dir, micro_batch),
            check=lambda tagger: check_model(tagger, splits, output_dir),
        )
    if args.do_eval:
        evaluate(tagger, task, splits["dev"], args, output_dir)
    if args.do_predict:
        predict(tagger, task, splits["test"], args, output_dir)


def check_model(tagger, splits, output_dir):
    """Refuses a saved model that is no tagger, or lacks the data's labels."""
    from bert_keras.data.tagging import check_labels
    from bert_keras.models import BertTokenClassifier

    where = output_dir / "model.keras"
    if not isinstance(tagger, BertTokenClassifier):
        raise DataError(f"{where} holds a {type(tagger).__name__}, not a BertTokenClassifier.")
    for split, sentences in splits.items():
        check_labels(sentences, tagger.label_names,
                     name=f"The {split} file (for the labels of {where})")


def train(tagger, sentences, args, output_dir, micro_batch):
    dataset, windows = tagger.windows_dataset(
        [s.words for s in sentences], [s.labels for s in sentences], micro_batch,
        shuffle=True, seed=args.seed, repeat=True)
    fit_with_original_schedule(tagger, dataset, windows, "windows", args, output_dir,
                               micro_batch)


def evaluate(tagger, task, sentences, args, output_dir):
    import keras

    from bert_keras.data.tagging_metrics import entity_scores

    import numpy as np

    gold = [s.labels for s in sentences]
    logits = tagger.predict_word_logits([s.words for s in sentences], batch_size=args.batch_size)
    predicted = [tagger.word_tags(rows) for rows in logits]
    results = {}
    per_type = {}
    if task.scores_entities(sentences):
        scores = entity_scores(gold, predicted)
        per_type = scores.pop("per_type")
        results = {f"eval_{key}": value for key, value in scores.items()}
    else:
        words = sum(len(tags) for tags in gold)
        results["eval_accuracy"] = sum(
            a == b for g, p in zip(gold, predicted) for a, b in zip(g, p)) / words
    results["eval_loss"] = float(tagger.evaluate(
        [s.words for s in sentences], gold, batch_size=args.batch_size, verbose=0,
        return_dict=True)["loss"])
    results["global_step"] = int(keras.ops.convert_to_numpy(tagger.optimizer.iterations))
    # Words the tokenizer drops entirely (zero-width characters) are
    # tagged O and scored; their count says how many.
    empty = sum(int(np.isnan(rows[:, 0]).sum()) for rows in logits if len(rows))
    if empty:
        results["eval_words_without_pieces"] = empty
    output_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{key} = {results[key]}\n" for key in sorted(results)]
    lines += [f"eval_{kind}_{key} = {value}\n" for kind, row in per_type.items()
              for key, value in row.items()]
    write_text_atomic(output_dir / "eval_results.txt", "".join(lines))
    write_text_atomic(output_dir / "eval_results.json",
                      json.dumps({**results, "per_type": per_type}, indent=2) + "\n")
    write_text_atomic(output_dir / "eval_predictions.txt", conll_lines(sentences, predicted))
    print("***** Eval results *****")
    if per_type:
        print(conll_report(sentences, predicted), end="")
    for key in sorted(results):
        print(f"  {key} = {results[key]}")
    return results


def predict(tagger, task, sentences, args, output_dir):
    predicted = tagger.predict_words([s.words for s in sentences], batch_size=args.batch_size)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / "predictions.txt", conll_lines(sentences, predicted))
    print(f"Tagged {sum(len(s.words) for s in sentences)} words of {len(sentences)} sentences "
          f"into {output_dir / 'predictions.txt'}.")


def conll_lines(sentences, predicted):
    """`word gold predicted` lines, a blank line after each sentence: the
    input of `conlleval`. Spaces inside a word become `_`."""
    lines = []
    for sentence, tags in zip(sentences, predicted):
        # The script splits at spaces: a word with spaces (a tab-separated
        # file allows them) would shift its fields.
        lines += [f"{'_'.join(word.split()) or '_'} {gold} {tag}\n" for word, gold, tag in
                  zip(sentence.words, sentence.labels, tags)]
        lines.append("\n")
    return "".join(lines)


def conll_report(sentences, predicted):
    """The table `conlleval` prints for these predictions."""
    from bert_keras.data import conlleval

    return conlleval.evaluate(conll_lines(sentences, predicted).splitlines()).report()
