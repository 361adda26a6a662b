"""Build report.json (counts that prove inputs == kept + removed + errors) and report.html.

Kept, removed and errors are counted from the written ledgers themselves; inputs and
skipped WARC records come from the reader's counters. The two are independent, so the
equality is a real check, not a tautology.
"""

from __future__ import annotations

import html
import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from apache_beam.io.filesystems import FileSystems

from corpusmill.schemas.records import RETRYABLE_ERROR_CLASSES

LENGTH_BINS = (0, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
CLUSTER_BINS = (1, 2, 3, 5, 10, 100, 1_000)


def _table(out: str, name: str, columns: list[str]):
    """The table's columns that exist (an SFT documents/ table has no `lang` or `cluster_size`)."""
    dataset = ds.dataset(FileSystems.join(out, name), format="parquet")
    table = dataset.to_table(columns=[c for c in columns if c in dataset.schema.names])
    for column in columns:
        if column not in table.schema.names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
    return table


def build_report(out: str, counters: dict[str, int], step_order: list[tuple[str, str]]) -> dict:
    """Counts per stage and filter from the ledgers in `out`; `step_order` is [(stage, filter)]."""
    docs = _table(out, "documents", ["lang", "text", "cluster_size"])
    removed = _table(out, "removed", ["stage", "filter", "reason"])
    errors = _table(out, "errors", ["stage", "error_class"])

    removed_by = Counter(zip(removed["stage"].to_pylist(), removed["filter"].to_pylist(),
                             removed["reason"].to_pylist(), strict=True))
    errors_by = Counter(zip(errors["stage"].to_pylist(), errors["error_class"].to_pylist(), strict=True))
    inputs = counters.get("read/inputs", 0)
    kept, n_removed, n_errors = docs.num_rows, removed.num_rows, errors.num_rows

    # An error row's stage names its step as "stage/filter" (or the filter alone); a bare stage belongs to
    # that stage's first step. Each row is counted at one step only.
    errors_at: Counter = Counter()
    for (s, _), n in errors_by.items():
        errors_at[s] += n
    claimed: set[str] = set()
    funnel, remaining = [], inputs
    for stage, name in step_order:
        reasons = {r: n for (s, f, r), n in sorted(removed_by.items()) if (s, f) == (stage, name)}
        keys = {k for k in (f"{stage}/{name}", name, stage) if k in errors_at and k not in claimed}
        claimed |= keys
        step_errors = sum(errors_at[k] for k in keys)
        out_count = remaining - sum(reasons.values()) - step_errors
        funnel.append({"stage": stage, "filter": name, "in": remaining, "removed": sum(reasons.values()),
                       "errors": step_errors, "out": out_count, "reasons": reasons})
        remaining = out_count

    lengths = [n for n in pc.utf8_length(docs["text"]).to_pylist() if n is not None] if kept else []
    return {
        "inputs": inputs,
        "kept": kept,
        "removed": n_removed,
        "errors": n_errors,
        "accounting_ok": inputs == kept + n_removed + n_errors,
        "skipped_records": {k.split(".", 1)[1]: v for k, v in sorted(counters.items())
                            if k.startswith("read/skipped.")},
        "input_files": counters.get("read/files", 0),
        "funnel": funnel,
        "removed_by_reason": {f"{s}/{f}/{r}": n for (s, f, r), n in sorted(removed_by.items())},
        "errors_by_class": {f"{s}/{c}": n for (s, c), n in sorted(errors_by.items())},
        "retryable_errors": sum(n for (_, c), n in errors_by.items() if c in RETRYABLE_ERROR_CLASSES),
        "languages": dict(Counter(lang or "unknown" for lang in docs["lang"].to_pylist()).most_common()),
        "length_histogram": _histogram(lengths, LENGTH_BINS),
        "cluster_size_histogram": _histogram([n for n in docs["cluster_size"].to_pylist() if n], CLUSTER_BINS),
        "counters": dict(sorted(counters.items())),
    }


def _histogram(values: list[int], edges: tuple[int, ...]) -> dict[str, int]:
    bins = Counter(max(b for b in edges if b <= n) for n in values)
    return {f">={b}": bins.get(b, 0) for b in edges}


def write_report(out: str, report: dict, title: str) -> None:
    for name, body in (("report.json", json.dumps(report, indent=2, sort_keys=True)),
                       ("report.html", render_html(report, title))):
        with FileSystems.create(FileSystems.join(out, name)) as f:
            f.write(body.encode("utf-8"))


def _bars(rows: list[tuple[str, int]], color: str) -> str:
    """A horizontal bar chart as inline SVG (no plotting dependency needed for a report)."""
    if not rows:
        return "<p>none</p>"
    top = max(n for _, n in rows) or 1
    height = 22 * len(rows) + 4
    parts = [f'<svg width="760" height="{height}" role="img">']
    for i, (label, n) in enumerate(rows):
        y = 22 * i + 2
        width = 420 * n / top
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{html.escape(str(label))}</text>'
                     f'<rect x="260" y="{y}" width="{width:.1f}" height="18" fill="{color}"/>'
                     f'<text x="{266 + width:.1f}" y="{y + 15}" font-size="13">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _synth_sections(report: dict) -> str:
    """Pass-rate histogram and acceptance per source, for synthesis builds."""
    counters = report.get("counters", {})
    rates = [(k.removeprefix("synth/pass_rate."), n) for k, n in sorted(counters.items())
             if k.startswith("synth/pass_rate.")]
    if not rates:
        return ""
    accepted = [(k.removeprefix("synth/accepted."), n) for k, n in sorted(counters.items())
                if k.startswith("synth/accepted.")]
    return (f"<h2>Problems by pass rate (share of samples verified)</h2>{_bars(rates, '#4bacc6')}"
            f"<h2>Accepted samples per source</h2>{_bars(accepted, '#9bbb59')}")


def render_html(report: dict, title: str) -> str:
    """The same counts for people: the funnel, removals by reason, languages and lengths."""
    funnel = [(f"{s['stage']}: {s['filter']}", s["removed"] + s["errors"]) for s in report["funnel"]]
    reasons = sorted(report["removed_by_reason"].items(), key=lambda kv: -kv[1])[:30]
    langs = list(report["languages"].items())[:20]
    check = "holds" if report["accounting_ok"] else "DOES NOT HOLD"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:900px}}td,th{{padding:2px 10px;text-align:right}}</style>
</head><body><h1>{html.escape(title)}</h1>
<p>inputs {report['inputs']} = kept {report['kept']} + removed {report['removed']} + errors {report['errors']}:
<b>{check}</b></p>
<h2>Removal funnel (removed + errors per step)</h2>{_bars(funnel, '#c0504d')}
<table><tr><th>stage</th><th>filter</th><th>in</th><th>removed</th><th>errors</th><th>out</th></tr>
{''.join(f"<tr><td>{s['stage']}</td><td>{s['filter']}</td><td>{s['in']}</td><td>{s['removed']}</td>"
         f"<td>{s['errors']}</td><td>{s['out']}</td></tr>" for s in report['funnel'])}</table>
<h2>Removals by reason</h2>{_bars(reasons, '#4f81bd')}
<h2>Languages of kept documents</h2>{_bars(langs, '#9bbb59')}
<h2>Kept document length (characters)</h2>{_bars(list(report['length_histogram'].items()), '#8064a2')}
<h2>Duplicate-cluster sizes of kept documents</h2>{_bars(list(report['cluster_size_histogram'].items()), '#f79646')}
{_synth_sections(report)}
<h2>Skipped WARC records by kind</h2>{_bars(list(report['skipped_records'].items()), '#777')}
</body></html>
"""
