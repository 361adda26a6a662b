"""The dedup stage end to end on a corpus with known clusters, repeated runs and across builds."""

import gzip
import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpusmill.filters.dedup.minhash import ShingleSpec, jaccard, shingle_hashes, shingles
from corpusmill.pipelines.io.spill import SPILL_DIR
from corpusmill.schemas.config import MinHashConfig
from tests.conftest import run_cli

DEFAULT_SHINGLES = ShingleSpec.of(MinHashConfig())  # word 5-grams, lower case

CONFIG = Path(__file__).parent.parent / "configs" / "dedup.yaml"


def _base_texts(data_dir: Path) -> list[str]:
    """Four real Common Crawl texts (dolma sample), cut to their first 600 words."""
    rows = [json.loads(line) for line in gzip.open(data_dir / "text/dolma_cc_en_head-0091.jsonl.gz", "rt")]
    long = [r["text"].split() for r in rows if len(r["text"].split()) >= 400]
    return [" ".join(words[:600]) for words in long[:4]]


def _edit(text: str, k: int, salt: str, shift: float = 0.0) -> str:
    """Replace k evenly spaced words (moved by `shift` of the spacing) by new ones."""
    words = text.split()
    step = len(words) // (k + 1)
    for i in range(1, k + 1):
        words[i * step + int(shift * step)] = f"{salt}{i}"
    return " ".join(words)


def _sim(a: str, b: str) -> float:
    return jaccard(shingles(a, "en", DEFAULT_SHINGLES), shingles(b, "en", DEFAULT_SHINGLES))


@pytest.fixture(scope="module")
def corpus(data_dir, tmp_path_factory):
    """Known clusters: {a, a1} near, {b, b1, b2} a chain, {e1, e2} exact, c and d unique, empty and
    one-word documents, a Chinese near pair; plus the ids each cluster must keep."""
    a, b, c, d = _base_texts(data_dir)
    b1 = _edit(b, 8, "p")
    b2 = _edit(b1, 8, "q", shift=0.5)
    docs = {
        "a": a, "a1": _edit(a, 4, "x"),
        "b": b, "b1": b1, "b2": b2,
        "c": c, "d": d,
        "e1": "An exact copy survives once. " * 30, "e2": "An exact copy survives once. " * 30,
        "empty1": "", "empty2": "", "word1": "hello", "word2": "goodbye",
        "zh1": "第九届会议时间二零零三年七月二十八日至八月八日牙买加金斯敦"
               "为来自发展中国家的法律和技术委员会成员提供经费的自愿信托基金"
               "秘书长的报告本报告提交给国际海底管理局大会审议"
               "说明了自愿信托基金的现状以及经费的使用情况和今后的安排",
    }
    docs["zh2"] = docs["zh1"].replace("审议", "讨论")
    assert _sim(a, docs["a1"]) >= 0.8
    assert _sim(b, b1) >= 0.8 and _sim(b1, b2) >= 0.8 and _sim(b, b2) < 0.8  # a chain, not a clique
    assert max(_sim(x, y) for x, y in ((a, b), (a, c), (b, c), (c, d))) < 0.3
    folder = tmp_path_factory.mktemp("corpus")
    path = folder / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in docs.items()))
    return path, docs


def _run(config: Path, out: Path, *inputs: Path) -> int:
    return run_cli("dedup", "--config", str(config), "--output", str(out), *[f"--input={p}" for p in inputs])


def _outputs(out: Path):
    kept = {r["id"]: r for r in pq.read_table(out / "documents").to_pylist()}
    removed = {r["id"]: r for r in pq.read_table(out / "removed").to_pylist()}
    return kept, removed


