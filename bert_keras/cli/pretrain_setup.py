"""What `bert-keras pretrain` checks and builds: the run folder's manifest,
the architecture and vocabulary, and the starting weights.

Everything above `build_pretrainer` runs before Keras is imported.
"""

import glob
import json
import pathlib

from bert_keras.errors import DataError, TrainingError

MANIFEST = "pretrain_run.json"
# The flags that make a run what it is: resuming with any of them changed
# would continue another run's schedule, data order or model.
RUN_FLAGS = (
    "input_file", "train_batch_size", "max_seq_length", "max_predictions_per_seq",
    "num_train_steps", "num_warmup_steps", "learning_rate", "optimizer", "no_nsp",
    "seed", "grad_accum_steps", "preset", "bert_config_file", "init_checkpoint",
)


def flag_name(key):
    return "--" + key.replace("_", "-")


def check_inputs(pattern, flag="--input-file"):
    """Refuses a file pattern that matches nothing (local paths only; remote
    ones are checked when read)."""
    for part in (p.strip() for p in pattern.split(",")):
        if part and "://" not in part and not glob.glob(part):
            raise DataError(
                f"{flag} {part!r} matches no file; pass the TFRecords written by "
                "`bert-keras pretraining-data` (paths or globs, comma-separated)."
            )


def _count_lines(path):
    with open(path, encoding="utf-8") as file:
        return sum(1 for _ in file)


def vocabulary_path(args):
    """The vocabulary of a run from scratch: --vocab-file, or the config's
    neighbour `vocab.txt`; None when neither exists."""
    if args.vocab_file:
        path = pathlib.Path(args.vocab_file)
        if not path.is_file():
            raise DataError(f"--vocab-file {path} is not a file.")
        return path
    beside = pathlib.Path(args.bert_config_file).with_name("vocab.txt")
    return beside if beside.is_file() else None


def architecture(args):
    """`BertBackbone` arguments from --bert-config-file, checked against the
    vocabulary."""
    from bert_keras.presets.convert_google import read_google_config

    path = pathlib.Path(args.bert_config_file)
    if not path.is_file():
        raise DataError(f"--bert-config-file {path} is not a file.")
    config = read_google_config(path)
    vocabulary = vocabulary_path(args)
    if vocabulary is not None:
        check_vocabulary_size(config["vocabulary_size"], vocabulary, path)
    return config


def check_vocabulary_size(size, vocabulary, config_path):
    count = _count_lines(vocabulary)
    if count != size:
        raise DataError(
            f"{config_path} has vocab_size {size} but {vocabulary} holds {count} "
            "tokens. Ids the embedding table lacks give NaN losses, and unused "
            f"rows waste memory; set vocab_size to {count} or use the "
            "vocabulary the data was made with."
        )


def check_preset_vocabulary(preset):
    """The same check for a local preset folder (registry presets are
    consistent)."""
    folder = pathlib.Path(preset).expanduser()
    config = folder / "bert_config.json"
    if folder.is_dir() and config.is_file() and (folder / "vocab.txt").is_file():
        from bert_keras.presets.convert_google import read_google_config

        size = read_google_config(config)["vocabulary_size"]
        check_vocabulary_size(size, folder / "vocab.txt", config)


def run_settings(args):
    return {key: getattr(args, key) for key in RUN_FLAGS}


def read_manifest(output_dir):
    path = output_dir / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise TrainingError(
            f"{path} is not valid JSON; it was not written by `bert-keras "
            "pretrain`. Choose another --output-dir."
        ) from None


def check_resume(output_dir, args, has_checkpoints):
    """Refuses to resume a run made with other flags, naming them."""
    manifest = read_manifest(output_dir)
    if manifest is None or not has_checkpoints:
        return
    recorded = manifest.get("flags", {})
    differ = [
        f"{flag_name(key)} was {recorded.get(key)!r}, now {value!r}"
        for key, value in run_settings(args).items()
        if recorded.get(key) != value
    ]
    if differ:
        raise TrainingError(
            f"{output_dir} holds a run made with other flags: {'; '.join(differ)}. "
            "Run it again with the same flags to resume it, pass --overwrite to "
            "start afresh there, or choose another --output-dir."
        )


