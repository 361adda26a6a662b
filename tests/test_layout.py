"""Architecture rules that keep the code easy to change, checked here rather than by review."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGE_FOLDERS = ("schemas", "core", "filters", "synth", "pipelines")


def test_import_layers_hold():
    # pyproject.toml [tool.importlinter]: the layers of DESIGN.md, Beam in pipelines only, stages independent
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and " 0 broken." in result.stdout


def test_readme_opens_with_the_two_commands():
    lines = [ln.strip() for ln in (ROOT / "README.md").read_text().splitlines() if ln.strip()]
    code = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert code == ["make demo", "make test"]


def test_readme_layout_names_every_package_folder():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^([a-z_/]+/)\s", section, flags=re.MULTILINE))
    folders = {f"{p.parent.relative_to(ROOT).as_posix()}/" for top in PACKAGE_FOLDERS
               for p in (ROOT / top).rglob("__init__.py")}
    assert folders - listed == set(), "README's layout section misses these folders"
    others = {"configs/", "tests/", "bench/", "deploy/", "examples/"}
    assert listed - folders - others == set(), "README lists folders that do not exist"
