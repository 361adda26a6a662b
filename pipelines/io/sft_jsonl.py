"""The accepted samples of a synth or verify build also as JSONL (messages plus provenance), for
trainers that read JSONL."""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems


def write_sft_jsonl(out: str) -> None:
    """Write OUT/sft.jsonl from the SFT table in OUT/documents/."""
    import pyarrow.dataset as ds

    table = ds.dataset(FileSystems.join(out, "documents"), format="parquet").to_table()
    with FileSystems.create(FileSystems.join(out, "sft.jsonl")) as f:
        for row in table.to_pylist():
            f.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
