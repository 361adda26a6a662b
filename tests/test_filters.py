"""Quality rules, language ID, PII redaction and decontamination on single documents, without Beam."""

import json
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from corpusmill.core.language_id import LanguageIdentifier
from corpusmill.filters.base import Verdict, known_filters, make_filter
from corpusmill.filters.language import LanguageFilter
from corpusmill.schemas.config import LangIdConfig
from corpusmill.schemas.records import Document

GOOD = (
    "The village library opened a new reading room last spring, and it has been busy ever since.\n"
    "Children come after school to read with volunteers, while their parents browse the shelves of "
    "local history that the town council donated to the collection.\n"
    "On weekends the room hosts talks by authors from the region, who speak about their work and "
    "answer questions from the audience with patience and good humour.\n"
    "The librarian says that the most popular books are still the old adventure stories, which have "
    "been borrowed so many times that their covers are held together with tape.\n"
    "Next year the council plans to add a small garden behind the building, where readers will be "
    "able to sit outside on warm afternoons.\n"
)


EVAL = Path(__file__).parent / "data" / "eval"


def doc(text: str, lang: str | None = "en", score: float | None = 0.95) -> Document:
    return Document(id="d", text=text, source="test", input_file="t", lang=lang, lang_score=score)


def test_registry_lists_versioned_names_and_rejects_unknown():
    assert {"gopher_quality_v1", "gopher_repetition_v1", "c4_quality_v1", "fineweb_quality_v1",
            "pii_redaction_v1", "language_v1"} <= set(known_filters())
    with pytest.raises(ValueError, match="unknown filter 'gopher_v9'; known: c4_quality_v1"):
        make_filter("gopher_v9")
    with pytest.raises(ValueError, match="has no parameter 'min_words'"):
        make_filter("gopher_quality_v1", {"min_words": 3})


@pytest.mark.parametrize("name", ["gopher_quality_v1", "gopher_repetition_v1", "c4_quality_v1",
                                  "fineweb_quality_v1"])
def test_good_prose_passes_every_quality_rule(name):
    verdict = make_filter(name)(doc(GOOD))
    assert verdict.keep, verdict
    assert verdict.scores  # a filter measures, then decides


def test_gopher_quality_reasons_and_scores():
    gq = make_filter("gopher_quality_v1")
    short = gq(doc("The cat sat on the mat and it was good."))
    assert short == Verdict.drop("gopher_short_doc", **short.scores)
    assert short.scores["gopher.word_count"] == 10
    hashes = gq(doc(GOOD + " ".join(["#tag"] * 40)))
    assert hashes.reason == "gopher_too_many_hashes"
    no_stop = gq(doc(" ".join(["Lorem", "ipsum", "dolor", "sit", "amet"] * 20)))
    assert no_stop.reason == "gopher_not_enough_stop_words"
    symbols = gq(doc("1234 5678 " * 40 + GOOD[:200]))
    assert symbols.reason == "gopher_below_alpha_threshold"


def test_gopher_repetition_catches_repeated_lines_and_ngrams():
    rep = make_filter("gopher_repetition_v1")
    lines = rep(doc("Buy cheap watches online today.\n" * 30))
    assert lines.reason == "dup_para_frac" or lines.reason.startswith("dup_line")
    ngrams = rep(doc(("click here to buy the best cheap watches " * 60).strip()))
    assert not ngrams.keep and ("gram" in ngrams.reason)
    assert rep(doc("   ")).reason == "empty"


def test_c4_keeps_only_good_lines_and_drops_bad_pages():
    c4 = make_filter("c4_quality_v1")
    menu = "Home\nAbout us\nPlease enable JavaScript to view this site properly today.\n"
    verdict = c4(doc(menu + GOOD))
    assert verdict.keep
    assert "Home" not in verdict.text and "JavaScript" not in verdict.text
    assert verdict.text.startswith("The village library")
    assert c4(doc(GOOD + "Lorem ipsum dolor sit amet, consectetur adipiscing.\n")).reason == "lorem_ipsum"
    assert c4(doc(GOOD + "The code reads if (x) { return y; } in the end.\n")).reason == "curly_bracket"
    assert c4(doc("One sentence only here.\n")).reason == "too_few_sentences"