@pytest.fixture(scope="module")
def first_build(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("dedup") / "out"
    assert _run(CONFIG, out, corpus[0]) == 0
    return out


def test_spill_files_are_gone_after_the_run(first_build):
    """Documents and shingle sets go through spill files, not shuffles; none is left in the build."""
    assert (first_build / "documents").is_dir() and not (first_build / SPILL_DIR).exists()


def test_known_clusters_are_recovered_exactly(first_build, corpus):
    kept, removed = _outputs(first_build)
    _, docs = corpus
    # the longest member survives (ties: smallest id); a chain is one cluster
    chain = sorted(["b", "b1", "b2"], key=lambda k: (-len(docs[k]), k))
    pair_a = sorted(["a", "a1"], key=lambda k: (-len(docs[k]), k))
    zh = sorted(["zh1", "zh2"], key=lambda k: (-len(docs[k]), k))
    assert set(kept) == {chain[0], pair_a[0], "c", "d", "e1", "empty1", "word1", "word2", zh[0]}
    assert {k: (r["reason"], r["survivor_id"]) for k, r in removed.items()} == {
        chain[1]: ("near_duplicate", chain[0]), chain[2]: ("near_duplicate", chain[0]),
        pair_a[1]: ("near_duplicate", pair_a[0]), zh[1]: ("near_duplicate", zh[0]),
        "e2": ("exact_duplicate", "e1"), "empty2": ("exact_duplicate", "empty1"),
    }
    assert kept[chain[0]]["cluster_size"] == 3 and kept[chain[0]]["cluster_id"] == chain[0]
    assert kept[pair_a[0]]["cluster_size"] == 2
    assert kept["e1"]["cluster_size"] == 2 and kept["c"]["cluster_size"] == 1 and kept["c"]["cluster_id"] == "c"
    report = json.loads((first_build / "report.json").read_text())
    assert report["accounting_ok"] and report["inputs"] == len(docs)
    assert report["removed_by_reason"] == {"dedup/exact_dedup_v1/exact_duplicate": 2,
                                           "dedup/minhash_dedup_v1/near_duplicate": 4}
    assert report["counters"].get("minhash_dedup_v1/unconverged_components", 0) == 0
    index = pq.read_table(first_build / "index").to_pylist()
    assert sorted(r["id"] for r in index) == sorted(k for k in kept if docs[k].strip())
    assert all(len(r["signature"]) == 128 and len(r["bands"]) == 16 for r in index)
    manifest = json.loads((first_build / "manifest.json").read_text())
    assert manifest["config"]["dedup"]["minhash"]["seed"] == 42


def _digest(out: Path) -> str:
    h = hashlib.sha256()
    for table in ("documents", "removed", "index"):
        for part in sorted((out / table).glob("part-*")):
            h.update(part.read_bytes())
    return h.hexdigest()


def test_repeated_runs_write_identical_files(first_build, corpus, tmp_path):
    again = tmp_path / "again"
    assert _run(CONFIG, again, corpus[0]) == 0
    assert _digest(again) == _digest(first_build)


def test_datasketch_backend_gives_the_same_result(first_build, corpus, tmp_path):
    config = tmp_path / "ds.yaml"
    config.write_text("dedup:\n  minhash:\n    signature_backend: datasketch\n")
    out = tmp_path / "ds"
    assert _run(config, out, corpus[0]) == 0
    assert _outputs(out)[1].keys() == _outputs(first_build)[1].keys()


def _later_build(first_build: Path, tmp_path: Path, rows: dict[str, str]):
    """(kept, removed) of a build of `rows` ({id: text}) deduplicated against `first_build`."""
    new = tmp_path / "new.jsonl"
    new.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in rows.items()))
    config = tmp_path / "incremental.yaml"
    config.write_text(f"dedup:\n  earlier_indexes: [{first_build}]\n")
    out = tmp_path / "build2"
    assert _run(config, out, new) == 0
    return _outputs(out)


def test_later_build_removes_copies_of_earlier_documents(first_build, corpus, tmp_path):
    _, docs = corpus
    kept_before, _ = _outputs(first_build)
    survivor_a = next(k for k in ("a", "a1") if k in kept_before)
    kept, removed = _later_build(first_build, tmp_path, {"a_again": _edit(docs["a"], 3, "n"), "c_copy": docs["c"],
                                                         "fresh": _edit(docs["d"], 200, "f")})
    assert set(kept) == {"fresh"}
    assert removed["c_copy"]["survivor_id"] == "c"
    assert removed["a_again"]["survivor_id"] == survivor_a
    assert all(dict(r["scores"])["dedup.earlier_build"] == 1.0 for r in removed.values())


def test_earlier_build_with_other_minhash_settings_is_refused(first_build, corpus, tmp_path, capsys):
    config = tmp_path / "mismatch.yaml"
    config.write_text(f"dedup:\n  minhash: {{num_perm: 64}}\n  earlier_indexes: [{first_build}]\n")
    out = tmp_path / "refused"
    assert _run(config, out, corpus[0]) == 2
    assert "used minhash.num_perm=128, this config has 64" in capsys.readouterr().err
    assert not out.exists()


