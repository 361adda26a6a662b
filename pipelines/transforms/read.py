"""ReadRecords: input files to raw records, with removals and errors on tagged outputs.

Files are cut into byte ranges first (pipelines/io/readers.byte_ranges: Common Crawl's WARC and WET
files are, other files make one range each) and the ranges, a few bytes each, are spread over the
workers: a single large file then keeps every core busy, and the steps after reading run where the
records were read, so no document crosses a shuffle to balance the work."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.io import readers
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.progress import records_read
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count
from corpusmill.schemas.config import InputConfig, ReadConfig
from corpusmill.schemas.records import ErrorRecord

log = logging.getLogger(__name__)


class _ReadFileFn(beam.DoFn):
    def __init__(self, formats: dict[str, readers.InputFormat], fields: InputConfig, verify_digests: bool):
        self.formats = formats
        self.fields = fields
        self.verify_digests = verify_digests

    def process(self, byte_range: tuple[str, int, int | None]) -> Iterator:
        path, start, end = byte_range
        fmt = self.formats[path]
        source = self.fields.source or fmt
        n = 0

        def open_stream():
            return FileSystems.open(path, compression_type="uncompressed")

        try:
            for event in readers.read_records(path, fmt, open_stream, source, self.fields, self.verify_digests,
                                              (start, end)):
                records_read()  # the launcher's status line on a terminal
                if event.skipped_kind is not None:
                    count(f"read/skipped.{event.skipped_kind}")
                    continue
                n += 1
                count("read/inputs")
                if event.record is not None:
                    yield event.record
                elif event.removal is not None:
                    count(f"read/removed.{event.removal.reason}")
                    yield beam.pvalue.TaggedOutput(REMOVED, event.removal)
                else:
                    count("read/errors")
                    yield beam.pvalue.TaggedOutput(ERRORS, event.error)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary: a bad file must not stop the build
            n += 1
            count("read/inputs")
            count("read/errors")
            yield beam.pvalue.TaggedOutput(
                ERRORS, ErrorRecord(path, READ_STAGE, type(err).__name__, f"file failed after {n - 1} "
                                    f"records{_of_range(start, end)}: {err}"[:2000], start or None))
        if end is None:  # a file's last range: the file is done once all its ranges are
            records_read(0, file_done=True)
            count("read/files")
        log.info("read %s%s: %d records", path, _of_range(start, end), n)


def _of_range(start: int, end: int | None) -> str:
    return "" if start == 0 and end is None else f" from the range at byte {start}"


class _SplitFileFn(beam.DoFn):
    """A path -> its byte ranges, as (path, start, end)."""

    def __init__(self, formats: dict[str, readers.InputFormat], range_bytes: int):
        self.formats, self.range_bytes = formats, range_bytes

    def process(self, path: str) -> Iterator[tuple[str, int, int | None]]:
        fmt = self.formats[path]
        size = FileSystems.match([path])[0].metadata_list[0].size_in_bytes if readers.splittable(path, fmt) else 0
        for start, end in readers.byte_ranges(path, fmt, size, self.range_bytes):
            yield path, start, end


class ReadRecords(beam.PTransform):
    """Paths in; RawRecords on the main output, `removed` and `errors` tagged outputs."""

    def __init__(self, formats: dict[str, readers.InputFormat], fields: InputConfig, read: ReadConfig | None = None):
        super().__init__()
        read = read or ReadConfig()
        self.fn = _ReadFileFn(formats, fields, read.verify_digests)
        self.range_bytes = read.range_bytes

    def expand(self, paths):
        return (paths
                | "SplitFiles" >> beam.ParDo(_SplitFileFn(self.fn.formats, self.range_bytes))
                | "SpreadRanges" >> beam.Reshuffle()
                | "Read" >> beam.ParDo(self.fn).with_outputs(REMOVED, ERRORS, main="records"))
