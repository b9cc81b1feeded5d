"""Attention alone: the forward and backward pass of each path, and its error.

Runs `MultiHeadSelfAttention`'s attention on one batch of queries, keys and
values (the projections left out) through every path the layer can take on
the JAX backend, side by side in one process:

- `explicit, dropout 0.1`: the original's attention while training, with
  its dropout on the probabilities (the only path that takes dropout);
- `explicit`: the same without dropout;
- `keras.ops (bias)`: `keras.ops.dot_product_attention` with the padding
  mask as the original's additive bias, which Keras offers cuDNN first;
- `keras.ops (XLA)`: the same kept off cuDNN (`flash_attention=False`);
- `by lengths`: `padded_flash_attention`, cuDNN told each example's length
  (on a GPU in 16-bit precision; elsewhere the same lengths through XLA).

Each is timed as one compiled step that returns the output and the
gradients with respect to queries, keys and values; the median of rounds
gives milliseconds, and `time/by lengths` compares each with the last path.
Errors are the largest absolute differences of outputs and gradients from
the same computation in float32, over the paths without dropout. Inputs are
suffix-padded with lengths drawn between half and all of the sequence, as
BERT batches are, or full with `--full`.

Usage:

    python benchmarks/attention_kernels.py [--json out.json]   # GPU shapes, bfloat16
    python benchmarks/attention_kernels.py --mode tiny          # smoke test, CPU
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

SHAPES = {
    # batch, sequence, heads, head size
    "gpu": {"BERT-Base s128 b256": (256, 128, 12, 64), "BERT-Large s512 b32": (32, 512, 16, 64)},
    "tiny": {"tiny s16 b4": (4, 16, 2, 8)},
}


def paths(layer, implementation):
    from bert_keras.layers.padded_flash_attention import (
        attention_by_lengths,
        padded_flash_attention,
    )
    from bert_keras.layers.padding_bias import padding_bias

    def explicit(rate):
        def attend(query, key, value, padding_mask, seed):
            layer.attention_dropout = rate
            bias = padding_bias(padding_mask, query.dtype)
            heads = [keras.ops.transpose(t, (0, 2, 1, 3)) for t in (query, key, value)]
            return layer._explicit_attention(*heads, bias, True, seed)

        return attend

    def by_lengths(query, key, value, padding_mask, seed):
        if implementation == "cudnn":
            context = padded_flash_attention(query, key, value, padding_mask)
            if context is None:
                raise RuntimeError("cuDNN does not take these inputs")
            return context
        return attention_by_lengths(query, key, value, padding_mask, implementation)

    def keras_ops(flash):
        def attend(query, key, value, padding_mask, seed):
            return keras.ops.dot_product_attention(
                query, key, value, bias=padding_bias(padding_mask, query.dtype),
                flash_attention=flash,
            )

        return attend

    return {
        "explicit, dropout 0.1": explicit(0.1),
        "explicit": explicit(0.0),
        "keras.ops (bias)": keras_ops(None),
        "keras.ops (XLA)": keras_ops(False),
        "by lengths": by_lengths,
    }


def step(attend):
    """Output and gradients wrt query, key and value, for a fixed cotangent."""

    def loss(query, key, value, padding_mask, seed, cotangent):
        out = attend(query, key, value, padding_mask, seed)
        return jnp.sum(out.astype("float32") * cotangent), out

    grad = jax.grad(loss, argnums=(0, 1, 2), has_aux=True)

    def run(query, key, value, padding_mask, seed, cotangent):
        grads, out = grad(query, key, value, padding_mask, seed, cotangent)
        return out, grads

    return jax.jit(run)


def inputs(shape, dtype, full, seed=0):
    batch, length, heads, size = shape
    rng = np.random.default_rng(seed)
    query, key, value = (
        rng.normal(size=shape).astype("float32") for _ in range(3)
    )
    lengths = np.full(batch, length) if full else rng.integers(length // 2, length + 1, batch)
    padding_mask = (np.arange(length)[None, :] < lengths[:, None]).astype("int32")
    cotangent = rng.normal(size=shape).astype("float32")
    # Queries at padded positions attend like the rest (BERT computes them),
    # but nothing downstream reads them.
    cotangent *= padding_mask[:, :, None, None]
    # On the device before timing: a NumPy argument would be copied over in
    # every call, and the copy would be what is timed.
    return (
        [jnp.asarray(x, dtype) for x in (query, key, value)],
        jnp.asarray(padding_mask),
        jnp.asarray(cotangent),
    )


def max_difference(a, b):
    return float(jnp.max(jnp.abs(jnp.asarray(a, "float32") - jnp.asarray(b, "float32"))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("auto", "gpu", "tiny"), default="auto")
    parser.add_argument("--full", action="store_true", help="no padding: every length is full")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    from bert_keras.layers import MultiHeadSelfAttention

    on_gpu = jax.default_backend() == "gpu"
    mode = args.mode if args.mode != "auto" else ("gpu" if on_gpu else "tiny")
    dtype = "bfloat16" if on_gpu else "float32"
    implementation = "cudnn" if on_gpu else "xla"
    report = {
        "date": datetime.date.today().isoformat(),
        "device": jax.devices()[0].device_kind,
        "dtype": dtype,
        "padding": "full" if args.full else "suffix, lengths in [seq/2, seq]",
        "versions": {"jax": jax.__version__, "keras": keras.__version__},
        "shapes": [],
    }
    print(f"{report['date']}  {report['device']}  {dtype}  padding: {report['padding']}")

    for name, shape in SHAPES[mode].items():
        layer = MultiHeadSelfAttention(num_heads=shape[2])
        layer.build((None, shape[1], shape[2] * shape[3]))
        (query, key, value), padding_mask, cotangent = inputs(shape, dtype, args.full)
        exact_inputs = [x.astype("float32") for x in (query, key, value)]
        seed = jnp.asarray([0, 1], "uint32")
        reference = step(paths(layer, "xla")["explicit"])(
            *exact_inputs, padding_mask, seed, cotangent
        )
        results = {}
        for label, attend in paths(layer, implementation).items():
            compiled = step(attend)
            try:
                out, grads = compiled(query, key, value, padding_mask, seed, cotangent)
            except Exception as error:  # a path this device cannot take
                results[label] = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
                continue
            jax.block_until_ready(grads)
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                for _ in range(args.steps):
                    out, grads = compiled(query, key, value, padding_mask, seed, cotangent)
                jax.block_until_ready(grads)
                times.append((time.perf_counter() - start) / args.steps)
            result = {"milliseconds": 1e3 * statistics.median(times)}
            if "dropout" not in label:
                result["output_error"] = max_difference(out, reference[0])
                result["gradient_error"] = max(
                    max_difference(g, r) for g, r in zip(grads, reference[1])
                )
            results[label] = result
        base = results.get("by lengths", {}).get("milliseconds")
        print(f"\n{name}: forward and backward")
        print(f"  {'path':24s} {'ms':>8s} {'time/by lengths':>16s} {'out error':>10s} "
              f"{'grad error':>10s}")
        for label, result in results.items():
            if "error" in result:
                print(f"  {label:24s} failed: {result['error']}")
                continue
            ratio = f"{result['milliseconds'] / base:.2f}" if base else "n/a"
            errors = [result.get(k) for k in ("output_error", "gradient_error")]
            print(f"  {label:24s} {result['milliseconds']:8.3f} {ratio:>16s} "
                  + " ".join("       n/a" if e is None else f"{e:10.2e}" for e in errors))
        report["shapes"].append({"name": name, "shape": shape, "results": results})
        sys.stdout.flush()
        if args.json:
            with open(args.json, "w") as file:
                json.dump(report, file, indent=2)


if __name__ == "__main__":
    main()
