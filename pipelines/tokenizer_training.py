"""`corpusmill train-tokenizer`: a byte-level BPE tokenizer from text files, saved as tokenizer.json
(the file Hugging Face `tokenizers` and `transformers` load) with a card: the training files and
their sha256, the settings, the vocabulary size reached and the tokenizer's own sha256."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from importlib import metadata

from apache_beam.io.filesystems import FileSystems

from corpusmill.core.bpe import file_hash, train_bpe
from corpusmill.pipelines.errors import UsageError
from corpusmill.pipelines.io.labelled_examples import read_examples
from corpusmill.schemas.config import TokenizerTrainingConfig

TOKENIZER = "tokenizer.json"
CARD = "card.json"


def train_tokenizer(config: TokenizerTrainingConfig, out: str) -> dict:
    """Train and save; returns the card."""
    if os.path.isdir(out) and os.listdir(out) and not os.path.isfile(os.path.join(out, CARD)):
        raise UsageError(f"output folder {out!r} is not empty and holds no tokenizer; choose an empty or new folder")
    texts, sources = [], []
    for spec in config.texts:
        found, files = read_examples(spec)
        texts += [text for _, text in found]
        sources += files
    tokenizer = train_bpe(texts, config.vocab_size, config.min_frequency, config.special_tokens)
    with tempfile.TemporaryDirectory(prefix="corpusmill-tokenizer-") as tmp:
        local = os.path.join(tmp, TOKENIZER)
        tokenizer.save(local)
        digest = file_hash(local)
        with open(local, "rb") as src, FileSystems.create(FileSystems.join(out, TOKENIZER)) as dst:
            dst.write(src.read())
    card = {"kind": "byte-level BPE", "vocab_size": tokenizer.get_vocab_size(), "vocab_size_asked": config.vocab_size,
            "min_frequency": config.min_frequency, "special_tokens": config.special_tokens, "training_data": sources,
            "texts": len(texts), "tokenizer_sha256": digest, "tokenizers_version": metadata.version("tokenizers"),
            "config_hash": config.config_hash()}
    with FileSystems.create(FileSystems.join(out, CARD)) as f:
        f.write((json.dumps(card, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return card


def print_card(card: dict, out: str) -> None:
    sys.stdout.write(f"corpusmill train-tokenizer: {card['kind']}, {card['vocab_size']} tokens (asked "
                     f"{card['vocab_size_asked']}) from {card['texts']} texts\n"
                     f"tokenizer: {FileSystems.join(out, TOKENIZER)}\ncard:      {FileSystems.join(out, CARD)}\n")