def write_manifest(output_dir, args, backbone_config):
    from bert_keras.safe_paths import write_text_atomic

    output_dir.mkdir(parents=True, exist_ok=True)
    content = {"format": 1, "flags": run_settings(args), "backbone": backbone_config}
    write_text_atomic(output_dir / MANIFEST, json.dumps(content, indent=2) + "\n")


def is_run_folder(path):
    return (pathlib.Path(path) / MANIFEST).is_file()


def build_pretrainer(args, backbone_config=None):
    """The pretrainer of the flags, with its starting weights; prints where
    they came from."""
    import warnings

    from bert_keras.models import BertBackbone, BertPretrainer

    overrides = {} if args.attention_dropout is None else {"attention_dropout": args.attention_dropout}
    nsp = not args.no_nsp
    if args.preset and backbone_config is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pretrainer = BertPretrainer.from_preset(
                args.preset, nsp=nsp, remat=args.remat, **overrides
            )
        print(f"Continuing from {args.preset}: the backbone and "
              f"{'the heads' if pretrainer.heads_source == 'checkpoint' else 'new heads'}.")
        for warning in caught:
            if issubclass(warning.category, UserWarning):
                print(f"Note: {warning.message}")
        return pretrainer
    if backbone_config is not None:
        config = backbone_config
    elif args.bert_config_file:
        config = architecture(args)
    else:
        # Phase 2 from phase 1: that run's architecture.
        config = read_manifest(pathlib.Path(args.init_checkpoint))["backbone"]
    backbone = BertBackbone(**{**config, **overrides, "remat": args.remat})
    pretrainer = BertPretrainer(backbone, nsp=nsp)
    if args.init_checkpoint:
        load_initial_weights(pretrainer, args.init_checkpoint)
    elif backbone_config is None:
        print("Pretraining from scratch (truncated normal initialization, stddev 0.02).")
    return pretrainer


def load_initial_weights(pretrainer, reference):
    """Weights from a Google checkpoint prefix, another run's folder (its
    newest checkpoint), or any preset reference, assigned by variable path."""
    from bert_keras.presets.weight_mapping import assign_weights

    path = pathlib.Path(reference).expanduser()
    if is_run_folder(path):
        arrays = _run_folder_weights(path)
        what = f"{path}'s step {arrays.pop('_step')}"
    elif pathlib.Path(f"{path}.index").is_file():
        from bert_keras.presets.convert_google import convert_google_checkpoint

        arrays, heads = convert_google_checkpoint(path, pretrainer.backbone.num_layers)
        arrays.update(heads or {})
        what = str(path)
    else:
        from bert_keras.presets.loader import checkpoint_arrays

        arrays, heads = checkpoint_arrays(reference)
        arrays.update(heads or {})
        what = str(reference)
    assign_weights(pretrainer.backbone.weights, arrays, what)
    missing = pretrainer.load_head_weights(
        {k: v for k, v in arrays.items() if k.split("/")[0] in ("mlm_head", "nsp_head")}, what
    )
    print(f"Starting from the weights of {what} ({'heads included' if missing == 'checkpoint' else 'new heads'}).")


def _run_folder_weights(folder):
    """The model's arrays at the newest checkpoint of an earlier run."""
    from bert_keras.models import BertBackbone, BertPretrainer
    from bert_keras.optimizers import create_pretraining_optimizer
    from bert_keras.training import TrainingCheckpoints

    manifest = read_manifest(folder)
    checkpoints = TrainingCheckpoints(folder / "checkpoints")
    step = checkpoints.latest_step()
    if step is None:
        raise TrainingError(f"--init-checkpoint {folder} has no checkpoint yet.")
    flags = manifest["flags"]
    earlier = BertPretrainer(BertBackbone(**manifest["backbone"]), nsp=not flags["no_nsp"])
    earlier.compile(optimizer=create_pretraining_optimizer(
        flags["learning_rate"], flags["num_train_steps"], flags["num_warmup_steps"],
        optimizer=flags["optimizer"], gradient_accumulation_steps=flags["grad_accum_steps"],
    ))
    checkpoints.restore(earlier, step)
    import keras

    arrays = {v.path: keras.ops.convert_to_numpy(v) for v in earlier.weights}
    arrays["_step"] = step
    return arrays
