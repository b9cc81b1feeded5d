"""ONNX models on token ids, for ONNX Runtime.

`export_onnx(model, folder)` writes a folder with:

- `model.onnx`: the model's `serve_token_ids` graph (the one in our
  SavedModel), converted by tf2onnx, each layer normalization as one
  `LayerNormalization` node. Inputs `token_ids`, `segment_ids` and
  `padding_mask`, `int32` of shape `[batch, seq]` (`[batch, choices, seq]`
  for a `BertMultipleChoice`), with any batch size and any length up to the
  model's positions. Outputs, `float32`, named as the SavedModel's: a
  classifier's `logits` and `probabilities` (`predictions` for
  regression), a backbone's `sequence_output` and `pooled_output`, a
  sentence encoder's `embeddings`, a tagger's per-token `logits`, a span
  labeler's `start_logits` and `end_logits`, a multiple-choice model's
  `logits` and `probabilities`.
- `vocab.txt`, `tokenizer_config.json`, `special_tokens_map.json`: the
  tokenizer, in the files transformers' `BertTokenizer` reads, so
  `AutoTokenizer.from_pretrained(folder)` makes the ids on ordinary text.
  Our `BertTokenizer` (and the SavedModel's `serve_text`) is the one that is
  exact to the original on every input; a tokenizer is not an ONNX graph.
- `bert_keras.json`: the model kind, the inputs and outputs, the casing,
  the longest sequence the export was made for, and the quantization.

`quantize="int8"` writes ONNX Runtime's dynamic int8 model instead: 8-bit
weights (one scale per output column) for every dense layer and the token
and segment embeddings, and activations quantized per call. On CPUs with
VNNI (AVX512-VNNI, AVX-VNNI) this is the fastest way we know to serve a
BERT; on older x86 CPUs, whose int8 instructions can saturate, check the
accuracy on your dev set before serving it.

Loading it needs only `onnxruntime` (and `numpy`).
"""

import contextlib
import json
import logging
import pathlib
import re
import sys

import keras

from bert_keras.errors import ExportError
from bert_keras.export.atomic_directory import atomic_directory, check_destination
from bert_keras.export.tensorflow_process import export_in_tensorflow_process, load_handed_over

MODEL_FILE = "model.onnx"
METADATA_FILE = "bert_keras.json"
# The opset the exports are tested at; every runtime of the last three
# years reads it.
DEFAULT_OPSET = 17
QUANTIZATIONS = (None, "int8")


def export_onnx(model, folder, preprocessor=None, overwrite=False, opset=DEFAULT_OPSET,
                quantize=None):
    """Writes `model` on token ids as an ONNX Runtime folder (see the module).

    The folder appears whole or not at all, and an existing export is only
    replaced with `overwrite=True`. Under JAX (or torch) the conversion runs
    in a TensorFlow process, from a temporary `.keras` copy.

    Args:
        model: a `BertClassifier`, `BertSpanLabeler`, `BertSentenceEncoder`,
            `BertMultipleChoice`, `BertTokenClassifier` or `BertBackbone`.
        folder: str or path. The folder to create.
        preprocessor: as for `export_saved_model`: needed for a backbone
            (it gives the vocabulary and the longest sequence), optional
            for a task that has one.
        overwrite: bool. Whether to replace an existing `folder`.
        opset: int. The ONNX opset to write (17 or later).
        quantize: `None` (float32) or `"int8"`: ONNX Runtime's dynamic int8
            quantization of the float32 graph (see the module).

    Returns:
        The folder, as a `pathlib.Path`.

    Raises:
        ExportError: the model is not exportable, no preprocessor is known,
            `tf2onnx` is not installed, or `folder` exists (without
            `overwrite`) or cannot be written.

    Example:
    ```python
    import numpy as np
    import onnxruntime
    from bert_keras.export import export_onnx
    from bert_keras.models import BertClassifier

    classifier = BertClassifier.from_preset("bert_tiny_en_uncased", num_classes=2)
    export_onnx(classifier, "exported/sentiment-onnx")

    session = onnxruntime.InferenceSession("exported/sentiment-onnx/model.onnx")
    ids = classifier.preprocessor(["a great film"])
    session.run(["probabilities"], {k: np.asarray(v) for k, v in ids.items()})
    ```
    """
    from bert_keras.export.saved_model import model_and_preprocessor

    if opset < DEFAULT_OPSET:
        raise ExportError(
            f"opset={opset} is older than the exports are tested at; use "
            f"{DEFAULT_OPSET} or later."
        )
    if quantize not in QUANTIZATIONS:
        raise ExportError(
            f"quantize={quantize!r} is not a quantization the ONNX export makes; "
            "use None (float32) or \"int8\"."
        )
    _require_tf2onnx()
    model, preprocessor = model_and_preprocessor(model, preprocessor)
    folder = pathlib.Path(folder)
    check_destination(folder, overwrite)
    if keras.backend.backend() != "tensorflow":
        flags = ["--opset", str(opset), "--quantize", str(quantize)] + (
            ["--overwrite"] if overwrite else [])
        export_in_tensorflow_process("bert_keras.export.onnx", model, preprocessor, folder, flags)
    else:
        with atomic_directory(folder, overwrite, kind="onnx") as temporary:
            _write(model, preprocessor, temporary, opset, quantize)
    return folder.absolute()


