"""One switch for where training runs: CPU, one or many GPUs, TPU, workers.

`get_strategy(name)` returns the object whose `scope()` a model is built,
compiled and trained in, on either Keras backend:

- TensorFlow: a `tf.distribute` strategy (`OneDeviceStrategy`,
  `MirroredStrategy`, `MultiWorkerMirroredStrategy` from `TF_CONFIG`, or
  `TPUStrategy` through a TPU cluster resolver).
- JAX: a `keras.distribution` distribution: `DataParallel` over the chosen
  devices, or `ModelParallel` with `bert_layout_map` when the model is split
  across devices (`model_parallel=k`); several hosts join through
  `jax.distributed` with `"multi_worker"`.

It also sets Keras's global dtype policy for the devices it picked (see
`default_precision`), unless told otherwise.

Batch sizes are global: a batch of `B` examples is split into `B / replicas`
per replica (`num_replicas(strategy)`), so results do not depend on the
number of devices, and the learning-rate schedule counts global steps.

On TensorFlow, asking again for the same mirrored devices returns the same
strategy: a second `MirroredStrategy` over them restarts TensorFlow's
collective keys, and its first all-reduce then fails on the first one's
shapes (so training a second model in a notebook would break).

Example:
```python
import bert_keras
from bert_keras.models import BertClassifier

strategy = bert_keras.distribute.get_strategy("auto")
with strategy.scope():
    classifier = BertClassifier.from_preset("bert_tiny_en_uncased", num_classes=2)
    classifier.fit(["a great film", "a dull mess"], [1, 0], batch_size=2)
```
"""

import functools
import json
import os

from bert_keras.errors import DistributionError

__all__ = [
    "NAMES",
    "PRECISIONS",
    "bert_layout_map",
    "default_precision",
    "get_strategy",
    "num_replicas",
]

NAMES = ("auto", "cpu", "gpu", "multi_gpu", "tpu", "multi_worker")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")

# Environment variables that say a TPU is attached: a Cloud TPU VM, Colab,
# or a TPU named for the cluster resolver.
_TPU_ENVIRONMENT = ("TPU_NAME", "COLAB_TPU_ADDR", "TPU_ACCELERATOR_TYPE")
# Environment variables with which `keras.distribution.initialize` (and
# `jax.distributed`) find the other hosts of a multi-host JAX job.
_JAX_CLUSTER_ENVIRONMENT = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES")


def get_strategy(name="auto", precision="auto", devices=None, model_parallel=1, tpu=None):
    """The distribution strategy for `name`, with mixed precision to match.

    Args:
        name: one of `NAMES`. `"auto"` picks a TPU when one is attached, many
            workers when `TF_CONFIG` (TensorFlow) or the Keras cluster
            variables (JAX) list several, then all local GPUs, one GPU, or
            the CPU.
        precision: one of `PRECISIONS`, or None to leave Keras's dtype policy
            alone. `"auto"` is `default_precision` for the devices chosen:
            bfloat16 on TPUs and on GPUs from Ampere (compute capability 8.0)
            on, float16 (with loss scaling, which `compile` adds) on older
            GPUs, float32 on CPUs.
        devices: device names to use instead of all of a kind, e.g.
            `["/cpu:0", "/cpu:1"]` (TensorFlow) or `["gpu:0", "gpu:1"]` (JAX),
            for `"multi_gpu"` and `"gpu"`.
        model_parallel: int. JAX only: devices each model is split over
            (`ModelParallel` on a `(replicas, model_parallel)` mesh with
            `bert_layout_map`); 1 replicates the model on every device.
        tpu: the TPU's name or address for the cluster resolver (TensorFlow);
            None reads it from the environment.

    Returns:
        On TensorFlow a `tf.distribute.Strategy`, on JAX a
        `keras.distribution.Distribution`; both have `scope()`.
    """
    # Keras is imported in the functions, so that the command line can
    # offer these choices without paying for it.
    import keras

    if name not in NAMES:
        raise DistributionError(
            f"Unknown distribution {name!r}; choose one of {', '.join(NAMES)}."
        )
    if precision is not None and precision not in PRECISIONS:
        raise DistributionError(
            f"Unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}, "
            "or None to keep Keras's dtype policy."
        )
    if model_parallel < 1:
        raise DistributionError(f"model_parallel must be at least 1, got {model_parallel}.")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        if model_parallel != 1:
            raise DistributionError(
                "model_parallel splits models across devices on the JAX "
                "backend only; set KERAS_BACKEND=jax, or keep model_parallel=1."
            )
        strategy, platform, capability = _tensorflow_strategy(name, devices, tpu)
    elif backend == "jax":
        strategy, platform, capability = _jax_distribution(name, devices, model_parallel)
    else:
        raise DistributionError(
            f"bert_keras.distribute supports the tensorflow and jax backends, not {backend!r}."
        )
    if precision == "auto":
        precision = default_precision(platform, capability)
    if precision is not None:
        keras.config.set_dtype_policy(precision)
    return strategy


