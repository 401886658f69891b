"""The import graph between Kiln's top-level apps.

Counts every import statement in an app's source (outside tests and migrations), at module
level and inside functions, that names another app. Prints the app pairs that import each
other and the strongly connected components (the import cycles).

    .venv/bin/python bench/import_graph.py [--edges]
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {"tests", "bench", "config", "migrations", "templates", "static", "docs", "var"}


def apps() -> list[str]:
    return sorted(
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and (path / "apps.py").exists() and path.name not in SKIP_DIRS
    )


def _imported_modules(tree: ast.AST, module: str) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.append(base)
    return names


def edges(app_names: list[str]) -> dict[str, dict[str, list[str]]]:
    """{importer: {imported: [file, ...]}} between distinct apps."""
    known = set(app_names)
    graph: dict[str, dict[str, list[str]]] = {app: defaultdict(list) for app in app_names}
    for app in app_names:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(ROOT)
            module = ".".join(relative.with_suffix("").parts)
            tree = ast.parse(path.read_text(), filename=str(path))
            for name in _imported_modules(tree, module):
                target = name.split(".")[0]
                if target in known and target != app and str(relative) not in graph[app][target]:
                    graph[app][target].append(str(relative))
    return graph


def strongly_connected(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Tarjan's algorithm; components of more than one app are cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            visit(node)
    return [component for component in components if len(component) > 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", action="store_true", help="also list every app-to-app edge with its files")
    args = parser.parse_args()

    app_names = apps()
    graph = edges(app_names)
    pairs = sorted(
        (a, b) for a in app_names for b in graph[a] if a < b and a in graph[b]
    )
    cycles = strongly_connected(graph)

    print(f"apps: {len(app_names)} ({', '.join(app_names)})")
    print(f"edges: {sum(len(targets) for targets in graph.values())}")
    print(f"mutual pairs: {len(pairs)}")
    for a, b in pairs:
        print(f"  {a} <-> {b}")
    print(f"cycles (strongly connected components of more than one app): {len(cycles)}")
    for component in cycles:
        print(f"  {len(component)} apps: {', '.join(component)}")
    if args.edges:
        for app in app_names:
            for target, files in sorted(graph[app].items()):
                print(f"{app} -> {target}: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
