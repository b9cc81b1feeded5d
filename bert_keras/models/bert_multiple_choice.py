import keras
import numpy as np

from bert_keras.errors import DataError
from bert_keras.models.bert_task import BertTask


@keras.saving.register_keras_serializable(package="bert_keras")
class BertMultipleChoice(BertTask):
    """Multiple choice with BERT (SWAG): a score for each choice, softmax over them.

    The paper's SWAG setup: every choice is packed with its context as
    `[CLS] context [SEP] choice [SEP]`, the backbone reads each as its own
    sequence, and dropout and a dense layer turn each pooled output into one
    float32 score; the logits `[batch, choices]` train with softmax
    cross-entropy over the choices.

    Inputs are token-id dicts of `[batch, choices, sequence]` arrays or,
    with the preprocessor attached (the default of `from_preset`), raw text:
    `(contexts, choices)`, a list of contexts and for each a list of its
    choices. `fit`, `evaluate` and `predict` take either; labels are the
    index of the right choice.

    Args:
        backbone: a `bert_keras.models.BertBackbone`.
        num_choices: int or None. The choices of every example (4 for
            SWAG); None takes any number.
        preprocessor: a
            `bert_keras.preprocessing.BertMultipleChoicePreprocessor`, or
            None to feed token ids.
        dropout: float. Dropout on the pooled output (0.1 in the original).
        **kwargs: other `keras.Model` arguments (`name`).

    Example:
    ```python
    from bert_keras.models import BertMultipleChoice

    chooser = BertMultipleChoice.from_preset("bert_tiny_en_uncased", num_choices=2)
    contexts = ["The cook cracked the eggs."]
    choices = [["She fried them.", "She mailed them."]]
    chooser.fit((contexts, choices), [0], epochs=3)
    chooser.predict((contexts, choices))      # logits, shape (1, 2)
    ```
    """

    token_axes = ("batch", "choices", "sequence")

    def __init__(self, backbone, num_choices=None, preprocessor=None, dropout=0.1, **kwargs):
        from bert_keras.layers import FoldChoices, UnfoldChoices

        if num_choices is not None and num_choices < 1:
            raise ValueError(f"`num_choices` must be at least 1 or None; got {num_choices}.")
        self._check_sequence_length(backbone, getattr(preprocessor, "sequence_length", None))
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.fold_choices = FoldChoices(name="fold_choices")
        self.output_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="output_dropout"
        )
        self.output_dense = keras.layers.Dense(
            1,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            # Logits in float32 keep the loss exact under mixed precision.
            dtype="float32",
            name="logits",
        )
        self.unfold_choices = UnfoldChoices(dtype="float32", name="unfold_choices")

        # === Functional Model ===
        inputs = {
            name: keras.Input(shape=(num_choices, None), dtype="int32", name=name)
            for name in ("token_ids", "segment_ids", "padding_mask")
        }
        folded = {name: self.fold_choices(value) for name, value in inputs.items()}
        pooled = backbone(folded)["pooled_output"]
        scores = self.output_dense(self.output_dropout(pooled))
        outputs = self.unfold_choices(scores, inputs["token_ids"])
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_choices = num_choices
        self.dropout = dropout

        self.compile()

    def default_loss(self):
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def label_classes(self):
        return self.num_choices

    def label_message(self, labels, x):
        from bert_keras.models.input_checks import class_label_message

        choices = self.num_choices or _choice_count(x)
        return class_label_message(labels, choices) if choices else None

    # === Raw text ===

    def fit(self, x=None, y=None, batch_size=None, epochs=1, validation_data=None,
            shuffle=True, **kwargs):
        if self._holds_choices(x):
            x = self._choices_dataset(x, y, "training", shuffle)
            y, shuffle = None, False
        if isinstance(validation_data, tuple) and self._holds_choices(validation_data[0]):
            validation_data = self._choices_dataset(*validation_data, purpose="validation")
        return super().fit(x, y, batch_size=batch_size, epochs=epochs,
                           validation_data=validation_data, shuffle=shuffle, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        if self._holds_choices(x):
            x, y = self._choices_dataset(x, y, "evaluation"), None
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        """Logits `[examples, choices]` for raw text `(contexts, choices)`
        or token ids; no examples give no rows."""
        if self._holds_choices(x):
            if not len(x[0]) and not isinstance(x[0], str):
                return np.zeros((0, self.num_choices or 0), "float32")
            x = self._choices_dataset(x, None, "prediction")
        return super().predict(x, batch_size=batch_size, **kwargs)

    def _holds_choices(self, x):
        return (self.preprocessor is not None and isinstance(x, (tuple, list)) and len(x) == 2
                and isinstance(x[0], (str, list, tuple)) and isinstance(x[1], (list, tuple)))

    def _choices_dataset(self, x, y, purpose, shuffle=False):
        """Unbatched `((context, choices), label)` examples, checked."""
        import tensorflow as tf

        from bert_keras.models.input_checks import class_label_message
        from bert_keras.preprocessing.bert_multiple_choice_preprocessor import check_choice_rows

        contexts, choices = x
        if isinstance(contexts, str):
            contexts, choices = [contexts], [choices]
        contexts, choices = list(contexts), [list(row) for row in choices]
        if not contexts:
            raise DataError(f"There are no {purpose} examples: the inputs are empty.")
        check_choice_rows(contexts, choices)
        if self.num_choices is not None and len(choices[0]) != self.num_choices:
            raise DataError(f"This model chooses among {self.num_choices} choices; the "
                            f"{purpose} examples have {len(choices[0])}.")
        parts = ((contexts, choices),)
        if y is not None:
            labels = np.asarray(y)
            if labels.shape != (len(contexts),):
                raise DataError(f"There are {len(contexts)} {purpose} examples but "
                                f"{labels.size} labels; pass one label per example.")
            message = class_label_message(labels, len(choices[0]))
            if message:
                raise DataError(message)
            parts += (labels,)
        dataset = tf.data.Dataset.from_tensor_slices(parts)
        if shuffle:
            dataset = dataset.shuffle(len(contexts), reshuffle_each_iteration=True)
        return dataset

    def _text_dataset(self, x, y, sample_weight, batch_size, shuffle, bucketed):
        # Length buckets pack single sequences; here every example holds
        # several, so batches are padded to their longest choice instead.
        return super()._text_dataset(x, y, sample_weight, batch_size, shuffle, bucketed=False)

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_choices": self.num_choices,
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "dropout": self.dropout,
            "name": self.name,
        }

    @classmethod
    def from_preset(
        cls, preset, num_choices=None, sequence_length=None, load_weights=True, remat=False,
        attention_dropout=None, **kwargs
    ):
        """A multiple-choice model on a pretrained backbone, with the preset's
        tokenizer; a Hugging Face `BertForMultipleChoice` folder (ours from
        `to_huggingface`, or transformers') loads with its head.

        Args:
            preset: a preset name, a local Google or Hugging Face folder or
                zip, or `hf://org/name`; see `BertBackbone.from_preset`.
            num_choices: int or None. The choices of every example.
            sequence_length: int. The longest packed choice (by default
                128, or the backbone's positions when fewer); batches are
                padded to their longest.
            load_weights: bool. False builds the architecture only.
            remat: bool. Recompute the encoder blocks in the backward pass.
            attention_dropout: float or None. Replaces the checkpoint's
                dropout rate on attention probabilities.
            **kwargs: other `BertMultipleChoice` arguments.
        """
        from bert_keras.preprocessing.bert_multiple_choice_preprocessor import (
            BertMultipleChoicePreprocessor,
        )
        from bert_keras.presets.task_heads import multiple_choice_head

        head = multiple_choice_head(preset) if load_weights else None
        backbone = cls._preset_backbone(preset, load_weights, remat, attention_dropout)
        if sequence_length is None:
            sequence_length = min(128, backbone.max_sequence_length)
        cls._check_sequence_length(backbone, sequence_length)
        preprocessor = BertMultipleChoicePreprocessor.from_preset(
            preset, sequence_length=sequence_length, padding="longest"
        )
        model = cls(backbone, num_choices, preprocessor=preprocessor, **kwargs)
        if head is not None:
            model.output_dense.kernel.assign(head[0])
            model.output_dense.bias.assign(head[1])
        return model


def _choice_count(x):
    if isinstance(x, dict) and np.ndim(x.get("token_ids")) == 3:
        return np.shape(x["token_ids"])[1]
    return None
