"""`corpusmill build --config FILE --output ROOT`: curate -> dedup -> decontamination -> mix on the input
files no earlier complete build under ROOT processed, into ROOT/builds/<build-id>/.

Every stage is an ordinary stage run (launch.run_stage) into its own folder of the build, so each one
is atomic and skipped when a rerun finds it complete: a build killed at any moment is finished by the
same command, which first completes the unfinished build with the inputs and earlier builds recorded
when it started, and then starts a build for whatever input is new since.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys

from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io import manifest as manifests
from corpusmill.pipelines.io.inputs import InputError, resolve_inputs
from corpusmill.pipelines.io.mix_sources import offered_documents, source_files
from corpusmill.pipelines.launch import run_stage
from corpusmill.pipelines.nightly.lock import BuildLock
from corpusmill.pipelines.nightly.report import write_build_report
from corpusmill.pipelines.nightly.root import COMPLETE, Build, BuildRoot, is_local
from corpusmill.pipelines.stages import curate, mix
from corpusmill.schemas.config import BuildConfig, MixConfig

EXIT_FAILED = 1
CURATE, MIX = "curate", "mix"


def run_build(config: BuildConfig, inputs_override: list[str] | None, root: str, beam_args: list[str]) -> int:
    """Run (or resume) the build of ROOT; returns the process exit code."""
    _check_root(root)
    with BuildLock(root) as lock:
        _release_on_sigterm(lock)
        if lock.note:
            print(f"corpusmill build: {lock.note}")
        builds = BuildRoot(root)
        builds.point_latest()
        pending = builds.unfinished()
        if pending is not None:
            print(f"corpusmill build: resuming build {pending.id} ({len(pending.inputs)} input files)")
            code = _run(builds, pending, config, beam_args)
            if code:
                return code
        listed = list_inputs(inputs_override or config.input.paths, config.input.format)
        processed = builds.processed_inputs()
        new = {path: v for path, v in listed.items() if path not in processed}
        if not new:
            newest = builds.complete()[-1].id if builds.complete() else None
            print(f"corpusmill build: no new input in {len(listed)} listed files"
                  + (f" (all processed by build {newest} or earlier)" if newest else "") + "; nothing to do.")
            return 0
        earlier = [b.id for b in builds.complete()]
        build = builds.create({"inputs": new, "earlier_builds": earlier, "config": config.model_dump(mode="json"),
                               "config_hash": config.config_hash(), "packages": manifests.package_versions(),
                               "started": manifests.now()})
        print(f"corpusmill build: build {build.id}: {len(new)} new input files "
              f"({len(listed) - len(new)} listed files were processed before), deduplicated against "
              f"{len(earlier)} earlier build{'s' if len(earlier) != 1 else ''}")
        return _run(builds, build, config, beam_args)


def _release_on_sigterm(lock: BuildLock) -> None:
    """Schedulers and containers stop a task with SIGTERM. The build is left as a kill leaves it (the next
    run resumes it), but the lock goes first, so that the next run need not wait for it to look stale."""
    def stop(signum, frame) -> None:
        lock.__exit__(None, None, None)
        for child in _descendants(os.getpid()):  # the local runner's workers would outlive us otherwise
            with contextlib.suppress(OSError):
                os.kill(child, signal.SIGTERM)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, stop)


def _descendants(pid: int) -> list[int]:
    """Process ids below `pid` (Linux /proc; none where there is no /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{entry}/stat") as f:
                children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def list_inputs(patterns: list[str], fmt: str) -> dict[str, dict]:
    """{path: {"format", "bytes"}} of every input file; local paths absolute, so that a build run from
    another working directory recognises the files an earlier one processed. A folder that exists but
    holds no file yet lists nothing (a nightly drop folder before the crawl arrives)."""
    listed: dict[str, dict] = {}
    for pattern in patterns or []:
        path = os.path.abspath(pattern) if is_local(pattern) else pattern
        try:
            found = resolve_inputs([path], fmt)
        except InputError as err:
            if is_local(path) and os.path.isdir(path):
                continue
            raise UsageError(str(err)) from err
        listed.update({p: {"format": f, "bytes": n} for p, (f, n) in found.items()})
    if not patterns:
        raise UsageError("no input given: pass --input PATH_OR_GLOB or set input.paths in the config")
    return dict(sorted(listed.items()))


def _run(builds: BuildRoot, build: Build, config: BuildConfig, beam_args: list[str]) -> int:
    """The stages of one build, each skipped when already complete; then its report and `latest`."""
    earlier_curated = [builds.build(i).stage_dir(CURATE) for i in build.manifest["earlier_builds"]]
    planned = [CURATE, *([MIX] if config.mix else [])]
    code = _stage(builds, build, planned, CURATE, lambda: (curate.spec(None), config.curate_config(earlier_curated),
                                                           sorted(build.inputs)), beam_args)
    if code is not None:
        return code
    done, skipped = [CURATE], {}
    if config.mix is not None:
        curated = _documents([*(earlier_curated if config.mix.curated == "all_builds" else []),
                              build.stage_dir(CURATE)])
        mix_config = config.mix_config(curated)
        empty = _curated_sources_without_documents(config, mix_config)
        if empty:
            skipped[MIX] = (f"no curated document meets the conditions of source(s) {', '.join(empty)}, "
                            "so there is no mixture to make")
            print(f"corpusmill build {build.id}: mix skipped: {skipped[MIX]}", file=sys.stderr)
        else:
            code = _stage(builds, build, planned, MIX, lambda: (mix.spec(None), mix_config, None), beam_args)
            if code is not None:
                return code
            done.append(MIX)
    build = builds.update(build, stages=done, skipped=skipped)
    report = write_build_report(builds, build, done)
    build = builds.update(build, status=COMPLETE, finished=manifests.now(),
                          counts={k: report["totals"][k] for k in ("inputs", "kept", "removed", "errors")})
    builds.point_latest()
    _print_done(builds, build, MIX in done, report["summary"]["removed_against_earlier_builds"])
    return 0


def _stage(builds: BuildRoot, build: Build, planned: list[str], name: str, make, beam_args: list[str]) -> int | None:
    """Run one stage of the build (`make()` gives its spec, config and inputs); None when it completed,
    else the exit code the build stops with."""
    print(f"\ncorpusmill build {build.id}: stage {planned.index(name) + 1}/{len(planned)}: {name}", flush=True)
    try:
        spec, stage_config, inputs = make()
        code = run_stage(spec, stage_config, inputs, build.stage_dir(name), beam_args)
    except UsageError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure of a run leaves the build to be resumed
        return _failed(builds, build, name, describe_failure(err))
    if code:
        builds.update(build, status=f"stopped_at_{name}")
        print(f"corpusmill build: build {build.id} stopped at stage {name} (exit code {code}); "
              f"{_untouched(builds)} Run the same command again to resume it.", file=sys.stderr)
        return code
    return None


def _curated_sources_without_documents(config: BuildConfig, mix_config: MixConfig) -> list[str]:
    """Sources reading curated documents that offer none (a night whose crawl kept nothing they select):
    the build completes without a mixture rather than failing every night after."""
    curated = {s.name for s in config.mix.sources if not s.paths}
    sources = [s for s in mix_config.sources if s.name in curated]
    files = source_files(sources)
    return [s.name for s in sources if offered_documents(s, [f for f in files if f.source == s.name]) == 0]


def _documents(curated: list[str]) -> list[str]:
    """Globs of the documents shards of the given curate folders (globs work on every filesystem)."""
    return [FileSystems.join(folder, "documents", "part-*.parquet") for folder in curated]


def _failed(builds: BuildRoot, build: Build, stage: str, reason: str) -> int:
    try:
        builds.update(build, status=f"failed_at_{stage}", error=reason)
    except Exception:  # noqa: BLE001 - the manifest may be unwritable for the same reason (a full disk)
        pass
    print(f"corpusmill build: build {build.id} failed in stage {stage}: {reason}\n"
          f"{_untouched(builds)} Fix the cause and run the same command again to resume the build.",
          file=sys.stderr)
    return EXIT_FAILED


def _untouched(builds: BuildRoot) -> str:
    latest = builds.latest_id()
    return ("Earlier builds and latest (" + latest + ") are untouched." if latest
            else "No build had completed before; there is no latest yet.")


_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$", re.MULTILINE)


def describe_failure(err: BaseException) -> str:
    """One line for a failed run: the innermost OSError (a full disk, an unwritable folder) with its file,
    else the last `SomeError: message` line of the error text (Beam wraps a worker's exception in a
    RuntimeError whose text holds the worker's traceback)."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.strerror:
            where = f": {seen.filename}" if seen.filename else ""
            return f"{type(seen).__name__}: {seen.strerror}{where}"
        seen = seen.__cause__ or seen.__context__
    lines = _ERROR_LINE.findall(str(err))
    if lines:
        kind, message = lines[-1]
        inner = _ERROR_LINE.match(message)  # "RuntimeError: OSError: ..." says the OSError
        return f"{inner.group(1)}: {inner.group(2).strip()}" if inner else f"{kind}: {message.strip()}"
    return f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err).strip() else ''}"


def _check_root(root: str) -> None:
    """The root must be a folder we can write: say so before any build starts."""
    builds = FileSystems.join(root, "builds")
    try:
        if not FileSystems.exists(builds):
            FileSystems.mkdirs(builds)
        probe = FileSystems.join(root, f".write-check-{os.getpid()}")
        with FileSystems.create(probe) as f:
            f.write(b"ok")
        FileSystems.delete([probe])
    except Exception as err:  # noqa: BLE001 - Beam raises BeamIOError, OSError or its own errors here
        raise UsageError(f"cannot write to the output root {root!r}: {describe_failure(err)}") from err


def _print_done(builds: BuildRoot, build: Build, has_mix: bool, against_earlier: int) -> None:
    counts = build.manifest["counts"]
    # On a local disk ROOT/latest is a link to the build; object stores have ROOT/latest.json naming it.
    where = FileSystems.join(builds.root, "latest") if is_local(builds.root) else build.path
    pointer = (f"{where} -> {build.path}" if is_local(builds.root)
               else f"{FileSystems.join(builds.root, 'latest.json')} names {build.id}")
    lines = [f"\ncorpusmill build {build.id}: complete: inputs {counts['inputs']}, kept {counts['kept']}, "
             f"removed {counts['removed']} ({against_earlier} as duplicates of earlier builds), "
             f"errors {counts['errors']}", f"  latest:          {pointer}"]
    if has_mix:
        lines.append(f"  training shards: {FileSystems.join(where, MIX, 'documents')}/ (text), "
                     f"{FileSystems.join(where, MIX, 'tokens')}/ (Megatron-LM)")
    lines += [f"  curated:         {FileSystems.join(where, CURATE, 'documents')}/",
              f"  report:          {FileSystems.join(where, 'report.html')}"]
    print("\n".join(lines))
