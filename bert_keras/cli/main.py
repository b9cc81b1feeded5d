"""Entry point of the `bert-keras` console script."""

import argparse
import os
import sys

# TensorFlow's start-up log lines would bury the command's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bert_keras.cli import classify, demo, export, presets, squad, squad_eval  # noqa: E402
from bert_keras.errors import BertKerasError  # noqa: E402

COMMANDS = {
    "demo": demo,
    "classify": classify,
    "squad": squad,
    "squad-eval": squad_eval,
    "export": export,
    "presets": presets,
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="bert-keras",
        description="Google's original BERT, rebuilt for Keras 3.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_parser(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except BertKerasError as error:
        print(f"bert-keras {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
