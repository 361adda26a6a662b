"""A build's report.html: one self-contained page (inline SVG and CSS, no script, no network) with the
removal funnel, languages, web hosts and domains, lengths, duplicate clusters, the mixture planned
against achieved, and the change against the previous build."""

from __future__ import annotations

import html

from corpusmill.pipelines.io.report_html import bars

COLORS = {"removed": "#c0504d", "lang": "#9bbb59", "host": "#4bacc6", "domain": "#8064a2", "length": "#8064a2",
          "cluster": "#f79646", "before": "#a6a6a6", "now": "#4f81bd"}


def paired_bars(rows: list[tuple[str, float, float]], labels: tuple[str, str], fmt: str = "{:g}") -> str:
    """Two horizontal bars per row (e.g. previous and this build, planned and achieved) as inline SVG."""
    if not rows:
        return "<p>none</p>"
    top = max(max(a, b) for _, a, b in rows) or 1
    step, height = 40, 40 * len(rows) + 30
    parts = [f'<svg class="plot" width="760" height="{height}" role="img">',
             f'<rect x="260" y="4" width="12" height="12" fill="{COLORS["before"]}"/>'
             f'<text x="278" y="15" font-size="12">{html.escape(labels[0])}</text>'
             f'<rect x="420" y="4" width="12" height="12" fill="{COLORS["now"]}"/>'
             f'<text x="438" y="15" font-size="12">{html.escape(labels[1])}</text>']
    for i, (label, a, b) in enumerate(rows):
        y = 26 + step * i
        parts.append(f'<text x="0" y="{y + 20}" font-size="13">{html.escape(label)}</text>')
        for j, (value, color) in enumerate(((a, COLORS["before"]), (b, COLORS["now"]))):
            width = 400 * value / top
            parts.append(f'<rect x="260" y="{y + 17 * j}" width="{width:.1f}" height="15" fill="{color}"/>'
                         f'<text x="{266 + width:.1f}" y="{y + 17 * j + 12}" font-size="12">'
                         f'{fmt.format(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def columns(histogram: dict[str, int], color: str, axis: str) -> str:
    """A histogram as vertical columns (bins left to right) in inline SVG."""
    if not histogram or not any(histogram.values()):
        return "<p>none</p>"
    # report.json files are written with sorted keys: the bins ">=0", ">=1000", ">=200" come back in text order
    histogram = dict(sorted(histogram.items(), key=lambda kv: float(kv[0].lstrip(">="))))
    top = max(histogram.values())
    width = 64
    parts = [f'<svg class="plot" width="{width * len(histogram) + 20}" height="230" role="img">']
    for i, (label, n) in enumerate(histogram.items()):
        x, h = 10 + width * i, 170 * n / top
        parts.append(f'<rect x="{x}" y="{190 - h:.1f}" width="{width - 8}" height="{h:.1f}" fill="{color}"/>'
                     f'<text x="{x}" y="{185 - h:.1f}" font-size="12">{n}</text>'
                     f'<text x="{x}" y="206" font-size="11">{html.escape(label)}</text>')
    parts.append(f'<text x="10" y="226" font-size="12">{html.escape(axis)}</text></svg>')
    return "".join(parts)


def _change(report: dict) -> str:
    previous = report["previous"]
    if previous is None:
        return "<p>This is the first build under this root.</p>"
    keys = ("input_files", "inputs", "kept", "removed", "errors", "removed_against_earlier_builds",
            "mixture_documents", "mixture_tokens")
    before, now = previous["summary"], report["summary"]
    rows = [(k.replace("_", " "), float(before.get(k) or 0), float(now.get(k) or 0)) for k in keys
            if before.get(k) is not None or now.get(k) is not None]
    table = "".join(f"<tr><td style='text-align:left'>{html.escape(k)}</td><td>{a:g}</td><td>{b:g}</td>"
                    f"<td>{b - a:+g}</td></tr>" for k, a, b in rows)
    langs = sorted(set(previous["languages"]) | set(report["languages"]))
    lang_rows = [(lang, float(previous["languages"].get(lang, 0)), float(report["languages"].get(lang, 0)))
                 for lang in langs][:20]
    names = (f"build {previous['build_id']}", f"build {report['build_id']}")
    return (f"<table><tr><th></th><th>{html.escape(names[0])}</th><th>{html.escape(names[1])}</th>"
            f"<th>change</th></tr>{table}</table>"
            f"<h3>Counts</h3>{paired_bars([r for r in rows if r[0] != 'mixture tokens'], names)}"
            f"<h3>Kept documents per language</h3>{paired_bars(lang_rows, names)}")


def _mixture(report: dict) -> str:
    mix = report["mixture"]
    if not mix:
        why = report.get("skipped", {}).get("mix")
        return f"<p>Mix skipped: {html.escape(why)}.</p>" if why else "<p>This build has no mix stage.</p>"
    rows = [(name, s["share"]["planned"], s["share"]["achieved"]) for name, s in sorted(mix["sources"].items())]
    total = mix["total_tokens"]
    return (f"<p>tokens planned {total['planned']}, achieved {total['achieved']} (seed {mix['seed']})</p>"
            f"{paired_bars(rows, ('planned share', 'achieved share'), '{:.3f}')}")


def render_build_html(report: dict) -> str:
    """The page for one build's report (see nightly/report.py for its fields)."""
    s = report["summary"]
    funnel = [(f"{step['stage']}: {step['filter']}", step["removed"] + step["errors"]) for step in report["funnel"]]
    check = "holds" if report["accounting_ok"] else "DOES NOT HOLD"
    title = f"corpusmill build {report['build_id']}"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:960px}}td,th{{padding:2px 10px;text-align:right}}
section{{margin-bottom:2em}}</style></head><body><h1>{html.escape(title)}</h1>
<p>started {html.escape(str(report['started']))}; {s['input_files']} new input files ({s['input_bytes']} bytes);
deduplicated against {len(report['earlier_builds'])} earlier builds</p>
<p>inputs {s['inputs']} = kept {s['kept']} + removed {s['removed']} + errors {s['errors']} (every stage's
inputs = kept + removed + errors: <b>{check}</b>); {s['removed_against_earlier_builds']} removed as duplicates
of earlier builds</p>
<section id="change"><h2>Change against the previous build</h2>{_change(report)}</section>
<section id="funnel"><h2>Removal funnel (removed + errors per stage and filter)</h2>
{bars(funnel, COLORS['removed'])}</section>
<section id="mixture"><h2>Mixture: planned vs achieved share of tokens</h2>{_mixture(report)}</section>
<section id="languages"><h2>Languages of kept documents</h2>
{bars(list(report['languages'].items())[:20], COLORS['lang'])}</section>
<section id="hosts"><h2>Web hosts of kept documents</h2>{bars(list(report['hosts'].items()), COLORS['host'])}
</section>
<section id="domains"><h2>Domains of kept documents (classifier score &ge; 0.5)</h2>
{bars(list(report['domains'].items()), COLORS['domain']) if report['domains'] else
 '<p>no domain classifier in this build</p>'}</section>
<section id="lengths"><h2>Kept document length</h2>
{columns(report['length_histogram'], COLORS['length'], 'characters (bin lower edge)')}</section>
<section id="clusters"><h2>Duplicate-cluster sizes of kept documents</h2>
{columns(report['cluster_size_histogram'], COLORS['cluster'], 'documents a kept one stands for')}</section>
</body></html>
"""
