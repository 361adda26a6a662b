"""Language-aware word and sentence splitting, shared by every quality rule.

Reuses datatrove's tokenizer assignment (spaCy blank pipelines per language, jieba for
Chinese) so that word counts match datatrove/FineWeb. datatrove caches the last few
splits of a text, so the Gopher, C4 and FineWeb rules tokenize each document once.
"""

from __future__ import annotations

import logging
import threading
from functools import cache

FALLBACK_LANGUAGE = "eng_Latn"

log = logging.getLogger(__name__)
# datatrove builds a spaCy pipeline lazily on first use and adds its sentencizer afterwards; two
# threads racing through that first use see a half-built pipeline (spaCy error E109).
_LOAD_LOCK = threading.Lock()


def tokenizer_language(lang: str | None) -> str:
    """The language whose tokenizer is used for `lang`; English when none is assigned or loadable."""
    with _LOAD_LOCK:
        return _load(lang or FALLBACK_LANGUAGE)


@cache
def _tokenizer_keys() -> dict[str, str]:
    """fastText label (ISO 639-1, or 639-3 where there is no 2-letter code) -> datatrove key `xxx_Script`.

    Keys are built from datatrove's own assignment table using the rows it marks as the
    default for a code and script; its bare 2-letter keys are ambiguous (`zh` resolves to a
    whitespace tokenizer for romanised Chinese), the `code_3_Script` keys are not.
    """
    import csv
    import os

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


@cache
def _load(lang: str) -> str:
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    lang = _tokenizer_keys().get(lang, lang)

    try:
        tokenizer = load_word_tokenizer(lang)
        tokenizer.word_tokenize("probe")
        tokenizer.sent_tokenize("Probe one. Probe two.")
    except (ValueError, ImportError, OSError) as err:
        log.warning("no word tokenizer for language %r (%s); using %r", lang, err, FALLBACK_LANGUAGE)
        return FALLBACK_LANGUAGE
    return lang


def words(text: str, lang: str | None) -> list[str]:
    """Word tokens of `text`, punctuation included as separate tokens (datatrove semantics)."""
    from datatrove.utils.text import split_into_words

    return split_into_words(text, tokenizer_language(lang))


def sentences(text: str, lang: str | None) -> list[str]:
    """Sentences of `text` by the language's sentencizer."""
    from datatrove.utils.text import split_into_sentences

    return split_into_sentences(text, tokenizer_language(lang))
