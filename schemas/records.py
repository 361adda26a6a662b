"""Plain-Python records that travel between steps; each maps 1:1 onto a table in tables.py."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field


def stable_id(*parts: str) -> str:
    """A 128-bit hex id derived from a record's source identity (never from arrival order)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass
class RawRecord:
    """One readable input record before extraction: HTML bytes or already-plain text."""

    id: str
    source: str
    input_file: str
    input_offset: int | None
    url: str | None = None
    crawl_date: str | None = None
    html: bytes | None = None
    http_charset: str | None = None
    text: str | None = None
    # values carried from JSONL/Parquet inputs that map onto Document columns
    lang: str | None = None
    # the other Document columns when the input is itself a corpusmill documents/ table
    carried: dict | None = None


@dataclass
class Document:
    """The one document shape of every stage (see tables.DOCUMENT_SCHEMA)."""

    id: str
    text: str
    source: str
    input_file: str
    input_offset: int | None = None
    url: str | None = None
    crawl_date: str | None = None
    lang: str | None = None
    lang_score: float | None = None
    domain: dict[str, float] = field(default_factory=dict)
    signals: dict[str, float] = field(default_factory=dict)
    cluster_id: str | None = None
    cluster_size: int | None = None

    def to_row(self) -> dict:
        # a shallow dict: dataclasses.asdict deep-copies every value and was a hot spot when writing
        row = {f.name: getattr(self, f.name) for f in _DOCUMENT_FIELDS}
        row["domain"] = dict(self.domain) or None
        row["signals"] = dict(self.signals) or None
        return row

    @classmethod
    def from_row(cls, row: dict) -> Document:
        """A Document from a row of a documents/ table (structs come back as dicts with None for what a
        document was not measured on; tables of schema version 1 held maps, read as lists of pairs)."""
        values = {f.name: row.get(f.name) for f in dataclasses.fields(cls)}
        values["domain"] = measured(row.get("domain"))
        values["signals"] = measured(row.get("signals"))
        return cls(**values)


def measured(value: dict | list | None) -> dict[str, float]:
    """The measured values of a signals / domain / scores cell, whatever schema version wrote it."""
    if not value:
        return {}
    pairs = value.items() if isinstance(value, dict) else value
    return {k: v for k, v in pairs if v is not None}


_DOCUMENT_FIELDS = dataclasses.fields(Document)
CARRIED_COLUMNS = ("source", "crawl_date", "lang_score", "domain", "signals", "cluster_id", "cluster_size",
                   "input_file", "input_offset")


@dataclass
class Removal:
    """A record some stage decided not to keep, with the filter, reason and scores."""

    id: str
    stage: str
    filter: str
    reason: str
    input_file: str
    input_offset: int | None = None
    url: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    survivor_id: str | None = None
    detail: str | None = None

    def to_row(self) -> dict:
        row = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        row["scores"] = dict(self.scores) or None
        return row

    @property
    def sort_key(self) -> str:
        return self.id


# Error classes of corpusmill's own machinery failing (a backend, a verifier's sandbox or helper), never
# a verdict on the record: a build with such rows is not complete, and the next run tries them again.
GENERATION_FAILED = "GenerationFailed"
VERIFIER_ERROR = "VerifierError"
RETRYABLE_ERROR_CLASSES = frozenset({GENERATION_FAILED, VERIFIER_ERROR})


@dataclass
class ErrorRecord:
    """An input record that could not be read or processed, with what went wrong."""

    input_file: str
    stage: str
    error_class: str
    message: str
    input_offset: int | None = None
    record_id: str | None = None

    def to_row(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @property
    def sort_key(self) -> str:
        return f"{self.input_file}\x00{self.input_offset or 0:020d}\x00{self.record_id or ''}\x00{self.stage}"
