import keras
import numpy as np
import pytest
import tensorflow as tf

from bert_keras.errors import DataError
from bert_keras.preprocessing import BertPreprocessor
from bert_keras.tokenizers import BertTokenizer

VOCABULARY = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",  # 0-4
    "the", "quick", "brown", "fox", "jumped",  # 5-9
    "over", "lazy", "dog", ".", ",",  # 10-14
    "un", "##aff", "##able", "is", "not",  # 15-19
]  # fmt: skip
PAD, CLS, SEP = 0, 2, 3
WORD_IDS = {word: index for index, word in enumerate(VOCABULARY)}
# Each word is one token; four distinct words per sentence tell a kept prefix
# from a kept suffix.
WORDS_A = ["the", "quick", "brown", "fox"]
WORDS_B = ["jumped", "over", "lazy", "dog"]
MAX_GRID_LENGTH = 40


def truncate_seq_pair(tokens_a, tokens_b, max_length):
    """Google's `run_classifier._truncate_seq_pair`, line for line."""
    while True:
        total_length = len(tokens_a) + len(tokens_b)
        if total_length <= max_length:
            break
        if len(tokens_a) > len(tokens_b):
            tokens_a.pop()
        else:
            tokens_b.pop()


def reference_pack(ids_a, ids_b, sequence_length):
    """Packing of Google's `convert_single_example`, on token ids."""
    ids_a, ids_b = list(ids_a), None if ids_b is None else list(ids_b)
    # `if tokens_b:` as in the original: a second sentence without tokens
    # packs like a single sentence.
    if ids_b:
        truncate_seq_pair(ids_a, ids_b, sequence_length - 3)
    else:
        ids_a = ids_a[0 : sequence_length - 2]
    token_ids = [CLS] + ids_a + [SEP]
    segment_ids = [0] * len(token_ids)
    if ids_b:
        token_ids += ids_b + [SEP]
        segment_ids += [1] * (len(ids_b) + 1)
    padding = sequence_length - len(token_ids)
    return {
        "token_ids": token_ids + [PAD] * padding,
        "segment_ids": segment_ids + [0] * padding,
        "padding_mask": [1] * len(token_ids) + [0] * padding,
    }


def reference_batch(pairs, sequence_length):
    packed = [reference_pack(a, b, sequence_length) for a, b in pairs]
    return {
        key: np.array([example[key] for example in packed], "int32")
        for key in ("token_ids", "segment_ids", "padding_mask")
    }


def sentence(words, length):
    return " ".join(words[i % len(words)] for i in range(length))


def word_ids(words, length):
    return [WORD_IDS[words[i % len(words)]] for i in range(length)]


def assert_outputs_equal(outputs, expected):
    assert set(outputs) == {"token_ids", "segment_ids", "padding_mask"}
    for key, value in expected.items():
        value = np.asarray(value, "int32")
        assert outputs[key].dtype == "int32", key
        np.testing.assert_array_equal(np.asarray(outputs[key]), value, key)


@pytest.fixture(scope="module")
def tokenizer():
    return BertTokenizer(VOCABULARY)


def test_single_sentences(tokenizer):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=8)
    outputs = preprocessor(["The quick fox.", "The fox jumped.", ""])
    assert_outputs_equal(
        outputs,
        {
            "token_ids": [
                [2, 5, 6, 8, 13, 3, 0, 0],
                [2, 5, 8, 9, 13, 3, 0, 0],
                [2, 3, 0, 0, 0, 0, 0, 0],
            ],
            "segment_ids": np.zeros((3, 8)),
            "padding_mask": [
                [1, 1, 1, 1, 1, 1, 0, 0],
                [1, 1, 1, 1, 1, 1, 0, 0],
                [1, 1, 0, 0, 0, 0, 0, 0],
            ],
        },
    )


def test_single_sentence_truncation_keeps_the_head(tokenizer):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=5)
    outputs = preprocessor(["The quick brown fox jumped.", "the dog"])
    assert_outputs_equal(
        outputs,
        {
            "token_ids": [[2, 5, 6, 7, 3], [2, 5, 12, 3, 0]],
            "segment_ids": np.zeros((2, 5)),
            "padding_mask": [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]],
        },
    )


