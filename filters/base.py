"""The filter contract: a verdict type and a registry of versioned filter names."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from corpusmill.schemas.config import describe_validation_error
from corpusmill.schemas.records import Document


@dataclass(frozen=True)
class Verdict:
    """Keep or drop, a stable snake_case reason when dropping, and the scores measured."""

    keep: bool
    reason: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    # set by filters that rewrite the document they keep (C4 line removal, PII redaction)
    text: str | None = None
    # what a drop matched, when a reason code is not enough (the benchmark item for contamination)
    detail: str | None = None
    # a snake_case code the report counts removals by, beside the reason (the benchmark matched)
    tag: str | None = None

    @classmethod
    def keep_(cls, **scores: float) -> Verdict:
        return cls(True, None, scores)

    @classmethod
    def rewrite(cls, text: str, **scores: float) -> Verdict:
        return cls(True, None, scores, text)

    @classmethod
    def drop(cls, reason: str, detail: str | None = None, tag: str | None = None, **scores: float) -> Verdict:
        return cls(False, reason, scores, detail=detail, tag=tag)


class Filter(Protocol):
    """A document filter: typed parameters, a registered name, `__call__(doc) -> Verdict`."""

    name: str

    @property
    def step(self) -> str:
        """The name of this filter's step in a pipeline: its registered name, unless one filter runs more
        than once in a build (a domain classifier per label) and needs a name per run."""
        ...

    def setup(self) -> None: ...

    def score_names(self) -> tuple[str, ...]:
        """Every score key a verdict of this filter may carry: the fields of the signals and scores columns."""
        ...

    def __call__(self, doc: Document) -> Verdict: ...


_REGISTRY: dict[str, type] = {}


def register(name: str) -> Callable[[type], type]:
    """Register a filter class under a versioned name such as `gopher_quality_v1`."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY:
            raise ValueError(f"filter name {name!r} registered twice")
        cls.name = name
        if not hasattr(cls, "setup"):
            cls.setup = lambda self: None
        if not hasattr(cls, "step"):
            cls.step = property(lambda self: self.name)
        _REGISTRY[name] = cls
        return cls

    return wrap


def known_filters() -> list[str]:
    """Every registered filter name, sorted."""
    _load_builtin_filters()
    return sorted(_REGISTRY)


def filter_params(name: str) -> list[str]:
    """The parameter names a registered filter accepts."""
    model = getattr(_REGISTRY[name], "params_model", None)
    if model is not None:
        return sorted(model.model_fields)
    # fields starting with "_" hold state built in setup(), never configuration
    return [f.name for f in dataclasses.fields(_REGISTRY[name]) if not f.name.startswith("_")]


def make_filter(name: str, params: dict[str, Any] | None = None) -> Filter:
    """Build a registered filter; unknown names and parameters raise ValueError listing the known ones."""
    _load_builtin_filters()
    if name not in _REGISTRY:
        raise ValueError(f"unknown filter {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    cls = _REGISTRY[name]
    params = dict(params or {})
    allowed = filter_params(name)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"filter {name!r} has no parameter {unknown[0]!r}; allowed: {', '.join(allowed)}")
    # A filter whose parameters are a config section of their own (PII, language) takes that
    # pydantic model as its one field: the defaults live in schemas/config.py only.
    model = getattr(cls, "params_model", None)
    try:
        return cls(model.model_validate(params)) if model is not None else cls(**params)
    except ValidationError as err:
        raise ValueError(f"filter {name!r}: {describe_validation_error(err)}") from err
    except (TypeError, ValueError) as err:
        raise ValueError(f"filter {name!r}: {err}") from err


def _load_builtin_filters() -> None:
    # Importing the modules runs their @register decorators.
    from corpusmill.filters import c4, decontamination, domain, fineweb, gopher, language, pii  # noqa: F401
    from corpusmill.filters.code import quality  # noqa: F401
