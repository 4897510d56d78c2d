"""The layer picture in the README stays true: every import of ours points down, never in a loop.

Reads every module's imports with ``ast`` — at module level, inside functions and under
``TYPE_CHECKING``, since a lazy or type-only import is still a dependency — and fails naming the
file and line of each import that breaks a rule. The rules are the README's "Architecture"
section, as data.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package → the packages of ours it may import (itself always allowed).
LAYERS: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "db": frozenset({"core"}),
    "crawler": frozenset({"db", "core"}),
    "review": frozenset({"db", "core"}),
    "evaluator": frozenset({"db", "core"}),
    # crawler: its background crawls (never Scrapy at import: checked below).
    "curation_app": frozenset({"crawler", "review", "evaluator", "db", "core"}),
    "breedbench": frozenset({"curation_app", "crawler", "review", "evaluator", "db", "core"}),
}

# third-party library → the only packages that may import it.
ONLY_IN: dict[str, frozenset[str]] = {
    "streamlit": frozenset({"curation_app"}),
    "altair": frozenset({"curation_app"}),
    "scrapy": frozenset({"crawler"}),
    "twisted": frozenset({"crawler"}),
    "rich": frozenset({"breedbench"}),
    "typer": frozenset({"breedbench"}),
    "mlflow": frozenset({"evaluator"}),  # the optional extra, loaded only when logging
}


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    target: str  # imported module, dotted (absolute)
    file: Path  # relative to the root of the tree it was read from
    line: int
    lazy: bool  # inside a function, or for type checkers only: runs later, or never

    def where(self) -> str:
        return f"{self.file}:{self.line}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> Iterator[Path]:
    for package in LAYERS:
        yield from sorted((ROOT / package).rglob("*.py"))


def imports_of(path: Path, root: Path = ROOT) -> Iterator[Import]:
    """The imports in ``path``, a module of the source tree at ``root``."""
    module = module_name(path, root)
    file = path.relative_to(root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    def visit(node: ast.AST, lazy: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            inner = lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            inner = inner or (
                isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test)
            )
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(module, alias.name, file, child.lineno, lazy)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module if is_package else module.rpartition(".")[0]
                    for _ in range(child.level - 1):
                        package = package.rpartition(".")[0]
                    base = f"{package}.{base}".strip(".")
                yield Import(module, base, file, child.lineno, lazy)
                # ``from pkg import mod`` imports the submodule ``pkg.mod`` when it is one.
                for alias in child.names:
                    sub = root.joinpath(*f"{base}.{alias.name}".split("."))
                    if sub.with_suffix(".py").exists() or (sub / "__init__.py").exists():
                        yield Import(module, f"{base}.{alias.name}", file, child.lineno, lazy)
            yield from visit(child, inner)

    yield from visit(tree, False)


ALL_IMPORTS = [imp for path in source_files() for imp in imports_of(path)]
OURS = {module_name(p) for p in source_files()}


def top(name: str) -> str:
    return name.partition(".")[0]


def test_every_package_imports_only_the_layers_below_it() -> None:
    broken = [
        f"{imp.where()}: {top(imp.module)} may not import {imp.target} "
        f"(allowed: {', '.join(sorted(LAYERS[top(imp.module)])) or 'nothing of ours'})"
        for imp in ALL_IMPORTS
        if top(imp.target) in LAYERS
        and top(imp.target) != top(imp.module)
        and top(imp.target) not in LAYERS[top(imp.module)]
    ]
    assert not broken, "imports against the layers:\n" + "\n".join(broken)


def test_libraries_stay_in_their_package() -> None:
    broken = [
        f"{imp.where()}: {imp.target} is imported only in {', '.join(sorted(ONLY_IN[lib]))}"
        for imp in ALL_IMPORTS
        if (lib := top(imp.target)) in ONLY_IN and top(imp.module) not in ONLY_IN[lib]
    ]
    assert not broken, "\n".join(broken)


def test_scrapy_is_imported_only_by_crawl_modules_the_cli_loads_lazily() -> None:
    """Only a crawl may load Scrapy: a crawler module that imports it at the top is reached
    from outside the crawler only through an import inside a function."""
    scrapy_modules = {
        imp.module for imp in ALL_IMPORTS if top(imp.target) == "scrapy" and not imp.lazy
    }
    changed = True
    while changed:  # modules that import a Scrapy module at their top load Scrapy too
        more = {
            imp.module
            for imp in ALL_IMPORTS
            if not imp.lazy and imp.target in scrapy_modules and imp.module not in scrapy_modules
        }
        scrapy_modules |= more
        changed = bool(more)
    broken = [
        f"{imp.where()}: {imp.module} imports {imp.target} at the top, which loads Scrapy"
        for imp in ALL_IMPORTS
        if not imp.lazy and imp.target in scrapy_modules and top(imp.module) != "crawler"
    ]
    assert not broken, "\n".join(broken)


def _graph() -> dict[str, dict[str, Import]]:
    graph: dict[str, dict[str, Import]] = {m: {} for m in OURS}
    for imp in ALL_IMPORTS:
        if imp.target in OURS and imp.target != imp.module:
            graph[imp.module].setdefault(imp.target, imp)
    return graph


def find_loops(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    loops: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return loops


def test_no_import_loops() -> None:
    graph = _graph()
    messages = []
    for loop in find_loops(graph):
        members = set(loop)
        edges = [
            f"  {imp.where()}: {a} -> {b}"
            for a in loop
            for b, imp in graph[a].items()
            if b in members
        ]
        messages.append(f"loop among {', '.join(loop)}:\n" + "\n".join(edges))
    assert not messages, "\n".join(messages)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_loop_finder_finds_loops(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    """The loop test itself can fail: it sees two- and three-module loops."""
    dummy = Import("x", "y", Path("x.py"), 1, False)
    graph = {a: dict.fromkeys(bs, dummy) for a, bs in edges.items()}
    assert find_loops(graph) == expected


def test_import_reader_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """An import inside a function counts, and a relative import resolves to its module (and to
    the submodule it names, when that is one). The probe lives in a tree of its own: the source
    tree is never written to."""
    package = tmp_path / "evaluator"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "sibling.py").write_text("", encoding="utf-8")
    code = "from . import sibling\n\ndef f():\n    from core.errors import BreedbenchError\n"
    (package / "probe.py").write_text(code, encoding="utf-8")
    found = {(i.module, i.target, i.lazy) for i in imports_of(package / "probe.py", tmp_path)}
    assert found == {
        ("evaluator.probe", "evaluator", False),
        ("evaluator.probe", "evaluator.sibling", False),
        ("evaluator.probe", "core.errors", True),
    }
    assert {i.where() for i in imports_of(package / "probe.py", tmp_path)} == {
        "evaluator/probe.py:1",
        "evaluator/probe.py:4",
    }
