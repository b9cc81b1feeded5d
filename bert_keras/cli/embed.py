"""`bert-keras embed`: sentence embeddings of a text file, one per line.

Example:
```
bert-keras embed --preset all_minilm_l6_v2 --input-file sentences.txt --output-file embeddings.npy
bert-keras embed --preset bert_base_en_uncased --pooling cls --input-file s.txt --output-file e.jsonl
```
"""

from bert_keras.cli.arguments import positive
from bert_keras.options import POOLING_MODES


def add_parser(commands):
    parser = commands.add_parser(
        "embed",
        help="write one sentence embedding per line of a text file",
        description=(
            "Embed every line of a UTF-8 text file with a BertSentenceEncoder "
            "and write the embeddings in line order: a float32 [lines, dim] "
            "matrix for OUTPUT_FILE.npy, JSON Lines for OUTPUT_FILE.jsonl. A "
            "sentence-transformers preset (such as all_minilm_l6_v2) brings "
            "its own pooling, normalization and length."
        ),
    )
    parser.add_argument("--preset", required=True,
                        help="a preset name, a local Google, Hugging Face or "
                        "sentence-transformers folder or zip, or hf://org/name")
    parser.add_argument("--input-file", required=True, help="UTF-8 text, one sentence per line")
    parser.add_argument("--output-file", required=True,
                        help="embeddings.npy (a float32 matrix) or embeddings.jsonl")
    parser.add_argument("--pooling", choices=POOLING_MODES, default=None,
                        help="how token vectors become one vector (default: the "
                        "preset's sentence-transformers setting, else mean)")
    parser.add_argument("--normalize", action="store_true", default=None,
                        help="scale embeddings to unit length (default: the preset's setting)")
    parser.add_argument("--no-normalize", dest="normalize", action="store_false",
                        help="do not scale embeddings, whatever the preset says")
    parser.add_argument("--max-seq-length", type=positive(int, minimum=3), default=None,
                        help="longest packed sequence in tokens; longer lines are "
                        "truncated (default: the preset's, else 128)")
    parser.add_argument("--batch-size", type=positive(int), default=32,
                        help="lines per forward pass (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT_FILE")
    parser.set_defaults(run=run)


def run(args):
    import pathlib

    from bert_keras.cli.common import check_sequence_length
    from bert_keras.data.line_inputs import check_readable, count_lines
    from bert_keras.errors import OutputError
    from bert_keras.safe_paths import check_output_file

    check_readable(args.input_file)
    if pathlib.Path(args.output_file).suffix not in (".npy", ".jsonl"):
        raise OutputError(
            f"--output-file {args.output_file} must end in .npy (a float32 matrix) "
            "or .jsonl (one JSON object per line)."
        )
    check_output_file(args.output_file, args.overwrite, inputs=[args.input_file, args.preset])
    if args.max_seq_length is not None:
        check_sequence_length(args.preset, args.max_seq_length)
    total = count_lines(args.input_file)

    import numpy as np

    from bert_keras.cli.common import progress
    from bert_keras.data.embedding_files import write_embeddings
    from bert_keras.data.line_inputs import read_lines
    from bert_keras.models import BertSentenceEncoder

    print(f"Loading preset {args.preset}...")
    encoder = BertSentenceEncoder.from_preset(
        args.preset, pooling=args.pooling, normalize=args.normalize,
        sequence_length=args.max_seq_length,
    )
    print(
        f"Pooling {encoder.pooling}, {'' if encoder.normalize else 'not '}normalized, "
        f"up to {encoder.preprocessor.sequence_length} tokens."
    )
    dim = encoder.output.shape[-1]

    def batches():
        batch = []
        for line in progress(read_lines(args.input_file), total=total, unit="line",
                             desc="Embedding"):
            batch.append(line)
            if len(batch) == args.batch_size:
                yield np.asarray(encoder.predict_on_batch(encoder.preprocessor(batch)))
                batch = []
        if batch:
            yield np.asarray(encoder.predict_on_batch(encoder.preprocessor(batch)))

    count = write_embeddings(args.output_file, batches(), total, dim)
    print(f"Wrote {count} embeddings of dimension {dim} to {args.output_file}.")
    return 0
