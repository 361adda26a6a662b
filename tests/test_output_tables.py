"""Every table corpusmill writes opens in the readers training code uses: pyarrow, polars, DuckDB,
pandas and Hugging Face `datasets` (which has no type for Arrow maps), on real outputs of each stage."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest
import yaml

from corpusmill.schemas.config import load_config
from tests.conftest import run_cli

CONFIGS = Path(__file__).parent.parent / "configs"
TRACES = Path(__file__).parent / "data" / "traces" / "r1_think_tagged_math_10.jsonl"


@pytest.fixture(scope="module")
def builds(tmp_path_factory, data_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tables")
    curate, dedup, verify = root / "curate", root / "dedup", root / "verify"
    # the curate config of a nightly build: filters, PII and dedup with an index
    curate_config = root / "curate.yaml"
    curate_config.write_text(yaml.safe_dump(load_config(CONFIGS / "nightly.yaml", "build").curate_config([])
                                            .model_dump(mode="json")))
    assert run_cli("curate", "--config", str(curate_config), "--output", str(curate),
                   "--input", str(data_dir / "web"), "--input", str(data_dir / "bad")) == 0
    assert run_cli("dedup", "--config", str(CONFIGS / "dedup.yaml"), "--output", str(dedup),
                   "--input", str(curate / "documents")) == 0
    rows = [json.loads(line) for line in TRACES.read_text().splitlines()]
    problems, gens = root / "problems.jsonl", root / "gens.jsonl"
    problems.write_text("".join(json.dumps({"id": r["id"], "problem": r["problem"], "answer": r["gt_answer"]}) + "\n"
                                for r in rows))
    gens.write_text("".join(json.dumps({"problem_id": r["id"], "completion": c}) + "\n"
                            for r in rows for c in (r["completion"], "<think>x</think> \\boxed{-1}")) + "{bad\n")
    assert run_cli("verify", "--problems", str(problems), "--generations", str(gens), "--output", str(verify)) == 0
    return {"curate": curate, "dedup": dedup, "verify": verify}


TABLES = [("curate", t) for t in ("documents", "removed", "errors", "index")] + \
         [("dedup", t) for t in ("documents", "removed", "errors", "index")] + \
         [("verify", t) for t in ("documents", "removed", "errors")]


@pytest.mark.parametrize("stage,table", TABLES)
def test_every_table_loads_in_five_readers(builds, stage, table, tmp_path, monkeypatch):
    import datasets
    import duckdb
    import pandas as pd
    import polars as pl

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    folder = builds[stage] / table
    glob = str(folder / "part-*.parquet")
    n = ds.dataset(folder, format="parquet").count_rows()
    assert pl.read_parquet(glob).height == n
    assert duckdb.sql(f"select count(*) from read_parquet('{glob}')").fetchall()[0][0] == n
    assert len(pd.read_parquet(folder)) == n
    if n == 0:  # `datasets` makes no split of a table without rows; it must say so, not fail on a type
        with pytest.raises(ValueError, match="corresponds to no data"):
            datasets.load_dataset("parquet", data_files=glob, split="train", cache_dir=str(tmp_path / "hf"))
        return
    loaded = datasets.load_dataset("parquet", data_files=glob, split="train", cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == n


def test_signals_are_one_field_each_to_filter_on(builds):
    import duckdb
    import polars as pl

    glob = str(builds["curate"] / "documents" / "part-*.parquet")
    long = pl.read_parquet(glob).filter(pl.col("signals").struct.field("gopher.word_count") >= 100)
    via_sql = duckdb.sql(f"""select count(*) from read_parquet('{glob}') where signals."gopher.word_count" >= 100""")
    assert 0 < long.height == via_sql.fetchall()[0][0]
    removed = pl.read_parquet(str(builds["curate"] / "removed" / "part-*.parquet"))
    http = removed.filter(pl.col("scores").struct.field("http.payload_bytes") > 0)
    assert http.height > 0 and set(http["filter"]) == {"warc_reader"}


def test_sft_jsonl_loads_with_datasets(builds, tmp_path):
    import datasets

    data = datasets.load_dataset("json", data_files=str(builds["verify"] / "sft" / "*.jsonl"), split="train",
                                 cache_dir=str(tmp_path / "hf"))
    assert data.num_rows == 10 and [m["role"] for m in data[0]["messages"]] == ["user", "assistant"]


def test_auto_shards_follow_the_text_the_inputs_hold():
    """`num_shards: auto` (the default): one shard per 128 MB of input text, estimated by format."""
    from corpusmill.pipelines.io.inputs import auto_num_shards
    from corpusmill.schemas.config import OutputConfig

    assert OutputConfig().num_shards == "auto"
    assert auto_num_shards({}) == 1
    assert auto_num_shards({"a.jsonl": ("jsonl", 10)}) == 1
    assert auto_num_shards({"a.jsonl": ("jsonl", 200 << 20), "b.jsonl": ("jsonl", 100 << 20)}) == 3
    assert auto_num_shards({"a.parquet": ("parquet", 100 << 20)}) == 3  # compressed text
    assert auto_num_shards({"a.warc.gz": ("warc", 1 << 30)}) == 1  # mostly markup; extraction keeps a few %
