"""Raw text to tagger words: BERT's own word boundaries, offsets into the
text as written, and entity spans from word tags."""

import pytest

from bert_keras.data.text_words import entity_spans, split_words
from bert_keras.tokenizers import BertTokenizer

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cafe", "jump", "##ing",
              "北", "京", "don", "'", "t", ",", "na", "##ive", "!", "σ", "##ς"]


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer(VOCABULARY, lowercase=True)


def test_words_are_basic_tokens_with_offsets_into_the_text_as_written(tokenizer):
    text = "  Café naïve,\tJUMPING 北京 don't ΣΣ xyz!"
    [words] = split_words([text], tokenizer)
    assert words.words == ["Café", "naïve", ",", "JUMPING", "北", "京", "don", "'", "t",
                           "ΣΣ", "xyz", "!"]
    assert all(text[s:e] == w for w, s, e in zip(words.words, words.starts, words.ends))
    ids = {token: i for i, token in enumerate(VOCABULARY)}
    assert words.pieces[1] == [ids["na"], ids["##ive"]]
    assert words.pieces[3] == [ids["jump"], ids["##ing"]]
    assert words.pieces[9] == [ids["σ"], ids["##ς"]]
    assert words.pieces[10] == [ids["[UNK]"]]


def test_dropped_characters_belong_to_no_word(tokenizer):
    text = "cafe\u200b \u200b jumping\x00!"
    [words] = split_words([text], tokenizer)
    assert words.words == ["cafe", "jumping", "!"]
    assert words.starts == [0, 8, 16]
    # Nothing but dropped characters: no word, and the other texts keep theirs.
    empty, only_dropped, last = split_words(["", "\u200b\u200d", "na"], tokenizer)
    assert empty.words == only_dropped.words == [] and last.words == ["na"]


def test_entity_spans_follow_iob_phrases(tokenizer):
    text = "Café naïve, jumping 北京!"
    [words] = split_words([text], tokenizer)
    tags = ["B-ORG", "I-ORG", "O", "I-PER", "B-LOC", "I-LOC", "O"]
    assert entity_spans(text, words, tags) == [
        {"text": "Café naïve", "type": "ORG", "start": 0, "end": 10},
        # An I- tag after O starts a phrase, as in conlleval.
        {"text": "jumping", "type": "PER", "start": 12, "end": 19},
        {"text": "北京", "type": "LOC", "start": 20, "end": 22},
    ]
    assert entity_spans(text, words, ["O"] * 7) == []
