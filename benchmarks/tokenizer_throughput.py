"""Tokenizer throughput in tf.data: bert_keras vs tf-text vs keras-hub.

Tokenizes the same sentences with each tokenizer, side by side in one
process, and reports sentences per second and the time ratio to
bert_keras. The peers are faster because they skip steps of the original
algorithm (see the README's exactness table), which is why they differ from
Google's `FullTokenizer` on hundreds of the reference cases. Usage:

    python benchmarks/tokenizer_throughput.py [--sentences 100000] [--batch-size 256]

Needs the reference vocabulary and sample text in ../shared/reference.
"""

import argparse
import pathlib
import time

import tensorflow as tf

REFERENCE = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def interleaved_throughput(tokenizers, sentences, batch_size, rounds=5):
    """Median sentences per second of each tokenizer, measured in turns so
    that machine noise hits them alike; a pass takes well under a second."""
    datasets = {}
    for name, tokenize in tokenizers.items():
        dataset = tf.data.Dataset.from_tensor_slices(sentences).batch(batch_size)
        datasets[name] = dataset.map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        for _ in datasets[name]:  # trace, warm up and let autotuning settle
            pass
    rates = {name: [] for name in tokenizers}
    for _ in range(rounds):
        for name, dataset in datasets.items():
            start = time.perf_counter()
            for _ in dataset:
                pass
            rates[name].append(len(sentences) / (time.perf_counter() - start))
    return {name: sorted(values)[len(values) // 2] for name, values in rates.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=100000)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    import keras_hub
    import tensorflow_text as tf_text

    from bert_keras.tokenizers import BertTokenizer

    vocabulary_path = REFERENCE / "tokenization" / "vocab_uncased.txt"
    if not vocabulary_path.exists():
        raise SystemExit(f"The reference data is absent: {vocabulary_path}")
    vocabulary = vocabulary_path.read_text("utf-8").splitlines()
    lines = [
        line.strip()
        for line in (REFERENCE / "sample_text.txt").read_text("utf-8").splitlines()
        if line.strip()
    ]
    sentences = (lines * (args.sentences // len(lines) + 1))[: args.sentences]

    ours = BertTokenizer(vocabulary, lowercase=True)
    fast = tf_text.FastBertTokenizer(
        vocab=vocabulary, lower_case_nfd_strip_accents=True, token_out_type=tf.int32
    )
    hub = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=vocabulary, lowercase=True)
    rates = interleaved_throughput(
        {
            "bert_keras": ours.tokenize,
            "bert_keras (offsets)": lambda x: ours.tokenize_with_offsets(x)[0],
            "tf_text.FastBertTokenizer": fast.tokenize,
            "keras_hub WordPiece": hub.tokenize,
        },
        sentences,
        args.batch_size,
    )
    print(f"{len(sentences)} sentences, batch {args.batch_size}")
    for name, rate in rates.items():
        print(
            f"{name:28s} {rate:10.0f} sentences/s   time ratio to bert_keras "
            f"{rates['bert_keras'] / rate:5.2f}"
        )


if __name__ == "__main__":
    main()
