"""Loading a stage config: the pydantic models of schemas/ first, then what only the layers above
can check (a filter name and its parameters against the filter registry, a prompt template
against the bundled ones), all before anything is launched."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from corpusmill.filters.base import make_filter
from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io.problem_files import has_code_problems
from corpusmill.schemas.config import ConfigError, ProblemFieldsConfig, load_config
from corpusmill.synth.prompts import load_judge_template, load_template
from corpusmill.synth.verifiers.sandbox import sandbox_problem


def load_stage_config(path: str | Path, stage: str) -> BaseModel:
    """The validated config of `stage` from a YAML file; any problem raises ConfigError with one line."""
    config = load_config(path, stage)
    try:
        check_registered_names(config)
    except ValueError as err:
        raise ConfigError(f"{path}: {err}") from err
    return config


def check_code_sandbox(problem_files: list[str], fmt: str | None, fields: ProblemFieldsConfig | None) -> None:
    """Refuse, before launch, to judge code problems where the sandbox cannot run: otherwise every code
    sample would fail for a reason that has nothing to do with it."""
    if not has_code_problems(problem_files, fmt, fields):
        return
    problem = sandbox_problem()
    if problem is not None:
        raise UsageError(f"{problem}. The problems include code, which is verified only inside the sandbox.")


def check_registered_names(config: BaseModel) -> None:
    """Every filter and template the config names exists; ValueError naming the field otherwise."""
    steps: set[str] = set()
    for i, spec in enumerate(getattr(config, "filters", None) or []):
        try:
            step = make_filter(spec.name, spec.params).step
        except ValueError as err:
            raise ValueError(f"field 'filters.{i}': {err}") from err
        if step in steps:
            raise ValueError(f"field 'filters.{i}': a second {step!r} step; give each run of {spec.name!r} "
                             "its own label")
        steps.add(step)
    eval_files = getattr(config, "decontamination", None)
    if eval_files:
        try:
            make_filter("decontamination_v1", {"eval_files": eval_files})
        except ValueError as err:
            raise ValueError(f"field 'decontamination': {err}") from err
    template = getattr(config, "template", None)
    if template is not None:
        try:
            load_template(template)
        except ValueError as err:
            raise ValueError(f"field 'template': {err}") from err
    judge = getattr(config, "judge", None)
    if judge is not None:
        try:
            load_judge_template(judge.template)
        except ValueError as err:
            raise ValueError(f"field 'judge.template': {err}") from err
