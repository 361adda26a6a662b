"""Language identification with fastText lid.176.

The default model is `lid.176.ftz` (Joulin et al. 2016, CC BY-SA 3.0), shipped in
core/models/ so nothing is downloaded at run time; a user can point at any fastText
LID model file (lid.176.bin, GlotLID, …) instead.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from corpusmill.core.package_files import local, portable

LABEL_PREFIX = "__label__"
# lid.176 saw sentences and paragraphs, one line each: it is given the start of the text, every run of
# whitespace (newlines too: fastText reads a newline as the end of its input) made one space.
SAMPLE_CHARS = 5_000
# A guess from the sample below this score is made again on up to MAX_LID_CHARS, as before issue 14. On
# the first 5,000 characters alone, 54 of 532 UDHR translations changed label (all guesses under 0.5, for
# languages lid.176 does not know or confuses, such as Nynorsk) and two real pages near the 0.65 default
# threshold crossed it (0.649 -> 0.712); re-reading those under 0.8 (3% of real pages) gave the
# 20,000-character label and keep decision on all 11,681 texts of bench/filter_decisions.py.
SURE_SCORE = 0.8
MAX_LID_CHARS = 20_000


def default_model_path() -> Path:
    """The bundled lid.176.ftz."""
    return Path(str(resources.files("corpusmill.core.models") / "lid.176.ftz"))


class LanguageIdentifier:
    """Predicts (language, probability) for a text; the model loads lazily in `setup()`."""

    def __init__(self, model_path: str | None = None):
        self.model_path = model_path or str(default_model_path())
        self._model = None

    def setup(self) -> None:
        if self._model is not None:
            return
        import fasttext

        # fastText prints a deprecation notice for every load_model on stderr; it says nothing useful.
        fasttext.FastText.eprint = lambda *_args, **_kwargs: None
        self.model_path = local(self.model_path)  # unpickled on a worker: the package's copy there
        if not Path(self.model_path).is_file():
            raise FileNotFoundError(f"language ID model not found: {self.model_path}")
        self._model = fasttext.load_model(self.model_path)

    def __getstate__(self) -> dict:
        # Never pickle the loaded model into a Beam graph; workers load it in setup().
        return {"model_path": portable(self.model_path), "_model": None}

    def identify(self, text: str) -> tuple[str, float]:
        """The most likely language code and its probability; ("und", 0.0) for text without letters."""
        self.setup()
        label, score = self._predict(" ".join(text[:SAMPLE_CHARS].split()))
        if score < SURE_SCORE and len(text) > SAMPLE_CHARS:
            label, score = self._predict(" ".join(text[:MAX_LID_CHARS].split()))
        return label, score

    def _predict(self, sample: str) -> tuple[str, float]:
        if not sample:
            return "und", 0.0
        labels, probs = self._model.predict(sample, k=1)
        return labels[0].removeprefix(LABEL_PREFIX), float(min(probs[0], 1.0))