def test_fineweb_rules():
    fw = make_filter("fineweb_quality_v1")
    assert fw(doc("no punctuation here at all\n" * 3 + "still none in this line either")).reason == "line_punct_ratio"
    assert fw(doc("Short one.\nTwo.\nThree.\nFour things.\n")).reason == "short_line_ratio"
    dup = "This exact line is repeated many times over and over again today.\n"
    assert fw(doc(GOOD + dup * 3)).reason == "char_dup_ratio"


def test_pii_redacts_emails_and_public_ips_only():
    pii = make_filter("pii_redaction_v1")
    verdict = pii(doc("Write to jane.doe@example.org or ops@corp.co.uk. Server 8.8.8.8, "
                      "router 192.168.1.1, version 999.1.1.1."))
    assert verdict.keep
    assert verdict.text == ("Write to email@example.com or email@example.com. Server 0.0.0.0, "
                            "router 192.168.1.1, version 999.1.1.1.")
    assert verdict.scores == {"pii.emails": 2.0, "pii.ip_addresses": 1.0}
    off = make_filter("pii_redaction_v1", {"redact_emails": False})(doc("a@b.com"))
    assert off.text == "a@b.com"


def _pii_reference(text: str) -> tuple[str, int, int]:
    """PII redaction as it was before issue 14: every pattern over every text."""
    from corpusmill.filters import pii

    text, n_email = pii._EMAIL.subn("email@example.com", text)
    count = 0

    def replace(match):
        nonlocal count
        if pii._public_ip(match.group(0)):
            count += 1
            return "0.0.0.0"
        return match.group(0)

    return pii._IPV6.sub(replace, pii._IPV4.sub(replace, text)), n_email, count


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["8.8.8.8", "10.0.0.1", "2001:db8::1", "fe80::1", "2606:4700::1111", "a@b.com",
                                 "x.y@mail.org", "@", ":", "::", "12:30", ".", "1", "9", "a", "f", " ", "\n"]),
                max_size=30).map("".join))
def test_pii_redaction_equals_every_pattern_on_every_text(text):
    """Patterns are skipped on texts without what their matches contain: the same text and counts."""
    verdict = make_filter("pii_redaction_v1")(doc(text))
    redacted, n_email, n_ip = _pii_reference(text)
    assert (verdict.text, verdict.scores["pii.emails"], verdict.scores["pii.ip_addresses"]) == (
        redacted, n_email, n_ip)


def test_language_identifier_offline_model():
    lid = LanguageIdentifier()
    assert lid.identify(GOOD)[0] == "en"
    assert lid.identify("Der schnelle braune Fuchs springt über den faulen Hund und läuft weiter.")[0] == "de"
    assert lid.identify("这是一个关于图书馆的中文句子。")[0] == "zh"
    assert lid.identify(" \n ") == ("und", 0.0)


def test_language_identifier_reports_missing_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="language ID model not found"):
        LanguageIdentifier(str(tmp_path / "none.bin")).setup()


def test_language_filter_thresholds():
    f = LanguageFilter(LangIdConfig(languages=["en", "de"], min_score=0.65, min_score_per_lang={"de": 0.9}))
    assert f(doc(GOOD, "en", 0.7)).keep
    assert f(doc(GOOD, "fr", 0.99)).reason == "language_not_selected"
    assert f(doc(GOOD, "de", 0.8)).reason == "language_score_too_low"
    assert LanguageFilter(LangIdConfig(languages=[]))(doc(GOOD, "fr", 0.99)).keep


REQUIRED = {"decontamination_v1": {"eval_files": [str(EVAL / "gsm8k_test_head20.jsonl")]},
            "domain_classifier_v1": {"model": "math", "label": "math"}}


