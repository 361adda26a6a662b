"""Benchmark: domain scoring and the recall loop.

1. The classifier step alone: the shipped `math` classifier scoring real documents (prepared text
   + fastText predict), in one process per core; docs/s (target >= 10,000 on 2 cores).
2. The whole stage: `corpusmill curate` with and without the three `domain_classifier_v1` filters on
   the same WARC corpus (bench/corpus.py), docs/s of each, so the classifiers' share shows.
3. The recall loop: `corpusmill recall` (configs/recall.yaml on a pool of the corpus' pages), time
   per iteration.

Reads ../shared/data when it is there (and says when it is not).

    .venv/bin/python bench/domains.py [--docs 2000] [--files 4]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import real_pages, write_corpus  # noqa: E402

BIN = Path(sys.executable).parent


def _texts() -> tuple[list[str], str]:
    from corpusmill.core.extraction import HtmlExtractor
    from corpusmill.schemas.config import ExtractConfig

    pages, where = real_pages()
    extractor = HtmlExtractor(ExtractConfig(extractor="resiliparse", timeout_s=0))
    texts = [t for _, html in pages if (t := extractor(html, None).text)]
    return texts, where


def _score_chunk(texts: list[str]) -> int:
    from corpusmill.core.text_classifier import classifier_from_card

    classifier, _ = classifier_from_card("math")
    classifier.setup()
    for text in texts:
        classifier.probability(text, "math")
    return len(texts)


def classifier_step(texts: list[str], workers: int, repeat: int) -> float:
    work = texts * repeat
    chunks = [work[i::workers] for i in range(workers)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        pool.map(_score_chunk, [c[:50] for c in chunks])  # load the model in every worker first
        started = time.perf_counter()
        done = sum(pool.map(_score_chunk, chunks))
    return done / (time.perf_counter() - started)


def _curate(corpus: Path, out: Path, domains: bool) -> float:
    config = out.with_suffix(".yaml")
    filters = "[]" if not domains else (
        "[{name: domain_classifier_v1, params: {model: math, label: math}}, "
        "{name: domain_classifier_v1, params: {model: code, label: code}}, "
        "{name: domain_classifier_v1, params: {model: quality, label: high}}]")
    config.write_text("extract: {extractor: resiliparse}\nlangid: {languages: []}\npii: null\n"
                      f"filters: {filters}\n")
    started = time.perf_counter()
    subprocess.run([str(BIN / "corpusmill"), "curate", "--config", str(config), "--output", str(out), "--input",
                    str(corpus)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    texts, where = _texts()
    print(f"corpus: {len(texts)} real pages with text from {where}")
    rate = classifier_step(texts, workers, max(1, 20_000 // len(texts)))
    print(f"1. classifier step alone (math, {workers} processes): {rate:,.0f} docs/s (target >= 10,000)")

    with tempfile.TemporaryDirectory(prefix="corpusmill-bench-domains-") as tmp:
        work = Path(tmp)
        write_corpus(work / "corpus", args.docs, args.files)
        plain = _curate(work / "corpus", work / "plain", domains=False)
        scored = _curate(work / "corpus", work / "scored", domains=True)
        kept = json.loads((work / "scored" / "report.json").read_text())["kept"]
        print(f"2. corpusmill curate, {args.docs} pages: {args.docs / plain:.1f} docs/s without, "
              f"{args.docs / scored:.1f} docs/s with the math, code and quality classifiers ({kept} kept and "
              f"scored; the three add {scored - plain:.1f} s)")

        pool = work / "pool.jsonl"
        pool.write_text("".join(json.dumps({"id": f"p{i}", "url": f"https://host{i % 40}.example/{i}", "text": t})
                                + "\n" for i, t in enumerate(texts)))
        config = work / "recall.yaml"
        config.write_text((ROOT / "configs" / "recall.yaml").read_text().replace(
            "paths: [tests/data/web/, tests/data/text/]", f"paths: [{pool}]"))
        started = time.perf_counter()
        subprocess.run([str(BIN / "corpusmill"), "recall", "--config", str(config), "--output", str(work / "recall")],
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        report = json.loads((work / "recall" / "report.json").read_text())
        n = len(report["iterations"])
        print(f"3. corpusmill recall, pool of {len(texts)} pages, {n} iterations: {seconds:.1f} s, "
              f"{seconds / n:.1f} s per iteration (classifier training, negatives draw and pool scoring included)")


if __name__ == "__main__":
    main()
