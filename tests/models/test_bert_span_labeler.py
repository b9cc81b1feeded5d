"""BertSpanLabeler: the original loss, padding that changes nothing, a span
rule learnt from scratch, serialization, presets."""

import keras
import numpy as np
import pytest

from bert_keras.models import BertBackbone, BertSpanLabeler
from tests.conftest import TINY

VOCABULARY_SIZE = 24
# The answer runs from the opening marker to the closing one.
OPEN, CLOSE = 5, 6


def make_labeler(seed=0, **overrides):
    keras.utils.set_random_seed(seed)
    config = dict(
        vocabulary_size=VOCABULARY_SIZE, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )
    config.update(overrides)
    return BertSpanLabeler(BertBackbone(**config))


def span_data(count, length=16, seed=0):
    """`[CLS] q [SEP] context [SEP] pad` with one marked span in the context."""
    rng = np.random.default_rng(seed)
    token_ids = np.zeros((count, length), "int32")
    segment_ids = np.zeros((count, length), "int32")
    padding_mask = np.zeros((count, length), "int32")
    starts, ends = np.zeros(count, "int32"), np.zeros(count, "int32")
    for i in range(count):
        real = rng.integers(10, length + 1)
        context = rng.integers(7, VOCABULARY_SIZE, real - 4)
        start = rng.integers(0, len(context) - 1)
        end = rng.integers(start + 1, min(start + 4, len(context)))
        context[start], context[end] = OPEN, CLOSE
        token_ids[i, :real] = [2, 7, 3, *context, 3]
        segment_ids[i, 3:real] = 1
        padding_mask[i, :real] = 1
        starts[i], ends[i] = start + 3, end + 3
    features = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    return features, {"start_logits": starts, "end_logits": ends}


def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_outputs_and_padding():
    labeler = make_labeler()
    features, _ = span_data(4)
    outputs = labeler.predict(features, verbose=0)
    assert set(outputs) == {"start_logits", "end_logits"}
    mask = features["padding_mask"].astype(bool)
    for logits in outputs.values():
        assert logits.shape == (4, 16) and logits.dtype == "float32"
        assert np.all(logits[~mask] == -1e9)
    # Eight more padding positions change no real logit.
    padded = {key: np.pad(value, ((0, 0), (0, 8))) for key, value in features.items()}
    more = labeler.predict(padded, verbose=0)
    for key in outputs:
        np.testing.assert_allclose(more[key][:, :16][mask], outputs[key][mask], atol=1e-6)


def test_default_loss_is_the_original_average():
    labeler = make_labeler()
    features, labels = span_data(6)
    outputs = labeler.predict(features, verbose=0)
    # run_squad.py: mean over the batch of -log p(start), same for the end,
    # then their average.
    expected = np.mean(
        [
            -np.mean(log_softmax(outputs[key].astype("float64"))[np.arange(6), labels[key]])
            for key in ("start_logits", "end_logits")
        ]
    )
    result = labeler.evaluate(features, labels, batch_size=6, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], expected, rtol=1e-5)


def test_learns_a_span_rule():
    labeler = make_labeler(hidden_dim=32, intermediate_dim=64, num_heads=4)
    features, labels = span_data(256)
    labeler.compile(learning_rate=3e-3)
    labeler.fit(features, labels, batch_size=16, epochs=12, verbose=0)
    test_features, test_labels = span_data(64, seed=1)
    outputs = labeler.predict(test_features, verbose=0)
    for key in outputs:
        accuracy = np.mean(outputs[key].argmax(-1) == test_labels[key])
        assert accuracy > 0.9, (key, accuracy)


def test_keras_file_round_trip(tmp_path):
    labeler = make_labeler()
    features, _ = span_data(3)
    path = tmp_path / "labeler.keras"
    labeler.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, BertSpanLabeler)
    expected = labeler.predict(features, verbose=0)
    for key, value in restored.predict(features, verbose=0).items():
        np.testing.assert_array_equal(value, expected[key])


def test_config_lists_the_constructor_arguments():
    labeler = make_labeler()
    config = labeler.get_config()
    assert set(config) == {"backbone", "preprocessor", "name"}
    clone = BertSpanLabeler.from_config(config)
    assert clone.backbone.num_layers == 1


@pytest.mark.slow
def test_from_preset_loads_the_pretrained_backbone(served):
    _, config, _ = served
    labeler = BertSpanLabeler.from_preset(TINY, sequence_length=64, doc_stride=16, max_query_length=16)
    assert labeler.backbone.hidden_dim == config["hidden_size"]
    assert labeler.preprocessor.sequence_length == 64 and labeler.preprocessor.doc_stride == 16
    assert labeler.preprocessor.tokenizer.lowercase
    reference = BertBackbone.from_preset(TINY)
    for ours, theirs in zip(labeler.backbone.weights, reference.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs))


def test_raw_text_predict_windows_and_decodes():
    from bert_keras.errors import DataError
    from bert_keras.preprocessing import BertSpanPreprocessor
    from bert_keras.tokenizers import BertTokenizer
    from tests.checkpoints import synthetic_vocabulary

    vocabulary = synthetic_vocabulary(VOCABULARY_SIZE)
    preprocessor = BertSpanPreprocessor(
        BertTokenizer(vocabulary), sequence_length=16, doc_stride=4, max_query_length=4
    )
    labeler = make_labeler()
    labeler.preprocessor = preprocessor
    questions = ["where is the cat ?", "who sat", "the mat"]
    contexts = ["the cat sat on the mat . the dog sat on the cat !", "", "a b c"]
    answers = labeler.predict((questions, contexts), batch_size=2)
    assert answers["answer"].tolist()[1] == ""
    # The same as windowing, predicting and decoding by hand.
    inputs, windows = preprocessor((questions, contexts))
    logits = labeler.predict(inputs, verbose=0)
    expected = preprocessor.decode(
        windows, logits["start_logits"], logits["end_logits"], contexts
    )
    assert answers["answer"].tolist() == [a.decode() for a in expected["answer"].numpy()]
    np.testing.assert_array_equal(answers["answer_start"], expected["answer_start"].numpy())
    np.testing.assert_allclose(answers["score"], expected["score"].numpy(), atol=1e-5)
    with pytest.raises(DataError, match="SQuAD features"):
        labeler.fit((questions, contexts), epochs=1)
