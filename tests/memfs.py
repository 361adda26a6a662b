"""An in-memory Beam FileSystem (`memfs://`) that behaves like an object store (no folders): any
code that reaches a path with `os` or `open` instead of Beam FileSystems fails on it here, not
on a cluster with gs:// paths. Importing this module registers the scheme with Beam."""

from __future__ import annotations

import io

from apache_beam.io.filesystem import CompressedFile, CompressionTypes, FileMetadata, FileSystem

FILES: dict[str, bytes] = {}


class _Upload(io.BytesIO):
    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def close(self) -> None:
        if not self.closed:
            FILES[self.path] = self.getvalue()
        super().close()


class MemFileSystem(FileSystem):
    """Objects in a process-wide dict; listing is by prefix, as on GCS or S3."""

    @classmethod
    def scheme(cls) -> str:
        return "memfs"

    def join(self, basepath: str, *paths: str) -> str:
        return "/".join([basepath.rstrip("/"), *(p.strip("/") for p in paths)])

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:
        pass

    def has_dirs(self) -> bool:
        return False

    def _list(self, dir_or_prefix: str):
        for path in sorted(FILES):
            if path.startswith(dir_or_prefix):
                yield FileMetadata(path, len(FILES[path]), 0.0)

    def _compressed(self, path: str, raw, compression_type: str):
        if compression_type == CompressionTypes.AUTO:
            compression_type = CompressionTypes.detect_compression_type(path)
        return raw if compression_type == CompressionTypes.UNCOMPRESSED else CompressedFile(raw, compression_type)

    def create(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        return self._compressed(path, _Upload(path), compression_type)

    def open(self, path, mime_type="application/octet-stream", compression_type=CompressionTypes.AUTO):
        if path not in FILES:
            raise FileNotFoundError(path)
        return self._compressed(path, io.BytesIO(FILES[path]), compression_type)

    def copy(self, source_file_names, destination_file_names) -> None:
        for src, dst in zip(source_file_names, destination_file_names, strict=True):
            FILES[dst] = FILES[src]

    def rename(self, source_file_names, destination_file_names) -> None:
        for src, dst in zip(source_file_names, destination_file_names, strict=True):
            FILES[dst] = FILES.pop(src)

    def exists(self, path: str) -> bool:
        return path in FILES or any(p.startswith(path.rstrip("/") + "/") for p in FILES)

    def size(self, path: str) -> int:
        return len(FILES[path])

    def last_updated(self, path: str) -> float:
        return 0.0

    def checksum(self, path: str) -> str:
        return str(hash(FILES[path]))

    def metadata(self, path: str) -> FileMetadata:
        return FileMetadata(path, len(FILES[path]), 0.0)

    def delete(self, paths) -> None:
        for path in paths:
            for key in [p for p in FILES if p == path or p.startswith(path.rstrip("/") + "/")]:
                del FILES[key]
