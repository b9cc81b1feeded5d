import keras

from bert_keras.models.bert_task import BertTask


@keras.saving.register_keras_serializable(package="bert_keras")
class BertClassifier(BertTask):
    """Sentence and sentence-pair classification (or regression) with BERT.

    The original `run_classifier.py` model: the backbone's pooled output,
    dropout, and a dense layer to `num_classes` logits; `num_classes=1` is
    regression (STS-B) with a mean squared error loss. With its preprocessor
    attached (the default of `from_preset`), `fit`, `evaluate` and `predict`
    take raw strings or `(text_a, text_b)` pairs; see `BertTask`.

    Args:
        backbone: a `bert_keras.models.BertBackbone`.
        num_classes: int. Number of classes; 1 for regression.
        preprocessor: a `bert_keras.preprocessing.BertPreprocessor`, or None
            to feed token-id dicts.
        dropout: float. Dropout on the pooled output (0.1 in the original).
        task_name: str or None. The task the classifier is for (e.g.
            `"mrpc"`), kept with the saved model so that it is not used for
            another task by mistake.
        label_names: list of str or None. The label of each class index,
            kept with the saved model.
        **kwargs: other `keras.Model` arguments (`name`).

    Example:
    ```python
    from bert_keras.models import BertClassifier

    classifier = BertClassifier.from_preset("bert_tiny_en_uncased", num_classes=2)
    classifier.fit(["a great film", "a dull mess"], [1, 0], batch_size=2, epochs=3)
    classifier.predict(["what a great film"])        # logits, shape (1, 2)
    classifier.save("sentiment.keras")              # preprocessor included
    ```
    """

    def __init__(
        self, backbone, num_classes, preprocessor=None, dropout=0.1, task_name=None,
        label_names=None, **kwargs
    ):
        self._check_sequence_length(backbone, getattr(preprocessor, "sequence_length", None))
        if label_names is not None and len(label_names) != num_classes:
            raise ValueError(
                f"`label_names` names {len(label_names)} labels for "
                f"{num_classes} classes; give one name per class."
            )
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="output_dropout"
        )
        self.output_dense = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            # Logits in float32 keep the loss exact under mixed precision.
            dtype="float32",
            name="logits",
        )

        # === Functional Model ===
        inputs = backbone.input
        pooled = backbone(inputs)["pooled_output"]
        outputs = self.output_dense(self.output_dropout(pooled))
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout
        self.task_name = task_name
        self.label_names = None if label_names is None else [str(name) for name in label_names]

        self.compile()

    def default_loss(self):
        if self.num_classes == 1:
            return keras.losses.MeanSquaredError()
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        if self.num_classes == 1:
            return [keras.metrics.MeanAbsoluteError(name="mean_absolute_error")]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def label_classes(self):
        return self.num_classes if self.num_classes > 1 else None

    def label_message(self, labels, x):
        from bert_keras.models.input_checks import class_label_message

        return class_label_message(labels, self.num_classes)

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "dropout": self.dropout,
            "task_name": self.task_name,
            "label_names": self.label_names,
            "name": self.name,
        }

    @classmethod
    def from_preset(
        cls, preset, num_classes, sequence_length=128, load_weights=True, remat=False,
        attention_dropout=None, **kwargs
    ):
        """A classifier on a pretrained backbone, with the preset's tokenizer.

        Args:
            preset: a preset name, a local Google or Hugging Face folder or
                zip, or `hf://org/name`; see `BertBackbone.from_preset`.
            num_classes: int. Number of classes; 1 for regression.
            sequence_length: int. The longest packed sequence (128 in the
                original `run_classifier.py`); batches are padded only to
                their longest example.
            load_weights: bool. False builds the architecture only.
            remat: bool. Recompute the encoder blocks during the backward
                pass (see `BertBackbone`).
            attention_dropout: float or None. Replaces the checkpoint's
                dropout rate on attention probabilities (0.1 in Google's);
                0 lets training use the fused attention kernels.
            **kwargs: other `BertClassifier` arguments (`dropout`,
                `task_name`, `label_names`, `name`).
        """
        from bert_keras.preprocessing.bert_preprocessor import BertPreprocessor

        backbone = cls._preset_backbone(preset, load_weights, remat, attention_dropout)
        cls._check_sequence_length(backbone, sequence_length)
        preprocessor = BertPreprocessor.from_preset(
            preset, sequence_length=sequence_length, padding="longest"
        )
        return cls(backbone, num_classes, preprocessor=preprocessor, **kwargs)
