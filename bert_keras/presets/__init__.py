"""Named presets: the registry, downloads, the cache and conversion.

`list_presets()` describes every preset; `BertBackbone.from_preset`,
`BertTokenizer.from_preset` and `BertPreprocessor.from_preset` load them.
"""

from bert_keras.presets.download import download_preset
from bert_keras.presets.loader import load_pretraining_heads, resolve_preset
from bert_keras.presets.registry import PresetInfo, get_preset_info, list_presets
from bert_keras.presets.table import preset_table

__all__ = [
    "PresetInfo",
    "download_preset",
    "get_preset_info",
    "list_presets",
    "load_pretraining_heads",
    "preset_table",
    "resolve_preset",
]
