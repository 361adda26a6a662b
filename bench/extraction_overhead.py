"""Per-page cost of the extraction path against the extractor called directly, on the same real pages.

Prints µs/page of resiliparse called directly and through HtmlExtractor, of trafilatura called
directly and through HtmlExtractor, and the ratios. HtmlExtractor runs what ExtractText runs per page:
the size and binary checks, the charset (the HTTP header's, else detection), the extraction under its
time limit (`--timeout-s`, 5 as in the configs) and the empty-text check. "Directly" is the extractor's
own function on the page already decoded to str, so decoding is charged to HtmlExtractor; each str is
a fresh copy made before it is timed, so the extractor pays its UTF-8 conversion as on an unseen page.

The process is pinned to one core and the helper it spawns inherits the pin, so work moved to the
helper is counted rather than hidden on another core. Each page is timed on its own, the methods
interleaved page by page in rotating order, `--rounds` times; a page's time is its fastest round (other
tenants of a shared machine inflate single rounds) and µs/page is the mean of those. CPU time (this
process plus its helpers, read from /proc) is printed beside wall time.

Pages: the HTML responses of every WARC file under ../shared/data/web/warc, read with corpusmill's
WARC reader so the charset is the one ExtractText gets, plus the extraction benchmark's pages (files,
so no HTTP charset); cycled to `--pages`. Without ../shared, tests/data/web (said so in the output).
The module imported is printed: to measure another checkout, put a `corpusmill` package mapping that
checkout's folders first on PYTHONPATH.

    .venv/bin/python bench/extraction_overhead.py [--pages 2950] [--rounds 3]
    .venv/bin/python bench/extraction_overhead.py --dump OUT.jsonl [--variants 4]   # outputs of every page
    .venv/bin/python bench/extraction_overhead.py --compare BEFORE.jsonl AFTER.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CORPUSMILL_SHARED_DATA", ROOT.parent / "shared" / "data")) / "web"
EXTRACTORS = ("resiliparse", "trafilatura")


def real_pages() -> tuple[list[tuple[str, bytes, str | None]], str]:
    """(name, payload, HTTP charset) of every distinct real HTML page, and where they came from."""
    from corpusmill.pipelines.io.warc import read_warc

    pages: list[tuple[str, bytes, str | None]] = []
    if SHARED.is_dir():
        warcs = sorted(p for p in (SHARED / "warc").rglob("*") if ".warc" in p.name)
        where = f"{SHARED} (shared data)"
    else:
        warcs = sorted((ROOT / "tests" / "data" / "web").glob("*.warc.gz"))
        where = "tests/data/web only: ../shared/data is not here, so there are few pages and little variety"
    for warc in warcs:
        events = read_warc(str(warc), lambda w=warc: open(w, "rb"), "web", "warc", False)
        for n, event in enumerate(events):
            if event.record is not None and event.record.html is not None:
                pages.append((f"{warc.name}#{n}", event.record.html, event.record.http_charset))
    for path in sorted((SHARED / "html_extraction_benchmark" / "html").glob("*.html.gz")):
        pages.append((path.name, gzip.decompress(path.read_bytes()), None))
    return pages, where


def direct(name: str):
    """The extractor's own call on a str, with the options HtmlExtractor uses."""
    if name == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text

        return lambda html: extract_plain_text(html, main_content=True, preserve_formatting=True, alt_texts=False)
    from trafilatura import extract

    return lambda html: extract(html, favor_precision=True, include_comments=False, deduplicate=True)


def decode(payload: bytes, charset: str | None) -> str:
    """The page as str, decoded as ExtractText decodes it."""
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    return bytes_to_str(payload, charset or detect_encoding(payload[:65536]))


