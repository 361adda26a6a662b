"""Resolve `--input` paths and globs to files with their formats, before anything is built."""

from __future__ import annotations

import math
import os

from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.io.readers import InputFormat, detect_format


class InputError(ValueError):
    """An input that cannot be used; the message is one line meant for the user."""


def resolve_inputs(patterns: list[str], fmt: str = "auto") -> dict[str, tuple[InputFormat, int]]:
    """{path: (format, size in bytes)} for every file matched, sorted by path.

    A local folder means every file under it whose name has a known suffix.
    """
    if not patterns:
        raise InputError("no input given: pass --input PATH_OR_GLOB or set input.paths in the config")
    found: dict[str, tuple[InputFormat, int]] = {}
    for pattern in patterns:
        matched = _expand(pattern, folder_mode=fmt == "auto")
        if not matched:
            raise InputError(f"input not found: {pattern!r} matches no file")
        for path, size in matched:
            file_fmt = detect_format(path) if fmt == "auto" else fmt
            if file_fmt is None:
                raise InputError(f"cannot tell the format of {path!r} from its name; set input.format "
                                 "to one of: warc, wet, jsonl, parquet")
            found[path] = (file_fmt, size)
    return dict(sorted(found.items()))


def list_files(patterns: list[str]) -> list[str]:
    """Every file the patterns (paths, folders, globs) match, whatever its name, sorted."""
    found: set[str] = set()
    for pattern in patterns:
        matched = _expand(pattern, folder_mode=False)
        if not matched:
            raise InputError(f"input not found: {pattern!r} matches no file")
        found.update(path for path, _ in matched)
    return sorted(found)


def _expand(pattern: str, folder_mode: bool) -> list[tuple[str, int]]:
    if os.path.isdir(pattern):
        out = []
        for root, _dirs, files in os.walk(pattern):
            for name in files:
                path = os.path.join(root, name)
                if not folder_mode or detect_format(path):
                    out.append((path, os.path.getsize(path)))
        return out
    try:
        metadata = FileSystems.match([pattern])[0].metadata_list
    except BeamIOError as err:
        raise InputError(f"cannot list input {pattern!r}: {err}") from err
    return [(m.path, m.size_in_bytes) for m in metadata if not os.path.isdir(m.path)]


def carried_names(formats: dict[str, str], column: str) -> tuple[str, ...]:
    """The field names of a struct column (`signals`, `domain`) that Parquet inputs carry into this build,
    read from their footers (a schema version 1 map column is read for its keys)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names: set[str] = set()
    for path, fmt in sorted(formats.items()):
        if fmt != "parquet":
            continue
        with FileSystems.open(path, compression_type="uncompressed") as f:
            try:
                parquet = pq.ParquetFile(f)
                kind = parquet.schema_arrow.field(column).type if column in parquet.schema_arrow.names else None
                if kind is not None and pa.types.is_struct(kind):
                    names.update(field.name for field in kind)
                elif kind is not None and pa.types.is_map(kind):
                    keys = parquet.read(columns=[column]).column(column).combine_chunks().keys
                    names.update(k for k in keys.to_pylist() if k is not None)
            except (pa.ArrowException, OSError):
                continue  # an unreadable file becomes an error row when it is read; it carries nothing
    return tuple(sorted(names))


# Text in a byte of each input format, roughly: JSONL is text; Parquet is compressed text (about 3x);
# WET is text with record headers; WARC is compressed HTML of which extraction keeps a few %.
TEXT_PER_BYTE: dict[str, float] = {"jsonl": 1.0, "parquet": 3.0, "wet": 1.0, "warc": 0.05}
AUTO_SHARD_TEXT_BYTES = 128 << 20  # output.num_shards: auto


def auto_num_shards(inputs: dict[str, tuple[str, int]]) -> int:
    """Output shards for `output.num_shards: auto`: one per 128 MB of text the inputs hold (estimated), so
    the shard one worker sorts and writes has a bounded size however large the build (at least 1)."""
    text = sum(size * TEXT_PER_BYTE.get(fmt, 1.0) for fmt, size in inputs.values())
    return max(1, min(100_000, math.ceil(text / AUTO_SHARD_TEXT_BYTES)))
