"""Training and inference throughput: bert_keras vs keras-hub vs transformers.

Trains sentence classifiers on pre-tokenized, full-length batches, side by
side in one process on random weights: bert_keras `BertClassifier` and
keras-hub `BertTextClassifier` through `model.fit` (AdamW, XLA-compiled,
same Keras backend), and transformers `BertForSequenceClassification`
(PyTorch, sdpa attention, torch AdamW, the tanh GELU in PyTorch's fused
kernel), eager and under `torch.compile`. Then predicts with the same
models. `--fast-attention` adds bert_keras with `attention_dropout=0`,
which lets training use the fused attention kernels. The first round of
each compiles and is not timed; timed rounds interleave the
implementations, each ends on a result read back from the device, and the
median round gives sequences per second. `ours/peer` is bert_keras's
throughput over the peer's (above 1: bert_keras is faster).

Sizes: `--mode gpu` is BERT-Base at sequence 128 and batch 256 (training)
and 512 (inference), and BERT-Large training at sequence 512 and batch 32,
in bfloat16 mixed precision, with `torch.compile` on BERT-Base training
only (each compile takes minutes there); `--mode cpu` is a 4-layer model
for training and BERT-Base inference at batch 8, in float32, for a few
minutes on 2 cores; `--mode tiny` checks that everything runs. The default
picks gpu when a GPU is visible.

Peak memory: on JAX, the bytes of XLA's buffer assignment for the compiled
step (arguments + outputs + temporaries - donated aliases), read from
`compiled.memory_analysis()` and so per model although all share one
process (the allocator's `peak_bytes_in_use` only grows, process-wide); on
CUDA, torch's `max_memory_allocated` over the timed rounds, whose models
hold the only torch tensors alive. The TensorFlow backend and PyTorch on CPU
report none: the process's resident memory cannot be split between models.

Usage:

    KERAS_BACKEND=jax python benchmarks/training_throughput.py [--mode cpu] [--json out.json]
    KERAS_BACKEND=jax python benchmarks/training_throughput.py --mode tiny --skip torch.compile
"""

import argparse
import dataclasses
import datetime
import functools
import gc
import json
import os
import platform
import statistics
import sys
import time

# JAX and PyTorch share the GPU in this process; by default JAX would take
# 75% of its memory up front and leave PyTorch the rest.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# The CPU kernels that torch.compile builds bring a second OpenMP runtime;
# with spinning idle threads, the two starve each other on few cores and
# eager PyTorch runs many times slower after the first compile.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import keras  # noqa: E402
import numpy as np  # noqa: E402

VOCABULARY_SIZE = 30522
IMPLEMENTATIONS = ("bert_keras", "keras-hub", "torch", "torch.compile")


