"""The recall loop on a small pool: planted math hosts found in two iterations, nothing else annotated,
and a finished loop not redone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

DATA = Path(__file__).parent / "data" / "classifiers"


@pytest.fixture(scope="module")
def loop(tmp_path_factory) -> Path:
    """40 general hosts; mathforum.example mixes GSM8K problems with exam problems, and examprep.example
    holds those exam problems alone (mirrored): the seeds (GSM8K) find the forum first, and only the
    forum's recalled pages, added to the seeds, make the exam site recallable. The pool is tiny, so the
    outcome depends on which pages the seed draws as negatives: with seeds 1, 2 and 3 it is the one
    asserted here, with 0 the exam site stays below the share, with 4 both hosts come in iteration 1."""
    root = tmp_path_factory.mktemp("recall")
    math = [json.loads(line)["text"] for line in (DATA / "math_positives.jsonl").read_text().splitlines()]
    general = [json.loads(line)["text"] for line in (DATA / "general_negatives.jsonl").read_text().splitlines()]
    gsm, exam = math[:500], math[500:533]
    pool = []
    for h in range(40):
        pool += [(f"site{h}.example", t) for t in general[h * 10:(h + 1) * 10]]
    pool += [("mathforum.example", f"{gsm[300 + i]}\n{exam[i]}\n{exam[i + 8]}") for i in range(8)]
    pool += [("mathforum.example", t) for t in general[400:404]] + [("examprep.example", t) for t in exam[:16]]
    (root / "pool.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "url": f"https://{host}/page/{i}", "text": t})
                                             + "\n" for i, (host, t) in enumerate(pool)))
    (root / "seeds.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in gsm[:20]))
    (root / "recall.yaml").write_text(
        f"seeds: {{paths: ['{root / 'seeds.jsonl'}'], label: math}}\npool: {{paths: ['{root / 'pool.jsonl'}']}}\n"
        "iterations: 2\nmin_score: 0.5\nhost_share: 0.2\nmin_host_pages: 4\nnegative_rate: 0.1\nseed: 1\n"
        "classifier: {cutoff: 5000, fasttext: {epoch: 25, dim: 32, bucket: 20000}}\n")
    assert run_cli("recall", "--config", str(root / "recall.yaml"), "--output", str(root / "out")) == 0
    return root


def test_planted_math_hosts_are_found_in_two_iterations(loop):
    out = loop / "out"
    report = json.loads((out / "report.json").read_text())
    # the forum in the first iteration; the exam site at the latest in the second, through the forum's pages
    assert report["annotated_hosts"] == {"mathforum.example": 1, "examprep.example": 2}
    first, second = report["iterations"]
    assert second["seeds"] == first["seeds"] + first["new_seed_pages"] > first["seeds"] == 20
    assert first["recalled_pages"] > 0 and first["recalled_words"] > 0 and first["heldout_scores"]["math"]["f1"] > 0
    annotations = [json.loads(line) for line in (out / "iter-2" / "annotations.jsonl").read_text().splitlines()]
    exam = next(a for a in annotations if a["host"] == "examprep.example")
    assert exam["new"] and exam["share"] >= 0.2 and exam["pages"] == 16
    assert exam["sample_urls"] and all(u.startswith("https://examprep.example/") for u in exam["sample_urls"])
    for it in (1, 2):
        card = json.loads((out / f"iter-{it}" / "model" / "card.json").read_text())
        assert card["labels"] == ["math", "other"]
        assert json.loads((out / f"iter-{it}" / "scored" / "report.json").read_text())["accounting_ok"]
    assert "<table" in (out / "report.html").read_text()


def test_a_finished_loop_is_not_redone(loop, capsys):
    model = loop / "out" / "iter-1" / "model" / "model.ftz"
    before = (model.read_bytes(), model.stat().st_mtime_ns)
    assert run_cli("recall", "--config", str(loop / "recall.yaml"), "--output", str(loop / "out")) == 0
    assert (model.read_bytes(), model.stat().st_mtime_ns) == before
    assert capsys.readouterr().out.count("already complete") == 2  # both scoring builds kept
