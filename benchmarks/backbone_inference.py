"""Backbone inference throughput: bert_keras vs keras-hub vs transformers.

All three run the same architecture side by side in one process, on random
weights, with compiled predict functions. Rounds interleave the peers so
that machine noise hits them alike; the median round gives sequences per
second and the time ratio to bert_keras. Usage:

    KERAS_BACKEND=jax python benchmarks/backbone_inference.py --layers 4 --hidden 256
"""

import argparse
import time

import keras
import numpy as np


def interleaved_seconds(functions, repeats, rounds=5):
    """Median seconds per call of each function, measured in turns."""
    for function in functions.values():
        function()  # compile and warm up
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(repeats):
                function()
            times[name].append((time.perf_counter() - start) / repeats)
    return {name: float(np.median(values)) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import keras_hub

    from bert_keras.models import BertBackbone

    config = dict(
        vocabulary_size=30522,
        num_layers=args.layers,
        num_heads=args.hidden // 64,
        hidden_dim=args.hidden,
        intermediate_dim=4 * args.hidden,
        max_sequence_length=512,
    )
    rng = np.random.default_rng(0)
    shape = (args.batch_size, args.sequence_length)
    inputs = {
        "token_ids": rng.integers(0, 30522, shape).astype("int32"),
        "segment_ids": np.zeros(shape, "int32"),
        "padding_mask": np.ones(shape, "int32"),
    }
    ours = BertBackbone(**config, dropout=0.0, attention_dropout=0.0)
    theirs = keras_hub.models.BertBackbone(**config, dropout=0.0)
    functions = {
        "bert_keras": lambda: ours.predict_on_batch(inputs),
        "keras-hub": lambda: theirs.predict_on_batch(inputs),
    }
    try:
        import torch
        import transformers

        model = transformers.BertModel(
            transformers.BertConfig(
                hidden_size=args.hidden,
                num_hidden_layers=args.layers,
                num_attention_heads=args.hidden // 64,
                intermediate_size=4 * args.hidden,
                hidden_act="gelu_new",
                attn_implementation="sdpa",
            )
        ).eval()
        batch = {
            "input_ids": torch.from_numpy(inputs["token_ids"]).long(),
            "token_type_ids": torch.from_numpy(inputs["segment_ids"]).long(),
            "attention_mask": torch.from_numpy(inputs["padding_mask"]).long(),
        }

        def run_torch():
            with torch.inference_mode():
                model(**batch)

        functions["transformers (torch)"] = run_torch
    except ImportError:
        pass
    results = interleaved_seconds(functions, args.repeats)

    print(
        f"backend={keras.backend.backend()} layers={args.layers} hidden={args.hidden} "
        f"batch={args.batch_size} seq={args.sequence_length}"
    )
    baseline = results["bert_keras"]
    for name, seconds in results.items():
        print(
            f"{name:22s} {args.batch_size / seconds:9.1f} seq/s"
            f"   time ratio to bert_keras {seconds / baseline:5.2f}"
        )


if __name__ == "__main__":
    main()