def default_precision(platform, compute_capability=None):
    """The dtype policy that trains fastest on `platform` without losing accuracy.

    Args:
        platform: `"cpu"`, `"gpu"` or `"tpu"`.
        compute_capability: a GPU's `(major, minor)` compute capability.

    Returns:
        `"mixed_bfloat16"`, `"mixed_float16"` or `"float32"`.

    Example:
    >>> default_precision("gpu", (7, 0))
    'mixed_float16'
    """
    if platform == "tpu":
        return "mixed_bfloat16"
    if platform == "gpu":
        # bfloat16 matrix units arrived with Ampere; older GPUs have fast
        # float16 only, which needs loss scaling.
        if compute_capability is not None and tuple(compute_capability) >= (8, 0):
            return "mixed_bfloat16"
        return "mixed_float16"
    return "float32"


def num_replicas(strategy):
    """How many replicas share each global batch under `strategy`."""
    if hasattr(strategy, "num_replicas_in_sync"):
        return strategy.num_replicas_in_sync
    mesh = strategy.device_mesh
    return mesh.shape[mesh.axis_names.index(strategy.batch_dim_name)]


def bert_layout_map(device_mesh, model_axis="model"):
    """How `ModelParallel` splits a BERT's weights over `model_axis`.

    Megatron-style: the fused query/key/value and the first feed-forward
    kernels are split by output columns, the attention output and second
    feed-forward kernels by input rows, so each block needs one reduction
    per half; the token embedding is split by vocabulary rows. Everything
    else (LayerNorms, positions, pooler, heads) is replicated.

    Args:
        device_mesh: a `keras.distribution.DeviceMesh` with `model_axis`.
        model_axis: the mesh axis the weights are split over.

    Returns:
        A `keras.distribution.LayoutMap`.
    """
    import keras

    layout_map = keras.distribution.LayoutMap(device_mesh)
    # Keys are regular expressions that must match whole variable paths.
    layout_map[r".*token_embedding/embeddings"] = (model_axis, None)
    layout_map[r".*attention/qkv/kernel"] = (None, model_axis)
    layout_map[r".*attention/qkv/bias"] = (model_axis,)
    layout_map[r".*attention/output/kernel"] = (model_axis, None)
    layout_map[r".*intermediate/kernel"] = (None, model_axis)
    layout_map[r".*intermediate/bias"] = (model_axis,)
    layout_map[r".*encoder_block_\d+/output/kernel"] = (model_axis, None)
    return layout_map


# === TensorFlow ===


def _tensorflow_strategy(name, devices, tpu):
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if name == "auto":
        if tpu or any(os.environ.get(variable) for variable in _TPU_ENVIRONMENT):
            name = "tpu"
        elif _tf_config_workers() > 1:
            name = "multi_worker"
        elif len(devices or gpus) > 1:
            name = "multi_gpu"
        else:
            name = "gpu" if gpus else "cpu"
    if name == "tpu":
        return _tpu_strategy(tpu), "tpu", None
    if name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise DistributionError(
                "multi_worker reads the cluster from the TF_CONFIG environment "
                "variable, which is not set; set it on every worker (see "
                "https://www.tensorflow.org/guide/distributed_training), or "
                "choose another distribution."
            )
        return _multi_worker_strategy(), "gpu" if gpus else "cpu", _tf_capability(gpus)
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0"), "cpu", None
    if not (gpus or devices):
        raise DistributionError(
            f"{name} needs a GPU, and TensorFlow sees none; choose cpu (or "
            "auto), or install a GPU build of TensorFlow."
        )
    platform = _platform_of(devices) if devices else "gpu"
    capability = _tf_capability(gpus) if platform == "gpu" else None
    if name == "gpu":
        return tf.distribute.OneDeviceStrategy((devices or ["/gpu:0"])[0]), platform, capability
    return _mirrored_strategy(tuple(devices or ())), platform, capability


