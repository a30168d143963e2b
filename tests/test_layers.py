"""The house's imports run one way: down the layers of docs/design.md, and never in a loop.

The layer order is written once, here. A package may import its own modules and the packages of
lower layers; packages of one layer do not import each other. Every import counts, those inside
functions included: an import deferred for start-up time still ties the two modules.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
PACKAGE = SRC / "evict"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("neutral", "_util", "_yaml", "sample_data"),
    ("model",),
    ("catalog", "notify"),
    ("matching",),
    ("inventory",),
    ("compliance",),
    ("agent", "signing", "scanning", "remediation"),
    ("settings", "report", "store"),
    ("service",),
    ("demo",),
    ("server",),
    ("cli",),
    ("__main__",),
)
"""Bottom first. One sentence per package is in docs/design.md."""

RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``evict`` module ``path`` imports, with the line, relative imports resolved."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from evict.pkg import module`` imports that module
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "evict"]


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_package_has_a_layer() -> None:
    packages = {
        p.name.removesuffix(".py")
        for p in PACKAGE.iterdir()
        if (p.is_dir() and p.name != "__pycache__") or p.suffix == ".py"
    } - {"__init__"}
    assert sorted(packages - set(RANK)) == [], "add the new package to LAYERS and docs/design.md"


def test_imports_run_down_the_layers() -> None:
    upward = []
    for path in _sources():
        here = _package(_module(path))
        for line, name in _imports(path):
            there = _package(name)
            if there == "evict" or there == here or there not in RANK:
                continue
            if RANK[there] >= RANK[here]:
                upward.append(f"{path.relative_to(SRC)}:{line} imports {name} ({here} -> {there})")
    assert upward == []


def test_no_import_cycles() -> None:
    modules = {_module(p): p for p in _sources()}
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for _, name in _imports(path):
            # the module itself, or the package whose __init__ it names
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                graph[module].add(name)
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert cycles == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph has hundreds of nodes)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[set[str]] = []
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
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
