import math
import warnings

import keras

from bert_keras.models.input_checks import translated_errors
from bert_keras.models.task_data import (
    batches_per_epoch,
    checked_data,
    count_examples,
    empty_outputs,
    features_first,
    holds_text,
    is_dataset,
    spans_workers,
)


class BertTask(keras.Model):
    """Base of the task models: a backbone, a head, an optional preprocessor.

    With a preprocessor attached, `fit`, `evaluate` and `predict` take raw
    text: a list of strings, a tuple of two lists for sentence pairs, or a
    `tf.data.Dataset` of such (batched or not, with or without labels).
    Unbatched training examples are length-bucketed and padded only to their
    bucket (dynamic padding); evaluation and prediction batches keep the
    input order and are padded to their longest example. Set
    `preprocessor = None` to feed the backbone's token-id dicts directly.

    `compile()` defaults to the original BERT fine-tuning recipe: with
    `optimizer="auto"`, every `fit` call builds a fresh `BertAdamW` with
    linear warmup over `warmup_proportion` of its steps and linear decay to
    zero over the steps that `fit` will run (`ceil(examples / batch_size)`
    per epoch for unbatched data).

    `compile(gradient_accumulation_steps=k)` averages the gradients of `k`
    consecutive batches into each update: `fit(batch_size=b)` then trains
    exactly as batches of `k * b` would (without dropout's randomness), with
    the memory of `b`, and the schedule counts updates.
    """

    default_learning_rate = 2e-5

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        learning_rate=None,
        warmup_proportion=0.1,
        gradient_accumulation_steps=1,
        **kwargs,
    ):
        """Configures training; every argument can be overridden.

        Args:
            optimizer: `"auto"` for the original recipe (see the class
                docstring), or any Keras optimizer.
            loss: `"auto"` for the task's loss, or any Keras loss.
            metrics: `"auto"` for the task's metrics, or any Keras metrics.
            learning_rate: peak learning rate of the `"auto"` optimizer
                (default: the task's `default_learning_rate`).
            warmup_proportion: fraction of the steps of each `fit` spent
                warming up, with the `"auto"` optimizer.
            gradient_accumulation_steps: batches per update, with the
                `"auto"` optimizer; give an optimizer of your own its
                `gradient_accumulation_steps` instead.
            **kwargs: other `keras.Model.compile` arguments.
        """
        self._compile_arguments = dict(
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            learning_rate=learning_rate,
            warmup_proportion=warmup_proportion,
            gradient_accumulation_steps=gradient_accumulation_steps,
            **kwargs,
        )
        if isinstance(optimizer, str) and optimizer == "auto":
            from bert_keras.optimizers import create_optimizer

            # A placeholder that `fit` replaces once the steps are known. It
            # has the recipe's variables (a schedule holds no learning-rate
            # variable), so a saved model's optimizer state loads into it.
            optimizer = create_optimizer(
                learning_rate or self.default_learning_rate,
                1,
                gradient_accumulation_steps=gradient_accumulation_steps,
            )
            optimizer.stand_in = True
        elif gradient_accumulation_steps != 1:
            raise ValueError(
                "`gradient_accumulation_steps` configures the default "
                "optimizer only; create yours with it instead, e.g. "
                "`keras.optimizers.AdamW(..., gradient_accumulation_steps="
                f"{gradient_accumulation_steps})` or `bert_keras.optimizers."
                f"create_optimizer(..., gradient_accumulation_steps="
                f"{gradient_accumulation_steps})`."
            )
        if loss == "auto" and "loss_weights" not in kwargs:
            kwargs["loss_weights"] = self.default_loss_weights()
        if metrics == "auto" and "weighted_metrics" not in kwargs:
            kwargs["weighted_metrics"] = self.default_weighted_metrics()
        super().compile(
            optimizer=optimizer,
            loss=self.default_loss() if loss == "auto" else loss,
            metrics=self.default_metrics() if metrics == "auto" else metrics,
            **kwargs,
        )
        self._check_accumulation()

    def _check_accumulation(self):
        strategy = getattr(self, "_distribute_strategy", None)
        optimizer = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        if (
            getattr(optimizer, "gradient_accumulation_steps", None)
            and strategy is not None
            and strategy.num_replicas_in_sync > 1
        ):
            from bert_keras.errors import DistributionError

            raise DistributionError(
                "Keras cannot accumulate gradients under a TensorFlow "
                f"strategy with {strategy.num_replicas_in_sync} replicas: "
                "its update happens inside a conditional, where replicas "
                "cannot synchronize. Train with KERAS_BACKEND=jax (which "
                "accumulates on any number of devices), on one device, or "
                "with gradient_accumulation_steps=1 and the larger batch "
                "split across the replicas."
            )

    def serving_copy(self):
        """A copy with this model's weights and config, without its training
        state: saved, it holds no optimizer slots (two thirds of a saved
        model trained with Adam), and it reloads compiled with the task's
        defaults, ready to predict or to fine-tune afresh."""
        copy = type(self).from_config(self.get_config())
        copy.set_weights(self.get_weights())
        # Nothing about this model's training is carried over.
        copy._compile_arguments = None
        return copy

    def get_compile_config(self):
        # An optimizer object is saved whole, so that a loaded model has the
        # same class, schedule and accumulation, and its saved state fits.
        # Other objects (loss or metric instances) are saved as "auto": a
        # loaded model gets the task's defaults and can be recompiled.
        plain = (str, int, float, bool, type(None))
        config = {}
        for key, value in (getattr(self, "_compile_arguments", None) or {}).items():
            if isinstance(value, plain):
                config[key] = value
            elif key == "optimizer":
                config[key] = keras.saving.serialize_keras_object(value)
            else:
                config[key] = "auto"
        return config or None

    def compile_from_config(self, config):
        if isinstance(config.get("optimizer"), dict):
            optimizer = keras.saving.deserialize_keras_object(config["optimizer"])
            config = {**config, "optimizer": optimizer}
        self.compile(**config)
        # Built on the model's variables, the optimizer can take back the
        # state saved with the model instead of skipping it.
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @classmethod
    def from_config(cls, config):
        return cls(**deserialized_parts(config))

    @staticmethod
    def _check_sequence_length(backbone, length):
        """Refuses packing more tokens than the backbone has positions."""
        if length is not None and length > backbone.max_sequence_length:
            from bert_keras.errors import DataError

            raise DataError(
                f"The preprocessor packs up to {length} tokens, but the "
                f"backbone has {backbone.max_sequence_length} positions; pass "
                f"sequence_length={backbone.max_sequence_length} or less."
            )

    @staticmethod
    def _preset_backbone(preset, load_weights, remat, attention_dropout):
        """The backbone of the tasks' `from_preset`, with their training options."""
        from bert_keras.models.bert_backbone import BertBackbone

        overrides = {} if attention_dropout is None else {"attention_dropout": attention_dropout}
        return BertBackbone.from_preset(
            preset, load_weights=load_weights, remat=remat, **overrides
        )

    def default_loss(self):
        raise NotImplementedError

    def default_loss_weights(self):
        return None

    def default_metrics(self):
        return []

    def default_weighted_metrics(self):
        """Metrics weighted by the data's sample weights, or None."""
        return None

    # Whether raw text is single texts or pairs (`"optional"`), or pairs
    # only (`"required"`); see `bert_keras.data.text_inputs`.
    text_pairs = "optional"

    # The dimensions of the token-id arrays the model reads.
    token_axes = ("batch", "sequence")

    def label_classes(self):
        """Class count that integer labels must stay below, or None."""
        return None

    def label_message(self, labels, x):
        """Why concrete `labels` (for inputs `x`) cannot train this task, or None."""
        return None

    def fit(self, x=None, y=None, batch_size=None, epochs=1, validation_data=None,
            sample_weight=None, shuffle=True, steps_per_epoch=None, **kwargs):
        x, y = checked_data(self, x, y, "training")
        if validation_data is not None and not is_dataset(validation_data):
            val_x, val_y, val_weight = keras.utils.unpack_x_y_sample_weight(validation_data)
            val_x, val_y = checked_data(self, val_x, val_y, "validation")
            validation_data = (val_x, val_y) if val_weight is None else (val_x, val_y, val_weight)
        elif validation_data is not None:
            validation_data = checked_data(self, validation_data, None, "validation")[0]
        text_batch_size = batch_size or 32
        schedule_steps = steps_per_epoch or batches_per_epoch(x, text_batch_size)
        if self.preprocessor is not None and holds_text(x):
            x = self._text_dataset(x, y, sample_weight, text_batch_size, shuffle, bucketed=True)
            y = sample_weight = batch_size = None
            shuffle = False
            if steps_per_epoch is None and schedule_steps is not None:
                # Bucketing makes the number of batches vary from epoch to
                # epoch; like the original, stream examples and count steps.
                x = x.repeat()
                steps_per_epoch = schedule_steps = max(1, math.ceil(schedule_steps))
            if validation_data is not None:
                validation_data = self._text_dataset(
                    *keras.utils.unpack_x_y_sample_weight(validation_data),
                    batch_size=text_batch_size, shuffle=False, bucketed=False,
                )
        if is_dataset(x):
            # A dataset shuffles itself; Keras would warn that it ignores this.
            shuffle = False
        self._schedule_auto_optimizer(schedule_steps, epochs)
        with translated_errors(), warnings.catch_warnings():
            # Tasks that read the sequence output leave the pooler without
            # gradients by design; Keras would warn that they are missing.
            warnings.filterwarnings("ignore", message=_POOLER_WITHOUT_GRADIENTS)
            return super().fit(
                x, y, batch_size=batch_size, epochs=epochs, validation_data=validation_data,
                sample_weight=sample_weight, shuffle=shuffle,
                steps_per_epoch=steps_per_epoch, **kwargs,
            )

    def evaluate(self, x=None, y=None, batch_size=None, sample_weight=None, **kwargs):
        x, y = checked_data(self, x, y, "evaluation")
        if self.preprocessor is not None and holds_text(x):
            x = self._text_dataset(x, y, sample_weight, batch_size, False, bucketed=False)
            y = sample_weight = batch_size = None
        with translated_errors():
            return super().evaluate(x, y, batch_size=batch_size, sample_weight=sample_weight, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        """Outputs for `x`; raw text needs the preprocessor.

        A single string is a batch of one; no examples (`[]`) give outputs
        with no rows.
        """
        x, _ = checked_data(self, x, None, "prediction", allow_empty=True)
        if not isinstance(x, dict) and _is_empty(x):
            return empty_outputs(self)
        if self.preprocessor is not None and holds_text(x):
            x = self._text_dataset(x, None, None, batch_size, False, bucketed=False)
            batch_size = None
        with translated_errors():
            return super().predict(x, batch_size=batch_size, **kwargs)

    def train_step(self, *args, **kwargs):
        return self._reducible_logs(super().train_step(*args, **kwargs))

    def test_step(self, *args, **kwargs):
        return self._reducible_logs(super().test_step(*args, **kwargs))

    def _reducible_logs(self, logs):
        # Keras averages each step's logs over the workers of a
        # MultiWorkerMirroredStrategy along axis 0, which scalars lack;
        # logs of shape [1] average to the scalars everyone else gets.
        if not spans_workers(getattr(self, "_distribute_strategy", None)):
            return logs
        return {name: keras.ops.reshape(value, (1,)) for name, value in logs.items()}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # TensorFlow trainer only. Under a strategy, Keras builds from the
        # first batch averaged over replicas in one `reduce` call, which
        # MultiWorkerMirroredStrategy's collectives reject for nested inputs
        # like ours; the build needs shapes only, which any replica's share has.
        strategy = getattr(self, "_distribute_strategy", None)
        if iterator is not None and strategy is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0],
                    next(batches),
                )
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _schedule_auto_optimizer(self, steps_per_epoch, epochs):
        arguments = getattr(self, "_compile_arguments", None)
        if arguments is None or not (
            isinstance(arguments["optimizer"], str) and arguments["optimizer"] == "auto"
        ):
            return
        if steps_per_epoch is None:
            raise ValueError(
                "The default optimizer schedules its learning rate over the "
                "training steps, and this dataset does not tell how many "
                "there are (its cardinality is unknown). Pass "
                "`steps_per_epoch` to `fit`, or `compile(optimizer=...)` "
                "with an optimizer of your own, e.g. "
                "`bert_keras.optimizers.create_optimizer(...)`."
            )
        from bert_keras.optimizers import create_optimizer

        accumulation = arguments["gradient_accumulation_steps"]
        optimizer = create_optimizer(
            arguments["learning_rate"] or self.default_learning_rate,
            max(math.ceil(int(steps_per_epoch * epochs) / accumulation), 1),
            warmup_proportion=arguments["warmup_proportion"],
            gradient_accumulation_steps=accumulation,
        )
        # The new optimizer accumulates itself.
        self.compile(**{**arguments, "optimizer": optimizer, "gradient_accumulation_steps": 1})
        # Stay "auto", so that the next `fit` schedules its own steps.
        self._compile_arguments = arguments

    def _text_dataset(self, x, y, sample_weight, batch_size, shuffle, bucketed):
        """Raw text (and labels) to batches of backbone inputs."""
        import tensorflow as tf

        from bert_keras.preprocessing.bucketing import bucketed_batches

        batch_size = batch_size or 32
        if isinstance(x, tf.data.Dataset):
            if not any(s.dtype == tf.string for s in tf.nest.flatten(x.element_spec)):
                # Already preprocessed, e.g. the validation data that
                # `fit` hands to `evaluate`.
                return x
            dataset = x.map(features_first)
        else:
            parts = (x,) + tuple(part for part in (y, sample_weight) if part is not None)
            dataset = tf.data.Dataset.from_tensor_slices(parts)
            if shuffle:
                dataset = dataset.shuffle(count_examples(x), reshuffle_each_iteration=True)
        preprocessor = self.preprocessor

        def preprocess(features, *rest):
            return (preprocessor(features), *rest)

        unbatched = tf.nest.flatten(dataset.element_spec)[0].shape.rank == 0
        if unbatched and not bucketed:
            dataset = dataset.batch(batch_size)
        dataset = dataset.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE)
        if unbatched and bucketed:
            dataset = bucketed_batches(
                dataset,
                batch_size,
                preprocessor.sequence_length,
                pad_token_id=preprocessor.tokenizer.pad_token_id,
                bucket_width=preprocessor.pad_to_multiple_of,
            )
        return dataset.prefetch(tf.data.AUTOTUNE)


_POOLER_WITHOUT_GRADIENTS = (
    r"Gradients do not exist for variables \['pooler/dense/kernel', 'pooler/dense/bias'\]"
)


def deserialized_parts(config):
    """A task's config with its serialized backbone, preprocessor and
    tokenizer rebuilt."""
    config = dict(config)
    if isinstance(config.get("preprocessor"), dict):
        # Registers the preprocessor classes; imported only here because
        # they need TensorFlow, which training on arrays does not.
        import bert_keras.preprocessing  # noqa: F401
    if isinstance(config.get("tokenizer"), dict):
        import bert_keras.tokenizers  # noqa: F401
    for key in ("backbone", "preprocessor", "tokenizer"):
        if isinstance(config.get(key), dict):
            config[key] = keras.saving.deserialize_keras_object(config[key])
    return config


def _is_empty(x):
    """Whether standardized text (or an array) holds no examples."""
    if isinstance(x, tuple):
        return len(x[0]) == 0
    return isinstance(x, list) and not x
