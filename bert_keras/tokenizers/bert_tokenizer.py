"""In-graph reimplementation of the original BERT `FullTokenizer`.

The original tokenizer (google-research/bert, `tokenization.py`) is a Python
loop over characters. This module reproduces its output exactly with
TensorFlow and tensorflow-text ops, so that tokenization can run inside
`tf.data` pipelines and be exported in a SavedModel that only needs
`tensorflow` and `tensorflow_text` to load.

Every Unicode property the original asks `unicodedata` about is evaluated once
per process, in Python, over all code points, and embedded as constant tables.
The tokenizer therefore follows the Unicode database of the Python that builds
it (at export time, the one that builds the exported model).

Most text needs only one of these tables: when no character of a batch
depends on its neighbours (see `_DIRECT_CONTEXTUAL`), each character's
cleaned, lowercased and accent-stripped form is read at once and the text is
split into words from that alone. Other batches go through every step of the
original, one after the other.
"""

import functools
import os
import unicodedata

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from bert_keras.errors import DataError
from bert_keras.layers.id_checks import out_of_range_message
from bert_keras import unicode_ranges
from bert_keras.tokenizers.array_cache import cached_arrays
from bert_keras.unicode_ranges import is_cjk

_MAX_CODEPOINT = 0x10FFFF
_BMP_END = 0x10000
# The original replaces longer words by the unknown token without trying to
# split them.
_MAX_CHARS_PER_WORD = 200
_SUFFIX_INDICATOR = "##"
_UNK_TOKEN = "[UNK]"
_SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[MASK]", _UNK_TOKEN)

# Bit layout of the per-code-point property table. The low byte holds the
# canonical combining class needed by NFD's reordering step; the high bits
# hold the index of the character's lowercase+NFD expansion, 0 if the
# character maps to itself.
_DROP = 1 << 8  # removed by the original's `_clean_text`
_WHITESPACE = 1 << 9  # turned into " " by `_clean_text`
_CJK = 1 << 10  # surrounded by spaces by `_tokenize_chinese_chars`
_CASED = 1 << 11  # Unicode "Cased" and not "Case_Ignorable"
_CASE_IGNORABLE = 1 << 12
_SPLITS_WORDS = 1 << 13  # `str.split()` separator
_PUNCTUATION = 1 << 14
_NONSPACING_MARK = 1 << 15  # category Mn, removed when stripping accents
_CCC_MASK = 0xFF
_EXPANSION_SHIFT = 16
# The tables are stored as blocks of 256 code points, identical blocks shared.
_BLOCK_BITS = 8

# Entries of the "direct" tables (one per casing) used by the fast path. An
# entry says what the whole per-character part of the original pipeline
# (cleaning, lowercasing, NFD, removal of nonspacing marks) makes of a
# character on its own. They are laid out so that each test is a single
# comparison. Removed characters have negative entries:
_DIRECT_DROP = -1  # vanishes without splitting words (cleaning, Mn, ...)
_DIRECT_SPACE = -2  # splits words and vanishes
# The result depends on the neighbours or is several characters: a capital
# sigma (final or not), a multi-character expansion, or a character with a
# nonzero combining class that survives accent stripping (NFD's canonical
# ordering could move it). Only lowercasing has such characters.
_DIRECT_CONTEXTUAL = -3
# A kept character becoming `final` has entry
# `final - cp + _DIRECT_DELTA_BIAS`, plus `_DIRECT_ALONE` when it is a word
# on its own (punctuation after the mapping, or CJK before it). Storing the
# difference rather than `final` lets identical blocks be shared.
_DIRECT_DELTA_BIAS = 1 << 21
_DIRECT_ALONE = 1 << 22

_CAPITAL_SIGMA = 0x3A3
_FINAL_SIGMA = 0x3C2


def _is_punctuation(char, category):
    cp = ord(char)
    # The original counts all non-alphanumeric ASCII as punctuation, including
    # symbols such as "$", "^" or "`" whose category is not P*.
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return category.startswith("P")


def _case_flags(char):
    """Cased / Case_Ignorable flags exactly as Python's `str.lower` sees them.

    `unicodedata` exposes neither property, but both decide whether a capital
    sigma lowercases to the final form, so they are observed through
    `str.lower` itself: a sigma after a cased letter is final unless a cased
    character follows, skipping case-ignorable ones.
    """
    if ("A\u03a3" + char).lower()[1] == "\u03c3":
        return _CASED
    if ("A\u03a3" + char + "A").lower()[1] == "\u03c3":
        return _CASE_IGNORABLE
    return 0


