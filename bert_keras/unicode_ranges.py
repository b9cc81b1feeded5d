"""The code points that the original BERT tokenizer treats as CJK.

`CJK_RANGES` is the table of the original `tokenization.py`'s
`_is_chinese_char`: the CJK Unified Ideographs blocks (the main block and
Extensions A to E) and the two CJK Compatibility Ideographs blocks, as
inclusive `(first, last)` code points. The original surrounds each such
character with spaces, so that every ideograph is a word of its own.
Hiragana, Katakana and Hangul are not in these blocks and are left as they
are, since Japanese kana and Korean are written with their own word
boundaries.

Pure Python, so that modules which must load without TensorFlow can share it
with the in-graph tokenizer.
"""

CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk(code_point):
    """Whether the original BERT tokenizer splits around `code_point`."""
    return any(first <= code_point <= last for first, last in CJK_RANGES)
