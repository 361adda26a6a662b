"""The `mix` stage: sources sampled to target token shares and shuffled into training shards.

ReadSources (conditions, empty text) -> Filter/decontamination_v1 -> Tokenize -> Plan (token mass
per source, rehydration group and hash bucket; one global combine) -> SelectCopies (the plan as a
side input) -> GroupByShard -> WriteShard (documents/part-*.parquet and tokens/part-*.bin/.idx).

Accounting: inputs == documents in the mixture (first copies) + removed (conditions, no text,
contamination, not sampled) + errors. Up-sampled documents' further copies are rows of documents/
but not further documents.
"""

from __future__ import annotations

import argparse
import json
import os

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from corpusmill.core.bpe import Encoder, default_tokenizer_path, file_hash
from corpusmill.filters.base import make_filter
from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io import megatron, shards
from corpusmill.pipelines.io.inputs import InputError
from corpusmill.pipelines.io.mix_sources import check_columns, file_columns, offered_documents, source_files
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.launch import StageSpec
from corpusmill.pipelines.transforms.filter import ApplyFilter
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED
from corpusmill.pipelines.transforms.mix import (
    PLAN,
    STAGE,
    PlanMixture,
    ReadSourceFn,
    SelectCopiesFn,
    TokenizeFn,
    WriteMixShardFn,
    write_mix_shard,
)
from corpusmill.pipelines.transforms.write import OutputSpec, write_outputs
from corpusmill.schemas.config import MixConfig
from corpusmill.schemas.tables import TableSchemas

TOKENIZE_BATCH = (64, 1024)  # documents per tokenizer call: small at first, growing with throughput


def tokenizer_path(config: MixConfig) -> str:
    return config.tokenizer.path or str(default_tokenizer_path())


def encoder(config: MixConfig) -> Encoder:
    return Encoder(tokenizer_path(config), config.tokenizer.end_of_document)


def inputs(config: MixConfig, override: list[str] | None) -> dict[str, tuple[str, int]]:
    if override:
        raise UsageError("a mixture reads the paths of its sources in the config; --input is not used")
    try:
        return {f.path: (f.format, f.size) for f in source_files(config.sources)}
    except InputError as err:
        raise UsageError(str(err)) from err


def check(config: MixConfig, paths: list[str]) -> None:
    """Before launch: the tokenizer loads and has the end-of-document token; every file has the text column
    and the columns the conditions name; every source offers documents."""
    path = tokenizer_path(config)
    if not os.path.isfile(path):
        raise UsageError(f"field 'tokenizer.path': tokenizer file not found: {path}")
    try:
        encoder(config).setup()
    except Exception as err:  # noqa: BLE001 - whatever `tokenizers` raises for a bad file, said in one line
        raise UsageError(f"field 'tokenizer.path': {path} is not a usable tokenizer.json: {err}") from err
    files = source_files(config.sources)
    for source in config.sources:
        own = [f for f in files if f.source == source.name]
        for f in own:
            try:
                columns, rows = file_columns(f.path, f.format)
                if rows:  # an empty file has no columns to check; a source of only empty files is refused below
                    check_columns(source, f.path, columns)
            except InputError as err:
                raise UsageError(str(err)) from err
            except Exception as err:  # noqa: BLE001 - an unreadable footer or first line
                raise UsageError(f"source {source.name!r}: cannot read {f.path}: {err}") from err
        if offered_documents(source, own) == 0:
            conditions = " under its where conditions" if source.where else ""
            raise UsageError(f"source {source.name!r} (weight {source.weight:g}) has no documents with text"
                             f"{conditions} in its {len(own)} file(s); remove it or give it documents")


def tables(config: MixConfig) -> list[str]:
    return ["removed", "errors"]  # documents/ and tokens/ are written by the mixture's own writer


def schemas(config: MixConfig, formats: dict[str, str]) -> TableSchemas:
    scores = ("decontam.matched_ngrams",) if config.decontamination else ()
    return TableSchemas("mix", scores=scores)


def step_order(config: MixConfig) -> list[tuple[str, str]]:
    decontamination = [(STAGE, "decontamination_v1")] if config.decontamination else []
    return [(READ_STAGE, "reader"), (STAGE, "where"), (STAGE, "empty_text"), *decontamination,
            (STAGE, "tokenize"), (STAGE, "sampling")]


