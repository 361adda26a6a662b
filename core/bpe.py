"""Byte-level BPE tokenizers (DeepSeek LLM's kind) with the `tokenizers` library: training, and a
loaded tokenizer that counts and encodes documents in batches."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np

from corpusmill.core.package_files import local, portable

END_OF_TEXT = "<|end_of_text|>"


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int, special_tokens: list[str]):
    """A byte-level BPE tokenizer trained on `texts` (every byte is in the alphabet: no unknown tokens)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special_tokens,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def default_tokenizer_path() -> Path:
    """The shipped 16K byte-level BPE (core/models/tokenizer, trained on the sample data by `make models`)."""
    return Path(str(resources.files("corpusmill.core.models") / "tokenizer" / "tokenizer.json"))


def file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Encoder:
    """A tokenizer.json, loaded lazily (never pickled loaded), encoding batches of documents."""

    def __init__(self, path: str, end_of_document: str | None):
        self.path = path
        self.end_of_document = end_of_document
        self._tokenizer = None
        self._eod: list[int] = []

    def __getstate__(self) -> dict:
        return {**self.__dict__, "path": portable(self.path), "_tokenizer": None, "_eod": []}

    def setup(self) -> None:
        if self._tokenizer is not None:
            return
        from tokenizers import Tokenizer

        self.path = local(self.path)  # unpickled on a worker: the package's copy there
        if not Path(self.path).is_file():  # the tokenizers library's own error names no file
            raise FileNotFoundError(f"tokenizer not found: {self.path}")
        self._tokenizer = Tokenizer.from_file(self.path)
        if self.end_of_document is not None:
            token = self._tokenizer.token_to_id(self.end_of_document)
            if token is None:
                raise ValueError(f"tokenizer {self.path} has no token {self.end_of_document!r}")
            self._eod = [token]

    @property
    def vocab_size(self) -> int:
        self.setup()
        return self._tokenizer.get_vocab_size()

    def encode(self, texts: list[str], dtype: np.dtype | type = np.int64) -> list[np.ndarray]:
        """Token ids of each text, ending with the end-of-document token when there is one."""
        self.setup()
        encodings = self._tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        if not self._eod:
            return [np.array(e.ids, dtype=dtype) for e in encodings]
        out = []
        for e in encodings:
            ids = e.ids
            ids.append(self._eod[0])
            out.append(np.array(ids, dtype=dtype))
        return out
