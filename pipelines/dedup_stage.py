"""The `dedup` stage: documents in (a curate output, JSONL or Parquet), duplicates removed.

ReadRecords -> ToDocuments -> Dedup/Url -> Dedup/Exact -> Dedup/MinHash
-> WriteDocuments / WriteRemoved / WriteErrors / WriteIndex.
"""

from __future__ import annotations

import json

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from filters.extract import HtmlExtractor
from pipelines.dedup import DedupDocuments, OutputSpec
from pipelines.dedup import step_order as dedup_steps
from pipelines.errors import UsageError
from pipelines.readers import STAGE as READ_STAGE
from pipelines.readers import FieldMapping
from pipelines.transforms import ExtractText, ReadRecords, WriteTable
from schemas.config import DedupConfig, DedupSettings

STAGE = "dedup"
# MinHash settings that must match for band hashes and signatures of two builds to be comparable.
INDEX_COMPATIBILITY = ("shingle", "ngram", "lowercase", "num_perm", "bands", "rows", "seed")


def earlier_index_files(settings: DedupSettings) -> list[str]:
    """Index shards of every earlier build in `earlier_indexes`, after checking their MinHash settings match."""
    files: list[str] = []
    ours = settings.minhash.model_dump()
    for build in settings.earlier_indexes:
        manifest_path = FileSystems.join(build, "manifest.json")
        if not FileSystems.exists(manifest_path):
            raise UsageError(f"field 'dedup.earlier_indexes': {build!r} is not a corpusmill build (no manifest.json)")
        with FileSystems.open(manifest_path) as f:
            manifest = json.loads(f.read().decode("utf-8"))
        if manifest.get("status") != "complete":
            raise UsageError(f"field 'dedup.earlier_indexes': build {build!r} did not complete")
        theirs = ((manifest.get("config") or {}).get("dedup") or {}).get("minhash") or {}
        for key in INDEX_COMPATIBILITY:
            if theirs.get(key) != ours[key]:
                raise UsageError(f"field 'dedup.earlier_indexes': build {build!r} used minhash.{key}="
                                  f"{theirs.get(key)!r}, this config has {ours[key]!r}; they must match")
        matches = FileSystems.match([FileSystems.join(build, "index", "part-*.parquet")])[0].metadata_list
        if not matches:
            raise UsageError(f"field 'dedup.earlier_indexes': build {build!r} wrote no index")
        files += sorted(m.path for m in matches)
    return files


def tables(config: DedupConfig) -> dict[str, int]:
    n = config.output.num_shards
    return {"documents": n, "removed": n, "errors": 1, **({"index": n} if _writes_index(config.dedup) else {})}


def _writes_index(settings: DedupSettings) -> bool:
    return settings.minhash.enabled and settings.write_index


def step_order(config: DedupConfig) -> list[tuple[str, str]]:
    return [(READ_STAGE, "reader")] + dedup_steps(config.dedup)


def build(pipeline: beam.Pipeline, config: DedupConfig, formats: dict[str, str], out: str) -> None:
    """Wire the dedup stage into `pipeline`."""
    index_files = earlier_index_files(config.dedup)
    fields = FieldMapping(config.input.id_field, config.input.text_field, config.input.url_field,
                          config.input.lang_field)
    read = (pipeline
            | "ListInputs" >> beam.Create(sorted(formats))
            | "ReadRecords" >> ReadRecords(formats, config.input.source, fields))
    # JSONL and Parquet records are text already; HTML (WARC input) is extracted with the defaults.
    # No reshuffle here: fingerprints are computed where the files are read (inputs are usually many
    # shards of a curate output), and every document already crosses one shuffle in the join by id.
    docs = read.records | "ToDocuments" >> ExtractText(HtmlExtractor())
    kept, removed = docs.docs | "Dedup" >> DedupDocuments(config.dedup, index_files, output_spec(config.output, out))
    write_outputs(kept, [read.removed, docs.removed, *removed], [read.errors, docs.errors], config.output, out)


def output_spec(output, out: str) -> OutputSpec:
    return OutputSpec(out, output.num_shards, output.compression)


def write_outputs(docs, removed: list, errors: list, output, out: str) -> None:
    """The writers every stage ends with; `docs` is None when the dedup step wrote them already."""
    n, compression = output.num_shards, output.compression
    if docs is not None:
        _ = docs | "WriteDocuments" >> WriteTable(out, "documents", n, compression)
    _ = removed | "FlattenRemoved" >> beam.Flatten() | "WriteRemoved" >> WriteTable(out, "removed", n, compression)
    _ = errors | "FlattenErrors" >> beam.Flatten() | "WriteErrors" >> WriteTable(out, "errors", 1, compression)

