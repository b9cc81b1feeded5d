"""`bert-keras pretrain`: the original `run_pretraining.py`, on Keras 3.

Trains a `BertPretrainer` (masked LM and next sentence) on the TFRecords of
`bert-keras pretraining-data` or `create_pretraining_data.py`: from scratch
(`--bert-config-file`), from a released checkpoint with its heads
(`--preset`), or from other weights (`--init-checkpoint`, e.g. phase 1's
`--output-dir`). A checkpoint is saved every `--save-checkpoints-steps`;
killed and run again with the same flags, training resumes from the last
one at the same step, learning rate and place in the data. `--do-eval`
writes the original's `eval_results.txt`.

Example:
```
bert-keras pretrain --input-file 'data/part-*.tfrecord' --output-dir runs/phase1 \\
    --bert-config-file bert_config.json --do-train --do-eval \\
    --train-batch-size 256 --num-train-steps 900000 --num-warmup-steps 10000 \\
    --learning-rate 1e-4
```
"""

import json
import pathlib
import shutil

from bert_keras.cli.arguments import positive
from bert_keras.cli.common import add_device_arguments
from bert_keras.errors import DataError


def add_parser(commands):
    parser = commands.add_parser(
        "pretrain",
        help="pretrain BERT with masked LM and next sentence (run_pretraining.py)",
        description=(
            "Pretrain or continue pretraining a BERT model on pretraining "
            "TFRecords, resumable, with the original run_pretraining.py flags."
        ),
    )
    parser.add_argument("--input-file", required=True,
                        help="the TFRecords: paths or globs, comma-separated")
    parser.add_argument("--eval-input-file",
                        help="TFRecords to evaluate on (default: --input-file, as the original)")
    parser.add_argument("--output-dir", required=True,
                        help="where checkpoints, logs, the model and eval_results.txt go")
    parser.add_argument("--do-train", action="store_true", help="train")
    parser.add_argument("--do-eval", action="store_true", help="evaluate")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--preset", help="continue from a preset (name or path), heads included")
    start.add_argument("--bert-config-file", help="a bert_config.json: the architecture, for training from scratch")
    parser.add_argument("--vocab-file",
                        help="the vocabulary of --bert-config-file (default: vocab.txt beside it)")
    parser.add_argument("--init-checkpoint",
                        help="starting weights: a TF checkpoint prefix (bert_model.ckpt), an earlier "
                        "run's --output-dir (its last checkpoint), or a model folder")
    parser.add_argument("--train-batch-size", type=positive(int), default=32,
                        help="examples per update, over all replicas (default: %(default)s)")
    parser.add_argument("--eval-batch-size", type=positive(int), default=8, help="(default: %(default)s)")
    parser.add_argument("--max-seq-length", type=positive(int), default=128,
                        help="the length the TFRecords were written with (default: %(default)s)")
    parser.add_argument("--max-predictions-per-seq", type=positive(int), default=20,
                        help="the predictions per sequence the TFRecords were written with (default: %(default)s)")
    parser.add_argument("--num-train-steps", type=positive(int), default=100000, help="updates (default: %(default)s)")
    parser.add_argument("--num-warmup-steps", type=positive(int, minimum=0), default=10000,
                        help="updates of linear warmup (default: %(default)s)")
    parser.add_argument("--learning-rate", type=positive(float), default=5e-5, help="peak rate (default: %(default)s)")
    parser.add_argument("--optimizer", choices=("adamw", "lamb"), default="adamw",
                        help="adamw: the original's; lamb: for large batches (default: %(default)s)")
    parser.add_argument("--no-nsp", action="store_true", help="masked LM only, without next-sentence prediction")
    parser.add_argument("--save-checkpoints-steps", type=positive(int), default=1000,
                        help="updates between checkpoints (default: %(default)s)")
    parser.add_argument("--max-eval-steps", type=positive(int), default=100,
                        help="eval batches; the eval files are read over and over until there are "
                        "this many, as the original does (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=12345,
                        help="seed of new weights, dropout and the data order (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="discard a run already in OUTPUT_DIR and start afresh")
    add_device_arguments(parser)
    parser.set_defaults(run=run)


def _early_checks(args):
    """Everything that can be refused before Keras is imported."""
    from bert_keras.cli import pretrain_setup as setup
    from bert_keras.safe_paths import check_output_folder

    if not (args.do_train or args.do_eval):
        raise DataError("Nothing to do: pass --do-train, --do-eval or both.")
    if args.num_warmup_steps > args.num_train_steps:
        raise DataError(
            f"--num-warmup-steps {args.num_warmup_steps} is more than --num-train-steps "
            f"{args.num_train_steps}; warmup is part of the training steps."
        )
    if args.train_batch_size % args.grad_accum_steps:
        raise DataError(
            f"--train-batch-size {args.train_batch_size} does not split into "
            f"--grad-accum-steps {args.grad_accum_steps} micro-batches."
        )
    output_dir = pathlib.Path(args.output_dir)
    check_output_folder(output_dir)
    setup.check_inputs(args.input_file)
    if args.eval_input_file:
        setup.check_inputs(args.eval_input_file, "--eval-input-file")
    # Only a checkpoint gives a resumed run its architecture.
    resuming = setup.read_manifest(output_dir) is not None and any(
        (output_dir / "checkpoints").glob("step-*/state.json"))
    if not (args.preset or args.bert_config_file or resuming):
        if not (args.init_checkpoint and setup.is_run_folder(args.init_checkpoint)):
            raise DataError(
                "Pass --preset to continue from a checkpoint, or --bert-config-file "
                "to pretrain from scratch."
            )
    if args.bert_config_file:
        setup.architecture(args)
    if args.preset:
        setup.check_preset_vocabulary(args.preset)
    return output_dir


def run(args):
    from bert_keras.cli import pretrain_setup as setup

    output_dir = _early_checks(args)
    from bert_keras.training import TrainingCheckpoints

    checkpoints = TrainingCheckpoints(output_dir / "checkpoints")
    if args.overwrite and args.do_train:
        _clear_run(output_dir, checkpoints)
    has_checkpoints = checkpoints.latest_step() is not None
    setup.check_resume(output_dir, args, has_checkpoints)

    import keras

    from bert_keras.cli.common import device_strategy

    keras.utils.set_random_seed(args.seed)
    strategy = device_strategy(args)
    manifest = setup.read_manifest(output_dir) if has_checkpoints else None
    with strategy.scope():
        pretrainer = setup.build_pretrainer(args, manifest and manifest["backbone"])
        _compile(pretrainer, args)
        if args.do_train:
            _train(pretrainer, args, output_dir, checkpoints)
        elif has_checkpoints:
            step = checkpoints.restore_latest(pretrainer)
            print(f"Evaluating the checkpoint of step {step}.")
        if args.do_eval:
            _evaluate(pretrainer, args, output_dir)


def _compile(pretrainer, args):
    from bert_keras.optimizers import create_pretraining_optimizer

    pretrainer.compile(
        optimizer=create_pretraining_optimizer(
            args.learning_rate, args.num_train_steps, args.num_warmup_steps,
            optimizer=args.optimizer, gradient_accumulation_steps=args.grad_accum_steps,
        ),
        steps_per_execution=args.steps_per_execution,
    )


def _architecture(backbone):
    keys = ("vocabulary_size", "num_layers", "num_heads", "hidden_dim", "intermediate_dim",
            "dropout", "attention_dropout", "max_sequence_length", "num_segments", "activation")
    return {key: getattr(backbone, key) for key in keys}


def _train(pretrainer, args, output_dir, checkpoints):
    from bert_keras.callbacks import StopOnNonFiniteLoss
    from bert_keras.cli import pretrain_setup as setup
    from bert_keras.cli.common import save_model
    from bert_keras.data.pretraining import pretraining_dataset
    from bert_keras.training import fit_resumable

    import keras

    latest = checkpoints.latest_step()
    if latest == args.num_train_steps and (output_dir / "model.keras").exists():
        print(f"Training finished already at step {latest}; nothing to train "
              "(pass --overwrite to train again).")
        checkpoints.restore(pretrainer, latest)
        return
    micro_batch = args.train_batch_size // args.grad_accum_steps

    def make_dataset(skip_batches):
        return pretraining_dataset(
            args.input_file, micro_batch, args.max_seq_length, args.max_predictions_per_seq,
            is_training=True, seed=args.seed, skip_batches=skip_batches,
        )

    make_dataset(0)  # Checks the files' lengths against the flags first.
    setup.write_manifest(output_dir, args, _architecture(pretrainer.backbone))
    _copy_vocabulary(args, output_dir)
    if latest:
        print(f"Resuming at step {latest} of {args.num_train_steps} from {checkpoints.path(latest)}.")
    else:
        accumulation = "" if args.grad_accum_steps == 1 else \
            f" ({args.grad_accum_steps} micro-batches of {micro_batch})"
        print(f"Training {args.num_train_steps} steps of {args.train_batch_size}{accumulation}, "
              f"{args.num_warmup_steps} warming up; a checkpoint every "
              f"{args.save_checkpoints_steps} steps.")
    start, final = fit_resumable(
        pretrainer, make_dataset, args.num_train_steps, args.save_checkpoints_steps,
        checkpoints, accumulation=args.grad_accum_steps,
        callbacks=[
            StopOnNonFiniteLoss("Lower --learning-rate, or check the data."),
            keras.callbacks.TensorBoard(log_dir=str(output_dir / "logs")),
        ],
        log_path=output_dir / "train_log.jsonl",
    )
    save_model(pretrainer, output_dir / "model.keras", overwrite=True)
    print(f"Trained to step {final}; saved the pretrainer to {output_dir / 'model.keras'}.")


def _copy_vocabulary(args, output_dir):
    """Keeps the run's vocabulary beside its model, for exports."""
    from bert_keras.cli import pretrain_setup as setup

    if args.preset:
        from bert_keras.presets.loader import resolve_preset

        source = resolve_preset(args.preset).vocabulary_path
    elif args.bert_config_file:
        source = setup.vocabulary_path(args)
    else:
        source = pathlib.Path(args.init_checkpoint) / "vocab.txt"
    if source is not None and source.is_file() and not (output_dir / "vocab.txt").exists():
        shutil.copyfile(source, output_dir / "vocab.txt")


def _evaluate(pretrainer, args, output_dir):
    import keras

    from bert_keras.data.pretraining import pretraining_dataset
    from bert_keras.safe_paths import write_text_atomic

    dataset = pretraining_dataset(
        args.eval_input_file or args.input_file, args.eval_batch_size, args.max_seq_length,
        args.max_predictions_per_seq, is_training=False, repeat=True,
    ).take(args.max_eval_steps)
    results = pretrainer.evaluate(dataset, steps=args.max_eval_steps, return_dict=True, verbose=0)
    results = {name: float(value) for name, value in results.items()}
    results["global_step"] = int(keras.ops.convert_to_numpy(pretrainer.optimizer.iterations))
    output_dir.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{key} = {results[key]}\n" for key in sorted(results))
    write_text_atomic(output_dir / "eval_results.txt", text)
    write_text_atomic(output_dir / "eval_results.json", json.dumps(results, indent=2) + "\n")
    print("***** Eval results *****")
    print("".join(f"  {line}\n" for line in text.splitlines()), end="")
    return results


def _clear_run(output_dir, checkpoints):
    """Removes what an earlier pretraining run wrote there, and nothing else."""
    from bert_keras.cli import pretrain_setup as setup

    if setup.read_manifest(output_dir) is None:
        return
    checkpoints.clear()
    for name in (setup.MANIFEST, "model.keras", "train_log.jsonl", "eval_results.txt",
                 "eval_results.json", "vocab.txt"):
        (output_dir / name).unlink(missing_ok=True)
    shutil.rmtree(output_dir / "logs", ignore_errors=True)
