"""Labelled examples for a classifier, from JSONL (.gz), Parquet or plain-text files on any Beam
filesystem: (label, text) pairs, and a sha256 of every file read for the model's card."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re

from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io.inputs import InputError, list_files
from corpusmill.schemas.config import TextFilesConfig

_PARAGRAPH = re.compile(r"\n\s*\n")


def read_examples(spec: TextFilesConfig) -> tuple[list[tuple[str, str]], list[dict]]:
    """([(label, text)], [{"path", "sha256", "examples"}]) of one examples entry; UsageError if it has none."""
    try:
        files = list_files(spec.paths)
    except InputError as err:
        raise UsageError(f"field 'examples': {err}") from err
    examples: list[tuple[str, str]] = []
    read: list[dict] = []
    for path in files:
        with FileSystems.open(path, compression_type="uncompressed") as f:
            data = f.read()
        found = [e for e in _examples(path, data, spec) if e[1].strip()]
        room = None if spec.max_examples is None else spec.max_examples - len(examples)
        examples += found[:room]
        read.append({"path": path, "sha256": hashlib.sha256(data).hexdigest(), "examples": len(found[:room])})
        if room is not None and len(examples) >= spec.max_examples:
            break
    if not examples:
        what = _label(spec) or (f"field {spec.label_field!r}" if getattr(spec, "label_field", None) else "texts")
        raise UsageError(f"field 'examples': no examples for {what} in {', '.join(sorted(files))} "
                         f"(empty, or no {spec.text_field!r} text)")
    return examples, read


def _examples(path: str, data: bytes, spec: TextFilesConfig):
    lower = path.lower()
    if lower.endswith(".gz"):
        data, lower = gzip.decompress(data), lower[:-3]
    if spec.format == "parquet" or (spec.format == "auto" and lower.endswith(".parquet")):
        import pyarrow.parquet as pq

        yield from _labelled(pq.read_table(io.BytesIO(data)).to_pylist(), spec, path)
    elif spec.format == "jsonl" or (spec.format == "auto" and lower.endswith((".jsonl", ".json", ".ndjson"))):
        yield from _labelled(_json_lines(data, path), spec, path)
    else:
        text = data.decode("utf-8", errors="replace")
        parts = {"file": [text], "paragraph": _PARAGRAPH.split(text), "line": text.splitlines()}[spec.text_split]
        for part in parts:
            yield _label(spec) or "", part


def _label(spec: TextFilesConfig) -> str | None:
    return getattr(spec, "label", None)


def _json_lines(data: bytes, path: str):
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as err:
                raise UsageError(f"{path} line {n}: not JSON ({err})") from err


def _labelled(rows, spec: TextFilesConfig, path: str):
    for row in rows:
        text = row.get(spec.text_field) if isinstance(row, dict) else None
        if not isinstance(text, str):
            continue
        if getattr(spec, "label_field", None) is None:
            yield _label(spec) or "", text
            continue
        value = str(row.get(spec.label_field))
        label = spec.label_map.get(value, None if spec.label_map else value)
        if label is not None:  # values outside label_map are not examples of any class
            yield label, text