def test_corpus_without_duplicates_loses_nothing(corpus, tmp_path):
    _, docs = corpus
    unique = tmp_path / "unique.jsonl"
    keys = ["a", "b", "c", "d", "word1", "word2", "zh1"]
    unique.write_text("".join(json.dumps({"id": k, "text": docs[k]}) + "\n" for k in keys))
    out = tmp_path / "unique"
    assert _run(CONFIG, out, unique) == 0
    kept, removed = _outputs(out)
    assert set(kept) == set(keys) and removed == {}
    assert all(r["cluster_size"] == 1 for r in kept.values())


def test_curate_with_a_dedup_section(data_dir, tmp_path):
    config = tmp_path / "curate.yaml"
    config.write_text("langid:\n  languages: []\nfilters: []\npii: null\ndedup:\n  url: true\n")
    out = tmp_path / "curated"
    assert run_cli("curate", "--config", str(config), "--output", str(out),
                   "--input", str(data_dir / "text")) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accounting_ok"]
    assert [s["filter"] for s in report["funnel"]][-3:] == ["url_dedup_v1", "exact_dedup_v1", "minhash_dedup_v1"]
    assert report["removed_by_reason"]["dedup/minhash_dedup_v1/near_duplicate"] >= 3  # the data-juicer pairs
    assert (out / "index" / "part-00000-of-00001.parquet").exists()


