"""Token shards in Megatron-LM's indexed dataset format (`.bin` + `.idx`), which Megatron-LM, NeMo,
Megatron-DeepSpeed and GPT-NeoX read as they are (a `--data-path` prefix per shard, blended by weight).

Written here rather than with megatron-core's `IndexedDatasetBuilder` because that imports torch,
which the pipeline's workers have no other use for. The layout, little-endian throughout:

  .bin  the token ids of every sequence, one after another, as `dtype`
  .idx  b"MMIDIDX\\x00\\x00", version <Q 1, dtype code <B, sequence count <Q, document count <Q,
        sequence lengths int32[sequences], byte offsets int64[sequences],
        document indices int64[documents] (0, then the sequence index after each document's last)

One document is one sequence here, so the document indices are 0, 1, ..., n.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.io.shards import atomically

INDEX_HEADER = b"MMIDIDX\x00\x00"
VERSION = 1
_DTYPE_CODES = {np.dtype(np.int32): 4, np.dtype(np.uint16): 8}


def token_dtype(vocab_size: int) -> np.dtype:
    """Megatron's choice: uint16 when every id fits (vocabulary below 65,500), else int32."""
    return np.dtype(np.uint16 if vocab_size < 65_500 else np.int32)


def index_bytes(lengths: Sequence[int], dtype: np.dtype) -> bytes:
    lengths = np.asarray(lengths, dtype=np.int32)
    pointers = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths):
        pointers[1:] = np.cumsum(lengths[:-1].astype(np.int64)) * dtype.itemsize
    documents = np.arange(len(lengths) + 1, dtype=np.int64)
    return b"".join([INDEX_HEADER, struct.pack("<Q", VERSION), struct.pack("<B", _DTYPE_CODES[dtype]),
                     struct.pack("<Q", len(lengths)), struct.pack("<Q", len(documents)),
                     lengths.tobytes(), pointers.tobytes(), documents.tobytes()])


def write_shard(prefix: str, sequences: Sequence[bytes], dtype: np.dtype) -> None:
    """Write `prefix`.bin and `prefix`.idx; each sequence is its token ids' bytes as `dtype`."""
    lengths = [len(s) // dtype.itemsize for s in sequences]

    def write_bin(out) -> None:
        for s in sequences:
            out.write(s)

    atomically(f"{prefix}.bin", write_bin)
    atomically(f"{prefix}.idx", lambda out: out.write(index_bytes(lengths, dtype)))


def shard_files(prefix: str) -> list[str]:
    return [f"{prefix}.bin", f"{prefix}.idx"]


def exists(prefix: str) -> bool:
    return all(FileSystems.exists(p) for p in shard_files(prefix))
