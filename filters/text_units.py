"""Language-aware word and sentence splitting, shared by every quality rule.

Reuses datatrove's tokenizer assignment (spaCy blank pipelines per language, jieba for
Chinese) so that word counts match datatrove/FineWeb. datatrove caches the last few
splits of a text, so the Gopher, C4 and FineWeb rules tokenize each document once.
"""

from __future__ import annotations

import logging
from functools import cache

FALLBACK_LANGUAGE = "en"

log = logging.getLogger(__name__)


@cache
def tokenizer_language(lang: str | None) -> str:
    """The language whose tokenizer is used for `lang`; English when none is assigned or loadable."""
    if not lang:
        return FALLBACK_LANGUAGE
    from datatrove.utils.word_tokenizers import load_word_tokenizer

    try:
        load_word_tokenizer(lang).word_tokenize("probe")
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
