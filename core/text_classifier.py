"""fastText text classifiers (DeepSeekMath's choice for recalling math pages from Common Crawl):
the text preparation shared by training and scoring, training with held-out scores, and scoring.

Training and scoring must see text prepared the same way, so both go through `prepare`:
lower case, punctuation set apart from words (so `$x^2$` and `print(x)` become tokens fastText
can weigh), whitespace collapsed, at most `max_chars` characters (fastText's cost grows with
the text, its decision stops changing long before).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import regex

from corpusmill.core.helper_process import main_module_hidden
from corpusmill.core.package_files import local, portable

LABEL_PREFIX = "__label__"
_PUNCT = regex.compile(r"([\p{P}\p{S}])")


def prepare(text: str, max_chars: int) -> str:
    """The text as fastText sees it, in training and in scoring."""
    return " ".join(_PUNCT.sub(r" \1 ", text[:max_chars].lower()).split())


def heldout(text: str, fraction: float, seed: int) -> bool:
    """Whether an example belongs to the held-out split: a hash of its text and the seed, never its order."""
    digest = hashlib.blake2b(f"{seed}\x00{text}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


@dataclass(frozen=True)
class Scores:
    """Precision, recall and F1 of one label on held-out examples."""

    precision: float
    recall: float
    f1: float
    support: int


def train(examples: Iterable[tuple[str, str]], params: dict, max_chars: int, quantize: bool, cutoff: int = 0):
    """A fastText model trained on (label, text) examples; `params` are fastText's own arguments.

    Each training runs in a fresh spawned process. Measured with fasttext-numpy2-wheel 0.9.2: a second
    training in one process diverged ("Encountered NaN") in 3 to 5 of 6 tries on the same data and seed,
    while the first training of a process never did and always gave the same bytes.
    """
    import fasttext

    with tempfile.TemporaryDirectory(prefix="corpusmill-fasttext-") as tmp:
        path, model_path = os.path.join(tmp, "train.txt"), os.path.join(tmp, "model.bin")
        with open(path, "w", encoding="utf-8") as f:
            for label, text in examples:
                f.write(f"{LABEL_PREFIX}{label} {prepare(text, max_chars)}\n")
        with main_module_hidden(), multiprocessing.get_context("spawn").Pool(1) as pool:
            pool.apply(_train_to_file, (path, params, quantize, cutoff, model_path))
        fasttext.FastText.eprint = lambda *_args, **_kwargs: None  # a deprecation notice per call, nothing more
        return fasttext.load_model(model_path)


def _train_to_file(path: str, params: dict, quantize: bool, cutoff: int, model_path: str) -> None:
    import fasttext

    fasttext.FastText.eprint = lambda *_args, **_kwargs: None
    # one thread: fastText's training is only deterministic for a given seed on one thread
    model = fasttext.train_supervised(input=path, thread=1, verbose=0, **params)
    if quantize:
        # cutoff keeps the rows of the most important words and n-grams: most of the size, little accuracy
        model.quantize(input=path, retrain=False, qnorm=True, cutoff=cutoff, thread=1, verbose=0)
    model.save_model(model_path)


def evaluate(model, examples: list[tuple[str, str]], max_chars: int) -> dict[str, Scores]:
    """Per-label precision, recall and F1 of the top prediction on held-out (label, text) examples."""
    labels = sorted({label for label, _ in examples} | {x.removeprefix(LABEL_PREFIX) for x in model.labels})
    predicted = [model.predict(prepare(text, max_chars), k=1)[0][0].removeprefix(LABEL_PREFIX)
                 for _, text in examples]
    scores = {}
    for label in labels:
        tp = sum(p == label and g == label for p, (g, _) in zip(predicted, examples, strict=True))
        fp = sum(p == label and g != label for p, (g, _) in zip(predicted, examples, strict=True))
        fn = sum(p != label and g == label for p, (g, _) in zip(predicted, examples, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = Scores(round(precision, 4), round(recall, 4), round(f1, 4), tp + fn)
    return scores


class TextClassifier:
    """A saved classifier (model file + max_chars from its card), loaded lazily; never pickled loaded."""

    def __init__(self, model_file: str, max_chars: int):
        self.model_file = model_file
        self.max_chars = max_chars
        self._model = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "model_file": portable(self.model_file), "_model": None}

    def setup(self) -> None:
        if self._model is None:
            import fasttext

            fasttext.FastText.eprint = lambda *_args, **_kwargs: None
            self.model_file = local(self.model_file)  # unpickled on a worker: the package's copy there
            if not Path(self.model_file).is_file():
                raise FileNotFoundError(f"classifier model not found: {self.model_file}")
            self._model = fasttext.load_model(self.model_file)

    @property
    def labels(self) -> list[str]:
        self.setup()
        return [x.removeprefix(LABEL_PREFIX) for x in self._model.labels]

    def probability(self, text: str, label: str) -> float:
        """The model's probability that `text` has `label` (0.0 for text without words)."""
        self.setup()
        prepared = prepare(text, self.max_chars)
        if not prepared:
            return 0.0
        labels, probs = self._model.predict(prepared, k=-1)
        for name, p in zip(labels, probs, strict=True):
            if name == LABEL_PREFIX + label:
                return float(min(p, 1.0))
        return 0.0

    def probabilities(self, texts: list[str], label: str) -> list[float]:
        """`probability` for many texts in one call into fastText (its batch path is several times faster)."""
        self.setup()
        prepared = [prepare(t, self.max_chars) for t in texts]
        labels, probs = self._model.predict(prepared, k=-1)
        wanted = LABEL_PREFIX + label
        out = []
        for text, names, ps in zip(prepared, labels, probs, strict=True):
            hit = [float(p) for n, p in zip(names, ps, strict=True) if n == wanted]
            out.append(min(hit[0], 1.0) if text and hit else 0.0)
        return out


CARD = "card.json"
CARD_VERSION = 1
SHIPPED = ("math", "code", "quality")  # trained by `make models` from configs/classifiers/*.yaml


def shipped_model_dir(name: str) -> Path:
    """The folder of a classifier shipped with corpusmill (core/models/classifiers/<name>)."""
    from importlib import resources

    return Path(str(resources.files("corpusmill.core.models") / "classifiers" / name))


def load_card(model: str) -> tuple[Path, dict]:
    """(model folder, card) of a shipped model name or a model folder; ValueError saying what is missing."""
    folder = shipped_model_dir(model) if model in SHIPPED else Path(model)
    if model not in SHIPPED and not folder.is_dir():
        raise ValueError(f"model {model!r} is neither a shipped classifier ({', '.join(SHIPPED)}) nor a folder")
    card_path = folder / CARD
    if not card_path.is_file():
        raise ValueError(f"model folder {str(folder)!r} has no {CARD}; train it with `corpusmill train-classifier`")
    import json

    card = json.loads(card_path.read_text(encoding="utf-8"))
    if not (folder / card.get("model_file", "")).is_file():
        raise ValueError(f"model folder {str(folder)!r}: its card names {card.get('model_file')!r}, which is missing")
    return folder, card


def classifier_from_card(model: str) -> tuple[TextClassifier, dict]:
    """A TextClassifier (not loaded yet) and its card."""
    folder, card = load_card(model)
    return TextClassifier(str(folder / card["model_file"]), int(card["max_chars"])), card
