"""Trains a tiny classifier or pretrainer under several distributions, in one process.

Run as its own process, because devices are fixed when a backend starts:
TensorFlow splits the CPU into two logical devices here, before its first
operation; JAX reads `XLA_FLAGS` (set by the caller) when it loads.

    python tests/distribute/train_tiny.py OUTPUT.json RUN [RUN ...]

Each RUN is `[TASK/]MODE[:ACCUMULATION]`. TASK is `classifier` (the
default) or `pretrainer` (masked LM and next sentence, with padded
prediction slots and the LAMB recipe). MODE is `single` (no strategy),
`mirrored` (TensorFlow, two logical CPUs), `multi_worker` (TensorFlow,
`TF_CONFIG` set by the caller), `data_parallel` (JAX, every CPU device) or
`model_parallel` (JAX, weights split in two). ACCUMULATION (default 1)
splits each global batch into that many micro-batches whose gradients make
one update. OUTPUT.json maps each RUN to the per-step losses, the logits of
the training inputs afterwards, the evaluation metrics, the replica and
update counts, or the error it raised.
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
from bert_keras.models import BertBackbone, BertClassifier, BertPretrainer  # noqa: E402
from bert_keras.optimizers import create_optimizer, create_pretraining_optimizer  # noqa: E402

PREDICTIONS = 4


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


def pretraining_data():
    """The classifier's inputs with masked-LM predictions and next-sentence labels.

    Every example has three real predictions and one padded slot, so each
    replica and micro-batch holds the same masked-LM weight: a TensorFlow
    strategy averages the replicas' own weighted means (as the original's
    TPU shards do), which then equals the mean over the whole batch.
    """
    inputs, next_sentence = data()
    rng = np.random.default_rng(1)
    lengths = inputs["padding_mask"].sum(axis=1)
    positions = np.zeros((EXAMPLES, PREDICTIONS), "int32")
    for row, length in enumerate(lengths):
        positions[row, :-1] = rng.choice(length, PREDICTIONS - 1, replace=False)
    weights = np.ones((EXAMPLES, PREDICTIONS), "float32")
    weights[:, -1] = 0.0
    masked_ids = np.take_along_axis(inputs["token_ids"], positions, 1)
    labels = {
        "masked_lm": masked_ids * weights.astype("int32"),
        "next_sentence": next_sentence,
    }
    inputs = {**inputs, "masked_lm_positions": positions}
    sample_weight = {"masked_lm": weights, "next_sentence": np.ones(EXAMPLES, "float32")}
    return inputs, labels, sample_weight


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


def build(task, accumulation):
    backbone = BertBackbone(
        vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=SEQUENCE,
        dropout=0.0, attention_dropout=0.0,
    )
    updates = EPOCHS * EXAMPLES // GLOBAL_BATCH
    if task == "pretrainer":
        model = BertPretrainer(backbone)
        optimizer = create_pretraining_optimizer(
            1e-2, updates, 1, optimizer="lamb", gradient_accumulation_steps=accumulation
        )
    else:
        model = BertClassifier(backbone, num_classes=2, dropout=0.0)
        model.preprocessor = None
        optimizer = create_optimizer(
            1e-2, updates, warmup_proportion=0.25, gradient_accumulation_steps=accumulation
        )
    model.compile(optimizer=optimizer)
    return model


def train(task, mode, accumulation):
    strategy = strategy_for(mode)
    keras.utils.set_random_seed(7)
    if task == "pretrainer":
        inputs, labels, sample_weight = pretraining_data()
    else:
        (inputs, labels), sample_weight = data(), None
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build(task, accumulation)
        recorder = StepLosses()
        model.fit(
            inputs, labels, sample_weight=sample_weight, batch_size=GLOBAL_BATCH // accumulation,
            epochs=EPOCHS, shuffle=False, verbose=0, callbacks=[recorder],
        )
        logits = model.predict(inputs, batch_size=GLOBAL_BATCH, verbose=0)
        metrics = model.evaluate(
            inputs, labels, sample_weight=sample_weight, batch_size=GLOBAL_BATCH,
            verbose=0, return_dict=True,
        )
    if isinstance(logits, dict):
        logits = np.concatenate([np.reshape(logits[k], (EXAMPLES, -1)) for k in sorted(logits)], 1)
    result = {
        "losses": recorder.losses,
        "logits": np.asarray(logits).tolist(),
        "metrics": {key: float(value) for key, value in metrics.items()},
        "replicas": 1 if strategy is None else distribute.num_replicas(strategy),
        "updates": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
    }
    if mode == "model_parallel":
        kernel = model.backbone.encoder_blocks[0].attention.qkv_dense.kernel
        result["qkv_kernel_sharding"] = str(kernel.value.sharding.spec)
    return result


def main(output, runs):
    results = {}
    for run in runs:
        task, _, mode = run.rpartition("/")
        mode, _, accumulation = mode.partition(":")
        try:
            results[run] = train(task or "classifier", mode, int(accumulation or 1))
        except Exception as error:  # reported to the test, which judges it
            results[run] = {"error": f"{type(error).__name__}: {error}"}
    with open(output, "w") as file:
        json.dump(results, file)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
