"""`corpusmill mix`: token shares met, deterministic shards, the manifest, text shards read by the usual
readers, token shards equal to the tokenizer's ids, contamination removed, bad input refused."""

import json
import struct
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from corpusmill.core.bpe import default_tokenizer_path
from corpusmill.core.mix_plan import SourceTarget, bucket_of, plan_mixture
from tests.conftest import run_cli

ROOT = Path(__file__).parent.parent
EOD = "<|end_of_text|>"


def _config(tmp_path: Path, name: str, body: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"stage": "mix", **body}))
    return path


def _deepseek_math(tmp_path: Path) -> Path:
    """configs/deepseek-math.yaml with absolute paths (about 2,500 documents of real text)."""
    body = yaml.safe_load((ROOT / "configs/deepseek-math.yaml").read_text())
    for source in body["sources"]:
        source["paths"] = [str(ROOT / p) for p in source["paths"]]
    body["decontamination"] = [str(ROOT / p) for p in body["decontamination"]]
    body.pop("stage")
    return _config(tmp_path, "deepseek-math", body)


@pytest.fixture(scope="module")
def math_mix(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mix")
    out = tmp / "out"
    assert run_cli("mix", "--config", str(_deepseek_math(tmp)), "--output", str(out)) == 0
    return out


def test_shares_meet_the_plan_within_one_percent(math_mix):
    manifest = json.loads((math_mix / "manifest.json").read_text())
    sources = manifest["mix"]["sources"]
    assert set(sources) == {"deepseekmath_corpus", "algebraic_stack", "arxiv", "github_code", "common_crawl"}
    for name, source in sources.items():
        share = source["share"]
        assert abs(share["achieved"] - share["planned"]) <= 0.01 * share["planned"], (name, share)
        tokens = source["tokens"]
        assert abs(tokens["achieved"] - tokens["planned"]) <= 0.01 * tokens["planned"]
    # the smallest source is up-sampled (its max_epochs allow 4), the others down-sampled or taken whole
    assert sources["algebraic_stack"]["documents"]["copies"] > sources["algebraic_stack"]["documents"]["achieved"]
    assert sources["common_crawl"]["documents"]["achieved"] < sources["common_crawl"]["documents"]["candidates"]


def test_manifest_and_report(math_mix):
    manifest = json.loads((math_mix / "manifest.json").read_text())
    mix = manifest["mix"]
    assert manifest["status"] == "complete" and len(manifest["config_hash"]) == 64
    assert mix["seed"] == 0
    assert mix["tokenizer"]["sha256"] and mix["tokenizer"]["vocab_size"] == 16000
    assert mix["total_tokens"]["achieved"] == sum(s["tokens"]["achieved"] for s in mix["sources"].values())
    n = len(manifest["shards"]["documents"])
    assert n >= 2 and len(manifest["shards"]["tokens"]) == 2 * n
    assert all((math_mix / p).is_file() for table in ("documents", "tokens") for p in manifest["shards"][table])
    report = json.loads((math_mix / "report.json").read_text())
    assert report["accounting_ok"] and report["mix"] == mix
    assert report["removed_by_reason"]["mix/decontamination_v1/contaminated"] == 20  # GSM8K items in the math set
    rows = pq.read_table(math_mix / "documents").to_pylist()
    assert report["kept"] == sum(1 for r in rows if r["copy"] == 0) < len(rows)


def test_same_config_same_bytes(math_mix, tmp_path):
    again = tmp_path / "again"
    assert run_cli("mix", "--config", str(_deepseek_math(tmp_path)), "--output", str(again)) == 0
    for table in ("documents", "tokens"):
        first = sorted(p.relative_to(math_mix) for p in (math_mix / table).iterdir())
        assert first == sorted(p.relative_to(again) for p in (again / table).iterdir())
        assert all((math_mix / p).read_bytes() == (again / p).read_bytes() for p in first)
    assert (math_mix / "plan.json").read_text() == (again / "plan.json").read_text()


def test_text_shards_load_in_datasets_polars_and_duckdb(math_mix):
    import datasets
    import duckdb
    import polars as pl

    expected = pq.read_table(math_mix / "documents").num_rows
    files = sorted(str(p) for p in (math_mix / "documents").glob("part-*.parquet"))
    loaded = datasets.load_dataset("parquet", data_files=files, split="train")
    assert loaded.num_rows == expected and {"text", "source", "n_tokens"} <= set(loaded.column_names)
    assert pl.scan_parquet(files).select(pl.len()).collect().item() == expected
    per_source = dict(duckdb.sql(f"SELECT source, sum(n_tokens) FROM read_parquet({files}) GROUP BY source").fetchall())
    manifest = json.loads((math_mix / "manifest.json").read_text())
    assert per_source == {n: s["tokens"]["achieved"] for n, s in manifest["mix"]["sources"].items()}


def read_megatron(prefix: Path) -> list[np.ndarray]:
    """The sequences of a Megatron-LM indexed dataset, read from its published layout (not corpusmill's
    writer): header, version, dtype code, counts, lengths, byte pointers, document indices."""
    idx = (prefix.parent / f"{prefix.name}.idx").read_bytes()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    version, code = struct.unpack("<QB", idx[9:18])
    sequences, documents = struct.unpack("<QQ", idx[18:34])
    dtype = {4: np.int32, 8: np.uint16}[code]
    lengths = np.frombuffer(idx, np.int32, sequences, 34)
    pointers = np.frombuffer(idx, np.int64, sequences, 34 + 4 * sequences)
    doc_index = np.frombuffer(idx, np.int64, documents, 34 + 12 * sequences)
    assert version == 1 and list(doc_index) == list(range(sequences + 1))
    data = (prefix.parent / f"{prefix.name}.bin").read_bytes()
    return [np.frombuffer(data, dtype, n, p) for n, p in zip(lengths, pointers, strict=True)]


def test_token_shards_are_the_tokenizers_ids_in_text_order(math_mix):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(default_tokenizer_path()))
    eod = tokenizer.token_to_id(EOD)
    for part in sorted((math_mix / "documents").glob("part-*.parquet")):
        rows = pq.read_table(part).to_pylist()
        sequences = read_megatron(math_mix / "tokens" / part.name.removesuffix(".parquet"))
        assert len(sequences) == len(rows)
        for row, seq in zip(rows, sequences, strict=True):
            assert seq.tolist() == tokenizer.encode(row["text"], add_special_tokens=False).ids + [eod]
            assert row["n_tokens"] == len(seq)


