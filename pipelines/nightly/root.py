"""The layout of a build root, through Beam FileSystems (local, gs://, s3://):

    ROOT/build.lock                 held while a build runs (lock.py)
    ROOT/builds/<build-id>/         one build: manifest.json, curate/, mix/, report.json, report.html
    ROOT/latest.json                the newest complete build: {"build_id", "path", "finished"}
    ROOT/latest -> builds/<id>      the same as a symbolic link, on local disks

A build id is the UTC time it started (`20261202T210500Z`), so ids sort in the order builds ran.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from apache_beam.io.filesystems import FileSystems

from corpusmill.pipelines.io import manifest as manifests
from corpusmill.pipelines.io.manifest import write_json

BUILDS = "builds"
LATEST = "latest"
LATEST_JSON = "latest.json"
COMPLETE = "complete"


def is_local(path: str) -> bool:
    return "://" not in path


@dataclass(frozen=True)
class Build:
    """One build folder and its manifest."""

    id: str
    path: str
    manifest: dict

    @property
    def complete(self) -> bool:
        return self.manifest.get("status") == COMPLETE

    @property
    def inputs(self) -> dict[str, dict]:
        return self.manifest.get("inputs", {})

    def stage_dir(self, stage: str) -> str:
        return FileSystems.join(self.path, stage)


class BuildRoot:
    """The builds under one output root, read once when constructed."""

    def __init__(self, root: str):
        self.root = root.rstrip("/") if len(root) > 1 else root
        self.builds = self._read_builds()

    def _read_builds(self) -> list[Build]:
        pattern = FileSystems.join(self.root, BUILDS, "*", manifests.MANIFEST)
        found = []
        for meta in FileSystems.match([pattern])[0].metadata_list:
            folder = meta.path[: -len(manifests.MANIFEST) - 1]
            with FileSystems.open(meta.path) as f:
                manifest = json.loads(f.read().decode("utf-8"))
            if manifest.get("kind") == "build":
                found.append(Build(folder.rsplit("/", 1)[-1], folder, manifest))
        return sorted(found, key=lambda b: b.id)

    def complete(self) -> list[Build]:
        return [b for b in self.builds if b.complete]

    def unfinished(self) -> Build | None:
        """The newest build that never completed (killed, failed, or waiting for a retry), if any."""
        pending = [b for b in self.builds if not b.complete]
        return pending[-1] if pending else None

    def processed_inputs(self) -> set[str]:
        """Every input file a complete build read."""
        return {path for b in self.complete() for path in b.inputs}

    def build(self, build_id: str) -> Build:
        return next(b for b in self.builds if b.id == build_id)

    def new_build_id(self) -> str:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        taken = {b.id for b in self.builds}
        build_id, n = stamp, 1
        while build_id in taken:  # two builds in one second (tests, or a retry loop)
            n += 1
            build_id = f"{stamp}-{n}"
        return build_id

    def create(self, manifest: dict) -> Build:
        """A new build folder holding `manifest` (status "running")."""
        build_id = self.new_build_id()
        path = FileSystems.join(self.root, BUILDS, build_id)
        if not FileSystems.exists(path):
            FileSystems.mkdirs(path)
        body = {**manifest, "kind": "build", "build_id": build_id, "status": "running"}
        write_json(FileSystems.join(path, manifests.MANIFEST), body)
        build = Build(build_id, path, body)
        self.builds.append(build)
        return build

    def update(self, build: Build, **fields) -> Build:
        """Rewrite the build's manifest with `fields` changed."""
        updated = Build(build.id, build.path, {**build.manifest, **fields})
        write_json(FileSystems.join(build.path, manifests.MANIFEST), updated.manifest)
        self.builds = [updated if b.id == build.id else b for b in self.builds]
        return updated

    def latest_id(self) -> str | None:
        path = FileSystems.join(self.root, LATEST_JSON)
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path) as f:
            return json.loads(f.read().decode("utf-8")).get("build_id")

    def point_latest(self) -> str | None:
        """Point `latest` at the newest complete build, if it does not already. Run after every build and
        at every start, so a build killed between completing and switching is still published."""
        complete = self.complete()
        if not complete:
            return None
        newest = complete[-1]
        if self.latest_id() != newest.id or (is_local(self.root) and not self._link_points_at(newest)):
            write_json(FileSystems.join(self.root, LATEST_JSON),
                       {"build_id": newest.id, "path": newest.path, "finished": newest.manifest.get("finished")})
            if is_local(self.root):
                self._switch_link(newest)
        return newest.id

    def _link_points_at(self, build: Build) -> bool:
        link = os.path.join(self.root, LATEST)
        return os.path.islink(link) and os.readlink(link) == os.path.join(BUILDS, build.id)

    def _switch_link(self, build: Build) -> None:
        # A new link under a temporary name renamed over the old one: rename(2) replaces it atomically.
        link, tmp = os.path.join(self.root, LATEST), os.path.join(self.root, f".{LATEST}.{os.getpid()}")
        if os.path.lexists(tmp):
            os.remove(tmp)
        os.symlink(os.path.join(BUILDS, build.id), tmp)
        os.replace(tmp, link)
