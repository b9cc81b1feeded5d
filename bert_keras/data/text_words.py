"""Raw text to the words a tagger labels, with character offsets, and
predicted tags back to entity spans.

The words are those of BERT's own basic tokenization (whitespace, then each
punctuation mark and each CJK character on its own), read off the word
pieces: a piece without the `##` prefix starts a word. Offsets are code
point positions in the original text, end exclusive, so `text[start:end]`
is the word as written (with its case and accents), whatever the
tokenizer's lowercasing and accent stripping. Characters the tokenizer
drops (controls, zero-width characters) belong to no word.

Example:
>>> from bert_keras.tokenizers import BertTokenizer
>>> tokenizer = BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
...                            "jim", "hen", "##son", "was", "."], lowercase=True)
>>> [words] = split_words(["Jim Henson was."], tokenizer)
>>> words.words, words.starts, words.ends
(['Jim', 'Henson', 'was', '.'], [0, 4, 11, 14], [3, 10, 14, 15])
>>> entity_spans("Jim Henson was.", words, ["B-PER", "I-PER", "O", "O"])
[{'text': 'Jim Henson', 'type': 'PER', 'start': 0, 'end': 10}]
"""

import dataclasses
import re

import numpy as np

_IOB_PHRASE = re.compile(r"^[BI]-.+$")


@dataclasses.dataclass
class TextWords:
    """The words of one text: `words[i]` is `text[starts[i]:ends[i]]`, and
    `pieces[i]` its word-piece ids."""

    words: list
    starts: list
    ends: list
    pieces: list


def split_words(texts, tokenizer):
    """Splits each text into the words of BERT's basic tokenization.

    Args:
        texts: a list of str.
        tokenizer: a `bert_keras.tokenizers.BertTokenizer`.

    Returns:
        One `TextWords` per text.
    """
    if not texts:
        return []
    ids, starts, ends = tokenizer.tokenize_with_offsets(list(texts))
    continues = np.array([token.startswith("##") for token in tokenizer.get_vocabulary()])
    split = []
    for text, row_ids, row_starts, row_ends in zip(
            texts, ids.to_list(), starts.to_list(), ends.to_list()):
        words = TextWords([], [], [], [])
        for piece, start, end in zip(row_ids, row_starts, row_ends):
            if words.pieces and continues[piece]:
                words.pieces[-1].append(piece)
                words.ends[-1] = max(words.ends[-1], int(end))
            else:
                words.pieces.append([piece])
                words.starts.append(int(start))
                words.ends.append(int(end))
        words.words = [text[s:e] for s, e in zip(words.starts, words.ends)]
        split.append(words)
    return split


def entity_spans(text, words, tags):
    """The entities of one text's word tags, as IOB phrases (seqeval's
    chunks, those of conlleval); a tag other than `B-TYPE` or `I-TYPE` (a
    POS tag, say) is outside every phrase.

    Args:
        text: the text `words` came from.
        words: its `TextWords`.
        tags: one IOB tag per word.

    Returns:
        A list of `{"text", "type", "start", "end"}` dicts in text order,
        `text[start:end]` being the entity's text.
    """
    from seqeval.metrics.sequence_labeling import get_entities

    tags = [tag if _IOB_PHRASE.match(tag) else "O" for tag in tags]
    spans = []
    for kind, first, last in get_entities(tags):
        start, end = words.starts[first], words.ends[last]
        spans.append({"text": text[start:end], "type": kind, "start": start, "end": end})
    return spans
