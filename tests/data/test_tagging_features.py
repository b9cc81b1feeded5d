"""Word-level alignment: labels on first pieces, windows over long sentences,
and each word read back from the window where it has the most context."""

import numpy as np
import pytest

from bert_keras.data.tagging_features import IGNORED, encode_words
from bert_keras.tokenizers import BertTokenizer

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "jump", "##ing",
              "北", "京", "don", "'", "t", ",", "na", "##ive", "a", "b", "c", "d"]
LABELS = {"O": 0, "B-LOC": 1, "I-LOC": 2, "B-PER": 3, "I-PER": 4}


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer(VOCABULARY)


def test_each_label_sits_on_the_first_piece_of_its_word(tokenizer):
    # Accents stripped, punctuation split off, CJK spaced out, a word with no
    # piece at all (a zero-width space), and an unknown word.
    words = ["Café", "jumping", "北京", "don't", "\u200b", "x", "naïve,"]
    labels = ["B-LOC", "O", "B-LOC", "B-PER", "O", "I-PER", "O"]
    windows = encode_words([words], tokenizer, 32, labels=[labels], label_ids=LABELS)
    [token_ids], [window_labels] = windows.token_ids, windows.labels
    assert token_ids.tolist() == [2, 5, 6, 7, 8, 9, 10, 11, 12, 1, 14, 15, 13, 3]
    i = IGNORED
    assert window_labels.tolist() == [i, 1, 0, i, 1, i, 3, i, i, 4, 0, i, i, i]
    assert windows.word_positions[0].tolist() == [1, 2, 4, 6, -1, 9, 10]
    assert windows.empty_words == 1
    # Every piece labelled: B- becomes I- after the first piece.
    every = encode_words([words], tokenizer, 32, labels=[labels], label_ids=LABELS,
                         label_all_pieces=True)
    assert every.labels[0].tolist() == [i, 1, 0, 0, 1, 2, 3, 4, 4, 4, 0, 0, 0, i]


def test_windows_cover_long_sentences_and_each_word_reads_its_best_window(tokenizer):
    rng = np.random.default_rng(0)
    choices = ["a", "b", "jumping", "don't", "\u200b", "c"]
    words = [str(rng.choice(choices)) for _ in range(40)]
    windows = encode_words([words, ["d"]], tokenizer, sequence_length=8, stride=3)
    pieces = [len(tokenizer(word).numpy()) for word in words]
    starts = np.concatenate([[0], np.cumsum(pieces)])
    assert windows.sentence.tolist().count(0) > 1
    previous = None
    for k in np.flatnonzero(windows.sentence == 0):
        first, end = windows.first_word[k], windows.end_word[k]
        assert len(windows.token_ids[k]) <= 8
        assert starts[end] - starts[first] == len(windows.token_ids[k]) - 2
        if previous is not None:
            assert first > previous[0] and starts[first] - starts[previous[0]] <= 3
            assert first <= previous[1]
        previous = (first, end)
    assert windows.first_word[0] == 0 and previous[1] == len(words)

    # Logits that say which window and position each word came from.
    logits = [np.stack([np.full(len(t), k), np.arange(len(t))], axis=1).astype("float32")
              for k, t in enumerate(windows.token_ids)]
    chosen = windows.word_logits(logits)[0]
    for w in range(len(words)):
        if pieces[w] == 0:
            assert np.isnan(chosen[w]).all()
            continue
        scores = {}
        for k in np.flatnonzero(windows.sentence == 0):
            if windows.first_word[k] <= w < windows.end_word[k]:
                inside = int(windows.word_positions[k][w - windows.first_word[k]])
                length = len(windows.token_ids[k])
                scores[k] = min(inside - 1, length - 2 - inside) + 0.01 * (length - 2)
        best = max(scores.values())
        assert scores[int(chosen[w][0])] == best
        k = int(chosen[w][0])
        assert chosen[w][1] == windows.word_positions[k][w - windows.first_word[k]]
    assert windows.word_logits(logits)[1].shape == (1, 2)


def test_empty_sentences_and_a_word_longer_than_a_window(tokenizer):
    windows = encode_words([[], ["jumping"]], tokenizer, sequence_length=3)
    assert [t.tolist() for t in windows.token_ids] == [[2, 3], [2, 6, 3]]
    assert windows.word_counts == [0, 1]


def test_batches_pad_to_a_multiple_of_eight_within_the_window(tokenizer):
    labels = {"O": 0}
    words = [["a"] * 3, ["b"] * 9, ["c"] * 20]
    windows = encode_words(words, tokenizer, 10, labels=[["O"] * len(s) for s in words],
                           label_ids=labels)
    batches = list(windows.dataset(1, 0, max_length=10).as_numpy_iterator())
    for (x, y, weights), tokens in zip(batches, windows.token_ids):
        # 5 tokens pad to 8, 9 or 10 to the window's 10, never beyond.
        assert x["token_ids"].shape[1] == min(-(-len(tokens) // 8) * 8, 10)
        assert (y[x["padding_mask"] == 0] == IGNORED).all() and weights.sum() == (y == 0).sum()
