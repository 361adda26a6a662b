"""The built wheel installs one import name, `corpusmill`, and its console script runs from a fresh
virtual environment, far from the checkout (so nothing is imported from the repository folders)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE_FOLDERS = ("schemas", "core", "filters", "synth", "pipelines")
DATA = ROOT / "tests" / "data"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # A copy of what the wheel is built from, so setuptools' build/ folder never lands in the checkout
    # (where files of modules since removed would linger and be packaged again).
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for folder in PACKAGE_FOLDERS:
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    # No build isolation: the test extra installs the setuptools the build needs, so nothing is fetched.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(dist), str(source)], check=True, cwd=dist)
    (built,) = dist.glob("corpusmill-*.whl")
    return built


def test_wheel_has_one_top_level_name_and_every_module(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"corpusmill", f"{wheel.name.split('-py3')[0]}.dist-info"}
    in_wheel = {n for n in names if n.endswith(".py")}
    in_repo = {f"corpusmill/{p.relative_to(ROOT).as_posix()}"
               for folder in PACKAGE_FOLDERS for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts}
    assert in_repo - in_wheel == set(), "a subpackage is missing from [tool.setuptools] packages"
    assert "corpusmill/core/models/lid.176.ftz" in names
    for model in ("math", "code", "quality"):
        assert {f"corpusmill/core/models/classifiers/{model}/{f}" for f in ("model.ftz", "card.json")} <= set(names)
    assert "corpusmill/synth/templates/r1_v1.yaml" in names


def test_console_script_runs_from_the_wheel_in_a_fresh_venv(wheel, tmp_path):
    env_dir = tmp_path / "fresh"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, cwd=tmp_path)
    # The dependencies come from this test environment's site-packages, added as a plain path: its .pth
    # files (the editable install of the checkout among them) are not processed, so `corpusmill` can
    # only come from the wheel.
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                check=True, capture_output=True, text=True).stdout.strip()
    Path(fresh_site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    where = subprocess.run([str(python), "-c", "import corpusmill.filters as f; print(f.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path, env=env).stdout
    assert where.startswith(fresh_site), where

    script = env_dir / "bin" / "corpusmill"
    assert "curate" in subprocess.run([str(script), "--help"], check=True, capture_output=True, text=True,
                                      cwd=tmp_path, env=env).stdout
    out = tmp_path / "out"
    subprocess.run([str(script), "curate", "--config", str(ROOT / "configs" / "curate.yaml"), "--output", str(out),
                    "--input", str(DATA / "web" / "cc-main-2024-22_whirlwind.warc.wet.gz"),
                    "--direct_running_mode=in_memory", "--direct_num_workers=1"],
                   check=True, capture_output=True, cwd=tmp_path, env=env)
    report = json.loads((out / "report.json").read_text())
    assert report["accounting_ok"] and report["inputs"] == 1
