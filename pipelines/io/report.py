"""report.json: counts that prove inputs == kept + removed + errors, per stage and filter.

Kept, removed and errors are the row counts in the written tables' Parquet footers; inputs
and skipped WARC records come from the reader's counters. The two are independent, so the
equality is a real check, not a tautology. Everything finer (removals by reason, errors by
class, languages, lengths, cluster sizes) comes from counters the writers keep as they write
each row (`written_keys`): no table is read back, so the report costs the same on a sample and
on a crawl.
"""

from __future__ import annotations

import json
from collections import Counter

import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.io.report_html import render_html
from corpusmill.schemas.records import RETRYABLE_ERROR_CLASSES
from corpusmill.schemas.tables import FIRST_COPIES

LENGTH_BINS = (0, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
CLUSTER_BINS = (1, 2, 3, 5, 10, 100, 1_000)
WRITTEN = "written."
SEP = "|"  # between the parts of a counter name; stages, filters, reasons and classes never contain it


def _bin(value: int, edges: tuple[int, ...]) -> int:
    return max((b for b in edges if b <= value), default=edges[0])


def written_keys(table: str, row: dict) -> list[str]:
    """The counter names one written row adds 1 to."""
    if table in ("removed", "repos_removed"):
        return [SEP.join((f"{WRITTEN}{table}", row["stage"], row["filter"], row["reason"]))]
    if table == "errors":
        return [SEP.join((f"{WRITTEN}errors", row["stage"], row["error_class"]))]
    if table == "repos":
        return [f"{WRITTEN}repos"]
    if table != "documents":
        return []
    if row.get("copy"):
        return []  # a mixture's further copies of a document: the document is counted at its first
    if "lang" not in row:  # an SFT table has no language, text or clusters
        return [f"{WRITTEN}documents"]
    return document_keys(row["lang"], len(row["text"]), row.get("cluster_size"))


def document_keys(lang: str | None, length: int, cluster_size: int | None) -> list[str]:
    """The counter names one written document (of a table with languages, texts and clusters) adds 1 to."""
    keys = [f"{WRITTEN}documents", f"{WRITTEN}documents.lang{SEP}{lang or 'unknown'}",
            f"{WRITTEN}documents.length{SEP}{_bin(length, LENGTH_BINS)}"]
    if cluster_size:
        keys.append(f"{WRITTEN}documents.cluster_size{SEP}{_bin(cluster_size, CLUSTER_BINS)}")
    return keys


def table_rows(out: str, table: str) -> int:
    """Rows of a written table, from its shards' Parquet footers; of a mixture's documents, the first
    copies (the documents kept; a shard's metadata counts them)."""
    total = 0
    for meta in FileSystems.match([FileSystems.join(out, table, "part-*.parquet")])[0].metadata_list:
        with FileSystems.open(meta.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            parquet = pq.ParquetFile(f)
            first_copies = (parquet.schema_arrow.metadata or {}).get(FIRST_COPIES)
            total += int(first_copies) if first_copies is not None else parquet.metadata.num_rows
    return total


def _written(counters: dict[str, int], prefix: str) -> dict[tuple[str, ...], int]:
    head = f"{WRITTEN}{prefix}{SEP}"
    return {tuple(k[len(head):].split(SEP)): n for k, n in sorted(counters.items()) if k.startswith(head)}


def _histogram(counts: dict[tuple[str, ...], int], edges: tuple[int, ...]) -> dict[str, int]:
    by_edge = {int(k[0]): n for k, n in counts.items()}
    return {f">={b}": by_edge.get(b, 0) for b in edges}


def _tags(counters: dict[str, int]) -> dict[str, dict[str, int]]:
    tags: dict[str, dict[str, int]] = {}
    for key, n in sorted(counters.items()):
        step, sep, tag = key.partition("/tag.")
        if sep:
            tags.setdefault(step, {})[tag] = n
    return tags


def build_report(out: str, counters: dict[str, int], step_order: list[tuple[str, str]]) -> dict:
    """Counts per stage and filter; `step_order` is [(stage, filter)] of the steps that remove records."""
    kept, n_removed, n_errors = (table_rows(out, t) for t in ("documents", "removed", "errors"))
    removed_by = _written(counters, "removed")
    errors_by = _written(counters, "errors")
    inputs = counters.get("read/inputs", 0)

    # An error row's stage names its step as "stage/filter" (or the filter alone); a bare stage belongs to
    # that stage's first step. Each row is counted at one step only.
    errors_at: Counter = Counter()
    for (s, _), n in errors_by.items():
        errors_at[s] += n
    claimed: set[str] = set()
    funnel, remaining = [], inputs
    for stage, name in step_order:
        reasons = {r: n for (s, f, r), n in removed_by.items() if (s, f) == (stage, name)}
        keys = {k for k in (f"{stage}/{name}", name, stage) if k in errors_at and k not in claimed}
        claimed |= keys
        step_errors = sum(errors_at[k] for k in keys)
        out_count = remaining - sum(reasons.values()) - step_errors
        funnel.append({"stage": stage, "filter": name, "in": remaining, "removed": sum(reasons.values()),
                       "errors": step_errors, "out": out_count, "reasons": reasons})
        remaining = out_count

    languages = _written(counters, "documents.lang")
    return {
        "inputs": inputs,
        "kept": kept,
        "removed": n_removed,
        "errors": n_errors,
        "accounting_ok": inputs == kept + n_removed + n_errors,
        # the writers' counters against the footers: they differ only if a runner reports counters of
        # retried work twice (then the finer figures below are approximate, the totals above are not)
        "written_counters_match": (counters.get(f"{WRITTEN}documents", 0), sum(removed_by.values()),
                                   sum(errors_by.values())) == (kept, n_removed, n_errors),
        "skipped_records": {k.split(".", 1)[1]: v for k, v in sorted(counters.items())
                            if k.startswith("read/skipped.")},
        "input_files": counters.get("read/files", 0),
        "funnel": funnel,
        "removed_by_reason": {f"{s}/{f}/{r}": n for (s, f, r), n in removed_by.items()},
        "errors_by_class": {f"{s}/{c}": n for (s, c), n in errors_by.items()},
        "retryable_errors": sum(n for (_, c), n in errors_by.items() if c in RETRYABLE_ERROR_CLASSES),
        # removals by a tag a filter gave them, per step: for decontamination, the benchmark matched
        "removed_by_tag": _tags(counters),
        "languages": {k[0]: n for k, n in sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))},
        "length_histogram": _histogram(_written(counters, "documents.length"), LENGTH_BINS),
        "cluster_size_histogram": _histogram(_written(counters, "documents.cluster_size"), CLUSTER_BINS),
        "counters": {k: n for k, n in sorted(counters.items()) if not k.startswith(WRITTEN)},
    }


def write_report(out: str, report: dict, title: str) -> None:
    for name, body in (("report.json", json.dumps(report, indent=2, sort_keys=True)),
                       ("report.html", render_html(report, title))):
        with FileSystems.create(FileSystems.join(out, name)) as f:
            f.write(body.encode("utf-8"))
