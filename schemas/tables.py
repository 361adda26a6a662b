"""Arrow schemas of every table corpusmill writes.

Writers always pass these schemas explicitly; each carries `schema_version` in its
metadata so readers can tell which contract a shard was written under.

Schema version 2 (corpusmill 0.1, replacing 1): `signals` and `domain` of documents and `scores` of
removed records are structs of float64 fields named after what the stage's steps measure
(`gopher.word_count`, ...), no longer `map<string, double>`. Hugging Face `datasets` cannot load
Arrow maps; a struct loads in datasets, pyarrow, polars, DuckDB and pandas alike, and a single
signal is one field to filter on (`signals."gopher.word_count" > 50` in DuckDB,
`pl.col("signals").struct.field("gopher.word_count")` in polars). A stage whose steps measure
nothing writes the column with Arrow's null type (Parquet cannot store a struct without fields).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

SCHEMA_VERSION = "2"


def scores_type(names: Iterable[str]) -> pa.DataType:
    """A struct with one float64 field per name (sorted), or the null type when there are none."""
    names = sorted(set(names))
    return pa.struct([pa.field(n, pa.float64()) for n in names]) if names else pa.null()


def _versioned(name: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata={"schema_version": SCHEMA_VERSION, "table": name})


def document_schema(signal_names: Iterable[str] = (), domain_names: Iterable[str] = ()) -> pa.Schema:
    """The documents table of a stage whose steps measure `signal_names` and score `domain_names`."""
    return _versioned("documents", [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("crawl_date", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        # domain scores, e.g. {"math": 0.93, "code": 0.02}
        pa.field("domain", scores_type(domain_names)),
        # namespaced quality signals, e.g. {"gopher.word_count": 812.0}
        pa.field("signals", scores_type(signal_names)),
        pa.field("cluster_id", pa.string()),
        pa.field("cluster_size", pa.int64()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ])


def removed_schema(score_names: Iterable[str] = ()) -> pa.Schema:
    """The removed ledger of a stage whose removing steps measure `score_names`."""
    return _versioned("removed", [
        pa.field("id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("filter", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("scores", scores_type(score_names)),
        pa.field("survivor_id", pa.string()),
        # what the filter matched, when that is more than a number: e.g. the benchmark item
        pa.field("detail", pa.string()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ])


ERROR_SCHEMA = _versioned(
    "errors",
    [
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
        pa.field("record_id", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error_class", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
    ],
)

# The near-duplicate index a build leaves for later builds: one row per kept document, its
# LSH band hashes and MinHash signature (parameters in the table metadata and the manifest).
DEDUP_INDEX_SCHEMA = _versioned(
    "dedup_index",
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("bands", pa.list_(pa.uint64()), nullable=False),
        pa.field("signature", pa.list_(pa.uint32()), nullable=False),
    ],
)

# Verified samples for supervised fine-tuning: chat `messages` as TRL's SFTTrainer reads them,
# plus where each sample came from and what the verifier said.
SFT_SCHEMA = _versioned(
    "sft",
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("problem_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("messages", pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])),
                 nullable=False),
        pa.field("model", pa.string()),
        pa.field("template_version", pa.string()),
        pa.field("sampling", pa.string()),  # JSON of the sampling parameters, as given
        pa.field("seed", pa.int64()),
        pa.field("sample_index", pa.int64()),
        pa.field("pass_rate", pa.float64()),  # share of the problem's samples that verified (synth)
        pa.field("verifier", pa.string(), nullable=False),
        pa.field("predicted", pa.string()),  # the answer math-verify extracted, or the judge's "score=N"
        pa.field("judge_model", pa.string()),  # open problems: the judge model and template that accepted it
        pa.field("judge_template", pa.string()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ],
)


_MESSAGES = pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())]))

# Preference pairs for DPO, in the conversational form TRL's DPOTrainer reads: `prompt` the conversation
# up to the answer, `chosen` and `rejected` one assistant message each; the rejected side's reason kept.
PAIRS_SCHEMA = _versioned(
    "pairs",
    [
        pa.field("id", pa.string(), nullable=False),  # <problem id>#<chosen index>-<rejected index>
        pa.field("problem_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("prompt", _MESSAGES, nullable=False),
        pa.field("chosen", _MESSAGES, nullable=False),
        pa.field("rejected", _MESSAGES, nullable=False),
        pa.field("chosen_index", pa.int64(), nullable=False),
        pa.field("rejected_index", pa.int64(), nullable=False),
        pa.field("rejected_verifier", pa.string(), nullable=False),
        pa.field("rejected_reason", pa.string(), nullable=False),
        pa.field("model", pa.string()),
        pa.field("template_version", pa.string()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ],
)


# An SFT training set (corpusmill sft-set): conversations as TRL's SFTTrainer reads them (`messages`), with
# the part of the composition each belongs to; an up-sampled conversation's further copies have copy > 0.
SFT_SET_SCHEMA = _versioned(
    "sft_set",
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # reasoning or non_reasoning
        pa.field("domain", pa.string(), nullable=False),  # math, code, other; "-" for non-reasoning
        pa.field("problem_id", pa.string(), nullable=False),
        pa.field("messages", _MESSAGES, nullable=False),
        pa.field("num_tokens", pa.int64(), nullable=False),
        pa.field("copy", pa.int64(), nullable=False),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ],
)


# A mixture's documents (corpusmill mix): one row per copy in the mixture, in its shuffled training order;
# row i of documents/part-K is sequence i of tokens/part-K. An up-sampled document's copies after the first
# have ids `<doc_id>#<copy>`. Each shard's metadata says how many rows are first copies (FIRST_COPIES): the
# documents kept, for the report's accounting.
FIRST_COPIES = b"first_copies"


def mix_schema() -> pa.Schema:
    return _versioned("documents", [
        pa.field("id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("copy", pa.int32(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # the mixture source's name
        pa.field("text", pa.string(), nullable=False),
        pa.field("n_tokens", pa.int64(), nullable=False),  # with the end-of-document token
        pa.field("lang", pa.string()),
        pa.field("url", pa.string()),
        pa.field("cluster_size", pa.int64()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ])


@dataclass(frozen=True)
class TableSchemas:
    """The schemas of one build's tables: which documents table it writes (documents or SFT samples)
    and the fields of its signal, domain and score structs, known before the build starts."""

    documents: Literal["documents", "sft", "mix"] = "documents"
    signals: tuple[str, ...] = ()
    domain: tuple[str, ...] = ()
    scores: tuple[str, ...] = ()

    def of(self, table: str) -> pa.Schema:
        """The schema of a table by name; `repos`, `repos_removed`, `repos_index` (the code stage's
        repository-level samples) share the documents, removed and index schemas."""
        if table == "documents":
            if self.documents == "mix":
                return mix_schema()
            return SFT_SCHEMA if self.documents == "sft" else document_schema(self.signals, self.domain)
        if table == "repos":
            return document_schema(self.signals, self.domain)
        if table in ("removed", "repos_removed"):
            return removed_schema(self.scores)
        return {"errors": ERROR_SCHEMA, "index": DEDUP_INDEX_SCHEMA, "repos_index": DEDUP_INDEX_SCHEMA,
                "sft": SFT_SCHEMA, "pairs": PAIRS_SCHEMA}[table]