@functools.lru_cache(maxsize=None)
def _unicode_tables():
    """The tables of `_build_unicode_tables`, built once per machine: the
    build walks all 1.1M code points in Python, which takes seconds."""
    return cached_arrays("unicode-tables", [__file__, unicode_ranges.__file__],
                         _build_unicode_tables)


def _build_unicode_tables():
    """Builds the per-code-point tables.

    Returns:
        A dict of numpy int32 arrays: `block_index` and `blocks` (the
        property of code point `cp` is
        `blocks[block_index[cp >> 8] * 256 + (cp & 255)]`); the direct
        tables of the fast path, stored in the same way, as
        `direct_cased_block_index` and `direct_cased_blocks`, and likewise
        `direct_uncased_...`; and, for expansion `k > 0` of a code point `c`
        (its `NFD(c.lower())` when that is not `c`), `expansion_starts[k]`
        and `expansion_lengths[k]`, which delimit its code points in
        `expansion_values`.
    """
    props = np.zeros(_MAX_CODEPOINT + 1, dtype=np.int64)
    direct_cased = np.zeros(_MAX_CODEPOINT + 1, dtype=np.int64)
    direct_uncased = np.zeros(_MAX_CODEPOINT + 1, dtype=np.int64)
    # Expansion 0 means "the character stands for itself".
    starts, lengths, values = [0], [1], []
    for cp in range(_MAX_CODEPOINT + 1):
        char = chr(cp)
        category = unicodedata.category(char)
        value = unicodedata.combining(char)
        if char in "\t\n\r" or category == "Zs":
            value |= _WHITESPACE
        elif cp in (0, 0xFFFD) or category in ("Cc", "Cf"):
            # Only Cc and Cf: unassigned, private-use and surrogate code
            # points survive the original's cleaning.
            value |= _DROP
        if is_cjk(cp):
            value |= _CJK
        if char.isspace():
            value |= _SPLITS_WORDS
        if _is_punctuation(char, category):
            value |= _PUNCTUATION
        if category == "Mn":
            value |= _NONSPACING_MARK
        expansion = char
        if category not in ("Cn", "Co", "Cs"):
            value |= _case_flags(char)
            expansion = unicodedata.normalize("NFD", char.lower())
            if expansion != char:
                value |= len(starts) << _EXPANSION_SHIFT
                starts.append(len(values))
                lengths.append(len(expansion))
                values.extend(ord(c) for c in expansion)
        props[cp] = value
        if value & _DROP:
            direct_cased[cp] = direct_uncased[cp] = _DIRECT_DROP
        elif value & _WHITESPACE:
            direct_cased[cp] = direct_uncased[cp] = _DIRECT_SPACE
        else:
            cjk = bool(value & _CJK)
            direct_cased[cp] = _direct_entry(cp, char, cjk)
            kept = "".join(
                c for c in expansion if unicodedata.category(c) != "Mn"
            )
            if (
                cp == _CAPITAL_SIGMA
                or len(kept) > 1
                or any(unicodedata.combining(c) for c in kept)
            ):
                direct_uncased[cp] = _DIRECT_CONTEXTUAL
            elif not kept:
                direct_uncased[cp] = _DIRECT_DROP
            else:
                direct_uncased[cp] = _direct_entry(cp, kept, cjk)
    if props.max() >= 2**31:
        raise RuntimeError("Unicode property table overflows int32.")
    tables = {
        "expansion_starts": np.array(starts, dtype=np.int32),
        "expansion_lengths": np.array(lengths, dtype=np.int32),
        "expansion_values": np.array(values, dtype=np.int32),
    }
    for name, table in (
        ("", props),
        ("direct_cased_", direct_cased),
        ("direct_uncased_", direct_uncased),
    ):
        blocks, block_index = np.unique(
            table.reshape(-1, 1 << _BLOCK_BITS), axis=0, return_inverse=True
        )
        tables[name + "block_index"] = block_index.reshape(-1).astype(np.int32)
        tables[name + "blocks"] = blocks.reshape(-1).astype(np.int32)
    return tables


def _direct_entry(cp, final, cjk):
    """Fast-path table entry of a kept code point `cp` that becomes `final`."""
    if final.isspace():
        return _DIRECT_SPACE
    value = ord(final) - cp + _DIRECT_DELTA_BIAS
    if cjk or _is_punctuation(final, unicodedata.category(final)):
        value += _DIRECT_ALONE
    return value