def _children_cpu_ns() -> int:
    me, total = os.getpid(), 0
    try:
        with open(f"/proc/{me}/task/{me}/children") as f:
            kids = f.read().split()
    except OSError:
        return 0
    for kid in kids:
        try:
            with open(f"/proc/{kid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # it ended meanwhile
    return total


def time_batches(methods: list[tuple[str, object]], batches: list[list[int]], rounds: int, prepare
                 ) -> dict[str, tuple[float, float]]:
    """name -> (wall µs/page, CPU µs/page); each method is (name, run(indices of one batch)), and
    `prepare(batch)` runs untimed before the methods run a batch."""
    wall = {name: [float("inf")] * len(batches) for name, _ in methods}
    cpu = {name: [float("inf")] * len(batches) for name, _ in methods}
    for r in range(rounds):
        order = methods[r % len(methods):] + methods[:r % len(methods)]
        for b, batch in enumerate(batches):
            prepare(batch)
            for name, run in order:
                c0, p0, t0 = _children_cpu_ns(), time.process_time_ns(), time.perf_counter()
                run(batch)
                t1, p1, c1 = time.perf_counter(), time.process_time_ns(), _children_cpu_ns()
                wall[name][b] = min(wall[name][b], t1 - t0)
                cpu[name][b] = min(cpu[name][b], (p1 - p0 + c1 - c0) / 1e9)
    n = sum(map(len, batches))
    return {name: (sum(wall[name]) / n * 1e6, sum(cpu[name]) / n * 1e6) for name, _ in methods}


def bench(args) -> None:
    import corpusmill.core.extraction as extraction
    from corpusmill.schemas.config import ExtractConfig

    os.sched_setaffinity(0, {args.cpu})
    pages, where = real_pages()
    declared = sum(charset is not None for _, _, charset in pages)
    batched = hasattr(extraction.HtmlExtractor, "extract_many")
    size = getattr(extraction, "BATCH_PAGES", 1) if batched else 1
    print(f"code: {extraction.__file__} ({f'extract_many, {size} pages a batch' if batched else 'a page a call'})")
    print(f"pages: {len(pages)} distinct from {where} ({declared} with an HTTP charset), cycled to {args.pages}; "
          f"pinned to CPU {args.cpu}; {args.rounds} rounds, fastest round per batch of {args.batch} pages")
    chosen = [pages[i % len(pages)] for i in range(args.pages)]
    batches = [list(range(i, min(i + args.batch, len(chosen)))) for i in range(0, len(chosen), args.batch)]
    strs = [decode(payload, charset) for _, payload, charset in pages]
    rows = []
    for name in args.extractors.split(","):
        fn = direct(name)
        fresh = [None] * len(chosen)

        def run_direct(batch, fn=fn, fresh=fresh):
            for i in batch:
                fn(fresh[i])

        def refresh(batch, fresh=fresh):  # new str objects: no UTF-8 cached from an earlier round
            for i in batch:
                fresh[i] = (strs[i % len(pages)] + " ")[:-1]

        def run_from_bytes(batch, fn=fn):  # the extractor library's own detection and decoding, then fn
            for i in batch:
                fn(decode(*chosen[i][1:]))

        methods = [(f"{name} direct", run_direct)] + ([(f"{name} direct from bytes", run_from_bytes)]
                                                      if name == "resiliparse" else [])
        extractors = {}
        modes = [("HtmlExtractor", args.timeout_s)] + ([("HtmlExtractor timeout_s=0", 0)]
                                                       if name == "resiliparse" and args.timeout_s else [])
        for label, timeout_s in modes:
            ex = extractors[label] = extraction.HtmlExtractor(ExtractConfig(extractor=name, timeout_s=timeout_s))
            ex.setup()
            ex(*chosen[0][1:])  # start the helper outside the timings
            if batched:
                run = lambda batch, ex=ex: ex.extract_many([chosen[i][1:] for i in batch])  # noqa: E731
            else:
                run = lambda batch, ex=ex: [ex(*chosen[i][1:]) for i in batch]  # noqa: E731
            methods.append((f"{name} {label}", run))
        fn(strs[0])
        results = time_batches(methods, batches, args.rounds, refresh)
        for ex in extractors.values():
            ex.close()
        base_wall, base_cpu = results[f"{name} direct"]
        for label, (w, c) in results.items():
            rows.append((label, w, w / base_wall, c, c / base_cpu))
    print(f"{'':36s} {'wall µs/page':>13s} {'ratio':>6s} {'CPU µs/page':>12s} {'ratio':>6s}")
    for label, w, rw, c, rc in rows:
        print(f"{label:36s} {w:13.0f} {rw:6.3f} {c:12.0f} {rc:6.3f}")


def dump(args) -> None:
    """Every page's extraction (reason and text) with each extractor, on the helper and in-process."""
    import corpusmill.core.extraction as extraction
    from corpusmill.schemas.config import ExtractConfig

    pages, where = real_pages()
    inputs = []
    for name, payload, charset in pages:
        other = None if charset else "utf-8"  # the charset path the page did not take: detection, or declared
        for k in range(args.variants):
            cut = len(payload) * (args.variants - k) // args.variants  # the whole page, then prefixes
            for cs in (charset, other):
                inputs.append((f"{name}|cut={cut}|charset={cs}", payload[:cut], cs))
    batch = getattr(extraction, "BATCH_PAGES", 1) if hasattr(extraction.HtmlExtractor, "extract_many") else 1
    print(f"code: {extraction.__file__}, {batch} pages a call\n{len(inputs)} inputs from {len(pages)} pages of {where}")
    with open(args.dump, "w") as out:
        for name in args.extractors.split(","):
            for timeout_s in (args.timeout_s, 0):
                ex = extraction.HtmlExtractor(ExtractConfig(extractor=name, timeout_s=timeout_s))
                ex.setup()
                started = time.perf_counter()
                for at in range(0, len(inputs), batch):
                    chunk = inputs[at:at + batch]
                    for (key, _, _), result in zip(chunk, extract(ex, [(p, c) for _, p, c in chunk]), strict=True):
                        row = ({"error": f"{type(result).__name__}: {result}"} if isinstance(result, Exception)
                               else {"reason": result.reason, "text": result.text})
                        out.write(json.dumps({"key": key, "extractor": name, "timeout_s": timeout_s, **row}) + "\n")
                ex.close()
                print(f"{name} timeout_s={timeout_s}: {time.perf_counter() - started:.1f} s")


def extract(ex, pages: list[tuple[bytes, str | None]]) -> list:
    """Results (or exceptions) of a batch, as ExtractText gets them from this version of HtmlExtractor."""
    if hasattr(ex, "extract_many"):
        return ex.extract_many(pages)
    results = []
    for payload, charset in pages:
        try:
            results.append(ex(payload, charset))
        except Exception as err:  # noqa: BLE001 - recorded, compared like a result
            results.append(err)
    return results


def compare(before_path: str, after_path: str) -> int:
    """Print every input whose result differs; returns the number of differences."""
    def load(path: str) -> dict:
        with open(path) as f:
            return {(r["key"], r["extractor"], r["timeout_s"] > 0): r for r in map(json.loads, f)}

    before, after = load(before_path), load(after_path)
    differ = 0
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is None or b is None or {k: v for k, v in a.items() if k != "timeout_s"} != \
                {k: v for k, v in b.items() if k != "timeout_s"}:
            differ += 1
            print("DIFFERS", key, "before:", (a or {}).get("reason") or (a or {}).get("error"),
                  "after:", (b or {}).get("reason") or (b or {}).get("error"))
    pairs = len(before.keys() & after.keys())
    print(f"{pairs} (input, extractor, helper or in-process) results compared, {differ} differ")
    return differ


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2950)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32, help="pages timed together (ExtractText's batch)")
    parser.add_argument("--extractors", default=",".join(EXTRACTORS))
    parser.add_argument("--timeout-s", type=float, default=5.0)
    parser.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    parser.add_argument("--dump", help="write every page's result to this JSONL file instead of timing")
    parser.add_argument("--variants", type=int, default=4, help="with --dump: the page and its prefixes")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        return 1 if compare(*args.compare) else 0
    if args.dump:
        dump(args)
    else:
        bench(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
