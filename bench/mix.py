"""Benchmark: decontamination and mixing, through the installed `corpusmill` command.

1. Planted contamination: passages of every benchmark in ../shared/data/math and ../shared/data/code
   (whole items, 15-word parts, re-wrapped one word per line, other spacing, upper case, and quoted
   inside Chinese pages) planted into real documents, mixed by `corpusmill mix` with all those
   benchmarks as its decontamination index: how many planted passages are removed, and how many clean
   real documents are (the false-positive rate; target < 0.1%).
2. Decontamination's cost in curate: `corpusmill curate` (configs/curate.yaml's filters) on the same
   WARC corpus with and without decontamination_v1 over that index (target: < 20% of curate's time),
   and the filter alone in one process per core, docs/s.
3. Mix throughput: `corpusmill mix` on real text in Parquet shards, tokens/s including reading,
   tokenization, planning and writing text and Megatron token shards (target >= 1M tokens/s).

Reads ../shared/data when it is there and says so when it is not (then only the small benchmark files
of tests/data are the index, and the figures are not the ones to report).

    .venv/bin/python bench/mix.py [--planted 3000] [--docs 2000] [--tokens 20000000]
"""

from __future__ import annotations

import argparse
import glob
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from bench.corpus import real_pages, write_corpus  # noqa: E402

BIN = Path(sys.executable).parent
UDHR_TEXTS: set[str] = set()
MIN_WORDS = 10
WORD = re.compile(r"[^\W\d_]{2,}")  # a word for the "every passage of >= 10 words" count: two or more letters


def benchmark_files() -> tuple[list[str], str]:
    files = sorted(glob.glob(str(SHARED / "math" / "**" / "*.jsonl"), recursive=True)
                   + glob.glob(str(SHARED / "code" / "**" / "*.jsonl"), recursive=True))
    if files:
        return files, f"{len(files)} benchmark files under {SHARED}/math and /code (shared data)"
    files = sorted(str(p) for p in (ROOT / "tests" / "data" / "eval").glob("*.jsonl"))
    return files, "tests/data/eval only: ../shared/data is not here, so the index is two small benchmarks"


def clean_documents() -> tuple[list[str], list[str], str]:
    """(English and other real documents, Chinese pages, where they came from)."""
    from corpusmill.core.extraction import HtmlExtractor
    from corpusmill.schemas.config import ExtractConfig

    docs = []
    for name in ("general_negatives.jsonl", "dclm_quality_majority.jsonl"):  # (code_positives holds MBPP itself)
        docs += [json.loads(line)["text"] for line in (ROOT / "tests/data/classifiers" / name).open()]
    pages, where = real_pages()
    extractor = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=0))
    docs += [t for _, html in pages if (t := extractor(html, None).text)]
    corpora = SHARED / "text_corpora"
    if corpora.is_dir():
        for path in sorted(corpora.glob("datajuicer_*.jsonl")):
            docs += [json.loads(line)["text"] for line in path.open() if line.strip()]
        docs += [r["text"] for r in json.loads((corpora / "llamafactory_c4_demo.json").read_text())]
        wiki = (corpora / "llamafactory_wiki_demo.txt").read_text().split("\n")
        docs += [line for line in wiki if len(line.split()) > 50]
        udhr = SHARED / "langid" / "udhr_532_declarations.jsonl.gz"
        import gzip

        with gzip.open(udhr, "rt", encoding="utf-8") as f:
            UDHR_TEXTS.update(json.loads(line)["text"] for line in f)
        docs += sorted(UDHR_TEXTS)
    chinese = [json.loads(line)["text"] for line in (ROOT / "tests/data/mix/udhr_chinese.jsonl").open()]
    chinese = ["".join(chinese[i:i + 8]) for i in range(0, len(chinese), 8)]
    return [d for d in docs if d.strip()], chinese, where


def passages(files: list[str]) -> list[tuple[str, str]]:
    """(benchmark file, item text) of every item with at least MIN_WORDS words."""
    from corpusmill.filters.decontamination import read_items

    out = []
    for path in files:
        texts, _ = read_items(path)
        out += [(Path(path).parent.name + "/" + Path(path).name, t) for t in texts if len(t.split()) >= MIN_WORDS]
    return out


def _variants(rng: random.Random, chinese: list[str]):
    def part(q: str) -> str:
        words = q.split()
        start = rng.randrange(0, max(1, len(words) - 15))
        return " ".join(words[start:start + 15])

    return [("whole", lambda q: q), ("part of 15 words", part),
            ("re-wrapped", lambda q: "\n".join(q.split())),
            ("other spacing", lambda q: "  \t ".join(q.split())),
            ("upper case", lambda q: q.upper()),
            ("in a Chinese page", lambda q: f"{rng.choice(chinese)}\n题目：{q}\n{rng.choice(chinese)}")]


