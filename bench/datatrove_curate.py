"""The datatrove pipeline equivalent to `corpusmill curate` (FineWeb's steps), for bench/curate.py.

WarcReader -> Trafilatura -> LanguageFilter(en, 0.65, the same local lid.176.ftz) ->
GopherRepetition -> GopherQuality -> C4Quality(no terminal-punct rule, as FineWeb) ->
FineWebQuality -> PIIFormatter -> ParquetWriter, on `tasks` file shards with `workers` processes.
"""

from __future__ import annotations

import sys

from corpusmill.core.language_id import default_model_path


def main(input_folder: str, output_folder: str, logs: str, tasks: int, workers: int) -> None:
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
    pipeline = [
        WarcReader(input_folder, glob_pattern="*.warc.gz"),
        Trafilatura(favour_precision=True, timeout=5.0),
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
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
