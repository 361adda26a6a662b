"""`corpusmill build` run through Beam's portable path (PortableRunner, embedded job server, LOOPBACK workers) from the
built wheel in a fresh virtual environment writes the same documents as the default runner: pickling, pipeline
serialization and packaging problems show here rather than on a cluster.

LOOPBACK workers run in the launching process, so this does not catch paths that exist only on the launcher
(a remote worker's install lives elsewhere); it does catch what the runner API graph and the wheel must carry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.test_packaging import wheel  # noqa: F401  (the fixture building the wheel from a copy of the repo)

ROOT = Path(__file__).parent.parent
WEB = ROOT / "tests" / "data" / "web"
# 22 WARC records (15 kept) and one WET record: a few seconds per run
INPUTS = [WEB / "dolma_wget_sample-0000.warc.gz", WEB / "cc-main-2024-22_whirlwind.warc.wet.gz"]

# The command under test, as typed after `corpusmill`; {config} and {output} are filled in per run.
COMMAND = ["build", "--config", "{config}", "--output", "{output}"]
PORTABLE = ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"]
# --verbose lets Beam's warnings through to stderr, where test_staging_finds_a_python_executable looks
VERBOSE = ["--verbose"]


@pytest.fixture(scope="module")
def fresh(wheel, tmp_path_factory) -> Path:  # noqa: F811
    """A virtual environment whose corpusmill is the wheel; its dependencies are this environment's."""
    env_dir = tmp_path_factory.mktemp("fresh")
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # this environment's pip installs into the fresh one (faster than ensurepip there)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", str(wheel)], check=True, cwd=env_dir)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    # A plain path: the .pth files there (the editable install of the checkout among them) are not processed.
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(python), "-c", "import corpusmill, corpusmill.pipelines.cli as cli; "
                            "print(*corpusmill.__path__, cli.__file__, sep='\\n')"],
                           check=True, capture_output=True, text=True, cwd=env_dir, env=_env()).stdout.split()
    assert where and all(p.startswith(site) for p in where), where
    return env_dir


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture(scope="module")
def runs(fresh, tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """The command on the default runner and on the portable path: {name: (output folder, process)}."""
    tmp = tmp_path_factory.mktemp("runs")
    config = yaml.safe_load((ROOT / "configs" / "nightly.yaml").read_text())
    config["input"]["paths"] = [str(p) for p in INPUTS]
    config["decontamination"] = [str(ROOT / p) for p in config["decontamination"]]
    for source in config["mix"]["sources"]:
        source["paths"] = [str(ROOT / p) for p in source.get("paths", [])]
    config_path = tmp / "nightly.yaml"
    config_path.write_text(yaml.safe_dump(config))
    done = {}
    for name, beam_args in (("default", []), ("portable", [*PORTABLE, *VERBOSE])):
        out = tmp / name
        args = [a.format(config=config_path, output=out) for a in COMMAND]
        # from a folder outside the checkout, so nothing is imported from its folders
        done[name] = out, subprocess.run([str(fresh / "bin" / "corpusmill"), *args, *beam_args],
                                         capture_output=True, text=True, cwd=tmp, env=_env())
    return done


def _table(out: Path, table: str):
    """A table of the build `latest` names, without provenance paths (they name each run's own folder)."""
    table = pq.read_table(out / "latest" / table)
    return table.drop_columns([c for c in ("input_file",) if c in table.column_names]).sort_by("id")


def test_portable_build_from_the_wheel_writes_the_default_runners_shards(runs):
    for name, (out, proc) in runs.items():
        assert proc.returncode == 0, f"{name} run failed:\n{proc.stderr[-6000:]}"
        report = json.loads((out / "latest" / "report.json").read_text())
        assert report["accounting_ok"] and report["summary"]["input_files"] == len(INPUTS), name
    for table in ("curate/documents", "curate/removed", "curate/index", "mix/documents"):
        default, portable = (_table(runs[name][0], table) for name in ("default", "portable"))
        assert default.num_rows > 0, table
        assert portable.equals(default), table  # every column: nothing depends on the runner


def test_staging_finds_a_python_executable(runs):
    _, proc = runs["portable"]
    assert "Couldn't stage a list of installed dependencies" not in proc.stderr


def test_what_workers_unpickle_names_no_file_of_the_launching_machine(tmp_path):
    """A cluster worker has corpusmill installed under another prefix and none of the launcher's files: the
    shipped models and tokenizer are pickled by a package-relative name, eval items as their texts."""
    import pickle
    import shutil

    from corpusmill.core.bpe import Encoder, default_tokenizer_path
    from corpusmill.core.language_id import LanguageIdentifier
    from corpusmill.core.text_classifier import classifier_from_card
    from corpusmill.filters.base import make_filter
    from corpusmill.schemas.records import Document

    for obj in (LanguageIdentifier(), classifier_from_card("math")[0],
                Encoder(str(default_tokenizer_path()), "<|end_of_text|>")):
        blob = pickle.dumps(obj)
        assert str(ROOT).encode() not in blob and sysconfig.get_paths()["purelib"].encode() not in blob, obj
        pickle.loads(blob).setup()  # and it still loads what it names

    eval_file = shutil.copy(ROOT / "tests" / "data" / "eval" / "gsm8k_test_head20.jsonl", tmp_path / "gsm8k.jsonl")
    blob = pickle.dumps(make_filter("decontamination_v1", {"eval_files": [str(eval_file)]}))
    item = json.loads(Path(eval_file).read_text().splitlines()[0])["question"]
    Path(eval_file).unlink()  # the worker has no such file
    verdict = pickle.loads(blob)(Document(id="d", text=f"Homework: {item}", source="test", input_file="x"))
    assert not verdict.keep