@functools.cache
def _mirrored_strategy(devices):
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices) or None)


@functools.cache
def _multi_worker_strategy():
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def _tpu_strategy(tpu):
    import tensorflow as tf

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise DistributionError(
            f"Could not reach a TPU ({error}). On a TPU VM or in Colab, run "
            "with a TPU attached; elsewhere pass the TPU's name (tpu=... or "
            "TPU_NAME), or choose another distribution."
        ) from error
    return tf.distribute.TPUStrategy(resolver)


def _tf_config_workers():
    try:
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    except json.JSONDecodeError as error:
        raise DistributionError(f"TF_CONFIG is not valid JSON: {error}") from error
    return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))


def _tf_capability(gpus):
    import tensorflow as tf

    if not gpus:
        return None
    return tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")


def _platform_of(devices):
    import tensorflow as tf

    kinds = {tf.DeviceSpec.from_string(device).device_type.lower() for device in devices}
    if len(kinds) != 1:
        raise DistributionError(
            f"The devices {devices} are of different kinds; replicas must be alike."
        )
    return kinds.pop()


# === JAX ===


def _join_jax_cluster():
    import jax
    import keras

    if jax.distributed.is_initialized():
        return
    try:
        # Reads the job addresses, process count and id from the
        # environment, or from a cluster JAX detects (SLURM, Cloud TPU).
        keras.distribution.initialize()
    except (ValueError, RuntimeError) as error:
        raise DistributionError(
            f"Could not join the other hosts ({error}). Set "
            "KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's host:port), "
            "KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID "
            "on every host, or choose another distribution."
        ) from error


def _jax_distribution(name, devices, model_parallel):
    import jax
    import keras

    if name == "multi_worker" or (
        name == "auto" and all(os.environ.get(variable) for variable in _JAX_CLUSTER_ENVIRONMENT)
    ):
        _join_jax_cluster()
        name = "multi_worker"
    platforms = {device.platform for device in jax.devices()}
    if name == "auto":
        if "tpu" in platforms:
            name = "tpu"
        elif "gpu" in platforms:
            name = "multi_gpu" if len(jax.devices("gpu")) > 1 else "gpu"
        else:
            name = "cpu"
    if devices is None:
        # multi_worker spans every device of every host, of the default kind.
        kind = {"cpu": "cpu", "tpu": "tpu", "multi_worker": None}.get(name, "gpu")
        if kind in ("gpu", "tpu") and kind not in platforms:
            raise DistributionError(
                f"{name} needs a {kind.upper()}, and JAX sees none (its devices: "
                f"{', '.join(sorted(platforms))}); choose cpu (or auto), or "
                f"install JAX with {kind.upper()} support."
            )
        devices = keras.distribution.list_devices(kind)
        if name in ("cpu", "gpu"):
            devices = devices[:1]
    platform = devices[0].split(":")[0].lower()
    if len(devices) % model_parallel:
        raise DistributionError(
            f"model_parallel={model_parallel} does not divide the {len(devices)} "
            "devices; choose a divisor of the device count."
        )
    if model_parallel == 1:
        distribution = keras.distribution.DataParallel(devices=devices)
    else:
        mesh = keras.distribution.DeviceMesh(
            shape=(len(devices) // model_parallel, model_parallel),
            axis_names=("batch", "model"),
            devices=devices,
        )
        distribution = keras.distribution.ModelParallel(
            layout_map=bert_layout_map(mesh), batch_dim_name="batch"
        )
    capability = None
    if platform == "gpu":
        capability = tuple(int(part) for part in jax.devices("gpu")[0].compute_capability.split("."))
    return distribution, platform, capability
