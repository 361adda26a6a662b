"""Arrow schemas round-trip, and configs fail with messages that name the field."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from corpusmill.pipelines.config_checks import load_stage_config
from corpusmill.pipelines.io.shards import write_rows
from corpusmill.schemas.config import ConfigError, CurateConfig, load_config
from corpusmill.schemas.records import Document, ErrorRecord, Removal
from corpusmill.schemas.tables import SCHEMA_VERSION, TableSchemas


def test_sft_table_round_trips(tmp_path):
    row = {"id": "s", "problem_id": "p", "source": "gsm8k", "format": "gsm8k",
           "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
           "model": "m", "template_version": "r1_v1", "sampling": '{"n": 4}', "seed": 1, "sample_index": 0,
           "pass_rate": 0.5, "verifier": "math_verify_v1", "predicted": "4", "judge_model": None,
           "judge_template": None, "input_file": "g.jsonl", "input_offset": 0}
    path = str(tmp_path / "sft.parquet")
    write_rows(path, [row], TableSchemas("sft").of("documents"))
    assert pq.read_table(path).to_pylist() == [row]


@pytest.mark.parametrize("table,record", [
    ("documents", Document(id="a", text="hello", source="warc", input_file="f.warc.gz", input_offset=3,
                           url="http://x", lang="en", lang_score=0.9, signals={"gopher.word_count": 1.0})),
    ("removed", Removal(id="a", stage="curate", filter="gopher_quality_v1", reason="gopher_short_doc",
                        input_file="f", scores={"gopher.word_count": 1.0})),
    ("errors", ErrorRecord(input_file="f", stage="read", error_class="OSError", message="bad", input_offset=7)),
])
def test_each_table_round_trips(tmp_path, table, record):
    path = str(tmp_path / f"{table}.parquet")
    schema = TableSchemas(signals=("gopher.word_count", "c4.lines"), scores=("gopher.word_count",)).of(table)
    write_rows(path, [record.to_row()], schema)
    back = pq.read_table(path)
    assert back.schema.equals(schema, check_metadata=False)
    assert back.schema.metadata[b"schema_version"] == SCHEMA_VERSION.encode()
    row = record.to_row()
    for column in ("signals", "scores"):  # a struct has a field for every declared name, None where unmeasured
        if column in row:
            row[column] = {n: row[column].get(n) for n in ((("c4.lines",) if column == "signals" else ())
                                                            + ("gopher.word_count",))}
    assert back.to_pylist() == [row]


def _config(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_are_valid():
    config = CurateConfig()
    assert [f.name for f in config.filters][0] == "gopher_repetition_v1"
    assert len(config.config_hash()) == 64


@pytest.mark.parametrize("text,expected", [
    ("extract:\n  extractor: soup\n",
     "field 'extract.extractor': value 'soup': Input should be 'trafilatura' or 'resiliparse'"),
    ("extract:\n  extractr: x\n", "unknown field 'extract.extractr'; allowed: extractor, max_html_bytes, timeout_s"),
    ("filters:\n  - name: gopher_v9\n",
     "unknown filter 'gopher_v9'; known: c4_quality_v1, code_quality_v1, decontamination_v1"),
    ("filters:\n  - name: c4_quality_v1\n    params: {min_sentences: 2}\n",
     "has no parameter 'min_sentences'; allowed:"),
    ("langid:\n  min_score: 2\n", "field 'langid.min_score': value 2: Input should be less than or equal to 1"),
    ("stage: dedup\n", "field 'stage' is 'dedup' but the command is 'curate'"),
    ("- a\n- b\n", "expected a mapping at the top level"),
    ("a: [\n", "not valid YAML"),
])
def test_config_errors_name_the_problem(tmp_path, text, expected):
    with pytest.raises(ConfigError) as err:
        load_stage_config(_config(tmp_path, text), "curate")
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", "curate")


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "configs").glob("*.yaml")))
def test_shipped_configs_are_valid(path):
    stage = yaml.safe_load(path.read_text())["stage"]
    assert load_stage_config(path, stage).stage == stage
