"""`bert-keras presets list` and `bert-keras presets download NAME`."""

import json

from bert_keras.presets import download_preset, list_presets, preset_table


def add_parser(commands):
    parser = commands.add_parser("presets", help="list or download named presets")
    actions = parser.add_subparsers(
        dest="action", required=True, metavar="ACTION", help="list or download"
    )
    listing = actions.add_parser("list", help="print the table of presets")
    listing.add_argument(
        "--json", action="store_true", help="print every field as JSON instead"
    )
    listing.set_defaults(run=run_list)
    fetch = actions.add_parser(
        "download", help="download a preset into the cache and print its folder"
    )
    fetch.add_argument(
        "name",
        help="a preset name, alias or Google folder name; a Hugging Face preset "
        "prints its installed folder, or downloads it from the Hub",
    )
    fetch.set_defaults(run=run_download)


def run_list(args):
    if args.json:
        rows = [
            {
                "name": info.name,
                "aliases": list(info.aliases),
                "google_name": info.google_name,
                **info.architecture,
                "num_parameters": info.num_parameters,
                "lowercase": info.lowercase,
                "language": info.language,
                "source": info.source_description(),
                "url": info.url,
                "description": info.description,
            }
            for info in list_presets()
        ]
        print(json.dumps(rows, indent=2))
    else:
        print(preset_table())


def run_download(args):
    print(download_preset(args.name))
