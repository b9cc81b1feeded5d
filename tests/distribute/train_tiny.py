"""Trains a tiny classifier under several distributions, in one process.

Run as its own process, because devices are fixed when a backend starts:
TensorFlow splits the CPU into two logical devices here, before its first
operation; JAX reads `XLA_FLAGS` (set by the caller) when it loads.

    python tests/distribute/train_tiny.py OUTPUT.json RUN [RUN ...]

Each RUN is `MODE` or `MODE:ACCUMULATION`. MODE is `single` (no strategy),
`mirrored` (TensorFlow, two logical CPUs), `multi_worker` (TensorFlow,
`TF_CONFIG` set by the caller), `data_parallel` (JAX, every CPU device) or
`model_parallel` (JAX, weights split in two). ACCUMULATION (default 1)
splits each global batch into that many micro-batches whose gradients make
one update. OUTPUT.json maps each RUN to the per-step losses, the logits of
the training inputs afterwards, the replica and update counts, or the error
it raised.
"""

import contextlib
import json
import os
import sys

EXAMPLES, SEQUENCE, GLOBAL_BATCH, EPOCHS = 32, 8, 8, 2

if os.environ.get("KERAS_BACKEND") == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from bert_keras import distribute  # noqa: E402
from bert_keras.models import BertBackbone, BertClassifier  # noqa: E402
from bert_keras.optimizers import create_optimizer  # noqa: E402


def data():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, SEQUENCE + 1, EXAMPLES)
    padding_mask = (np.arange(SEQUENCE)[None, :] < lengths[:, None]).astype("int32")
    inputs = {
        "token_ids": rng.integers(5, 40, (EXAMPLES, SEQUENCE)).astype("int32") * padding_mask,
        "segment_ids": (rng.random((EXAMPLES, SEQUENCE)) < 0.3).astype("int32") * padding_mask,
        "padding_mask": padding_mask,
    }
    return inputs, rng.integers(0, 2, EXAMPLES)


def strategy_for(mode):
    if mode == "single":
        return None
    if mode == "mirrored":
        return distribute.get_strategy("multi_gpu", devices=["/cpu:0", "/cpu:1"])
    if mode == "multi_worker":
        return distribute.get_strategy("multi_worker")
    devices = keras.distribution.list_devices("cpu")
    if mode == "data_parallel":
        return distribute.get_strategy("multi_gpu", devices=devices)
    return distribute.get_strategy("multi_gpu", devices=devices, model_parallel=2)


class StepLosses(keras.callbacks.Callback):
    """Each step's own loss, recovered from Keras's running epoch mean."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_epoch_begin(self, epoch, logs=None):
        self.mean, self.count = 0.0, 0

    def on_train_batch_end(self, batch, logs=None):
        mean = float(logs["loss"])
        self.count += 1
        self.losses.append(mean * self.count - self.mean * (self.count - 1))
        self.mean = mean


def train(mode, accumulation):
    strategy = strategy_for(mode)
    keras.utils.set_random_seed(7)
    inputs, labels = data()
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        backbone = BertBackbone(
            vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16,
            intermediate_dim=32, max_sequence_length=SEQUENCE,
            dropout=0.0, attention_dropout=0.0,
        )
        classifier = BertClassifier(backbone, num_classes=2, dropout=0.0)
        classifier.preprocessor = None
        updates = EPOCHS * EXAMPLES // GLOBAL_BATCH
        optimizer = create_optimizer(
            1e-2, updates, warmup_proportion=0.25, gradient_accumulation_steps=accumulation
        )
        classifier.compile(optimizer=optimizer)
        recorder = StepLosses()
        classifier.fit(
            inputs, labels, batch_size=GLOBAL_BATCH // accumulation, epochs=EPOCHS,
            shuffle=False, verbose=0, callbacks=[recorder],
        )
        logits = classifier.predict(inputs, batch_size=GLOBAL_BATCH, verbose=0)
    result = {
        "losses": recorder.losses,
        "logits": np.asarray(logits).tolist(),
        "replicas": 1 if strategy is None else distribute.num_replicas(strategy),
        "updates": int(keras.ops.convert_to_numpy(classifier.optimizer.iterations)),
    }
    if mode == "model_parallel":
        kernel = backbone.encoder_blocks[0].attention.qkv_dense.kernel
        result["qkv_kernel_sharding"] = str(kernel.value.sharding.spec)
    return result


def main(output, runs):
    results = {}
    for run in runs:
        mode, _, accumulation = run.partition(":")
        try:
            results[run] = train(mode, int(accumulation or 1))
        except Exception as error:  # reported to the test, which judges it
            results[run] = {"error": f"{type(error).__name__}: {error}"}
    with open(output, "w") as file:
        json.dump(results, file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
