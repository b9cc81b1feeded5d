import keras

from bert_keras.layers.sentence_pooling import SentencePooling
from bert_keras.models.bert_task import BertTask
from bert_keras.options import pooling_modes

# A preset that is not a sentence-transformers folder gets the preset
# classifier's packing length, and the mean over tokens, which embeds better
# than the first token for a BERT that was never tuned for embeddings.
DEFAULT_SEQUENCE_LENGTH = 128
DEFAULT_POOLING = "mean"


@keras.saving.register_keras_serializable(package="bert_keras")
class BertSentenceEncoder(BertTask):
    """Sentence embeddings: a backbone, a pooling, optionally L2 normalization.

    The model of sentence-transformers on a BERT: the backbone's final token
    vectors are pooled over the real tokens (see `SentencePooling` for the
    modes) and, with `normalize=True`, scaled to unit length so that a dot
    product is the cosine similarity. Embeddings are float32 of shape
    `[batch, hidden]` (`hidden` times the number of modes for a list).

    With its preprocessor attached (the default of `from_preset`), `predict`
    takes raw strings.

    Args:
        backbone: a `bert_keras.models.BertBackbone`.
        preprocessor: a `bert_keras.preprocessing.BertPreprocessor`, or None
            to feed token-id dicts.
        pooling: `"cls"`, `"pooled"`, `"mean"`, `"max"`, `"mean_sqrt_len"`,
            or a list of these to concatenate.
        normalize: bool. Scale each embedding to unit L2 norm.
        **kwargs: other `keras.Model` arguments (`name`).

    Example:
    ```python
    import numpy as np
    from bert_keras.models import BertSentenceEncoder

    # Pooling, normalization and length come from the sentence-transformers
    # folder: mean pooling, normalized, 256 tokens.
    encoder = BertSentenceEncoder.from_preset("all_minilm_l6_v2")
    embeddings = encoder.predict(["A man is eating food.", "Someone eats.", "A plane lands."])
    embeddings.shape                 # (3, 384)
    embeddings @ embeddings.T        # cosine similarities
    ```
    """

    def __init__(self, backbone, preprocessor=None, pooling=DEFAULT_POOLING, normalize=False,
                 **kwargs):
        pooling_modes(pooling)
        self._check_sequence_length(backbone, getattr(preprocessor, "sequence_length", None))
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooling_layer = SentencePooling(pooling, name="pooling")
        self.normalization = (
            keras.layers.UnitNormalization(axis=-1, dtype="float32", name="normalize")
            if normalize else None
        )

        # === Functional Model ===
        inputs = backbone.input
        outputs = backbone(inputs)
        embeddings = self.pooling_layer(
            outputs["sequence_output"], inputs["padding_mask"], outputs["pooled_output"]
        )
        if self.normalization is not None:
            embeddings = self.normalization(embeddings)
        super().__init__(inputs=inputs, outputs=embeddings, **kwargs)

        # === Config ===
        self.pooling = self.pooling_layer.pooling
        self.normalize = bool(normalize)

    def default_loss(self):
        raise ValueError(
            "BertSentenceEncoder has no training objective of its own: "
            "compile it with a loss over embeddings, e.g. "
            "`encoder.compile(loss=my_contrastive_loss)`."
        )

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "pooling": self.pooling,
            "normalize": self.normalize,
            "name": self.name,
        }

    @classmethod
    def from_preset(cls, preset, pooling=None, normalize=None, sequence_length=None,
                    load_weights=True, **kwargs):
        """An encoder on a pretrained backbone, with the preset's tokenizer.

        A sentence-transformers folder (such as the `all_minilm_l6_v2`
        preset) sets the pooling, the normalization and the length as its
        `modules.json`, `1_Pooling/config.json` and
        `sentence_bert_config.json` say; any argument given here overrides
        them. Other presets default to mean pooling, no normalization and
        128 tokens.

        Args:
            preset: a preset name, a local Google or Hugging Face folder or
                zip, or `hf://org/name`; see `BertBackbone.from_preset`.
            pooling: a pooling mode or list of modes, or None for the
                preset's.
            normalize: bool, or None for the preset's.
            sequence_length: int, or None for the preset's. Longer texts are
                truncated, as sentence-transformers does.
            load_weights: bool. False builds the architecture only.
            **kwargs: other `BertSentenceEncoder` arguments (`name`).

        Raises:
            PresetError: the folder's pipeline has a module or a pooling
                mode that this model does not implement.
        """
        from bert_keras.models.bert_backbone import BertBackbone
        from bert_keras.preprocessing.bert_preprocessor import BertPreprocessor
        from bert_keras.presets.loader import resolve_preset
        from bert_keras.presets.sentence_transformers import (
            read_sentence_transformers_settings,
        )

        source = resolve_preset(preset)
        settings = read_sentence_transformers_settings(
            source.folder, read_pooling=pooling is None
        ) or {}
        pooling = pooling or settings.get("pooling") or DEFAULT_POOLING
        if normalize is None:
            normalize = settings.get("normalize", False)
        if sequence_length is None:
            sequence_length = settings.get("sequence_length") or DEFAULT_SEQUENCE_LENGTH
            sequence_length = min(sequence_length, source.config["max_sequence_length"])
        backbone = BertBackbone.from_preset(source, load_weights=load_weights)
        cls._check_sequence_length(backbone, sequence_length)
        preprocessor = BertPreprocessor.from_preset(
            source, sequence_length=sequence_length, padding="longest"
        )
        return cls(backbone, preprocessor=preprocessor, pooling=pooling, normalize=normalize,
                   **kwargs)
