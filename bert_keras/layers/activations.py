"""Activation names understood by the BERT layers.

Google's `modeling.py` calls its tanh approximation of GELU "gelu", while
Hugging Face and Keras call the exact erf form "gelu". We name both forms
explicitly so a configuration can never silently pick the wrong one.
"""

import keras

ACTIVATIONS = ("gelu_approximate", "gelu", "relu", "tanh", "silu")


def get_activation(name):
    """Returns the activation function registered under `name`.

    Args:
        name: one of `"gelu_approximate"` (the tanh form of the original
            BERT), `"gelu"` (the exact erf form), `"relu"`, `"tanh"`,
            `"silu"`.
    """
    if name == "gelu_approximate":
        return lambda x: keras.activations.gelu(x, approximate=True)
    if name == "gelu":
        return _gelu_erf
    if name in ACTIVATIONS:
        return keras.activations.get(name)
    raise ValueError(
        f"Unknown activation {name!r}. Use one of {', '.join(ACTIVATIONS)} "
        "(the original BERT checkpoints use 'gelu_approximate')."
    )


def _gelu_erf(x):
    # The erf form, as transformers writes it, on every backend. TensorFlow's
    # own `gelu` computes it with `erfc`, which has no ONNX operator, so the
    # model would not export; with `erf` TensorFlow's CPU remapper still
    # fuses it into the preceding matmul.
    return 0.5 * x * (1.0 + keras.ops.erf(x * 0.7071067811865476))
