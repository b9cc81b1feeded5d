import keras
import numpy as np

from bert_keras.data.text_inputs import is_python_text, standardize_text
from bert_keras.errors import DataError
from bert_keras.layers.id_checks import out_of_range_message
from bert_keras.models.bert_task import BertTask
from bert_keras.models.task_data import holds_text

# Added to the logits of padding positions. Finite, so that the loss and its
# gradient stay finite, and far below any real logit, so that padding gets
# exactly zero probability in float32.
_PADDING_LOGIT = -1e9


@keras.saving.register_keras_serializable(package="bert_keras")
class BertSpanLabeler(BertTask):
    """Extractive question answering (SQuAD) with BERT.

    The original `run_squad.py` model: a dense layer maps each token of the
    backbone's sequence output to a start and an end logit. Inputs are the
    backbone's token-id dict for `[CLS] question [SEP] context window [SEP]`
    (see `bert_keras.data.squad`); outputs are a dict of `start_logits` and
    `end_logits`, float32 `[batch, seq]`.

    Padding positions get a logit of -1e9, so they have no probability and
    the outputs do not depend on how much a batch is padded. (The original
    left padding logits in the softmax; they carry a negligible share once
    trained, and removing them makes dynamic padding exact.) Everything else
    is the original: the question and `[SEP]` tokens keep their logits, and
    `[CLS]` is where an unanswerable question (SQuAD 2.0), or an answer
    outside the window, is labelled.

    The default loss is the original's: the cross-entropy of the start
    position and of the end position, averaged.

    With a `BertSpanPreprocessor` attached (the default of `from_preset`),
    `predict((questions, contexts))` takes raw text: each context is cut
    into the original's windows in the graph, and the result is each
    question's best answer (`answer`, its code point offsets `answer_start`
    and `answer_end` in the context, `score`, `null_score_diff`; see
    `BertSpanPreprocessor.decode`). Training takes the features of
    `bert_keras.data.squad`, as token-id dicts with `start_logits` and
    `end_logits` labels.

    Args:
        backbone: a `bert_keras.models.BertBackbone`.
        preprocessor: a `bert_keras.preprocessing.BertSpanPreprocessor`, or
            None.
        **kwargs: other `keras.Model` arguments (`name`).

    Example:
    ```python
    import numpy as np
    from bert_keras.models import BertBackbone, BertSpanLabeler

    backbone = BertBackbone(
        vocabulary_size=30, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    labeler = BertSpanLabeler(backbone)
    features = {
        "token_ids": np.array([[2, 7, 3, 9, 11, 12, 3, 0]], "int32"),
        "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 1, 0]], "int32"),
        "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0]], "int32"),
    }
    labels = {"start_logits": np.array([4]), "end_logits": np.array([5])}
    labeler.fit(features, labels, epochs=2, verbose=0)
    labeler.predict(features)["start_logits"].shape  # (1, 8)
    ```

    Pretrained backbone, raw text:
    ```python
    labeler = BertSpanLabeler.from_preset("bert_base_en_uncased")
    # ... fine-tune on SQuAD features, then:
    labeler.predict((["Who sat on the mat?"], ["The cat sat on the mat."]))["answer"]
    ```
    """

    default_learning_rate = 3e-5

    text_pairs = "required"

    def __init__(self, backbone, preprocessor=None, **kwargs):
        self._check_sequence_length(backbone, getattr(preprocessor, "sequence_length", None))
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.span_dense = keras.layers.Dense(
            2,
            kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            # Logits in float32 keep the loss exact under mixed precision.
            dtype="float32",
            name="span_logits",
        )

        # === Functional Model ===
        inputs = backbone.input
        logits = self.span_dense(backbone(inputs)["sequence_output"])
        padding = 1.0 - keras.ops.cast(inputs["padding_mask"], "float32")
        logits = logits + (padding * _PADDING_LOGIT)[..., None]
        outputs = {
            "start_logits": logits[..., 0],
            "end_logits": logits[..., 1],
        }
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.compile()

    def predict(self, x, batch_size=None, null_score_diff_threshold=None, **kwargs):
        """Logits of features, or answers to raw `(questions, contexts)`.

        Args:
            x: token-id features (a dict of arrays or a `tf.data.Dataset`),
                or, with a preprocessor attached, a pair of lists of
                questions and contexts.
            batch_size: int. Features per batch, or questions per batch for
                raw text (default 32).
            null_score_diff_threshold: for raw text, None for SQuAD 1.1
                (always answer); a float for SQuAD 2.0 (answer "" when the
                null score beats the best span by more than this).
            **kwargs: other `keras.Model.predict` arguments.

        Returns:
            For features, `{"start_logits", "end_logits"}`; for raw text, a
            dict of arrays with one entry per question: `answer`,
            `answer_start`, `answer_end`, `score`, `null_score_diff`.
        """
        if self.preprocessor is None or not (is_python_text(x) or holds_text(x)):
            return super().predict(x, batch_size=batch_size, **kwargs)
        if is_python_text(x):
            x = standardize_text(x, pairs="required")
        elif not (isinstance(x, tuple) and len(x) == 2):
            raise DataError(
                "Raw text for a BertSpanLabeler is a pair `(questions, "
                "contexts)` of lists of strings, one context per question, "
                "or a list of (question, context) pairs."
            )
        questions, contexts = (np.asarray(part, dtype=object).reshape(-1) for part in x)
        if not len(questions):
            return {
                "answer": np.array([], dtype=object),
                "answer_start": np.zeros((0,), "int32"),
                "answer_end": np.zeros((0,), "int32"),
                "score": np.zeros((0,), "float32"),
                "null_score_diff": np.zeros((0,), "float32"),
            }
        batch_size = batch_size or 32
        results = []
        for begin in range(0, len(questions), batch_size):
            pair = (
                list(questions[begin : begin + batch_size]),
                list(contexts[begin : begin + batch_size]),
            )
            inputs, windows = self.preprocessor(pair)
            logits = self.predict_on_batch(inputs)
            results.append(
                self.preprocessor.decode(
                    windows,
                    keras.ops.convert_to_numpy(logits["start_logits"]),
                    keras.ops.convert_to_numpy(logits["end_logits"]),
                    pair[1],
                    null_score_diff_threshold,
                )
            )
        answers = {
            key: np.concatenate([np.asarray(result[key]) for result in results])
            for key in ("answer", "answer_start", "answer_end", "score", "null_score_diff")
        }
        answers["answer"] = np.array([text.decode("utf-8") for text in answers["answer"]], dtype=object)
        return answers

    def label_message(self, labels, x):
        if not isinstance(labels, dict) or not isinstance(x, dict):
            return None
        length = np.asarray(x["token_ids"]).shape[-1]
        for name, positions in labels.items():
            message = out_of_range_message(
                positions, length, f"{name} position",
                f"Span positions index the {length} tokens of each feature.",
            )
            if message:
                return message
        return None

    def _text_dataset(self, x, *args, **kwargs):
        raise DataError(
            "BertSpanLabeler trains and evaluates on SQuAD features: token-id "
            "dicts with `start_logits` and `end_logits` labels, e.g. from "
            "`bert_keras.data.squad.features_dataset`; raw text goes to "
            "`predict` only."
        )

    def default_loss(self):
        return {
            "start_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "end_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        }

    def default_loss_weights(self):
        # The original's `(start_loss + end_loss) / 2`.
        return {"start_logits": 0.5, "end_logits": 0.5}

    def default_metrics(self):
        return {
            "start_logits": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            "end_logits": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        }

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "name": self.name,
        }

    @classmethod
    def from_preset(
        cls,
        preset,
        sequence_length=384,
        doc_stride=128,
        max_query_length=64,
        load_weights=True,
        remat=False,
        attention_dropout=None,
        **kwargs,
    ):
        """A span labeler on a pretrained backbone, with the preset's tokenizer.

        Args:
            preset: a preset name, a local Google or Hugging Face folder or
                zip, or `hf://org/name`; see `BertBackbone.from_preset`.
            sequence_length, doc_stride, max_query_length: the windows of
                raw-text `predict` (the original's defaults).
            load_weights: bool. False builds the architecture only.
            remat: bool. Recompute the encoder blocks during the backward
                pass (see `BertBackbone`).
            attention_dropout: float or None. Replaces the checkpoint's
                dropout rate on attention probabilities (0.1 in Google's);
                0 lets training use the fused attention kernels.
            **kwargs: other `BertSpanLabeler` arguments (`name`).
        """
        from bert_keras.preprocessing.bert_span_preprocessor import BertSpanPreprocessor

        backbone = cls._preset_backbone(preset, load_weights, remat, attention_dropout)
        preprocessor = BertSpanPreprocessor.from_preset(
            preset,
            sequence_length=sequence_length,
            doc_stride=doc_stride,
            max_query_length=max_query_length,
        )
        return cls(backbone, preprocessor=preprocessor, **kwargs)