def test_contamination_planted_in_real_documents_is_removed(tmp_path, data_dir):
    """GSM8K items planted whole, in part, re-wrapped, in upper case and with other spacing into real
    web documents; every one is removed and the untouched documents stay."""
    items = [json.loads(line)["question"] for line in (data_dir / "eval/gsm8k_test_head20.jsonl").open()]
    pages = [json.loads(line)["text"] for line in (data_dir / "classifiers/general_negatives.jsonl").open()][:200]
    variants = [lambda q: q, lambda q: " ".join(q.split()[:14]), lambda q: "\n".join(q.split(" ")),
                lambda q: q.upper(), lambda q: "   ".join(q.split())]
    rows = []
    for i, page in enumerate(pages):
        if i < 100:
            planted = variants[i % len(variants)](items[i % len(items)])
            rows.append({"id": f"planted-{i:03d}", "text": f"{page[:600]}\n{planted}\n{page[600:1200]}"})
        else:
            rows.append({"id": f"clean-{i:03d}", "text": page})
    rows.append({"id": "blank", "text": "  \n\t "})
    source = tmp_path / "web.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = _config(tmp_path, "planted", {
        "sources": [{"name": "web", "paths": [str(source)], "weight": 1.0}],
        "decontamination": [str(data_dir / "eval/gsm8k_test_head20.jsonl")]})
    out = tmp_path / "out"
    assert run_cli("mix", "--config", str(config), "--output", str(out)) == 0
    removed = {r["id"]: r["reason"] for r in pq.read_table(out / "removed").to_pylist()}
    assert {i for i, r in removed.items() if r == "contaminated"} == {r["id"] for r in rows[:100]}
    assert removed["blank"] == "no_text"
    kept = {r["doc_id"] for r in pq.read_table(out / "documents").to_pylist()}
    assert kept == {r["id"] for r in rows[100:200]}  # one epoch of the one source: every clean page
    report = json.loads((out / "report.json").read_text())
    assert report["removed_by_tag"]["decontamination_v1"] == {"benchmark.gsm8k_test_head20": 100}


def test_conditions_select_documents_by_column_and_struct_field(tmp_path):
    import pyarrow as pa

    rows = [{"id": f"d{i}", "text": f"document number {i} " * 20, "lang": "en" if i % 2 else "zh",
             "signals": {"gopher.word_count": float(i)}} for i in range(40)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "part-0.parquet")
    config = _config(tmp_path, "where", {"sources": [
        {"name": "en_long", "paths": [str(tmp_path / "part-0.parquet")], "weight": 0.5,
         "where": [{"column": "lang", "equals": "en"}, {"column": "signals.gopher.word_count", "min": 20}]},
        {"name": "zh", "paths": [str(tmp_path / "part-0.parquet")], "weight": 0.5,
         "where": [{"column": "lang", "one_of": ["zh"]}]}]})
    out = tmp_path / "out"
    assert run_cli("mix", "--config", str(config), "--output", str(out)) == 0
    kept = pq.read_table(out / "documents").to_pylist()
    assert {r["lang"] for r in kept if r["source"] == "en_long"} == {"en"}
    assert all(int(r["doc_id"][1:]) >= 20 for r in kept if r["source"] == "en_long")
    assert {r["lang"] for r in kept if r["source"] == "zh"} == {"zh"}
    removed = pq.read_table(out / "removed").to_pylist()
    assert {r["reason"] for r in removed} <= {"condition_not_met", "not_sampled"}
    assert sum(r["reason"] == "condition_not_met" for r in removed) == 30 + 20


