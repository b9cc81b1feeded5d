import numbers

import keras
import tensorflow as tf

from bert_keras.data.text_inputs import standardize_text
from bert_keras.errors import DataError

# Imported for its registration: a saved preprocessor's config names its
# tokenizer class, which Keras must know to load it.
from bert_keras.tokenizers import bert_tokenizer  # noqa: F401

# Logit of the positions that cannot be a span's start or end, below any
# real logit.
_EXCLUDED = -1e9


@keras.saving.register_keras_serializable(package="bert_keras")
class BertSpanPreprocessor(keras.layers.Layer):
    """Questions and contexts to the windows of `run_squad.py`, in the graph.

    The in-graph twin of `bert_keras.data.squad.convert_examples_to_features`
    for raw text, so that a SavedModel can answer questions: the question's
    first `max_query_length` word pieces and a window of the context's word
    pieces make `[CLS] question [SEP] window [SEP]`; windows hold
    `sequence_length - len(question) - 3` pieces and start `doc_stride`
    pieces apart; each piece belongs, for answering, to the window where it
    has the most context (`token_is_max_context`). Token ids, segment ids
    and max-context flags equal the original's features. A context without
    word pieces gets one window holding only the question.

    `call((questions, contexts))` takes two rank-1 string tensors and
    returns `(inputs, windows)`: `inputs` is the backbone's token-id dict
    for all windows of the batch, `[num_windows, seq]`, padded to the
    longest window (a multiple of `pad_to_multiple_of`); `windows` holds
    what `decode` needs to turn the model's logits back into answers:
    `example_index` `[num_windows]` and, per position, `start_char` and
    `end_char` (code point offsets of the piece in its context, -1 outside
    the context) and `max_context` (1 where the position may start an
    answer).

    `decode(windows, start_logits, end_logits, contexts)` picks each
    question's best span as the original post-processing does (the
    `n_best_size` best starts and ends of each window, spans of at most
    `max_answer_length` pieces, starts only where the window has the most
    context, the SQuAD 2.0 null score) and cuts its text out of the context,
    whitespace runs joined by single spaces as in the original. Where the
    original cannot align the pieces back to the context (`[UNK]` pieces,
    accents whose stripping changes the length, some CJK) it falls back to
    the whole words around the span; `decode` keeps the exact span, which
    is then a part of the original's answer. `bert_keras.data.squad.
    compute_predictions` reproduces the original to the letter.

    Args:
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`.
        sequence_length: int. Length of a window's sequence (384 in the
            original).
        doc_stride: int. Pieces between the starts of successive windows.
        max_query_length: int. The question's pieces beyond this are cut.
        pad_to_multiple_of: int. Windows are padded to a multiple of this.
        n_best_size: int. Starts and ends considered per window.
        max_answer_length: int. Longest answer, in word pieces.
        **kwargs: other `keras.layers.Layer` arguments (`name`).

    Example:
    ```python
    from bert_keras.preprocessing import BertSpanPreprocessor
    from bert_keras.tokenizers import BertTokenizer

    preprocessor = BertSpanPreprocessor(
        BertTokenizer.from_preset("bert_base_en_uncased"), sequence_length=384)
    inputs, windows = preprocessor((["Who sat?"], ["The cat sat on the mat."]))
    ```
    """

    def __init__(
        self,
        tokenizer,
        sequence_length=384,
        doc_stride=128,
        max_query_length=64,
        pad_to_multiple_of=8,
        n_best_size=20,
        max_answer_length=30,
        **kwargs,
    ):
        for name, value in (
            ("sequence_length", sequence_length),
            ("doc_stride", doc_stride),
            ("max_query_length", max_query_length),
            ("pad_to_multiple_of", pad_to_multiple_of),
            ("n_best_size", n_best_size),
            ("max_answer_length", max_answer_length),
        ):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
        if sequence_length <= max_query_length + 3:
            raise ValueError(
                f"`sequence_length` {sequence_length} leaves no room for the "
                f"context after a question of `max_query_length` "
                f"{max_query_length} pieces and [CLS] [SEP] [SEP]; raise the "
                "first or lower the second."
            )
        super().__init__(**kwargs)
        self.tokenizer = tokenizer
        self.sequence_length = int(sequence_length)
        self.doc_stride = int(doc_stride)
        self.max_query_length = int(max_query_length)
        self.pad_to_multiple_of = int(pad_to_multiple_of)
        self.n_best_size = int(n_best_size)
        self.max_answer_length = int(max_answer_length)
        # Keras would turn the strings into backend tensors, which JAX lacks.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

    @classmethod
    def from_preset(cls, preset, sequence_length=384, **kwargs):
        """The preprocessor with the tokenizer of a preset.

        Args:
            preset: str. A preset name or a local preset directory.
            sequence_length: int. Length of a window's sequence.
            **kwargs: other arguments of `BertSpanPreprocessor`.
        """
        from bert_keras.presets.loader import load_tokenizer

        return cls(load_tokenizer(preset), sequence_length=sequence_length, **kwargs)

    def __call__(self, inputs, **kwargs):
        return super().__call__(self._standardize_inputs(inputs), **kwargs)

    def _standardize_inputs(self, inputs):
        if isinstance(inputs, list) or (
            isinstance(inputs, tuple) and all(isinstance(part, (str, bytes, list)) for part in inputs)
        ):
            inputs = standardize_text(inputs, pairs="required")
        if not (isinstance(inputs, (tuple, list)) and len(inputs) == 2):
            raise DataError(
                "BertSpanPreprocessor takes a pair `(questions, contexts)`, "
                f"each a list or rank-1 string tensor; got {type(inputs).__name__}."
            )
        tensors = []
        for name, text in zip(("questions", "contexts"), inputs):
            try:
                tensor = tf.convert_to_tensor(text, dtype=tf.string)
            except (TypeError, ValueError) as error:
                raise DataError(f"Cannot read {name} as strings.") from error
            if tensor.shape.rank != 1:
                raise DataError(f"{name} must be a list of strings (rank 1); got shape {tensor.shape}.")
            tensors.append(tensor)
        if not tensors[0].shape.is_compatible_with(tensors[1].shape):
            raise DataError(
                f"There must be one context per question; got {tensors[0].shape[0]} "
                f"questions and {tensors[1].shape[0]} contexts."
            )
        return tuple(tensors)

    def call(self, inputs):
        questions, contexts = self._standardize_inputs(inputs)
        with tf.device("cpu"):
            outputs = self._windows(questions, contexts)
        if tf.executing_eagerly() and keras.backend.backend() != "tensorflow":
            outputs = tf.nest.map_structure(lambda x: x.numpy(), outputs)
        return outputs

    def _windows(self, questions, contexts):
        tokenizer = self.tokenizer
        query = self.tokenizer.tokenize(questions)[:, : self.max_query_length]
        pieces, starts, ends = tokenizer.tokenize_with_offsets(contexts)
        query_length = query.row_lengths()
        num_pieces = pieces.row_lengths()
        room = self.sequence_length - query_length - 3
        step = tf.minimum(room, self.doc_stride)
        # The original's loop: windows `step` apart until one reaches the end.
        beyond = tf.maximum(num_pieces - room, 0)
        num_windows = 1 + (beyond + step - 1) // step
        window_first = tf.ragged.range(num_windows) * step[:, None]
        example_index = window_first.value_rowids()
        first = window_first.flat_values
        room_w = tf.gather(room, example_index)
        length = tf.maximum(tf.minimum(tf.gather(num_pieces, example_index) - first, room_w), 0)
        # Piece positions within their context, one row per window.
        positions = tf.ragged.range(first, first + length)
        offset = tf.gather(pieces.row_starts(), example_index)
        flat = positions + tf.cast(offset, positions.dtype)[:, None]
        window_pieces = tf.gather(pieces.flat_values, flat)
        window_starts = tf.gather(starts.flat_values, flat)
        window_ends = tf.gather(ends.flat_values, flat)
        max_context = self._max_context(positions, example_index, first, length)

        window_query = tf.gather(query, example_index)
        num_windows_total = tf.shape(example_index, out_type=tf.int64)[0]

        def column(value, dtype):
            return tf.fill(tf.stack([num_windows_total, 1]), tf.constant(value, dtype))

        token_ids = tf.concat(
            [
                column(tokenizer.cls_token_id, tf.int32),
                window_query,
                column(tokenizer.sep_token_id, tf.int32),
                window_pieces,
                column(tokenizer.sep_token_id, tf.int32),
            ],
            axis=1,
        )
        query_part = tf.zeros_like(window_query)
        doc_part = tf.ones_like(window_pieces)
        segment_ids = tf.concat(
            [column(0, tf.int32), query_part, column(0, tf.int32), doc_part, column(1, tf.int32)],
            axis=1,
        )

        def outside(value, like_query, dtype):
            return tf.concat(
                [
                    column(value, dtype),
                    tf.zeros_like(like_query, dtype) + value,
                    column(value, dtype),
                ],
                axis=1,
            )

        start_char = tf.concat(
            [outside(-1, window_query, tf.int64), window_starts, column(-1, tf.int64)], axis=1
        )
        end_char = tf.concat(
            [outside(-1, window_query, tf.int64), window_ends, column(-1, tf.int64)], axis=1
        )
        max_context = tf.concat(
            [outside(0, window_query, tf.int32), tf.cast(max_context, tf.int32), column(0, tf.int32)],
            axis=1,
        )

        multiple = self.pad_to_multiple_of
        longest = tf.reduce_max(tf.concat([token_ids.row_lengths(), [0]], 0))
        padded = tf.minimum((longest + multiple - 1) // multiple * multiple, self.sequence_length)
        shape = tf.stack([num_windows_total, padded])
        inputs = {
            "token_ids": token_ids.to_tensor(tokenizer.pad_token_id, shape=shape),
            "segment_ids": segment_ids.to_tensor(0, shape=shape),
            "padding_mask": tf.ones_like(token_ids).to_tensor(0, shape=shape),
        }
        windows = {
            "example_index": tf.cast(example_index, tf.int32),
            "start_char": tf.cast(start_char.to_tensor(-1, shape=shape), tf.int32),
            "end_char": tf.cast(end_char.to_tensor(-1, shape=shape), tf.int32),
            "max_context": max_context.to_tensor(0, shape=shape),
        }
        return inputs, windows

    @staticmethod
    def _max_context(positions, example_index, first, length):
        """`token_is_max_context` of each piece of each window.

        The original scores a piece in a window by `min(pieces left,
        pieces right) + 0.01 * window length` (in float64) and gives it to
        the first window with the highest score.
        """
        left = positions - first[:, None]
        right = (first + length - 1)[:, None] - positions
        score = tf.cast(tf.minimum(left, right), tf.float64) + 0.01 * tf.cast(
            length, tf.float64
        )[:, None]
        # One segment per (example, piece): pieces are numbered within their
        # example, so the example index separates them.
        longest = tf.reduce_max(tf.concat([positions.flat_values + 1, [0]], 0))
        piece_key = tf.cast(tf.gather(example_index, positions.value_rowids()), tf.int64) * longest
        piece_key += positions.flat_values
        _, segments = tf.unique(piece_key)
        num_segments = tf.reduce_max(tf.concat([segments + 1, [0]], 0))
        best = tf.math.unsorted_segment_max(score.flat_values, segments, num_segments)
        is_best = score.flat_values == tf.gather(best, segments)
        window = tf.cast(positions.value_rowids(), tf.int64)
        candidate = tf.where(is_best, window, tf.int64.max)
        first_best = tf.math.unsorted_segment_min(candidate, segments, num_segments)
        return positions.with_flat_values(tf.gather(first_best, segments) == window)

    def decode(self, windows, start_logits, end_logits, contexts, null_score_diff_threshold=None):
        """Each question's best answer span, from the windows' logits.

        Args:
            windows: the second output of `call`.
            start_logits, end_logits: `[num_windows, seq]`, the model's.
            contexts: the rank-1 string tensor of contexts given to `call`.
            null_score_diff_threshold: None for SQuAD 1.1 (always answer);
                for SQuAD 2.0, answer "" when the `[CLS]` score exceeds the
                best span's score by more than this.

        Returns:
            A dict of tensors, one row per question: `answer` (string),
            `answer_start` and `answer_end` (code point offsets in the
            context, end exclusive; -1 without an answer), `score` (the
            span's start plus end logit; -1e9 when no span is valid),
            `null_score_diff` (the `[CLS]` score minus the best span's).
        """
        with tf.device("cpu"):
            return self._decode(
                windows, start_logits, end_logits, contexts, null_score_diff_threshold
            )

    def _decode(self, windows, start_logits, end_logits, contexts, threshold):
        start_logits = tf.convert_to_tensor(start_logits, tf.float32)
        end_logits = tf.convert_to_tensor(end_logits, tf.float32)
        contexts = tf.convert_to_tensor(contexts, tf.string)
        example_index = tf.convert_to_tensor(windows["example_index"], tf.int32)
        start_char = tf.convert_to_tensor(windows["start_char"], tf.int32)
        end_char = tf.convert_to_tensor(windows["end_char"], tf.int32)
        max_context = tf.convert_to_tensor(windows["max_context"], tf.int32)
        num_examples = tf.shape(contexts)[0]
        k = tf.minimum(self.n_best_size, tf.shape(start_logits)[1])
        # The original ranks all positions, then drops invalid ones.
        top_starts = tf.math.top_k(start_logits, k).indices
        top_ends = tf.math.top_k(end_logits, k).indices
        starts = top_starts[:, :, None]
        ends = top_ends[:, None, :]
        in_context_start = tf.gather(start_char, top_starts, batch_dims=1)[:, :, None] >= 0
        in_context_end = tf.gather(end_char, top_ends, batch_dims=1)[:, None, :] >= 0
        may_start = tf.gather(max_context, top_starts, batch_dims=1)[:, :, None] > 0
        valid = (
            in_context_start
            & in_context_end
            & may_start
            & (ends >= starts)
            & (ends - starts + 1 <= self.max_answer_length)
        )
        score = (
            tf.gather(start_logits, top_starts, batch_dims=1)[:, :, None]
            + tf.gather(end_logits, top_ends, batch_dims=1)[:, None, :]
        )
        score = tf.where(valid, score, _EXCLUDED)
        flat_score = tf.reshape(score, [tf.shape(score)[0], -1])
        pair = tf.argmax(flat_score, axis=1, output_type=tf.int32)
        window_best = tf.reduce_max(flat_score, axis=1)
        best_start = tf.gather(top_starts, pair // k, batch_dims=1)
        best_end = tf.gather(top_ends, pair % k, batch_dims=1)

        # The best window of each question; the first one on ties.
        example_best = tf.math.unsorted_segment_max(window_best, example_index, num_examples)
        window_number = tf.range(tf.shape(example_index)[0])
        candidate = tf.where(
            window_best == tf.gather(example_best, example_index), window_number, tf.int32.max
        )
        chosen = tf.math.unsorted_segment_min(candidate, example_index, num_examples)
        found = example_best > _EXCLUDED / 2
        chosen = tf.where(found, chosen, 0)
        begin = tf.gather(tf.gather(start_char, chosen), tf.gather(best_start, chosen), batch_dims=1)
        finish = tf.gather(tf.gather(end_char, chosen), tf.gather(best_end, chosen), batch_dims=1)
        null = tf.math.unsorted_segment_min(
            start_logits[:, 0] + end_logits[:, 0], example_index, num_examples
        )
        null_score_diff = null - example_best
        answered = found
        if threshold is not None:
            answered = answered & (null_score_diff <= threshold)
        begin = tf.where(answered, begin, -1)
        finish = tf.where(answered, finish, -1)
        answer = tf.strings.substr(
            tf.gather(contexts, tf.range(num_examples)),
            tf.maximum(begin, 0),
            tf.maximum(finish - begin, 0),
            unit="UTF8_CHAR",
        )
        # The original joins the answer's words with single spaces.
        answer = tf.strings.regex_replace(answer, r"[ \t\r\n\x{202F}]+", " ")
        return {
            "answer": tf.where(answered, answer, ""),
            "answer_start": begin,
            "answer_end": finish,
            "score": example_best,
            "null_score_diff": null_score_diff,
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "tokenizer": keras.saving.serialize_keras_object(self.tokenizer),
                "sequence_length": self.sequence_length,
                "doc_stride": self.doc_stride,
                "max_query_length": self.max_query_length,
                "pad_to_multiple_of": self.pad_to_multiple_of,
                "n_best_size": self.n_best_size,
                "max_answer_length": self.max_answer_length,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["tokenizer"], dict):
            config["tokenizer"] = keras.saving.deserialize_keras_object(config["tokenizer"])
        return cls(**config)
