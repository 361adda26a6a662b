"""Domain classifiers: training with a card, the scoring filter, the shipped models, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpusmill.core.text_classifier import SHIPPED, load_card
from corpusmill.filters.base import make_filter
from corpusmill.schemas.records import Document
from tests.conftest import run_cli

DATA = Path(__file__).parent / "data" / "classifiers"
MATH = "Solve for x: $x^2 - 5x + 6 = 0$. Factoring gives $(x-2)(x-3) = 0$, so $x = 2$ or $x = 3$."
PROSE = "The weather in Lisbon was sunny, and the festival drew thousands of visitors to the old town."


def _doc(text: str) -> Document:
    return Document(id="d", text=text, source="test", input_file="f")


def _small_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(f"examples:\n  - {{label: math, paths: ['{DATA / 'math_positives.jsonl'}'], max_examples: 200}}\n"
                      f"  - {{label: other, paths: ['{DATA / 'general_negatives.jsonl'}'], max_examples: 200}}\n"
                      f"cutoff: 5000\nfasttext: {{epoch: 10, dim: 16, bucket: 20000}}\n{extra}")
    return config


def test_training_writes_a_card_and_is_deterministic(tmp_path):
    config = _small_config(tmp_path)
    cards, models = [], []
    for run in ("a", "b"):
        out = tmp_path / run
        assert run_cli("train-classifier", "--config", str(config), "--output", str(out)) == 0
        cards.append(json.loads((out / "card.json").read_text()))
        models.append((out / "model.ftz").read_bytes())
    card = cards[0]
    assert cards[0] == cards[1] and models[0] == models[1]
    assert card["labels"] == ["math", "other"] and card["examples"]["per_label"] == {"math": 200, "other": 200}
    assert card["examples"]["train"] + card["examples"]["heldout"] == 400 and card["examples"]["heldout"] > 40
    assert {d["sha256"] for d in card["training_data"]} and all(len(d["sha256"]) == 64 for d in card["training_data"])
    assert card["heldout_scores"]["math"]["f1"] > 0.9 and card["fasttext_version"].startswith("fasttext")
    scorer = make_filter("domain_classifier_v1", {"model": str(tmp_path / "a"), "label": "math"})
    scorer.setup()
    assert scorer(_doc(MATH)).scores["domain.math"] > 0.5 > scorer(_doc(PROSE)).scores["domain.math"]


@pytest.mark.parametrize("name,label", [("math", "math"), ("code", "code"), ("quality", "high")])
def test_shipped_models_load_offline_and_have_cards(name, label):
    folder, card = load_card(name)
    assert name in SHIPPED and label in card["labels"] and card["heldout_scores"]
    assert all(d["path"].startswith("tests/data/classifiers/") for d in card["training_data"])
    scorer = make_filter("domain_classifier_v1", {"model": name, "label": label})
    scorer.setup()
    first = scorer(_doc(MATH)).scores[f"domain.{label}"]
    assert 0 <= first <= 1 and scorer(_doc(MATH)).scores[f"domain.{label}"] == first  # deterministic


def test_shipped_models_tell_the_domains_apart():
    code = "```python\ndef add(a, b):\n    return a + b\n```\nThis function returns the sum of two numbers."
    scores = {}
    for name, label in (("math", "math"), ("code", "code")):
        f = make_filter("domain_classifier_v1", {"model": name, "label": label})
        f.setup()
        scores[name] = {kind: f(_doc(text)).scores[f"domain.{label}"] for kind, text in
                        (("math", MATH), ("code", code), ("prose", PROSE))}
    assert scores["math"]["math"] > 0.9 and scores["math"]["prose"] < 0.1
    assert scores["code"]["code"] > 0.9 and scores["code"]["prose"] < 0.1


def test_min_score_removes_and_without_it_only_scores():
    keep_all = make_filter("domain_classifier_v1", {"model": "math", "label": "math"})
    only_math = make_filter("domain_classifier_v1", {"model": "math", "label": "math", "min_score": 0.5})
    for f in (keep_all, only_math):
        f.setup()
    assert keep_all(_doc(PROSE)).keep and keep_all.step == "domain_classifier_v1.math"
    dropped = only_math(_doc(PROSE))
    assert not dropped.keep and dropped.reason == "below_domain_score" and "domain.math" in dropped.scores


def test_bad_classifier_configs_exit_2_before_any_work(tmp_path, capsys):
    one_class = tmp_path / "one.yaml"
    one_class.write_text(f"examples:\n  - {{label: math, paths: ['{DATA / 'math_positives.jsonl'}']}}\n")
    assert run_cli("train-classifier", "--config", str(one_class), "--output", str(tmp_path / "o1")) == 2
    assert "at least two classes" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    cfg = tmp_path / "empty.yaml"
    cfg.write_text(f"examples:\n  - {{label: math, paths: ['{empty}']}}\n"
                   f"  - {{label: other, paths: ['{DATA / 'general_negatives.jsonl'}']}}\n")
    assert run_cli("train-classifier", "--config", str(cfg), "--output", str(tmp_path / "o2")) == 2
    assert "no examples for math" in capsys.readouterr().err
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


@pytest.mark.parametrize("params,message", [
    ({"model": "physics", "label": "physics"}, "neither a shipped classifier"),
    ({"model": "{empty_dir}", "label": "math"}, "has no card.json"),
    ({"model": "math", "label": "poetry"}, "has no label 'poetry'; its labels: math, other"),
])
def test_bad_scoring_filters_exit_2(tmp_path, capsys, data_dir, params, message):
    (tmp_path / "no_card").mkdir()
    params = {k: v.replace("{empty_dir}", str(tmp_path / "no_card")) for k, v in params.items()}
    config = tmp_path / "c.yaml"
    config.write_text("filters:\n  - name: domain_classifier_v1\n    params: " + json.dumps(params) + "\n")
    out = tmp_path / "out"
    assert run_cli("curate", "--config", str(config), "--output", str(out), "--input", str(data_dir / "web")) == 2
    assert message in capsys.readouterr().err and not out.exists()
