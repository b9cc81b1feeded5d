import numbers

import keras
import tensorflow as tf

from bert_keras.data.text_inputs import standardize_text
from bert_keras.errors import DataError

# Imported for its registration: a saved preprocessor's config names its
# tokenizer class, which Keras must know to load it.
from bert_keras.tokenizers import bert_tokenizer  # noqa: F401

_PADDINGS = ("max_length", "longest")


def _is_plain_python(inputs):
    """Whether `inputs` is text held in Python containers, with no tensors."""
    if isinstance(inputs, tuple):
        return all(isinstance(part, (str, bytes, list)) for part in inputs)
    return isinstance(inputs, (str, bytes, list))
_ACCEPTED_INPUTS = (
    "a string, a list of strings, or a string tensor/array of rank 0 or 1; "
    "a tuple `(text_a, text_b)` of two of these for sentence pairs; a list "
    'of (text_a, text_b) pairs; or a dict with key "text_a" and optionally '
    '"text_b"'
)


@keras.saving.register_keras_serializable(package="bert_keras")
class BertPreprocessor(keras.layers.Layer):
    """Tokenizes and packs sentences or sentence pairs into BERT inputs.

    Turns raw text into the three inputs of `BertBackbone`, each int32 of
    shape `[batch, sequence_length]` (or `[sequence_length]` for a single
    unbatched example):

    - `token_ids`: `[CLS] A [SEP]`, or `[CLS] A [SEP] B [SEP]` for pairs,
      then the tokenizer's pad id up to `sequence_length`.
    - `segment_ids`: 0 on `[CLS] A [SEP]`, 1 on `B [SEP]`, 0 on padding.
    - `padding_mask`: 1 on real tokens, 0 on padding.

    As in the original, a second sentence with no tokens (empty, or only
    spaces) packs like a single sentence, `[CLS] A [SEP]`.

    Sequences that do not fit are truncated exactly as in Google's
    `run_classifier.py`: a single sentence keeps its first
    `sequence_length - 2` tokens; a pair loses tokens from the end of the
    longer sentence (of the second one on ties) until both fit in
    `sequence_length - 3`.

    Inputs can be a `str`, a list of `str`, or a string tensor or NumPy array
    of rank 1 (a batch) or 0 (one example); a tuple `(text_a, text_b)` of two
    of these for sentence pairs (a list is always a batch, a tuple always a
    pair); a list of `(text_a, text_b)` pairs; or a dict
    `{"text_a": ..., "text_b": ...}` with `"text_b"`
    optional. Anything else raises `bert_keras.errors.DataError`.

    The layer runs TensorFlow ops on the CPU whatever the Keras backend, so it
    works inside `tf.data.Dataset.map`, where it returns `tf.Tensor`s. Called
    eagerly it returns `tf.Tensor`s under the TensorFlow backend and NumPy
    arrays under other backends; both feed a Keras model directly.

    With `padding="longest"` a batch is padded only to its longest
    sequence, rounded up to a multiple of `pad_to_multiple_of` (which bounds
    the number of distinct shapes a compiled model sees), and a single
    unbatched example is not padded at all, ready for length-bucketed
    batching (`bert_keras.preprocessing.bucketed_batches`). Real tokens,
    segments and mask are the same as with fixed padding.

    Args:
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`.
        sequence_length: int, at least 3. The maximum length of a packed
            sequence, and the padded length with `padding="max_length"`.
        padding: `"max_length"` (every sequence padded to
            `sequence_length`) or `"longest"` (dynamic padding).
        pad_to_multiple_of: int. With `padding="longest"`, batches are
            padded to a multiple of this (capped at `sequence_length`).
        **kwargs: other `keras.layers.Layer` arguments (`name`).

    Example:
    ```python
    from bert_keras.preprocessing import BertPreprocessor
    from bert_keras.tokenizers import BertTokenizer

    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                  "the", "quick", "brown", "fox", "jumped", "."]
    preprocessor = BertPreprocessor(BertTokenizer(vocabulary),
                                    sequence_length=8)

    preprocessor(["The quick fox.", "The fox jumped."])["token_ids"]
    # [[2, 5, 6, 8, 10, 3, 0, 0],
    #  [2, 5, 8, 9, 10, 3, 0, 0]]

    # One unbatched pair; 4 + 5 tokens are cut to "the quick fox" + "the
    # brown" to fit.
    outputs = preprocessor(("The quick fox.", "The brown fox jumped."))
    outputs["token_ids"]     # [2, 5, 6, 8, 3, 5, 7, 3]
    outputs["segment_ids"]   # [0, 0, 0, 0, 0, 1, 1, 1]
    outputs["padding_mask"]  # [1, 1, 1, 1, 1, 1, 1, 1]

    # In a tf.data pipeline, pairs go in as one tuple:
    # dataset.map(lambda a, b, label: (preprocessor((a, b)), label))
    ```

    Pretrained vocabularies:
    `BertPreprocessor.from_preset("bert_base_en_uncased", sequence_length=128)`.
    """

    def __init__(
        self,
        tokenizer,
        sequence_length=512,
        padding="max_length",
        pad_to_multiple_of=8,
        **kwargs,
    ):
        if (
            isinstance(sequence_length, bool)
            or not isinstance(sequence_length, numbers.Integral)
            or sequence_length < 3
        ):
            raise ValueError(
                "`sequence_length` must be an int of at least 3, room for "
                "`[CLS] A [SEP] B [SEP]` with empty sentences; got "
                f"{sequence_length!r}."
            )
        if padding not in _PADDINGS:
            raise ValueError(
                f"`padding` must be one of {_PADDINGS}; got {padding!r}."
            )
        if (
            isinstance(pad_to_multiple_of, bool)
            or not isinstance(pad_to_multiple_of, numbers.Integral)
            or pad_to_multiple_of < 1
        ):
            raise ValueError(
                "`pad_to_multiple_of` must be a positive int; got "
                f"{pad_to_multiple_of!r}."
            )
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.padding = padding
        self.pad_to_multiple_of = int(pad_to_multiple_of)
        # Keras would turn inputs into backend tensors, which cannot hold
        # strings under JAX, and would reject Python strings outright.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    @classmethod
    def from_preset(cls, preset, sequence_length=512, **kwargs):
        """Builds the preprocessor with the tokenizer of a preset.

        Args:
            preset: str. A preset name or a local preset directory.
            sequence_length: int. Length of every packed sequence.
            **kwargs: other arguments of `BertPreprocessor`.
        """
        # Imported on use: preset loading pulls in download and cache code
        # that plain preprocessing does not need.
        from bert_keras.presets.loader import load_tokenizer

        return cls(
            load_tokenizer(preset), sequence_length=sequence_length, **kwargs
        )

    def __call__(self, inputs, **kwargs):
        # Keras refuses structures that mix tensors with Python or NumPy
        # values, like `("some text", tf.constant(["more text"]))`, so they
        # become string tensors before `Layer.__call__` inspects them.
        texts = self._standardize_inputs(inputs)
        return super().__call__(
            texts[0] if len(texts) == 1 else tuple(texts), **kwargs
        )

    def call(self, inputs):
        texts = self._standardize_inputs(inputs)
        unbatched = texts[0].shape.rank == 0
        # String ops only have CPU kernels; keeping the integer ops next to
        # them avoids device round trips, and JAX gets host arrays anyway.
        with tf.device("cpu"):
            if unbatched:
                texts = [text[tf.newaxis] for text in texts]
            sentences = [self.tokenizer.tokenize(text) for text in texts]
            outputs = self._pad(*self._pack(sentences))
            if unbatched:
                outputs = {key: value[0] for key, value in outputs.items()}
                if self.padding == "longest":
                    # A single example keeps its own length; batching it
                    # with others (bucketed or not) does the padding.
                    real = tf.reduce_sum(outputs["padding_mask"])
                    outputs = {key: value[:real] for key, value in outputs.items()}
        if tf.executing_eagerly() and keras.backend.backend() != "tensorflow":
            outputs = {key: value.numpy() for key, value in outputs.items()}
        return outputs

    def _standardize_inputs(self, inputs):
        """Returns the one or two sentences as string tensors of one rank."""
        if _is_plain_python(inputs):
            # Finds None rows, lone surrogates and the like before TensorFlow
            # does, in words that name the row; a list of pairs becomes the
            # pair of lists.
            columns = standardize_text(inputs)
            if isinstance(inputs, list) and len(columns) == 2:
                inputs = columns
        if isinstance(inputs, dict):
            if "text_a" not in inputs or set(inputs) - {"text_a", "text_b"}:
                raise DataError(
                    'A dict input needs key "text_a" and may have "text_b"; '
                    f"got keys {sorted(inputs)}. Accepted inputs: "
                    f"{_ACCEPTED_INPUTS}."
                )
            texts = [inputs["text_a"]]
            if "text_b" in inputs:
                texts.append(inputs["text_b"])
        elif isinstance(inputs, tuple):
            if len(inputs) != 2:
                raise DataError(
                    "A tuple input must be a pair `(text_a, text_b)`; got "
                    f"{len(inputs)} elements. Accepted inputs: "
                    f"{_ACCEPTED_INPUTS}."
                )
            texts = list(inputs)
        else:
            texts = [inputs]

        tensors = []
        for text in texts:
            try:
                tensor = tf.convert_to_tensor(text, dtype=tf.string)
            except (TypeError, ValueError) as error:
                raise DataError(
                    f"Cannot read {type(text).__name__} as text. Accepted "
                    f"inputs: {_ACCEPTED_INPUTS}."
                ) from error
            if tensor.shape.rank not in (0, 1):
                raise DataError(
                    f"Text must have rank 0 or 1; got shape {tensor.shape}. "
                    f"Accepted inputs: {_ACCEPTED_INPUTS}."
                )
            tensors.append(tensor)
        if len(tensors) == 2 and not tensors[0].shape.is_compatible_with(
            tensors[1].shape
        ):
            raise DataError(
                "`text_a` and `text_b` must both be single strings or "
                f"batches of the same size; got shapes {tensors[0].shape} "
                f"and {tensors[1].shape}."
            )
        return tensors

    def _pack(self, sentences):
        """Truncates and joins ragged ids into `[CLS] A [SEP] (B [SEP])`.

        Returns ragged `token_ids` and `segment_ids`.
        """
        lengths = [ids.row_lengths() for ids in sentences]
        single = tf.minimum(lengths[0], self.sequence_length - 2)
        if len(sentences) == 1:
            kept = [single]
        else:
            kept = self._truncated_pair_lengths(
                *lengths, self.sequence_length - 3
            )
            # As in the original (`if tokens_b:`), a second sentence without
            # tokens (empty, or only spaces) makes a single-sentence example:
            # no second `[SEP]`, and the first keeps `sequence_length - 2`.
            kept = [tf.where(lengths[1] > 0, kept[0], single), kept[1]]
        batch_size = sentences[0].nrows()
        cls = tf.fill([batch_size, 1], self.tokenizer.cls_token_id)
        sep = tf.fill([batch_size, 1], self.tokenizer.sep_token_id)
        token_pieces = [cls]
        segment_pieces = [tf.zeros_like(cls)]
        for segment_id, (ids, keep) in enumerate(zip(sentences, kept)):
            # Nothing beyond `sequence_length` can be kept, so clipping to it
            # first keeps the dense intermediate small for long documents.
            clipped = ids.to_tensor(shape=[None, self.sequence_length])
            ids = tf.RaggedTensor.from_tensor(clipped, lengths=keep)
            piece = tf.concat([ids, sep], axis=1)
            if segment_id == 1:
                # The original tests `tokens_b` again after truncation, which
                # can empty it when `sequence_length` is 4 or less.
                has_b = tf.cast(keep > 0, keep.dtype)
                piece = tf.RaggedTensor.from_tensor(
                    piece.to_tensor(), lengths=keep + has_b
                )
            token_pieces.append(piece)
            segment_pieces.append(tf.zeros_like(piece) + segment_id)
        return (
            tf.concat(token_pieces, axis=1),
            tf.concat(segment_pieces, axis=1),
        )

    @staticmethod
    def _truncated_pair_lengths(length_a, length_b, max_length):
        """Closed form of Google's `_truncate_seq_pair` on lengths.

        The original pops the last token of the longer sentence, of `b` on
        ties, while the total exceeds `max_length`. So the shorter sentence
        is untouched as long as it fits in its half of the budget and the
        longer one gets the rest; past that point pops alternate, ending at
        `ceil(max_length / 2)` for `a` and `floor(max_length / 2)` for `b`.
        """
        keep_a = tf.minimum(
            length_a, tf.maximum(max_length - length_b, (max_length + 1) // 2)
        )
        keep_b = tf.minimum(
            length_b, tf.maximum(max_length - length_a, max_length // 2)
        )
        return keep_a, keep_b

    def _pad(self, token_ids, segment_ids):
        """Pads ragged packed sequences into the dense model inputs."""
        shape = [None, self.sequence_length]
        if self.padding == "longest":
            multiple = self.pad_to_multiple_of
            # Every row holds [CLS] and [SEP], so a floor of 2 changes only an
            # empty batch, whose outputs keep a position for the pooler to read.
            longest = tf.reduce_max(tf.concat([token_ids.row_lengths(), [2]], 0))
            length = tf.minimum(
                (longest + multiple - 1) // multiple * multiple,
                self.sequence_length,
            )
            shape = tf.stack([token_ids.nrows(), length])
        return {
            "token_ids": token_ids.to_tensor(
                self.tokenizer.pad_token_id, shape=shape
            ),
            "segment_ids": segment_ids.to_tensor(0, shape=shape),
            "padding_mask": tf.ones_like(token_ids).to_tensor(0, shape=shape),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer": keras.saving.serialize_keras_object(
                    self.tokenizer
                ),
                "sequence_length": self.sequence_length,
                "padding": self.padding,
                "pad_to_multiple_of": self.pad_to_multiple_of,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["tokenizer"], dict):
            config["tokenizer"] = keras.saving.deserialize_keras_object(
                config["tokenizer"]
            )
        return cls(**config)
