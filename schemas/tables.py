"""Arrow schemas of every table corpusmill writes.

Writers always pass these schemas explicitly; each carries `schema_version` in its
metadata so readers can tell which contract a shard was written under.
"""

import pyarrow as pa

SCHEMA_VERSION = "1"

_SCORES = pa.map_(pa.string(), pa.float64())


def _versioned(name: str, fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(fields, metadata={"schema_version": SCHEMA_VERSION, "table": name})


DOCUMENT_SCHEMA = _versioned(
    "documents",
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("crawl_date", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        # domain scores, e.g. {"math": 0.93, "code": 0.02}
        pa.field("domain", _SCORES),
        # namespaced quality signals, e.g. {"gopher.word_count": 812.0}
        pa.field("signals", _SCORES),
        pa.field("cluster_id", pa.string()),
        pa.field("cluster_size", pa.int64()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ],
)

REMOVED_SCHEMA = _versioned(
    "removed",
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("filter", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("scores", _SCORES),
        pa.field("survivor_id", pa.string()),
        # what the filter matched, when that is more than a number: e.g. the benchmark item
        pa.field("detail", pa.string()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ],
)

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
        pa.field("predicted", pa.string()),
        pa.field("input_file", pa.string(), nullable=False),
        pa.field("input_offset", pa.int64()),
    ],
)

SCHEMAS = {"documents": DOCUMENT_SCHEMA, "sft": SFT_SCHEMA, "removed": REMOVED_SCHEMA, "errors": ERROR_SCHEMA,
           "index": DEDUP_INDEX_SCHEMA}
