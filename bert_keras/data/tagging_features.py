"""Words and word labels to BERT inputs, and token predictions back to words.

The recipe of the original README for word-level tasks: each word is
tokenized on its own (the original's `orig_to_tok_map`), its label goes on
its first piece, and the other pieces, `[CLS]`, `[SEP]` and padding are
ignored (label -100, weight 0). `label_all_pieces=True` labels every piece
instead, with `B-` turned into `I-` on the continuation pieces.

A sentence whose pieces do not fit in `sequence_length - 2` is cut into
overlapping windows of whole words, each starting at most `stride` pieces
after the previous one; every window trains, and each word is predicted
from the window where it has the most context on both sides (the rule of
the original's SQuAD windows). A single word with more pieces than a window
keeps its first ones: its label sits on the first. A word that tokenizes to
nothing (a zero-width character, say) has no piece: it keeps its place,
is predicted as `O` (or the first label when there is no `O`), and is
counted in `TaggingWindows.empty_words`.
"""

import dataclasses

import numpy as np

IGNORED = -100


@dataclasses.dataclass
class TaggingWindows:
    """The windows of a list of sentences, ready for the model.

    `token_ids` and `labels` hold one array per window (`labels` is None
    without labels); `sentence[k]` is the sentence of window `k`, which
    covers its words `first_word[k]` up to `end_word[k]`, whose first pieces
    sit at `word_positions[k]` (-1 for a word without pieces).
    `empty_words` counts the words without pieces.
    """

    token_ids: list
    labels: list
    sentence: np.ndarray
    first_word: np.ndarray
    end_word: np.ndarray
    word_positions: list
    word_counts: list
    empty_words: int

    def dataset(self, batch_size, pad_id, shuffle=False, seed=None, pad_to_multiple_of=8,
                max_length=None, repeat=False):
        """A `tf.data.Dataset` of `(inputs, labels, weights)` batches (inputs
        only without labels), padded to each batch's longest window rounded
        up to a multiple of `pad_to_multiple_of` (at most `max_length`),
        which bounds the shapes a compiled model sees. With `repeat`, the
        windows repeat (reshuffled each pass) before batching, so that
        every batch is full."""
        import tensorflow as tf

        def ragged(arrays):
            lengths = [len(a) for a in arrays]
            flat = np.concatenate(arrays) if arrays else np.zeros([0], "int32")
            return tf.RaggedTensor.from_row_lengths(flat.astype("int32"), lengths)

        columns = {"token_ids": ragged(self.token_ids)}
        if self.labels is not None:
            columns["labels"] = ragged(self.labels)
        dataset = tf.data.Dataset.from_tensor_slices(columns)
        if shuffle:
            dataset = dataset.shuffle(len(self.token_ids), seed=seed,
                                      reshuffle_each_iteration=True)
        if repeat:
            dataset = dataset.repeat()

        def to_model(batch):
            # One padded length for the batch: its longest window rounded up
            # to a multiple, never past `max_length`.
            rows = batch["token_ids"]
            longest = tf.cast(rows.bounding_shape()[1], "int32")
            length = -(-longest // pad_to_multiple_of) * pad_to_multiple_of
            if max_length is not None:
                length = tf.minimum(length, tf.maximum(max_length, longest))
            shape = tf.stack([tf.cast(rows.nrows(), "int32"), length])
            token_ids = rows.to_tensor(pad_id, shape=shape)
            inputs = {
                "token_ids": token_ids,
                "segment_ids": tf.zeros_like(token_ids),
                "padding_mask": tf.ones_like(rows).to_tensor(0, shape=shape),
            }
            if "labels" not in batch:
                return inputs
            labels = batch["labels"].to_tensor(IGNORED, shape=shape)
            return inputs, labels, tf.cast(labels != IGNORED, "float32")

        return dataset.ragged_batch(batch_size).map(to_model).prefetch(2)

    def word_logits(self, window_logits):
        """Each word's logits, from its best window: one `[words, labels]`
        array per sentence, NaN rows for words without pieces."""
        labels = window_logits[0].shape[-1] if len(window_logits) else 0
        sentences = [np.full((count, labels), np.nan, "float32") for count in self.word_counts]
        best = [np.full(count, -np.inf) for count in self.word_counts]
        for k, logits in enumerate(window_logits):
            s, first = self.sentence[k], self.first_word[k]
            positions = self.word_positions[k]
            real = positions >= 0
            length = len(self.token_ids[k])
            # Context on the shorter side, then the window's size, as the
            # original chooses among SQuAD windows.
            score = np.minimum(positions - 1, length - 2 - positions) + 0.01 * (length - 2)
            words = np.arange(first, first + len(positions))
            better = real & (score > best[s][words])
            best[s][words[better]] = score[better]
            sentences[s][words[better]] = logits[positions[better]]
        return sentences


def encode_words(sentences, tokenizer, sequence_length, labels=None, label_ids=None,
                 stride=None, label_all_pieces=False):
    """Cuts tokenized sentences into the windows the model reads.

    Args:
        sentences: a list of sentences, each a list of words.
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`.
        sequence_length: int, at least 3. The longest window, with `[CLS]`
            and `[SEP]`.
        labels: optional word labels, one list per sentence.
        label_ids: a dict from label to id, needed with `labels`.
        stride: int. The most pieces a window starts after the previous one
            (default: half a window).
        label_all_pieces: bool. Label every piece of a word, `B-` becoming
            `I-` after the first, instead of its first piece only.

    Returns:
        A `TaggingWindows`.
    """
    return encode_pieces(word_pieces(sentences, tokenizer), tokenizer, sequence_length,
                         labels, label_ids, stride, label_all_pieces)


def encode_pieces(pieces, tokenizer, sequence_length, labels=None, label_ids=None,
                  stride=None, label_all_pieces=False):
    """`encode_words` on words already cut into pieces: `pieces[s][w]` is the
    list of piece ids of word `w` of sentence `s` (see
    `bert_keras.data.text_words.split_words`)."""
    capacity = sequence_length - 2
    stride = stride or max(1, capacity // 2)
    pieces = [[list(word)[:capacity] for word in words] for words in pieces]
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    continuation = None
    if labels is not None and label_all_pieces:
        continuation = {i: label_ids.get("I-" + label[2:], i) if label.startswith("B-") else i
                        for label, i in label_ids.items()}
    windows = {key: [] for key in ("token_ids", "labels", "sentence", "first_word",
                                   "end_word", "word_positions")}
    for s, words in enumerate(pieces):
        word_labels = None if labels is None else [label_ids[label] for label in labels[s]]
        for first, end in _windows([len(p) for p in words], capacity, stride):
            token_ids, window_labels, positions = [cls_id], [IGNORED], []
            for w in range(first, end):
                positions.append(len(token_ids) if words[w] else -1)
                token_ids.extend(words[w])
                if word_labels is not None and words[w]:
                    label = word_labels[w]
                    rest = continuation[label] if continuation else IGNORED
                    window_labels.extend([label] + [rest] * (len(words[w]) - 1))
            token_ids.append(sep_id)
            window_labels.append(IGNORED)
            windows["token_ids"].append(np.asarray(token_ids, "int32"))
            windows["labels"].append(np.asarray(window_labels, "int32"))
            windows["sentence"].append(s)
            windows["first_word"].append(first)
            windows["end_word"].append(end)
            windows["word_positions"].append(np.asarray(positions, "int64"))
    return TaggingWindows(
        token_ids=windows["token_ids"],
        labels=windows["labels"] if labels is not None else None,
        sentence=np.asarray(windows["sentence"], "int64"),
        first_word=np.asarray(windows["first_word"], "int64"),
        end_word=np.asarray(windows["end_word"], "int64"),
        word_positions=windows["word_positions"],
        word_counts=[len(words) for words in pieces],
        empty_words=sum(not p for words in pieces for p in words),
    )


def word_pieces(sentences, tokenizer):
    """Each word's piece ids, one list per sentence."""
    flat = [word for words in sentences for word in words]
    ids = tokenizer(flat).to_list() if flat else []
    pieces, start = [], 0
    for words in sentences:
        pieces.append(ids[start:start + len(words)])
        start += len(words)
    return pieces


def _windows(lengths, capacity, stride):
    """`(first, end)` word ranges of at most `capacity` pieces, covering every
    word, each starting at most `stride` pieces after the previous one."""
    if not lengths:
        return [(0, 0)]
    starts = np.concatenate([[0], np.cumsum(lengths)])
    ranges, first = [], 0
    while True:
        end = int(np.searchsorted(starts, starts[first] + capacity, side="right")) - 1
        end = max(end, first + 1)
        ranges.append((first, end))
        if end >= len(lengths):
            return ranges
        # The next window starts at the last word within `stride` pieces,
        # and always at least one word on.
        limit = int(np.searchsorted(starts, starts[first] + stride, side="right")) - 1
        first = min(max(limit, first + 1), end)
