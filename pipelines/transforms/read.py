"""ReadRecords: input files to raw records, with removals and errors on tagged outputs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.io import readers
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.progress import records_read
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count
from corpusmill.schemas.config import InputConfig
from corpusmill.schemas.records import ErrorRecord

log = logging.getLogger(__name__)


class _ReadFileFn(beam.DoFn):
    def __init__(self, formats: dict[str, readers.InputFormat], fields: InputConfig, verify_digests: bool):
        self.formats = formats
        self.fields = fields
        self.verify_digests = verify_digests

    def process(self, path: str) -> Iterator:
        fmt = self.formats[path]
        source = self.fields.source or fmt
        n = 0

        def open_stream():
            return FileSystems.open(path, compression_type="uncompressed")

        try:
            for event in readers.read_records(path, fmt, open_stream, source, self.fields, self.verify_digests):
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
                                    f"records: {err}"[:2000]))
        records_read(0, file_done=True)
        count("read/files")
        log.info("read %s: %d records", path, n)


class ReadRecords(beam.PTransform):
    """Paths in; RawRecords on the main output, `removed` and `errors` tagged outputs."""

    def __init__(self, formats: dict[str, readers.InputFormat], fields: InputConfig, verify_digests: bool = True):
        super().__init__()
        self.fn = _ReadFileFn(formats, fields, verify_digests)

    def expand(self, paths):
        return paths | beam.ParDo(self.fn).with_outputs(REMOVED, ERRORS, main="records")
