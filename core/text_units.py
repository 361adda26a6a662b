"""Language-aware word and sentence splitting, shared by every quality rule.

Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer,
Burmese, Tibetan) go through datatrove's tokenizer assignment (jieba, SudachiPy, …), so
"words" there are real words, not whole sentences.

Everything else is split by a regular expression that follows spaCy's blank-pipeline rules
(datatrove's choice for those languages): words, with punctuation split off as separate
tokens. spaCy 3.8's tokenizer costs about 4 µs per token here because its lexeme cache
stays empty across calls: it took 4.8 s of a 12.7 s curate run on 400 real pages. On 255
real English pages (bench/tokenizer_agreement.py) the regex is 10-12x faster, word counts
differ by 0.4% at the median, and the rules decide the same on 253/255 (Gopher
repetition), 246/255 (Gopher quality: pages whose alphabetic-word ratio sits right at
0.8), 254/255 (C4) and 255/255 (FineWeb) pages.

A text is split once: `units(text, lang)` keeps the words of the last few texts each thread
saw, with what the rules derive from them (word ids, n-gram repeats). The regex splits line
by line, remembering each line's words, so the text C4 rewrites a page to (its kept lines,
stripped) is split mostly from memory when FineWeb counts its words.
"""

from __future__ import annotations

import csv
import logging
import os
import re
import threading
from functools import cache, cached_property
from itertools import chain

import numpy as np
import regex

from corpusmill.core.repetition import NgramRepeats, word_ids

FALLBACK_LANGUAGE = "eng_Latn"
# ISO 15924 scripts whose text has no spaces between words.
UNSPACED_SCRIPTS = frozenset({"Hani", "Hans", "Hant", "Jpan", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})

# spaCy's English rules in one pass: URLs and numbers with inner separators stay whole (449,000 06:56),
# clitics are tokens of their own (do|n't, we|'re), inner periods stay (U.S), runs of dots,
# dashes and the like are one token (... --), any other symbol is a token by itself.
_WORD_ALTERNATIVES = (
    r"""(?:https?|ftp)://[^\s<>"]*[^\s<>".,;:!?)\]'’]""",
    r"\p{N}++(?:[.,:/]\p{N}++)*+(?![\p{L}\p{M}_])",
    r"[\p{L}\p{M}_]+(?=n['’]t\b)",
    r"n['’]t\b",
    r"['’](?:s|re|ve|ll|d|m)\b",
    r"[\p{L}\p{N}\p{M}_]+(?:[.·][\p{L}\p{N}\p{M}_]+)*",
    r"\.{2,} | -{2,} | ={2,} | \*{2,} | ~{2,}",
    r"[^\s\p{L}\p{N}\p{M}_]",
)
_CLITICS = slice(2, 5)  # the three alternatives above that need an apostrophe to match
_WORD = regex.compile("|".join(_WORD_ALTERNATIVES), regex.VERBOSE | regex.IGNORECASE)
# On a line without an apostrophe the clitic alternatives never match, so leaving them out gives the same
# tokens sooner: the n't look-ahead backtracks through every word. Over whole real pages it splits in 60% of
# the time; 85% of their lines have no apostrophe.
_WORD_NO_CLITICS = regex.compile(
    "|".join(_WORD_ALTERNATIVES[: _CLITICS.start] + _WORD_ALTERNATIVES[_CLITICS.stop :]),
    regex.VERBOSE | regex.IGNORECASE)
# The same two patterns for a line of ASCII, punctuation and symbols only (83% of the characters of the
# bench corpus's pages): there the Unicode classes reduce to ASCII ones and Python's own `re` finds the
# same tokens in about half the time of `regex` (tests/test_filters.py compares both on random text).
# Only tab, CR and space count as whitespace there, because `re` and `regex` disagree on U+001C..U+001F.
_ASCII_ALTERNATIVES = (
    _WORD_ALTERNATIVES[0],
    r"[0-9]++(?:[.,:/][0-9]++)*+(?![A-Za-z_])",
    r"[A-Za-z_]+(?=n['’]t\b)",
    *_WORD_ALTERNATIVES[3:5],
    r"[A-Za-z0-9_]+(?:[.·][A-Za-z0-9_]+)*",
    _WORD_ALTERNATIVES[6],
    r"[^\sA-Za-z0-9_]",
)
_ASCII_WORD = re.compile("|".join(_ASCII_ALTERNATIVES), re.VERBOSE | re.IGNORECASE)
_ASCII_WORD_NO_CLITICS = re.compile(
    "|".join(_ASCII_ALTERNATIVES[: _CLITICS.start] + _ASCII_ALTERNATIVES[_CLITICS.stop :]),
    re.VERBOSE | re.IGNORECASE)
