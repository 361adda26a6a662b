"""Resolve `--input` paths and globs to files with their formats, before anything is built."""

from __future__ import annotations

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
