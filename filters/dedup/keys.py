"""Keys that decide what counts as the same document, and which copy of a duplicate survives."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import numpy as np

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
class RankColumns:
    """Many Ranks as columns: band entries carry one rank each, and pickling and unpickling hundreds of
    thousands of Rank objects cost more than finding the candidates; a Rank is made only when looked at."""

    earlier: np.ndarray  # int8
    quality: np.ndarray  # float64
    length: np.ndarray  # int64
    ids: list[str]
    count: np.ndarray  # int64

    @classmethod
    def of(cls, ranks: Sequence[Rank]) -> RankColumns:
        return cls(np.fromiter((r.earlier for r in ranks), np.int8, len(ranks)),
                   np.fromiter((r.quality for r in ranks), np.float64, len(ranks)),
                   np.fromiter((r.length for r in ranks), np.int64, len(ranks)),
                   [r.id for r in ranks], np.fromiter((r.count for r in ranks), np.int64, len(ranks)))

    @classmethod
    def concat(cls, parts: Sequence[RankColumns]) -> RankColumns:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("earlier", "quality", "length")),
                   [i for p in parts for i in p.ids], np.concatenate([p.count for p in parts]))

    def take(self, rows: np.ndarray) -> RankColumns:
        return RankColumns(self.earlier[rows], self.quality[rows], self.length[rows],
                           [self.ids[i] for i in rows.tolist()], self.count[rows])

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> Rank:
        return Rank(int(self.earlier[i]), float(self.quality[i]), int(self.length[i]), self.ids[i],
                    int(self.count[i]))


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
