"""report.html: the figures of report.json for people, with inline SVG bar charts (no plotting
dependency, no network: the page opens from disk)."""

from __future__ import annotations

import html


def bars(rows: list[tuple[str, int]], color: str) -> str:
    """A horizontal bar chart as inline SVG (no plotting dependency needed for a report)."""
    if not rows:
        return "<p>none</p>"
    top = max(n for _, n in rows) or 1
    height = 22 * len(rows) + 4
    parts = [f'<svg class="plot" width="760" height="{height}" role="img">']
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
    return (f"<h2>Problems by pass rate (share of samples verified)</h2>{bars(rates, '#4bacc6')}"
            f"<h2>Accepted samples per source</h2>{bars(accepted, '#9bbb59')}")


def _mix_section(report: dict) -> str:
    """A mixture's sources: planned against achieved shares, tokens and epochs."""
    mix = report.get("mix")
    if not mix:
        return ""
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(name)}</td><td>{s['share']['planned']:.4f}</td>"
        f"<td>{s['share']['achieved']:.4f}</td><td>{s['tokens']['planned']}</td><td>{s['tokens']['achieved']}</td>"
        f"<td>{s['epochs']['achieved']:.3f}</td><td>{s['documents']['achieved']}</td><td>{s['documents']['copies']}</td>"
        "</tr>" for name, s in sorted(mix["sources"].items()))
    total = mix["total_tokens"]
    return (f"<h2>Mixture: planned vs achieved (seed {mix['seed']})</h2>"
            f"<p>tokens planned {total['planned']}, achieved {total['achieved']}; tokenizer sha256 "
            f"{html.escape(mix['tokenizer']['sha256'][:16])}…</p>"
            "<table><tr><th>source</th><th>share planned</th><th>share achieved</th><th>tokens planned</th>"
            f"<th>tokens achieved</th><th>epochs</th><th>documents</th><th>copies</th></tr>{rows}</table>")


def _tag_sections(report: dict) -> str:
    """Removals by tag per step: the benchmarks decontamination matched."""
    return "".join(f"<h2>{html.escape(step)}: removals by {html.escape(kind)}</h2>{bars(rows, '#c0504d')}"
                   for step, tags in report.get("removed_by_tag", {}).items()
                   for kind, rows in _by_kind(tags).items())


def _by_kind(tags: dict[str, int]) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {}
    for tag, n in tags.items():
        kind, _, value = tag.partition(".")
        out.setdefault(kind, []).append((value, n))
    return out


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
{_mix_section(report)}
<h2>Removal funnel (removed + errors per step)</h2>{bars(funnel, '#c0504d')}
<table><tr><th>stage</th><th>filter</th><th>in</th><th>removed</th><th>errors</th><th>out</th></tr>
{''.join(f"<tr><td>{s['stage']}</td><td>{s['filter']}</td><td>{s['in']}</td><td>{s['removed']}</td>"
         f"<td>{s['errors']}</td><td>{s['out']}</td></tr>" for s in report['funnel'])}</table>
<h2>Removals by reason</h2>{bars(reasons, '#4f81bd')}
{_tag_sections(report)}
<h2>Languages of kept documents</h2>{bars(langs, '#9bbb59')}
<h2>Kept document length (characters)</h2>{bars(list(report['length_histogram'].items()), '#8064a2')}
<h2>Duplicate-cluster sizes of kept documents</h2>{bars(list(report['cluster_size_histogram'].items()), '#f79646')}
{_synth_sections(report)}
<h2>Skipped WARC records by kind</h2>{bars(list(report['skipped_records'].items()), '#777')}
</body></html>
"""
