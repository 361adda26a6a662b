"""Files shipped inside the installed corpusmill package (the language-ID model, the classifiers, the
tokenizer), named so that a pickled reference finds them wherever it is unpickled: a Beam graph built
on one machine runs on workers where corpusmill is installed under another prefix (a Dataflow or Flink
worker container), so an absolute path taken on the launching machine would not exist there."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PREFIX = "corpusmill.core:"  # then the path relative to the installed corpusmill.core package


def _core() -> Path:
    return Path(str(resources.files("corpusmill.core")))


def portable(path: str) -> str:
    """`path` as PREFIX + relative path when it lies inside the installed package, else unchanged."""
    try:
        return PREFIX + Path(path).resolve().relative_to(_core().resolve()).as_posix()
    except (ValueError, OSError):
        return path


def local(path: str) -> str:
    """The file on this machine of a `portable` name (any other path unchanged)."""
    return str(_core() / path.removeprefix(PREFIX)) if path.startswith(PREFIX) else path
