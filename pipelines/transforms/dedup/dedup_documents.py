"""All of dedup as one PTransform: URL, exact and near duplicates in that order."""

from __future__ import annotations

import apache_beam as beam

from corpusmill.filters.dedup.keys import SurvivorRule
from corpusmill.pipelines.transforms.dedup.common import EXACT_FILTER, NEAR_FILTER, STAGE, URL_FILTER
from corpusmill.pipelines.transforms.dedup.exact import DropDuplicatesByKey
from corpusmill.pipelines.transforms.dedup.near import FindNearDuplicates
from corpusmill.pipelines.transforms.write import OutputSpec
from corpusmill.schemas.config import DedupSettings


class DedupDocuments(beam.PTransform):
    """URL, exact and near-duplicate removal in that order; returns (docs, removed, errors).

    With MinHash on, the near-duplicate step writes the `table` (and index) shards itself and `docs`
    is None; otherwise the caller writes the returned documents.
    """

    def __init__(self, settings: DedupSettings, earlier_index_files: list[str], output: OutputSpec,
                 table: str = "documents"):
        super().__init__()
        self.settings = settings
        self.earlier_index_files = earlier_index_files
        self.output = output
        self.table = table

    def expand(self, docs):
        s = self.settings
        rule = SurvivorRule(s.survivor)
        removed, errors = [], []
        # With MinHash on, URL and exact duplicates are settled by their ranks alone and removed where MinHash
        # writes the documents, so documents cross no shuffle in all of dedup.
        by_rank = s.minhash.enabled
        if s.url and not by_rank:
            docs, dropped = docs | "Dedup/Url" >> DropDuplicatesByKey("url", rule)
            removed.append(dropped)
        if s.exact and not by_rank:
            docs, dropped = docs | "Dedup/Exact" >> DropDuplicatesByKey("exact", rule)
            removed.append(dropped)
        if s.minhash.enabled:
            dropped, failed = docs | "Dedup/MinHash" >> FindNearDuplicates(
                s.minhash, rule, self.earlier_index_files, s.write_index, self.output, self.table,
                exact=s.exact, url=s.url)
            removed.append(dropped)
            errors.append(failed)
            docs = None
        return docs, removed, errors


def step_order(settings: DedupSettings) -> list[tuple[str, str]]:
    """(stage, filter) of the dedup steps that remove records, in order."""
    return ([(STAGE, URL_FILTER)] if settings.url else []) + ([(STAGE, EXACT_FILTER)] if settings.exact else []) \
        + ([(STAGE, NEAR_FILTER)] if settings.minhash.enabled else [])
