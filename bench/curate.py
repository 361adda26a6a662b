"""Benchmark: `corpusmill curate` against the equivalent datatrove pipeline, side by side.

Both run as separate processes on the same WARC files on this machine, with every core
(corpusmill: Beam DirectRunner multi_processing with one worker per core; datatrove:
LocalPipelineExecutor with one task per file and one worker per core). Prints docs/s of
each, documents kept by each, and the ratios. Start-up time is included on both sides.

    .venv/bin/python bench/curate.py [--docs 2000] [--files 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import write_corpus  # noqa: E402

BIN = Path(sys.executable).parent


def _timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - started


def run_corpusmill(corpus: Path, work: Path, extractor: str) -> tuple[float, int]:
    config = work / f"curate-{extractor}.yaml"
    config.write_text(
        "stage: curate\n"
        f"extract: {{extractor: {extractor}, timeout_s: 5}}\n"
        "filters:\n  - name: gopher_repetition_v1\n  - name: gopher_quality_v1\n"
        "  - name: c4_quality_v1\n    params: {filter_no_terminal_punct: false}\n  - name: fineweb_quality_v1\n"
    )
    out = work / f"corpusmill-{extractor}"
    seconds = _timed([str(BIN / "corpusmill"), "curate", "--config", str(config), "--output", str(out),
                      "--input", str(corpus)])
    report = json.loads((out / "report.json").read_text())
    return seconds, report["kept"]


def run_datatrove(corpus: Path, work: Path, files: int) -> tuple[float, int]:
    out, logs = work / "datatrove", work / "datatrove-logs"
    seconds = _timed([sys.executable, str(ROOT / "bench" / "datatrove_curate.py"), str(corpus), str(out),
                      str(logs), str(files), str(os.cpu_count() or 1)])
    kept = ds.dataset(out, format="parquet").count_rows() if out.exists() else 0
    return seconds, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--files", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-curate-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        origin = write_corpus(corpus, args.docs, args.files)
        print(f"corpus: {args.docs} WARC response records in {args.files} files; {origin}")
        print(f"machine: {os.cpu_count()} cores\n")
        dt_s, dt_kept = run_datatrove(corpus, work, args.files)
        rows = [("datatrove (trafilatura)", dt_s, dt_kept)]
        for extractor in ("trafilatura", "resiliparse"):
            s, kept = run_corpusmill(corpus, work, extractor)
            rows.append((f"corpusmill ({extractor})", s, kept))
        print(f"{'pipeline':<28}{'seconds':>9}{'docs/s':>9}{'kept':>7}")
        for name, s, kept in rows:
            print(f"{name:<28}{s:>9.1f}{args.docs / s:>9.1f}{kept:>7}")
        print()
        for name, s, _ in rows[1:]:
            print(f"ratio {name} / datatrove (trafilatura): {dt_s / s:.2f}x")


if __name__ == "__main__":
    main()
