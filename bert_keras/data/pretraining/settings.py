"""The settings of one pretraining-data run, checked before any work.

`PretrainingDataSettings` carries the original `create_pretraining_data.py`
flags with its defaults. `check()` refuses values the original would crash
on deep inside its loops, or silently misuse: a `max_seq_length` below 5
leaves no room for `randint(2, max_seq_length - 3)`; more predictions than
sequence positions can never be written; a `masked_lm_prob` of 0 would still
mask one piece per sequence. It imports neither TensorFlow nor Keras, so the
CLI checks its flags for free.
"""

import dataclasses

from bert_keras.errors import DataError


@dataclasses.dataclass(frozen=True)
class PretrainingDataSettings:
    """The original's flags, with its defaults.

    Args:
        max_seq_length: int. Tokens per packed pair, `[CLS]` and `[SEP]`s
            included.
        max_predictions_per_seq: int. The most masked positions of a pair.
        masked_lm_prob: float in (0, 1]. The share of a pair's tokens masked.
        short_seq_prob: float in [0, 1]. How often a document's target
            length is drawn shorter than `max_seq_length`.
        dupe_factor: int. Passes over the corpus, each with new masks.
        seed: int. The original's `--random_seed`.
        whole_word_mask: bool. The original's `--do_whole_word_mask`: a
            word's `##` pieces are masked with it.
        word_segmenter: None, or "jieba": with `whole_word_mask`, Chinese
            words found by the segmenter are masked whole too (an extension
            of the original; see `chinese_words`).

    >>> PretrainingDataSettings(max_seq_length=64, max_predictions_per_seq=80).check()
    Traceback (most recent call last):
    ...
    bert_keras.errors.DataError: max_predictions_per_seq 80 is larger than max_seq_length 64; ...
    """

    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    dupe_factor: int = 10
    seed: int = 12345
    whole_word_mask: bool = False
    word_segmenter: str = None

    def check(self):
        """Returns self, or raises `DataError` naming the bad setting and the fix."""
        if isinstance(self.max_seq_length, bool) or not isinstance(self.max_seq_length, int) \
                or self.max_seq_length < 5:
            raise DataError(
                f"max_seq_length {self.max_seq_length!r} is too short: a pair needs "
                "[CLS], two [SEP]s and at least two tokens; pass 5 or more "
                "(the original's default is 128)."
            )
        if not isinstance(self.max_predictions_per_seq, int) or self.max_predictions_per_seq < 1:
            raise DataError(
                f"max_predictions_per_seq {self.max_predictions_per_seq!r} must be a "
                "positive integer (the original's default is 20)."
            )
        if self.max_predictions_per_seq > self.max_seq_length:
            raise DataError(
                f"max_predictions_per_seq {self.max_predictions_per_seq} is larger "
                f"than max_seq_length {self.max_seq_length}; pass at most "
                f"{self.max_seq_length} (usually about max_seq_length * masked_lm_prob)."
            )
        if not 0 < self.masked_lm_prob <= 1:
            raise DataError(
                f"masked_lm_prob {self.masked_lm_prob} must be above 0 and at most 1 "
                "(the original's default is 0.15)."
            )
        if not 0 <= self.short_seq_prob <= 1:
            raise DataError(
                f"short_seq_prob {self.short_seq_prob} must be between 0 and 1 "
                "(the original's default is 0.1)."
            )
        if not isinstance(self.dupe_factor, int) or self.dupe_factor < 1:
            raise DataError(
                f"dupe_factor {self.dupe_factor!r} must be a positive integer "
                "(the original's default is 10)."
            )
        if not isinstance(self.seed, int):
            raise DataError(f"seed {self.seed!r} must be an integer.")
        if self.word_segmenter is not None:
            if not self.whole_word_mask:
                raise DataError(
                    f"word_segmenter {self.word_segmenter!r} only matters with whole "
                    "word masking; turn whole_word_mask on (--do-whole-word-mask)."
                )
            self.segmenter()
        return self

    def segmenter(self):
        """The word segmenter function, or None."""
        if self.word_segmenter is None:
            return None
        from bert_keras.data.pretraining.chinese_words import load_segmenter

        return load_segmenter(self.word_segmenter)

    def for_shard(self, index):
        """These settings with the seed of shard `index`: see `shard_seed`."""
        return dataclasses.replace(self, seed=shard_seed(self.seed, index))

    def as_dict(self):
        return dataclasses.asdict(self)


def shard_seed(seed, index):
    """The seed of shard `index` (0-based) in sharded mode: `seed + index`.

    So shard 3 of a run with the original's default seed 12345 is exactly
    the original run on that file alone with `--random_seed=12348`.

    >>> shard_seed(12345, 3)
    12348
    >>> PretrainingDataSettings(seed=12345).for_shard(3).seed
    12348
    """
    return seed + index
