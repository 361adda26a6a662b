"""Architecture rules that keep the code easy to change."""

from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_core_packages_never_import_beam():
    offenders = []
    for package in ("filters", "synth", "schemas"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "apache_beam" in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_readme_opens_with_the_two_commands():
    lines = [ln.strip() for ln in (ROOT / "README.md").read_text().splitlines() if ln.strip()]
    code = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert code == ["make demo", "make test"]