def planted(args, work: Path, files: list[str]) -> None:
    rng = random.Random(0)
    clean, chinese, where = clean_documents()
    items = passages(files)
    variants = _variants(rng, chinese)
    rows, planted_kind = [], {}
    for i in range(args.planted):
        bench, item = items[rng.randrange(len(items))]
        kind, make = variants[i % len(variants)]
        host = rng.choice(clean)
        cut = rng.randrange(0, max(1, min(len(host), 3000)))
        doc_id = f"planted-{i:05d}"
        make_text = make(item)
        words = len(WORD.findall(item if kind == "in a Chinese page" else make_text))
        planted_kind[doc_id] = (kind, bench, make_text, words)
        rows.append({"id": doc_id, "text": f"{host[:cut]}\n{make_text}\n{host[cut:cut + 3000]}"})
    rows += [{"id": f"clean-{i:05d}", "text": t} for i, t in enumerate(clean + chinese)]
    source = work / "planted.jsonl"
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    config = work / "planted.yaml"
    config.write_text(json.dumps({"stage": "mix", "sources": [{"name": "web", "paths": [str(source)], "weight": 1}],
                                  "decontamination": files, "output": {"tokens": "none"}}))
    out = work / "planted"
    _run("mix", config, out)
    import pyarrow.parquet as pq

    removed = {r["id"]: r["detail"] for r in pq.read_table(out / "removed").to_pylist()
               if r["reason"] == "contaminated"}
    n_clean = len(rows) - args.planted
    print(f"1. planted contamination ({len(items)} benchmark items of >= {MIN_WORDS} words; clean documents: "
          f"{n_clean} real documents from tests/data, {where} and the shared text corpora and UDHR):")
    by_kind: dict[str, list[int]] = {}
    for doc_id, (kind, _, _, words) in planted_kind.items():
        counts = by_kind.setdefault(kind, [0, 0, 0, 0])
        counts[0] += 1
        counts[1] += doc_id in removed
        counts[2] += words >= MIN_WORDS
        counts[3] += words >= MIN_WORDS and doc_id in removed
    print(f"   {'planted as':<20} {'with >= 10 words':>18} {'all':>12}")
    for kind, (n, caught, n_words, caught_words) in by_kind.items():
        print(f"   {kind:<20} {caught_words:>8}/{n_words:<5} removed {caught:>5}/{n:<5} removed")
    totals = [sum(c[i] for c in by_kind.values()) for i in range(4)]
    print(f"   {'all':<20} {totals[3]:>8}/{totals[2]:<5} removed {totals[1]:>5}/{totals[0]:<5} removed")
    print("   (words: runs of two or more letters, so formula symbols and numbers do not count; a passage of fewer is "
          "left by design: n-grams of only numbers, single characters or symbols never match)")
    for doc_id, (kind, bench, passage, words) in sorted(planted_kind.items()):
        if doc_id not in removed:
            print(f"   missed{' (>= 10 words)' if words >= MIN_WORDS else ''}: {doc_id} ({kind}, {bench}, {words} "
                  f"words): {passage[:160]!r}")
    false = {k: v for k, v in removed.items() if k.startswith("clean-")}
    print(f"   false positives: {len(false)}/{n_clean} clean documents = {100 * len(false) / n_clean:.3f}% "
          "(target < 0.1%)")
    texts = {r["id"]: r["text"] for r in rows}
    for doc_id, detail in sorted(false.items()):
        print(f"   flagged clean: {doc_id}: {detail[:160]!r}\n      document: {texts[doc_id][:300]!r}")


def _filter_chunk(job: tuple[list[str], list[str]]) -> tuple[float, float]:
    from corpusmill.filters.base import make_filter
    from corpusmill.schemas.records import Document

    texts, files = job
    f = make_filter("decontamination_v1", {"eval_files": files})
    started = time.perf_counter()
    f.setup()
    build = time.perf_counter() - started
    started = time.perf_counter()
    for i, text in enumerate(texts):
        f(Document(id=str(i), text=text, source="bench", input_file="bench"))
    return len(texts) / (time.perf_counter() - started), build


def curate_cost(args, work: Path, files: list[str]) -> None:
    corpus_where = write_corpus(work / "corpus", args.docs, 4)
    base = (ROOT / "configs" / "curate.yaml").read_text().replace("paths:\n    - tests/data/web/", "paths: []")
    plain_cfg = work / "curate.yaml"
    plain_cfg.write_text(base)
    decon_cfg = work / "curate-decontaminated.yaml"
    decon_cfg.write_text(base.replace("  # - name: decontamination_v1", "  - name: decontamination_v1\n"
                                      f"    params: {{eval_files: {json.dumps(files)}}}\n  # x"))
    plain = _run("curate", plain_cfg, work / "plain", "--input", str(work / "corpus"))
    decontaminated = _run("curate", decon_cfg, work / "decontaminated", "--input", str(work / "corpus"))
    report = json.loads((work / "decontaminated" / "report.json").read_text())
    step = next(s for s in report["funnel"] if s["filter"] == "decontamination_v1")
    print(f"2. corpusmill curate, {args.docs} pages ({corpus_where}): {plain:.1f} s without, {decontaminated:.1f} s "
          f"with decontamination_v1 over {len(files)} benchmark files: +{decontaminated - plain:.1f} s = "
          f"{100 * (decontaminated - plain) / plain:.1f}% of curate's time (target < 20%); the filter saw "
          f"{step['in']} documents and removed {step['removed']}")
    texts = [json.loads(line)["text"] for line in (work / "planted.jsonl").open()][:4000]
    workers = os.cpu_count() or 1
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_filter_chunk, [(texts[i::workers], files) for i in range(workers)])
    rate, build = sum(r for r, _ in results), max(b for _, b in results)
    share = (step["in"] / rate + build) / plain
    print(f"   the filter alone: {rate:,.0f} docs/s in {workers} processes, index build {build:.1f} s per process: "
          f"{step['in']} documents cost {step['in'] / rate + build:.1f} s = {100 * share:.1f}% of curate's time "
          "(the difference of the two runs above is within their noise when it is smaller than that)")


