"""Chinese word boundaries for whole word masking (an extension of the original).

BERT splits Chinese into single characters, and the original's whole word
masking only joins `##` pieces, so on Chinese it masks characters alone.
Chinese-BERT-wwm masked whole words found by a segmenter instead; this
does the same with `jieba` (the `bert-keras[chinese]` extra). Each line is
segmented, and within the line's word pieces a run of single CJK
characters that spells one of its multi-character words is marked: every
character after the first becomes a `ContinuedPiece`, which whole word
masking joins to the one before it as it joins a `##` piece. The pieces'
text and ids do not change, so with masking off the data equals the
original's.

Where several words could start at a character, the longest is taken, as
Chinese-BERT-wwm's reference marking does.
"""

from bert_keras.errors import DataError
from bert_keras.unicode_ranges import is_cjk

SEGMENTERS = ("jieba",)


class ContinuedPiece(str):
    """A word piece that continues the word of the piece before it."""

    __slots__ = ()


def _all_cjk(text):
    return bool(text) and all(is_cjk(ord(character)) for character in text)


def load_segmenter(name):
    """The segmenter `name` ("jieba") as a function of a line to its words."""
    if name not in SEGMENTERS:
        raise DataError(f"Unknown word segmenter {name!r}; the choice is {', '.join(SEGMENTERS)}.")
    try:
        import jieba
    except ImportError:
        raise DataError(
            "Chinese whole word masking needs jieba; pip install 'bert-keras[chinese]'."
        ) from None
    jieba.setLogLevel(60)
    return jieba.lcut


def mark_words(pieces, words):
    """`pieces` with the characters that continue one of `words` marked."""
    words = {word for word in words if len(word) > 1 and _all_cjk(word)}
    if not words:
        return pieces
    longest = max(len(word) for word in words)
    marked = list(pieces)
    index = 0
    while index < len(pieces):
        step = 1
        if len(pieces[index]) == 1 and is_cjk(ord(pieces[index])):
            for length in range(min(longest, len(pieces) - index), 1, -1):
                if "".join(pieces[index:index + length]) in words:
                    for inner in range(index + 1, index + length):
                        marked[inner] = ContinuedPiece(pieces[inner])
                    step = length
                    break
        index += step
    return marked
