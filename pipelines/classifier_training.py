"""`corpusmill train-classifier`: a fastText classifier from labelled files, saved as a model folder
with its card (training data hashes, parameters, held-out precision / recall / F1, fastText version).
Training runs in one process: fastText trains on one file, and its training is deterministic
for a seed only on one thread."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from importlib import metadata

from apache_beam.io.filesystems import FileSystems

from corpusmill.core.text_classifier import CARD, CARD_VERSION, evaluate, heldout, train
from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io.labelled_examples import read_examples
from corpusmill.schemas.config import ClassifierConfig, TrainingConfig


def train_classifier(config: ClassifierConfig, out: str) -> dict:
    """Train, score on the held-out split, write `out`/model file and card; returns the card."""
    _check_output(out)
    examples, sources = [], []
    for spec in config.examples:
        found, files = read_examples(spec)
        examples += found
        sources += files
    return train_and_save(examples, sources, config, config.config_hash(), out)


def train_and_save(examples: list[tuple[str, str]], sources: list[dict], config: TrainingConfig, config_hash: str,
                   out: str) -> dict:
    """Train on (label, text) examples, score the held-out split, save model and card under `out`."""
    labels = sorted({label for label, _ in examples})
    if len(labels) < 2:
        raise UsageError(f"field 'examples': the files hold examples of one class only ({labels[0]!r}); "
                         "a classifier needs at least two")
    test = [e for e in examples if heldout(e[1], config.heldout_fraction, config.split_seed)]
    fit = [e for e in examples if not heldout(e[1], config.heldout_fraction, config.split_seed)]
    try:
        model = train(fit, config.fasttext.model_dump(), config.max_chars, config.quantize, config.cutoff)
    except RuntimeError as err:  # fastText's only error of its own: "Encountered NaN." (training diverged)
        raise UsageError(f"field 'fasttext': training failed ({err}); a lower 'lr' usually helps "
                         f"(it is {config.fasttext.lr})") from err
    scores = evaluate(model, test, config.max_chars) if test else {}
    model_file = "model.ftz" if config.quantize else "model.bin"
    card = {
        "card_version": CARD_VERSION,
        "model_file": model_file,
        "labels": labels,
        "max_chars": config.max_chars,
        "quantized": config.quantize,
        "cutoff": config.cutoff if config.quantize else 0,
        "fasttext": config.fasttext.model_dump(),
        "fasttext_version": _fasttext_version(),
        "config_hash": config_hash,
        "training_data": sources,
        "examples": {"train": len(fit), "heldout": len(test),
                     "per_label": {lb: sum(1 for x, _ in examples if x == lb) for lb in labels}},
        "heldout_scores": {lb: vars(s) for lb, s in scores.items()},
    }
    _save(model, out, model_file, card)
    return card


def _check_output(out: str) -> None:
    if os.path.isdir(out) and os.listdir(out) and not os.path.isfile(os.path.join(out, CARD)):
        raise UsageError(f"output folder {out!r} is not empty and holds no classifier; choose an empty or new folder")


def _fasttext_version() -> str:
    for name in ("fasttext-numpy2-wheel", "fasttext", "fasttext-wheel"):
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def _save(model, out: str, model_file: str, card: dict) -> None:
    """fastText saves to a local path only: save there, then copy through Beam FileSystems."""
    with tempfile.TemporaryDirectory(prefix="corpusmill-model-") as tmp:
        local = os.path.join(tmp, model_file)
        model.save_model(local)
        with open(local, "rb") as src, FileSystems.create(FileSystems.join(out, model_file)) as dst:
            dst.write(src.read())
    with FileSystems.create(FileSystems.join(out, CARD)) as f:
        f.write((json.dumps(card, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def print_card(card: dict, out: str) -> None:
    w = sys.stdout.write
    w(f"corpusmill train-classifier: {card['examples']['train']} training and {card['examples']['heldout']} "
      f"held-out examples of {', '.join(f'{k} ({v})' for k, v in card['examples']['per_label'].items())}\n")
    for label, s in card["heldout_scores"].items():
        w(f"  held out, {label:<12} precision {s['precision']:.3f}  recall {s['recall']:.3f}  f1 {s['f1']:.3f}"
          f"  ({s['support']} examples)\n")
    w(f"model: {FileSystems.join(out, card['model_file'])}\ncard:  {FileSystems.join(out, CARD)}\n")