@dataclasses.dataclass
class Workload:
    name: str
    training: bool
    num_layers: int
    hidden_dim: int
    sequence_length: int
    batch_size: int
    steps: int
    # On a GPU each torch.compile takes minutes: it runs where its ratio is
    # a goal, BERT-Base training.
    torch_compile: bool = True

    @property
    def num_heads(self):
        return max(self.hidden_dim // 64, 1)

    @property
    def intermediate_dim(self):
        return 4 * self.hidden_dim


WORKLOADS = {
    "gpu": [
        Workload("BERT-Base training", True, 12, 768, 128, 256, 20),
        Workload("BERT-Large training", True, 24, 1024, 512, 32, 20, torch_compile=False),
        Workload("BERT-Base inference", False, 12, 768, 128, 512, 20, torch_compile=False),
    ],
    "cpu": [
        Workload("4-layer training", True, 4, 256, 128, 16, 4),
        Workload("BERT-Base inference", False, 12, 768, 128, 8, 4),
    ],
    "tiny": [
        Workload("2-layer training", True, 2, 64, 32, 8, 2),
        Workload("2-layer inference", False, 2, 64, 32, 8, 2),
    ],
}


def random_batches(workload, seed=0):
    """`steps` batches of full-length sequences, as one array per input."""
    rng = np.random.default_rng(seed)
    shape = (workload.steps * workload.batch_size, workload.sequence_length)
    second_half = np.arange(shape[1]) >= shape[1] // 2
    features = {
        "token_ids": rng.integers(1000, VOCABULARY_SIZE, shape).astype("int32"),
        "segment_ids": np.tile(second_half.astype("int32"), (shape[0], 1)),
        "padding_mask": np.ones(shape, "int32"),
    }
    labels = rng.integers(0, 2, shape[0]).astype("int32")
    return features, labels


class KerasRunner:
    """A Keras classifier trained with `fit` or run with `predict`."""

    def __init__(self, label, classifier, workload, features, labels, plain_keras=False):
        self.label = label
        self.model = classifier
        # keras-hub's own `fit` and `predict` route arrays through grain or
        # tf.data, and need one of them; the Keras methods under them take
        # the arrays as bert_keras's do, so both models get the same input
        # pipeline.
        self.fit = functools.partial(keras.Model.fit, classifier) if plain_keras else classifier.fit
        self.predict = (
            functools.partial(keras.Model.predict, classifier) if plain_keras
            else classifier.predict
        )
        self.workload = workload
        self.features = features
        self.labels = labels
        if workload.training:
            classifier.compile(
                optimizer=keras.optimizers.AdamW(learning_rate=2e-5, weight_decay=0.01),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=[],
                jit_compile=True,
            )
        else:
            classifier.compile(jit_compile=True)

    def run(self):
        batch_size = self.workload.batch_size
        if self.workload.training:
            history = self.fit(
                self.features, self.labels, batch_size=batch_size, epochs=1,
                shuffle=False, verbose=0,
            )
            # The last loss depends on every step before it.
            float(history.history["loss"][-1])
        else:
            self.predict(self.features, batch_size=batch_size, verbose=0)

    def start_round(self):
        pass

    def peak_memory(self):
        """XLA's buffer bytes for one compiled step, on the JAX backend."""
        if keras.backend.backend() != "jax":
            return None
        import jax

        model, workload = self.model, self.workload
        shape = (workload.batch_size, workload.sequence_length)
        x = {name: jax.ShapeDtypeStruct(shape, "int32") for name in self.features}
        state = [
            [v.value for v in model.trainable_variables],
            [v.value for v in model.non_trainable_variables],
        ]
        if workload.training:
            state += [
                [v.value for v in model.optimizer.variables],
                [v.value for v in model.metrics_variables],
            ]
            # The function `fit` compiled: JAX finds it in its cache.
            step = jax.jit(model.train_step, donate_argnums=0)
            data = (x, jax.ShapeDtypeStruct(shape[:1], "int32"))
        else:
            step = jax.jit(model.predict_step)
            data = x
        analysis = step.lower(tuple(state), data).compile().memory_analysis()
        return (
            analysis.argument_size_in_bytes
            + analysis.output_size_in_bytes
            + analysis.temp_size_in_bytes
            - analysis.alias_size_in_bytes
        )


class TorchRunner:
    """transformers' classifier in PyTorch, eager or under `torch.compile`."""

    def __init__(self, label, model, optimizer, workload, features, labels, device,
                 bfloat16, compiled):
        import torch

        self.torch = torch
        self.label = label
        self.forward = torch.compile(model) if compiled else model
        self.optimizer = optimizer
        self.workload = workload
        self.device = device
        self.bfloat16 = bfloat16
        # Host tensors copied over each step, as `fit` feeds its arrays.
        tensors = {
            "input_ids": torch.from_numpy(features["token_ids"]).long(),
            "token_type_ids": torch.from_numpy(features["segment_ids"]).long(),
            "attention_mask": torch.from_numpy(features["padding_mask"]).long(),
            "labels": torch.from_numpy(labels).long(),
        }
        if device.type == "cuda":
            tensors = {name: t.pin_memory() for name, t in tensors.items()}
        splits = {name: t.split(workload.batch_size) for name, t in tensors.items()}
        self.batches = [
            {name: parts[i] for name, parts in splits.items()} for i in range(workload.steps)
        ]
        self.timed = False
        self.peak = None

    def autocast(self):
        return self.torch.autocast(
            self.device.type, dtype=self.torch.bfloat16, enabled=self.bfloat16
        )

    def run(self):
        torch = self.torch
        for batch in self.batches:
            batch = {n: t.to(self.device, non_blocking=True) for n, t in batch.items()}
            if self.workload.training:
                with self.autocast():
                    result = self.forward(**batch).loss
                result.backward()
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            else:
                del batch["labels"]
                with torch.inference_mode(), self.autocast():
                    result = self.forward(**batch).logits
        result.float().sum().item()
        if self.timed and self.device.type == "cuda":
            self.peak = max(self.peak or 0, torch.cuda.max_memory_allocated(self.device))

    def start_round(self):
        self.timed = True
        if self.device.type == "cuda":
            self.torch.cuda.reset_peak_memory_stats(self.device)

    def peak_memory(self):
        return self.peak


def keras_runners(workload, args, features, labels):
    from bert_keras.models import BertBackbone, BertClassifier

    config = dict(
        vocabulary_size=VOCABULARY_SIZE,
        num_layers=workload.num_layers,
        num_heads=workload.num_heads,
        hidden_dim=workload.hidden_dim,
        intermediate_dim=workload.intermediate_dim,
        max_sequence_length=512,
    )
    backend = keras.backend.backend()
    runners = []
    if "bert_keras" not in args.skip:
        keras.utils.set_random_seed(0)
        backbone = BertBackbone(**config, dropout=args.dropout, attention_dropout=args.dropout)
        classifier = BertClassifier(backbone, 2, preprocessor=None, dropout=args.dropout)
        runners.append(
            KerasRunner(f"bert_keras ({backend})", classifier, workload, features, labels)
        )
        if args.fast_attention and workload.training and args.dropout > 0:
            keras.utils.set_random_seed(0)
            backbone = BertBackbone(**config, dropout=args.dropout, attention_dropout=0.0)
            classifier = BertClassifier(backbone, 2, preprocessor=None, dropout=args.dropout)
            runners.append(KerasRunner(
                f"bert_keras ({backend}), attention dropout 0", classifier, workload,
                features, labels,
            ))
    if "keras-hub" not in args.skip:
        try:
            import keras_hub
        except ImportError as error:
            print(f"keras-hub left out: it does not import here ({error})")
        else:
            keras.utils.set_random_seed(0)
            backbone = keras_hub.models.BertBackbone(**config, dropout=args.dropout)
            classifier = keras_hub.models.BertTextClassifier(
                backbone, num_classes=2, preprocessor=None, dropout=args.dropout
            )
            runners.append(
                KerasRunner(f"keras-hub ({backend})", classifier, workload, features, labels,
                            plain_keras=True)
            )
    return runners


def torch_runners(workload, args, features, labels, bfloat16):
    wanted = [
        name for name in ("torch", "torch.compile")
        if name not in args.skip and (name == "torch" or workload.torch_compile)
    ]
    if not wanted:
        return []
    try:
        import torch
        import transformers
    except ImportError as error:
        print(f"transformers left out: it does not import here ({error})")
        return []
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=VOCABULARY_SIZE,
        hidden_size=workload.hidden_dim,
        num_hidden_layers=workload.num_layers,
        num_attention_heads=workload.num_heads,
        intermediate_size=workload.intermediate_dim,
        # The tanh GELU of BERT, as the Keras models, in PyTorch's one fused
        # kernel ("gelu_new" computes the same formula in seven).
        hidden_act="gelu_pytorch_tanh",
        hidden_dropout_prob=args.dropout,
        attention_probs_dropout_prob=args.dropout,
        max_position_embeddings=512,
        num_labels=2,
        attn_implementation="sdpa",
    )
    # One model and optimizer serve the eager and the compiled runs, so that
    # each run's memory peak holds one set of weights and optimizer state.
    model = transformers.BertForSequenceClassification(config).to(device)
    model.train(workload.training)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=2e-5, weight_decay=0.01, fused=device.type == "cuda"
    )
    labels_by_name = {
        "torch": "transformers (torch, sdpa)",
        "torch.compile": "transformers (torch.compile, sdpa)",
    }
    return [
        TorchRunner(labels_by_name[name], model, optimizer, workload, features, labels,
                    device, bfloat16, compiled=name == "torch.compile")
        for name in wanted
    ]


