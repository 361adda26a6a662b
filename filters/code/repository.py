"""Repository-level samples as DeepSeek-Coder built them (Guo et al. 2024, sec. 2.1): the files of
one repository concatenated in dependency order, files that others import first, each headed by
its path as a comment.

Dependencies come from import statements resolved to files of the same repository (Python
`import` / `from`, JavaScript and TypeScript `import` / `require` of relative paths, C and C++
`#include "..."`, Java and Kotlin `import`, Go imports of the repository's own packages, Rust
`mod`). The order is a topological sort; where a cycle leaves no file without unplaced
dependencies, the file with the fewest of them goes next (ties by path), as DeepSeek-Coder
breaks cycles. Every choice depends on paths and texts only, so the order is deterministic.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from corpusmill.filters.code.languages import path_comment

_PY_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+([\w*, ()]+)|import\s+([\w., ]+))", re.MULTILINE)
_JS_IMPORT = re.compile(
    r"""(?:import\s[^'"]*?from\s*|import\s*|require\s*\(\s*|export\s[^'"]*?from\s*)['"](\.{1,2}/[^'"]+)['"]""")
_C_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)
_JAVA_IMPORT = re.compile(r"^\s*import\s+(?:static\s+)?([\w.]+)\s*;?", re.MULTILINE)
_GO_IMPORT = re.compile(r'"([\w./-]+)"')
_RUST_MOD = re.compile(r"^\s*(?:pub\s+)?mod\s+(\w+)\s*;", re.MULTILINE)


def dependencies(path: str, text: str, language: str | None, paths: set[str]) -> set[str]:
    """The files of `paths` that `path` imports. A candidate `*/tail` (Java packages, Go packages) matches
    any path ending in the tail, since source roots (src/main/java/...) vary."""
    found: set[str] = set()
    for candidate in _candidates(path, text, language):
        if candidate.startswith("*/"):
            found.update(_matching_tail(candidate[2:], paths))
        elif (normal := posixpath.normpath(candidate)) in paths:
            found.add(normal)
    found.discard(path)
    return found


def _matching_tail(tail: str, paths: set[str]) -> set[str]:
    if tail.endswith("/*.go"):
        folder = tail[: -len("/*.go")]
        return {p for p in paths if p.endswith(".go") and (posixpath.dirname(p) + "/").endswith("/" + folder + "/")}
    return {p for p in paths if p == tail or p.endswith("/" + tail)}


def _candidates(path: str, text: str, language: str | None) -> Iterable[str]:
    folder = posixpath.dirname(path)
    if language == "python":
        for relative, names, plain in _PY_IMPORT.findall(text):
            for module in ([relative] if relative else [m.strip().split(" as ")[0] for m in plain.split(",")]):
                yield from _python_module(module, folder)
                if relative:  # `from . import a, b` names modules too
                    for name in re.findall(r"\w+", names):
                        yield from _python_module(f"{module.rstrip('.')}.{name}" if module.strip(".") else
                                                  f"{module}{name}", folder)
    elif language in ("javascript", "typescript", "vue"):
        for ref in _JS_IMPORT.findall(text):
            base = posixpath.join(folder, ref)
            yield base
            for ext in (".js", ".mjs", ".cjs", ".jsx", ".ts", ".tsx", ".vue"):
                yield base + ext
                yield posixpath.join(base, "index" + ext)
    elif language in ("c", "cpp", "objective-c"):
        for ref in _C_INCLUDE.findall(text):
            yield posixpath.join(folder, ref)
            yield ref
    elif language in ("java", "kotlin", "scala"):
        for ref in _JAVA_IMPORT.findall(text):
            parts = ref.split(".")
            for ext in (".java", ".kt", ".scala"):
                # a file may sit under any source root (src/main/java/...): match on the path's tail
                yield "*/" + "/".join(parts) + ext
    elif language == "go":
        block = text.split("import", 1)[1].split(")", 1)[0] if "import" in text else ""
        for ref in _GO_IMPORT.findall(block):
            yield "*/" + ref.rsplit("/", 1)[-1] + "/*.go"
    elif language == "rust":
        for name in _RUST_MOD.findall(text):
            yield posixpath.join(folder, f"{name}.rs")
            yield posixpath.join(folder, name, "mod.rs")


def _python_module(module: str, folder: str) -> Iterable[str]:
    dots = len(module) - len(module.lstrip("."))
    rest = module.lstrip(".").replace(".", "/")
    bases = [folder] if dots else [""]
    if dots:
        for _ in range(dots - 1):
            bases = [posixpath.dirname(bases[0])]
    else:
        # absolute imports resolve from the repository root or any folder on the way to the file
        parts = folder.split("/") if folder else []
        bases = ["/".join(parts[:i]) for i in range(len(parts) + 1)]
        # ... or from a source root the import does not name (`import mypkg.core` of src/core.py when the
        # package is installed under another name): any path ending in the module's trailing parts
        names = rest.split("/")
        for k in range(1, len(names)):
            yield "*/" + "/".join(names[k:]) + ".py"
    for base in bases:
        stem = posixpath.join(base, rest) if rest else base
        yield stem + ".py"
        yield posixpath.join(stem, "__init__.py")


def dependency_order(files: dict[str, tuple[str | None, str]]) -> list[str]:
    """The paths of {path: (language, text)}, every file after the files it imports. Files that import
    each other (a cycle) come together, the one with the fewest unplaced imports first (ties by path),
    and a file outside a cycle never comes before the cycle it imports."""
    paths = set(files)
    needs = {path: dependencies(path, text, language, paths) for path, (language, text) in files.items()}
    order: list[str] = []
    for component in _components(needs):
        placed: set[str] = set()
        while len(placed) < len(component):
            waiting = [p for p in component if p not in placed]
            nxt = min(waiting, key=lambda p: (len((needs[p] & component) - placed), p))
            order.append(nxt)
            placed.add(nxt)
    return order


def _components(needs: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of the import graph, every component after those it imports
    (Tarjan's algorithm, iterative so a deep import chain cannot exhaust the stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    for root in sorted(needs):
        if root in index:
            continue
        work = [(root, iter(sorted(needs[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(needs[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                out.append(component)
    return out


def repository_text(files: dict[str, tuple[str | None, str]]) -> str:
    """The repository as one document: each file in dependency order, headed by its path as a comment."""
    return "\n\n".join(f"{path_comment(p, files[p][0])}\n{files[p][1].rstrip()}" for p in dependency_order(files))