def build(pipeline: beam.Pipeline, config: MixConfig, formats: dict[str, str], output: OutputSpec) -> None:
    enc = encoder(config)
    dtype = megatron.token_dtype(enc.vocab_size)
    read = (pipeline
            | "ListSources" >> beam.Create(source_files(config.sources))
            | "ReadSources" >> beam.ParDo(ReadSourceFn(config.sources)).with_outputs(REMOVED, ERRORS, main="docs"))
    # Sources are a few large files: spread their documents over the workers before the costly steps.
    docs = read.docs
    removed, errors = [read.removed], [read.errors]
    if config.decontamination:
        clean = docs | "Filter/decontamination_v1" >> ApplyFilter(
            make_filter("decontamination_v1", {"eval_files": config.decontamination}), STAGE)
        docs = clean.docs
        removed.append(clean.removed)
        errors.append(clean.errors)
    tokenized = (docs
                 | "Batch" >> beam.BatchElements(*TOKENIZE_BATCH)
                 | "Tokenize" >> beam.ParDo(TokenizeFn(enc, dtype.str, config)).with_outputs(ERRORS, main="docs"))
    errors.append(tokenized.errors)
    plan = beam.pvalue.AsSingleton(tokenized.docs | "Plan" >> PlanMixture(config, dtype.itemsize, output.out))
    selected = tokenized.docs | "SelectCopies" >> beam.ParDo(SelectCopiesFn(config.seed), plan=plan).with_outputs(
        REMOVED, main="copies")
    removed.append(selected.removed)
    _ = (selected.copies
         | "GroupByShard" >> beam.GroupByKey()
         | "WriteShard" >> beam.ParDo(WriteMixShardFn(config, output.out, dtype.str), plan=plan))
    write_outputs(None, removed, errors, output)


def finish(config: MixConfig, out: str, counters: dict[str, int]) -> tuple[dict[str, list[str]], dict]:
    """After the run: empty shards for shards no copy went to, and the mixture's summary (planned against
    achieved per source) for report.json and manifest.json."""
    with FileSystems.open(FileSystems.join(out, PLAN)) as f:
        plan = json.loads(f.read().decode("utf-8"))
    n = plan["num_shards"]
    enc = encoder(config)
    dtype = megatron.token_dtype(enc.vocab_size)
    tokens = config.output.tokens == "megatron"
    written = {"documents": [shards.shard_name("documents", k, n) for k in range(n)],
               **({"tokens": [shards.shard_name("tokens", k, n, s) for k in range(n) for s in (".bin", ".idx")]}
                  if tokens else {})}
    for k in range(n):
        if not FileSystems.exists(FileSystems.join(out, written["documents"][k])):
            list(write_mix_shard(out, k, n, [], dtype, tokens, config.output.compression))
    achieved_total = sum(counters.get(f"mix/achieved_tokens.{s.name}", 0) for s in config.sources)
    sources = {}
    for s in config.sources:
        planned = plan["sources"][s.name]
        achieved = counters.get(f"mix/achieved_tokens.{s.name}", 0)
        sources[s.name] = {
            "documents": {"read": counters.get(f"mix/read.{s.name}", 0),
                          "candidates": counters.get(f"mix/candidates.{s.name}", 0),
                          "achieved": counters.get(f"mix/achieved_documents.{s.name}", 0),
                          "copies": counters.get(f"mix/achieved_copies.{s.name}", 0)},
            "tokens": {"available": planned["available_tokens"], "planned": planned["planned_tokens"],
                       "achieved": achieved},
            "share": {"planned": s.weight, "achieved": achieved / achieved_total if achieved_total else 0.0},
            "epochs": {"planned": planned["planned_tokens"] / planned["available_tokens"],
                       "achieved": achieved / planned["available_tokens"]},
        }
    summary = {"seed": config.seed, "sources": sources,
               "total_tokens": {"planned": plan["total_tokens"], "achieved": achieved_total},
               "requested_tokens": plan["requested_tokens"],
               "tokenizer": {"path": tokenizer_path(config), "sha256": file_hash(tokenizer_path(config)),
                             "vocab_size": enc.vocab_size, "end_of_document": config.tokenizer.end_of_document,
                             "dtype": dtype.name},
               "tokens_format": "megatron indexed dataset (.bin/.idx), one sequence per document" if tokens else None}
    if plan["requested_tokens"]:
        print(f"corpusmill mix: total_tokens {plan['requested_tokens']} is more than the sources allow at their "
              f"weights and max_epochs; the mixture has {plan['total_tokens']} tokens")
    return written, {"mix": summary}


def spec(args: argparse.Namespace) -> StageSpec:
    return StageSpec("mix", build, step_order, tables, schemas, inputs=inputs, check=check, finish=finish)