def test_sentence_pairs(tokenizer):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=10)
    outputs = preprocessor(
        (["The fox.", "Unaffable", "the dog"], ["The dog.", "is not", ""])
    )
    assert_outputs_equal(
        outputs,
        {
            "token_ids": [
                [2, 5, 8, 13, 3, 5, 12, 13, 3, 0],
                [2, 15, 16, 17, 3, 18, 19, 3, 0, 0],
                # An empty second sentence packs like a single one.
                [2, 5, 12, 3, 0, 0, 0, 0, 0, 0],
            ],
            "segment_ids": [
                [0, 0, 0, 0, 0, 1, 1, 1, 1, 0],
                [0, 0, 0, 0, 0, 1, 1, 1, 0, 0],
                [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ],
            "padding_mask": [
                [1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
                [1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
                [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
            ],
        },
    )


def test_pair_truncation_pops_the_longer_sentence(tokenizer):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=8)
    # 4 + 5 tokens into 5 pop from b (longer), b (tie), a (longer), b (tie).
    outputs = preprocessor(("The quick fox.", "The brown fox jumped."))
    assert_outputs_equal(
        outputs,
        {
            "token_ids": [2, 5, 6, 8, 3, 5, 7, 3],
            "segment_ids": [0, 0, 0, 0, 0, 1, 1, 1],
            "padding_mask": [1, 1, 1, 1, 1, 1, 1, 1],
        },
    )


def test_unbatched_and_dict_inputs(tokenizer):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=6)
    single = {
        "token_ids": [2, 5, 12, 3, 0, 0],
        "segment_ids": [0, 0, 0, 0, 0, 0],
        "padding_mask": [1, 1, 1, 1, 0, 0],
    }
    pair = {
        "token_ids": [2, 5, 12, 3, 8, 3],
        "segment_ids": [0, 0, 0, 0, 1, 1],
        "padding_mask": [1, 1, 1, 1, 1, 1],
    }
    assert_outputs_equal(preprocessor("the dog"), single)
    assert_outputs_equal(preprocessor(tf.constant("the dog")), single)
    assert_outputs_equal(preprocessor({"text_a": "the dog"}), single)
    assert_outputs_equal(preprocessor(("the dog", "fox")), pair)
    assert_outputs_equal(
        preprocessor({"text_a": "the dog", "text_b": "fox"}), pair
    )
    batched = preprocessor(
        (np.array(["the dog", "the dog"]), tf.constant([b"fox", b"fox"]))
    )
    assert_outputs_equal(
        batched, {key: [value] * 2 for key, value in pair.items()}
    )


@pytest.mark.parametrize("sequence_length", [3, 4, 5, 8, 17, 32, 45, 83])
def test_truncation_matches_original_on_a_grid(tokenizer, sequence_length):
    lengths = [
        (length_a, length_b)
        for length_a in range(MAX_GRID_LENGTH + 1)
        for length_b in range(MAX_GRID_LENGTH + 1)
    ]
    preprocessor = BertPreprocessor(tokenizer, sequence_length=sequence_length)

    outputs = preprocessor(
        (
            [sentence(WORDS_A, length_a) for length_a, _ in lengths],
            [sentence(WORDS_B, length_b) for _, length_b in lengths],
        )
    )
    expected = reference_batch(
        [(word_ids(WORDS_A, a), word_ids(WORDS_B, b)) for a, b in lengths],
        sequence_length,
    )
    assert_outputs_equal(outputs, expected)

    singles = range(MAX_GRID_LENGTH + 1)
    outputs = preprocessor([sentence(WORDS_A, length) for length in singles])
    expected = reference_batch(
        [(word_ids(WORDS_A, length), None) for length in singles],
        sequence_length,
    )
    assert_outputs_equal(outputs, expected)


def test_truncated_pair_lengths_matches_original_loop():
    lengths = np.arange(61, dtype="int64")
    length_a, length_b = (x.ravel() for x in np.meshgrid(lengths, lengths))
    for max_length in range(0, 125):
        keep_a, keep_b = BertPreprocessor._truncated_pair_lengths(
            tf.constant(length_a), tf.constant(length_b), max_length
        )
        expected = []
        for a, b in zip(length_a, length_b):
            tokens_a, tokens_b = [0] * a, [0] * b
            truncate_seq_pair(tokens_a, tokens_b, max_length)
            expected.append((len(tokens_a), len(tokens_b)))
        np.testing.assert_array_equal(
            np.stack([keep_a, keep_b], axis=1), expected
        )


@pytest.mark.parametrize("sequence_length", [3, 6, 9, 12, 64])
def test_truncation_matches_original_on_real_pairs(tokenizer, sequence_length):
    text_a = [
        "The quick brown fox jumped over the lazy dog.",
        "Unaffable, unaffable, the fox is not.",
        "",
        "dog",
        "The lazy dog is not quick, the quick fox is not lazy.",
    ]
    text_b = [
        "The dog is not unaffable.",
        "",
        "The quick fox jumped over the lazy, lazy dog.",
        "the fox is not the dog",
        "Over.",
    ]
    preprocessor = BertPreprocessor(tokenizer, sequence_length=sequence_length)
    ids_a = tokenizer.tokenize(tf.constant(text_a)).to_list()
    ids_b = tokenizer.tokenize(tf.constant(text_b)).to_list()
    assert_outputs_equal(
        preprocessor((text_a, text_b)),
        reference_batch(list(zip(ids_a, ids_b)), sequence_length),
    )
    assert_outputs_equal(
        preprocessor(text_a),
        reference_batch([(ids, None) for ids in ids_a], sequence_length),
    )


def test_output_types(tokenizer):
    outputs = BertPreprocessor(tokenizer, sequence_length=6)(["the dog"])
    expected_type = (
        tf.Tensor if keras.backend.backend() == "tensorflow" else np.ndarray
    )
    for value in outputs.values():
        assert isinstance(value, expected_type)
        assert tuple(value.shape) == (1, 6)


def test_tf_data_map(tokenizer):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=7)
    text_a = ["The quick fox.", "the dog", "Unaffable fox jumped over."]
    text_b = ["the dog", "", "The lazy dog."]

    pairs = tf.data.Dataset.from_tensor_slices((text_a, text_b)).batch(2)
    pairs = pairs.map(lambda a, b: preprocessor({"text_a": a, "text_b": b}))
    for spec in pairs.element_spec.values():
        assert spec.shape.as_list() == [None, 7]
        assert spec.dtype == tf.int32
    outputs = {
        key: np.concatenate([batch[key].numpy() for batch in pairs])
        for key in ("token_ids", "segment_ids", "padding_mask")
    }
    assert_outputs_equal(outputs, preprocessor((text_a, text_b)))

    singles = tf.data.Dataset.from_tensor_slices(text_a).map(preprocessor)
    for spec in singles.element_spec.values():
        assert spec.shape.as_list() == [7]
    for text, example in zip(text_a, singles):
        assert_outputs_equal(example, preprocessor(text))


def test_outputs_feed_a_keras_model(tokenizer):
    inputs = {
        name: keras.Input(shape=(None,), dtype="int32", name=name)
        for name in ("token_ids", "segment_ids", "padding_mask")
    }
    embedded = keras.layers.Embedding(len(VOCABULARY), 4)(inputs["token_ids"])
    weights = inputs["padding_mask"] + inputs["segment_ids"]
    weights = keras.ops.cast(weights, "float32")[:, :, None]
    model = keras.Model(inputs, keras.ops.sum(embedded * weights, axis=1))
    preprocessor = BertPreprocessor(tokenizer, sequence_length=8)
    features = preprocessor((["The quick fox.", "the dog"], ["fox", "dog"]))

    assert tuple(model(features).shape) == (2, 4)
    assert model.predict(features, verbose=0).shape == (2, 4)


def test_serialization_round_trip(tokenizer):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=9, name="pre")
    config = preprocessor.get_config()
    assert config["sequence_length"] == 9
    assert config["tokenizer"]["config"]["vocabulary"] == VOCABULARY

    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(preprocessor)
    )
    assert isinstance(restored, BertPreprocessor)
    assert isinstance(restored.tokenizer, BertTokenizer)
    assert restored.name == "pre"
    assert restored.get_config() == config
    inputs = (["The quick fox.", "Unaffable"], ["the lazy dog", "is not"])
    assert_outputs_equal(restored(inputs), preprocessor(inputs))

    from_config = BertPreprocessor.from_config(config)
    assert_outputs_equal(from_config(inputs), preprocessor(inputs))


