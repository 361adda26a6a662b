"""Spill files: bulky payloads (documents, shingle sets) written where a step makes them and read back
by the one later step that needs them, so only their paths cross Beam's shuffles.

Why not the shuffle: on the local runner every shuffled byte passes through the runner process
twice, through gRPC in pure Python, and stays in that process's memory until the run ends (dedup of
50,000 documents spent more time moving documents through the runner than hashing them, and its
memory grew with the corpus); on Dataflow shuffled bytes are billed. A spill file has a random name
and reaches its reader only as an output of the bundle that wrote it, so the files of a failed and
retried bundle are never read; the launcher removes the folder when the run ends (`remove_spills`).
"""

from __future__ import annotations

import pickle
import struct
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.io.filesystem import BeamIOError, CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

SPILL_DIR = "_spill"  # under a build's output folder
FLUSH_BYTES = 128 << 20  # a bundle's buffered blobs are written out beyond this, so memory stays bounded
_LENGTH = struct.Struct("<Q")


def spill_folder(out: str, name: str) -> str:
    return FileSystems.join(out, SPILL_DIR, name)


class SpillBuffer:
    """One bundle's blobs by key, written as one file per key (many small files cost more than one)."""

    def __init__(self, folder: str, flush_bytes: int = FLUSH_BYTES):
        self.folder, self.flush_bytes = folder, flush_bytes
        self._blobs: dict[int, list[bytes]] = defaultdict(list)
        self._size = 0

    def add(self, key: int, blob: bytes) -> Iterator[tuple[int, str]]:
        """Buffer `blob` under `key`; yields (key, path) of files written if the buffer grew too big."""
        self._blobs[key].append(blob)
        self._size += len(blob)
        if self._size >= self.flush_bytes:
            yield from self.flush()

    def flush(self) -> Iterator[tuple[int, str]]:
        """Write every buffered key's blobs to a new file; yields (key, path)."""
        blobs, self._blobs, self._size = self._blobs, defaultdict(list), 0
        for key in sorted(blobs):
            path = FileSystems.join(self.folder, f"{key:05d}-{uuid.uuid4().hex}.bin")
            with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                for blob in blobs[key]:
                    f.write(_LENGTH.pack(len(blob)))
                    f.write(blob)
            yield key, path


class SpillingDoFn(beam.DoFn):
    """A DoFn whose bulky outputs, under the tags in SPILLED, are spilled: `spill` buffers a blob by key, and
    each file written (one per key and bundle, or more past FLUSH_BYTES) is output as (key, path) under its
    tag, the element that crosses the shuffle."""

    SPILLED: tuple[str, ...] = ()

    def __init__(self, spill_root: str):
        self.spill_root = spill_root

    def start_bundle(self):
        self._spills = {tag: SpillBuffer(FileSystems.join(self.spill_root, tag)) for tag in self.SPILLED}

    def spill(self, tag: str, key: int, blob: bytes) -> Iterator[beam.pvalue.TaggedOutput]:
        for written in self._spills[tag].add(key, blob):
            yield beam.pvalue.TaggedOutput(tag, written)

    def last_blobs(self) -> Iterator[tuple[str, int, bytes]]:
        """(tag, key, blob) still held when the bundle ends: spilled before the files are written."""
        return iter(())

    def finish_bundle(self):
        for tag, key, blob in self.last_blobs():
            for written in self._spills[tag].add(key, blob):
                yield beam.pvalue.TaggedOutput(tag, WindowedValue(written, MIN_TIMESTAMP, [GlobalWindow()]))
        for tag, buffer in self._spills.items():
            for written in buffer.flush():
                yield beam.pvalue.TaggedOutput(tag, WindowedValue(written, MIN_TIMESTAMP, [GlobalWindow()]))


def read_blobs(path: str) -> Iterator[memoryview]:
    """The blobs of one spill file, in written order (views of the file's bytes, not copies)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        data = memoryview(f.read())
    pos = 0
    while pos < len(data):
        (size,) = _LENGTH.unpack_from(data, pos)
        pos += _LENGTH.size
        if pos + size > len(data):
            raise OSError(f"spill file {path} is truncated: a blob of {size} bytes at byte {pos} runs past its end")
        yield data[pos:pos + size]
        pos += size


def spilled_items(paths: Iterable[str]) -> Iterator:
    """The items of the pickled chunks (pipelines/transforms/dedup/common.chunks_by_partition) in spill files,
    file by file in a fixed order."""
    for path in sorted(paths):
        for blob in read_blobs(path):
            yield from pickle.loads(blob)


def remove_spills(out: str) -> None:
    """Delete a build's spill files (after a run, and before one, for what a killed run left)."""
    folder = FileSystems.join(out, SPILL_DIR)
    files = FileSystems.match([FileSystems.join(folder, "*", "*")])[0].metadata_list
    if files:
        FileSystems.delete([m.path for m in files])
    try:
        FileSystems.delete([folder])  # the empty folders, where a filesystem has folders
    except BeamIOError:
        pass
