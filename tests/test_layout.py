"""The layout's rule (docs/layout.md): layers import downwards only, and no module-level cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("model", "specs", "explore", "audit", "conform", "cli")

# package -> the packages its modules may import (itself included)
MAY_IMPORT = {
    "model": {"model"},
    "specs": {"model", "specs"},
    "explore.search": {"model", "specs", "explore.search"},
    "explore.scale": {"model", "specs", "explore.search", "explore.scale"},
    "explore.views": {"model", "specs", "explore.search", "explore.views"},
    "explore.strategy": {"model", "specs", "explore.search", "explore.scale"},
    "explore.repair": {"model", "specs", "explore.search"},
    "audit": {"model", "explore.views", "audit"},
    "conform": {"model", "specs", "explore.search", "explore.views", "conform"},
    "cli": {
        "model",
        "specs",
        "explore.search",
        "explore.scale",
        "explore.strategy",
        "explore.repair",
        "explore.views",
        "audit",
        "conform",
        "cli",
    },
}


def modules() -> dict[str, Path]:
    """Every turnproof module by its dotted name under `turnproof.`."""
    out = {}
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports(path: Path, top_level_only: bool) -> set[str]:
    """The turnproof modules a file imports (without the `turnproof.` prefix)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("turnproof."):
            base = node.module.removeprefix("turnproof.")
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("turnproof.") for a in node.names if a.name.startswith("turnproof.")}
    return found


def package(module: str) -> str:
    return next(p for p in sorted(MAY_IMPORT, key=len, reverse=True) if module == p or module.startswith(p + "."))


def test_every_module_belongs_to_a_layer():
    mods = modules()
    assert len(mods) > 40
    assert all(package(m) for m in mods if m != "explore")


def test_layers_import_downwards_only():
    mods = modules()
    wrong = []
    for name, path in mods.items():
        if name == "explore":
            continue
        for target in imports(path, top_level_only=False):
            if target not in mods:
                continue  # a name imported from a module, e.g. turnproof.model.ids.show
            if package(target) not in MAY_IMPORT[package(name)]:
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_nothing_imports_the_command_line():
    mods = modules()
    users = [n for n, p in mods.items() if not n.startswith("cli") for t in imports(p, False) if t.startswith("cli")]
    assert users == []


def test_no_import_cycles_between_modules():
    mods = modules()
    graph = nx.DiGraph()
    for name, path in mods.items():
        graph.add_node(name)
        graph.add_edges_from((name, t) for t in imports(path, top_level_only=False) if t in mods and t != name)
    # a package's __init__ re-exporting its modules is not a cycle of code
    graph.remove_nodes_from([n for n in mods if mods[n].name == "__init__.py"])
    assert list(nx.simple_cycles(graph)) == []


def private_uses(path: Path, mods: dict[str, Path]) -> list[str]:
    """`from turnproof.X import _name` and `X._name` (X a turnproof module bound by an import) in
    one file: a private name used across modules."""
    tree = ast.parse(path.read_text())
    bound: dict[str, str] = {}  # local name -> the turnproof module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("turnproof."):
            base = node.module.removeprefix("turnproof.")
            for a in node.names:
                if _private(a.name):
                    found.append(f"from {base} import {a.name}")
                if f"{base}.{a.name}" in mods:
                    bound[a.asname or a.name] = f"{base}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("turnproof."):
                    bound[a.asname or a.name] = a.name.removeprefix("turnproof.")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            target = ast.unparse(node.value)
            if target in bound or target.startswith("turnproof."):
                found.append(f"{target}.{node.attr}")
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_is_used_across_modules():
    mods = modules()
    wrong = [f"{name}: {use}" for name, path in mods.items() for use in private_uses(path, mods)]
    assert wrong == []


def test_the_private_name_rule_sees_both_forms(tmp_path):
    """The rule above is not vacuous: both forms of a private use are found, a public one is not."""
    mods = {"explore.search.bfs": Path(), "model.fibers": Path()}
    src = tmp_path / "m.py"
    src.write_text(
        "from turnproof.explore.search.bfs import _check, bfs\n"
        "from turnproof.model import fibers as legacy\n"
        "import turnproof.model.fibers\n"
        "legacy._shell_step(1); legacy.shell(2); turnproof.model.fibers._x; self._own\n"
    )
    assert sorted(private_uses(src, mods)) == [
        "from explore.search.bfs import _check",
        "legacy._shell_step",
        "turnproof.model.fibers._x",
    ]
