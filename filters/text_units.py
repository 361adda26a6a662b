"""Language-aware word and sentence splitting, shared by every quality rule.

Reuses datatrove's tokenizer assignment (spaCy blank pipelines per language, jieba for
Chinese) so that word counts match datatrove/FineWeb. datatrove caches the last few
splits of a text, so the Gopher, C4 and FineWeb rules tokenize each document once.
"""

from __future__ import annotations

import logging
import threading
from functools import cache

FALLBACK_LANGUAGE = "en"

log = logging.getLogger(__name__)
# datatrove builds a spaCy pipeline lazily on first use and adds its sentencizer afterwards; two
# threads racing through that first use see a half-built pipeline (spaCy error E109).
_LOAD_LOCK = threading.Lock()


def tokenizer_language(lang: str | None) -> str:
    """The language whose tokenizer is used for `lang`; English when none is assigned or loadable."""
    with _LOAD_LOCK:
        return _load(lang or FALLBACK_LANGUAGE)


@cache
def _load(lang: str) -> str:
    from datatrove.utils.word_tokenizers import load_word_tokenizer

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
