"""Short names for files that stay unique among the files of a run."""

from __future__ import annotations

import os


def unique_names(paths: list[str]) -> dict[str, str]:
    """A name per file: its name without extensions, with as many parent folders as it takes to tell it
    apart from the others (gsm8k/test and math/test, but mbpp)."""
    parts = {p: [*p.replace("\\", "/").rstrip("/").split("/")[:-1], os.path.basename(p).split(".")[0]]
             for p in paths}

    def name(path: str, depth: int) -> str:
        return "/".join(x for x in parts[path][-depth:] if x)

    names = {}
    for path in paths:
        depth = 1
        while depth < len(parts[path]) and any(name(q, depth) == name(path, depth) for q in paths if q != path):
            depth += 1
        names[path] = name(path, depth)
    return names
