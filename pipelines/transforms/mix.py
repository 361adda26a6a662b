"""The mix stage's steps on Beam: reading sources with their conditions, tokenizing, the plan from
every document's token count, choosing copies by the plan, and writing text and token shards."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from corpusmill.core.bpe import Encoder
from corpusmill.core.mix_plan import MixPlan, SourceTarget, bucket_of, order_key, plan_mixture, repeats, shard_of
from corpusmill.pipelines.io import megatron, shards
from corpusmill.pipelines.io.mix_sources import SourceFile, meets, read_rows, split_column, value_of
from corpusmill.pipelines.io.read_events import STAGE as READ_STAGE
from corpusmill.pipelines.progress import records_read
from corpusmill.pipelines.transforms.ledger import ERRORS, REMOVED, count, count_written, dead_letter
from corpusmill.schemas.config import MixConfig, MixSourceConfig
from corpusmill.schemas.records import Document, ErrorRecord, Removal, stable_id
from corpusmill.schemas.tables import FIRST_COPIES, mix_schema

STAGE = "mix"
PLAN = "plan.json"


# --- reading ----------------------------------------------------------------------------------

class ReadSourceFn(beam.DoFn):
    """A source's file in; Documents (source = the mixture source's name) out, rows failing the source's
    conditions and rows without text as removals, unreadable rows as errors."""

    def __init__(self, sources: list[MixSourceConfig]):
        self.sources = {s.name: s for s in sources}

    def process(self, file: SourceFile) -> Iterator:
        source = self.sources[file.source]
        wanted = [source.id_field, source.text_field, "url", "lang", "cluster_size"]
        for cond in source.where:
            wanted += [cond.column, cond.column.split(".", 1)[0]]
        n = 0
        try:
            for offset, row in read_rows(file.path, file.format, list(dict.fromkeys(wanted))):
                n += 1
                records_read()  # the launcher's status line on a terminal
                yield from self._event(file, source, offset, row)
        except Exception as err:  # noqa: BLE001 - dead-letter boundary: a bad file must not stop the build
            count("read/inputs")
            count("read/errors")
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(file.path, READ_STAGE, type(err).__name__,
                                                               f"file failed after {n} rows: {err}"[:2000]))
        finally:  # counted once per file: a counter update per row was a measurable share of the stage
            count("read/inputs", n)
            count(f"mix/read.{file.source}", n)
            count("read/files")
            records_read(0, file_done=True)

    def _event(self, file: SourceFile, source: MixSourceConfig, offset: int, row) -> Iterator:
        if isinstance(row, Exception) or not isinstance(row, dict):
            count("read/errors")
            message = f"invalid JSON line: {row}" if isinstance(row, Exception) else "expected a JSON object"
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(file.path, READ_STAGE, "MalformedRecord", message,
                                                               offset))
            return
        text = row.get(source.text_field)
        own_id = row.get(source.id_field)
        doc_id = str(own_id) if own_id not in (None, "") else stable_id(file.path, str(offset))
        if not isinstance(text, str):
            count("read/errors")
            found = "missing" if text is None else f"a {type(text).__name__}"
            yield beam.pvalue.TaggedOutput(ERRORS, ErrorRecord(
                file.path, READ_STAGE, "MalformedRecord", f"field {source.text_field!r} must be a string, is {found}",
                offset, doc_id))
            return
        url = row.get("url") if isinstance(row.get("url"), str) else None
        for cond in source.where:
            value = value_of(row, *split_column(cond.column, set(row)))
            if not meets(cond, value):
                yield self._removed(doc_id, file, offset, url, "where", "condition_not_met",
                                    f"{cond.column} = {value!r}")
                return
        if not text.strip():
            yield self._removed(doc_id, file, offset, url, "empty_text", "no_text", None)
            return
        lang = row.get("lang") if isinstance(row.get("lang"), str) else None
        cluster = row.get("cluster_size") if isinstance(row.get("cluster_size"), int) else None
        yield Document(doc_id, text, file.source, file.path, offset, url, lang=lang, cluster_size=cluster)

    @staticmethod
    def _removed(doc_id, file, offset, url, step, reason, detail) -> beam.pvalue.TaggedOutput:
        count(f"{step}/removed.{reason}")
        return beam.pvalue.TaggedOutput(REMOVED, Removal(doc_id, STAGE, step, reason, file.path, offset, url,
                                                         detail=detail))


# --- tokenizing -------------------------------------------------------------------------------

# A tokenized document travels as a plain tuple, which Beam's coder writes natively (a dataclass is
# pickled: 8% of the stage's time in a profile). `tokens` are the ids as the output's dtype, ending with
# the end-of-document token; `group` is the rehydration repeats; `bucket` and `position` place it in the plan.
SOURCE, ID, TEXT, LANG, URL, CLUSTER, FILE, OFFSET, TOKENS, GROUP, BUCKET, POSITION = range(12)


def tokenized(doc: Document, tokens: bytes, group: int, bucket: int, position: float) -> tuple:
    return (doc.source, doc.id, doc.text, doc.lang, doc.url, doc.cluster_size, doc.input_file, doc.input_offset,
            tokens, group, bucket, position)


class TokenizeFn(beam.DoFn):
    """Batches of documents to tokenized tuples; `tokenizers` encodes a batch on Rust threads."""

    def __init__(self, encoder: Encoder, dtype: str, config: MixConfig):
        self.encoder, self.dtype, self.seed = encoder, np.dtype(dtype), config.seed
        self.repeats = {s.name: s.cluster_size_repeats for s in config.sources}

    def setup(self) -> None:
        self.encoder.setup()

    def process(self, batch: list[Document]) -> Iterator:
        try:
            encoded = self.encoder.encode([d.text for d in batch], self.dtype)
        except Exception:  # noqa: BLE001 - dead-letter boundary: each document alone says which one failed
            encoded = [self._encode_one(doc.text) for doc in batch]
        docs, tokens = Counter(), Counter()
        for doc, ids in zip(batch, encoded, strict=True):
            if isinstance(ids, Exception):
                yield dead_letter(f"{STAGE}/tokenize", doc, ids)
                continue
            bucket, position = bucket_of(self.seed, doc.id)
            docs[doc.source] += 1
            tokens[doc.source] += len(ids)
            yield tokenized(doc, ids.tobytes(), repeats(doc.cluster_size, self.repeats[doc.source]), bucket,
                            position)

        for source, n in docs.items():
            count(f"mix/candidates.{source}", n)
            count(f"mix/candidate_tokens.{source}", tokens[source])

    def _encode_one(self, text: str):
        try:
            return self.encoder.encode([text], self.dtype)[0]
        except Exception as err:  # noqa: BLE001
            return err


def token_count(doc: tuple, itemsize: int) -> int:
    return len(doc[TOKENS]) // itemsize


# --- planning ---------------------------------------------------------------------------------

class _CollectMasses(beam.CombineFn):
    """{(source, group, bucket): tokens} of every document."""

    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, acc: dict, keyed: tuple[tuple[str, int, int], int]) -> dict:
        key, n = keyed
        acc[key] = acc.get(key, 0) + n
        return acc

    def merge_accumulators(self, accs: Iterable[dict]) -> dict:
        merged: dict = {}
        for acc in accs:
            for key, n in acc.items():
                merged[key] = merged.get(key, 0) + n
        return merged

    def extract_output(self, acc: dict) -> dict:
        return acc


def make_plan(masses: dict, config: MixConfig, out: str) -> MixPlan:
    """The plan, also written to OUT/plan.json for the launcher's report and for the user."""
    targets = [SourceTarget(s.name, s.weight, s.max_epochs) for s in config.sources]
    plan = plan_mixture(masses.items(), targets, config.total_tokens, config.output.shard_tokens)
    shards.atomically(FileSystems.join(out, PLAN),
                      lambda f: f.write(json.dumps(plan.to_json(), indent=2, sort_keys=True).encode("utf-8")))
    return plan


