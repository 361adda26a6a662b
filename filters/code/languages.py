"""Programming languages by file extension, and how each writes a line comment (to head a file with its
path in a repository-level sample). Extensions follow The Stack / GitHub linguist's common ones."""

from __future__ import annotations

import posixpath

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".ipynb": "jupyter", ".js": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".java": "java",
    ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".go": "go", ".rs": "rust", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".swift": "swift", ".m": "objective-c", ".mm": "objective-c", ".r": "r",
    ".jl": "julia", ".lua": "lua", ".pl": "perl", ".pm": "perl", ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".ps1": "powershell", ".sql": "sql", ".hs": "haskell", ".ml": "ocaml", ".mli": "ocaml", ".fs": "fsharp",
    ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".clj": "clojure", ".dart": "dart", ".vue": "vue",
    ".html": "html", ".htm": "html", ".css": "css", ".scss": "scss", ".md": "markdown", ".rst": "restructuredtext",
    ".tex": "tex", ".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".xml": "xml",
    ".csv": "csv", ".tsv": "tsv", ".ini": "ini", ".cfg": "ini", ".dockerfile": "dockerfile",
    ".cmake": "cmake", ".mk": "makefile",
}
FILENAMES = {"dockerfile": "dockerfile", "makefile": "makefile", "cmakelists.txt": "cmake"}
# Data and configuration rather than programs: kept only within DeepSeek-Coder's size window.
DATA_LANGUAGES = frozenset({"json", "yaml", "toml", "ini", "csv", "tsv", "xml"})

_HASH = ("python", "ruby", "perl", "shell", "r", "julia", "elixir", "yaml", "toml", "powershell", "makefile",
         "dockerfile", "cmake", "ini")
_DASH = ("lua", "haskell", "sql")
_SEMI = ("clojure",)
_PERCENT = ("tex", "erlang")


def language_of(path: str) -> str | None:
    """The language of a file by its name, or None for a file that is no source code."""
    name = posixpath.basename(path).lower()
    if name in FILENAMES:
        return FILENAMES[name]
    return EXTENSIONS.get(posixpath.splitext(name)[1])


def path_comment(path: str, language: str | None) -> str:
    """A comment line naming the file, in the file's own comment syntax."""
    if language in _HASH:
        return f"# {path}"
    if language in _DASH:
        return f"-- {path}"
    if language in _SEMI:
        return f";; {path}"
    if language in _PERCENT:
        return f"% {path}"
    if language in ("html", "xml", "markdown", "vue"):
        return f"<!-- {path} -->"
    if language in ("css", "scss"):
        return f"/* {path} */"
    return f"// {path}"