def test_filters_are_deterministic():
    for name in known_filters():
        f = make_filter(name, REQUIRED.get(name))
        assert f(doc(GOOD)) == f(doc(GOOD))


@pytest.mark.parametrize("text", [GOOD, "", "x", "short line\n" * 40, "• a\n• b\n" * 30, "Price: $5...\n" * 20])
def test_every_score_a_filter_emits_is_declared(text):
    """The signals and scores columns are structs of the declared names: an undeclared key would be lost."""
    for name in known_filters():
        f = make_filter(name, REQUIRED.get(name))
        f.setup()
        assert set(f(doc(text, "en", 0.9)).scores) <= set(f.score_names()), name


def test_cjk_text_is_split_into_words_not_one_token():
    from corpusmill.core import text_units

    words = text_units.words("我们今天去图书馆看书，然后一起吃晚饭。", "zh")
    assert len(words) > 5


def test_japanese_text_is_split_into_words():
    from corpusmill.core import text_units

    assert len(text_units.words("私は今日図書館に行きました。", "ja")) > 5


# core/text_units.py's word pattern as it was, applied to whole texts, before issue 14
_WORD_BEFORE_ISSUE_14 = regex.compile(
    r"""(?:https?|ftp)://[^\s<>"]*[^\s<>".,;:!?)\]'’]
      | \p{N}++(?:[.,:/]\p{N}++)*+(?![\p{L}\p{M}_])
      | [\p{L}\p{M}_]+(?=n['’]t\b)
      | n['’]t\b
      | ['’](?:s|re|ve|ll|d|m)\b
      | [\p{L}\p{N}\p{M}_]+(?:[.·][\p{L}\p{N}\p{M}_]+)*
      | \.{2,} | -{2,} | ={2,} | \*{2,} | ~{2,}
      | [^\s\p{L}\p{N}\p{M}_]""",
    regex.VERBOSE | regex.IGNORECASE,
)
# text with what the word pattern treats specially: clitics, numbers, URLs, dot runs, odd whitespace
_TEXT_PIECES = st.sampled_from(["don't", "It’s", "4:30", "1,000", "U.S.", "http://a.org/x.", "...", "--", "#",
                                "word", "n't", "'s", " ", "  ", "\n", "\n\n", "\t", "\x1c", "\xa0", "\u3000", "\r",
                                "\u2028", "é", "x", "_", ".", "(", "!", "N’T", "we're", "2don't",
                                # punctuation and symbols outside ASCII keep a line on the fast `re` path
                                "—", "“", "”", "©", "·", "a·b", "…", "€5", "•", "\u00ad", "\x85", "\x0b", "ſ",
                                "\u212a", "\u0130", "ı"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT_PIECES, max_size=60).map("".join))
def test_words_split_line_by_line_equal_one_pass_over_the_text(text):
    """Splitting by lines through the memory of lines gives the pattern's own tokens, also for the text
    C4 makes of a page (its lines stripped and rejoined) right after the page itself was split."""
    from corpusmill.core import text_units

    assert text_units.words(text, "en") == tuple(_WORD_BEFORE_ISSUE_14.findall(text))
    rejoined = "\n".join(line.strip() for line in text.splitlines())
    assert text_units.words(rejoined, "en") == tuple(_WORD_BEFORE_ISSUE_14.findall(rejoined))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_words_of_any_text_equal_the_unicode_pattern(text):
    from corpusmill.core import text_units

    text_units.clear_cache()
    assert text_units.words(text, "en") == tuple(_WORD_BEFORE_ISSUE_14.findall(text))


def test_lines_on_the_ascii_path_hold_no_character_re_reads_as_a_letter_or_space():
    """The fast path reads punctuation and symbols (by `regex`'s Unicode tables) as `re` reads them:
    neither a word character nor whitespace, so both patterns give the same tokens."""
    import re
    import sys

    from corpusmill.core import text_units

    outside_ascii = "".join(map(chr, range(0x80, sys.maxunicode + 1)))
    on_fast_path = [c for c in outside_ascii if text_units._ASCII_LINE.fullmatch(c)]
    assert len(on_fast_path) > 8_000
    assert [c for c in on_fast_path if re.match(r"[\s\w]", c)] == []


