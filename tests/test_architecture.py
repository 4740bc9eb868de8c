"""The package's architecture, checked: layers in folders, imports flowing one way.

The contracts are declared in ``pyproject.toml`` (``[tool.importlinter]``) and checked here with
import-linter, which sees every import, including those inside functions; on top of that, no
import cycle between modules and no private name imported from another module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "bayesnet"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (imports for type hints only)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", getattr(child.test, "attr", None)) == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _imports() -> list[tuple[str, str, list[str], int]]:
    """(importer, imported module, names, line) for every run-time import of bayesnet in the package."""
    out = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bayesnet"):
                out.append((_module_name(path), node.module, [a.name for a in node.names], node.lineno))
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("bayesnet"):
                        out.append((_module_name(path), a.name, [], node.lineno))
    return out


def test_import_linter_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    res = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " 0 broken" in res.stdout.split("Contracts:")[-1]


def test_no_import_cycles_between_modules():
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    for importer, imported, names, _ in _imports():
        targets = [f"{imported}.{n}" for n in names if f"{imported}.{n}" in modules] or [imported]
        for target in targets:
            # a package's __init__ re-exporting its modules is not a dependency of those modules
            if target in modules and target != importer and not importer.startswith(target + "."):
                if importer == "bayesnet" or importer.count(".") == 1 and (PACKAGE / "/".join(importer.split(".")[1:]) / "__init__.py").exists():
                    continue
                graph.add_edge(importer, target)
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], f"import cycles: {cycles[:5]}"


def test_no_private_names_across_modules():
    offenders = [
        f"{importer} imports {name} from {imported} (line {line})"
        for importer, imported, names, line in _imports()
        for name in names
        if name.startswith("_") and not name.startswith("__") and imported != importer
    ]
    assert offenders == []


@pytest.mark.parametrize("folder", ["data", "building", "inference", "reasoning", "io", "present"])
def test_layers_are_folders(folder):
    assert (PACKAGE / folder / "__init__.py").is_file()


def test_benchmark_harness_is_not_installed():
    assert not (PACKAGE / "bench.py").exists()
    assert (ROOT / "benchmarks" / "harness.py").is_file()