def throughput(args, work: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    clean, chinese, _ = clean_documents()
    texts = [t for t in clean if t not in UDHR_TEXTS] + chinese  # not 500 scripts a 16K English BPE splits to bytes
    folder = work / "text"
    folder.mkdir()
    size = sum(len(t) for t in texts)
    copies = max(1, args.tokens * 4 // size)  # about 4 characters per token
    rows = [{"id": f"d{c}-{i}", "text": t} for c in range(copies) for i, t in enumerate(texts)]
    shards = 4
    for k in range(shards):
        pq.write_table(pa.Table.from_pylist(rows[k::shards]), folder / f"part-{k}.parquet")
    config = work / "mix.yaml"
    config.write_text(json.dumps({"stage": "mix", "sources": [{"name": "text", "paths": [str(folder)], "weight": 1}],
                                  "output": {"shard_tokens": 5_000_000}}))
    runs = []
    for _ in range(args.repeat):
        shutil.rmtree(work / "mixed", ignore_errors=True)
        runs.append(_run("mix", config, work / "mixed"))
    seconds = statistics.median(runs)
    manifest = json.loads((work / "mixed" / "manifest.json").read_text())
    tokens = manifest["mix"]["total_tokens"]["achieved"]
    print(f"3. corpusmill mix, {len(rows):,} documents in {shards} Parquet shards ({size * copies / 1e6:.0f} MB of "
          f"text), default runner on {os.cpu_count()} cores: {tokens:,} tokens in {seconds:.1f} s (median of "
          f"{', '.join(f'{r:.1f}' for r in runs)}) = {tokens / seconds / 1e6:.2f}M tokens/s (target >= 1M), "
          "reading, tokenizing, planning and writing text and Megatron shards included")
    tiny = work / "tiny.jsonl"
    tiny.write_text(json.dumps({"id": "one", "text": "One short document."}) + "\n")
    tiny_config = work / "tiny.yaml"
    tiny_config.write_text(json.dumps({"stage": "mix",
                                       "sources": [{"name": "one", "paths": [str(tiny)], "weight": 1}]}))
    shutil.rmtree(work / "tiny-out", ignore_errors=True)
    start_up = _run("mix", tiny_config, work / "tiny-out")
    print(f"   the same command on one document takes {start_up:.1f} s (start-up: checks, runner, workers, report); "
          f"after it, the stage ran at {tokens / (seconds - start_up) / 1e6:.2f}M tokens/s")
    from tokenizers import Tokenizer

    from corpusmill.core.bpe import default_tokenizer_path

    tokenizer = Tokenizer.from_file(str(default_tokenizer_path()))
    texts = [r["text"] for r in rows]
    started = time.perf_counter()
    n = sum(len(e.ids) for i in range(0, len(texts), 1024)
            for e in tokenizer.encode_batch_fast(texts[i:i + 1024], add_special_tokens=False))
    alone = time.perf_counter() - started
    print(f"   the tokenizer alone (Hugging Face tokenizers, encode_batch_fast of 1,024 documents on every core) on "
          f"the same documents: {n / alone / 1e6:.2f}M tokens/s, {alone:.1f} s: the ceiling for the stage here")


def _run(stage: str, config: Path, out: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(BIN / "corpusmill"), stage, "--config", str(config), "--output", str(out), *extra],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--planted", type=int, default=3000)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--tokens", type=int, default=20_000_000)
    parser.add_argument("--only", choices=["planted", "curate", "throughput"])
    parser.add_argument("--keep", help="keep the work folder here (for profiling)")
    parser.add_argument("--repeat", type=int, default=3, help="mix runs for the throughput median")
    args = parser.parse_args()
    files, where = benchmark_files()
    print(f"decontamination index: {where}")
    with tempfile.TemporaryDirectory(prefix="corpusmill-bench-mix-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.only in (None, "planted", "curate"):
            planted(args, work, files)
        if args.only in (None, "curate"):
            curate_cost(args, work, files)
        if args.only in (None, "throughput"):
            throughput(args, work)


if __name__ == "__main__":
    main()