def test_rules_share_one_split_per_text_and_agree_across_threads():
    """Every rule asks the same units object about a text; many documents through many threads (as
    Beam runs them) get exactly the verdicts they get one at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from corpusmill.core import text_units

    assert text_units.units(GOOD, "en") is text_units.units(GOOD, "en")
    assert text_units.units(GOOD, "en") is not text_units.units(GOOD, "de")
    rules = [make_filter(name) for name in ("gopher_repetition_v1", "gopher_quality_v1", "c4_quality_v1",
                                            "fineweb_quality_v1")]
    sentences = GOOD.splitlines()
    texts = ["\n".join(sentences[i % 5:] + sentences[: i % 5] * (i % 3)) + f"\nPage {i} ends here." for i in range(60)]
    texts += ["click here to buy the best cheap watches " * (10 + i) for i in range(20)]

    def verdicts(text):
        return [rule(doc(text)) for rule in rules]

    text_units.clear_cache()
    alone = [verdicts(t) for t in texts]
    assert {v.keep for vs in alone for v in vs} == {True, False}
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(verdicts, texts * 4))
    assert together == alone * 4




def _decontam(**params):
    files = [str(EVAL / "gsm8k_test_head20.jsonl"), str(EVAL / "cmath_test_head20.jsonl")]
    return make_filter("decontamination_v1", {"eval_files": files, **params})


def _first(name, key="question"):
    return json.loads((EVAL / name).read_text().splitlines()[0])[key]


def test_decontamination_drops_documents_quoting_a_benchmark_item():
    question = _first("gsm8k_test_head20.jsonl")
    verdict = _decontam()(doc("A forum post. " + question + " Can anyone help?"))
    assert verdict.reason == "contaminated"
    assert verdict.detail.startswith("gsm8k_test_head20#0: Janet") and verdict.tag == "benchmark.gsm8k_test_head20"
    assert verdict.scores["decontam.matched_ngrams"] > 10


def test_decontamination_keeps_documents_sharing_less_than_an_ngram():
    words = _first("gsm8k_test_head20.jsonl").split()
    nine_words = " ".join(words[1:10])  # one word short of a 10-gram ("Janet’s" would be two words)
    assert _decontam()(doc(f"Quote: {nine_words}. The rest is about something else entirely.")).keep
    assert _decontam()(doc(GOOD)).keep
    assert not _decontam(ngram=9)(doc(f"Quote: {nine_words}. The rest is about something else.")).keep


def test_decontamination_uses_characters_for_chinese():
    question = _first("cmath_test_head20.jsonl")
    verdict = _decontam()(doc("前言。" + question + "后记。", lang="zh"))
    assert verdict.reason == "contaminated" and "cmath_test_head20#0" in verdict.detail
    assert _decontam()(doc("我们今天去图书馆看书，然后一起吃晚饭。", lang="zh")).keep


def test_decontamination_catches_an_english_problem_quoted_in_a_chinese_page():
    question = _first("gsm8k_test_head20.jsonl")
    page = "这是一个数学论坛。今天有人问了一个问题：" + question + "大家可以帮忙解答吗？谢谢！"
    verdict = _decontam()(doc(page, lang="zh"))
    assert verdict.reason == "contaminated" and verdict.detail.startswith("gsm8k_test_head20#0")


def test_an_english_problem_after_full_width_punctuation_is_caught():
    question = _first("gsm8k_test_head20.jsonl")
    verdict = _decontam()(doc("练习题目：" + question + "（答案见下页）", lang="zh"))
    assert verdict.reason == "contaminated"


def test_one_cjk_symbol_does_not_turn_an_english_page_into_character_ngrams(tmp_path):
    """Latin text is never cut into character n-grams: once a katakana dot (・) in an English page made
    the whole page character 10-grams, which matched LeetCode items' English parts."""
    leetcode = tmp_path / "leetcode.jsonl"
    leetcode.write_text(json.dumps({"prompt": "给你一个下标从 0 开始的整数数组 nums 。请你返回 the number of "
                                              "interesting subarrays in the given array 的数目。",
                                    "test": "class Solution: pass"}, ensure_ascii=False) + "\n")
    f = make_filter("decontamination_v1", {"eval_files": [str(leetcode)]})
    page = "Research・Semantic Scholar. We count thenumberofinterestingsubarraysinthegivenarray for fun."
    assert f(doc(page)).keep


