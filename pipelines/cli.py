"""`corpusmill <stage> --config FILE --output OUT [--input PATH_OR_GLOB ...] [Beam options ...]`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

EXIT_USAGE = 2
EXIT_LOCKED = 4  # `build`: another build holds the root's lock; nothing to fix, try later


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
    dedup = stages.add_parser(
        "dedup", help="remove URL, exact and MinHash near duplicates, within a build and against earlier builds",
        description="Read documents (a curate output, JSONL or Parquet), remove duplicates, write documents/ "
                    "with cluster_id and cluster_size, removed/ with the survivor of each duplicate, and "
                    "index/ for later builds.")
    synth = stages.add_parser(
        "synth", help="sample reasoning traces from a model, keep verified ones, export SFT data",
        description="Generate n samples per problem through the configured backend (cached as they arrive), "
                    "verify them (math-verify, sandboxed tests, trace checks), keep up to k per problem and "
                    "write SFT messages to documents/, rejected samples to removed/.")
    synth.add_argument("--reverify", action="store_true",
                       help="judge cached generations again with the current verifiers; generate nothing")
    verify = stages.add_parser(
        "verify", help="verify generations made elsewhere and write accepted ones as SFT data",
        description="Check each generation (JSONL with problem_id and completion) against its problem "
                    "(GSM8K, MATH, MBPP, HumanEval or LeetCode records): math answers with math-verify, code "
                    "with its tests in the sandbox. Accepted samples go to documents/ (SFT messages) and "
                    "sft/ (JSONL), rejected ones to removed/ with the reason.")
    verify.add_argument("--problems", required=True, help="problem set, JSONL")
    verify.add_argument("--generations", required=True, help="generations, JSONL with problem_id and completion")
    verify.add_argument("--output", required=True, help="output folder")
    verify.add_argument("--format", choices=["gsm8k", "math", "mbpp", "humaneval", "leetcode"],
                        help="problem format; default: recognised from each record's fields")
    classifier = stages.add_parser(
        "train-classifier", help="train a fastText classifier (math, code, quality, ...) from labelled files",
        description="Train a fastText classifier from labelled JSONL, Parquet or text files and save it to OUTPUT "
                    "with a card: training data hashes, parameters, held-out precision/recall/F1.")
    classifier.add_argument("--config", required=True, help="YAML config (see configs/classifiers/math.yaml)")
    classifier.add_argument("--output", required=True, help="model folder")
    recall = stages.add_parser(
        "recall", help="find a domain in a crawl: DeepSeekMath's classifier and web-host recall loop",
        description="Iterate: train a classifier on seed pages against random pool pages, score the pool, "
                    "annotate web hosts where many pages score high, add their pages to the seeds.")
    recall.add_argument("--config", required=True, help="YAML config (see configs/recall.yaml)")
    recall.add_argument("--output", required=True, help="output folder")
    code = stages.add_parser(
        "code", help="source files to file-level and repository-level code (DeepSeek-Coder's recipe)",
        description="Read source files (folder trees, JSONL, Parquet), apply the code quality rules, dedup "
                    "files, and build repository-level samples (files in dependency order), deduplicated too.")
    tokenizer = stages.add_parser(
        "train-tokenizer", help="train a byte-level BPE tokenizer (tokenizer.json) from text files",
        description="Train a byte-level BPE tokenizer with the `tokenizers` library and save tokenizer.json and "
                    "its card to OUTPUT.")
    tokenizer.add_argument("--config", required=True, help="YAML config (see configs/tokenizer.yaml)")
    tokenizer.add_argument("--output", required=True, help="tokenizer folder")
    mix = stages.add_parser(
        "mix", help="sample sources to target token shares into shuffled text and token shards",
        description="Read sources (Parquet or JSONL) with their conditions, decontaminate, tokenize, sample each "
                    "source to its share of the tokens (up- or down-sampling by document-id hashes) and write "
                    "documents/ (text Parquet), tokens/ (Megatron-LM .bin/.idx), plan.json, report and manifest.")
    mix.add_argument("--config", required=True, help="YAML config (see configs/mix.yaml)")
    mix.add_argument("--output", required=True, help="output folder (local, gs://, s3://)")
    build = stages.add_parser(
        "build", help="nightly build: curate, dedup against earlier builds, decontaminate and mix the new input",
        description="List the input files, skip those an earlier complete build under OUTPUT processed, and run "
                    "curate -> dedup (against every earlier build) -> decontamination -> mix into "
                    "OUTPUT/builds/<build-id>/; then point OUTPUT/latest at it. A killed build is resumed by the "
                    "same command. Exit codes: 0 done or no new input, 1 the build failed (run again to resume), "
                    "2 bad config or input, 3 some records need a retry, 4 another build holds the lock.")
    sft_set = stages.add_parser(
        "sft-set", help="compose one SFT training set from reasoning and non-reasoning sources",
        description="Read SFT conversations (synth / verify outputs, SFT Parquet or JSONL), decontaminate and "
                    "dedup them on the prompt, keep the shortest verified samples per problem, compose reasoning "
                    "(per domain) and non-reasoning parts to their shares, and write train/ and validation/ "
                    "(messages, Parquet and JSONL) with a report.")
    sft_set.add_argument("--config", required=True, help="YAML config (see configs/sft-set.yaml)")
    sft_set.add_argument("--output", required=True, help="output folder (local, gs://, s3://)")
    report = stages.add_parser(
        "report", help="regenerate a build's report.html from its outputs",
        description="Rewrite BUILD_DIR/report.json and report.html (BUILD_DIR: OUTPUT/builds/<build-id> or "
                    "OUTPUT/latest) from the build's stage outputs.")
    report.add_argument("build_dir", metavar="BUILD_DIR", help="a build folder")
    for sub in (curate, dedup, synth, verify, classifier, recall, tokenizer, mix, build, report, sft_set):
        sub.add_argument("--verbose", action="store_true", help="also show Beam's and the workers' log messages")
    code.add_argument("--verbose", action="store_true", help="also show Beam's and the workers' log messages")
    for sub, example in ((curate, "configs/curate.yaml"), (dedup, "configs/dedup.yaml"), (code, "configs/code.yaml"),
                         (synth, "configs/synth.yaml"), (build, "configs/nightly.yaml")):
        sub.add_argument("--config", required=True, help=f"YAML config (see {example})")
        sub.add_argument("--output", required=True, help="output folder (local, gs://, s3://)")
        sub.add_argument("--input", action="append", metavar="PATH_OR_GLOB",
                         help="input file, folder or glob; repeatable; replaces input.paths of the config")
    return parser


def _beam_chatter(record: logging.LogRecord) -> bool:
    """False for Beam's own warnings on the root logger (optional GCP clients missing, no resource module):
    they describe Beam, not the build."""
    return record.levelno >= logging.ERROR or f"{os.sep}apache_beam{os.sep}" not in record.pathname


def _configure_logging(verbose: bool) -> None:
    """The console shows corpusmill's progress and funnel; Beam's and the workers' logs only with --verbose."""
    from corpusmill.pipelines.worker import VERBOSE_ENV

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"  # read by the local runner's worker processes
    # gRPC (Beam's worker channel) logs a line at every start of a helper process.
    os.environ.setdefault("GRPC_VERBOSITY", "INFO" if verbose else "ERROR")
    if not verbose:
        logging.getLogger("apache_beam").setLevel(logging.ERROR)  # its own, and the worker lines it echoes
        logging.getLogger().addFilter(_beam_chatter)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `corpusmill` console script."""
    args, beam_args = _parser().parse_known_args(argv)
    _configure_logging(args.verbose)
    # Heavy imports only after --help has had its chance to return.
    from pydantic import ValidationError

    from corpusmill.pipelines.config_checks import load_stage_config
    from corpusmill.pipelines.errors import UsageError
    from corpusmill.pipelines.launch import run_stage
    from corpusmill.pipelines.stages import STAGES
    from corpusmill.schemas.config import ConfigError, VerifyConfig, describe_validation_error

    try:
        if args.stage == "train-classifier":
            from corpusmill.pipelines.classifier_training import print_card, train_classifier

            print_card(train_classifier(load_stage_config(args.config, args.stage), args.output), args.output)
            return 0
        if args.stage == "train-tokenizer":
            from corpusmill.pipelines.tokenizer_training import print_card as print_tokenizer
            from corpusmill.pipelines.tokenizer_training import train_tokenizer

            card = train_tokenizer(load_stage_config(args.config, args.stage), args.output)
            print_tokenizer(card, args.output)
            return 0
        if args.stage == "recall":
            from corpusmill.pipelines.recall_loop import run_recall

            return run_recall(load_stage_config(args.config, args.stage), args.output, beam_args)
        if args.stage == "build":
            from corpusmill.pipelines.nightly.chain import run_build

            return run_build(load_stage_config(args.config, args.stage), args.input, args.output, beam_args)
        if args.stage == "sft-set":
            from corpusmill.pipelines.sft_set import build_sft_set

            return build_sft_set(load_stage_config(args.config, args.stage), args.output)
        if args.stage == "report":
            from corpusmill.pipelines.nightly.report import regenerate

            print(f"corpusmill report: {regenerate(args.build_dir)}")
            return 0
        if args.stage == "verify":
            try:
                config = VerifyConfig(problems=args.problems, generations=args.generations, format=args.format)
            except ValidationError as err:
                raise ConfigError(describe_validation_error(err)) from err
            inputs = None
        else:
            config, inputs = load_stage_config(args.config, args.stage), getattr(args, "input", None)
        return run_stage(STAGES[args.stage].spec(args), config, inputs, args.output, beam_args)
    except (ConfigError, UsageError) as err:
        print(f"corpusmill {args.stage}: error: {err}", file=sys.stderr)
        return EXIT_LOCKED if type(err).__name__ == "LockedError" else EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