class PlanMixture(beam.PTransform):
    """Tokenized documents in; the plan as a one-element PCollection (a side input of the selection)."""

    def __init__(self, config: MixConfig, itemsize: int, out: str):
        super().__init__()
        self.config, self.itemsize, self.out = config, itemsize, out

    def expand(self, docs):
        itemsize = self.itemsize
        return (docs
                | "Mass" >> beam.Map(lambda d: ((d[SOURCE], d[GROUP], d[BUCKET]), token_count(d, itemsize)))
                | "SumMasses" >> beam.CombineGlobally(_CollectMasses())
                | "Plan" >> beam.Map(make_plan, self.config, self.out))


# --- choosing copies and writing --------------------------------------------------------------

class SelectCopiesFn(beam.DoFn):
    """(shard, (order key, copy index, document)) per copy the plan gives a document; a removal for a
    document it gives none (down-sampled)."""

    def __init__(self, seed: int):
        self.seed = seed

    def process(self, doc: tuple, plan: MixPlan) -> Iterator:
        copies = plan.sources[doc[SOURCE]].copies(doc[GROUP], doc[BUCKET], doc[POSITION])
        if copies == 0:
            count("sampling/removed.not_sampled")
            yield beam.pvalue.TaggedOutput(REMOVED, Removal(doc[ID], STAGE, "sampling", "not_sampled", doc[FILE],
                                                            doc[OFFSET], doc[URL]))
            return
        for copy in range(copies):
            yield shard_of(self.seed, doc[ID], copy, plan.num_shards), (order_key(self.seed, doc[ID], copy), copy, doc)


