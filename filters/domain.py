"""Domain scores from a fastText classifier (math, code-related text, quality, or any model trained by
`corpusmill train-classifier`): the score of `label` goes to `signals` (kept) or `scores` (removed)
as `domain.<label>`. Without `min_score` the filter only scores, so shards can be bucketed and mixed
by the score later; with it, documents below are removed."""

from __future__ import annotations

from dataclasses import dataclass, field

from corpusmill.core.text_classifier import TextClassifier, classifier_from_card
from corpusmill.filters.base import Verdict, register
from corpusmill.schemas.records import Document


@register("domain_classifier_v1")
@dataclass(frozen=True, kw_only=True)
class DomainClassifier:
    """Score documents with a classifier's probability of `label`; drop those below `min_score` if given."""

    model: str  # a shipped classifier (math, code, quality) or a model folder with its card
    label: str
    min_score: float | None = None
    _classifier: TextClassifier = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        classifier, card = classifier_from_card(self.model)
        if self.label not in card["labels"]:
            labels = ", ".join(card["labels"])
            raise ValueError(f"model {self.model!r} has no label {self.label!r}; its labels: {labels}")
        if self.min_score is not None and not 0 <= self.min_score <= 1:
            raise ValueError(f"min_score must lie in [0, 1], got {self.min_score}")
        object.__setattr__(self, "_classifier", classifier)

    @property
    def step(self) -> str:
        return f"{self.name}.{self.label}"

    def score_names(self) -> tuple[str, ...]:
        return (f"domain.{self.label}",)

    def setup(self) -> None:
        self._classifier.setup()

    def __call__(self, doc: Document) -> Verdict:
        score = self._classifier.probability(doc.text, self.label)
        s = {f"domain.{self.label}": score}
        if self.min_score is not None and score < self.min_score:
            return Verdict.drop("below_domain_score", **s)
        return Verdict.keep_(**s)
