"""The recall loop's steps on Beam: drawing pool pages by hash, scoring the pool with an iteration's
classifier, and counting per web host how many of its pages were recalled."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import apache_beam as beam

from corpusmill.core.text_classifier import TextClassifier
from corpusmill.pipelines.transforms.ledger import REMOVED, count
from corpusmill.schemas.records import Document, Removal

STAGE = "recall"


def host_of(url: str | None) -> str | None:
    """The web host of a URL, lower case and without `www.`; None without one."""
    try:
        host = (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return None
    return host.removeprefix("www.") or None


def drawn(doc_id: str, rate: float, seed: int) -> bool:
    """Whether a document is drawn: a hash of its id and the seed below `rate`, never its position."""
    digest = hashlib.blake2b(f"{seed}\x00{doc_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


class DrawFn(beam.DoFn):
    def __init__(self, rate: float, seed: int):
        self.rate, self.seed = rate, seed

    def process(self, doc: Document) -> Iterator[Document]:
        if drawn(doc.id, self.rate, self.seed):
            yield doc


class ScoreFn(beam.DoFn):
    """Recalled pages (score >= min_score) on the main output, the others as removals; and per page
    (host, (1, recalled, url)) on `hosts`."""

    def __init__(self, classifier: TextClassifier, label: str, min_score: float):
        self.classifier, self.label, self.min_score = classifier, label, min_score

    def setup(self) -> None:
        self.classifier.setup()

    def process(self, doc: Document) -> Iterator:
        score = self.classifier.probability(doc.text, self.label)
        scores = {f"domain.{self.label}": score}
        recalled = score >= self.min_score
        host = host_of(doc.url)
        if host is not None:
            yield beam.pvalue.TaggedOutput("hosts", (host, (1, int(recalled), doc.url if recalled else None)))
        if recalled:
            count("recall/recalled")
            count("recall/recalled_words", len(doc.text.split()))
            yield dataclasses.replace(doc, signals={**doc.signals, **scores})
            return
        count("recall/removed.below_recall_score")
        yield beam.pvalue.TaggedOutput(REMOVED, Removal(doc.id, STAGE, f"domain_classifier.{self.label}",
                                                        "below_recall_score", doc.input_file, doc.input_offset,
                                                        doc.url, scores))


class HostStats(beam.CombineFn):
    """(pages, recalled pages, the first few recalled URLs in sorted order) of one host."""

    def __init__(self, sample_urls: int):
        self.sample_urls = sample_urls

    def create_accumulator(self):
        return 0, 0, ()

    def add_input(self, acc, page):
        pages, recalled, urls = acc
        total, hit, url = page
        return pages + total, recalled + hit, self._first(urls, (url,) if url else ())

    def merge_accumulators(self, accs):
        pages = recalled = 0
        urls: tuple = ()
        for p, r, u in accs:
            pages, recalled, urls = pages + p, recalled + r, self._first(urls, u)
        return pages, recalled, urls

    def extract_output(self, acc):
        return acc

    def _first(self, a: tuple, b: tuple) -> tuple:
        return tuple(sorted(set(a) | set(b))[: self.sample_urls])


def host_row(keyed: tuple[str, tuple[int, int, tuple]]) -> dict:
    host, (pages, recalled, urls) = keyed
    return {"host": host, "pages": pages, "recalled": recalled, "share": round(recalled / pages, 6),
            "sample_urls": list(urls)}
