"""Versioned prompt templates."""

import pytest

from corpusmill.synth.problems import problem_from_row
from corpusmill.synth.prompts import known_templates, load_template

MATH = problem_from_row({"problem": "What is 2+2?", "answer": "4"}, 0, "t")
CODE = problem_from_row({"text": "Write f.", "test_list": ["assert f() == 1"]}, 0, "t")


def test_bundled_templates():
    assert known_templates() == ["chat_v1", "r1_v1", "r1_zero_v1"]


def test_r1_style_asks_for_think_and_a_boxed_answer():
    messages = load_template("r1_v1").messages(MATH)
    assert messages == [{"role": "user", "content": "What is 2+2?\n\nPlease reason step by step inside <think> "
                                                    "</think>, then give the final answer within \\boxed{}."}]
    assert load_template("r1_v1").messages(CODE)[0]["content"].endswith("as one Python code block.")


def test_chat_and_r1_zero():
    chat = load_template("chat_v1").messages(MATH)
    assert chat[0] == {"role": "system", "content": "You are a helpful assistant."}
    zero = load_template("r1_zero_v1").messages(MATH)[0]["content"]
    assert "<answer> answer here </answer>" in zero and zero.endswith("User: What is 2+2?. Assistant:")


def test_unknown_template():
    with pytest.raises(ValueError, match="unknown template 'r2'; known: chat_v1, r1_v1, r1_zero_v1"):
        load_template("r2")
