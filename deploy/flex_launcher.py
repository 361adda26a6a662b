"""Dataflow Flex Template entry point (FLEX_TEMPLATE_PYTHON_PY_FILE): `corpusmill build` with the template's
parameters.

The template launcher runs this file with every parameter of a launch as `--name=value`. `config`, `output`
and `input` are the template's own (deploy/flex-template/metadata.json); every other one is a Beam pipeline
option and reaches Beam unchanged, as on the command line.

Google documents that a Flex Template program must exit after `run()` for its pipeline to start, and must
not wait for it; one launch creates one job. `corpusmill build` runs several pipelines one after another
and waits for each, because each stage reads the outputs of the one before. So when the launcher hands
Beam a `--template_location` (the job file it turns into the launch's one job), this script stops with
that explanation instead of starting a build whose first pipeline cannot run until the build has ended.
deploy/README.md has the sources and the ways to run nightly builds on Dataflow today.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

# Beam options that make `run()` write the job description to a file instead of starting the job.
TEMPLATE_FILE_OPTIONS = ("--template_location",)
EXIT_USAGE = 2  # corpusmill's exit code for a usage or configuration error (pipelines/cli.py)


def build_argv(argv: list[str]) -> list[str]:
    """`corpusmill build` arguments from the launcher's: the template's parameters, then Beam's options.

    `input` may hold several paths or globs separated by commas (a template parameter is one string), and
    may be given more than once.
    """
    parser = argparse.ArgumentParser(prog="flex_launcher", add_help=False, allow_abbrev=False)
    parser.add_argument("--config", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--input", action="append", default=[])
    params, beam_args = parser.parse_known_args(argv)
    args = ["build", "--config", params.config, "--output", params.output]
    for value in params.input:
        for path in value.split(","):
            if path.strip():
                args += ["--input", path.strip()]
    return args + beam_args


def template_file_option(args: list[str]) -> str | None:
    """The first argument that would turn `run()` into writing a job file, or None."""
    for arg in args:
        if arg.split("=", 1)[0] in TEMPLATE_FILE_OPTIONS:
            return arg
    return None


def local_config(path: str) -> str:
    """A local copy of a config on gs:// or s3:// (corpusmill reads configs from local files); else `path`."""
    if "://" not in path:
        return path
    from apache_beam.io.filesystems import FileSystems

    copy = os.path.join(tempfile.mkdtemp(prefix="corpusmill-config-"), os.path.basename(path))
    with FileSystems.open(path) as src, open(copy, "wb") as dst:
        dst.write(src.read())
    return copy


def main(argv: list[str] | None = None) -> int:
    """Run `corpusmill build` with the launch's parameters; returns its exit code."""
    args = build_argv(sys.argv[1:] if argv is None else argv)
    held = template_file_option(args)
    if held is not None:
        print(f"corpusmill flex template: the launcher passed {held}: Dataflow turns the first pipeline this "
              "program runs into the launch's one job and starts it only after the program exits, but "
              "`corpusmill build` runs several pipelines one after another and waits for each. Run "
              "`corpusmill build --runner DataflowRunner ...` from a scheduler instead (deploy/README.md).",
              file=sys.stderr)
        return EXIT_USAGE
    args[2] = local_config(args[2])  # args is ["build", "--config", CONFIG, ...]
    from corpusmill.pipelines.cli import main as corpusmill_main

    return corpusmill_main(args)


if __name__ == "__main__":
    sys.exit(main())
