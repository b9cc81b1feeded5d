"""Largest training batch that fits a 12 GB GPU, as in the original BERT README.

Google's README lists, for `run_classifier.py` and `run_squad.py` on one
Titan X (12 GB) with TensorFlow 1.11 (Adam, float32), the largest batch at
each sequence length. This script estimates the same for bert_keras, also
with rematerialized encoder blocks (`remat=True`) and with bfloat16 mixed
precision: it compiles one training step of `BertClassifier` with the
original optimizer (`BertAdamW`, gradient clipping, dropout 0.1) through JAX
at two batch sizes, reads XLA's buffer assignment
(`compiled.memory_analysis()`: arguments + outputs + temporaries - donated
aliases), fits memory = fixed + batch * per_sequence, and reports
floor((12 GiB - fixed) / per_sequence); with `--exact`, it then compiles
batches next to that estimate until XLA's own figure crosses 12 GiB.

Nothing runs, it only compiles: on a GPU the figures are XLA's GPU buffer
assignment; on a CPU they are an estimate made by the CPU compiler. They
count buffers only: the CUDA context and allocator fragmentation come on
top. Usage:

    python benchmarks/max_batch_size.py [--models base large] [--exact] [--json out.json]
    python benchmarks/max_batch_size.py --models base --sequence-lengths 128 512 \\
        --variants float32 bfloat16-remat
    python benchmarks/max_batch_size.py --models tiny --sequence-lengths 64   # smoke test
"""

import argparse
import concurrent.futures
import datetime
import gc
import json
import math
import multiprocessing
import os
import platform
import sys

# XLA's buffer assignment is read through JAX, whatever the environment says.
os.environ["KERAS_BACKEND"] = "jax"
# Autotuning times candidate kernels on the GPU; it does not change the
# buffers, and leaving it out makes each compile much faster.
if "xla_gpu_autotune_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level=0"
    ).strip()
# Several processes compile at once and none runs anything on the device.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import keras  # noqa: E402

ARCHITECTURES = {
    "base": dict(num_layers=12, hidden_dim=768, num_heads=12, intermediate_dim=3072),
    "large": dict(num_layers=24, hidden_dim=1024, num_heads=16, intermediate_dim=4096),
    "tiny": dict(num_layers=2, hidden_dim=128, num_heads=2, intermediate_dim=512),
}
# Google's table (Titan X, 12 GB, TensorFlow 1.11, Adam, float32).
ORIGINAL = {
    "base": {64: 64, 128: 32, 256: 16, 320: 14, 384: 12, 512: 6},
    "large": {64: 12, 128: 6, 256: 2, 320: 1, 384: 0, 512: 0},
}
VARIANTS = {
    "float32": dict(dtype="float32", remat=False),
    "float32-remat": dict(dtype="float32", remat=True),
    "bfloat16": dict(dtype="mixed_bfloat16", remat=False),
    "bfloat16-remat": dict(dtype="mixed_bfloat16", remat=True),
}
INPUTS = ("token_ids", "segment_ids", "padding_mask")

# The model a process built last: tasks of one variant tend to follow each
# other, and building BERT-Large takes longer than compiling it once.
_built = {}


def classifier(model_name, variant):
    from bert_keras.models import BertBackbone, BertClassifier
    from bert_keras.optimizers import create_optimizer

    if (model_name, variant) not in _built:
        _built.clear()
        gc.collect()
        # Only the shapes matter: the weights stay in host memory.
        with jax.default_device(jax.devices("cpu")[0]):
            backbone = BertBackbone(
                vocabulary_size=30522, max_sequence_length=512,
                **ARCHITECTURES[model_name], **VARIANTS[variant],
            )
            model = BertClassifier(backbone, 2, preprocessor=None)
            model.compile(optimizer=create_optimizer(2e-5, 1000), metrics=[])
            model.optimizer.build(model.trainable_variables)
        _built[model_name, variant] = model
    return _built[model_name, variant]


def step_bytes(model, batch_size, sequence_length):
    """Device bytes one compiled training step needs, per XLA."""

    def abstract(variables):
        return [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in variables]

    state = (
        abstract(model.trainable_variables),
        abstract(model.non_trainable_variables),
        abstract(model.optimizer.variables),
        abstract(model.metrics_variables),
    )
    shape = (batch_size, sequence_length)
    data = (
        {name: jax.ShapeDtypeStruct(shape, "int32") for name in INPUTS},
        jax.ShapeDtypeStruct(shape[:1], "int32"),
    )
    # As `fit` compiles it: the training state is donated to the update.
    step = jax.jit(model.train_step, donate_argnums=0)
    analysis = step.lower(state, data).compile().memory_analysis()
    return (
        analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes
        - analysis.alias_size_in_bytes
    )


