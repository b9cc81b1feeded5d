"""Fine-tuning throughput: dynamic padding vs fixed padding vs keras-hub.

Fine-tunes a BERT-Tiny-sized classifier (2 layers, hidden 128, random
weights) on short sentences like SST-2's (the package's sentiment set,
repeated), side by side in one process: bert_keras with length-bucketed
dynamic padding, bert_keras padded to 128 tokens, and keras-hub's
`BertTextClassifier` (which pads to its sequence length). Reports examples
per second over timed epochs after a compiling warm-up epoch. Usage:

    KERAS_BACKEND=jax python benchmarks/finetune_throughput.py [--examples 4096]
"""

import argparse
import pathlib
import time

import keras
import numpy as np

REFERENCE = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "reference"
ARCHITECTURE = dict(num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512)


def vocabulary_for(sentences):
    path = REFERENCE / "tokenization" / "vocab_uncased.txt"
    if path.exists():
        return path.read_text("utf-8").splitlines()
    words = sorted({w for s in sentences for w in s.lower().replace(".", " .").split()})
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]


def examples_per_second(model, sentences, labels, batch_size, epochs):
    model.fit(sentences, labels, batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(sentences, labels, batch_size=batch_size, epochs=epochs, verbose=0)
    return len(sentences) * epochs / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sequence-length", type=int, default=128)
    args = parser.parse_args()

    import keras_hub

    from bert_keras.data import load_sentiment_demo
    from bert_keras.models import BertBackbone, BertClassifier
    from bert_keras.preprocessing import BertPreprocessor
    from bert_keras.tokenizers import BertTokenizer

    sentences, labels = load_sentiment_demo()
    repeats = args.examples // len(sentences) + 1
    sentences = (list(sentences) * repeats)[: args.examples]
    labels = np.tile(labels, repeats)[: args.examples]
    vocabulary = vocabulary_for(sentences)
    tokenizer = BertTokenizer(vocabulary)
    lengths = [len(ids) + 2 for ids in tokenizer(sentences).to_list()]

    def ours(padding):
        keras.utils.set_random_seed(0)
        backbone = BertBackbone(
            vocabulary_size=len(vocabulary), max_sequence_length=512, **ARCHITECTURE
        )
        preprocessor = BertPreprocessor(
            tokenizer, sequence_length=args.sequence_length, padding=padding
        )
        classifier = BertClassifier(backbone, 2, preprocessor=preprocessor)
        classifier.compile(optimizer=keras.optimizers.Adam(2e-5))
        return classifier

    def keras_hub_classifier():
        keras.utils.set_random_seed(0)
        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=len(vocabulary), max_sequence_length=512, **ARCHITECTURE
        )
        preprocessor = keras_hub.models.BertTextClassifierPreprocessor(
            keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True),
            sequence_length=args.sequence_length,
        )
        classifier = keras_hub.models.BertTextClassifier(
            backbone, num_classes=2, preprocessor=preprocessor
        )
        classifier.compile(optimizer=keras.optimizers.Adam(2e-5))
        return classifier

    rates = {
        "bert_keras, dynamic padding": examples_per_second(
            ours("longest"), sentences, labels, args.batch_size, args.epochs
        ),
        f"bert_keras, padded to {args.sequence_length}": examples_per_second(
            ours("max_length"), sentences, labels, args.batch_size, args.epochs
        ),
        f"keras-hub BertTextClassifier ({args.sequence_length})": examples_per_second(
            keras_hub_classifier(), sentences, labels, args.batch_size, args.epochs
        ),
    }
    print(
        f"backend={keras.backend.backend()} examples={len(sentences)} "
        f"tokens per example: mean {np.mean(lengths):.1f}, max {max(lengths)}; "
        f"batch {args.batch_size}"
    )
    baseline = rates["bert_keras, dynamic padding"]
    for name, rate in rates.items():
        print(f"{name:40s} {rate:8.1f} examples/s   time ratio {baseline / rate:5.2f}")


if __name__ == "__main__":
    main()
