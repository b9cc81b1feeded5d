"""Google-layout checkpoint export: every name, shape and value of a real
Google-layout checkpoint written back, and read back bit for bit; and the
pretrainer's Hugging Face export against transformers."""

import json
import pathlib

import numpy as np
import pytest

from bert_keras.errors import ExportError
from bert_keras.export import to_google_checkpoint, to_huggingface
from bert_keras.models import BertBackbone, BertClassifier, BertPretrainer
from bert_keras.tokenizers import BertTokenizer

REFERENCE = pathlib.Path(__file__).resolve().parents[3] / "shared" / "reference" / "pretraining"
CHECKPOINT = REFERENCE / "checkpoint_L2_H32_A2"
pytestmark = pytest.mark.skipif(
    not CHECKPOINT.is_dir(),
    reason="../shared/reference/pretraining (a Google-layout checkpoint) is not present",
)


def batch():
    rng = np.random.default_rng(0)
    return {
        "token_ids": rng.integers(0, 30522, (2, 10)).astype("int32"),
        "segment_ids": np.array([[0] * 5 + [1] * 5] * 2, "int32"),
        "padding_mask": np.array([[1] * 10, [1] * 7 + [0] * 3], "int32"),
        "masked_lm_positions": np.array([[1, 2, 3], [4, 5, 6]], "int32"),
    }


@pytest.mark.tensorflow_only
def test_a_google_checkpoint_is_written_back_name_for_name_and_bit_for_bit(tmp_path):
    import tensorflow as tf

    pretrainer = BertPretrainer.from_preset(str(CHECKPOINT))
    folder = to_google_checkpoint(pretrainer, tmp_path / "export", CHECKPOINT / "vocab.txt")
    original = tf.train.load_checkpoint(str(CHECKPOINT / "bert_model.ckpt"))
    written = tf.train.load_checkpoint(str(folder / "bert_model.ckpt"))
    # Every name, shape and dtype the original modeling.py and
    # run_pretraining.py create, and no other.
    assert written.get_variable_to_shape_map() == original.get_variable_to_shape_map()
    assert written.get_variable_to_dtype_map() == original.get_variable_to_dtype_map()
    for name in original.get_variable_to_shape_map():
        if name != "global_step":
            np.testing.assert_array_equal(written.get_tensor(name), original.get_tensor(name))
    assert written.get_tensor("global_step") == 0
    assert json.loads((folder / "bert_config.json").read_text()) == \
        json.loads((CHECKPOINT / "bert_config.json").read_text())
    assert (folder / "vocab.txt").read_text() == (CHECKPOINT / "vocab.txt").read_text()
    reloaded = BertPretrainer.from_preset(str(folder))
    x = batch()
    for key, value in pretrainer.predict_on_batch(x).items():
        np.testing.assert_array_equal(reloaded.predict_on_batch(x)[key], value)


def test_a_classifier_gets_run_classifier_names_and_bad_vocabularies_are_refused(tmp_path):
    import tensorflow as tf

    classifier = BertClassifier(BertBackbone.from_preset(str(CHECKPOINT)), num_classes=3)
    folder = to_google_checkpoint(classifier, tmp_path / "classifier", CHECKPOINT / "vocab.txt")
    reader = tf.train.load_checkpoint(str(folder / "bert_model.ckpt"))
    assert reader.get_variable_to_shape_map()["output_weights"] == [3, 32]
    assert not any(name.startswith("cls/") for name in reader.get_variable_to_shape_map())
    with pytest.raises(ExportError, match="10 tokens but the model's vocabulary_size is 30522"):
        to_google_checkpoint(classifier, tmp_path / "bad", [f"t{i}" for i in range(10)])
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("nsp", [True, False])
def test_a_pretrainer_exports_as_transformers_pretraining_models(tmp_path, nsp):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    pretrainer = BertPretrainer.from_preset(str(CHECKPOINT), nsp=nsp)
    folder = to_huggingface(pretrainer, tmp_path / "hf", tokenizer=BertTokenizer.from_preset(
        str(CHECKPOINT)))
    kind = transformers.BertForPreTraining if nsp else transformers.BertForMaskedLM
    assert json.loads((folder / "config.json").read_text())["architectures"] == [kind.__name__]
    model, info = kind.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    x = batch()
    with torch.no_grad():
        out = model.eval()(
            input_ids=torch.tensor(x["token_ids"]).long(),
            token_type_ids=torch.tensor(x["segment_ids"]).long(),
            attention_mask=torch.tensor(x["padding_mask"]).long(),
        )
    ours = pretrainer.predict_on_batch(x)
    logits = (out.prediction_logits if nsp else out.logits).numpy()
    gathered = np.take_along_axis(logits, x["masked_lm_positions"][:, :, None], axis=1)
    np.testing.assert_allclose(ours["masked_lm"], gathered, atol=1e-4, rtol=0)
    if nsp:
        np.testing.assert_allclose(ours["next_sentence"], out.seq_relationship_logits.numpy(),
                                   atol=1e-4, rtol=0)
    # And back: the heads load from the exported folder.
    assert BertPretrainer.from_preset(str(folder), nsp=nsp).heads_source == "checkpoint"