def _load_vocabulary(vocabulary):
    if isinstance(vocabulary, (str, os.PathLike)):
        path = os.fspath(vocabulary)
        if not tf.io.gfile.exists(path):
            raise ValueError(f"Vocabulary file not found: {path!r}.")
        with tf.io.gfile.GFile(path, "rb") as f:
            text = f.read().decode("utf-8")
        lines = text.split("\n")
        # A final newline ends the last token, it does not start a new one.
        if lines[-1] == "":
            lines.pop()
        # Like the original `load_vocab`: one token per line, surrounding
        # whitespace removed, index = line number.
        tokens = [line.strip() for line in lines]
    elif isinstance(vocabulary, (list, tuple)):
        tokens = list(vocabulary)
        bad = [t for t in tokens if not isinstance(t, str)]
        if bad:
            raise ValueError(
                "`vocabulary` must contain only strings; found "
                f"{type(bad[0]).__name__} value {bad[0]!r}."
            )
    else:
        raise ValueError(
            "`vocabulary` must be the path of a vocab.txt file or a list of "
            f"strings; received {type(vocabulary).__name__}."
        )
    if not tokens:
        raise ValueError("The vocabulary is empty.")
    index = {}
    duplicates = []
    for i, token in enumerate(tokens):
        if token in index:
            duplicates.append(token)
        index[token] = i
    if duplicates:
        shown = ", ".join(repr(t) for t in sorted(set(duplicates))[:10])
        raise ValueError(
            f"The vocabulary contains {len(duplicates)} duplicate token(s): "
            f"{shown}. Each token must appear once."
        )
    missing = [t for t in _SPECIAL_TOKENS if t not in index]
    if missing:
        raise ValueError(
            "The vocabulary lacks the special token(s) "
            f"{', '.join(missing)} that BERT requires."
        )
    return tokens, index


def _lookup(block_index, blocks, codepoints):
    """Entries of a table stored as shared blocks (see `_unicode_tables`)."""
    block = tf.gather(
        block_index, tf.bitwise.right_shift(codepoints, _BLOCK_BITS)
    )
    offset = codepoints & ((1 << _BLOCK_BITS) - 1)
    return tf.gather(blocks, block * (1 << _BLOCK_BITS) + offset)


def _row_ids(row_splits):
    """`RaggedTensor.value_rowids` from the splits alone; a binary search is
    cheaper than the `tf.repeat` the ragged method uses."""
    values = tf.range(row_splits[-1])
    return (
        tf.searchsorted(row_splits, values, side="right", out_type=tf.int64)
        - 1
    )


def _exclusive_cumsum(x):
    return tf.math.cumsum(x, exclusive=True)


def _same_row_as_previous(rows):
    return tf.concat([[False], rows[1:] == rows[:-1]], axis=0)


def _shift_right(x, fill):
    return tf.concat([tf.fill([1], fill), x[:-1]], axis=0)


