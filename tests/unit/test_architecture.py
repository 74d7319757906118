"""The direction of dependency (entry points -> services -> domain and stores), checked on
the source: no import cycle anywhere in app/ and loaders/ (imports behind TYPE_CHECKING
and inside functions count too), a domain that does no I/O, and a core that never reaches
up into its entry points."""

from __future__ import annotations

import functools

import grimp
import networkx as nx
import pytest

PACKAGES = ("app", "loaders")
# Modules that do I/O or reach a network, a clock-driven loop or a process: none of them
# belongs in the pure core. grimp names an outside module by its top-level package.
IO_MODULES = {
    "aiokafka", "asyncio", "http", "httpx", "neo4j", "os", "pathlib", "prometheus_client",
    "requests", "shutil", "socket", "sqlite3", "ssl", "starlette", "strawberry", "subprocess",
    "threading", "uvicorn",
}
# Of urllib only its network half is I/O (urllib.parse is pure).
IO_SUBMODULES = {"urllib": "urllib.request"}
# Who may not import whom, beyond the domain: (importer prefix, imported prefixes).
LAYERS = [
    ("app.domain", ("app.", "loaders")),  # anything of app outside app.domain, see below
    ("app.stores", ("app.services", "app.api", "app.web", "app.cli", "app.bootstrap",
                    "loaders")),
    ("app.services", ("app.api", "app.web", "app.cli", "app.bootstrap", "loaders")),
    ("app.api", ("loaders", "app.cli")),
]


@functools.cache
def graph() -> grimp.ImportGraph:
    """Every import of app/ and loaders/, wherever the import statement is (inside
    functions and behind TYPE_CHECKING too), and the outside packages they reach."""
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def ours(module: str) -> bool:
    return module.split(".")[0] in PACKAGES


def imported(module: str) -> set[str]:
    return graph().find_modules_directly_imported_by(module)


def test_no_module_takes_part_in_an_import_cycle():
    modules = graph().modules
    edges = nx.DiGraph((m, t) for m in modules if ours(m) for t in imported(m) if ours(t))
    cycles = [" -> ".join([*c, c[0]]) for c in nx.simple_cycles(edges)]
    assert cycles == []


@pytest.mark.parametrize(("importer", "forbidden"), LAYERS)
def test_the_core_never_imports_what_sits_above_it(importer, forbidden):
    wrong = sorted(
        f"{name} imports {target}"
        for name in graph().modules if name == importer or name.startswith(importer + ".")
        for target in imported(name)
        if not (importer == "app.domain" and target.startswith("app.domain"))
        and (target.startswith(forbidden) or target in forbidden))
    assert wrong == []


def _does_io(importer: str, target: str) -> bool:
    if target in IO_MODULES:
        return True
    part = IO_SUBMODULES.get(target)
    return part is not None and any(
        part in detail["line_contents"]
        for detail in graph().get_import_details(importer=importer, imported=target))


def test_the_domain_does_no_io():
    wrong = sorted(
        f"{name} imports {target}"
        for name in graph().modules if name.startswith("app.domain")
        for target in imported(name) if _does_io(name, target))
    assert wrong == []
