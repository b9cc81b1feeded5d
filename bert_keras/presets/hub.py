"""Hugging Face Hub downloads of BERT folders, through `huggingface_hub`'s cache."""

import pathlib

from bert_keras.errors import PresetError

# What a Hub download of a BERT folder fetches: the model, its tokenizer
# settings, and a sentence-transformers folder's pooling and length.
HUB_PATTERNS = (
    "config.json",
    "*.safetensors",
    "vocab.txt",
    "tokenizer_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "*_Pooling/config.json",
)


def fetch_hub_folder(repo_id: str, how: str = "") -> pathlib.Path:
    """A Hub repository's BERT files, through `huggingface_hub`'s own cache."""
    try:
        import huggingface_hub

        folder = huggingface_hub.snapshot_download(repo_id, allow_patterns=list(HUB_PATTERNS))
    except Exception as error:
        raise PresetError(
            f"Could not fetch hf://{repo_id} from the Hugging Face Hub ({error}). "
            f"Offline, download the folder elsewhere and pass its local path{', ' + how if how else ''}."
        ) from None
    return pathlib.Path(folder)
