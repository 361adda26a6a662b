"""The language filter: keep documents in the configured languages whose language-ID score is high
enough (the score comes from core/language_id.py, set on the document before this filter runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from corpusmill.filters.base import Verdict, register
from corpusmill.schemas.config import LangIdConfig
from corpusmill.schemas.records import Document


@register("language_v1")
@dataclass(frozen=True)
class LanguageFilter:
    """Keep documents in `languages` (all when empty) whose LID score reaches the language's minimum."""

    params_model: ClassVar = LangIdConfig
    params: LangIdConfig = field(default_factory=LangIdConfig)

    def score_names(self) -> tuple[str, ...]:
        return ("langid.score",)

    def __call__(self, doc: Document) -> Verdict:
        p = self.params
        score = doc.lang_score or 0.0
        s = {"langid.score": score}
        if p.languages and doc.lang not in p.languages:
            return Verdict.drop("language_not_selected", **s)
        if score < p.min_score_per_lang.get(doc.lang or "", p.min_score):
            return Verdict.drop("language_score_too_low", **s)
        return Verdict.keep_(**s)

    def __hash__(self) -> int:
        # the parameters hold a dict (per-language minimums), which has no hash of its own
        return hash(self.params.model_dump_json())
