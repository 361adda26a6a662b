"""What every stage does around its pipeline: validate before launching, skip finished builds,
run, count, write the report and the manifest, and say where the outputs are."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from pydantic import BaseModel

from corpusmill.core.language_id import default_model_path
from corpusmill.pipelines.beam_fixes import fix_runner_data_race
from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io import manifest as manifests
from corpusmill.pipelines.io import report as reports
from corpusmill.pipelines.io import shards
from corpusmill.pipelines.io.inputs import InputError, auto_num_shards, resolve_inputs
from corpusmill.pipelines.io.spill import remove_spills
from corpusmill.pipelines.options import is_local_runner, local_worker_processes, pipeline_options
from corpusmill.pipelines.progress import progress_line
from corpusmill.pipelines.transforms.dedup.clusters import UNCONVERGED
from corpusmill.pipelines.transforms.ledger import NAMESPACE
from corpusmill.pipelines.transforms.write import SFT_JSONL, OutputSpec, write_table_shard
from corpusmill.schemas.records import RETRYABLE_ERROR_CLASSES
from corpusmill.schemas.tables import TableSchemas

TABLES = ("documents", "removed", "errors", "index", SFT_JSONL, "tokens", "pairs")
EXIT_ACCOUNTING = 1  # inputs != kept + removed + errors: a bug, never expected
EXIT_RETRY = 3  # finished, but some records must be tried again (see _outcome)


def config_inputs(config: BaseModel, inputs_override: list[str] | None) -> dict[str, tuple[str, int]]:
    """{path: (format, bytes)} of `--input` when given, else of the config's `input.paths`."""
    try:
        return resolve_inputs(inputs_override or config.input.paths, config.input.format)
    except InputError as err:
        raise UsageError(str(err)) from err


@dataclass(frozen=True)
class StageSpec:
    """How to build and describe one stage; every stage runs through `run_stage`."""

    name: str
    build: Callable[[beam.Pipeline, BaseModel, dict[str, str], OutputSpec], None]  # formats: {path: format}
    step_order: Callable[[BaseModel], list[tuple[str, str]]]
    tables: Callable[[BaseModel], list[str]]
    schemas: Callable[[BaseModel, dict[str, str]], TableSchemas]  # the tables' struct fields, given the inputs
    inputs: Callable[[BaseModel, list[str] | None], dict[str, tuple[str, int]]] = config_inputs
    check: Callable[[BaseModel, list[str]], None] | None = None  # more pre-launch checks, given the input paths
    report_fields: Callable[[dict[str, int]], dict] | None = None  # stage-specific report.json fields
    # after the run: (shards the stage wrote itself, fields for report.json and manifest.json)
    finish: Callable[[BaseModel, str, dict[str, int]], tuple[dict[str, list[str]], dict]] | None = None
    force: bool = False  # run even when the output is complete for this config (synth --reverify)
    # worker processes on the local runner when the user sets none (None: one per core)
    local_workers: Callable[[BaseModel], int | None] | None = None


def prepare(spec: StageSpec, config: BaseModel, inputs_override: list[str] | None, out: str
            ) -> dict[str, tuple[str, int]]:
    """Check everything that can be checked before launch; returns the resolved inputs."""
    inputs = spec.inputs(config, inputs_override)
    if spec.check is not None:
        spec.check(config, sorted(inputs))
    model = _langid_model(config)
    if model is not None and not os.path.isfile(model):
        raise UsageError(f"field 'langid.model_path': file not found: {model}")
    check_output_folder(out)
    return inputs


def check_output_folder(out: str) -> None:
    """Refuse a non-empty folder that is not a corpusmill build: its files are not ours to replace."""
    if os.path.isdir(out) and os.listdir(out) and not os.path.isfile(os.path.join(out, manifests.MANIFEST)):
        raise UsageError(f"output folder {out!r} is not empty and holds no corpusmill build; "
                         "choose an empty or new folder")


def run_stage(spec: StageSpec, config: BaseModel, inputs_override: list[str] | None, out: str,
              beam_args: list[str]) -> int:
    """Run one stage end to end; returns the process exit code."""
    inputs = prepare(spec, config, inputs_override, out)
    config_hash = config.config_hash()
    input_record = {path: {"format": fmt, "bytes": size} for path, (fmt, size) in inputs.items()}
    previous = manifests.read_manifest(out)
    if not spec.force and manifests.is_complete(previous, config_hash, input_record):
        print(f"corpusmill {spec.name}: {out} is already complete for this config and these inputs; "
              "nothing to do.")
        return 0

    # Build the graph before touching the output folder: building checks earlier builds too.
    formats = {p: fmt for p, (fmt, _) in inputs.items()}
    output = OutputSpec.of(config.output, out, spec.schemas(config, formats), auto_num_shards(inputs))
    workers = spec.local_workers(config) if spec.local_workers is not None else None
    pipeline = beam.Pipeline(options=pipeline_options(beam_args, workers))
    spec.build(pipeline, config, formats, output)

    _clear_partial_outputs(out)
    base = {
        "stage": spec.name,
        "inputs": input_record,
        "config": config.model_dump(mode="json"),
        "config_hash": config_hash,
        "packages": manifests.package_versions(),
        "models": {"langid": model_path} if (model_path := _langid_model(config)) else {},
        "started": manifests.now(),
    }
    manifests.write_manifest(out, {**base, "status": "running"})

    with quiet_local_workers(beam_args), progress_line(spec.name, len(inputs), is_local_runner(beam_args)):
        result = pipeline.run()
        result.wait_until_finish()
    remove_spills(out)
    counters = read_counters(result)

    own_shards, fields = spec.finish(config, out, counters) if spec.finish is not None else ({}, {})
    written = {**complete_shards(output, spec.tables(config)), **own_shards}
    report = reports.build_report(out, counters, spec.step_order(config))
    report.update(fields)
    if spec.report_fields is not None:
        report.update(spec.report_fields(counters))
    reports.write_report(out, report, f"corpusmill {spec.name}")
    status, code = _outcome(report)
    manifests.write_manifest(out, {**base, "status": status, "finished": manifests.now(), "shards": written,
                                   "counts": {k: report[k] for k in ("inputs", "kept", "removed", "errors")},
                                   **fields})
    _print_summary(spec.name, out, report)
    return code


