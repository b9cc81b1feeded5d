"""`bert-keras tag-eval`: the CoNLL `conlleval` script, as a command.

Reads conlleval's input (one token per line, the gold and the predicted tag
last, sentences separated by empty lines) from a file or standard input and
prints exactly what `conlleval` prints, with its options `-d`, `-o`, `-r`
and `-l`, so scripts that pipe into `conlleval` can switch.

Example:
```
bert-keras tag-eval runs/ner/predictions.txt
bert-keras tag-eval - < output.txt
```
"""

import contextlib
import sys


def add_parser(commands):
    parser = commands.add_parser(
        "tag-eval",
        help="score tagged tokens with the CoNLL conlleval script's metrics",
        description="Score conlleval input (tokens, then the gold and the predicted tag "
                    "last) and print what conlleval prints.",
    )
    parser.add_argument("file", help="the tagged file, or - for standard input")
    parser.add_argument(
        "-d", "--delimiter", default=" ",
        help="field delimiter, a regular expression (default: '%(default)s', a single space)",
    )
    parser.add_argument("-o", "--outside-tag", default="O",
                        help="the outside tag, with -r (default: %(default)s)")
    parser.add_argument("-r", "--raw", action="store_true",
                        help="tags have no B-/I- prefix; each tagged token is one phrase")
    parser.add_argument("-l", "--latex", action="store_true",
                        help="print the per-type table in LaTeX, as conlleval -l")
    parser.set_defaults(run=run)


def run(args):
    import re

    from bert_keras.data.conlleval import evaluate
    from bert_keras.errors import DataError

    try:
        re.compile(args.delimiter)
    except re.error as error:
        raise DataError(f"--delimiter {args.delimiter!r} is not a regular expression: {error}.")
    name = "standard input" if args.file == "-" else args.file
    try:
        # Bytes as Latin-1, one character each: types sort and pad by bytes
        # and print back unchanged, as in the Perl script.
        stdin = contextlib.nullcontext(sys.stdin.buffer)
        with (open(args.file, "rb") if args.file != "-" else stdin) as file:
            lines = (line.decode("latin-1") for line in file)
            counts = evaluate(lines, args.delimiter, args.outside_tag, args.raw)
    except OSError as error:
        raise DataError(f"Cannot read {name}: {error.strerror}.") from None
    except DataError as error:
        raise DataError(f"{name}, {error}") from None
    sys.stdout.flush()
    sys.stdout.buffer.write(counts.report(latex=args.latex).encode("latin-1"))
    sys.stdout.buffer.flush()