def _row(copy: int, doc: tuple, itemsize: int) -> dict:
    return {"id": doc[ID] if copy == 0 else f"{doc[ID]}#{copy}", "doc_id": doc[ID], "copy": copy,
            "source": doc[SOURCE], "text": doc[TEXT], "n_tokens": token_count(doc, itemsize), "lang": doc[LANG],
            "url": doc[URL], "cluster_size": doc[CLUSTER], "input_file": doc[FILE], "input_offset": doc[OFFSET]}


class WriteMixShardFn(beam.DoFn):
    """One shard: documents/part-*.parquet (text) and tokens/part-*.bin/.idx, in the same shuffled order,
    so row i of the text shard is sequence i of the token shard."""

    def __init__(self, config: MixConfig, out: str, dtype: str):
        self.out, self.dtype = out, np.dtype(dtype)
        self.tokens, self.compression = config.output.tokens == "megatron", config.output.compression

    def process(self, keyed: tuple[int, Iterable], plan: MixPlan) -> Iterator[str]:
        shard, copies = keyed
        ordered = sorted(copies, key=lambda c: c[0])
        yield from write_mix_shard(self.out, shard, plan.num_shards, [(c, t) for _, c, t in ordered], self.dtype,
                                   self.tokens, self.compression)


def write_mix_shard(out: str, shard: int, num_shards: int, copies: list[tuple[int, tuple]], dtype: np.dtype,
                    tokens: bool, compression: str) -> Iterator[str]:
    """Write one shard of the mixture (the copies in their training order); yields the paths written."""
    rows = [_row(c, t, dtype.itemsize) for c, t in copies]
    count_written("documents", rows)
    achieved: Counter = Counter()
    for row in rows:
        achieved[f"mix/achieved_tokens.{row['source']}"] += row["n_tokens"]
        achieved[f"mix/achieved_copies.{row['source']}"] += 1
        achieved[f"mix/achieved_documents.{row['source']}"] += row["copy"] == 0
    for key, n in achieved.items():
        count(key, n)
    final = FileSystems.join(out, shards.shard_name("documents", shard, num_shards))
    first = sum(1 for r in rows if r["copy"] == 0)
    schema = mix_schema().with_metadata({**mix_schema().metadata, FIRST_COPIES: str(first).encode()})
    shards.write_rows(final, rows, schema, compression)
    yield final
    if tokens:
        prefix = FileSystems.join(out, shards.shard_name("tokens", shard, num_shards, ""))
        megatron.write_shard(prefix, [t[TOKENS] for _, t in copies], dtype)
        yield prefix
