"""The `code` stage: source files in, file-level and repository-level code out (DeepSeek-Coder's recipe).

ReadCode (language by extension; binary, non-UTF-8 and non-code files removed) -> ToDocuments
-> Filter/code_quality_v1 (and any other filters) -> FileDedup (exact and near, file level)
-> WriteDocuments (kept files); files that passed the rules -> GroupByRepo -> AssembleRepo (files
in dependency order, each headed by its path) -> RepoDedup -> WriteRepos / WriteReposRemoved.

Accounting is per input file: inputs == kept files + removed + errors. Repository samples are a
second table built from the same files; repository-level duplicates go to repos_removed/.
"""

from __future__ import annotations

import argparse

import apache_beam as beam

from corpusmill.core.extraction import HtmlExtractor
from corpusmill.filters.base import make_filter
from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io.code_files import READER, code_inputs
from corpusmill.pipelines.io.inputs import InputError
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.launch import StageSpec
from corpusmill.pipelines.transforms.code import REPO_SIGNALS, ReadCodeFn, assemble_repo, keyed_by_repo
from corpusmill.pipelines.transforms.dedup.common import DEDUP_SCORES
from corpusmill.pipelines.transforms.dedup.dedup_documents import DedupDocuments
from corpusmill.pipelines.transforms.dedup.dedup_documents import step_order as dedup_steps
from corpusmill.pipelines.transforms.dedup.finish import index_table
from corpusmill.pipelines.transforms.filter import ApplyFilter
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED
from corpusmill.pipelines.transforms.text import ExtractText
from corpusmill.pipelines.transforms.write import OutputSpec, WriteTable, write_outputs
from corpusmill.schemas.config import CodeConfig
from corpusmill.schemas.tables import TableSchemas

STAGE = "code"


def inputs(config: CodeConfig, override: list[str] | None) -> dict[str, tuple[str, int]]:
    try:
        return code_inputs(config.input.model_copy(update={"paths": override}) if override else config.input)
    except InputError as err:
        raise UsageError(str(err)) from err


def code_filters(config: CodeConfig) -> list:
    return [make_filter(spec.name, spec.params) for spec in config.filters]


def build(pipeline: beam.Pipeline, config: CodeConfig, formats: dict[str, str], output: OutputSpec) -> None:
    read = (pipeline | "ListInputs" >> beam.Create(sorted(formats))
            | "ReadCode" >> beam.ParDo(ReadCodeFn(formats, config.input)).with_outputs(REMOVED, ERRORS, main="files"))
    extracted = read.files | "ToDocuments" >> ExtractText(HtmlExtractor())
    removed, errors, docs = [read[REMOVED], extracted.removed], [read[ERRORS], extracted.errors], extracted.docs
    for code_filter in code_filters(config):
        result = docs | f"Filter/{code_filter.step}" >> ApplyFilter(code_filter, STAGE)
        removed.append(result.removed)
        errors.append(result.errors)
        docs = result.docs
    kept, dropped, failed = docs | "FileDedup" >> DedupDocuments(config.dedup, [], output)
    write_outputs(kept, removed + dropped, errors + failed, output)
    if config.repo_dedup is None:
        return
    # Repository samples are built from every file that passed the rules, before file-level dedup: a file
    # also found in another repository stays in both, so no sample loses part of its structure
    # (DeepSeek-Coder dedups at the repository level for this reason).
    repos = (docs | "KeyByRepo" >> beam.Map(keyed_by_repo) | "GroupByRepo" >> beam.GroupByKey()
             | "AssembleRepo" >> beam.FlatMap(assemble_repo))
    unique, repo_dropped, repo_failed = repos | "RepoDedup" >> DedupDocuments(config.repo_dedup, [], output,
                                                                               table="repos")
    if unique is not None:
        _ = unique | "WriteRepos" >> WriteTable(output, "repos")
    _ = repo_dropped | "FlattenReposRemoved" >> beam.Flatten() | "WriteReposRemoved" >> WriteTable(output,
                                                                                                  "repos_removed")
    _ = repo_failed | "FlattenRepoErrors" >> beam.Flatten() | "WriteRepoErrors" >> WriteTable(output, "errors")


def tables(config: CodeConfig) -> list[str]:
    out = ["documents", "removed", "errors"]
    out += ["index"] if config.dedup.minhash.enabled and config.dedup.write_index else []
    if config.repo_dedup is not None:
        out += ["repos", "repos_removed"]
        r = config.repo_dedup
        out += [index_table("repos")] if r.minhash.enabled and r.write_index else []
    return out


def schemas(config: CodeConfig, formats: dict[str, str]) -> TableSchemas:
    measured = {n for f in code_filters(config) for n in f.score_names()}
    return TableSchemas("documents", tuple(sorted(measured | set(REPO_SIGNALS))), (),
                        tuple(sorted({"code.bytes", *measured, *DEDUP_SCORES})))


def step_order(config: CodeConfig) -> list[tuple[str, str]]:
    return [(READ_STAGE, READER)] + [(STAGE, f.step) for f in code_filters(config)] + dedup_steps(config.dedup)


def report_fields(counters: dict[str, int]) -> dict:
    removed = sum(n for k, n in counters.items() if k.startswith("written.repos_removed|"))
    return {"repositories": counters.get("written.repos", 0) + removed, "repositories_kept": counters.get(
        "written.repos", 0), "repositories_removed": removed}


def spec(args: argparse.Namespace) -> StageSpec:
    return StageSpec("code", build, step_order, tables, schemas, inputs=inputs, report_fields=report_fields)
