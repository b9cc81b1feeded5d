import keras
import numpy as np
import tensorflow as tf

from bert_keras.errors import DataError
from bert_keras.preprocessing.bert_preprocessor import BertPreprocessor

_ACCEPTED = (
    "a pair `(contexts, choices)`: a list of context strings and, for each, "
    "a list of its choices (the same number for every context), or one "
    "context with its list of choices; or a dict with keys \"context\" and "
    "\"choices\""
)


@keras.saving.register_keras_serializable(package="bert_keras")
class BertMultipleChoicePreprocessor(BertPreprocessor):
    """Packs a context with each of its choices: `[CLS] context [SEP] choice [SEP]`.

    The paper's SWAG setup: every choice is a sentence pair with the
    context, truncated as the original truncates pairs (the longer side
    loses tokens first), so the outputs are `[batch, choices, length]`
    (`[choices, length]` for one unbatched example) for `token_ids`,
    `segment_ids` and `padding_mask`. Padding is that of `BertPreprocessor`.

    Args:
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`.
        sequence_length: int. The longest packed choice.
        padding: `"max_length"` or `"longest"` (per batch).
        pad_to_multiple_of: int. With `"longest"`, the padded length is a
            multiple of this.
        **kwargs: other `keras.layers.Layer` arguments.

    Example:
    >>> from bert_keras.tokenizers import BertTokenizer
    >>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...                            "he", "ran", "sat", "."])
    >>> packer = BertMultipleChoicePreprocessor(tokenizer, sequence_length=9)
    >>> inputs = packer((["He sat."], [["He ran.", "He sat.", "."]]))
    >>> tuple(inputs["token_ids"].shape)
    (1, 3, 9)
    >>> [int(i) for i in inputs["token_ids"][0, 0]]
    [2, 5, 7, 8, 3, 5, 6, 8, 3]
    """

    def __call__(self, inputs, **kwargs):
        return keras.layers.Layer.__call__(self, tuple(self._choice_tensors(inputs)), **kwargs)

    def call(self, inputs):
        contexts, choices = self._choice_tensors(inputs)
        count = tf.shape(choices)[-1]
        repeated = tf.repeat(contexts[..., tf.newaxis], count, axis=-1)
        packed = super().call((tf.reshape(repeated, [-1]), tf.reshape(choices, [-1])))
        if choices.shape.rank == 1:
            return packed

        def unfold(value):
            if isinstance(value, np.ndarray):
                return value.reshape(-1, int(count), value.shape[-1])
            return tf.reshape(value, tf.stack([-1, count, tf.shape(value)[-1]]))

        return {key: unfold(value) for key, value in packed.items()}

    def _choice_tensors(self, inputs):
        """The contexts and choices as string tensors of ranks 1 and 2 (or 0 and 1)."""
        if isinstance(inputs, dict):
            if set(inputs) != {"context", "choices"}:
                raise DataError(f"A dict input needs the keys \"context\" and \"choices\"; "
                                f"got {sorted(inputs)}. Accepted inputs: {_ACCEPTED}.")
            inputs = (inputs["context"], inputs["choices"])
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise DataError(f"Cannot read {type(inputs).__name__} as contexts and choices. "
                            f"Accepted inputs: {_ACCEPTED}.")
        contexts, choices = inputs
        if isinstance(contexts, (str, bytes)) and isinstance(choices, (list, tuple)):
            check_choice_rows([contexts], [choices])
        elif isinstance(contexts, (list, tuple)) and isinstance(choices, (list, tuple)):
            check_choice_rows(contexts, choices)
        try:
            contexts = tf.convert_to_tensor(contexts, dtype=tf.string)
            choices = tf.convert_to_tensor(choices, dtype=tf.string)
        except (TypeError, ValueError) as error:
            raise DataError(f"Cannot read the inputs as text ({error}). "
                            f"Accepted inputs: {_ACCEPTED}.") from None
        if (contexts.shape.rank, choices.shape.rank) not in ((0, 1), (1, 2)) or (
                contexts.shape.rank == 1
                and not contexts.shape[:1].is_compatible_with(choices.shape[:1])):
            raise DataError(f"Contexts of shape {contexts.shape} do not go with choices of "
                            f"shape {choices.shape}: give one row of choices per context. "
                            f"Accepted inputs: {_ACCEPTED}.")
        return contexts, choices


def check_choice_rows(contexts, choices):
    """Raises a `DataError` naming the first example whose context is not a
    string, or whose choices are not strings as many as the first's."""
    if len(contexts) != len(choices):
        raise DataError(f"There are {len(contexts)} contexts but {len(choices)} rows of choices; "
                        "give one row of choices per context.")
    width = len(choices[0]) if len(choices) else 0
    for index, (context, row) in enumerate(zip(contexts, choices)):
        if not isinstance(context, str):
            raise DataError(f"Example {index}: the context is {type(context).__name__}, not a "
                            "string.")
        if not isinstance(row, (list, tuple)) or not all(isinstance(c, str) for c in row):
            raise DataError(f"Example {index}: the choices must be a list of strings; "
                            f"got {row!r}.")
        if len(row) != width or not width:
            raise DataError(f"Example {index} has {len(row)} choices where example 0 has "
                            f"{width}; every example needs the same number of choices (at "
                            "least one).")
