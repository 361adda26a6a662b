"""Benchmark: `corpusmill curate` against the equivalent datatrove pipeline, side by side.

Rows (pick with --peers; default all, in this order):

    datatrove-trafilatura    datatrove's FineWeb steps with its Trafilatura step
    datatrove-resiliparse    the same with a Resiliparse step (bench/datatrove_curate.py: datatrove
                             ships none; same call and options as corpusmill's)
    corpusmill-trafilatura   `corpusmill curate`, extract.extractor: trafilatura
    corpusmill-resiliparse   `corpusmill curate`, extract.extractor: resiliparse

Each runs as a separate process, one after another, on the same WARC files (bench/corpus.py) with
every core: corpusmill on Beam's DirectRunner multi_processing with one worker per core;
datatrove on LocalPipelineExecutor with one task per file (its readers shard by file, so
--one-file gives it one task) and min(files, cores) workers. Per row: wall seconds (start-up
included), docs/s, documents kept, and the peak over 0.2 s samples of the summed RSS and PSS of
the whole process tree (bench/proc_tree.py). Then corpusmill/datatrove ratios per extractor and
each row's docs/s against issue 14's target of 500 docs/s.

    .venv/bin/python bench/curate.py [--docs 2000] [--files 4 | --one-file] [--peers a,b,...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.dataset as ds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import SHARED, write_corpus  # noqa: E402
from bench.proc_tree import SAMPLE_INTERVAL_S, TreePeak, run_measured  # noqa: E402

BIN = Path(sys.executable).parent
PEERS = ("datatrove-trafilatura", "datatrove-resiliparse", "corpusmill-trafilatura", "corpusmill-resiliparse")
TARGET_DOCS_PER_S = 500  # issue 14, "curate at crawl speed"
MIB = 1 << 20


@dataclass
class Row:
    """One measured run."""

    peer: str
    seconds: float
    kept: int
    peak: TreePeak
    load_before: float

    @property
    def label(self) -> str:
        tool, extractor = self.peer.split("-")
        return f"{tool} ({extractor})"


def _measured(cmd: list[str], log: Path) -> tuple[float, TreePeak]:
    """Run `cmd` from the repository root with its output in `log`; on failure show the log's tail."""
    with open(log, "wb") as out:
        try:
            return run_measured(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        except subprocess.CalledProcessError:
            tail = log.read_text(errors="replace")[-4000:]
            sys.exit(f"failed: {' '.join(cmd)}\n--- last lines of {log} ---\n{tail}")


def run_corpusmill(corpus: Path, work: Path, extractor: str) -> tuple[float, int, TreePeak]:
    """`corpusmill curate` with FineWeb's filters: (seconds, documents kept, peak memory)."""
    config = work / f"curate-{extractor}.yaml"
    config.write_text(
        "stage: curate\n"
        f"extract: {{extractor: {extractor}, timeout_s: 5}}\n"
        "filters:\n  - name: gopher_repetition_v1\n  - name: gopher_quality_v1\n"
        "  - name: c4_quality_v1\n    params: {filter_no_terminal_punct: false}\n  - name: fineweb_quality_v1\n"
    )
    out = work / f"corpusmill-{extractor}"
    seconds, peak = _measured([str(BIN / "corpusmill"), "curate", "--config", str(config), "--output", str(out),
                               "--input", str(corpus)], work / f"corpusmill-{extractor}.log")
    report = json.loads((out / "report.json").read_text())
    return seconds, report["kept"], peak


def run_datatrove(corpus: Path, work: Path, files: int, extractor: str) -> tuple[float, int, TreePeak]:
    """bench/datatrove_curate.py: (seconds, documents kept, peak memory)."""
    out, logs = work / f"datatrove-{extractor}", work / f"datatrove-{extractor}-logs"
    workers = min(files, os.cpu_count() or 1)  # more workers than tasks would only sit idle
    seconds, peak = _measured([sys.executable, str(ROOT / "bench" / "datatrove_curate.py"), str(corpus), str(out),
                               str(logs), str(files), str(workers), "--extractor", extractor],
                              work / f"datatrove-{extractor}.log")
    kept = ds.dataset(out, format="parquet").count_rows() if out.exists() else 0
    return seconds, kept, peak


def parse_peers(text: str) -> list[str]:
    """Comma-separated peer names, validated, in the order given."""
    peers = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in peers if p not in PEERS]
    if unknown or not peers:
        raise argparse.ArgumentTypeError(f"unknown peer {', '.join(map(repr, unknown)) or '(none given)'}; "
                                         f"known: {', '.join(PEERS)}")
    return peers


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / MIB:.0f}"


