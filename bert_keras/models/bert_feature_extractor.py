import keras
import numpy as np

from bert_keras.errors import DataError
from bert_keras.options import DEFAULT_LAYERS, check_layers

@keras.saving.register_keras_serializable(package="bert_keras")
class BertFeatureExtractor(keras.Model):
    """Fixed contextual features: chosen encoder blocks' outputs per token.

    The model of the original `extract_features.py`: each text (or pair) is
    packed as for classification, and the outputs of the encoder blocks in
    `layers` are returned for every real token, `[CLS]` and `[SEP]`
    included. Called on token-id dicts, it returns float32
    `[batch, len(layers), seq, hidden]`; `extract` takes raw text and
    returns, per example, its tokens and one `[tokens, hidden]` array per
    layer.

    Args:
        backbone: a `bert_keras.models.BertBackbone`.
        preprocessor: a `bert_keras.preprocessing.BertPreprocessor`, needed
            by `extract`.
        layers: ints. Encoder blocks to return, in this order: 0 is the
            first block's output, -1 the last (Python indexing).
        **kwargs: other `keras.Model` arguments (`name`).

    Example:
    ```python
    from bert_keras.models import BertFeatureExtractor

    extractor = BertFeatureExtractor.from_preset("bert_base_en_uncased", layers=[-1, -2])
    (example,) = extractor.extract([("Who was Jim Henson?", "Jim Henson was a puppeteer")])
    example["tokens"][:3]          # ['[CLS]', 'who', 'was']
    example["layers"][-1].shape    # (14, 768): the last block, one row per token
    ```
    """

    def __init__(self, backbone, preprocessor=None, layers=DEFAULT_LAYERS, **kwargs):
        layers = check_layers(layers, len(backbone.encoder_blocks))
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor

        # === Functional Model ===
        inputs = backbone.input
        blocks = backbone(inputs)["encoder_outputs"]
        chosen = [keras.ops.cast(blocks[index], "float32") for index in layers]
        outputs = keras.ops.stack(chosen, axis=1)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.layer_indices = layers

    def extract(self, texts, batch_size=8):
        """Features of raw texts; see `iter_extract`. Returns a list."""
        return list(self.iter_extract(texts, batch_size=batch_size))

    def iter_extract(self, texts, batch_size=8):
        """Yields the features of each text, reading `texts` lazily.

        Args:
            texts: an iterable of strings, `(text_a, text_b)` pairs (a
                `text_b` of None or "" is a single sentence), or a mix.
            batch_size: int. Texts per forward pass.

        Yields:
            Per text, a dict: `tokens` (list of str, the packed WordPiece
            tokens) and `layers` (dict from each index in `layers` to a
            float32 array `[len(tokens), hidden]`).
        """
        if self.preprocessor is None:
            raise DataError(
                "extract needs a preprocessor to read text: build the extractor "
                "with `BertFeatureExtractor.from_preset(...)` or pass "
                "`preprocessor=BertPreprocessor(...)`."
            )
        vocabulary = self.preprocessor.tokenizer.get_vocabulary()
        batch = []
        for position, text in enumerate(texts):
            batch.append(_as_pair(text, position))
            if len(batch) == batch_size:
                yield from self._extract_batch(batch, vocabulary)
                batch = []
        if batch:
            yield from self._extract_batch(batch, vocabulary)

    def _extract_batch(self, batch, vocabulary):
        inputs = self.preprocessor(([a for a, _ in batch], [b or "" for _, b in batch]))
        features = np.asarray(self.predict_on_batch(inputs))
        token_ids = np.asarray(inputs["token_ids"])
        lengths = np.asarray(inputs["padding_mask"]).sum(axis=1)
        for row, length in enumerate(lengths):
            yield {
                "tokens": [vocabulary[i] for i in token_ids[row, :length]],
                "layers": {
                    index: features[row, position, :length]
                    for position, index in enumerate(self.layer_indices)
                },
            }

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "layers": list(self.layer_indices),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        from bert_keras.models.bert_task import deserialized_parts

        return cls(**deserialized_parts(config))

    @classmethod
    def from_preset(cls, preset, layers=DEFAULT_LAYERS, sequence_length=128, **kwargs):
        """An extractor on a pretrained backbone, with the preset's tokenizer.

        Args:
            preset: a preset name, a local Google or Hugging Face folder or
                zip, or `hf://org/name`; see `BertBackbone.from_preset`.
            layers: ints. Encoder blocks to return (default: the last four).
            sequence_length: int. The longest packed sequence (128, as in
                the original); longer texts are truncated as it does.
            **kwargs: other `BertFeatureExtractor` arguments (`name`).
        """
        from bert_keras.models.bert_backbone import BertBackbone
        from bert_keras.models.bert_task import BertTask
        from bert_keras.preprocessing.bert_preprocessor import BertPreprocessor
        from bert_keras.presets.loader import resolve_preset

        preset = resolve_preset(preset)
        backbone = BertBackbone.from_preset(preset)
        BertTask._check_sequence_length(backbone, sequence_length)
        preprocessor = BertPreprocessor.from_preset(
            preset, sequence_length=sequence_length, padding="longest"
        )
        return cls(backbone, preprocessor=preprocessor, layers=layers, **kwargs)


def _as_pair(text, position):
    if isinstance(text, (str, bytes)):
        return text, None
    if isinstance(text, (tuple, list)) and len(text) == 2 and isinstance(text[0], (str, bytes)) \
            and (text[1] is None or isinstance(text[1], (str, bytes))):
        return text[0], text[1]
    raise DataError(
        f"Text {position} is {type(text).__name__} {text!r:.60}; pass a "
        "string or a (text_a, text_b) pair of strings."
    )
