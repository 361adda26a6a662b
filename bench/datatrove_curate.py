"""The datatrove pipeline equivalent to `corpusmill curate` (FineWeb's steps), for bench/curate.py.

WarcReader -> Trafilatura or Resiliparse -> LanguageFilter(en, 0.65, the same local lid.176.ftz) ->
GopherRepetition -> GopherQuality -> C4Quality(no terminal-punct rule, as FineWeb) ->
FineWebQuality -> PIIFormatter -> ParquetWriter, on `tasks` file shards with `workers` processes.

    python bench/datatrove_curate.py INPUT OUTPUT LOGS TASKS WORKERS [--extractor trafilatura|resiliparse]

datatrove 0.10.1 ships no Resiliparse step, so `Resiliparse` below is a BaseExtractor subclass
written here: the same call corpusmill makes (core/extraction.py), run through BaseExtractor.run
exactly as datatrove's own Trafilatura step is (per-document timeout in a forked ExtractorSandbox,
documents with empty text dropped).
"""

from __future__ import annotations

import argparse

from datatrove.pipeline.extractors.base import BaseExtractor

from corpusmill.core.language_id import default_model_path

# Per-document extraction limit, as corpusmill's curate config in bench/curate.py (timeout_s: 5).
EXTRACT_TIMEOUT_S = 5.0


class Resiliparse(BaseExtractor):
    """Resiliparse main-content extraction as a datatrove step, with the options corpusmill uses."""

    name = "Resiliparse"
    _requires_dependencies = ["resiliparse"]

    def __init__(self, timeout: float = EXTRACT_TIMEOUT_S):
        super().__init__(timeout)

    def extract(self, text: str) -> str:
        """Main text of an HTML string (datatrove's WarcReader has already decoded the payload)."""
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(text, main_content=True, preserve_formatting=True, alt_texts=False)


def main(input_folder: str, output_folder: str, logs: str, tasks: int, workers: int, extractor: str) -> None:
    """Run the pipeline locally: `tasks` shards of the input files on `workers` processes."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LanguageFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.lid import FT176LID

    class LocalFT176(FT176LID):
        """datatrove's lid.176 wrapper, loading the bundled model instead of downloading lid.176.bin."""

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText

                self._model = _FastText(model_path=str(default_model_path()))
            return self._model

    language = LanguageFilter(languages=["en"], language_threshold=0.65)
    language.model = LocalFT176(["en"])
    extract = (Trafilatura(favour_precision=True, timeout=EXTRACT_TIMEOUT_S) if extractor == "trafilatura"
               else Resiliparse(timeout=EXTRACT_TIMEOUT_S))
    pipeline = [
        WarcReader(input_folder, glob_pattern="*.warc.gz"),
        extract,
        language,
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
        PIIFormatter(),
        ParquetWriter(output_folder),
    ]
    LocalPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logs).run()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input_folder")
    parser.add_argument("output_folder")
    parser.add_argument("logs")
    parser.add_argument("tasks", type=int)
    parser.add_argument("workers", type=int)
    parser.add_argument("--extractor", choices=("trafilatura", "resiliparse"), default="trafilatura")
    args = parser.parse_args()
    main(args.input_folder, args.output_folder, args.logs, args.tasks, args.workers, args.extractor)
