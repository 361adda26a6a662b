"""Versioned prompt templates (synth/templates/*.yaml): the R1 chat style, R1-Zero and plain chat.

A template's name is its version and is recorded with every sample; released templates are
never edited, so a sample can always be traced back to the exact prompt that made it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from corpusmill.schemas.samples import Problem


@dataclass(frozen=True)
class PromptTemplate:
    """How a problem becomes chat messages."""

    name: str
    system: str | None
    user: str
    answer_hints: dict[str, str]

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        """System (if any) and user messages for `problem`."""
        hint = self.answer_hints.get(problem.kind, "")
        user = self.user.format(prompt=problem.prompt.strip(), answer_hint=hint.format())
        return ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": user}]


@dataclass(frozen=True)
class JudgeTemplate:
    """How a (problem, answer) pair becomes the judge's messages, and the score scale it asks for."""

    name: str
    system: str | None
    user: str
    min_score: int
    max_score: int

    def messages(self, problem: Problem, response: str) -> list[dict[str, str]]:
        reference = problem.reference
        user = self.user.format(
            prompt=problem.prompt.strip(), response=response.strip(),
            reference_note=" and agreement with the reference answer" if reference else "",
            reference_block=f"\n[Reference answer]\n{reference.strip()}\n" if reference else "")
        return ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": user}]


def _raw_templates() -> dict[str, dict]:
    folder = resources.files("corpusmill.synth.templates")
    return {p.name.removesuffix(".yaml"): yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in folder.iterdir() if p.name.endswith(".yaml")}


def known_templates(kind: str = "generation") -> list[str]:
    """Names of the bundled templates of a kind: `generation` (problem -> prompt) or `judge`."""
    return sorted(name for name, raw in _raw_templates().items() if raw.get("kind", "generation") == kind)


@cache
def load_template(name: str) -> PromptTemplate:
    """A bundled generation template by name; an unknown name raises ValueError listing the known ones."""
    if name not in known_templates():
        raise ValueError(f"unknown template {name!r}; known: {', '.join(known_templates())}")
    raw = _raw_templates()[name]
    return PromptTemplate(raw["name"], raw.get("system"), raw["user"], dict(raw.get("answer_hints") or {}))


@cache
def load_judge_template(name: str) -> JudgeTemplate:
    """A bundled judge template by name; ValueError listing the known ones."""
    if name not in known_templates("judge"):
        raise ValueError(f"unknown judge template {name!r}; known: {', '.join(known_templates('judge'))}")
    raw = _raw_templates()[name]
    return JudgeTemplate(raw["name"], raw.get("system"), raw["user"], int(raw["min_score"]), int(raw["max_score"]))
