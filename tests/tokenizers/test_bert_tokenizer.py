"""Tests of `BertTokenizer` against the original BERT tokenization."""

import json
import subprocess
import sys
import textwrap
import unicodedata
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_keras.tokenizers import BertTokenizer
from bert_keras.tokenizers import bert_tokenizer

REFERENCE_DIR = (
    Path(__file__).resolve().parents[2].parent / "shared" / "reference"
)
TOKENIZATION_DIR = REFERENCE_DIR / "tokenization"

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = SPECIALS + [
    "the", "quick", "brown", "fox", "run", "##ning", "##s", "jump", "##ed",
    "cafe", "Café", "hello", "world", ",", "!", "$", "`", ".", "'", "中",
    "文", "a", "##a", "οδος", "σα", "i", "##stanbul", "b", "##c",
]


def ids(tokenizer, text):
    return tokenizer(text).numpy().tolist()


def pieces(tokenizer, text):
    result = tokenizer.tokenize_to_strings(text).numpy().tolist()
    return [p.decode("utf-8") for p in result]


@pytest.fixture(scope="module")
def uncased():
    return BertTokenizer(VOCAB, lowercase=True)


@pytest.fixture(scope="module")
def cased():
    return BertTokenizer(VOCAB, lowercase=False)


# Reference corpus ----------------------------------------------------------


