"""`bert-keras extract-features`: the original `extract_features.py`.

Reads one example per line (a pair split on ` ||| `), runs the preset's
backbone, and writes the chosen encoder blocks' outputs for every token:
the original's JSON Lines, or a compact `.npz` when the output file ends in
`.npz` (see `bert_keras.data.feature_files`). Casing comes from the preset.

Example:
```
bert-keras extract-features --input-file input.txt --output-file output.jsonl \\
    --preset bert_base_en_uncased --layers=-1,-2,-3,-4 --max-seq-length 128
bert-keras extract-features --input-file corpus.txt --output-file features.npz \\
    --preset /data/uncased_L-12_H-768_A-12 --layers=-1
```
"""

import argparse

from bert_keras.cli.arguments import positive


def layer_list(text):
    """An argparse `type`: comma-separated ints, like the original's flag."""
    try:
        layers = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as -1,-2,-3,-4, got {text!r}"
        ) from None
    return layers


def add_parser(commands):
    parser = commands.add_parser(
        "extract-features",
        help="write per-token vectors of chosen layers, as extract_features.py",
        description=(
            "Run a pretrained BERT over a text file and write, for every token "
            "of every line, the outputs of the chosen encoder blocks: JSON "
            "Lines in the original extract_features.py format, or a compact "
            ".npz when OUTPUT_FILE ends in .npz. Each line is one example; "
            "'A ||| B' is a sentence pair."
        ),
    )
    parser.add_argument("--input-file", required=True,
                        help="UTF-8 text, one example per line")
    parser.add_argument("--output-file", required=True,
                        help="where to write: *.npz for arrays, anything else for JSON Lines")
    parser.add_argument("--preset", required=True,
                        help="a preset name, a local Google or Hugging Face folder or zip, or "
                        "hf://org/name; casing comes from it")
    # A string default goes through `type` like a typed value.
    parser.add_argument("--layers", type=layer_list, default="-1,-2,-3,-4",
                        help="encoder blocks to write, in this order: 0 is the first "
                        "block's output, -1 the last (default: %(default)s)")
    parser.add_argument("--max-seq-length", type=positive(int, minimum=3), default=128,
                        help="longest packed sequence in tokens; longer lines are "
                        "truncated as in the original (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive(int), default=8,
                        help="lines per forward pass (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing OUTPUT_FILE")
    parser.set_defaults(run=run)


def run(args):
    from bert_keras.cli.common import check_sequence_length
    from bert_keras.data.line_inputs import check_readable, count_lines
    from bert_keras.options import check_layers
    from bert_keras.presets.loader import backbone_config
    from bert_keras.safe_paths import check_output_file

    # Every check before Keras is imported, so a refusal costs nothing.
    check_readable(args.input_file)
    check_output_file(args.output_file, args.overwrite, inputs=[args.input_file, args.preset])
    check_sequence_length(args.preset, args.max_seq_length)
    layers = check_layers(args.layers, backbone_config(args.preset)["num_layers"])
    total = count_lines(args.input_file)

    from bert_keras.cli.common import progress
    from bert_keras.data.feature_files import write_jsonl, write_npz
    from bert_keras.data.line_inputs import read_examples
    from bert_keras.models.bert_feature_extractor import BertFeatureExtractor

    print(f"Loading preset {args.preset}...")
    extractor = BertFeatureExtractor.from_preset(
        args.preset, layers=layers, sequence_length=args.max_seq_length
    )
    examples = progress(
        enumerate(extractor.iter_extract(read_examples(args.input_file), args.batch_size)),
        total=total, unit="line", desc="Extracting",
    )
    if str(args.output_file).endswith(".npz"):
        count = write_npz(args.output_file, examples, layers)
    else:
        count = write_jsonl(args.output_file, examples)
    print(f"Wrote the features of {count} lines ({', '.join(map(str, layers))}) to "
          f"{args.output_file}.")
    return 0

