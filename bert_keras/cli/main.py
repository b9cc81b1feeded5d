"""Entry point of the `bert-keras` console script."""

import argparse
import sys

from bert_keras.cli import (
    classify,
    demo,
    embed,
    export,
    extract_features,
    multiple_choice,
    presets,
    pretrain,
    pretraining_data,
    squad,
    squad_eval,
    tag,
    tag_eval,
)
from bert_keras.cli.quiet import native_logs_silenced
from bert_keras.errors import BertKerasError

COMMANDS = {
    "demo": demo,
    "classify": classify,
    "squad": squad,
    "squad-eval": squad_eval,
    "multiple-choice": multiple_choice,
    "tag": tag,
    "tag-eval": tag_eval,
    "extract-features": extract_features,
    "embed": embed,
    "pretraining-data": pretraining_data,
    "pretrain": pretrain,
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
    with native_logs_silenced():
        try:
            return args.run(args) or 0
        except BertKerasError as error:
            print(f"bert-keras {args.command}: error: {error}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