def _outcome(report: dict) -> tuple[str, int]:
    """Manifest status and exit code. Records that met a failure of corpusmill's own machinery (a backend,
    a verifier) leave the build unfinished: the same command runs it again and retries them."""
    if not report["accounting_ok"]:
        return "failed_accounting", EXIT_ACCOUNTING
    unconverged = sum(n for k, n in report["counters"].items() if k.endswith(f"/{UNCONVERGED}"))
    if unconverged:
        print(f"corpusmill: {unconverged} duplicate clusters were not resolved in minhash.max_rounds rounds, so "
              "some of their members may be kept twice: raise dedup.minhash.max_rounds, or use components: "
              "union_find (the default; it runs its rounds until they converge), and run the build again.",
              file=sys.stderr)
        return "failed_unconverged", EXIT_ACCOUNTING
    if report["retryable_errors"]:
        print(f"corpusmill: {report['retryable_errors']} records met a failure of corpusmill's own machinery "
              f"({', '.join(sorted(RETRYABLE_ERROR_CLASSES))}; see errors/): run the same command again to redo "
              "them.", file=sys.stderr)
        return "retry_needed", EXIT_RETRY
    return "complete", 0


@contextmanager
def quiet_local_workers(beam_args: list[str]) -> Iterator[None]:
    """Start the local runner's worker processes through pipelines/worker.py, which keeps their start-up
    chatter off the console. Beam builds the worker command from `sys.executable` when the pipeline
    runs, so it is pointed there for that long, and only on the local runner's multi_processing mode:
    other runners' staging runs `sys.executable -m pip` while the pipeline is submitted."""
    fix_runner_data_race()  # the local runner drops data at random without it (see beam_fixes.py)
    if not local_worker_processes(beam_args):
        yield
        return
    python = sys.executable
    sys.executable = f"{python} -m corpusmill.pipelines.worker"
    try:
        yield
    finally:
        sys.executable = python


def _langid_model(config: BaseModel) -> str | None:
    langid = getattr(config, "langid", None)
    if langid is None or not langid.enabled:
        return None
    return langid.model_path or str(default_model_path())


def read_counters(result) -> dict[str, int]:
    """corpusmill's Beam counters of a finished run, summed over steps."""
    counters: dict[str, int] = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = c.committed if c.committed is not None else c.attempted
        counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + int(value or 0)
    return counters


def _clear_partial_outputs(out: str) -> None:
    """Remove shards and temporaries of an earlier run of this build (the folder is known to be ours)."""
    remove_spills(out)
    for table in TABLES:
        matches = FileSystems.match([FileSystems.join(out, table, "part-*")])[0].metadata_list
        if matches:
            FileSystems.delete([m.path for m in matches])


def complete_shards(output: OutputSpec, tables: list[str]) -> dict[str, list[str]]:
    """Write an empty shard for every shard no record went to, so the layout is always whole."""
    written: dict[str, list[str]] = {}
    for table in tables:
        n = output.shards_of(table)
        written[table] = [shards.shard_name(table, shard, n) for shard in range(n)]
        for shard, rel in enumerate(written[table]):
            if not FileSystems.exists(FileSystems.join(output.out, rel)):
                write_table_shard(output, table, shard, [])
    return written


def _print_summary(stage: str, out: str, report: dict) -> None:
    w = sys.stdout.write
    w(f"\ncorpusmill {stage}: {report['input_files']} files, {report['inputs']} input records "
      f"(skipped WARC records by kind: {report['skipped_records'] or 'none'})\n")
    for step in report["funnel"]:
        reasons = ", ".join(f"{r}={n}" for r, n in step["reasons"].items())
        w(f"  {step['stage'] + '/' + step['filter']:<34} in {step['in']:>7}  removed {step['removed']:>6}  "
          f"errors {step['errors']:>4}  out {step['out']:>7}  {reasons}\n")
    check = "OK" if report["accounting_ok"] else "MISMATCH"
    w(f"  kept {report['kept']}, removed {report['removed']}, errors {report['errors']}: "
      f"inputs == kept + removed + errors {check}\n")
    w(f"outputs: {os.path.join(out, 'documents')}/\nreport:  {os.path.join(out, 'report.html')} "
      f"(and report.json, manifest.json)\n")