def _require_tf2onnx():
    try:
        import onnx  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError as error:
        raise ExportError(
            f"The ONNX export needs tf2onnx and onnx ({error.name} is missing): "
            "pip install 'bert-keras[onnx]'."
        ) from None


def _write(model, preprocessor, folder, opset, quantize):
    import tensorflow as tf
    import tf2onnx

    from bert_keras.export.huggingface import write_tokenizer_files
    from bert_keras.export.onnx_layer_norm import fuse_layer_norms
    from bert_keras.export.signatures import signatures_for

    signatures, _ = signatures_for(model, preprocessor, None)
    serve_token_ids = signatures["serve_token_ids"]
    id_specs = serve_token_ids.input_signature
    inputs = [spec.name for spec in id_specs]
    # tf2onnx copies every constant at each of its two dozen graph passes
    # (over 20 GB for BERT-Base), so the weights enter the traced graph as
    # inputs and become the ONNX model's initializers afterwards.
    variables = model.variables
    weight_names = [_weight_name(index, variable) for index, variable in enumerate(variables)]
    weight_specs = [tf.TensorSpec(variable.shape, variable.dtype, name=name)
                    for name, variable in zip(weight_names, variables)]

    # A backbone's SavedModel echoes its ids back; an ONNX caller holds
    # them already, and tf2onnx cannot map an input straight to an output.
    def model_outputs(*arguments):
        ids, values = arguments[:len(id_specs)], arguments[len(id_specs):]
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            outputs = serve_token_ids.python_function(*ids)
        return {name: value for name, value in outputs.items() if name not in inputs}

    signature = [*id_specs, *weight_specs]
    function = tf.function(model_outputs, input_signature=signature, autograph=False)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=opset)
    _weights_to_initializers(proto, dict(zip(weight_names, variables)))
    fuse_layer_norms(proto.graph)
    if quantize == "int8":
        proto = _int8(proto, folder)
    with open(folder / MODEL_FILE, "wb") as file:
        file.write(proto.SerializeToString())
    write_tokenizer_files(folder, preprocessor.tokenizer, preprocessor.sequence_length)
    (folder / METADATA_FILE).write_text(
        json.dumps(_metadata(model, preprocessor, proto, opset, quantize), indent=2) + "\n"
    )


def _weight_name(index, variable):
    return f"{re.sub(r'[^A-Za-z0-9_]', '_', variable.path)}_{index}"


def _weights_to_initializers(proto, variables):
    from onnx import numpy_helper

    used = {name for node in proto.graph.node for name in node.input}
    graph_inputs = [value for value in proto.graph.input if value.name not in variables]
    del proto.graph.input[:]
    proto.graph.input.extend(graph_inputs)
    for name, variable in variables.items():
        if name in used:
            proto.graph.initializer.append(
                numpy_helper.from_array(keras.ops.convert_to_numpy(variable), name)
            )


def _int8(proto, folder):
    """ONNX Runtime's dynamic int8 quantization of the float32 `proto`."""
    import onnx

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ExportError(
            "quantize=\"int8\" needs onnxruntime's quantizer: pip install 'bert-keras[onnx]'."
        ) from None
    float_path, int8_path = folder / "float32.onnx", folder / "int8.onnx"
    onnx.save(proto, float_path)
    # The quantizer's shape inference cannot type every MatMul of a graph
    # whose lengths are dynamic; all of ours are float32.
    with _quiet_root_logger():
        # One scale per output column: on fine-tuned MiniLM it halves the
        # probabilities' mean change against float32 (0.013 -> 0.006).
        quantize_dynamic(float_path, int8_path, weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    quantized = onnx.load(int8_path)
    float_path.unlink()
    int8_path.unlink()
    return quantized


@contextlib.contextmanager
def _quiet_root_logger():
    """Holds back the quantizer's advice, logged to the root logger, to run
    its shape pre-processing: the float32 graph is already what it needs."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _metadata(model, preprocessor, proto, opset, quantize):
    import bert_keras

    return {
        "model": type(model).__name__,
        "num_classes": getattr(model, "num_classes", None),
        **({"label_names": model.label_names} if getattr(model, "label_names", None) else {}),
        "inputs": [value.name for value in proto.graph.input],
        "input_dtype": "int32",
        "outputs": [value.name for value in proto.graph.output],
        "max_seq_length": preprocessor.sequence_length,
        "max_positions": getattr(model, "backbone", model).max_sequence_length,
        "lowercase": preprocessor.tokenizer.lowercase,
        "opset": opset,
        "quantization": quantize,
        "bert_keras_version": bert_keras.__version__,
    }


def _main(argv):
    """Runs an export handed over by `export_in_tensorflow_process`."""
    model_path, preprocessor_path, folder, *flags = argv
    model, preprocessor = load_handed_over(model_path, preprocessor_path)
    export_onnx(
        model, folder, preprocessor, overwrite="--overwrite" in flags,
        opset=int(flags[flags.index("--opset") + 1]),
        quantize=None if (value := flags[flags.index("--quantize") + 1]) == "None" else value,
    )


if __name__ == "__main__":
    _main(sys.argv[1:])
