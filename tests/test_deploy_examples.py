"""deploy/ and examples/ stay in step with the code: the Airflow DAG loads, the Flex Template's parameters
are options `corpusmill build` accepts, and the Dockerfiles name the installed apache-beam."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import re
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parent.parent
DAG_FILE = ROOT / "examples" / "airflow_nightly_dag.py"
METADATA = ROOT / "deploy" / "flex-template" / "metadata.json"
LAUNCHER = ROOT / "deploy" / "flex_launcher.py"
WORKER_DOCKERFILE = ROOT / "deploy" / "Dockerfile.worker"
FLEX_DOCKERFILE = ROOT / "deploy" / "flex-template" / "Dockerfile"
# Every way a Dockerfile names a Beam version: the build argument, an SDK image tag, a pip pin.
BEAM_VERSION_REF = re.compile(r"(?:ARG BEAM_VERSION=|beam_python3\.\d+_sdk:|apache-beam(?:\[[\w,]*\])?==)(\d[\w.]*)")


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_subparser() -> argparse.ArgumentParser:
    from corpusmill.pipelines.cli import _parser

    stages = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "build" in stages.choices, f"`corpusmill build` is not a command; commands: {sorted(stages.choices)}"
    return stages.choices["build"]


def test_dag_file_parses_and_names_one_dag():
    tree = ast.parse(DAG_FILE.read_text(encoding="utf-8"), filename=str(DAG_FILE))
    dag_ids = [kw.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
               for kw in node.keywords if kw.arg == "dag_id" and isinstance(kw.value, ast.Constant)]
    assert dag_ids == ["corpusmill_nightly"]


def test_dag_imports_under_airflow(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))  # airflow writes its config there on first import
    pytest.importorskip("airflow")
    module = _load(DAG_FILE, "airflow_nightly_dag")
    dags = [v for v in vars(module).values() if type(v).__name__ == "DAG"]
    assert [d.dag_id for d in dags] == ["corpusmill_nightly"]
    (dag,) = dags
    assert dag.max_active_runs == 1 and dag.catchup is False
    task = dag.get_task("build")
    assert task.retries >= 1
    assert task.bash_command.split()[1:3] == ["build", "--config"]


def test_flex_template_parameters_are_build_options():
    metadata = json.loads(METADATA.read_text(encoding="utf-8"))
    assert metadata["name"] and metadata["description"]
    options = {s for a in _build_subparser()._actions for s in a.option_strings}
    params = metadata["parameters"]
    assert {p["name"] for p in params} == {"config", "output", "input"}
    for p in params:
        assert f"--{p['name']}" in options, f"metadata.json parameter {p['name']!r} is no `corpusmill build` option"
        assert p["helpText"]
        example = re.search(r"(?:Example|e\.g\.): (\S+)", p["helpText"])
        for pattern in p.get("regexes", []):
            if example:
                assert re.fullmatch(pattern, example.group(1).rstrip(".,)")), (p["name"], pattern, example)


def test_flex_launcher_hands_the_parameters_to_corpusmill_build():
    from corpusmill.pipelines.cli import _parser

    launcher = _load(LAUNCHER, "flex_launcher")
    argv = launcher.build_argv(["--config=configs/nightly.yaml", "--output=gs://b/root",
                                "--input=gs://b/a/*.warc.gz,gs://b/c/", "--runner=DataflowRunner",
                                "--sdk_container_image=worker:tag"])
    args, beam_args = _parser().parse_known_args(argv)
    assert (args.stage, args.config, args.output) == ("build", "configs/nightly.yaml", "gs://b/root")
    assert args.input == ["gs://b/a/*.warc.gz", "gs://b/c/"]
    assert beam_args == ["--runner=DataflowRunner", "--sdk_container_image=worker:tag"]
    assert launcher.build_argv(["--config", "c.yaml", "--output", "gs://b/r"]) == [
        "build", "--config", "c.yaml", "--output", "gs://b/r"]


def test_flex_launcher_refuses_a_template_file_launch(capsys):
    launcher = _load(LAUNCHER, "flex_launcher")
    code = launcher.main(["--config=c.yaml", "--output=gs://b/r", "--template_location=gs://b/staging/job_object"])
    assert code == 2
    assert "corpusmill flex template: the launcher passed --template_location" in capsys.readouterr().err


@pytest.mark.parametrize("dockerfile", [WORKER_DOCKERFILE, FLEX_DOCKERFILE], ids=lambda p: p.parent.name)
def test_dockerfiles_name_the_installed_beam(dockerfile):
    # Fails on purpose when apache-beam is upgraded without the images: workers must run the launching SDK.
    named = set(BEAM_VERSION_REF.findall(dockerfile.read_text(encoding="utf-8")))
    assert named == {version("apache-beam")}, f"{dockerfile.relative_to(ROOT)} names Beam {sorted(named)}"


def test_worker_image_is_the_beam_sdk_image_of_that_version():
    text = WORKER_DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM apache/beam_python3\.11_sdk:\$\{BEAM_VERSION\}$", text, flags=re.MULTILINE)