def print_rows(rows: list[Row], docs: int) -> None:
    """The table, the corpusmill/datatrove ratios per extractor, and docs/s against the target."""
    print(f"{'pipeline':<26}{'seconds':>9}{'docs/s':>9}{'kept':>7}{'peak RSS MiB':>14}{'peak PSS MiB':>14}"
          f"{'procs':>7}{'load':>6}")
    for r in rows:
        print(f"{r.label:<26}{r.seconds:>9.1f}{docs / r.seconds:>9.1f}{r.kept:>7}{_mib(r.peak.rss_bytes):>14}"
              f"{_mib(r.peak.pss_bytes):>14}{r.peak.processes:>7}{r.load_before:>6.1f}")
    print(f"(RSS and PSS: peak over {SAMPLE_INTERVAL_S} s samples of the sum over the launched command and all its "
          "descendants; summed RSS counts shared pages once per process, PSS splits them; procs: most processes "
          "seen at once; load: 1-minute load average just before the row started)\n")
    by_peer = {r.peer: r for r in rows}
    if any(f"corpusmill-{e}" in by_peer and f"datatrove-{e}" in by_peer for e in ("resiliparse", "trafilatura")):
        print("ratios, corpusmill over datatrove (docs/s above 1: corpusmill faster; RSS above 1: more memory):")
    for extractor in ("resiliparse", "trafilatura"):
        mill, trove = by_peer.get(f"corpusmill-{extractor}"), by_peer.get(f"datatrove-{extractor}")
        if mill and trove:
            memory = (f", peak RSS {mill.peak.rss_bytes / trove.peak.rss_bytes:.2f}x"
                      if trove.peak.rss_bytes else "")
            print(f"corpusmill ({extractor}) / datatrove ({extractor}): docs/s {trove.seconds / mill.seconds:.2f}x"
                  f"{memory}")
    for r in rows:
        rate = docs / r.seconds
        print(f"{r.label}: {rate:.1f} docs/s = {rate / TARGET_DOCS_PER_S:.0%} of the {TARGET_DOCS_PER_S} docs/s target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="WARC response records in the corpus (default 2000)")
    files = parser.add_mutually_exclusive_group()
    files.add_argument("--files", type=int, default=4, help="WARC files the records are spread over (default 4)")
    files.add_argument("--one-file", action="store_true",
                       help="all records in one large WARC file: how each tool spreads one file over the cores")
    parser.add_argument("--peers", type=parse_peers, default=list(PEERS),
                        help=f"comma-separated rows to run, in that order (default all: {','.join(PEERS)})")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR (created; must be empty) and keep the corpus, outputs and logs there")
    args = parser.parse_args()
    n_files = 1 if args.one_file else args.files
    if args.docs < 1 or n_files < 1:
        parser.error(f"--docs and --files must be at least 1, got {args.docs} and {n_files}")

    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty; give a new or empty one")
    with tempfile.TemporaryDirectory(prefix="bench-curate-") as tmp:
        work = Path(tmp) if args.keep is None else args.keep
        work.mkdir(parents=True, exist_ok=True)
        corpus = work / "corpus"
        started = time.perf_counter()
        origin = write_corpus(corpus, args.docs, n_files)
        written_s = time.perf_counter() - started
        size = sum(f.stat().st_size for f in corpus.iterdir())
        shared = "present" if SHARED.parent.is_dir() else "absent (pages from tests/data only)"
        print(f"corpus: {args.docs} WARC response records in {n_files} file{'s' * (n_files > 1)} "
              f"({size / MIB:.0f} MiB gzip, written in {written_s:.0f} s); {origin}")
        print(f"{SHARED.parent}: {shared}")
        dt_workers = min(n_files, os.cpu_count() or 1)
        print(f"machine: {os.cpu_count()} cores; datatrove {n_files} task{'s' * (n_files > 1)} on {dt_workers} "
              f"worker{'s' * (dt_workers > 1)}, corpusmill {os.cpu_count()} Beam workers", flush=True)
        rows = []
        for peer in args.peers:
            tool, extractor = peer.split("-")
            load = os.getloadavg()[0]
            if tool == "datatrove":
                seconds, kept, peak = run_datatrove(corpus, work, n_files, extractor)
            else:
                seconds, kept, peak = run_corpusmill(corpus, work, extractor)
            rows.append(Row(peer, seconds, kept, peak, load))
            print(f"  ran {rows[-1].label}: {seconds:.1f} s", flush=True)
        print()
        print_rows(rows, args.docs)


if __name__ == "__main__":
    main()
