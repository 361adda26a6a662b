"""End to end: the `corpusmill curate` CLI on the real samples in tests/data and on bad input."""

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli, write_warc

CONFIG = Path(__file__).parent.parent / "configs" / "curate.yaml"


def _tree_digest(out: Path, table: str) -> str:
    h = hashlib.sha256()
    for part in sorted((out / table).glob("part-*.parquet")):
        h.update(part.name.encode())
        h.update(part.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("demo") / "out"
    assert run_cli("curate", "--config", str(CONFIG), "--output", str(out), "--input", str(data_dir / "web")) == 0
    return out


def test_output_layout_and_report(demo_build):
    out = demo_build
    for table in ("documents", "removed", "errors"):
        assert [p.name for p in (out / table).iterdir()] == ["part-00000-of-00001.parquet"]
    report = json.loads((out / "report.json").read_text())
    assert report["accounting_ok"] is True
    assert report["inputs"] == report["kept"] + report["removed"] + report["errors"]
    assert report["inputs"] == 16 + 1 + 22 + 15 + 1  # HTML responses + the WET conversion record
    assert report["kept"] > 0 and report["removed"] > 0
    assert report["skipped_records"]["request"] > 0
    assert [s["filter"] for s in report["funnel"]][-8:] == [
        "gopher_repetition_v1", "gopher_quality_v1", "c4_quality_v1", "fineweb_quality_v1",
        "domain_classifier_v1.math", "domain_classifier_v1.code", "domain_classifier_v1.high", "pii_redaction_v1"]
    assert report["funnel"][-1]["out"] == report["kept"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["kept"] == report["kept"]
    assert len(manifest["config_hash"]) == 64 and manifest["packages"]["apache-beam"]
    assert "<svg" in (out / "report.html").read_text()


def test_documents_follow_the_contract(demo_build):
    docs = pq.read_table(demo_build / "documents")
    rows = docs.to_pylist()
    assert all(r["lang"] == "en" and r["lang_score"] >= 0.65 for r in rows)
    assert all(r["text"] and r["url"] and r["input_file"] for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert all(dict(r["signals"])["gopher.word_count"] >= 50 for r in rows)
    removed = pq.read_table(demo_build / "removed").to_pylist()
    assert {r["reason"] for r in removed} >= {"language_not_selected"}
    assert all(r["stage"] and r["filter"] and r["reason"] for r in removed)


def test_same_inputs_give_identical_outputs(demo_build, tmp_path, data_dir):
    out = tmp_path / "again"
    assert run_cli("curate", "--config", str(CONFIG), "--output", str(out), "--input", str(data_dir / "web")) == 0
    for table in ("documents", "removed", "errors"):
        assert _tree_digest(out, table) == _tree_digest(demo_build, table)


def test_rerun_of_finished_build_is_a_noop(demo_build, data_dir, capsys):
    before = (demo_build / "manifest.json").read_text()
    assert run_cli("curate", "--config", str(CONFIG), "--output", str(demo_build),
                   "--input", str(data_dir / "web")) == 0
    assert "already complete" in capsys.readouterr().out
    assert (demo_build / "manifest.json").read_text() == before


def test_killed_build_finishes_on_rerun(demo_build, tmp_path, data_dir):
    out = tmp_path / "killed"
    shutil.copytree(demo_build, out)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "documents" / "part-00000-of-00001.parquet").unlink()
    (out / "documents" / "part-00000-of-00001.parquet.tmp-dead").write_bytes(b"half a shard")
    assert run_cli("curate", "--config", str(CONFIG), "--output", str(out), "--input", str(data_dir / "web")) == 0
    assert [p.name for p in (out / "documents").iterdir()] == ["part-00000-of-00001.parquet"]
    assert _tree_digest(out, "documents") == _tree_digest(demo_build, "documents")
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_bad_input_never_crashes_the_build(tmp_path, data_dir):
    bad = tmp_path / "bad"
    shutil.copytree(data_dir / "bad", bad)
    (bad / "empty.warc.gz").write_bytes(b"")
    page = b"<html><body>" + b"<p>" + b"word " * 200 + b"</p>" * 1 + b"</body></html>"
    write_warc(bad / "generated.warc.gz", [
        ("http://huge.example/", "text/html", b"<html><body>" + b"<p>big page</p>" * 3_500_000 + b"</body></html>"),
        ("http://utf8.example/", "text/html; charset=utf-8", page[:40] + b"\xff\xfe\xc3\x28" + page[40:]),
        ("http://binary.example/", "text/html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40),
        ("http://pdf.example/", "application/pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
    ])
    (bad / "broken.jsonl").write_bytes(b'{"id": "j1", "text": "fine"}\n{broken\n\xff\xfe\n[1]\n')
    out = tmp_path / "out"
    assert run_cli("curate", "--config", str(CONFIG), "--output", str(out), "--input", str(bad)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["accounting_ok"] is True
    errors = pq.read_table(out / "errors").to_pylist()
    removed = pq.read_table(out / "removed").to_pylist()
    by_file = {}
    for row in errors + removed:
        by_file.setdefault(Path(row["input_file"]).name, []).append(row.get("reason") or row["error_class"])
    for name in ("warcio_example-trunc.warc", "warcio_example-wrong-chunks.warc.gz",
                 "resiliparse_clipped_truncated.warc.gz", "aut_example_docs.warc.gz", "generated.warc.gz",
                 "broken.jsonl"):
        assert name in by_file, name
    assert by_file["aut_example_docs.warc.gz"].count("non_html_payload") == 9
    reasons = {r["url"]: r["reason"] for r in removed if r["url"]}
    assert reasons["http://huge.example/"] == "html_too_large"
    assert reasons["http://binary.example/"] == "binary_payload"
    assert reasons["http://pdf.example/"] == "non_html_payload"
    # the invalid UTF-8 page was readable: it went on to the filters instead of failing
    assert "http://utf8.example/" not in {e.get("url") for e in errors}
    assert all(e["message"] and e["error_class"] for e in errors)
    assert sum(1 for e in errors if Path(e["input_file"]).name == "broken.jsonl") == 3


@pytest.mark.parametrize("config_text,args,message", [
    (None, ["--input", "/nonexistent/*.warc.gz"], "input not found: '/nonexistent/*.warc.gz' matches no file"),
    ("filters:\n  - name: gopher_v9\n", [], "unknown filter 'gopher_v9'; known:"),
    ("extract:\n  timeout_s: -1\n", [], "field 'extract.timeout_s': value -1"),
    ("langid:\n  model_path: /no/model.bin\n", [], "field 'langid.model_path': file not found: /no/model.bin"),
])
def test_usage_errors_exit_2_and_write_nothing(tmp_path, data_dir, capsys, config_text, args, message):
    config = CONFIG
    if config_text is not None:
        config = tmp_path / "c.yaml"
        config.write_text(config_text + f"input:\n  paths: [{data_dir / 'web'}]\n")
    out = tmp_path / "out"
    assert run_cli("curate", "--config", str(config), "--output", str(out), *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_help_lists_the_stage(capsys):
    from corpusmill.pipelines.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "curate" in capsys.readouterr().out


def test_console_script_with_default_runner_gives_the_same_outputs(demo_build, tmp_path, data_dir):
    """The installed `corpusmill` command on its defaults (DirectRunner, multi_processing, one
    worker per core) writes the same bytes as the in-process in_memory run, with its WARC files read
    in byte ranges of 8 KB spread over the workers."""
    import subprocess
    import sys

    out = tmp_path / "mp"
    config = tmp_path / "ranges.yaml"
    config.write_text(CONFIG.read_text().replace("range_bytes: 16777216", "range_bytes: 8192"))
    assert "range_bytes: 8192" in config.read_text()
    script = Path(sys.executable).parent / "corpusmill"
    done = subprocess.run([str(script), "curate", "--config", str(config), "--output", str(out),
                           "--input", str(data_dir / "web")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "inputs == kept + removed + errors OK" in done.stdout
    for table in ("documents", "removed", "errors"):
        assert _tree_digest(out, table) == _tree_digest(demo_build, table)
    # the console holds corpusmill's own output: Beam's and the workers' log lines only with --verbose
    noise = ("apitools", "semi_persistent_directory", "Discarding unparseable args", "local_job_service",
             "Logging handler created", "discarding data")
    assert not [line for line in done.stderr.splitlines() if any(n in line for n in noise)], done.stderr[-2000:]


def test_curate_removes_documents_that_quote_a_benchmark(tmp_path, data_dir):
    question = json.loads((data_dir / "eval/gsm8k_test_head20.jsonl").read_text().splitlines()[3])["question"]
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "leak", "text": "Homework help thread. " + question}) + "\n"
                    + json.dumps({"id": "clean", "text": "A quiet afternoon by the river with friends."}) + "\n")
    config = tmp_path / "c.yaml"
    config.write_text("langid:\n  enabled: false\npii: null\nfilters:\n  - name: decontamination_v1\n"
                      f"    params: {{eval_files: [{data_dir / 'eval/gsm8k_test_head20.jsonl'}]}}\n")
    out = tmp_path / "out"
    assert run_cli("curate", "--config", str(config), "--output", str(out), "--input", str(docs)) == 0
    removed = pq.read_table(out / "removed").to_pylist()
    assert [(r["id"], r["reason"]) for r in removed] == [("leak", "contaminated")]
    assert removed[0]["detail"].startswith("gsm8k_test_head20#3: ")
    report = json.loads((out / "report.json").read_text())  # per benchmark, the documents each removed
    assert report["removed_by_tag"] == {"decontamination_v1": {"benchmark.gsm8k_test_head20": 1}}
    assert "decontamination_v1: removals by benchmark" in (out / "report.html").read_text()
    assert [r["id"] for r in pq.read_table(out / "documents").to_pylist()] == ["clean"]


def test_a_2008_heritrix_crawl_is_read_whole(tmp_path):
    from tests.old_warc import write_heritrix_warc

    crawl = tmp_path / "IAH-20080430204825-00000.warc.gz"
    pages = write_heritrix_warc(crawl, "0.17")
    out = tmp_path / "out"
    assert run_cli("curate", "--config", str(CONFIG), "--output", str(out), "--input", str(crawl)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["errors"] == 0 and report["inputs"] == len(pages) + 6
    read, extract = report["funnel"][0], report["funnel"][1]
    assert read["removed"] == 6 and extract["in"] == len(pages) == 6
