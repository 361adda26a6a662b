"""Source files as records: folder trees (a file's repository from the folder layout) and JSONL /
Parquet records with a path, the content and a repository. Language by extension; a binary or
non-UTF-8 file, or one that is no source code, is removed with its reason."""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterator

from apache_beam.io.filesystems import FileSystems

from corpusmill.filters.code.languages import language_of
from corpusmill.pipelines.io.inputs import InputError
from corpusmill.pipelines.io.read_events import STAGE, ReadEvent, read_error
from corpusmill.schemas.config import CodeInputConfig
from corpusmill.schemas.records import RawRecord, Removal, stable_id

READER = "code_reader"
TREE = "tree:"  # format of a file found in a folder tree: "tree:<the input folder>"
BINARY_SNIFF_BYTES = 8192  # a NUL byte this early means a binary file, as git decides
SKIPPED_FOLDERS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox",
                             ".mypy_cache", ".pytest_cache", ".ruff_cache"})


def code_inputs(config: CodeInputConfig) -> dict[str, tuple[str, int]]:
    """{file: (format, bytes)}: every file of input folders (format `tree:<folder>`), and JSONL / Parquet
    record files."""
    if not config.paths:
        raise InputError("no input given: pass --input PATH_OR_GLOB or set input.paths in the config")
    found: dict[str, tuple[str, int]] = {}
    for pattern in config.paths:
        if os.path.isdir(pattern):
            root = pattern.rstrip("/")
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS)
                for name in files:
                    path = os.path.join(folder, name)
                    found[path] = (f"{TREE}{root}", os.path.getsize(path))
            continue
        matched = FileSystems.match([pattern])[0].metadata_list
        if not matched:
            raise InputError(f"input not found: {pattern!r} matches no file")
        for meta in matched:
            lower = meta.path.lower()
            fmt = "parquet" if lower.endswith(".parquet") else "jsonl" if ".jsonl" in lower else None
            if fmt is None:
                raise InputError(f"{meta.path!r}: code records must be JSONL or Parquet; give folders of source "
                                 "files as folders")
            found[meta.path] = (fmt, meta.size_in_bytes)
    return dict(sorted(found.items()))


def read_code(path: str, fmt: str, config: CodeInputConfig) -> Iterator[ReadEvent]:
    """The events of one input: a source file of a tree, or every record of a JSONL / Parquet file."""
    if fmt.startswith(TREE):
        root = fmt[len(TREE):]
        rel = posixpath.relpath(path.replace(os.sep, "/"), root.replace(os.sep, "/"))
        if config.tree_layout == "repos" and "/" in rel:
            repo, inner = rel.split("/", 1)
        else:
            repo, inner = posixpath.basename(root), rel
        with FileSystems.open(path, compression_type="uncompressed") as f:
            yield code_event(path, None, repo, inner, f.read())
        return
    offset = 0
    for offset, row in _rows(path, fmt):
        if not isinstance(row, dict):
            yield read_error(path, f"expected a JSON object, got {type(row).__name__}", offset)
            continue
        fields = (row.get(config.path_field), row.get(config.content_field), row.get(config.repo_field))
        if not all(isinstance(x, str) for x in fields[:2]):
            yield read_error(path, f"needs string fields {config.path_field!r} and {config.content_field!r}", offset)
            continue
        inner, content, repo = fields
        yield code_event(path, offset, str(repo) if repo else posixpath.basename(path).split(".")[0], inner,
                         content)


def _rows(path: str, fmt: str) -> Iterator[tuple[int, object]]:
    with FileSystems.open(path) as f:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            yield from enumerate(pq.read_table(f).to_pylist())
            return
        offset = 0
        for line in f:
            start, offset = offset, offset + len(line)
            if line.strip():
                try:
                    yield start, json.loads(line)
                except ValueError as err:
                    yield start, err


def code_event(input_file: str, offset: int | None, repo: str, path: str, content: bytes | str) -> ReadEvent:
    """A source file as a record, or its removal: no source code, binary, or not UTF-8."""
    doc_id = stable_id("code", repo, path)
    url = f"{repo}/{path}"
    size = len(content)
    language = language_of(path)
    if language is None:
        return _removal(doc_id, input_file, offset, url, "not_source_code", size, posixpath.splitext(path)[1] or path)
    if isinstance(content, bytes):
        if b"\x00" in content[:BINARY_SNIFF_BYTES]:
            return _removal(doc_id, input_file, offset, url, "binary_file", size, language)
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as err:
            return _removal(doc_id, input_file, offset, url, "not_utf8", size, f"{err.reason} at byte {err.start}")
    return ReadEvent(record=RawRecord(doc_id, "code", input_file, offset, url, text=content, lang=language))


def _removal(doc_id: str, input_file: str, offset: int | None, url: str, reason: str, size: int, detail: str
             ) -> ReadEvent:
    return ReadEvent(removal=Removal(doc_id, STAGE, READER, reason, input_file, offset, url,
                                     {"code.bytes": float(size)}, detail=detail))