def measure(runners, rounds):
    """Seconds of the first (compiling) round and of each timed round.

    A runner whose first round fails is reported and left out, so that one
    implementation's failure on a device costs only its own figures.
    """
    first = {}
    for runner in list(runners):
        start = time.perf_counter()
        try:
            runner.run()
        except Exception as error:
            print(f"{runner.label} left out: {type(error).__name__}: {str(error)[:2000]}")
            runners.remove(runner)
            continue
        first[runner.label] = time.perf_counter() - start
    times = {runner.label: [] for runner in runners}
    for _ in range(rounds):
        for runner in runners:
            runner.start_round()
            start = time.perf_counter()
            runner.run()
            times[runner.label].append(time.perf_counter() - start)
    return first, times


def device_name():
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except ImportError:
        pass
    if keras.backend.backend() == "jax":
        import jax

        if jax.default_backend() != "cpu":
            return jax.devices()[0].device_kind
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return platform.processor() or "CPU"


def gpu_visible():
    try:
        import torch

        if torch.cuda.is_available():
            return True
    except ImportError:
        pass
    if keras.backend.backend() == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return False


def versions():
    import bert_keras

    found = {"python": platform.python_version(), "keras": keras.__version__,
             "bert_keras": bert_keras.__version__}
    for name in ("keras_hub", "jax", "jaxlib", "tensorflow", "torch",
                 "transformers"):
        # A package that is not loaded yet stays unloaded: importing
        # TensorFlow only to print its version would cost memory and time.
        module = sys.modules.get(name)
        if module is not None:
            found[name] = getattr(module, "__version__", "?")
    return found


