"""Entry point of the local runner's worker processes: Beam's own SDK worker, with its start-up
chatter (missing optional GCP clients, no staging folder, unparseable args, handler creation) kept
off the console unless `--verbose` was given. Errors still show, and still fail the build. Libraries'
own thread pools stay at one thread: the runner already starts one worker per core.

The multi_processing DirectRunner starts each worker as `<sys.executable> -m
apache_beam.runners.worker.sdk_worker_main`; launch.quiet_local_workers() points that command here.
"""

from __future__ import annotations

import logging
import os
import runpy
import sys

VERBOSE_ENV = "CORPUSMILL_VERBOSE"


def main() -> None:
    # The local runner starts one worker per core already; a tokenizer batch spreading over every core
    # on top of that oversubscribed them (mix on 2 cores: 27.4 s with, 25.6 s without).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    handler = logging.StreamHandler()
    handler.setLevel(logging.INFO if os.environ.get(VERBOSE_ENV) == "1" else logging.ERROR)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(handlers=[handler])  # Beam's worker adds its own handler beside this one
    if sys.argv[1:2] != ["-m"] or len(sys.argv) < 3:
        raise SystemExit("usage: python -m corpusmill.pipelines.worker -m MODULE")
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
