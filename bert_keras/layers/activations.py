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
        return lambda x: keras.activations.gelu(x, approximate=False)
    if name in ACTIVATIONS:
        return keras.activations.get(name)
    raise ValueError(
        f"Unknown activation {name!r}. Use one of {', '.join(ACTIVATIONS)} "
        "(the original BERT checkpoints use 'gelu_approximate')."
    )
