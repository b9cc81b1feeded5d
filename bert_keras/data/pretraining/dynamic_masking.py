"""Dynamic masking: new masked-LM targets each time an example is read.

Not the original's behaviour, which fixes each instance's masks when the
data is made (`dupe_factor` copies with different masks); this is
RoBERTa's alternative. The masks already in a record are undone (the
original pieces put back at their positions), then drawn anew inside
`tf.data` with the original's rules: `[CLS]` and `[SEP]` are never chosen,
`min(max_predictions_per_seq, max(1, round(tokens * masked_lm_prob)))`
pieces are masked, each replaced by `[MASK]` 80% of the time, kept 10% and
swapped for a random vocabulary entry 10%, and with whole word masking a
word's `##` pieces go with it. One difference in the choice: words are
taken in a random order while they fit, so a word that would pass the count
ends the choice instead of being skipped for a shorter one.

Hand-written because tf-text's item selector draws with stateful random
ops, whose draws depend on the pipeline's parallelism; here each example
draws from a stateless generator keyed by `Dataset.random(seed)`, so a
seed gives the same masks in every run, and new ones in every epoch.
"""

from bert_keras.errors import DataError


class DynamicMasking:
    """Redraws the masks of parsed pretraining examples; see the module docstring.

    Args:
        vocabulary: the list of vocabulary tokens (`tokenizer.get_vocabulary()`).
        masked_lm_prob: float in (0, 1].
        whole_word_mask: bool. Mask a word's `##` pieces with it.
        seed: optional int. The same seed gives the same masks in every run.

    Example:
    ```python
    masking = DynamicMasking(tokenizer.get_vocabulary(), seed=0)
    dataset = pretraining_dataset("data/*.tfrecord", 32, masking=masking)
    ```
    """

    def __init__(self, vocabulary, masked_lm_prob=0.15, whole_word_mask=False, seed=None):
        vocabulary = list(vocabulary)
        # As the original's vocabulary dict: a token listed twice is its last line.
        ids = {token: index for index, token in enumerate(vocabulary)}
        missing = [token for token in ("[CLS]", "[SEP]", "[MASK]") if token not in ids]
        if missing:
            raise DataError(
                f"The vocabulary lacks {', '.join(missing)}; dynamic masking needs a "
                "BERT vocabulary."
            )
        if not 0 < masked_lm_prob <= 1:
            raise DataError(f"masked_lm_prob {masked_lm_prob} must be above 0 and at most 1.")
        self.vocabulary_size = len(vocabulary)
        self.mask_id = ids["[MASK]"]
        self.special_ids = (ids["[CLS]"], ids["[SEP]"])
        self.continuation = [token.startswith("##") for token in vocabulary]
        self.masked_lm_prob = float(masked_lm_prob)
        self.whole_word_mask = bool(whole_word_mask)
        self.seed = seed

    def apply(self, dataset):
        """Maps a dataset of parsed, unbatched examples (the original's features)."""
        import tensorflow as tf

        keys = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True)
        return tf.data.Dataset.zip(dataset, keys).map(self._redraw,
                                                      num_parallel_calls=tf.data.AUTOTUNE)

    def _redraw(self, features, key):
        import tensorflow as tf

        ids = features["input_ids"]
        length = tf.shape(ids)[0]
        predictions = features["masked_lm_positions"].shape[0]
        seeds = [tf.stack([key, tf.constant(k, tf.int64)]) for k in range(4)]

        weighted = features["masked_lm_weights"] > 0
        positions = tf.boolean_mask(features["masked_lm_positions"], weighted)
        ids = tf.tensor_scatter_nd_update(ids, positions[:, None],
                                          tf.boolean_mask(features["masked_lm_ids"], weighted))
        real = features["input_mask"] > 0
        special = tf.reduce_any(ids[:, None] == tf.constant(self.special_ids, ids.dtype), axis=1)
        candidate = real & ~special

        # Word ids: a candidate opens a word unless it continues the one before.
        opens = candidate
        if self.whole_word_mask:
            continues = tf.gather(tf.constant(self.continuation), ids)
            previous = tf.concat([[False], candidate[:-1]], axis=0)
            opens = candidate & ~(continues & previous)
        word = tf.cumsum(tf.cast(opens, tf.int32)) - 1
        word = tf.where(candidate, word, length)
        word_length = tf.math.unsorted_segment_sum(tf.ones_like(word), word, length + 1)[:length]

        real_tokens = tf.reduce_sum(tf.cast(real, tf.float32))
        count = tf.cast(tf.round(real_tokens * self.masked_lm_prob), tf.int32)
        count = tf.minimum(predictions, tf.maximum(1, count))
        keys = tf.random.stateless_uniform([length], seeds[0])
        order = tf.argsort(tf.where(word_length > 0, keys, 2.0))
        taken = tf.cumsum(tf.gather(word_length, order)) <= count
        chosen_word = tf.scatter_nd(order[:, None], taken & (tf.gather(word_length, order) > 0),
                                    [length])
        chosen = candidate & tf.gather(tf.concat([chosen_word, [False]], 0), word)

        first = tf.random.stateless_uniform([length], seeds[1])
        second = tf.random.stateless_uniform([length], seeds[2])
        random_ids = tf.random.stateless_uniform([length], seeds[3], 0, self.vocabulary_size,
                                                 dtype=tf.int64)
        replacement = tf.where(first < 0.8, tf.constant(self.mask_id, ids.dtype),
                               tf.where(second < 0.5, ids, tf.cast(random_ids, ids.dtype)))
        masked_ids = tf.where(chosen, replacement, ids)

        new_positions = tf.cast(tf.where(chosen)[:, 0], features["masked_lm_positions"].dtype)
        unused = predictions - tf.shape(new_positions)[0]

        def pad(values):
            return tf.ensure_shape(tf.concat([values, tf.zeros([unused], values.dtype)], 0),
                                   [predictions])

        result = dict(features)
        result["input_ids"] = masked_ids
        result["masked_lm_positions"] = pad(new_positions)
        result["masked_lm_ids"] = pad(tf.gather(ids, new_positions))
        result["masked_lm_weights"] = pad(tf.ones_like(new_positions, tf.float32))
        return result
