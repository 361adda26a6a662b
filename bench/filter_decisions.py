"""Every language-ID and text-rule decision on thousands of real documents, and a diff of two such runs.

A change that should only make the rules faster is checked by running this on the code before and
after it, on the same extracted texts, and comparing: every keep/drop and reason must be the same,
every score equal within float rounding, every rewritten text the same.

    # 1. extract the documents once (extraction is not what is compared)
    .venv/bin/python bench/filter_decisions.py extract /tmp/decisions/docs.jsonl.gz [--docs 5000]
    # 2. decide with each version of the code (PYTHONPATH selects which `corpusmill` is imported)
    .venv/bin/python bench/filter_decisions.py decide /tmp/decisions/docs.jsonl.gz /tmp/decisions/after.jsonl
    # 3. list every difference
    .venv/bin/python bench/filter_decisions.py compare /tmp/decisions/before.jsonl /tmp/decisions/after.jsonl

Documents: the corpus bench/curate.py builds (bench/corpus.py: real pages repeated under new ids up to
--docs records), extracted with trafilatura and with resiliparse; plus, when ../shared/data is here, the
real text corpora, DCLM's annotated Common Crawl pages, 532 UDHR translations (every script and word
segmenter) and reasoning traces (the repetition check of synth/verifiers/traces.py).

Steps written per document (JSON lines: id, source, step, keep, reason, scores, and label or text_sha):
`langid` (the LanguageIdentifier under test, decided by language_v1 with the default config); each rule
on the extracted text, with the language a fixed reference LID gives (fastText on the first 20,000
characters) so a language-ID change cannot move the rules' inputs; `fineweb_quality_v1@c4` on the text
C4 rewrites (what FineWeb sees in a curate run); `chain`, the curate order with the LID under test.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

C4_BENCH = {"filter_no_terminal_punct": False}  # the C4 parameters bench/curate.py runs with
RULES = (("gopher_repetition_v1", {}), ("gopher_quality_v1", {}), ("c4_quality_v1", {}),
         ("c4_quality_v1", C4_BENCH), ("fineweb_quality_v1", {}), ("pii_redaction_v1", {}))
REFERENCE_LID_CHARS = 20_000  # what core/language_id.py read before issue 14


def _step(name: str, params: dict) -> str:
    return name + ("[" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + "]" if params else "")


# ---------------------------------------------------------------- extract

def _bench_docs(n_docs: int) -> list[dict]:
    from bench.corpus import real_pages
    from corpusmill.core.extraction import HtmlExtractor
    from corpusmill.schemas.config import ExtractConfig

    pages, where = real_pages()
    print(f"bench corpus: {n_docs} records over {len(pages)} real pages from {where}", file=sys.stderr)
    docs = []
    for extractor in ("trafilatura", "resiliparse"):
        extract = HtmlExtractor(ExtractConfig(extractor=extractor, timeout_s=0))
        extract.setup()
        texts = [extract(html, None).text for _, html in pages]
        for i in range(n_docs):  # the records write_corpus writes: page i % len(pages), a new URL each
            url = pages[i % len(pages)][0]
            if texts[i % len(pages)]:
                docs.append({"id": f"{url}?copy={i}#{extractor}", "source": f"bench/{extractor}",
                             "text": texts[i % len(pages)]})
    return docs


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _shared_docs() -> list[dict]:
    docs: list[dict] = []
    if not SHARED.is_dir():
        return docs
    corpora = SHARED / "text_corpora"
    for path in sorted(corpora.glob("*.jsonl*")):
        docs += [{"id": f"{path.name}/{i}", "source": "text_corpora", "text": r["text"]}
                 for i, r in enumerate(_jsonl(path))]
    c4 = json.loads((corpora / "llamafactory_c4_demo.json").read_text(encoding="utf-8"))
    docs += [{"id": f"c4_demo/{i}", "source": "text_corpora", "text": r["text"]} for i, r in enumerate(c4)]
    wiki = (corpora / "llamafactory_wiki_demo.txt").read_text(encoding="utf-8").splitlines()
    docs += [{"id": f"wiki_demo/{i}", "source": "text_corpora", "text": t} for i, t in enumerate(wiki) if t]
    lines = (corpora / "tinyshakespeare.txt").read_text(encoding="utf-8").split("\n")
    docs += [{"id": f"shakespeare/{i}", "source": "text_corpora", "text": "\n".join(lines[i:i + 100])}
             for i in range(0, len(lines), 100)]
    seen = set()
    for path in sorted((SHARED / "quality").glob("*.jsonl")):
        for i, r in enumerate(_jsonl(path)):
            if r["text"] not in seen:
                seen.add(r["text"])
                docs.append({"id": f"{path.name}/{i}", "source": "dclm", "text": r["text"]})
    for r in _jsonl(SHARED / "langid" / "udhr_532_declarations.jsonl.gz"):
        docs.append({"id": f"udhr/{r['code']}", "source": "udhr", "text": r["text"]})
    return docs


def _traces() -> list[dict]:
    """(prompt, completion) pairs from the shared reasoning traces, for the repetition check."""
    pairs: list[dict] = []
    folder = SHARED / "reasoning_traces"
    if not folder.is_dir():
        folder = ROOT / "tests" / "data" / "traces"
    for path in sorted(folder.glob("*.jsonl")):
        for i, r in enumerate(_jsonl(path)):
            prompt = r.get("question") or r.get("problem") or ""
            outs = [r["completion"]] if "completion" in r else r.get("code") or []
            pairs += [{"id": f"{path.name}/{i}/{k}", "source": "traces", "prompt": prompt, "text": out}
                      for k, out in enumerate(outs) if isinstance(out, str)]
    return pairs


def extract(out: Path, n_docs: int) -> None:
    docs = _bench_docs(n_docs) + _shared_docs() + _traces()
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    by_source = Counter(d["source"] for d in docs)
    distinct = len({d["text"] for d in docs})
    print(f"{len(docs)} documents ({distinct} distinct texts): {dict(by_source)} -> {out}", file=sys.stderr)


# ---------------------------------------------------------------- decide

def _sha(text: str | None) -> str | None:
    return None if text is None else hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _row(doc: dict, step: str, verdict, **extra) -> dict:
    row = {"id": doc["id"], "source": doc["source"], "step": step, "keep": verdict.keep, "reason": verdict.reason,
           "scores": verdict.scores}
    if verdict.text is not None:
        row["text_sha"] = _sha(verdict.text)
    return {**row, **extra}


def decide(docs_path: Path, out: Path) -> None:
    import dataclasses

    import fasttext

    import corpusmill
    from corpusmill.core.language_id import LanguageIdentifier, default_model_path
    from corpusmill.filters.base import Verdict, make_filter
    from corpusmill.filters.language import LanguageFilter
    from corpusmill.schemas.config import LangIdConfig, TraceChecksConfig
    from corpusmill.schemas.records import Document
    from corpusmill.synth.verifiers.traces import TraceChecks

    print(f"corpusmill from {list(corpusmill.__path__)[0]} "
          f"(core: {Path(sys.modules['corpusmill.core'].__file__).parent})", file=sys.stderr)
    fasttext.FastText.eprint = lambda *_a, **_k: None
    reference = fasttext.load_model(str(default_model_path()))

    def reference_lang(text: str) -> str | None:
        sample = " ".join(text[:REFERENCE_LID_CHARS].split())
        return reference.predict(sample, k=1)[0][0].removeprefix("__label__") if sample else None

    lid = LanguageIdentifier()
    language = LanguageFilter(LangIdConfig())
    rules = [(_step(name, params), make_filter(name, params)) for name, params in RULES]
    c4_bench, fineweb = make_filter("c4_quality_v1", C4_BENCH), make_filter("fineweb_quality_v1")
    chain = [language, make_filter("gopher_repetition_v1"), make_filter("gopher_quality_v1"), c4_bench, fineweb,
             make_filter("pii_redaction_v1")]
    traces = TraceChecks(TraceChecksConfig())
    n = 0
    with gzip.open(docs_path, "rt", encoding="utf-8") as f, open(out, "w", encoding="utf-8") as w:
        for line in f:
            d = json.loads(line)
            n += 1
            rows = []
            if d["source"] == "traces":
                reason = traces.problem(d["prompt"], d["text"], lambda t: (reference_lang(t) or "und", 1.0))
                rows.append(_row(d, "trace_checks", Verdict(reason is None, reason)))
            else:
                label, score = lid.identify(d["text"])
                doc = Document(id=d["id"], text=d["text"], source=d["source"], input_file="-", lang=label,
                               lang_score=score)
                rows.append(_row(d, "langid", language(doc), label=label))
                ref = dataclasses.replace(doc, lang=reference_lang(d["text"]))
                for step, rule in rules:
                    rows.append(_row(d, step, rule(ref)))
                rewritten = c4_bench(ref)
                if rewritten.keep:
                    after_c4 = dataclasses.replace(ref, text=rewritten.text)
                    rows.append(_row(d, "fineweb_quality_v1@c4", fineweb(after_c4)))
                current, last = doc, None
                for step in chain:
                    last = step(current)
                    if not last.keep:
                        rows.append(_row(d, "chain", last, at=step.name))
                        break
                    if last.text is not None:
                        current = dataclasses.replace(current, text=last.text)
                else:
                    rows.append(_row(d, "chain", Verdict.rewrite(current.text)))
            for row in rows:
                w.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{n} documents decided -> {out}", file=sys.stderr)


# ---------------------------------------------------------------- compare

def _same_score(a: float, b: float) -> bool:
    return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def compare(before_path: Path, after_path: Path, show: int) -> int:
    """Print every difference between two runs; returns how many there are outside language ID."""
    before = {(r["id"], r["step"]): r for r in _jsonl(before_path)}
    after = {(r["id"], r["step"]): r for r in _jsonl(after_path)}
    decisions: dict[str, list[str]] = defaultdict(list)  # keep, reason, label or rewritten text differ
    scores: dict[str, list[str]] = defaultdict(list)  # only scores differ
    seen: Counter = Counter()
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        step = key[1]
        seen[step] += 1
        if a is None or b is None:
            decisions[step].append(f"{key[0]}: only in {'after' if a is None else 'before'}")
            continue
        what = []
        if (a["keep"], a["reason"], a.get("at")) != (b["keep"], b["reason"], b.get("at")):
            what.append(f"{a.get('at', '')} {a['keep']}/{a['reason']} -> {b.get('at', '')} {b['keep']}/{b['reason']}")
        if a.get("label") != b.get("label"):
            what.append(f"label {a.get('label')} -> {b.get('label')}")
        if a.get("text_sha") != b.get("text_sha"):
            what.append("rewritten text differs")
        sa, sb = a["scores"], b["scores"]
        if set(sa) != set(sb):
            what.append(f"score keys {sorted(set(sa) ^ set(sb))}")
        moved = [f"{k} {sa[k]!r} -> {sb[k]!r}" for k in sorted(set(sa) & set(sb)) if not _same_score(sa[k], sb[k])]
        if what:
            decisions[step].append(f"{key[0]}: " + "; ".join(what + moved))
        elif moved:
            scores[step].append(f"{key[0]}: " + "; ".join(moved))
    ids = {k[0] for k in before}
    print(f"{len(ids)} documents, {len(before)} decisions before, {len(after)} after")
    print(f"{'step':<46}{'compared':>9}{'decision differs':>18}{'only scores differ':>20}")
    for step in sorted(seen):
        print(f"{step:<46}{seen[step]:>9}{len(decisions[step]):>18}{len(scores[step]):>20}")
        for line in decisions[step][:show] + scores[step][: max(show - len(decisions[step]), 0)]:
            print(f"    {line}")
    _lid_agreement(before, after)
    return sum(len(decisions[k]) + len(scores[k]) for k in seen if k not in ("langid", "chain"))


def _lid_agreement(before: dict, after: dict) -> None:
    """Agreement of (label, keep at the configured threshold) between the two runs' language ID, by source."""
    same: Counter = Counter()
    same_label: Counter = Counter()
    total: Counter = Counter()
    for (doc_id, step), a in before.items():
        b = after.get((doc_id, step))
        if step != "langid" or b is None:
            continue
        group = a["source"].split("/")[0]
        total[group] += 1
        same_label[group] += a["label"] == b["label"]
        same[group] += (a["label"], a["keep"]) == (b["label"], b["keep"])
    print("language ID agreement, (label, keep) and label alone:")
    for group in sorted(total):
        print(f"    {group:<14}{same[group]:>6}/{total[group]:<6} {100 * same[group] / total[group]:7.2f}%"
              f"   label {same_label[group]}/{total[group]} {100 * same_label[group] / total[group]:.2f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("extract")
    p.add_argument("out", type=Path)
    p.add_argument("--docs", type=int, default=5000, help="bench corpus records (each extracted twice)")
    p = sub.add_parser("decide")
    p.add_argument("docs", type=Path)
    p.add_argument("out", type=Path)
    p = sub.add_parser("compare")
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--show", type=int, default=20, help="differences listed per step")
    args = parser.parse_args()
    if args.command == "extract":
        extract(args.out, args.docs)
    elif args.command == "decide":
        decide(args.docs, args.out)
    else:
        sys.exit(1 if compare(args.before, args.after, args.show) else 0)


if __name__ == "__main__":
    main()