@pytest.mark.parametrize("step", ["shingle_hashes", "signatures"])
def test_a_document_whose_fingerprinting_raises_is_an_error_row(step, tmp_path, data_dir, monkeypatch):
    """Shingling fails one document; a signature pass fails its whole batch and is redone document by
    document: either way only the bad document is an error row."""
    from corpusmill.pipelines.transforms.dedup import near

    texts = _base_texts(data_dir)
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts))
                    + json.dumps({"id": "poison", "text": "POISON " + texts[0]}) + "\n")
    poison = shingle_hashes("POISON " + texts[0], "en", DEFAULT_SHINGLES)
    real = getattr(near, step)

    def shingles_or_raise(text, lang, spec):
        if text.startswith("POISON"):
            raise MemoryError("simulated: the shingle set did not fit")
        return real(text, lang, spec)

    def signatures_or_raise(sets, *args):
        if any(len(s) == len(poison) and (s == poison).all() for s in sets):
            raise MemoryError("simulated: a signature pass failed")
        return real(sets, *args)

    monkeypatch.setattr(near, step, shingles_or_raise if step == "shingle_hashes" else signatures_or_raise)
    out = tmp_path / "out"
    assert run_cli("dedup", "--config", str(CONFIG), "--output", str(out), "--input", str(docs)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accounting_ok"] and (report["kept"], report["errors"]) == (4, 1)
    (error,) = pq.read_table(out / "errors").to_pylist()
    assert (error["record_id"], error["error_class"], error["stage"]) == ("poison", "MemoryError",
                                                                         "dedup/minhash_dedup_v1")


def test_a_verbatim_copy_under_an_earlier_id_is_removed(first_build, corpus, tmp_path):
    """An earlier build's document and this build's document are two nodes even under one id."""
    _, docs = corpus
    kept_before, _ = _outputs(first_build)
    assert "c" in kept_before
    kept, removed = _later_build(first_build, tmp_path, {"c": docs["c"], "fresh": _edit(docs["d"], 200, "f")})
    assert set(kept) == {"fresh"}
    assert removed["c"]["survivor_id"] == "c" and dict(removed["c"]["scores"])["dedup.earlier_build"] == 1.0


def test_a_repeated_id_is_an_error_row_not_a_merge(corpus, tmp_path):
    _, docs = corpus
    path = tmp_path / "repeated.jsonl"
    path.write_text(json.dumps({"id": "x", "text": docs["a"]}) + "\n" + json.dumps({"id": "x", "text": docs["c"]})
                    + "\n" + json.dumps({"id": "y", "text": docs["d"]}) + "\n")
    out = tmp_path / "out"
    assert _run(CONFIG, out, path) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accounting_ok"] and (report["kept"], report["errors"]) == (2, 1)
    kept, _ = _outputs(out)
    assert kept["x"]["text"] == docs["a"]  # the first in input order
    (error,) = pq.read_table(out / "errors").to_pylist()
    first_line = len((json.dumps({"id": "x", "text": docs["a"]}) + "\n").encode())
    assert (error["record_id"], error["error_class"], error["input_offset"]) == ("x", "RepeatedId", first_line)
    assert "unique" in error["message"]


def test_warc_input_shows_reading_and_extraction_in_the_funnel(data_dir, tmp_path):
    """WARC records the reader skips and pages extraction drops are steps of the dedup funnel."""
    from tests.conftest import write_warc

    texts = _base_texts(data_dir)
    pages = [(f"https://example.org/{i}", "text/html", f"<html><body><p>{t}</p></body></html>".encode())
             for i, t in enumerate(texts)]
    pages += [("https://example.org/empty", "text/html", b"<html><body></body></html>"),
              ("https://example.org/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(64))]
    out = tmp_path / "out"
    assert _run(CONFIG, out, write_warc(tmp_path / "pages.warc.gz", pages)) == 0
    report = json.loads((out / "report.json").read_text())
    removed = pq.read_table(out / "removed").to_pylist()
    steps = {(s["stage"], s["filter"]): s for s in report["funnel"]}
    for stage, name in (("read", "warc_reader"), ("extract", "trafilatura")):
        filed = sum(1 for r in removed if (r["stage"], r["filter"]) == (stage, name))
        assert steps[(stage, name)]["removed"] == filed
    assert steps[("read", "warc_reader")]["removed"] == steps[("extract", "trafilatura")]["removed"] == 1
    assert report["accounting_ok"] and report["funnel"][-1]["out"] == report["kept"]


def test_both_component_paths_write_identical_files(first_build, corpus, tmp_path):
    config = tmp_path / "distributed.yaml"
    config.write_text("dedup:\n  minhash:\n    components: distributed\n")
    out = tmp_path / "distributed"
    assert _run(config, out, corpus[0]) == 0
    assert _digest(out) == _digest(first_build)


def _chain(data_dir: Path, length: int) -> list[str]:
    """Documents each a near duplicate of the next (8 of 600 words changed a step), the ends far apart."""
    texts = [_base_texts(data_dir)[0]]
    for i in range(1, length):
        texts.append(_edit(texts[-1], 8, f"s{i}x", shift=(i % 5) / 5))
    assert _sim(texts[0], texts[1]) >= 0.8 and _sim(texts[0], texts[2]) < 0.8
    return texts


def test_a_component_too_long_for_max_rounds_fails_the_build(data_dir, tmp_path, capsys):
    """On the distributed path a component the rounds did not resolve is a failed build, never a
    "complete" one with two survivors; union-find resolves the same chain."""
    path = tmp_path / "chain.jsonl"
    path.write_text("".join(json.dumps({"id": f"n{i:02d}", "text": t}) + "\n"
                            for i, t in enumerate(_chain(data_dir, 24))))
    config = tmp_path / "one_round.yaml"
    config.write_text("dedup:\n  minhash:\n    components: distributed\n    max_rounds: 1\n")
    out = tmp_path / "one_round"
    assert _run(config, out, path) == 1
    assert "not resolved in minhash.max_rounds" in capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed_unconverged"
    out = tmp_path / "union_find"
    assert _run(CONFIG, out, path) == 0
    kept, removed = _outputs(out)
    assert len(kept) == 1 and len(removed) == 23 and next(iter(kept.values()))["cluster_size"] == 24


def _shuffles(config_text: str, tmp_path: Path) -> int:
    import apache_beam as beam

    from corpusmill.pipelines.stages import dedup
    from corpusmill.pipelines.transforms.write import OutputSpec
    from corpusmill.schemas.config import load_config

    path = tmp_path / "shuffles.yaml"
    path.write_text(config_text)
    config = load_config(path, "dedup")
    pipeline = beam.Pipeline()
    formats = {str(tmp_path / "in.jsonl"): "jsonl"}
    dedup.build(pipeline, config, formats, OutputSpec(str(tmp_path / "o"), 1, "zstd", dedup.schemas(config, formats)))
    found = []

    class Visitor(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            if isinstance(node.transform, beam.GroupByKey):
                found.append(node.full_label)

    pipeline.visit(Visitor())
    return found


def test_the_union_find_path_does_not_grow_with_max_rounds(tmp_path):
    few, many = (_shuffles(f"dedup:\n  minhash:\n    max_rounds: {r}\n", tmp_path) for r in (2, 50))
    assert len(few) == len(many) <= 9
    # exact duplicates by (text hash, rank) pairs: no shuffle of documents before the final write
    assert [g for g in few if "Exact" in g] == ["Dedup/Dedup/MinHash/Exact/GroupByText"]
    distributed = _shuffles("dedup:\n  minhash:\n    components: distributed\n    max_rounds: 10\n", tmp_path)
    assert len(distributed) == len(few) - 1 + 2 * 10 + 2
    print(f"shuffles: union_find {len(few)}, distributed with 10 rounds {len(distributed)}")


@pytest.mark.parametrize("which", ["corpus", "chain"])
def test_more_pairs_than_max_local_edges_are_resolved_on_disk_with_the_same_result(which, corpus, data_dir,
                                                                                    tmp_path):
    """The union-find path takes a graph over max_local_edges to star rounds over its spill files, run until
    they converge (a 24-document chain needs several): the same documents, removals and index as in memory."""
    path = corpus[0]
    if which == "chain":
        path = tmp_path / "chain.jsonl"
        path.write_text("".join(json.dumps({"id": f"n{i:02d}", "text": t}) + "\n"
                                for i, t in enumerate(_chain(data_dir, 24))))
    config = tmp_path / "tiny_limit.yaml"
    config.write_text("dedup:\n  minhash:\n    max_local_edges: 2\n")
    on_disk, in_memory = tmp_path / "on_disk", tmp_path / "in_memory"
    assert _run(config, on_disk, path) == 0 and _run(CONFIG, in_memory, path) == 0
    counters = json.loads((on_disk / "report.json").read_text())["counters"]
    assert counters["minhash_dedup_v1/components_on_disk"] == 1
    assert counters["minhash_dedup_v1/star_rounds_on_disk"] >= (3 if which == "chain" else 1)
    for table in ("documents", "removed", "index"):
        assert (on_disk / table / "part-00000-of-00001.parquet").read_bytes() == \
            (in_memory / table / "part-00000-of-00001.parquet").read_bytes(), table


@pytest.fixture(scope="module")
def url_corpus(data_dir, tmp_path_factory):
    """URL duplicates that meet exact and near duplicates: a document removed for its URL takes no part in
    exact or near dedup, and a URL group's survivor stands for the whole group in its cluster's size."""
    a, b, c, d = _base_texts(data_dir)
    b_short = " ".join(b.split()[:500])
    rows = [
        ("A", "https://www.example.org/u1", a), ("B", "http://example.org/u1/", b_short),  # B: URL dup of A
        ("C", None, _edit(" ".join(b_short.split()[:490]), 4, "m")),  # near B only: kept, B is gone
        ("D", "https://example.org/u2", "An exact copy of a removed page. " * 30),  # URL dup of F
        ("E", None, "An exact copy of a removed page. " * 30),  # exact copy of D only: kept
        ("F", "https://example.org/u2", c),
        ("G", "https://example.org/u3", d), ("H", "https://example.org/u3", " ".join(d.split()[:400])),
        ("I", None, _edit(" ".join(d.split()[:590]), 4, "z")),  # near G: removed, cluster of 3 documents
    ]
    assert _sim(b_short, rows[2][2]) >= 0.8 and _sim(d, rows[8][2]) >= 0.8
    path = tmp_path_factory.mktemp("url_corpus") / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": i, "url": u, "text": t}) + "\n" for i, u, t in rows))
    config = path.parent / "url.yaml"
    config.write_text("dedup:\n  url: true\n")
    out = path.parent / "out"
    assert _run(config, out, path) == 0
    return out


def test_url_duplicates_leave_exact_and_near_dedup_to_the_survivors(url_corpus):
    kept, removed = _outputs(url_corpus)
    assert {k: (r["cluster_id"], r["cluster_size"]) for k, r in kept.items()} == {
        "A": ("A", 2), "C": ("C", 1), "E": ("E", 1), "F": ("F", 2), "G": ("G", 3)}
    assert {k: (r["filter"], r["reason"], r["survivor_id"]) for k, r in removed.items()} == {
        "B": ("url_dedup_v1", "duplicate_url", "A"), "D": ("url_dedup_v1", "duplicate_url", "F"),
        "H": ("url_dedup_v1", "duplicate_url", "G"), "I": ("minhash_dedup_v1", "near_duplicate", "G")}
    assert removed["I"]["scores"]["dedup.cluster_size"] == 3.0
    assert removed["B"]["scores"]["dedup.group_size"] == 2.0


def test_url_dedup_keeps_documents_out_of_shuffles(tmp_path):
    """With MinHash on, URL and exact duplicates are settled from ids, keys and ranks too."""
    shuffles = _shuffles("dedup:\n  url: true\n", tmp_path)
    assert not [g for g in shuffles if "Url/GroupByKey" in g or "Exact/GroupByKey" in g], shuffles
