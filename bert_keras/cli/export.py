"""`bert-keras export`: a saved model or a preset, out of Keras.

Formats: a TensorFlow SavedModel that takes raw text (for TensorFlow
Serving), an ONNX folder on token ids (for ONNX Runtime), a Hugging Face
transformers folder, a keras-hub preset folder, or a Google checkpoint
folder (the original's TF1 names). A pretrainer from
`bert-keras pretrain` exports as `google` or `huggingface`, with the
`vocab.txt` beside its `model.keras`.

Example:
```
bert-keras export --model runs/mrpc/model.keras --output exported/mrpc
bert-keras export --model runs/mrpc/model.keras --output exported/mrpc-onnx --format onnx
bert-keras export --model runs/mrpc/model.keras --output exported/mrpc-int8 --format onnx --quantize int8
bert-keras export --preset bert_base_en_uncased --output hf/bert --format huggingface
bert-keras export --model runs/phase2/model.keras --output google/bert --format google
```
"""

import pathlib

from bert_keras.cli.arguments import positive
from bert_keras.cli.common import check_sequence_length

FORMATS = ("saved_model", "onnx", "huggingface", "keras_hub", "google")


def add_parser(commands):
    parser = commands.add_parser(
        "export",
        help="export a model as a SavedModel on raw text, or to transformers or keras-hub",
        description=(
            "Export a fine-tuned model (a .keras file from `bert-keras classify` "
            "or `model.save`) or a pretrained preset's backbone."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="a .keras file holding a BertClassifier, BertSpanLabeler, "
                        "BertMultipleChoice, BertTokenClassifier, "
                        "BertPretrainer or BertBackbone")
    source.add_argument("--preset", help="a preset name or path, exported as a backbone for feature extraction")
    parser.add_argument("--output", required=True, help="the folder to create")
    parser.add_argument(
        "--format", choices=FORMATS, default="saved_model",
        help="saved_model: TensorFlow SavedModel taking raw text; onnx: "
        "model.onnx on token ids with the tokenizer's files; huggingface: "
        "transformers folder; keras_hub: keras-hub preset folder; google: the "
        "original's checkpoint folder (default: %(default)s)",
    )
    parser.add_argument(
        "--max-seq-length", type=positive(int, minimum=3),
        help="longest packed sequence (default: the model's preprocessor, or "
        "the preset's number of positions)",
    )
    parser.add_argument(
        "--null-score-diff-threshold", type=float,
        help="a SQuAD 2.0 span labeler's threshold for answering \"\" (default: always answer, as SQuAD 1.1)",
    )
    parser.add_argument(
        "--quantize", choices=("int8",),
        help="with --format onnx: ONNX Runtime's dynamic int8 model (int8 weights, "
        "activations quantized per call), the fastest on CPUs with VNNI",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT folder")
    parser.set_defaults(run=run)


def run(args):
    from bert_keras.errors import ExportError
    from bert_keras.export.atomic_directory import check_destination

    output = pathlib.Path(args.output)
    # Refused before any loading, which can take a while for large models.
    check_destination(output, args.overwrite, inputs=[args.model, _local_preset(args.preset)])
    if args.preset is not None:
        # Also finds a preset that does not exist before Keras is imported.
        check_sequence_length(args.preset, args.max_seq_length or 0)
    if args.null_score_diff_threshold is not None and args.format != "saved_model":
        raise ExportError(
            "--null-score-diff-threshold is part of a SavedModel's answers; "
            f"the {args.format} format has no place for it. Leave it out."
        )
    if args.quantize is not None and args.format != "onnx":
        raise ExportError(
            f"--quantize {args.quantize} makes an ONNX Runtime model; add --format onnx."
        )
    model, preprocessor = _load(args)
    from bert_keras.models import BertTokenClassifier

    tagger = isinstance(model, BertTokenClassifier)
    if preprocessor is None and not tagger and args.format in ("saved_model", "onnx", "keras_hub"):
        raise ExportError(
            f"A {type(model).__name__} exports as --format google or huggingface; "
            f"the {args.format} format serves task models on raw text."
        )
    if args.format == "google":
        from bert_keras.export.google_checkpoint import to_google_checkpoint

        to_google_checkpoint(model, output, _export_vocabulary(preprocessor, args),
                             overwrite=args.overwrite)
        print(f"Wrote a Google checkpoint folder to {output}.")
    elif args.format == "saved_model":
        from bert_keras.export import export_saved_model

        export_saved_model(
            model, output, preprocessor=preprocessor, overwrite=args.overwrite,
            null_score_diff_threshold=args.null_score_diff_threshold,
        )
        from bert_keras.models import BertMultipleChoice, BertSentenceEncoder

        if hasattr(preprocessor, "doc_stride"):
            inputs = "(question, context)"
        elif isinstance(model, BertMultipleChoice):
            inputs = "(context, choices)"
        elif tagger or isinstance(model, BertSentenceEncoder):
            inputs = "(text)"
        else:
            inputs = "(text_a, text_b), serve_text (text_a)"
        print(f"Exported a SavedModel to {output}; signatures serving_default {inputs} and serve_token_ids.")
    elif args.format == "onnx":
        from bert_keras.export import export_onnx

        export_onnx(model, output, preprocessor=preprocessor, overwrite=args.overwrite,
                    quantize=args.quantize)
        kind = "an int8 " if args.quantize else ""
        print(f"Exported {kind}{output / 'model.onnx'} on token ids (token_ids, segment_ids, "
              "padding_mask: int32), with the tokenizer's files beside it.")
    elif args.format == "huggingface":
        from bert_keras.export import to_huggingface

        tokenizer = (preprocessor.tokenizer if preprocessor is not None
                     else getattr(model, "tokenizer", None) or _vocabulary_tokenizer(args))
        to_huggingface(model, output, tokenizer=tokenizer, overwrite=args.overwrite)
        print(f"Wrote a Hugging Face transformers folder to {output}.")
    else:
        from bert_keras.export import to_keras_hub

        to_keras_hub(
            model, output, tokenizer=preprocessor.tokenizer,
            sequence_length=preprocessor.sequence_length, overwrite=args.overwrite,
        )
        print(f"Wrote a keras-hub preset to {output}.")


def _export_vocabulary(preprocessor, args):
    """The tokens of the export: the preprocessor's, or the vocab.txt beside
    a pretrainer's model file."""
    if preprocessor is not None:
        return preprocessor.tokenizer.get_vocabulary()
    return str(pathlib.Path(args.model).parent / "vocab.txt")


def _vocabulary_tokenizer(args):
    """The tokenizer of the vocab.txt beside a pretrainer's model file, its
    casing read from the vocabulary."""
    from bert_keras.presets.loader import vocabulary_is_uncased
    from bert_keras.tokenizers import BertTokenizer

    vocabulary = pathlib.Path(args.model).parent / "vocab.txt"
    return BertTokenizer(vocabulary=str(vocabulary), lowercase=vocabulary_is_uncased(vocabulary))


def _local_preset(preset):
    """The local files a --preset names, which the export must not replace."""
    if preset is None or preset.startswith("hf://"):
        return None
    return pathlib.Path(preset).expanduser()


def _load(args):
    """The model to export and the preprocessor that feeds it."""
    from bert_keras.cli.common import load_saved_model
    from bert_keras.errors import ExportError
    from bert_keras.preprocessing import BertPreprocessor

    if args.preset is not None:
        from bert_keras.models import BertBackbone

        model = BertBackbone.from_preset(args.preset)
        preprocessor = BertPreprocessor.from_preset(
            args.preset, sequence_length=args.max_seq_length or model.max_sequence_length
        )
        return model, preprocessor
    path = pathlib.Path(args.model)
    if not path.is_file():
        raise ExportError(
            f"{path} is not a file; --model takes a .keras file saved by "
            "`bert-keras classify` or `model.save(...)`."
        )
    # A Google checkpoint records the training step, which the optimizer
    # state holds; the other formats need the weights only.
    model = load_saved_model(path, compile=args.format == "google")
    preprocessor = getattr(model, "preprocessor", None)
    from bert_keras.models import BertPretrainer, BertTokenClassifier

    if isinstance(model, BertTokenClassifier):
        if args.format not in ("huggingface", "saved_model", "onnx"):
            raise ExportError(
                "A BertTokenClassifier exports as --format saved_model, onnx or huggingface "
                f"(a BertForTokenClassification folder), not as {args.format}."
            )
        if args.max_seq_length is not None:
            raise ExportError(
                "A BertTokenClassifier reads long texts in windows of the length it "
                f"was trained with ({model.sequence_length}); leave out --max-seq-length."
            )
        return model, None

    if preprocessor is None and isinstance(model, BertPretrainer):
        if not (path.parent / "vocab.txt").is_file():
            raise ExportError(
                f"No vocab.txt beside {path}: put the vocabulary the model was "
                "trained with there (`bert-keras pretrain` writes it)."
            )
        return model, None
    if preprocessor is None:
        raise ExportError(
            f"The model in {path} has no preprocessor, so the export cannot "
            "take raw text; export with --preset instead, or attach a "
            "preprocessor before saving."
        )
    if args.max_seq_length is not None:
        config = dict(preprocessor.get_config(), sequence_length=args.max_seq_length)
        config["tokenizer"] = preprocessor.tokenizer
        preprocessor = type(preprocessor).from_config(config)
    return model, preprocessor