def test_from_preset_uses_the_preset_tokenizer(tokenizer, monkeypatch):
    from bert_keras.presets import loader

    requested = []

    def load_tokenizer(preset):
        requested.append(preset)
        return tokenizer

    monkeypatch.setattr(loader, "load_tokenizer", load_tokenizer)
    preprocessor = BertPreprocessor.from_preset("some_preset", name="pre")
    assert requested == ["some_preset"]
    assert preprocessor.tokenizer is tokenizer
    assert preprocessor.sequence_length == 512
    assert preprocessor.name == "pre"
    assert BertPreprocessor.from_preset("x", 16).sequence_length == 16


@pytest.mark.parametrize("sequence_length", [2, 0, -5, 8.0, "8", True, None])
def test_invalid_sequence_length(tokenizer, sequence_length):
    with pytest.raises(ValueError, match="sequence_length"):
        BertPreprocessor(tokenizer, sequence_length=sequence_length)


@pytest.mark.parametrize(
    "inputs, message",
    [
        (3, "Accepted inputs"),
        ([1, 2], "Accepted inputs"),
        (np.array([1, 2]), "Accepted inputs"),
        (None, "Accepted inputs"),
        (tf.ragged.constant([["a"], ["b", "c"]]), "Accepted inputs"),
        ([["the dog"]], "1 items, not 2"),
        (("a", "b", "c"), "pair"),
        (("a",), "pair"),
        ({"text_b": "a"}, "text_a"),
        ({"text_a": "a", "label": 1}, "text_a"),
        (("the dog", ["the", "dog"]), "one second text per first text; got 1 and 2"),
        ((["the", "dog"], ["the", "dog", "fox"]), "one second text per first text; got 2 and 3"),
    ],
)
def test_invalid_inputs(tokenizer, inputs, message):
    preprocessor = BertPreprocessor(tokenizer, sequence_length=8)
    with pytest.raises(DataError, match=message):
        preprocessor(inputs)
