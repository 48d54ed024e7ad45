"""The import graph of the source tree, read with ``ast`` (nothing is imported).

* ``grouper`` stands alone: none of its modules imports ``drg``, at module level or inside a function, nor
  names a ``drg`` module to ``importlib.import_module``.
* Imports run one way: the module-level imports of each package form no circle. Module level means every
  import that runs when the module is imported: top-level statements, also inside ``if``/``try`` blocks and
  class bodies, but not inside functions (those run on call, after every module has loaded, and are how a
  light entry point defers a heavy one) and not under ``if TYPE_CHECKING:``. An import of a name from a
  package (``from drg.pricing import price_cases``) is an edge to the package's ``__init__``, whose lazy
  re-exports import nothing at load.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers.paths import REPO

PACKAGES = ("grouper", "drg")


def module_files() -> dict[str, Path]:
    """``{module name: source file}`` of every module of :data:`PACKAGES`."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = module_files()


def imports(module: str, *, in_functions: bool) -> list[tuple[str, int]]:
    """``(imported module, line)`` of each import in ``module``'s source (``from a import b`` is module
    ``a.b`` when that is a module of the tree, else ``a``); with ``in_functions``, also those inside
    functions, and the modules named to ``importlib.import_module``."""
    path = MODULES[module]
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, inside_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            function = inside_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if function and not in_functions:
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package[:len(package) - child.level + 1] + ([child.module] if child.module else []))
                for alias in child.names:
                    found.append((f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base, child.lineno))
            elif (isinstance(child, ast.Call) and isinstance(child.func, (ast.Attribute, ast.Name))
                  and (getattr(child.func, "attr", None) or getattr(child.func, "id", None)) == "import_module"
                  and child.args and isinstance(child.args[0], ast.Constant) and isinstance(child.args[0].value, str)):
                found.append((child.args[0].value, child.lineno))
            visit(child, function)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One circle of ``graph`` as ``[a, b, …, a]``, or None."""
    state: dict[str, int] = {}            # 1 on the current path, 2 done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_every_module_is_found():
    assert {"grouper", "grouper.kernel", "grouper.rules.chs", "drg", "drg.grouping", "drg.pricing.points",
            "drg.cli"} <= set(MODULES)


def test_grouper_imports_nothing_of_drg():
    found = [f"{m}:{line} imports {target}" for m in MODULES if m.split(".")[0] == "grouper"
             for target, line in imports(m, in_functions=True) if target.split(".")[0] == "drg"]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("package", PACKAGES)
def test_module_level_imports_form_no_circle(package):
    inside = {m for m in MODULES if m.split(".")[0] == package}
    graph = {m: sorted({t for t, _ in imports(m, in_functions=False) if t in inside and t != m}) for m in inside}
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_circle_finder_reports_a_circle():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b", "c"], "b": ["c"], "c": []}) is None
