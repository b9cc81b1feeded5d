"""Readers of word-level tagging data, IOB1 to IOB2, and label vocabularies."""

import pytest

from bert_keras.data.tagging import (
    check_labels,
    iob1_to_iob2,
    label_vocabulary,
    read_columns,
    read_conll2003,
)
from bert_keras.errors import DataError

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER
-DOCSTART- -X- -X- O


BRUSSELS NNP B-NP I-LOC
Le NNP I-NP I-LOC
Havre NNP I-NP B-LOC
"""


def test_conll2003_sentences_with_documents_and_blank_runs(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(CONLL.replace("\n", "\r\n"), encoding="utf-8")
    sentences = read_conll2003(path)
    assert [s.words for s in sentences] == [
        ["EU", "rejects", "German", "call", "."], ["Peter", "Blackburn"],
        ["BRUSSELS", "Le", "Havre"],
    ]
    assert [s.labels for s in sentences] == [
        ["B-ORG", "O", "B-MISC", "O", "O"], ["B-PER", "I-PER"], ["B-LOC", "I-LOC", "B-LOC"],
    ]
    kept = read_conll2003(CONLL.splitlines(), scheme="iob1")
    assert kept[2].labels == ["I-LOC", "I-LOC", "B-LOC"]


def test_iob1_to_iob2_starts_every_phrase_with_b():
    assert iob1_to_iob2(["I-PER", "I-PER", "I-LOC", "O", "I-LOC", "B-LOC", "I-LOC"]) == [
        "B-PER", "I-PER", "B-LOC", "O", "B-LOC", "B-LOC", "I-LOC"]
    # Already IOB2: unchanged.
    tags = ["B-PER", "I-PER", "O", "B-MISC-X", "I-MISC-X", "B-MISC-X"]
    assert iob1_to_iob2(tags) == tags


def test_two_column_files_split_at_tabs_and_keep_spaces_in_words():
    lines = ["New York\tB-LOC", "is\tO", "", "", "big\tADJ"]
    sentences = read_columns(lines)
    assert [s.words for s in sentences] == [["New York", "is"], ["big"]]
    assert [s.labels for s in sentences] == [["B-LOC", "O"], ["ADJ"]]
    ud = read_columns(["1 The DET", "2 cat NOUN"], word_column=1)
    assert ud[0].words == ["The", "cat"] and ud[0].labels == ["DET", "NOUN"]


def test_malformed_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "dev.txt"
    path.write_text("EU NNP B-NP I-ORG\nrejects VBZ O\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev.txt, line 2: 3 field\(s\) in 'rejects VBZ O'"):
        read_conll2003(path)
    with pytest.raises(DataError, match="line 1: 1 field"):
        read_columns(["word"])
    with pytest.raises(DataError, match="Cannot read"):
        read_columns(tmp_path / "absent.txt")
    (tmp_path / "latin1.txt").write_bytes("Zürich\tB-LOC\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_columns(tmp_path / "latin1.txt")
    with pytest.raises(DataError, match="iob2, iob1"):
        read_conll2003([], scheme="bio")


def test_label_vocabulary_and_labels_unseen_in_training():
    train = read_conll2003(CONLL.splitlines())
    vocabulary = label_vocabulary(train)
    assert vocabulary == ["O", "B-LOC", "B-MISC", "B-ORG", "B-PER",
                          "I-LOC", "I-MISC", "I-ORG", "I-PER"]
    assert label_vocabulary(read_columns(["a\tNOUN", "b\tADJ"])) == ["ADJ", "NOUN"]
    dev = read_columns(["a\tB-DATE", "b\tI-DATE", "c\tB-DATE", "d\tO"])
    with pytest.raises(DataError, match=r"dev.txt has labels .*: B-DATE \(2x\), I-DATE \(1x\)"):
        check_labels(dev, vocabulary, name="dev.txt")
    check_labels(train, vocabulary)