def test_context_fields_of_math_benchmarks_are_indexed(tmp_path):
    """ASDiv keeps its story in `body` next to question and answer: the story is benchmark text too."""
    asdiv = tmp_path / "asdiv.jsonl"
    asdiv.write_text(json.dumps({"body": "Seven red apples and two green apples are in the basket, and the "
                                         "farmer carries the basket to the market on Sunday morning.",
                                 "question": "How many apples are in the basket?", "answer": "9 (apples)",
                                 "formula": "7+2=9"}) + "\n")
    f = make_filter("decontamination_v1", {"eval_files": [str(asdiv)]})
    assert not f(doc("Story time: seven red apples and two green apples are in the basket, and the farmer "
                     "carries it.")).keep


def test_ngrams_of_numbers_alone_never_match(tmp_path):
    counting = tmp_path / "counting.jsonl"
    counting.write_text(json.dumps({"problem": "Compute 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11 + 12.",
                                    "answer": "78"}) + "\n")
    f = make_filter("decontamination_v1", {"eval_files": [str(counting)]})
    assert f(doc("Our song goes 1 2 3 4 5 6 7 8 9 10 11 12, then everyone claps along.")).keep
    assert not f(doc("Homework: compute 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10 + 11 + 12.")).keep


def test_benchmark_formats_are_recognised_and_named(tmp_path):
    mbpp = tmp_path / "mbpp" / "test.jsonl"
    mbpp.parent.mkdir()
    mbpp.write_text(json.dumps({"task_id": 1, "text": "Write a function to add two numbers.",
                                "code": "def add_numbers(first_number, second_number):\n    return first_number + "
                                        "second_number  # the sum of both numbers given by the caller",
                                "test_list": ["assert add_numbers(1, 2) == 3"]}) + "\n")
    f = make_filter("decontamination_v1", {"eval_files": [{"path": str(mbpp), "name": "mbpp"}]})
    verdict = f(doc("def add_numbers(first_number, second_number):\n    return first_number + second_number  # the "
                    "sum of both numbers given by the caller"))
    assert verdict.reason == "contaminated" and verdict.tag == "benchmark.mbpp"
    with pytest.raises(ValueError, match="unknown benchmark format 'hellaswag'"):
        make_filter("decontamination_v1", {"eval_files": [{"path": str(mbpp), "format": "hellaswag"}]})


def test_decontamination_config_errors(tmp_path):
    with pytest.raises(ValueError, match="eval file not found"):
        make_filter("decontamination_v1", {"eval_files": [str(tmp_path / "none.jsonl")]})
    with pytest.raises(ValueError, match="eval_files is empty"):
        make_filter("decontamination_v1", {"eval_files": []})
    with pytest.raises(ValueError, match="has no parameter '_index'"):
        make_filter("decontamination_v1", {"eval_files": [str(EVAL / "gsm8k_test_head20.jsonl")], "_index": {}})


def test_decontamination_filter_survives_pickling():
    import pickle

    f = _decontam()
    question = _first("gsm8k_test_head20.jsonl")
    assert f(doc(question)).reason == "contaminated"
    assert pickle.loads(pickle.dumps(f))(doc(question)).reason == "contaminated"
