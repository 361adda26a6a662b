"""`corpusmill <stage> --config FILE --output OUT [--input PATH_OR_GLOB ...] [Beam options ...]`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corpusmill",
        description="Curate Common Crawl and other sources into training-ready Parquet on Apache Beam.",
        epilog="Options the stage does not know are passed to Beam unchanged "
               "(e.g. --runner DataflowRunner --project P --region R).",
    )
    stages = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    curate = stages.add_parser(
        "curate", help="read WARC/WET/JSONL/Parquet, extract text, identify language, filter, redact PII",
        description="Read crawl files, extract main text, identify language, apply quality rules, "
                    "redact PII, write documents/, removed/, errors/, report and manifest to OUTPUT.")
    curate.add_argument("--config", required=True, help="YAML config (see configs/curate.yaml)")
    curate.add_argument("--output", required=True, help="output folder (local, gs://, s3://)")
    curate.add_argument("--input", action="append", metavar="PATH_OR_GLOB",
                        help="input file, folder or glob; repeatable; replaces input.paths of the config")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `corpusmill` console script."""
    args, beam_args = _parser().parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # gRPC (Beam's worker channel) logs a line at every fork of an extraction helper process.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    # Heavy imports only after --help has had its chance to return.
    from pipelines.curate import STAGE, build, step_order
    from pipelines.launch import StageSpec, UsageError, run_stage
    from schemas.config import ConfigError, load_config

    try:
        config = load_config(args.config, args.stage)
        spec = StageSpec(STAGE, build, step_order)
        return run_stage(spec, config, args.input, args.output, beam_args)
    except (ConfigError, UsageError) as err:
        print(f"corpusmill {args.stage}: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
