"""`corpusmill sft-set --config FILE --output OUT`: one SFT training set from reasoning and non-reasoning
sources, composed to target shares, deduplicated and decontaminated on the prompt, split and shuffled.

Read (conversations checked; a bad one is an error row) -> decontamination_v1 -> prompt dedup (exact,
then MinHash, per problem: all samples of a problem share its prompt) -> selection (the k shortest
verified samples per problem, a token cap) -> composition (reasoning per domain vs non-reasoning, in
samples or tokens) -> split by a hash of the prompt -> train/ and validation/ (Parquet and JSONL).

It runs in one process, not on Beam: an SFT set is 10^5-10^6 conversations (DeepSeek-R1's has 800K),
which fits one machine's memory, and its composition needs every part's total before any row is
chosen. Every input row ends in exactly one place: kept (train or validation), removed/ or errors/.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from corpusmill.core.bpe import Encoder, default_tokenizer_path
from corpusmill.filters.base import make_filter
from corpusmill.filters.dedup.keys import text_key
from corpusmill.filters.dedup.minhash import ShingleSpec, band_hashes, jaccard, shingle_hashes, signatures
from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io import manifest as manifests
from corpusmill.pipelines.io import shards
from corpusmill.pipelines.io.inputs import InputError, list_files
from corpusmill.pipelines.io.report_html import bars
from corpusmill.schemas.banding import optimal_bands
from corpusmill.schemas.config import SftSetConfig
from corpusmill.schemas.records import Document, ErrorRecord, Removal
from corpusmill.schemas.tables import ERROR_SCHEMA, SFT_SET_SCHEMA, removed_schema
from corpusmill.synth.composition import Shortage, plan
from corpusmill.synth.sft_rows import answer_text, conversation_problem, domain_of, prompt_text

STAGE = "sft_set"
SCORES = ("decontam.matched_ngrams", "sft.tokens")
ROWS_PER_SHARD = 100_000
MAX_PAIRWISE = 200  # LSH bucket size up to which every pair is a candidate


def _hash(*parts: object) -> int:
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _read_rows(path: str) -> list[tuple[int, object]]:
    """(offset, row) of a Parquet or JSONL file through Beam FileSystems; a bad JSON line is its exception."""
    with FileSystems.open(path, compression_type=CompressionTypes.AUTO if path.endswith(".gz")
                          else CompressionTypes.UNCOMPRESSED) as f:
        if path.endswith(".parquet"):
            return list(enumerate(pq.ParquetFile(f).read().to_pylist()))
        out: list[tuple[int, object]] = []
        for number, line in enumerate(f.read().decode("utf-8").splitlines()):
            if line.strip():
                try:
                    out.append((number, json.loads(line)))
                except ValueError as err:
                    out.append((number, err))
        return out


def read_sources(config: SftSetConfig) -> tuple[list[dict], list[ErrorRecord]]:
    """Every conversation of every source, with its part and problem; unusable rows as errors."""
    rows, errors = [], []
    for source in config.sources:
        try:
            files = [p for p in list_files(source.paths) if p.endswith((".parquet", ".jsonl", ".jsonl.gz"))]
        except InputError as err:
            raise UsageError(f"source {source.name!r}: {err}") from err
        for path in files:
            for offset, row in _read_rows(path):
                record_id = row.get("id") if isinstance(row, dict) else None
                problem = (f"invalid JSON: {row}" if isinstance(row, Exception) else
                           "expected an object" if not isinstance(row, dict) else
                           conversation_problem(row.get(source.messages_field)))
                if problem is not None:
                    errors.append(ErrorRecord(path, STAGE, "MalformedConversation", problem, offset,
                                              str(record_id) if record_id is not None else None))
                    continue
                messages = [{"role": t["role"], "content": t["content"]} for t in row[source.messages_field]]
                row_id = f"{source.name}/{record_id if record_id not in (None, '') else offset}"
                prompt = prompt_text(messages)
                rows.append({
                    "id": row_id, "source": source.name, "kind": source.kind,
                    "domain": domain_of(source.domain, row.get("format")) if source.kind == "reasoning" else "-",
                    # samples of one problem share it; a row without problem_id is a problem of its own
                    "problem_id": f"{source.name}/{row['problem_id']}" if row.get("problem_id") else row_id,
                    "messages": messages, "prompt": prompt, "prompt_key": text_key(prompt),
                    "input_file": path, "input_offset": offset})
    ids = defaultdict(int)
    for row in rows:
        ids[row["id"]] += 1
    repeated = {i for i, n in ids.items() if n > 1}
    if repeated:  # ids name rows in removed/ and errors/: a repeated one is made unique by its file offset
        for row in rows:
            if row["id"] in repeated:
                row["id"] = f"{row['id']}@{os.path.basename(row['input_file'])}:{row['input_offset']}"
    return rows, errors


def _removal(row: dict, filter_name: str, reason: str, scores: dict | None = None, survivor: str | None = None,
             detail: str | None = None) -> Removal:
    return Removal(row["id"], STAGE, filter_name, reason, row["input_file"], row["input_offset"], None,
                   scores or {}, survivor_id=survivor, detail=detail)


def decontaminate(rows: list[dict], eval_files: list) -> tuple[list[dict], list[Removal]]:
    """Conversations sharing an n-gram with a benchmark item (prompt or answer) are removed."""
    if not eval_files:
        return rows, []
    check = make_filter("decontamination_v1", {"eval_files": eval_files})
    check.setup()
    kept, removed = [], []
    for row in rows:
        text = "\n\n".join(t["content"] for t in row["messages"])
        verdict = check(Document(id=row["id"], text=text, source=row["source"], input_file=row["input_file"]))
        if verdict.keep:
            kept.append(row)
        else:
            removed.append(_removal(row, "decontamination_v1", verdict.reason, verdict.scores, detail=verdict.detail))
    return kept, removed


def dedup_prompts(rows: list[dict], config: SftSetConfig) -> tuple[list[dict], list[Removal]]:
    """One problem per prompt: exact (normalised text), then MinHash near duplicates verified by Jaccard.
    The survivor of a group is the problem read first (sources in config order, files in path order, rows
    in file order): deterministic, and the earlier source wins."""
    settings = config.dedup
    problems: dict[str, dict] = {}
    for row in rows:
        problems.setdefault(row["problem_id"], row)
    ids = list(problems)
    parent = list(range(len(ids)))
    reason_of: dict[int, str] = {}
    if settings.exact:
        first: dict[str, int] = {}
        for i, pid in enumerate(ids):
            j = first.setdefault(problems[pid]["prompt_key"], i)
            if j != i:
                parent[i], reason_of[i] = j, "exact_duplicate"
    if settings.near:
        live = [i for i in range(len(ids)) if parent[i] == i]
        spec = ShingleSpec("word", 5, True)
        sets = [np.unique(shingle_hashes(problems[ids[i]]["prompt"], None, spec)) for i in live]
        with_shingles = [k for k, s in enumerate(sets) if len(s)]
        if len(with_shingles) > 1:
            sigs = signatures([sets[k] for k in with_shingles], settings.num_perm, settings.seed)
            b, r = optimal_bands(settings.threshold, settings.num_perm, 0.05, 0.95, min_recall=0.99)
            buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
            for row_of, band_row in enumerate(band_hashes(sigs, b, r)):
                for band, value in enumerate(band_row):
                    buckets[(band, int(value))].append(with_shingles[row_of])
            edges = set()
            for members in buckets.values():
                # every pair of a small bucket; a huge one (a template shared by thousands of prompts) is
                # joined to its first member only, so the candidates stay linear in the bucket's size
                pairs = ((a, c) for a in members for c in members if a < c) if len(members) <= MAX_PAIRWISE \
                    else ((members[0], c) for c in members[1:])
                edges.update(pairs)
            verified = [(a, c) for a, c in sorted(edges) if jaccard(sets[a], sets[c]) >= settings.threshold]
            if verified:
                a, c = np.array(verified).T
                graph = coo_matrix((np.ones(len(a)), (a, c)), shape=(len(live), len(live)))
                _, labels = connected_components(graph, directed=False)
                first_of: dict[int, int] = {}
                for k, label in enumerate(labels):
                    j = first_of.setdefault(int(label), k)
                    if j != k:
                        parent[live[k]], reason_of[live[k]] = live[j], "near_duplicate"
    def root(i: int) -> int:  # an exact copy of a problem that is itself a near duplicate: the group's survivor
        while parent[i] != i:
            i = parent[i]
        return i

    duplicate_of = {ids[i]: (ids[root(i)], reason) for i, reason in reason_of.items()}
    kept, removed = [], []
    for row in rows:
        pid = row["problem_id"]
        if pid in duplicate_of:
            survivor, reason = duplicate_of[pid]
            removed.append(_removal(row, "prompt_dedup", reason, survivor=problems[survivor]["id"]))
        else:
            kept.append(row)
    return kept, removed


def select(rows: list[dict], config: SftSetConfig, encoder: Encoder) -> tuple[list[dict], list[Removal]]:
    """Token counts, the token cap, and the k shortest samples per problem (shorter verified traces first)."""
    answers = encoder.encode([answer_text(r["messages"]) for r in rows]) if rows else []
    totals = encoder.encode(["\n".join(t["content"] for t in r["messages"]) for r in rows]) if rows else []
    for row, answer, total in zip(rows, answers, totals, strict=True):
        row["answer_tokens"], row["num_tokens"] = len(answer), len(total)
    cap, k = config.selection.max_tokens, config.selection.max_per_problem
    kept, removed = [], []
    by_problem: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if cap is not None and row["answer_tokens"] > cap:
            removed.append(_removal(row, "selection", "too_many_tokens", {"sft.tokens": float(row["answer_tokens"])}))
        else:
            by_problem[row["problem_id"]].append(row)
    for group in by_problem.values():
        group.sort(key=lambda r: (r["answer_tokens"], r["id"]))
        kept += group[:k] if k is not None else group
        removed += [_removal(r, "selection", "over_per_problem_limit", {"sft.tokens": float(r["answer_tokens"])})
                    for r in (group[k:] if k is not None else [])]
    return kept, removed


def compose(rows: list[dict], config: SftSetConfig) -> tuple[list[dict], list[Removal], dict]:
    """The rows (with copies when up-sampled) each part contributes to its target; the rest not sampled."""
    cfg, seed = config.composition, config.seed
    size = (lambda r: r["num_tokens"]) if cfg.unit == "tokens" else (lambda r: 1)
    parts: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        parts[(row["kind"], row["domain"])].append(row)
    available = {part: sum(size(r) for r in members) for part, members in parts.items()}
    try:
        targets = plan(available, cfg)
    except Shortage as err:
        raise UsageError(f"composition: {err}") from err
    chosen, removed, summary = [], [], {}
    for part, members in sorted(parts.items()):
        members.sort(key=lambda r: (_hash(seed, "pick", r["prompt_key"], r["id"]), r["id"]))
        target, taken, copies = targets.get(part, 0), 0, []
        copy = 0
        while taken < target and members:
            for row in members:
                if taken >= target:
                    break
                copies.append({**row, "copy": copy})
                taken += size(row)
            copy += 1
        picked = {r["id"] for r in copies}
        removed += [_removal(r, "composition", "not_sampled") for r in members if r["id"] not in picked]
        chosen += copies
        summary["reasoning/" + part[1] if part[0] == "reasoning" else "non_reasoning"] = {
            "available": available[part], "target": target, "achieved": taken, "unit": cfg.unit,
            "samples": len(copies), "distinct": len(picked)}
    return chosen, removed, summary


def _write(out: str, table: str, rows: list[dict], schema: pa.Schema, compression: str) -> list[str]:
    n = max(1, -(-len(rows) // ROWS_PER_SHARD))
    names = []
    for k in range(n):
        name = shards.shard_name(table, k, n)
        shards.write_rows(FileSystems.join(out, name), rows[k * ROWS_PER_SHARD:(k + 1) * ROWS_PER_SHARD], schema,
                          compression)
        names.append(name)
    return names


def _output_row(row: dict) -> dict:
    return {"id": row["id"] if not row["copy"] else f"{row['id']}~{row['copy']}", "source": row["source"],
            "kind": row["kind"], "domain": row["domain"], "problem_id": row["problem_id"], "messages": row["messages"],
            "num_tokens": row["num_tokens"], "copy": row["copy"], "input_file": row["input_file"],
            "input_offset": row["input_offset"]}


def build_sft_set(config: SftSetConfig, out: str) -> int:
    """Compose the set into OUT; returns the exit code."""
    from corpusmill.pipelines.launch import check_output_folder

    check_output_folder(out)
    tokenizer = config.tokenizer.path or str(default_tokenizer_path())
    encoder = Encoder(tokenizer, None)
    rows, errors = read_sources(config)
    inputs = len(rows) + len(errors)
    rows, decontaminated = decontaminate(rows, config.decontamination)
    rows, duplicates = dedup_prompts(rows, config)
    rows, unselected = select(rows, config, encoder)
    chosen, not_sampled, parts = compose(rows, config)
    removed = [*decontaminated, *duplicates, *unselected, *not_sampled]

    fraction, seed = config.validation_fraction, config.seed
    splits: dict[str, list[dict]] = {"train": [], "validation": []}
    for row in sorted(chosen, key=lambda r: (_hash(seed, "order", r["id"], r["copy"]), r["id"], r["copy"])):
        held_out = _hash(seed, "split", row["prompt_key"]) / 2**64 < fraction  # a prompt's samples stay together
        splits["validation" if held_out else "train"].append(_output_row(row))
    kept = len({r["id"] for r in chosen})

    written = {}
    for split, split_rows in splits.items():
        written[split] = _write(out, split, split_rows, SFT_SET_SCHEMA, config.compression)
        shards.write_jsonl(FileSystems.join(out, f"{split}.jsonl"), [
            {"messages": r["messages"], "id": r["id"], "source": r["source"]} for r in split_rows])
    written["removed"] = _write(out, "removed", [r.to_row() for r in sorted(removed, key=lambda r: r.id)],
                                removed_schema(SCORES), config.compression)
    written["errors"] = _write(out, "errors", [e.to_row() for e in errors], ERROR_SCHEMA, config.compression)

    by_reason: dict[str, int] = defaultdict(int)
    for r in removed:
        by_reason[f"{r.filter}/{r.reason}"] += 1
    per_source: dict[str, dict] = defaultdict(lambda: {"samples": 0, "tokens": 0})
    for split_rows in splits.values():
        for r in split_rows:
            per_source[r["source"]]["samples"] += 1
            per_source[r["source"]]["tokens"] += r["num_tokens"]
    report = {"inputs": inputs, "kept": kept, "removed": len(removed), "errors": len(errors),
              "accounting_ok": inputs == kept + len(removed) + len(errors),
              "samples": {s: len(v) for s, v in splits.items()},
              "tokens": {s: sum(r["num_tokens"] for r in v) for s, v in splits.items()},
              "parts": parts, "sources": dict(sorted(per_source.items())), "removed_by_reason": dict(by_reason),
              "tokenizer": tokenizer}
    _write_report(out, report)
    manifests.write_manifest(out, {"stage": "sft-set", "status": "complete" if report["accounting_ok"] else
                                   "failed_accounting", "config": config.model_dump(mode="json"),
                                   "config_hash": config.config_hash(), "packages": manifests.package_versions(),
                                   "finished": manifests.now(), "shards": written,
                                   "counts": {k: report[k] for k in ("inputs", "kept", "removed", "errors")},
                                   "parts": parts, "sources": report["sources"]})
    _print(out, report)
    return 0 if report["accounting_ok"] else 1


def _write_report(out: str, report: dict) -> None:
    parts = [(name, p["achieved"]) for name, p in report["parts"].items()]
    sources = [(name, s["samples"]) for name, s in report["sources"].items()]
    reasons = sorted(report["removed_by_reason"].items(), key=lambda kv: -kv[1])
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>corpusmill sft-set</title></head><body>"
            f"<h1>corpusmill sft-set</h1><p>inputs {report['inputs']} = kept {report['kept']} + removed "
            f"{report['removed']} + errors {report['errors']}; train {report['samples']['train']} samples "
            f"({report['tokens']['train']} tokens), validation {report['samples']['validation']}</p>"
            f"<h2>Parts ({next(iter(report['parts'].values()))['unit'] if report['parts'] else ''})</h2>"
            f"{bars(parts, '#4f81bd')}<h2>Samples per source</h2>{bars(sources, '#9bbb59')}"
            f"<h2>Removals by reason</h2>{bars(reasons, '#c0504d')}</body></html>\n")
    for name, body in (("report.json", json.dumps(report, indent=2, sort_keys=True)), ("report.html", page)):
        with FileSystems.create(FileSystems.join(out, name)) as f:
            f.write(body.encode("utf-8"))


def _print(out: str, report: dict) -> None:
    w = sys.stdout.write
    w(f"corpusmill sft-set: {report['inputs']} conversations read; kept {report['kept']}, removed "
      f"{report['removed']}, errors {report['errors']}\n")
    for name, part in report["parts"].items():
        w(f"  {name:<22} available {part['available']:>9}  target {part['target']:>9}  achieved "
          f"{part['achieved']:>9} {part['unit']} ({part['samples']} samples)\n")
    w(f"train: {FileSystems.join(out, 'train')}/ ({report['samples']['train']} samples), validation: "
      f"{FileSystems.join(out, 'validation')}/ ({report['samples']['validation']}); report: "
      f"{FileSystems.join(out, 'report.html')}\n")
