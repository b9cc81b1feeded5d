import keras

from bert_keras.options import pooling_modes


@keras.saving.register_keras_serializable(package="bert_keras")
class SentencePooling(keras.layers.Layer):
    """Pools token vectors into one vector per sequence.

    Modes, computed in float32 over the real tokens (padding excluded) and
    concatenated in the given order:
    - `"cls"`: the first token's vector;
    - `"pooled"`: the backbone's tanh pooler on the first token;
    - `"mean"`: the mean over real tokens;
    - `"max"`: the element-wise maximum over real tokens;
    - `"mean_sqrt_len"`: the sum over real tokens divided by the square root
      of their count.

    These are sentence-transformers' `Pooling` modes of the same names, with
    its guard of 1e-9 on the token count.

    Args:
        pooling: a mode, or a list of modes to concatenate.
        **kwargs: other `keras.layers.Layer` arguments (`name`).

    Example:
    >>> import numpy as np
    >>> tokens = np.array([[[1.0, 2.0], [3.0, 6.0], [9.0, 9.0]]], "float32")
    >>> mask = np.array([[1, 1, 0]], "int32")
    >>> pooled = np.zeros((1, 2), "float32")
    >>> keras.ops.convert_to_numpy(SentencePooling("mean")(tokens, mask, pooled)).tolist()
    [[2.0, 4.0]]
    """

    def __init__(self, pooling="mean", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.modes = pooling_modes(pooling)
        self.pooling = pooling if isinstance(pooling, str) else list(pooling)

    def call(self, sequence_output, padding_mask, pooled_output):
        tokens = keras.ops.cast(sequence_output, "float32")
        mask = keras.ops.cast(padding_mask, "float32")[:, :, None]
        count = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1e-9)
        total = keras.ops.sum(tokens * mask, axis=1)
        vectors = []
        for mode in self.modes:
            if mode == "cls":
                vectors.append(tokens[:, 0, :])
            elif mode == "pooled":
                vectors.append(keras.ops.cast(pooled_output, "float32"))
            elif mode == "mean":
                vectors.append(total / count)
            elif mode == "mean_sqrt_len":
                vectors.append(total / keras.ops.sqrt(count))
            else:
                # The lowest float32, not -inf: the same maximum for every row
                # with a real token, and no infinities in the gradients.
                lowest = keras.ops.cast(-3.4028235e38, "float32")
                vectors.append(keras.ops.max(keras.ops.where(mask > 0, tokens, lowest), axis=1))
        return vectors[0] if len(vectors) == 1 else keras.ops.concatenate(vectors, axis=-1)

    def compute_output_shape(
        self, sequence_output_shape, padding_mask_shape=None, pooled_output_shape=None
    ):
        hidden = sequence_output_shape[-1]
        return (sequence_output_shape[0], None if hidden is None else hidden * len(self.modes))

    def get_config(self):
        config = super().get_config()
        config["pooling"] = self.pooling
        return config