def format_bytes(count):
    return "n/a" if count is None else f"{count / 2**30:.2f} GiB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("auto", "gpu", "cpu", "tiny"), default="auto")
    parser.add_argument("--precision", choices=("auto", "float32", "bfloat16"), default="auto",
                        help="auto: bfloat16 mixed precision on GPU, float32 otherwise")
    parser.add_argument("--dropout", type=float, default=0.1,
                        help="dropout everywhere, as in BERT; 0 turns it off")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed rounds (default 5, 2 in tiny mode)")
    parser.add_argument("--workloads", nargs="+", default=None,
                        help="a subset of the mode's workloads, by name, e.g. 'BERT-Base training'")
    parser.add_argument("--skip", nargs="+", default=[], choices=IMPLEMENTATIONS)
    parser.add_argument("--fast-attention", action="store_true",
                        help="also train bert_keras with attention_dropout=0, which lets "
                             "attention run through the fused kernels")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    mode = args.mode
    if mode == "auto":
        mode = "gpu" if gpu_visible() else "cpu"
    bfloat16 = args.precision == "bfloat16" or (args.precision == "auto" and mode == "gpu")
    if bfloat16:
        keras.config.set_dtype_policy("mixed_bfloat16")
    rounds = args.rounds or (2 if mode == "tiny" else 5)
    workloads = [
        w for w in WORKLOADS[mode] if args.workloads is None or w.name in args.workloads
    ]
    report = {
        "date": datetime.date.today().isoformat(),
        "device": device_name(),
        "backend": keras.backend.backend(),
        "mode": mode,
        "precision": "mixed_bfloat16" if bfloat16 else "float32",
        "dropout": args.dropout,
        "rounds": rounds,
        "workloads": [],
    }
    print(f"{report['date']}  {report['device']}  backend={report['backend']}  "
          f"precision={report['precision']}  dropout={args.dropout}")

    for workload in workloads:
        features, labels = random_batches(workload)
        runners = keras_runners(workload, args, features, labels)
        runners += torch_runners(workload, args, features, labels, bfloat16)
        first, times = measure(runners, rounds)
        sequences = workload.steps * workload.batch_size
        rates = {label: sequences / statistics.median(t) for label, t in times.items()}
        ours = next((rate for label, rate in rates.items() if label.startswith("bert_keras")),
                    None)
        results = []
        for runner in runners:
            rate = rates[runner.label]
            results.append({
                "implementation": runner.label,
                "sequences_per_second": rate,
                "ours_over_peer": ours / rate if ours else None,
                "peak_memory_bytes": runner.peak_memory(),
                "first_round_seconds": first[runner.label],
                "round_seconds": times[runner.label],
            })
        report["workloads"].append({**dataclasses.asdict(workload), "results": results})

        print()
        print(f"{workload.name}: {workload.num_layers} layers, hidden {workload.hidden_dim}, "
              f"sequence {workload.sequence_length}, batch {workload.batch_size}; "
              f"median of {rounds} rounds of {workload.steps} steps")
        print(f"  {'implementation':40s} {'seq/s':>9s} {'ours/peer':>9s} "
              f"{'peak memory':>12s} {'first round':>12s}")
        for result in results:
            ratio = result["ours_over_peer"]
            print(f"  {result['implementation']:40s} {result['sequences_per_second']:9.1f} "
                  f"{'n/a' if ratio is None else f'{ratio:.2f}':>9s} "
                  f"{format_bytes(result['peak_memory_bytes']):>12s} "
                  f"{result['first_round_seconds']:11.1f}s")
        sys.stdout.flush()

        report["versions"] = versions()
        if args.json:
            # Rewritten after every workload, so an interrupted run keeps
            # what it measured.
            with open(args.json, "w") as file:
                json.dump(report, file, indent=2)
        del runners
        gc.collect()
        # PyTorch keeps freed GPU memory cached; the next workload's JAX
        # models need it.
        if "torch" in sys.modules and sys.modules["torch"].cuda.is_available():
            sys.modules["torch"].cuda.empty_cache()

    print()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))


if __name__ == "__main__":
    main()