@pytest.fixture(scope="module")
def reference_cases():
    if not TOKENIZATION_DIR.is_dir():
        pytest.skip(f"reference data not found at {TOKENIZATION_DIR}")
    with open(TOKENIZATION_DIR / "cases.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("casing", ["uncased", "cased"])
def test_matches_original_full_tokenizer(reference_cases, casing):
    tokenizer = BertTokenizer(
        TOKENIZATION_DIR / "vocab_uncased.txt", lowercase=casing == "uncased"
    )
    assert tokenizer.vocabulary_size() == 30522
    texts = [case["text"] for case in reference_cases]
    got = tokenizer.tokenize_to_strings(texts).to_list()
    differences = []
    for i, (case, row) in enumerate(zip(reference_cases, got)):
        row = [p.decode("utf-8") for p in row]
        if row != case[casing]:
            differences.append(
                f"line {i + 1}: text={case['text']!r}\n"
                f"  expected={case[casing]}\n  got     ={row}"
            )
    assert not differences, (
        f"{len(differences)} of {len(texts)} lines differ; first ones:\n"
        + "\n".join(differences[:5])
    )

    ids_, starts, ends = tokenizer.tokenize_with_offsets(texts)
    assert ids_.to_list() == tokenizer(texts).to_list()
    for text, row_starts, row_ends in zip(
        texts, starts.to_list(), ends.to_list()
    ):
        for start, end in zip(row_starts, row_ends):
            assert 0 <= start < end <= len(text)


# Fast path -----------------------------------------------------------------
# A batch without contextual characters (capital sigma, multi-character
# expansions such as Hangul syllables, surviving combining marks) is
# tokenized with the per-character table alone; other batches take every
# step of the original. Both must give the same result.

CONTEXTUAL_ROWS = ["ΟΔΟΣ", "한국", "a\U0001d16d\U0001d165b"]


def assert_same_as_row_by_row(tokenizer, texts):
    batch = [x.to_list() for x in tokenizer.tokenize_with_offsets(texts)]
    assert tokenizer(texts).to_list() == batch[0]
    for i, text in enumerate(texts):
        alone = tokenizer.tokenize_with_offsets(text)
        assert [x.numpy().tolist() for x in alone] == [x[i] for x in batch]


@pytest.mark.parametrize("casing", ["uncased", "cased"])
def test_mixed_batch_matches_row_by_row(casing, request):
    tokenizer = request.getfixturevalue(casing)
    ascii_rows = ["The quick, brown fox!", "", "  jumped\x07 ", "runs$`a"]
    other_rows = ["Café 中文 fox", "cafe\u0301 \u00bfb", "\U0001f600x \U00020000"]
    assert_same_as_row_by_row(tokenizer, ascii_rows + other_rows)
    assert_same_as_row_by_row(
        tokenizer, ascii_rows + CONTEXTUAL_ROWS + other_rows
    )


def test_all_ascii_batch(uncased, cased):
    # Control characters vanish without splitting words ("fo\x00x").
    texts = ["Hello,\x07WORLD!\tThe fo\x00x's $5", "\x1fQUICK\r\nbrown\x7f"]
    assert uncased.tokenize_to_strings(texts).to_list() == [
        [b"hello", b",", b"world", b"!", b"the", b"fox", b"'", b"[UNK]",
         b"$", b"[UNK]"],
        [b"quick", b"brown"],
    ]
    assert cased.tokenize_to_strings(texts).to_list() == [
        [b"[UNK]", b",", b"[UNK]", b"!", b"[UNK]", b"fox", b"'", b"[UNK]",
         b"$", b"[UNK]"],
        [b"[UNK]", b"brown"],
    ]
    _, starts, ends = uncased.tokenize_with_offsets(texts)
    assert starts.to_list() == [[0, 5, 7, 12, 14, 18, 22, 23, 25, 26], [1, 8]]
    assert ends.to_list() == [[5, 6, 12, 13, 17, 22, 23, 24, 26, 27], [6, 13]]


def test_characters_beyond_the_basic_multilingual_plane():
    uncased = BertTokenizer(VOCAB + ["\U00010428"], lowercase=True)
    cased = BertTokenizer(VOCAB + ["\U00010428"], lowercase=False)
    # A Deseret capital lowercases; a tag character (Cf) vanishes.
    text = "\U00010400 fo\U000e0001x \U0001f600"
    assert pieces(uncased, text) == ["\U00010428", "fox", "[UNK]"]
    assert pieces(cased, text) == ["[UNK]", "fox", "[UNK]"]


def test_fast_path_matches_full_pipeline_on_every_code_point(uncased):
    """Every code point the fast path handles, in a few contexts, gives the
    same tokens and offsets as with all the steps of the original (forced by
    a contextual row in the batch)."""
    tables = bert_tokenizer._unicode_tables()
    block_index = tables["direct_uncased_block_index"]
    blocks = tables["direct_uncased_blocks"].reshape(-1, 256)
    direct = blocks[block_index].reshape(-1)
    simple = [
        chr(cp)
        for cp in np.flatnonzero(direct != bert_tokenizer._DIRECT_CONTEXTUAL)
        if not 0xD800 <= cp < 0xE000
    ]
    texts = []
    for i in range(0, len(simple), 32):
        group = simple[i : i + 32]
        texts.append(" ".join(f"A{c}b" for c in group) + " x" + "".join(group))
    fast = [x.to_list() for x in uncased.tokenize_with_offsets(texts)]
    full = [
        x.to_list()[:-1]
        for x in uncased.tokenize_with_offsets(texts + CONTEXTUAL_ROWS[:1])
    ]
    assert fast == full


# Basic behaviour -----------------------------------------------------------


def test_scalar_and_batch_shapes(uncased):
    scalar = uncased(tf.constant("The quick fox"))
    assert isinstance(scalar, tf.Tensor)
    assert scalar.dtype == tf.int32
    assert scalar.numpy().tolist() == [5, 6, 8]
    batch = uncased(["the fox", "", "  \t\n ", "brown"])
    assert isinstance(batch, tf.RaggedTensor)
    assert batch.dtype == tf.int32
    assert batch.to_list() == [[5, 8], [], [], [7]]
    assert uncased.tokenize(["the"]).to_list() == [[5]]
    nested = uncased(tf.constant([["the", "fox"], ["brown", ""]]))
    assert nested.to_list() == [[[5], [8]], [[7], []]]


def test_unknown_words_become_one_unk(uncased):
    assert pieces(uncased, "xyz") == ["[UNK]"]
    # "run" matches but "x" cannot follow it: the whole word is unknown.
    assert pieces(uncased, "runx fox") == ["[UNK]", "fox"]
    assert pieces(uncased, "running runs") == ["run", "##ning", "run", "##s"]


def test_word_length_limit(uncased):
    assert pieces(uncased, "a" * 200) == ["a"] + ["##a"] * 199
    assert pieces(uncased, "a" * 201) == ["[UNK]"]
    # The limit counts characters after accent stripping.
    assert pieces(uncased, "a\u0301" * 200) == ["a"] + ["##a"] * 199
    ids_, starts, ends = uncased.tokenize_with_offsets("fox " + "a" * 201)
    assert ids_.numpy().tolist() == [8, uncased.unk_token_id]
    assert starts.numpy().tolist() == [0, 4]
    assert ends.numpy().tolist() == [3, 205]


def test_punctuation_is_split(uncased):
    assert pieces(uncased, "hello,world!") == ["hello", ",", "world", "!"]
    # Every non-alphanumeric ASCII character counts, even symbols.
    assert pieces(uncased, "a$b`c") == ["a", "$", "b", "`", "[UNK]"]
    assert pieces(uncased, "fox's") == ["fox", "'", "[UNK]"]
    assert pieces(uncased, "a\u00bfb") == ["a", "[UNK]", "b"]  # Po


def test_cjk_characters_are_separate_words(uncased):
    assert pieces(uncased, "中文fox") == ["中", "文", "fox"]
    assert pieces(uncased, "fox中") == ["fox", "中"]
    # Hiragana is not in the original's CJK ranges: no split.
    assert pieces(uncased, "foxの") == ["[UNK]"]


def test_control_and_whitespace_characters(uncased):
    # Cc and Cf characters, NUL and U+FFFD vanish without splitting words.
    for char in ["\x00", "\x07", "\u200b", "\u00ad", "\ufffd"]:
        assert pieces(uncased, f"fo{char}x") == ["fox"], repr(char)
    # Unassigned and private-use code points are kept (and unknown).
    assert pieces(uncased, "fox\u0378") == ["[UNK]"]
    assert pieces(uncased, "fox\ue000") == ["[UNK]"]
    # Zs characters and the separators of Python's str.split() split words.
    for char in ["\t", "\n", "\r", "\u00a0", "\u3000", "\u2028", "\u2029"]:
        assert pieces(uncased, f"the{char}fox") == ["the", "fox"], repr(char)


def test_accents_cased_and_uncased(uncased, cased):
    assert pieces(uncased, "Café") == ["cafe"]
    assert pieces(uncased, "Cafe\u0301") == ["cafe"]
    assert pieces(cased, "Café") == ["Café"]
    assert pieces(cased, "cafe") == ["cafe"]
    assert pieces(cased, "The") == ["[UNK]"]
    assert uncased.lowercase is True
    assert cased.lowercase is False


def test_final_sigma_and_special_lowercasing(uncased):
    # Python's str.lower() turns a word-final capital sigma into "ς".
    assert pieces(uncased, "ΟΔΟΣ") == ["οδος"]
    assert pieces(uncased, "ΟΔΟΣ.") == ["οδος", "."]
    assert pieces(uncased, "ΣΑ") == ["σα"]
    # "İ" lowercases to "i" + U+0307, whose mark is then stripped.
    assert pieces(uncased, "İstanbul") == ["i", "##stanbul"]


def test_offsets_are_character_spans_of_the_original(uncased):
    text = "Héllo, wörld!\x00 running Café 中 ΟΔΟΣ a\u0301a"
    ids_, starts, ends = uncased.tokenize_with_offsets(text)
    assert starts.dtype == ends.dtype
    tokens = uncased.ids_to_tokens(ids_).numpy().tolist()
    spans = [
        (t.decode("utf-8"), text[s:e])
        for t, s, e in zip(tokens, starts.numpy(), ends.numpy())
    ]
    assert spans == [
        ("hello", "Héllo"),
        (",", ","),
        ("world", "wörld"),
        ("!", "!"),
        ("run", "run"),
        ("##ning", "ning"),
        ("cafe", "Café"),
        ("中", "中"),
        ("οδος", "ΟΔΟΣ"),
        ("a", "a"),
        ("##a", "a"),
    ]

    def normalize(s):
        s = "".join(c for c in s if unicodedata.category(c) not in ("Cc", "Cf"))
        s = unicodedata.normalize("NFD", s.lower())
        return "".join(c for c in s if unicodedata.category(c) != "Mn")

    for piece, original in spans:
        if piece != "[UNK]" and piece != "οδος":
            assert normalize(original) == piece.removeprefix("##")


def test_offsets_of_a_batch(uncased):
    ids_, starts, ends = uncased.tokenize_with_offsets(["the fox", "  quick"])
    assert isinstance(ids_, tf.RaggedTensor)
    assert starts.to_list() == [[0, 4], [2]]
    assert ends.to_list() == [[3, 7], [7]]


def test_ids_to_tokens_and_detokenize(uncased):
    tokens = uncased.ids_to_tokens([9, 10])
    assert tokens.numpy().tolist() == [b"run", b"##ning"]
    ragged = uncased.ids_to_tokens([[9, 10], [8]])
    assert ragged.to_list() == [[b"run", b"##ning"], [b"fox"]]
    assert uncased.ids_to_tokens(np.array([5])).numpy().tolist() == [b"the"]
    assert uncased.detokenize([5, 9, 10]).numpy() == b"the running"
    ids_ = uncased(["the running fox", "jumped"])
    assert uncased.detokenize(ids_).numpy().tolist() == [
        b"the running fox",
        b"jumped",
    ]
    with pytest.raises(ValueError, match="integers"):
        uncased.ids_to_tokens([0.5])
    with pytest.raises(ValueError, match="integers"):
        uncased.detokenize(tf.constant([1.0]))


def test_python_side_lookups(uncased):
    assert uncased.token_to_id("fox") == 8
    assert uncased.id_to_token(8) == "fox"
    with pytest.raises(ValueError, match="'dog' is not in the vocabulary"):
        uncased.token_to_id("dog")
    with pytest.raises(ValueError, match="out of the vocabulary range"):
        uncased.id_to_token(len(VOCAB))
    assert uncased.vocabulary_size() == len(VOCAB)
    assert uncased.get_vocabulary() == VOCAB


def test_special_token_ids(uncased):
    assert uncased.pad_token_id == 0
    assert uncased.unk_token_id == 1
    assert uncased.cls_token_id == 2
    assert uncased.sep_token_id == 3
    assert uncased.mask_token_id == 4


def test_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_bytes("\n".join(SPECIALS + ["fox ", "jump\r", "##ed"]).encode())
    tokenizer = BertTokenizer(str(path))
    assert tokenizer.get_vocabulary() == SPECIALS + ["fox", "jump", "##ed"]
    assert pieces(tokenizer, "Fox jumped") == ["fox", "jump", "##ed"]
    assert BertTokenizer(path).vocabulary_size() == 8


def test_vocabulary_errors(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        BertTokenizer([])
    with pytest.raises(ValueError, match="duplicate.*'fox'"):
        BertTokenizer(SPECIALS + ["fox", "the", "fox"])
    with pytest.raises(ValueError, match=r"\[CLS\], \[MASK\]"):
        BertTokenizer(["[PAD]", "[UNK]", "[SEP]", "fox"])
    with pytest.raises(ValueError, match="not found"):
        BertTokenizer(str(tmp_path / "missing.txt"))
    with pytest.raises(ValueError, match="only strings"):
        BertTokenizer(SPECIALS + [3])
    with pytest.raises(ValueError, match="path of a vocab.txt"):
        BertTokenizer(42)


def test_non_string_inputs_are_rejected(uncased):
    with pytest.raises(ValueError, match="expects a tf.string tensor"):
        uncased(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="expects strings"):
        uncased.tokenize(3.5)


def test_config_round_trip(uncased):
    config = uncased.get_config()
    assert config["vocabulary"] == VOCAB
    assert config["lowercase"] is True
    restored = BertTokenizer.from_config(config)
    assert restored.get_vocabulary() == VOCAB
    assert ids(restored, "The Café") == ids(uncased, "The Café")
    serialized = keras.layers.serialize(uncased)
    assert ids(keras.layers.deserialize(serialized), "fox") == [8]


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="symbolic string inputs need the TensorFlow backend",
)
def test_functional_model(uncased):
    inputs = keras.Input(shape=(), dtype="string")
    outputs = uncased(inputs)
    assert outputs.shape == (None, None)
    model = keras.Model(inputs, outputs)
    assert model(tf.constant(["the fox", "quick"])).to_list() == [[5, 8], [6]]


def test_no_weights(uncased):
    assert uncased.weights == []
    assert not uncased.trainable


def test_inside_dataset_map(uncased):
    texts = ["The quick fox", "jumped", "", "Café 中"]
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(3).map(uncased)
    batches = [batch.to_list() for batch in dataset]
    assert batches == [[[5, 6, 8], [12, 13], []], [[14, 24]]]
    dataset = tf.data.Dataset.from_tensor_slices(texts).map(
        uncased.tokenize_with_offsets
    )
    first_ids, first_starts, first_ends = next(iter(dataset))
    assert first_ids.numpy().tolist() == [5, 6, 8]
    assert first_starts.numpy().tolist() == [0, 4, 10]
    assert first_ends.numpy().tolist() == [3, 9, 13]


@pytest.mark.slow
def test_saved_model_loads_with_tensorflow_text_only(uncased, tmp_path):
    module = tf.Module()
    module.tokenize = tf.function(
        lambda x: uncased.tokenize(x).to_tensor(),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tf.saved_model.save(module, str(tmp_path))
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        import tensorflow_text  # registers the WordPiece op
        loaded = tf.saved_model.load({str(tmp_path)!r})
        # The sigma needs the full pipeline, the second batch the fast path.
        ids = loaded.tokenize(tf.constant(["The Café", "ΟΔΟΣ!"]))
        print(ids.numpy().tolist())
        ids = loaded.tokenize(tf.constant(["The Café", "fox!"]))
        print(ids.numpy().tolist())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-2:] == [
        "[[5, 14], [28, 19]]",
        "[[5, 14], [8, 19]]",
    ]
