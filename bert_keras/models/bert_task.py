import math

import keras
import numpy as np
import tensorflow as tf

from bert_keras.preprocessing.bucketing import bucketed_batches


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
    """

    default_learning_rate = 2e-5

    def compile(
        self,
        optimizer="auto",
        loss="auto",
        metrics="auto",
        learning_rate=None,
        warmup_proportion=0.1,
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
            **kwargs: other `keras.Model.compile` arguments.
        """
        self._compile_arguments = dict(
            optimizer=optimizer,
            loss=loss,
            metrics=metrics,
            learning_rate=learning_rate,
            warmup_proportion=warmup_proportion,
            **kwargs,
        )
        if isinstance(optimizer, str) and optimizer == "auto":
            from bert_keras.optimizers import create_optimizer

            # A placeholder that `fit` replaces once the steps are known. It
            # has the recipe's variables (a schedule holds no learning-rate
            # variable), so a saved model's optimizer state loads into it.
            optimizer = create_optimizer(learning_rate or self.default_learning_rate, 1)
        if loss == "auto" and "loss_weights" not in kwargs:
            kwargs["loss_weights"] = self.default_loss_weights()
        super().compile(
            optimizer=optimizer,
            loss=self.default_loss() if loss == "auto" else loss,
            metrics=self.default_metrics() if metrics == "auto" else metrics,
            **kwargs,
        )

    def get_compile_config(self):
        # Objects (an optimizer, loss instances) are saved as "auto": a
        # loaded model gets the task's defaults, whose optimizer takes back
        # the saved state of the recipe's optimizer, and can be recompiled.
        plain = (str, int, float, bool, type(None))
        return {
            key: value if isinstance(value, plain) else "auto"
            for key, value in (getattr(self, "_compile_arguments", None) or {}).items()
        } or None

    def compile_from_config(self, config):
        self.compile(**config)
        # Built on the model's variables, the optimizer can take back the
        # state saved with the model instead of skipping it.
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @classmethod
    def from_config(cls, config):
        # Task configs hold their backbone and preprocessor serialized.
        config = dict(config)
        for key in ("backbone", "preprocessor"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    def default_loss(self):
        raise NotImplementedError

    def default_loss_weights(self):
        return None

    def default_metrics(self):
        return []

    def fit(self, x=None, y=None, batch_size=None, epochs=1, validation_data=None,
            sample_weight=None, shuffle=True, steps_per_epoch=None, **kwargs):
        text_batch_size = batch_size or 32
        schedule_steps = steps_per_epoch or _batches_per_epoch(x, text_batch_size)
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
        if isinstance(x, tf.data.Dataset):
            # A dataset shuffles itself; Keras would warn that it ignores this.
            shuffle = False
        self._schedule_auto_optimizer(schedule_steps, epochs)
        return super().fit(
            x, y, batch_size=batch_size, epochs=epochs, validation_data=validation_data,
            sample_weight=sample_weight, shuffle=shuffle,
            steps_per_epoch=steps_per_epoch, **kwargs,
        )

    def evaluate(self, x=None, y=None, batch_size=None, sample_weight=None, **kwargs):
        if self.preprocessor is not None and holds_text(x):
            x = self._text_dataset(x, y, sample_weight, batch_size, False, bucketed=False)
            y = sample_weight = batch_size = None
        return super().evaluate(x, y, batch_size=batch_size, sample_weight=sample_weight, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        if self.preprocessor is not None and holds_text(x):
            x = self._text_dataset(x, None, None, batch_size, False, bucketed=False)
            batch_size = None
        return super().predict(x, batch_size=batch_size, **kwargs)

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

        optimizer = create_optimizer(
            arguments["learning_rate"] or self.default_learning_rate,
            max(int(steps_per_epoch * epochs), 1),
            warmup_proportion=arguments["warmup_proportion"],
        )
        self.compile(**{**arguments, "optimizer": optimizer})
        # Stay "auto", so that the next `fit` schedules its own steps.
        self._compile_arguments = arguments

    def _text_dataset(self, x, y, sample_weight, batch_size, shuffle, bucketed):
        """Raw text (and labels) to batches of backbone inputs."""
        batch_size = batch_size or 32
        if isinstance(x, tf.data.Dataset):
            if not any(s.dtype == tf.string for s in tf.nest.flatten(x.element_spec)):
                # Already preprocessed, e.g. the validation data that
                # `fit` hands to `evaluate`.
                return x
            dataset = x.map(_features_first)
        else:
            parts = (x,) + tuple(part for part in (y, sample_weight) if part is not None)
            dataset = tf.data.Dataset.from_tensor_slices(parts)
            if shuffle:
                dataset = dataset.shuffle(_count(x), reshuffle_each_iteration=True)
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


def holds_text(x):
    """Whether `x` (data for `fit`, `evaluate` or `predict`) is raw text."""
    if isinstance(x, tf.data.Dataset):
        return any(spec.dtype == tf.string for spec in tf.nest.flatten(x.element_spec))
    for leaf in tf.nest.flatten(x):
        if isinstance(leaf, (str, bytes)):
            return True
        if isinstance(leaf, tf.Tensor):
            if leaf.dtype == tf.string:
                return True
            continue
        array = np.asarray(leaf) if isinstance(leaf, (list, np.ndarray)) else None
        if array is not None and array.size and (
            array.dtype.kind in "SU" or isinstance(array.flat[0], (str, bytes))
        ):
            return True
    return False


def _features_first(*element):
    """Dataset elements as `(features, *labels_and_weights)`.

    Elements made only of strings are features alone (a text, a pair, a
    dict); otherwise the first item is the features.
    """
    if all(leaf.dtype == tf.string for leaf in tf.nest.flatten(element)):
        return (element[0] if len(element) == 1 else tuple(element),)
    return element


def _count(x):
    return len(x[0]) if isinstance(x, tuple) else len(x)


def _batches_per_epoch(x, batch_size):
    """Training steps per epoch as the original counts them, or None."""
    if isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality())
        if cardinality < 0:
            return None
        unbatched = tf.nest.flatten(x.element_spec)[0].shape.rank == 0
        return cardinality / batch_size if unbatched else cardinality
    if isinstance(x, dict):
        return len(next(iter(x.values()))) / batch_size
    return _count(x) / batch_size
