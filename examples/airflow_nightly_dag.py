"""Airflow DAG `corpusmill_nightly`: one `corpusmill build` a night, never two at once.

The task runs the same command as a cron line would:

    corpusmill build --config CONFIG --output ROOT [Beam options]

on the Airflow worker, from CORPUSMILL_HOME (relative paths in the config resolve against it). The build
is its own driver: it lists new input, runs its Beam pipelines one after another (on Dataflow, Flink or
Spark when the Beam options say so) and points ROOT/latest at the finished build. Set these environment
variables where the DAG is parsed (Airflow 3: the DAG processor) to change the defaults below:

    CORPUSMILL_HOME        working directory, e.g. the corpusmill checkout or /opt/corpusmill in its image
    CORPUSMILL_BIN         the corpusmill executable, e.g. /opt/corpusmill/.venv/bin/corpusmill
    CORPUSMILL_CONFIG      the build config (stage: build)
    CORPUSMILL_ROOT        the build root: a local folder, gs://... or s3://...
    CORPUSMILL_BEAM_ARGS   Beam options, one shell-quoted string, e.g.
                           "--runner DataflowRunner --project P --region R --temp_location gs://B/tmp"

Exit codes of `corpusmill build` and what this DAG does with them (any non-zero exit fails the try, and
Airflow retries it up to `retries` times; a retry is the same command, which resumes the build):
    0  the build completed, or there was no new input: success.
    1  the build failed; ROOT/latest is untouched. A retry resumes it.
    2  usage or config error: it fails every retry (fix the config).
    3  some records met a failure that a rerun redoes (e.g. a generation backend): a retry redoes them.
    4  another build holds ROOT/build.lock: a retry after it ends goes ahead.

Airflow stops a task with SIGTERM (execution_timeout, a run marked failed): corpusmill then removes its lock
and stops its local workers, and the next try resumes the build. Only a SIGKILL leaves the lock behind: a
build on the same host sees the process is gone; one on another host waits for the holder's heartbeat to
be 15 minutes old.
"""

from __future__ import annotations

import os
import shlex
from datetime import timedelta

import pendulum

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.x
    from airflow import DAG

try:  # Airflow 3, and Airflow 2.x with apache-airflow-providers-standard
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2.x
    from airflow.operators.bash import BashOperator

CORPUSMILL_HOME = os.environ.get("CORPUSMILL_HOME", "/opt/corpusmill")
CORPUSMILL_BIN = os.environ.get("CORPUSMILL_BIN", "corpusmill")
CORPUSMILL_CONFIG = os.environ.get("CORPUSMILL_CONFIG", "configs/nightly.yaml")
CORPUSMILL_ROOT = os.environ.get("CORPUSMILL_ROOT", "/srv/corpusmill")
CORPUSMILL_BEAM_ARGS = os.environ.get("CORPUSMILL_BEAM_ARGS", "")

SCHEDULE = "0 2 * * *"  # 02:00 UTC every night
# A build that is still running after this is stopped (SIGTERM, see above) so that the next night can start.
BUILD_TIMEOUT = timedelta(hours=20)
RETRY_DELAY = timedelta(minutes=30)


def build_command() -> str:
    """The shell command the task runs: `corpusmill build` with the configured root and Beam options."""
    argv = [CORPUSMILL_BIN, "build", "--config", CORPUSMILL_CONFIG, "--output", CORPUSMILL_ROOT,
            *shlex.split(CORPUSMILL_BEAM_ARGS)]
    return shlex.join(argv)


with DAG(
    dag_id="corpusmill_nightly",
    description="corpusmill nightly build: curate, dedup, decontaminate and mix the new input",
    schedule=SCHEDULE,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # a missed night is not rebuilt on its own: the next build takes all the new input anyway
    max_active_runs=1,  # and corpusmill's own lock keeps out builds started elsewhere
    dagrun_timeout=BUILD_TIMEOUT + 3 * RETRY_DELAY,
    default_args={
        "retries": 2,
        "retry_delay": RETRY_DELAY,
        "execution_timeout": BUILD_TIMEOUT,
    },
    tags=["corpusmill"],
    doc_md=__doc__,
) as dag:
    build = BashOperator(
        task_id="build",
        bash_command=build_command(),
        cwd=CORPUSMILL_HOME,
    )
