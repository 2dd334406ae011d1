"""The import graph, read from the source with ``ast``: no module imports a layer above its own.

The layers, lowest first, are those of docs/design.md ("Layers"); a module may import its own
layer and the layers below it. Imports under ``if TYPE_CHECKING:`` are annotations only and are
allowed to point up (the engine's handler modules name ``Engine`` in their signatures that way).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "indb"

# lowest first; a layer is a subpackage, or a few top-level modules that belong together
LAYERS: list[tuple[str, ...]] = [
    ("indb.errors", "indb.result", "indb.datasets"),
    ("indb.parser",),
    ("indb.catalog",),
    ("indb.storage",),
    ("indb.registry",),
    ("indb.planner",),
    ("indb.runtime",),
    ("indb.query",),
    ("indb.udf",),
    ("indb.sharding",),
    ("indb.hosts",),    # clients of other hosts that statements read rows from (kdb+)
    ("indb.engine",),
    ("indb.stream",),   # the tickerplant: the engine's loads and queries, served over kdb+ IPC
    ("indb.connection", "indb.remote", "indb"),   # the DB-API module and its connections
    ("indb.server",),
    ("indb.cli",),
]


def layer_of(module: str) -> int:
    """The layer of a module: the longest prefix listed in LAYERS."""
    best, found = -1, None
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, found = len(name), index
    assert found is not None, f"{module} is in no layer: add it to LAYERS and docs/design.md"
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(tree: ast.Module, module: str, is_package: bool) -> list[tuple[str, int]]:
    """(imported indb module, line) for every import that runs, outside TYPE_CHECKING blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names if alias.name.startswith("indb")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] +
                                ([base] if base else []))
            if base.startswith("indb"):
                # ``from indb import udf`` imports the subpackage indb.udf
                found += [(f"{base}.{alias.name}" if base == "indb" else base, node.lineno)
                          for alias in node.names]
    return found


SOURCES = sorted(ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_no_module_imports_a_layer_above_its_own(path):
    module = module_name(path)
    if module.startswith("indb.udf.shims"):  # the Kinetica shim is a script-side alias
        return
    tree = ast.parse(path.read_text(), filename=str(path))
    own = layer_of(module)
    for imported, line in runtime_imports(tree, module, path.name == "__init__.py"):
        if imported == "indb":  # the package's own lazy surface, importable from anywhere
            continue
        assert layer_of(imported) <= own, (
            f"{path.name}:{line}: {module} (layer {own}, {LAYERS[own][0]}) imports {imported} "
            f"(layer {layer_of(imported)}, {LAYERS[layer_of(imported)][0]}), a layer above it")


def test_every_module_is_in_a_layer():
    for path in SOURCES:
        layer_of(module_name(path))


def test_the_check_finds_an_upward_import(tmp_path):
    tree = ast.parse("from indb.engine import Engine\nimport indb.cli.main\n")
    imports = [name for name, _ in runtime_imports(tree, "indb.storage.files", False)]
    assert imports == ["indb.engine", "indb.cli.main"]
    assert all(layer_of(name) > layer_of("indb.storage.files") for name in imports)


def test_the_layers_are_documented():
    design = (ROOT.parent / "docs" / "design.md").read_text()
    for names in LAYERS:
        for name in names:
            if name != "indb":
                assert f"`{name.removeprefix('indb.')}" in design, f"docs/design.md does not name {name}"
