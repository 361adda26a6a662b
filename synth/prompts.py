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


def known_templates() -> list[str]:
    """Names of the bundled templates."""
    return sorted(p.name.removesuffix(".yaml") for p in resources.files("corpusmill.synth.templates").iterdir()
                  if p.name.endswith(".yaml"))


@cache
def load_template(name: str) -> PromptTemplate:
    """A bundled template by name; an unknown name raises ValueError listing the known ones."""
    if name not in known_templates():
        raise ValueError(f"unknown template {name!r}; known: {', '.join(known_templates())}")
    raw = yaml.safe_load((resources.files("corpusmill.synth.templates") / f"{name}.yaml").read_text(encoding="utf-8"))
    return PromptTemplate(raw["name"], raw.get("system"), raw["user"], dict(raw.get("answer_hints") or {}))