@keras.saving.register_keras_serializable(package="bert_keras")
class BertTokenizer(keras.layers.Layer):
    """WordPiece tokenizer that matches the original BERT `FullTokenizer`.

    Reproduces, token for token, google-research/bert's
    `tokenization.FullTokenizer`: text cleaning (removal of control and format
    characters, whitespace normalization), spacing around CJK ideographs,
    optional lowercasing (with Python's context-sensitive final sigma) and
    accent stripping (NFD, then removal of nonspacing marks), splitting on
    punctuation, and greedy longest-match-first WordPiece with "##"
    continuation pieces. Words longer than 200 characters, and words that
    cannot be covered by vocabulary pieces, become "[UNK]".

    All steps are TensorFlow / tensorflow-text ops, so the layer runs inside
    `tf.data.Dataset.map` and `tf.function` and can be exported in a
    SavedModel. Outputs are always TensorFlow tensors, whatever the Keras
    backend. The layer has no weights.

    Args:
        vocabulary: path of a vocab.txt file (one token per line; the line
            number is the id), or a list of token strings. It must contain
            "[CLS]", "[SEP]", "[PAD]", "[MASK]" and "[UNK]".
        lowercase: bool. Like the original `do_lower_case`: lowercase and strip
            accents before splitting into word pieces.
        **kwargs: base `keras.layers.Layer` arguments (`name`, ...).

    Example:

    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    ...          "the", "quick", "brown", "fox", "jump", "##ed", "."]
    >>> tokenizer = BertTokenizer(vocab, lowercase=True)
    >>> tokenizer("The quick brown fox jumped.").numpy().tolist()
    [5, 6, 7, 8, 9, 10, 11]
    >>> tokenizer(["Quick fox", "jumped over"]).to_list()
    [[6, 8], [9, 10, 1]]
    >>> tokenizer.tokenize_to_strings("Fox JUMPED!").numpy().tolist()
    [b'fox', b'jump', b'##ed', b'[UNK]']
    >>> tokenizer.detokenize([9, 10, 8]).numpy()
    b'jumped fox'
    """

    def __init__(self, vocabulary, lowercase=True, **kwargs):
        kwargs.setdefault("dtype", "int32")
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        # Inputs are strings: Keras must neither convert them to backend
        # tensors nor refuse them as non-tensor arguments.
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self.built = True

        tokens, index = _load_vocabulary(vocabulary)
        # Lists and dicts assigned to a Layer get wrapped for tracking; a
        # plain holder object keeps the 30k-entry containers unwrapped.
        self._vocab = _Vocabulary(tokens, index)
        self._lowercase = bool(lowercase)
        self.cls_token_id = index["[CLS]"]
        self.sep_token_id = index["[SEP]"]
        self.pad_token_id = index["[PAD]"]
        self.mask_token_id = index["[MASK]"]
        self.unk_token_id = index[_UNK_TOKEN]

        tables = _unicode_tables()
        direct = "direct_uncased_" if self._lowercase else "direct_cased_"
        block_index = tables[direct + "block_index"]
        blocks = tables[direct + "blocks"].reshape(-1, 1 << _BLOCK_BITS)
        self._direct_block_index = tf.constant(block_index)
        self._direct_blocks = tf.constant(blocks.reshape(-1))
        # The Basic Multilingual Plane, unshared (256 KB): one gather instead
        # of two for nearly all text.
        self._direct_bmp = tf.constant(
            blocks[block_index[: (_BMP_END >> _BLOCK_BITS)]].reshape(-1)
        )
        if self._lowercase:
            # Only the slow path, for text with contextual characters, needs
            # the full properties and the expansions.
            self._block_index = tf.constant(tables["block_index"])
            self._blocks = tf.constant(tables["blocks"])
            self._expansion_starts = tf.constant(tables["expansion_starts"])
            self._expansion_lengths = tf.constant(tables["expansion_lengths"])
            self._expansion_values = tf.constant(tables["expansion_values"])
        self._vocab_tensor = tf.constant(tokens, dtype=tf.string)
        self._token_chars = tf.constant([len(t) for t in tokens], tf.int64)
        self._wordpiece = tf_text.FastWordpieceTokenizer(
            vocab=tokens,
            suffix_indicator=_SUFFIX_INDICATOR,
            # The 200-character limit is applied before this op; the byte
            # limit must never trigger on its own.
            max_bytes_per_word=4 * _MAX_CHARS_PER_WORD + 1,
            token_out_type=tf.int32,
            unknown_token=_UNK_TOKEN,
            no_pretokenization=True,
        )

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """The tokenizer of a preset, with the preset's vocabulary and casing.

        Args:
            preset: a preset name or alias, a local Google or Hugging Face
                folder or zip, or `hf://org/name`; see
                `BertBackbone.from_preset`.
            **kwargs: other `BertTokenizer` arguments.
        """
        from bert_keras.presets.loader import load_tokenizer

        return load_tokenizer(preset, **kwargs)

    @property
    def lowercase(self):
        return self._lowercase

    def vocabulary_size(self):
        return len(self._vocab.tokens)

    def get_vocabulary(self):
        return list(self._vocab.tokens)

    def token_to_id(self, token):
        if token not in self._vocab.index:
            raise ValueError(f"Token {token!r} is not in the vocabulary.")
        return self._vocab.index[token]

    def id_to_token(self, id):
        size = self.vocabulary_size()
        if isinstance(id, bool) or not isinstance(id, (int, np.integer)):
            raise ValueError(f"`id` must be an integer; received {id!r}.")
        if not 0 <= id < size:
            raise ValueError(
                f"Id {id} is out of the vocabulary range [0, {size})."
            )
        return self._vocab.tokens[id]

    def call(self, inputs):
        return self.tokenize(inputs)

    def tokenize(self, inputs):
        """Token ids: a 1D int32 tensor for a scalar string, otherwise a
        ragged int32 tensor with one more dimension than `inputs`."""
        return self._apply(inputs, with_offsets=False)[0]

    def tokenize_with_offsets(self, inputs):
        """Returns `(ids, start_offsets, end_offsets)`.

        Offsets are int64 code point (not byte) positions in the original
        input string, end exclusive: `text[start:end]` is the span of text
        that became the piece. Pieces coming from a single character (e.g.
        the jamo of a Hangul syllable) all map to that character.
        """
        return self._apply(inputs, with_offsets=True)

    def tokenize_to_strings(self, inputs):
        """Word pieces as strings, shaped like `tokenize(inputs)`."""
        return self.ids_to_tokens(self.tokenize(inputs))

    def ids_to_tokens(self, ids):
        """Maps ids (tensor, ragged tensor or nested lists) to pieces."""
        ids = self._to_id_tensor(ids)
        flat = ids.flat_values if isinstance(ids, tf.RaggedTensor) else ids
        if tf.executing_eagerly():
            size = int(self._vocab_tensor.shape[0])
            message = out_of_range_message(
                flat.numpy(), size, "token id",
                f"This tokenizer's vocabulary has {size} pieces; ids must come from it.",
            )
            if message:
                raise DataError(message)
        if isinstance(ids, tf.RaggedTensor):
            return ids.with_flat_values(
                tf.gather(self._vocab_tensor, ids.flat_values)
            )
        return tf.gather(self._vocab_tensor, ids)

    def detokenize(self, ids):
        """Joins pieces with spaces and merges "##" continuations.

        This is a best-effort reading aid: lowercasing, accent stripping,
        dropped characters, spacing around punctuation and unknown words are
        not undone. The last axis is reduced: a 1D input gives a scalar.
        """
        tokens = self.ids_to_tokens(ids)
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
        return tf.strings.regex_replace(text, " " + _SUFFIX_INDICATOR, "")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary": self.get_vocabulary(),
                "lowercase": self._lowercase,
            }
        )
        return config

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(
            tuple(inputs.shape) + (None,), dtype="int32", ragged=True
        )

    def _to_id_tensor(self, ids):
        if isinstance(ids, (tf.Tensor, tf.RaggedTensor)):
            ids_tensor = ids
        elif isinstance(ids, (list, tuple)):
            try:
                ids_tensor = tf.ragged.constant(ids, dtype=tf.int32)
            except (TypeError, ValueError) as e:
                raise ValueError(
                    f"Token ids must be integers; received {ids!r}."
                ) from e
        else:
            ids_tensor = tf.convert_to_tensor(np.asarray(ids))
        if not ids_tensor.dtype.is_integer:
            raise ValueError(
                "Token ids must be integers; received dtype "
                f"{ids_tensor.dtype.name}."
            )
        return ids_tensor

    def _apply(self, inputs, with_offsets):
        if isinstance(inputs, tf.RaggedTensor):
            outputs = self._apply(inputs.flat_values, with_offsets)
            return tuple(inputs.with_flat_values(x) for x in outputs)
        if not isinstance(inputs, tf.Tensor):
            try:
                inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
            except (TypeError, ValueError) as e:
                raise ValueError(
                    "BertTokenizer expects strings (a str, a list of str, or "
                    f"a tf.string tensor); received {inputs!r}."
                ) from e
        self._check_strings(inputs)
        rank = inputs.shape.rank
        if rank is None:
            raise ValueError(
                "BertTokenizer needs inputs of known rank; received a string "
                "tensor of unknown rank."
            )
        outputs = self._tokenize_batch(tf.reshape(inputs, [-1]), with_offsets)
        if rank == 0:
            return tuple(x[0] for x in outputs)
        if rank > 1:
            outer = tf.shape(inputs, out_type=tf.int64)
            for axis in range(rank - 1, 0, -1):
                outputs = tuple(
                    tf.RaggedTensor.from_uniform_row_length(x, outer[axis])
                    for x in outputs
                )
        return outputs

    @staticmethod
    def _check_strings(inputs):
        if inputs.dtype != tf.string:
            raise ValueError(
                "BertTokenizer expects a tf.string tensor; received dtype "
                f"{inputs.dtype.name}."
            )

    def _properties(self, codepoints):
        return _lookup(self._block_index, self._blocks, codepoints)

    def _tokenize_batch(self, texts, with_offsets):
        """Tokenizes a 1D batch; every per-character step works on the flat
        concatenation of all texts."""
        chars = tf.strings.unicode_decode(
            texts, "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        codepoints = chars.flat_values
        # Outside the Basic Multilingual Plane, the shared blocks are needed.
        direct = tf.cond(
            tf.reduce_max(codepoints) < _BMP_END,
            lambda: tf.gather(self._direct_bmp, codepoints),
            lambda: _lookup(
                self._direct_block_index, self._direct_blocks, codepoints
            ),
        )
        if self._lowercase:
            # The contextual entry is the smallest one.
            word_chars, word_splits, char_source = tf.cond(
                tf.equal(tf.reduce_min(direct), _DIRECT_CONTEXTUAL),
                lambda: self._words_slow(codepoints, chars.row_splits),
                lambda: self._words_fast(codepoints, chars.row_splits, direct),
            )
        else:
            word_chars, word_splits, char_source = self._words_fast(
                codepoints, chars.row_splits, direct
            )

        num_chars = word_splits[1:] - word_splits[:-1]
        word_strings = tf.strings.unicode_encode(
            tf.RaggedTensor.from_row_splits(
                word_chars, word_splits, validate=False
            ),
            "UTF-8",
        )
        word_strings = tf.where(
            num_chars > _MAX_CHARS_PER_WORD, _UNK_TOKEN, word_strings
        )
        # The words of text `r` are those from `text_words[r]` on: the
        # characters of a word all come from the same text.
        text_words = tf.searchsorted(
            tf.gather(char_source, word_splits[:-1]),
            chars.row_splits,
            side="left",
            out_type=tf.int64,
        )

        def by_text(piece_ids):
            return tf.RaggedTensor.from_row_splits(
                piece_ids.flat_values,
                tf.gather(piece_ids.row_splits, text_words),
                validate=False,
            )

        piece_ids = self._wordpiece.tokenize(word_strings)
        ids = by_text(piece_ids)
        if not with_offsets:
            return (ids,)

        # Pieces partition the characters of the words, in order: a piece
        # covers as many characters as its vocabulary token, less the "##" of
        # a continuation, and "[UNK]" covers its whole word (an over-long one
        # included).
        flat_ids = piece_ids.flat_values
        piece_words = _row_ids(piece_ids.row_splits)
        is_continuation = tf.range(
            tf.size(flat_ids, out_type=tf.int64)
        ) > tf.gather(piece_ids.row_splits, piece_words)
        piece_chars = tf.where(
            tf.equal(flat_ids, self.unk_token_id),
            tf.gather(num_chars, piece_words),
            tf.gather(self._token_chars, flat_ids)
            - len(_SUFFIX_INDICATOR) * tf.cast(is_continuation, tf.int64),
        )
        piece_first_char = _exclusive_cumsum(piece_chars)

        def first_and_last():
            return (
                tf.gather(char_source, piece_first_char),
                tf.gather(char_source, piece_first_char + piece_chars - 1),
            )

        def min_and_max():
            num_word_chars = tf.size(char_source, out_type=tf.int64)
            char_piece = _row_ids(
                tf.concat([piece_first_char, num_word_chars[None]], axis=0)
            )
            return (
                tf.math.segment_min(char_source, char_piece),
                tf.math.segment_max(char_source, char_piece),
            )

        # The first and last characters of a piece span it, unless NFD's
        # canonical ordering moved marks.
        starts, lasts = tf.cond(
            tf.reduce_all(char_source[1:] >= char_source[:-1]),
            first_and_last,
            min_and_max,
        )
        # Offsets are relative to the start of the piece's text.
        row_offsets = tf.gather(chars.row_splits, _row_ids(ids.row_splits))
        return (
            ids,
            ids.with_flat_values(starts - row_offsets),
            ids.with_flat_values(lasts + 1 - row_offsets),
        )

    def _words_fast(self, codepoints, row_splits, direct):
        """Splits into words with the direct table alone.

        Exact when no character is contextual: then every character stands
        for its final form (or nothing) regardless of its neighbours, and no
        reordering happens.

        Returns:
            `(word_chars, word_splits, char_source)`: the code points of all
            words, concatenated; the row splits delimiting each word in them;
            and the index in `codepoints` of the character each code point
            comes from.
        """
        source = tf.where(direct >= 0)[:, 0]
        direct_kept = tf.gather(direct, source)
        word_chars = (
            tf.gather(codepoints, source)
            + (direct_kept & (_DIRECT_ALONE - 1))
            - _DIRECT_DELTA_BIAS
        )
        # Two neighbouring kept characters are in the same whitespace token
        # when neither a space nor the start of a text lies between them,
        # i.e. when the running count of both is the same.
        num_chars = tf.size(codepoints, out_type=tf.int64)
        text_starts = tf.math.unsorted_segment_sum(
            tf.ones_like(row_splits[:-1]), row_splits[:-1], num_chars + 1
        )[:-1]
        is_space = tf.cast(tf.equal(direct, _DIRECT_SPACE), tf.int64)
        token = tf.gather(tf.math.cumsum(is_space + text_starts), source)
        alone = direct_kept >= _DIRECT_ALONE
        starts_word = tf.not_equal(
            token, _shift_right(token, tf.constant(-1, tf.int64))
        )
        starts_word |= alone | _shift_right(alone, False)
        word_starts = tf.where(starts_word)[:, 0]
        word_splits = tf.concat(
            [word_starts, tf.size(source, out_type=tf.int64)[None]], axis=0
        )
        return word_chars, word_splits, source

    def _words_slow(self, codepoints, row_splits):
        """Splits into words with every step of the original, for text with
        contextual characters; same outputs as `_words_fast`."""
        rows = _row_ids(row_splits)
        # `source` is a character's index in the flat decoded batch; it is
        # carried through every step so pieces can be mapped back.
        source = tf.range(tf.size(codepoints, out_type=tf.int64))
        props = self._properties(codepoints)

        keep = tf.equal(props & _DROP, 0)
        codepoints = tf.boolean_mask(codepoints, keep)
        rows = tf.boolean_mask(rows, keep)
        source = tf.boolean_mask(source, keep)
        props = tf.boolean_mask(props, keep)
        is_whitespace = tf.not_equal(props & _WHITESPACE, 0)
        codepoints = tf.where(is_whitespace, tf.constant(32), codepoints)
        props = self._properties(codepoints)
        # Spacing around CJK ideographs is decided on the cleaned text, before
        # lowercasing; it is carried as a flag and applied when splitting.
        is_cjk = tf.not_equal(props & _CJK, 0)

        codepoints, rows, source, is_cjk, props = self._lowercase_and_strip(
            codepoints, rows, source, is_cjk, props
        )
        return self._split_words(codepoints, rows, source, is_cjk, props)

    def _lowercase_and_strip(self, codepoints, rows, source, is_cjk, props):
        """`str.lower()`, then NFD, then removal of Mn, on the flat batch."""
        is_sigma = tf.equal(codepoints, _CAPITAL_SIGMA)
        codepoints = tf.cond(
            tf.reduce_any(is_sigma),
            lambda: tf.where(
                is_sigma & self._is_final_sigma(rows, props),
                tf.constant(_FINAL_SIGMA),
                codepoints,
            ),
            lambda: codepoints,
        )
        # The final sigma maps to itself: its expansion must not be the one
        # of the capital read from `props`.
        expansion = tf.where(
            tf.equal(codepoints, _FINAL_SIGMA),
            0,
            tf.bitwise.right_shift(props, _EXPANSION_SHIFT),
        )
        lengths = tf.gather(self._expansion_lengths, expansion)
        carried = (codepoints, rows, source, is_cjk, expansion)
        codepoints, rows, source, is_cjk = tf.cond(
            tf.reduce_all(tf.equal(lengths, 1)),
            lambda: self._map_one_to_one(*carried),
            lambda: self._expand(*carried, lengths),
        )
        props = self._properties(codepoints)

        # NFD's canonical ordering: inside each run of characters with a
        # nonzero combining class, a stable sort by combining class. Most
        # reordered characters are Mn and vanish below, but a few combining
        # Mc (viramas, musical symbols) survive, so their order matters. The
        # sort is skipped when no adjacent pair is out of order.
        ccc = props & _CCC_MASK
        previous_ccc = tf.where(
            _same_row_as_previous(rows), _shift_right(ccc, 0), 0
        )
        carried = (codepoints, rows, source, is_cjk, props)
        codepoints, rows, source, is_cjk, props = tf.cond(
            tf.reduce_any((ccc > 0) & (previous_ccc > ccc)),
            lambda: self._canonical_order(ccc, rows, carried),
            lambda: carried,
        )

        keep = tf.equal(props & _NONSPACING_MARK, 0)
        return tuple(
            tf.boolean_mask(x, keep)
            for x in (codepoints, rows, source, is_cjk, props)
        )

    def _map_one_to_one(self, codepoints, rows, source, is_cjk, expansion):
        mapped = tf.gather(
            self._expansion_values,
            tf.gather(self._expansion_starts, expansion),
        )
        codepoints = tf.where(expansion > 0, mapped, codepoints)
        return codepoints, rows, source, is_cjk

    def _expand(self, codepoints, rows, source, is_cjk, expansion, lengths):
        parent = tf.repeat(tf.range(tf.size(codepoints)), lengths)
        position = tf.range(tf.reduce_sum(lengths)) - tf.repeat(
            _exclusive_cumsum(lengths), lengths
        )
        parent_expansion = tf.gather(expansion, parent)
        mapped = tf.gather(
            self._expansion_values,
            tf.gather(self._expansion_starts, parent_expansion) + position,
        )
        codepoints = tf.where(
            parent_expansion > 0, mapped, tf.gather(codepoints, parent)
        )
        return (codepoints,) + tuple(
            tf.gather(x, parent) for x in (rows, source, is_cjk)
        )

    @staticmethod
    def _canonical_order(ccc, rows, values):
        # Sorting by (start of run, ccc) with a stable sort reorders each run
        # and leaves everything else in place.
        run_head = tf.logical_or(
            tf.equal(ccc, 0), tf.logical_not(_same_row_as_previous(rows))
        )
        heads = tf.where(run_head)[:, 0]
        run = tf.gather(heads, tf.math.cumsum(tf.cast(run_head, tf.int64)) - 1)
        # Combining classes are below 256.
        order = tf.argsort(run * 256 + tf.cast(ccc, tf.int64), stable=True)
        return tuple(tf.gather(x, order) for x in values)

    @staticmethod
    def _is_final_sigma(rows, props):
        """Where Python's `str.lower()` would make a capital sigma final "ς".

        That is where the nearest non-case-ignorable character before (in the
        same text) is cased, and the nearest one after is not cased or does
        not exist. Whitespace and CJK characters are neither, so testing
        on the whole text is the same as testing on each word.
        """
        significant = tf.equal(props & _CASE_IGNORABLE, 0)
        cased = tf.not_equal(props & _CASED, 0)
        positions = tf.cast(tf.where(significant)[:, 0], tf.int32)
        count = tf.size(rows)
        padded = tf.concat([[-1], positions, [count]], axis=0)
        before = tf.math.cumsum(tf.cast(significant, tf.int32), exclusive=True)
        after = tf.math.cumsum(tf.cast(significant, tf.int32))
        previous = tf.gather(padded, before)
        following = tf.gather(padded, after + 1)

        def cased_in_same_row(neighbour):
            valid = tf.logical_and(neighbour >= 0, neighbour < count)
            safe = tf.where(valid, neighbour, 0)
            same_row = tf.equal(tf.gather(rows, safe), rows)
            return valid & same_row & tf.gather(cased, safe)

        return cased_in_same_row(previous) & tf.logical_not(
            cased_in_same_row(following)
        )

    @staticmethod
    def _split_words(codepoints, rows, source, is_cjk, props):
        """Whitespace split, then each punctuation mark and each CJK
        character as its own word.

        Returns:
            `(word_chars, word_splits, char_source)`, as `_words_fast`
            does.
        """
        is_space = tf.not_equal(props & _SPLITS_WORDS, 0)
        is_punct = tf.not_equal(props & _PUNCTUATION, 0)
        same_row = _same_row_as_previous(rows)
        new_source = tf.not_equal(
            source, _shift_right(source, tf.constant(-1, tf.int64))
        )
        starts_word = tf.logical_not(same_row)
        starts_word |= _shift_right(is_space, True)
        starts_word |= is_punct | _shift_right(is_punct, False)
        starts_word |= (is_cjk | _shift_right(is_cjk, False)) & new_source

        keep = tf.logical_not(is_space)
        starts_word = tf.boolean_mask(starts_word, keep)
        codepoints = tf.boolean_mask(codepoints, keep)
        rows = tf.boolean_mask(rows, keep)
        source = tf.boolean_mask(source, keep)

        word_starts = tf.where(starts_word)[:, 0]
        word_splits = tf.concat(
            [word_starts, tf.size(codepoints, out_type=tf.int64)[None]], axis=0
        )
        return codepoints, word_splits, source


class _Vocabulary:
    """Python-side vocabulary: tokens by id, and ids by token."""

    def __init__(self, tokens, index):
        self.tokens = tuple(tokens)
        self.index = index
