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
"""

from __future__ import annotations

import csv
import logging
import os
import re
import threading
from functools import cache, lru_cache

import regex

FALLBACK_LANGUAGE = "eng_Latn"
# ISO 15924 scripts whose text has no spaces between words.
UNSPACED_SCRIPTS = frozenset({"Hani", "Hans", "Hant", "Jpan", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})

# spaCy's English rules in one pass: URLs and numbers with inner separators stay whole (449,000 06:56),
# clitics are tokens of their own (do|n't, we|'re), inner periods stay (U.S), runs of dots,
# dashes and the like are one token (... --), any other symbol is a token by itself.
_WORD = regex.compile(
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


@lru_cache(maxsize=16)
def words(text: str, lang: str | None) -> tuple[str, ...]:
    """Word tokens of `text`, punctuation as separate tokens (cached: every rule asks for the same text)."""
    key = segmenter_for(lang, text)
    if key is None:
        return tuple(_WORD.findall(text))
    from datatrove.utils.text import split_into_words

    return tuple(split_into_words(text, key))


def count_sentences(text: str, lang: str | None) -> int:
    """Number of sentences in `text` (0 for blank text), by terminal punctuation or the language's sentencizer."""
    if not text.strip():
        return 0
    key = segmenter_for(lang, text)
    if key is None:
        return 1 + len(_SENTENCE_END.findall(text.strip()))
    from datatrove.utils.text import split_into_sentences

    return len(split_into_sentences(text, key))