@pytest.mark.parametrize("case, message", [
    ("weights", "sum to"),
    ("empty_source", "has no documents"),
    ("nothing_meets", "has no documents with text under its where conditions"),
    ("missing_tokenizer", "tokenizer file not found"),
    ("unknown_benchmark", "unknown benchmark format"),
    ("missing_column", "where names 'signals.nope'"),
])
def test_bad_input_is_refused_before_any_work(tmp_path, capsys, case, message):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "text": "some text here", "lang": "en",
                                "signals": {"x": 1.0}}) + "\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    sources = [{"name": "a", "paths": [str(good)], "weight": 0.5}, {"name": "b", "paths": [str(good)], "weight": 0.5}]
    body: dict = {"sources": sources}
    if case == "weights":
        sources[1]["weight"] = 0.6
    elif case == "empty_source":
        sources[1]["paths"] = [str(empty)]
    elif case == "nothing_meets":
        sources[1]["where"] = [{"column": "lang", "equals": "fr"}]
    elif case == "missing_tokenizer":
        body["tokenizer"] = {"path": str(tmp_path / "none.json")}
    elif case == "unknown_benchmark":
        body["decontamination"] = [{"path": str(good), "format": "hellaswag"}]
    elif case == "missing_column":
        sources[1]["where"] = [{"column": "signals.nope", "min": 1}]
    out = tmp_path / "out"
    assert run_cli("mix", "--config", str(_config(tmp_path, case, body)), "--output", str(out)) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.lists(st.integers(1, 3000), min_size=50, max_size=400), min_size=1, max_size=4),
       weights=st.lists(st.integers(1, 20), min_size=4, max_size=4), epochs=st.sampled_from([0.5, 1.0, 3.0]))
def test_plan_meets_each_target_to_within_one_document(sizes, weights, epochs):
    """Whatever the document lengths and weights, each source's sampled tokens miss its target by less
    than one document per rehydration group."""
    weights = [w / sum(weights[:len(sizes)]) for w in weights[:len(sizes)]]
    docs = [(f"s{s}", f"s{s}-d{i}", n) for s, lengths in enumerate(sizes) for i, n in enumerate(lengths)]
    placed = [(name, doc_id, n, *bucket_of(7, doc_id)) for name, doc_id, n in docs]
    targets = [SourceTarget(f"s{s}", w, epochs) for s, w in enumerate(weights)]
    plan = plan_mixture((((name, 1, b), n) for name, _, n, b, _ in placed), targets, None, 10**9)
    achieved: dict[str, int] = {}
    for name, _, n, bucket, position in placed:
        achieved[name] = achieved.get(name, 0) + n * plan.sources[name].copies(1, bucket, position)
    for s, lengths in enumerate(sizes):
        planned = plan.sources[f"s{s}"].planned_tokens
        assert abs(achieved[f"s{s}"] - planned) <= max(lengths) + 1


def test_report_html_shows_planned_and_achieved(math_mix):
    page = (math_mix / "report.html").read_text()
    assert "planned vs achieved" in page and "deepseekmath_corpus" in page


def test_rehydration_repeats_documents_of_large_clusters(tmp_path):
    """FineWeb-2 rehydration: a document that stood for a dedup cluster of 5 gets 3 copies in one epoch."""
    import pyarrow as pa

    rows = [{"id": f"d{i}", "text": f"document {i} says something of its own " * 5, "cluster_size": 5 if i < 10 else 1}
            for i in range(40)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "dedup.parquet")
    config = _config(tmp_path, "rehydrate", {"sources": [
        {"name": "web", "paths": [str(tmp_path / "dedup.parquet")], "weight": 1.0, "cluster_size_repeats": {2: 3}}]})
    out = tmp_path / "out"
    assert run_cli("mix", "--config", str(config), "--output", str(out)) == 0
    copies: dict[str, int] = {}
    for row in pq.read_table(out / "documents").to_pylist():
        copies[row["doc_id"]] = copies.get(row["doc_id"], 0) + 1
    assert copies == {f"d{i}": 3 if i < 10 else 1 for i in range(40)}
