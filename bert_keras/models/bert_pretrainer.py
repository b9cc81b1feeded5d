import warnings

import keras

from bert_keras.layers.masked_lm_head import MaskedLMHead
from bert_keras.models.bert_task import BertTask
from bert_keras.models.pretraining_losses import masked_lm_loss, next_sentence_loss

_METRICS = ("masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy", "next_sentence_loss")


@keras.saving.register_keras_serializable(package="bert_keras")
class BertPretrainer(BertTask):
    """BERT pretraining: the masked-LM and next-sentence heads of the original.

    The model of `run_pretraining.py`. The masked-LM head gathers the
    sequence output at `masked_lm_positions`, applies dense + GELU +
    LayerNorm and scores the vocabulary through the word embeddings (the
    decoder is tied to them) plus an output bias; the next-sentence head is
    a dense layer to 2 logits on the pooled output. Both logits are float32.

    Inputs are the backbone's `token_ids`, `segment_ids` and `padding_mask`
    plus `masked_lm_positions` `[batch, predictions]`; outputs are
    `masked_lm` `[batch, predictions, vocabulary]` and `next_sentence`
    `[batch, 2]` logits. `bert_keras.data.pretraining.pretraining_dataset`
    gives batches in exactly this layout, with the labels `masked_lm`
    (`masked_lm_ids`) and `next_sentence`, and the sample weights
    `masked_lm` (`masked_lm_weights`).

    The loss is the original's: the masked-LM loss
    `sum(w * nll) / (sum(w) + 1e-5)` plus the mean next-sentence loss.
    The metrics are what `run_pretraining.py --do_eval` reports:
    `masked_lm_accuracy` and `masked_lm_loss` weighted by the masked-LM
    weights, `next_sentence_accuracy` and `next_sentence_loss`, and `loss`,
    the mean of the batches' losses.

    Args:
        backbone: a `bert_keras.models.BertBackbone`.
        nsp: bool. Keep the next-sentence head; False trains the masked LM
            alone (for example with `DynamicMasking`).
        initializer_range: float. Stddev of the new heads' truncated normal
            initializer (0.02 in the original).
        **kwargs: other `keras.Model` arguments (`name`).

    Example:
    ```python
    from bert_keras.data.pretraining import pretraining_dataset
    from bert_keras.models import BertBackbone, BertPretrainer

    backbone = BertBackbone(
        vocabulary_size=30522, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=128,
    )
    pretrainer = BertPretrainer(backbone)
    data = pretraining_dataset("examples.tfrecord", batch_size=8, seed=0)
    pretrainer.fit(data, steps_per_epoch=100)
    pretrainer.evaluate(pretraining_dataset("examples.tfrecord", 8, is_training=False))
    ```

    Continue from a released checkpoint, heads included:
    `BertPretrainer.from_preset("bert_base_en_uncased")`.
    """

    default_learning_rate = 5e-5

    def __init__(self, backbone, nsp=True, initializer_range=0.02, **kwargs):
        # === Layers ===
        self.backbone = backbone
        self.preprocessor = None
        self.mlm_head = MaskedLMHead(
            backbone.token_embedding,
            activation=backbone.activation,
            initializer_range=initializer_range,
            dtype=backbone.dtype_policy,
            name="mlm_head",
        )
        self.nsp_head = None
        if nsp:
            self.nsp_head = keras.layers.Dense(
                2,
                kernel_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range),
                dtype=backbone.dtype_policy,
                name="nsp_head",
            )

        # === Functional Model ===
        inputs = {
            **backbone.input,
            "masked_lm_positions": keras.Input(
                shape=(None,), dtype="int32", name="masked_lm_positions"
            ),
        }
        features = backbone({name: inputs[name] for name in backbone.input})
        mlm_logits = self.mlm_head(features["sequence_output"], inputs["masked_lm_positions"])
        # Logits in float32 keep the losses exact under mixed precision.
        outputs = {"masked_lm": keras.ops.cast(mlm_logits, "float32")}
        if nsp:
            nsp_logits = self.nsp_head(features["pooled_output"])
            outputs["next_sentence"] = keras.ops.cast(nsp_logits, "float32")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.nsp = nsp
        self.initializer_range = initializer_range
        self.pretraining_metrics = {
            name: keras.metrics.Mean(name=name)
            for name in _METRICS
            if nsp or name.startswith("masked_lm")
        }

        self.compile()

    def default_loss(self):
        # `compute_loss` computes the original's losses itself.
        return None

    def default_metrics(self):
        return None

    def _original_loss(self):
        arguments = getattr(self, "_compile_arguments", None) or {}
        return arguments.get("loss", "auto") == "auto"

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not self._original_loss():
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        losses = self.pretraining_losses(y, y_pred, sample_weight)
        total = losses["masked_lm_loss"]
        if self.nsp:
            total = total + losses["next_sentence_loss"]
        for loss in self.losses:
            total = total + keras.ops.cast(keras.ops.sum(loss), total.dtype)
        return _per_replica(total)

    def pretraining_losses(self, y, y_pred, sample_weight=None):
        """The original's losses for labels `y` and outputs `y_pred`.

        Returns:
            A dict of `masked_lm_loss`, `masked_lm_example_loss` (per
            prediction slot), and with the next-sentence head
            `next_sentence_loss` and `next_sentence_example_loss`.
        """
        weights = _masked_lm_weights(sample_weight, y["masked_lm"])
        loss, per_position = masked_lm_loss(y_pred["masked_lm"], y["masked_lm"], weights)
        losses = {"masked_lm_loss": loss, "masked_lm_example_loss": per_position}
        if self.nsp:
            loss, per_example = next_sentence_loss(y_pred["next_sentence"], y["next_sentence"])
            losses.update(next_sentence_loss=loss, next_sentence_example_loss=per_example)
        return losses

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if y is not None and "masked_lm" in y:
            ops = keras.ops
            weights = _masked_lm_weights(sample_weight, y["masked_lm"])
            losses = self.pretraining_losses(y, y_pred, sample_weight)
            labels = ops.cast(y["masked_lm"], "int32")
            correct = ops.cast(ops.argmax(y_pred["masked_lm"], axis=-1) == labels, "float32")
            metrics = self.pretraining_metrics
            metrics["masked_lm_accuracy"].update_state(correct, sample_weight=weights)
            metrics["masked_lm_loss"].update_state(
                losses["masked_lm_example_loss"], sample_weight=weights
            )
            if self.nsp:
                labels = ops.reshape(ops.cast(y["next_sentence"], "int32"), (-1,))
                correct = ops.argmax(y_pred["next_sentence"], axis=-1) == labels
                metrics["next_sentence_accuracy"].update_state(ops.cast(correct, "float32"))
                metrics["next_sentence_loss"].update_state(losses["next_sentence_example_loss"])
        return super().compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "nsp": self.nsp,
            "initializer_range": self.initializer_range,
            "name": self.name,
        }

    @classmethod
    def from_preset(
        cls, preset, nsp=True, load_weights=True, remat=False, attention_dropout=None,
        dropout=None, **kwargs
    ):
        """A pretrainer on a preset's backbone, with its pretraining heads.

        A Google checkpoint's `cls/` variables and a Hugging Face
        `BertForPreTraining` folder's `cls.` weights load into the heads, to
        continue pretraining where the checkpoint stopped. A checkpoint
        without them (a `BertModel` folder, sentence-transformers weights)
        gets new heads, with a warning, as does the next-sentence head of a
        `BertForMaskedLM` folder.

        Args:
            preset: a preset name, a local Google or Hugging Face folder or
                zip, or `hf://org/name`; see `BertBackbone.from_preset`.
            nsp: bool. Keep the next-sentence head.
            load_weights: bool. False builds the preset's architecture with
                new weights: pretraining from scratch.
            remat: bool. Recompute the encoder blocks in the backward pass.
            attention_dropout, dropout: float or None. Replace the
                checkpoint's dropout rates.
            **kwargs: other `BertPretrainer` arguments.
        """
        from bert_keras.models.bert_backbone import BertBackbone
        from bert_keras.presets.loader import pretraining_head_weights

        overrides = {
            name: value
            for name, value in (("attention_dropout", attention_dropout), ("dropout", dropout))
            if value is not None
        }
        backbone = BertBackbone.from_preset(
            preset, load_weights=load_weights, remat=remat, **overrides
        )
        pretrainer = cls(backbone, nsp=nsp, **kwargs)
        pretrainer.heads_source = "new"
        if load_weights:
            arrays, source = pretraining_head_weights(preset)
            pretrainer.heads_source = pretrainer.load_head_weights(arrays, source)
        return pretrainer

    def load_head_weights(self, arrays, source):
        """Assigns checkpoint arrays (keyed by variable path) to the heads.

        Returns:
            `"checkpoint"` when every head was loaded, `"partly new"` when
            the next-sentence head had to start afresh, `"new"` when no head
            was in `arrays`; warns in the last two cases.
        """
        from bert_keras.presets.weight_mapping import assign_weights

        arrays = arrays or {}
        heads = [self.mlm_head] + ([self.nsp_head] if self.nsp else [])
        loaded = [head for head in heads if any(k.startswith(f"{head.name}/") for k in arrays)]
        for head in loaded:
            # The decoder is the backbone's embedding, which is loaded already.
            variables = [v for v in head.weights if v.path.startswith(f"{head.name}/")]
            assign_weights(variables, arrays, source)
        if len(loaded) == len(heads):
            return "checkpoint"
        new = [head.name for head in heads if head not in loaded]
        warnings.warn(
            f"{source} has no weights for {' and '.join(new)}: "
            f"{'they start' if len(new) > 1 else 'it starts'} from a new random "
            "initialization (truncated normal, stddev "
            f"{self.initializer_range}), as when pretraining from scratch.",
            stacklevel=3,
        )
        return "new" if not loaded else "partly new"


def _masked_lm_weights(sample_weight, labels):
    if isinstance(sample_weight, dict):
        sample_weight = sample_weight.get("masked_lm")
    if sample_weight is None:
        return keras.ops.ones(keras.ops.shape(labels), "float32")
    return sample_weight


def _per_replica(loss):
    # Under a TensorFlow strategy each replica's gradient is summed over the
    # replicas, so each replica contributes its share of the mean, as
    # Keras's own losses do.
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss / replicas
    return loss