_ASCII_LINE = regex.compile(r"[\t\r\x20-\x7e\p{P}\p{S}]*+")
# A sentence ends at terminal punctuation (with closing quotes/brackets) followed by more text.
_SENTENCE_END = regex.compile(r"[.!?…。！？‼⁇⁈⁉]+[\"'”’»)\]]*\s+(?=\S)")

log = logging.getLogger(__name__)
# datatrove builds a spaCy pipeline lazily on first use and adds its sentencizer afterwards; two
# threads racing through that first use see a half-built pipeline (spaCy error E109).
_LOAD_LOCK = threading.Lock()


@cache
def _tokenizer_keys() -> dict[str, str]:
    """fastText label (ISO 639-1, or 639-3 where there is no 2-letter code) -> datatrove key `xxx_Script`.

    Built from datatrove's own assignment table using the rows it marks as the default
    for a code and script; its bare 2-letter keys are ambiguous (`zh` resolves to a
    whitespace tokenizer for romanised Chinese), the `code_3_Script` keys are not.
    """
    from datatrove.utils.word_tokenizers import ASSETS_PATH

    keys: dict[str, str] = {}
    with open(os.path.join(ASSETS_PATH, "tokenizer_assignment.csv"), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not row["type"] or row["default_script"] != "TRUE":
                continue
            key = f"{row['code_3']}_{row['script']}"
            keys.setdefault(row["code_3"], key)
            if row["code_1"] and row["default_code_1"] == "TRUE":
                keys.setdefault(row["code_1"], key)
    return keys


_UNSPACED_SAMPLE = regex.compile(r"(\p{Hiragana}|\p{Katakana})|(\p{Han})|(\p{Thai})")
_UNSPACED_ANY = regex.compile(r"[\p{Hiragana}\p{Katakana}\p{Han}\p{Thai}]")
# the same scripts as plain code point ranges, for the stdlib `re` (several times faster than `regex`)
_UNSPACED_FIRST = re.compile("[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
UNSPACED_SHARE = 0.3  # of the first 2,000 characters; below it the text is mostly spaced words


def guess_unspaced_language(text: str) -> str | None:
    """For text without a language label: ja, zh or th when that script dominates, else None."""
    sample = text[:2000]
    # A search that stops at the first Thai, kana or Han character rules most text out cheaply.
    if not sample or not _UNSPACED_FIRST.search(sample):
        return None
    if len(_UNSPACED_ANY.findall(sample)) < UNSPACED_SHARE * len(sample):
        return None
    kana = han = thai = 0
    for m in _UNSPACED_SAMPLE.finditer(sample):
        kana += m.group(1) is not None
        han += m.group(2) is not None
        thai += m.group(3) is not None
    if kana + han + thai < UNSPACED_SHARE * len(sample):
        return None
    if thai > kana + han:
        return "th"
    return "ja" if kana else "zh"


def segmenter_for(lang: str | None, text: str | None = None) -> str | None:
    """The datatrove tokenizer key for a language written without spaces, else None (regex split).

    Without a language label, `text` is looked at to recognise Chinese, Japanese or Thai.
    """
    if not lang and text is not None:
        lang = guess_unspaced_language(text)
    if not lang:
        return None
    key = _tokenizer_keys().get(lang, lang)
    if key.rpartition("_")[2] not in UNSPACED_SCRIPTS:
        return None
    with _LOAD_LOCK:
        return _load(key)


@cache
def _load(key: str) -> str | None:
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    try:
        tokenizer = load_word_tokenizer(key)
        tokenizer.word_tokenize("probe")
        tokenizer.sent_tokenize("Probe one. Probe two.")
    except (ValueError, ImportError, OSError) as err:
        log.warning("no word segmenter for %r (%s); splitting on spaces and punctuation", key, err)
        return None
    return key


# What a thread remembers. Beam runs the fused filters of one document one after the other in one
# thread, so each thread's own memory is enough and no lock is needed.
_LOCAL = threading.local()
RECENT_TEXTS = 4  # texts whose units a thread keeps: a page, the text C4 rewrote it to, and some slack
# Characters of lines whose words a thread keeps in the current generation of its memory: past it, that
# generation becomes the previous one (the lines of the page just split stay there for the text C4 makes
# of it) and the one before is dropped. At most about twice this, ~15 bytes a character with the words.
MAX_REMEMBERED_CHARS = 100_000
# The whitespace the word pattern never puts in a token: str.isspace() except U+001C..U+001F, which
# str.strip() removes but the pattern keeps as symbol tokens.
_PATTERN_SPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and not "\x1c" <= c <= "\x1f")


class TextUnits:
    """The words of one text and what the rules derive from them, each computed once, on first use."""

    def __init__(self, text: str, lang: str | None):
        self.text = text
        self.lang = lang

    @cached_property
    def words(self) -> tuple[str, ...]:
        """Word tokens, punctuation as separate tokens."""
        key = segmenter_for(self.lang, self.text)
        if key is None:
            return _regex_words(self.text)
        from datatrove.utils.text import split_into_words

        return tuple(split_into_words(self.text, key))

    @cached_property
    def vocabulary(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The distinct words in first-seen order, each word's index among them, and each one's count."""
        distinct, ids = word_ids(self.words)
        return distinct, ids, np.bincount(ids, minlength=len(distinct))

    @cached_property
    def repeats(self) -> NgramRepeats:
        """Word n-gram repetition statistics (Gopher's)."""
        distinct, ids, _ = self.vocabulary
        return NgramRepeats(self.words, ids, np.fromiter(map(len, distinct), dtype=np.int64, count=len(distinct))[ids])


def units(text: str, lang: str | None) -> TextUnits:
    """The units of `text` in `lang`: the same object for every rule that asks about the same text."""
    recent = getattr(_LOCAL, "units", None)
    if recent is None:
        recent = _LOCAL.units = {}
    key = (text, lang)
    found = recent.pop(key, None)
    if found is None:
        found = TextUnits(text, lang)
        if len(recent) >= RECENT_TEXTS:
            del recent[next(iter(recent))]  # the least recently used
    recent[key] = found
    return found


def words(text: str, lang: str | None) -> tuple[str, ...]:
    """Word tokens of `text`, punctuation as separate tokens (split once per text: see `units`)."""
    return units(text, lang).words


def clear_cache() -> None:
    """Forget the texts and lines this thread has split (benchmarks, tests)."""
    _LOCAL.units = {}
    _LOCAL.lines = None


words.cache_clear = clear_cache  # what callers of the former lru_cache'd `words` call


def _regex_words(text: str) -> tuple[str, ...]:
    """`_WORD.findall(text)`, line by line through this thread's memory of lines.

    The same tokens: no token holds whitespace, and what the pattern looks at beside a token (a
    letter after a number, a word boundary after n't) reads a line end as it reads the end of a
    string. A line is remembered as it is and without its outer whitespace (the form C4 keeps).
    """
    memory = getattr(_LOCAL, "lines", None)
    if memory is None or memory[2] > MAX_REMEMBERED_CHARS:
        memory = _LOCAL.lines = [{}, memory[0] if memory else {}, 0]  # current, previous, characters
    current, previous = memory[0], memory[1]
    parts = []
    for line in text.split("\n"):
        found = current.get(line)
        if found is None:
            found = previous.get(line)
            if found is None:
                clitics = "'" in line or "’" in line
                if _ASCII_LINE.fullmatch(line):
                    pattern = _ASCII_WORD if clitics else _ASCII_WORD_NO_CLITICS
                else:
                    pattern = _WORD if clitics else _WORD_NO_CLITICS
                found = tuple(pattern.findall(line))
            current[line] = found
            memory[2] += len(line)
            bare = line.strip(_PATTERN_SPACE)
            if len(bare) != len(line):
                current[bare] = found
        parts.append(found)
    return parts[0] if len(parts) == 1 else tuple(chain.from_iterable(parts))


def count_sentences(text: str, lang: str | None) -> int:
    """Number of sentences in `text` (0 for blank text), by terminal punctuation or the language's sentencizer."""
    if not text.strip():
        return 0
    key = segmenter_for(lang, text)
    if key is None:
        return 1 + len(_SENTENCE_END.findall(text.strip()))
    from datatrove.utils.text import split_into_sentences

    return len(split_into_sentences(text, key))
