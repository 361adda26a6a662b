"""Checks on generated traces: format, length, language mixing, repetition."""

from corpusmill.core.language_id import LanguageIdentifier
from corpusmill.schemas.config import TraceChecksConfig
from corpusmill.synth.verifiers.traces import TraceChecks, format_problem

LID = LanguageIdentifier()
PROMPT = "A train travels 60 miles in 1.5 hours. What is its average speed in miles per hour?"
GOOD = ("<think>\nThe train covers sixty miles in one and a half hours, so I divide the distance by the time "
        "to get the speed, which gives forty miles per hour.\n</think>\nThe average speed is \\boxed{40}.")


def test_format():
    assert format_problem("") == "empty_completion"
    assert format_problem("<think>a</think><think>b</think> x") == "bad_think_format"
    assert format_problem("<think>never closed") == "bad_think_format"
    assert format_problem("<think>done</think>   ") == "no_answer_after_think"
    assert format_problem("plain answer 4") is None
    assert format_problem("<think>maybe 3</think> so \\boxed{4}, or \\boxed{5}") == "multiple_final_answers"
    assert format_problem("<think>\\boxed{3}?</think> \\boxed{4}. Again: \\boxed{4}") is None


def test_checks_on_real_looking_traces():
    checks = TraceChecks()
    assert checks.problem(PROMPT, GOOD, LID.identify) is None
    assert TraceChecks(TraceChecksConfig(max_chars=50)).problem(PROMPT, GOOD, LID.identify) == "too_long"
    loop = "<think>" + "I will divide the distance by the time to get the answer again. " * 40 + "</think> 40"
    assert checks.problem(PROMPT, loop, LID.identify) == "repetitive"
    mixed = ("<think>\n火车在一个半小时内行驶了六十英里，"
             "所以我们用距离除以时间来计算速度，答案是每小时四十英里。\n</think>\n答案是四十。")
    assert checks.problem(PROMPT, mixed, LID.identify) == "language_mixing"
    assert TraceChecks(TraceChecksConfig(language_consistency=False)).problem(PROMPT, mixed, LID.identify) is None


def test_repeated_lines_of_a_program_are_not_a_looping_trace():
    """MBPP 669's reference solution repeats one regex line four times: correct code, not a degenerate trace."""
    octet = "25[0-5]|2[0-4][0-9]|[0-1]?[0-9][0-9]?"
    program = ("import re\nregex = '''^(" + octet + ")\\.( \n" + ("\t\t\t" + octet + ")\\.( \n") * 2
               + "\t\t\t" + octet + ")$'''\ndef check_IP(Ip):\n\tif(re.search(regex, Ip)):\n"
               "\t\treturn ('Valid IP address')\n\telse:\n\t\treturn ('Invalid IP address')\n")
    checks = TraceChecks(TraceChecksConfig(language_consistency=False))
    assert checks.problem("Check an IP address.", f"```python\n{program}```", None, code=True) is None
    assert checks.problem("Check an IP address.", program, None, code=True) is None
    looping = "<think>" + "Let me check the regex once more to be sure. " * 40 + "</think>\n```python\nx = 1\n```"
    assert checks.problem("Check an IP address.", looping, None, code=True) == "repetitive"
