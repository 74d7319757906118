"""The direction of dependency (entry points -> services -> domain and stores), checked on
the source: no import cycle anywhere in app/ and loaders/ (imports behind TYPE_CHECKING
and inside functions count too), a domain that does no I/O, and a core that never reaches
up into its entry points."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "loaders")
# Modules that do I/O or reach a network, a clock-driven loop or a process: none of them
# belongs in the pure core.
IO_MODULES = {
    "aiokafka", "asyncio", "http", "httpx", "neo4j", "os", "pathlib", "prometheus_client",
    "requests", "shutil", "socket", "sqlite3", "ssl", "starlette", "strawberry", "subprocess",
    "threading", "urllib.request", "uvicorn",
}
# Who may not import whom, beyond the domain: (importer prefix, imported prefixes).
LAYERS = [
    ("app.domain", ("app.", "loaders")),  # anything of app outside app.domain, see below
    ("app.stores", ("app.services", "app.api", "app.web", "app.cli", "app.bootstrap",
                    "loaders")),
    ("app.services", ("app.api", "app.web", "app.cli", "app.bootstrap", "loaders")),
    ("app.api", ("loaders", "app.cli")),
]


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(name: str, path: Path) -> Iterator[str]:
    """Every module name the file imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> nx.DiGraph:
    known = modules()

    def owner(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    graph = nx.DiGraph()
    for name, path in known.items():
        graph.add_node(name)
        for target in imported(name, path):
            if (module := owner(target)) and module != name:
                graph.add_edge(name, module)
    return graph


def test_no_module_takes_part_in_an_import_cycle():
    cycles = [" -> ".join([*c, c[0]]) for c in nx.simple_cycles(import_graph())]
    assert cycles == []


@pytest.mark.parametrize(("importer", "forbidden"), LAYERS)
def test_the_core_never_imports_what_sits_above_it(importer, forbidden):
    wrong = []
    for name, path in modules().items():
        if name == importer or name.startswith(importer + "."):
            for target in set(imported(name, path)):
                if importer == "app.domain" and target.startswith("app.domain"):
                    continue
                if target.startswith(forbidden) or target in forbidden:
                    wrong.append(f"{name} imports {target}")
    assert sorted(set(wrong)) == []


def test_the_domain_does_no_io():
    wrong = sorted({
        f"{name} imports {target}"
        for name, path in modules().items() if name.startswith("app.domain")
        for target in imported(name, path)
        if target in IO_MODULES or target.split(".")[0] in IO_MODULES
    })
    assert wrong == []
