"""The build manifest: what went in, with which config and code, what came out, and whether it finished."""

from __future__ import annotations

import json
import time
from importlib import metadata

from apache_beam.io.filesystems import FileSystems

MANIFEST = "manifest.json"
TRACKED_PACKAGES = ("corpusmill", "apache-beam", "pyarrow", "fastwarc", "warcio", "trafilatura", "resiliparse",
                    "fasttext-numpy2-wheel", "datatrove", "spacy")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def read_manifest(out: str) -> dict | None:
    path = FileSystems.join(out, MANIFEST)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode("utf-8"))


def write_manifest(out: str, manifest: dict) -> None:
    """Write manifest.json atomically (temporary name, then rename)."""
    write_json(FileSystems.join(out, MANIFEST), manifest)


def write_json(path: str, body: dict) -> None:
    """Write JSON under a temporary name, then rename: a reader sees the old file or the new one, whole."""
    tmp = f"{path}.tmp"
    with FileSystems.create(tmp) as f:
        f.write(json.dumps(body, indent=2, sort_keys=True).encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def is_complete(previous: dict | None, config_hash: str, inputs: dict) -> bool:
    """True when `previous` finished with the same config and the same input files and sizes."""
    return bool(
        previous
        and previous.get("status") == "complete"
        and previous.get("config_hash") == config_hash
        and previous.get("inputs") == inputs
    )


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
