"""Earlier builds a dedup compares against: their index shards, after checking that they completed
and used the same MinHash settings (otherwise band hashes and signatures are not comparable)."""

from __future__ import annotations

import json

from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.errors import UsageError
from corpusmill.schemas.config import DedupSettings

# MinHash settings that must match for band hashes and signatures of two builds to be comparable.
INDEX_COMPATIBILITY = ("shingle", "ngram", "lowercase", "num_perm", "bands", "rows", "seed")


def earlier_index_files(settings: DedupSettings) -> list[str]:
    """Index shards of every earlier build in `earlier_indexes`, after checking their MinHash settings match."""
    files: list[str] = []
    ours = settings.minhash.model_dump()
    for build in settings.earlier_indexes:
        manifest_path = FileSystems.join(build, "manifest.json")
        if not FileSystems.exists(manifest_path):
            raise UsageError(f"field 'dedup.earlier_indexes': {build!r} is not a corpusmill build (no manifest.json)")
        with FileSystems.open(manifest_path) as f:
            manifest = json.loads(f.read().decode("utf-8"))
        if manifest.get("status") != "complete":
            raise UsageError(f"field 'dedup.earlier_indexes': build {build!r} did not complete")
        theirs = ((manifest.get("config") or {}).get("dedup") or {}).get("minhash") or {}
        for key in INDEX_COMPATIBILITY:
            if theirs.get(key) != ours[key]:
                raise UsageError(f"field 'dedup.earlier_indexes': build {build!r} used minhash.{key}="
                                  f"{theirs.get(key)!r}, this config has {ours[key]!r}; they must match")
        matches = FileSystems.match([FileSystems.join(build, "index", "part-*.parquet")])[0].metadata_list
        if not matches:
            raise UsageError(f"field 'dedup.earlier_indexes': build {build!r} wrote no index")
        files += sorted(m.path for m in matches)
    return files
