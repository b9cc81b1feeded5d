"""The wheel carries the preset registry and the console script."""

import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

# Builds a wheel; no model, so one backend suffices.
pytestmark = pytest.mark.backend_independent

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_ships_registry_data_and_console_script(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    # A pristine copy: an in-tree build/ or egg-info would hide a file the
    # packaging rules no longer include.
    source = tmp_path / "source"
    shutil.copytree(
        REPO_ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__"),
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
            "--no-index", "--quiet", "--wheel-dir", str(wheels), str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("bert_keras-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    shipped = {n.rsplit("/", 1)[-1] for n in names if n.startswith("bert_keras/preset_data/")}
    expected = {p.name for p in (REPO_ROOT / "presets").glob("*.json")}
    assert expected and shipped == expected
    assert "bert-keras = bert_keras.cli.main:main" in scripts
    assert not any(n.startswith("tests/") for n in names)
