"""What readers yield: one ReadEvent per input record, so nothing read is dropped silently."""

from __future__ import annotations

from dataclasses import dataclass

from corpusmill.schemas.records import ErrorRecord, RawRecord, Removal

STAGE = "read"


@dataclass(frozen=True)
class ReadEvent:
    """One outcome of reading: exactly one of record / skipped_kind / removal / error is set."""

    record: RawRecord | None = None
    skipped_kind: str | None = None
    removal: Removal | None = None
    error: ErrorRecord | None = None


def read_error(path: str, err: BaseException | str, offset: int | None, record_id: str | None = None) -> ReadEvent:
    """An error-ledger event: the exception's class, or MalformedRecord for a message."""
    cls = type(err).__name__ if isinstance(err, BaseException) else "MalformedRecord"
    return ReadEvent(error=ErrorRecord(path, STAGE, cls, str(err)[:2000], offset, record_id))
