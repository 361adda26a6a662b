"""Benchmark: the overhead of `corpusmill build` over running its stages by hand on the same input.

By hand: `corpusmill curate` with the curate config the build derives from configs/nightly.yaml, then
`corpusmill mix` with the mix config it derives (sources reading that curate output). Build: `corpusmill
build` with configs/nightly.yaml into a fresh root. Both as processes of the installed command on its
default runner, alternating, `--repeats` times each; prints the medians and the ratio (target < 1.10).

    .venv/bin/python bench/build_overhead.py [--docs 2000] [--files 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import write_corpus  # noqa: E402

CLI = str(Path(sys.executable).with_name("corpusmill"))


def _timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([CLI, *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def stage_configs(work: Path, curated: Path) -> tuple[Path, Path]:
    """The curate and mix configs `corpusmill build` runs for a first night, written as YAML files."""
    from corpusmill.schemas.config import load_config

    build = load_config(ROOT / "configs" / "nightly.yaml", "build")
    curate = build.curate_config([]).model_dump(mode="json")
    mix = build.mix_config([str(curated / "documents" / "part-*.parquet")]).model_dump(mode="json")
    paths = work / "curate.yaml", work / "mix.yaml"
    for path, body in zip(paths, (curate, mix), strict=True):
        path.write_text(yaml.safe_dump(body))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="corpusmill-build-bench-") as tmp:
        work = Path(tmp)
        where = write_corpus(work / "crawl", args.docs, args.files)
        inputs = [arg for f in sorted((work / "crawl").iterdir()) for arg in ("--input", str(f))]
        curate_config, mix_config = stage_configs(work, work / "hand" / "curate")
        by_hand, built = [], []
        for _ in range(args.repeats):
            shutil.rmtree(work / "hand", ignore_errors=True)
            shutil.rmtree(work / "root", ignore_errors=True)
            by_hand.append(_timed(["curate", "--config", str(curate_config), "--output", str(work / "hand" / "curate"),
                                   *inputs])
                           + _timed(["mix", "--config", str(mix_config), "--output", str(work / "hand" / "mix")]))
            built.append(_timed(["build", "--config", "configs/nightly.yaml", "--output", str(work / "root"), *inputs]))
        hand_s, build_s = statistics.median(by_hand), statistics.median(built)
        print(f"input: {args.docs} WARC records in {args.files} files ({where})")
        print(f"stages by hand (curate + mix): median {hand_s:.2f} s  {[round(t, 2) for t in by_hand]}")
        print(f"corpusmill build:              median {build_s:.2f} s  {[round(t, 2) for t in built]}")
        print(f"build / by hand: {build_s / hand_s:.3f} (target < 1.10)")


if __name__ == "__main__":
    main()
