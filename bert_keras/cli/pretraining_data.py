"""`bert-keras pretraining-data`: the original `create_pretraining_data.py`.

Two modes (see `bert_keras.data.pretraining`): `exact`, the whole input as
one corpus, identical to one run of the original, written round-robin over
`--output-file`; and `sharded`, each input file made alone with the seed
`--random-seed + its index` into `--output-dir`, on Apache Beam when the
`bert-keras[beam]` extra is installed, and resumed where a killed run
stopped.

Example:
```
bert-keras pretraining-data --input-file sample_text.txt \\
    --output-file /tmp/tf_examples.tfrecord --preset bert_base_en_uncased \\
    --max-seq-length 128 --max-predictions-per-seq 20 --dupe-factor 5
bert-keras pretraining-data --mode sharded --input-file 'wiki/part-*.txt' \\
    --output-dir /data/wiki_tfrecords --vocab-file vocab.txt --gzip
```
"""

import argparse
import contextlib
import glob
import importlib.util
import logging
import os
import sys
import threading
import time
import warnings

from bert_keras.cli.arguments import positive, proportion
from bert_keras.errors import DataError

_IN_PROCESS = "in-process"


def _probability(text):
    value = proportion(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be above 0 and at most 1, got 0")
    return value


def add_parser(commands):
    parser = commands.add_parser(
        "pretraining-data",
        help="make masked-LM and next-sentence TFRecords, as create_pretraining_data.py",
        description=(
            "Make BERT pretraining data from text with one sentence per line and "
            "a blank line between documents: masked-LM and next-sentence pairs "
            "as tf.train.Example TFRecords, identical to the original "
            "create_pretraining_data.py for the same seed."
        ),
    )
    parser.add_argument("--input-file", required=True,
                        help="text files: a comma-separated list of paths or globs")
    parser.add_argument("--output-file",
                        help="exact mode: TFRecord paths, comma-separated, filled round-robin")
    parser.add_argument("--output-dir",
                        help="sharded mode: the folder for one part per input file")
    vocabulary = parser.add_mutually_exclusive_group(required=True)
    vocabulary.add_argument("--vocab-file", help="the WordPiece vocabulary, one token per line")
    vocabulary.add_argument("--preset", help="take the vocabulary and casing of a preset")
    parser.add_argument("--do-lower-case", action=argparse.BooleanOptionalAction, default=None,
                        help="lowercase and strip accents (default: the preset's casing; "
                        "lowercase with --vocab-file, as the original)")
    parser.add_argument("--do-whole-word-mask", action="store_true",
                        help="mask all the ## pieces of a word together")
    parser.add_argument("--word-segmenter", choices=["jieba"], default=None,
                        help="with --do-whole-word-mask, also mask Chinese words whole, "
                        "found by jieba (pip install 'bert-keras[chinese]'); not in the "
                        "original")
    parser.add_argument("--max-seq-length", type=positive(int, minimum=5), default=128,
                        help="tokens per pair (default: %(default)s)")
    parser.add_argument("--max-predictions-per-seq", type=positive(int), default=20,
                        help="the most masked positions per pair (default: %(default)s)")
    parser.add_argument("--random-seed", type=int, default=12345,
                        help="the seed; shard k of sharded mode uses it + k (default: %(default)s)")
    parser.add_argument("--dupe-factor", type=positive(int), default=10,
                        help="passes over the input, each with new masks (default: %(default)s)")
    parser.add_argument("--masked-lm-prob", type=_probability, default=0.15,
                        help="the share of tokens masked (default: %(default)s)")
    parser.add_argument("--short-seq-prob", type=proportion, default=0.1,
                        help="how often a shorter target length is drawn (default: %(default)s)")
    parser.add_argument("--mode", choices=["exact", "sharded"], default="exact",
                        help="exact: one corpus, memory grows with it; sharded: each input "
                        "file alone, memory bounded by the largest (default: %(default)s)")
    parser.add_argument("--runner", default=None,
                        help="sharded mode: a Beam runner such as DirectRunner or "
                        f"DataflowRunner, or {_IN_PROCESS} (default: DirectRunner on all "
                        f"cores when apache-beam is installed, else {_IN_PROCESS})")
    parser.add_argument("--workers", type=positive(int), default=None,
                        help="sharded mode: local Beam worker processes (default: one per core)")
    parser.add_argument("--pipeline-option", action="append", metavar="OPTION",
                        help="a Beam pipeline option such as --project=my-project, repeatable")
    parser.add_argument("--gzip", action="store_true", help="gzip-compress the TFRecords")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files, or another run's parts")
    parser.set_defaults(run=run)


def expand_inputs(text):
    """The input files of a comma list of paths and globs, each glob sorted."""
    files = []
    for pattern in (part.strip() for part in text.split(",")):
        if not pattern:
            continue
        if "://" in pattern:
            import tensorflow as tf

            matches = sorted(tf.io.gfile.glob(pattern))
        elif glob.has_magic(pattern):
            matches = sorted(glob.glob(os.path.expanduser(pattern)))
        else:
            matches = [os.path.expanduser(pattern)]
        if not matches:
            raise DataError(f"--input-file {pattern} matches no file; check the path or glob.")
        files.extend(matches)
    if not files:
        raise DataError("--input-file names no file; pass text files, comma-separated.")
    return files


def _checked_outputs(args, inputs):
    from bert_keras.safe_paths import check_output_file, check_output_folder, check_spares_inputs

    if args.mode == "exact":
        if args.output_dir or not args.output_file:
            raise DataError("Exact mode writes --output-file (comma-separated paths); "
                            "--output-dir is for --mode sharded.")
        outputs = [part.strip() for part in args.output_file.split(",") if part.strip()]
        if len(set(outputs)) != len(outputs):
            raise DataError("--output-file names a file twice; give each output once.")
        for path in outputs:
            if "://" not in path:
                check_output_file(path, args.overwrite, inputs=inputs)
        return outputs
    if args.output_file or not args.output_dir:
        raise DataError("Sharded mode writes one part per input file into --output-dir; "
                        "--output-file is for --mode exact.")
    if "://" not in args.output_dir:
        check_output_folder(args.output_dir)
        check_spares_inputs(args.output_dir, inputs, "--output-dir")
    return args.output_dir


def _settings(args):
    from bert_keras.data.pretraining.settings import PretrainingDataSettings

    return PretrainingDataSettings(
        max_seq_length=args.max_seq_length,
        max_predictions_per_seq=args.max_predictions_per_seq,
        masked_lm_prob=args.masked_lm_prob,
        short_seq_prob=args.short_seq_prob,
        dupe_factor=args.dupe_factor,
        seed=args.random_seed,
        whole_word_mask=args.do_whole_word_mask,
        word_segmenter=args.word_segmenter,
    ).check()


def _runner(args):
    beam = importlib.util.find_spec("apache_beam") is not None
    if args.runner in (None, _IN_PROCESS) and not (args.runner is None and beam):
        if args.runner is None:
            print("Sharded mode runs in this process, one shard after another; install "
                  "bert-keras[beam] to make shards on all cores.")
        return _IN_PROCESS
    if not beam:
        raise DataError(f"--runner {args.runner} needs Apache Beam; pip install "
                        "'bert-keras[beam]', or pass --runner in-process.")
    return args.runner or "DirectRunner"


def _tokenizer(args):
    from bert_keras.tokenizers import BertTokenizer

    if args.preset:
        kwargs = {} if args.do_lower_case is None else {"lowercase": args.do_lower_case}
        return BertTokenizer.from_preset(args.preset, **kwargs)
    lowercase = True if args.do_lower_case is None else args.do_lower_case
    return BertTokenizer(args.vocab_file, lowercase=lowercase)


def _warned(message, category, filename, lineno, file=None, line=None):
    print(f"Warning: {message}", file=sys.stderr)


def run(args):
    from bert_keras.cli.common import progress
    from bert_keras.data.line_inputs import check_readable

    # Every check before TensorFlow is imported, so a refusal costs nothing.
    settings = _settings(args)
    inputs = expand_inputs(args.input_file)
    for path in inputs:
        if "://" not in path:
            check_readable(path)
    if args.vocab_file:
        check_readable(args.vocab_file, flag="--vocab-file")
    outputs = _checked_outputs(args, inputs)
    runner = _runner(args) if args.mode == "sharded" else None
    compression = "GZIP" if args.gzip else None

    def bar(iterable, total, desc, unit="it"):
        return progress(iterable, total, unit, desc)

    tokenizer = _tokenizer(args)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.showwarning = _warned
        summary, kept, where = _make(args, inputs, outputs, tokenizer, settings, compression,
                                     runner, bar)
    made = summary - kept
    print(f"Made {made.describe(time.perf_counter() - start)}.")
    if kept.instances:
        print(f"With the parts kept from before: {summary.describe(summary.seconds)}.")
    print(f"Wrote {where}.")
    return 0


def _make(args, inputs, outputs, tokenizer, settings, compression, runner, bar):
    """`(summary, kept, where)`: all parts, those a killed run left, the output."""
    from bert_keras.data.pretraining.summary import DataSummary

    if args.mode == "exact":
        from bert_keras.data.pretraining.exact import create_pretraining_data

        print(f"Reading {len(inputs)} file(s) as one corpus...")
        summary = create_pretraining_data(inputs, outputs, tokenizer, settings,
                                          compression=compression, progress=bar)
        return summary, DataSummary(), ", ".join(outputs)
    summary, kept = _run_sharded(args, inputs, outputs, tokenizer, settings, compression,
                                 runner, bar)
    return summary, kept, outputs


def _run_sharded(args, inputs, output_dir, tokenizer, settings, compression, runner, bar):
    from bert_keras.data.pretraining.sharded import (
        clear_sharded_run,
        completed_shards,
        prepare_sharded_run,
        run_sharded,
        shard_warnings,
    )
    from bert_keras.data.pretraining.summary import DataSummary

    run, pending, done = prepare_sharded_run(inputs, output_dir, tokenizer, settings,
                                             compression=compression, overwrite=args.overwrite)
    if len(pending) < len(inputs):
        print(f"Resuming: {len(inputs) - len(pending)} of {len(inputs)} parts are complete.")
    if pending and runner == _IN_PROCESS:
        run_sharded(run, pending, tokenizer, progress=bar)
    elif pending:
        pipeline_args = [f"--runner={runner}", *(args.pipeline_option or [])]
        workers = args.workers or os.cpu_count()
        print(f"Making {len(pending)} shard(s) on Beam's {runner}"
              + (f" with {workers} worker processes..." if runner == "DirectRunner" else "..."))
        # Beam logs its optional modules' absence on the root logger at import.
        logging.disable(logging.WARNING)
        try:
            from bert_keras.data.pretraining.beam_pipeline import run_with_beam

            with _shard_progress(run, len(inputs) - len(pending), len(inputs), bar):
                run_with_beam(run, pending, tokenizer, pipeline_args, workers=workers)
        finally:
            logging.disable(logging.NOTSET)
        for message in shard_warnings(run, pending):
            warnings.warn(message)
    shards = completed_shards(run)
    missing = sorted(set(range(len(inputs))) - set(shards))
    if missing:
        raise DataError(f"The runner finished without parts {missing}; run the same "
                        "command again to make them.")
    summary = sum(shards.values(), DataSummary())
    if not summary.documents:
        clear_sharded_run(run)
        raise DataError(
            f"{args.input_file} holds no document: every line is blank or has no "
            "token the vocabulary knows. Pass text with one sentence per line and "
            "a blank line between documents."
        )
    return summary, done


@contextlib.contextmanager
def _shard_progress(run, done, total, bar):
    """A bar of completed shards, polled from the output folder: Beam's
    workers report nothing to this process while they run."""
    from bert_keras.data.pretraining.sharded import count_completed

    shown = bar(iter(()), total=total, desc="Shards", unit="shard")
    shown.update(done)
    stop = threading.Event()

    def poll():
        while not stop.wait(2.0):
            shown.update(max(0, count_completed(run) - shown.n))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield
    finally:
        stop.set()
        poller.join()
        shown.update(max(0, count_completed(run) - shown.n))
        shown.close()
