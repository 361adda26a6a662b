"""A build's report.json and report.html: its stages' reports side by side, the web hosts and domain
scores of what it kept, and the change against the previous build.

The stage reports hold every count already (funnel, languages, lengths, cluster sizes, the mixture's
plan against what was achieved); this module reads only two narrow columns of the curated documents
(`url` and `domain`) for what no counter holds, one shard at a time.
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.nightly.report_html import render_build_html
from corpusmill.pipelines.nightly.root import Build, BuildRoot, is_local, write_json

TOP_HOSTS = 25
DOMAIN_THRESHOLD = 0.5  # a document counts for a domain label when its classifier score reaches this
_HOST = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(?P<host>[^/:?#]+)"
EARLIER_TAG = "minhash_dedup_v1/tag.earlier_build"


def _read_json(path: str) -> dict | None:
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode("utf-8"))


def hosts_and_domains(documents: str) -> tuple[dict[str, int], dict[str, int]]:
    """Kept documents per web host (the most frequent TOP_HOSTS and "other") and per domain label whose
    classifier score reaches DOMAIN_THRESHOLD, from the documents shards under `documents`."""
    hosts: Counter = Counter()
    domains: Counter = Counter()
    for meta in FileSystems.match([FileSystems.join(documents, "part-*.parquet")])[0].metadata_list:
        with FileSystems.open(meta.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            parquet = pq.ParquetFile(f)
            columns = [c for c in ("url", "domain") if c in parquet.schema_arrow.names]
            table = parquet.read(columns=columns)
        if "url" in columns:
            found = pc.struct_field(pc.extract_regex(pc.fill_null(table["url"], ""), _HOST), "host")
            counted = pc.value_counts(pc.utf8_lower(pc.fill_null(found, "(no url)")))
            hosts.update(dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(),
                                  strict=True)))
        if "domain" in columns and pa.types.is_struct(table.schema.field("domain").type):
            column = table["domain"].combine_chunks()
            for i, field in enumerate(column.type):
                scores = column.field(i)
                domains[field.name] += int(pc.sum(pc.greater_equal(pc.fill_null(scores, 0.0), DOMAIN_THRESHOLD))
                                           .as_py() or 0)
    top = dict(sorted(hosts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_HOSTS])
    other = sum(hosts.values()) - sum(top.values())
    return ({**top, **({"(other hosts)": other} if other else {})}, dict(sorted(domains.items())))


def build_report(builds: BuildRoot, build: Build, stages: list[str]) -> dict:
    """The report of `build` from its stages' report.json files and its curated documents."""
    reports = {name: _read_json(FileSystems.join(build.stage_dir(name), "report.json")) or {} for name in stages}
    curated = reports.get("curate", {})
    hosts, domains = hosts_and_domains(FileSystems.join(build.stage_dir("curate"), "documents"))
    totals = {k: curated.get(k, 0) for k in ("inputs", "kept", "removed", "errors")}
    mixture = reports.get("mix", {}).get("mix")
    summary = {
        **totals,
        "input_files": len(build.inputs),
        "input_bytes": sum(v.get("bytes", 0) for v in build.inputs.values()),
        "removed_against_earlier_builds": curated.get("counters", {}).get(EARLIER_TAG, 0),
        "mixture_documents": reports["mix"].get("kept", 0) if "mix" in reports else None,
        "mixture_tokens": mixture["total_tokens"]["achieved"] if mixture else None,
    }
    previous = _previous(builds, build)
    return {
        "build_id": build.id,
        "started": build.manifest.get("started"),
        "earlier_builds": build.manifest.get("earlier_builds", []),
        "totals": totals,
        "accounting_ok": all(r.get("accounting_ok", False) for r in reports.values()),
        "summary": summary,
        "funnel": [{**step, "stage": step["stage"] if step["stage"] == name or name == "curate"
                                          else f"{name}:{step['stage']}"}
                   for name, r in reports.items() for step in r.get("funnel", [])],
        "languages": curated.get("languages", {}),
        "hosts": hosts,
        "domains": domains,
        "length_histogram": curated.get("length_histogram", {}),
        "cluster_size_histogram": curated.get("cluster_size_histogram", {}),
        "mixture": mixture,
        "skipped": build.manifest.get("skipped", {}),
        "previous": None if previous is None else {"build_id": previous["build_id"],
                                                     "summary": previous.get("summary", {}),
                                                     "languages": previous.get("languages", {})},
        "stages": reports,
    }


def _previous(builds: BuildRoot, build: Build) -> dict | None:
    """The report of the newest complete build before this one."""
    earlier = [b for b in builds.complete() if b.id < build.id]
    return _read_json(FileSystems.join(earlier[-1].path, "report.json")) if earlier else None


def write_build_report(builds: BuildRoot, build: Build, stages: list[str]) -> dict:
    """Write BUILD/report.json and BUILD/report.html; returns the report."""
    report = build_report(builds, build, stages)
    write_json(FileSystems.join(build.path, "report.json"), report)
    page = render_build_html(report)
    with FileSystems.create(FileSystems.join(build.path, "report.html")) as f:
        f.write(page.encode("utf-8"))
    return report


def regenerate(build_dir: str) -> str:
    """`corpusmill report BUILD_DIR`: rewrite the build's report from its stage outputs; returns the page's path."""
    build_dir = os.path.realpath(build_dir) if is_local(build_dir) else build_dir.rstrip("/")  # ROOT/latest too
    root = build_dir.rsplit("/", 2)[0] if build_dir.count("/") >= 2 else "."
    builds = BuildRoot(root)
    build_id = build_dir.rsplit("/", 1)[-1]
    matches = [b for b in builds.builds if b.id == build_id]
    if not matches:
        raise UsageError(f"{build_dir!r} is not a build folder (ROOT/builds/<build-id> with a build manifest.json)")
    build = matches[0]
    stages = build.manifest.get("stages") or [
        s for s in ("curate", "mix") if FileSystems.exists(FileSystems.join(build.stage_dir(s), "report.json"))]
    write_build_report(builds, build, stages)
    return FileSystems.join(build.path, "report.html")
