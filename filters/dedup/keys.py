"""Keys that decide what counts as the same document, and which copy of a duplicate survives."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from corpusmill.schemas.config import SurvivorConfig
from corpusmill.schemas.records import Document


def text_key(text: str) -> str:
    """Hash of the normalised text (NFKC, lower case, whitespace collapsed) for exact dedup."""
    normal = " ".join(unicodedata.normalize("NFKC", text).lower().split())
    return hashlib.blake2b(normal.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def url_key(url: str | None) -> str | None:
    """The URL without scheme, fragment, `www.` and trailing slash, host lower-cased; None when absent."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").removeprefix("www.")
    if not host:
        return url.strip()
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("", host, path, parts.query, ""))


@dataclass(frozen=True, order=True)
class Rank:
    """Sort order of duplicate candidates: the smallest Rank of a cluster survives.

    Copies from earlier builds come first (they are already published), then the higher
    quality signal, then the longer (or shorter) text, then the smallest id. `count` is the
    number of documents a node stands for after exact dedup; it never decides order
    because ids are unique.
    """

    earlier: int  # 0 for a document of an earlier build, 1 for this build
    quality: float  # negated signal: higher signal sorts first
    length: int  # negated when longer documents are preferred
    id: str
    count: int = 1


@dataclass(frozen=True)
class SurvivorRule:
    """Which copy of a cluster is kept: by a quality signal, then length, then smallest id."""

    config: SurvivorConfig = field(default_factory=SurvivorConfig)

    def rank(self, doc: Document, count: int = 1) -> Rank:
        signal = self.config.quality_signal
        quality = -float(doc.signals.get(signal, 0.0)) if signal else 0.0
        length = -len(doc.text) if self.config.prefer_longer else len(doc.text)
        return Rank(1, quality, length, doc.id, count)


def earlier_rank(doc_id: str) -> Rank:
    """The rank of a document known only from an earlier build's index: before every current copy."""
    return Rank(0, 0.0, 0, doc_id, 0)