def measure(model_name, variant, sequence_length, batch_sizes, budget, exact):
    """The line through two compiled batch sizes, and the largest batch it allows."""
    model = classifier(model_name, variant)
    sizes = {}

    def size(batch):
        if batch not in sizes:
            sizes[batch] = step_bytes(model, batch, sequence_length)
        return sizes[batch]

    small, large = batch_sizes
    per_sequence = (size(large) - size(small)) / (large - small)
    fixed = size(small) - small * per_sequence
    maximum = max(math.floor((budget - fixed) / per_sequence), 0)
    if exact:
        # XLA's choices bend the line a little: step from its estimate to
        # the batch where XLA's own figure crosses the budget.
        def fits(batch):
            return batch == 0 or size(batch) <= budget

        while not fits(maximum):
            maximum -= 1
        while fits(maximum + 1):
            maximum += 1
    return {
        "fixed_bytes": fixed,
        "bytes_per_sequence": per_sequence,
        "max_batch_size": maximum,
        "compiled_bytes": {str(batch): count for batch, count in sorted(sizes.items())},
    }


def device_name():
    device = jax.devices()[0]
    if device.platform != "cpu":
        return device.device_kind
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=tuple(ARCHITECTURES),
                        default=["base", "large"])
    parser.add_argument("--sequence-lengths", nargs="+", type=int,
                        default=[64, 128, 256, 320, 384, 512])
    parser.add_argument("--variants", nargs="+", choices=tuple(VARIANTS),
                        help="default: all on a GPU, float32 on a CPU (see its note)")
    parser.add_argument("--batch-sizes", nargs=2, type=int, default=[8, 16],
                        help="the two batch sizes compiled to fit the line")
    parser.add_argument("--memory-gib", type=float, default=12.0)
    parser.add_argument("--exact", action="store_true",
                        help="also compile around the line's estimate until XLA's own figure "
                             "crosses the budget (usually two more compiles each)")
    parser.add_argument("--jobs", type=int,
                        help="compiling processes (default: one per core, at most 8)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    import bert_keras

    small, large = sorted(args.batch_sizes)
    budget = args.memory_gib * 2**30
    on_cpu = jax.devices()[0].platform == "cpu"
    variants = args.variants or (["float32"] if on_cpu else list(VARIANTS))
    report = {
        "date": datetime.date.today().isoformat(),
        "device": device_name(),
        "estimate": on_cpu,
        "memory_bytes": budget,
        "batch_sizes": [small, large],
        "exact": args.exact,
        "versions": {"python": platform.python_version(), "jax": jax.__version__,
                     "keras": keras.__version__, "bert_keras": bert_keras.__version__},
        "results": [],
    }
    print(f"{report['date']}  {report['device']}  budget {args.memory_gib:g} GiB")
    if on_cpu:
        # Seen with jaxlib 0.10: the CPU compiler drops the optimization
        # barriers that keep a rematerialized block from merging back into
        # the forward pass, and computes bfloat16 products in float32.
        print("CPU compiler: an estimate of the GPU figures; it undoes remat and computes "
              "bfloat16 in float32, so only its float32 column is meaningful")

    # The original's setting first, so that a run cut short has it.
    tasks = [
        (model_name, variant, length)
        for variant in variants
        for model_name in args.models
        for length in args.sequence_lengths
    ]
    jobs = min(args.jobs or min(os.cpu_count() or 1, 8), len(tasks))
    arguments = ((small, large), budget, args.exact)
    if jobs > 1:
        # Processes, not threads: XLA compiles one program at a time in a
        # process.
        pool = concurrent.futures.ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn")
        )
        futures = {pool.submit(measure, *task, *arguments): task for task in tasks}
        done = (
            (futures[future], future.result())
            for future in concurrent.futures.as_completed(futures)
        )
    else:
        done = ((task, measure(*task, *arguments)) for task in tasks)

    maxima = {}
    for (model_name, variant, length), result in done:
        maxima[model_name, length, variant] = result["max_batch_size"]
        report["results"].append({
            "model": model_name, "sequence_length": length, "variant": variant, **result,
            "original": ORIGINAL.get(model_name, {}).get(length),
        })
        print(f"  {model_name:5s} seq {length:3d} {variant:14s} fixed "
              f"{result['fixed_bytes'] / 2**30:5.2f} GiB, "
              f"{result['bytes_per_sequence'] / 2**20:7.1f} MiB a sequence: "
              f"max batch {result['max_batch_size']}")
        sys.stdout.flush()
        if args.json:
            # Rewritten after every result, so an interrupted run keeps
            # what it measured.
            with open(args.json, "w") as file:
                json.dump(report, file, indent=2)

    print()
    print(f"{'model':6s} {'seq':>4s} {'original':>9s}"
          + "".join(f" {variant:>15s}" for variant in variants))
    for model_name in args.models:
        for length in args.sequence_lengths:
            original = ORIGINAL.get(model_name, {}).get(length)
            print(f"{model_name:6s} {length:4d} {'-' if original is None else original:>9}"
                  + "".join(f" {maxima[model_name, length, v]:15d}" for v in variants))
    print("\noriginal: Google's README, one Titan X (12 GB), TensorFlow 1.11, float32 Adam")


if __name__ == "__main__":
    main()
