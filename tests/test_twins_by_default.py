"""No test can forget the twin: every call in the tests to a function that takes an ``engine`` names it.

The ``engine`` fixture (tests/conftest.py) runs a test once on the numba kernels and once on their plain
twins; a call that leaves ``engine`` out would run the kernel only, on both runs. So each call below must pass
``engine=`` — the fixture's value, or a literal where a test compares the two engines itself (``price_both``,
the grouper's twin tests). And no test opts in with its own ``parametrize("engine", …)``: the fixture is the
one way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

#: Functions and classes of the source tree with an ``engine`` parameter.
TAKES_ENGINE = {"price_cases", "price_file", "price_arrays", "estimate_file", "group_file", "group_batches",
                "BatchGrouper", "prepare_city", "group_dataset", "price_dataset"}


def sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.name != "__init__.py")


def _called_name(call: ast.Call) -> str | None:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(TESTS)))
def test_every_engine_call_names_its_engine(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bare = [f"{path.name}:{node.lineno} {_called_name(node)}(...)" for node in ast.walk(tree)
            if isinstance(node, ast.Call) and _called_name(node) in TAKES_ENGINE
            and not any(k.arg in ("engine", None) for k in node.keywords)]
    assert not bare, "call without engine=: " + ", ".join(bare)


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(TESTS)))
def test_no_test_parametrizes_its_own_engine(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
           if isinstance(node, ast.Call) and _called_name(node) == "parametrize" and node.args
           and isinstance(node.args[0], ast.Constant) and "engine" in str(node.args[0].value).split(",")]
    assert not own, "use the engine fixture: " + ", ".join(own)


def test_every_function_with_an_engine_is_listed():
    """Found in the source tree with ``ast``: each public function (or class, by its ``__init__``) with an
    ``engine`` parameter is in :data:`TAKES_ENGINE`; internal steps that receive it from those are not."""
    from tests.helpers.paths import REPO

    found = set()
    for pkg in ("grouper", "drg"):
        for path in (REPO / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                fn = node
                if isinstance(node, ast.ClassDef):
                    fn = next((b for b in node.body if isinstance(b, ast.FunctionDef) and b.name == "__init__"), None)
                if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                    args = fn.args.args + fn.args.kwonlyargs
                    if any(a.arg == "engine" for a in args):
                        found.add(node.name)
    # drg.pricing.readmission, called by price_arrays with its engine; write_priced, the body of price_file and
    # of each partition's pricing (the tests' helpers of the same name write priced rows, not price); the tasks
    # of drg.distributed, given theirs by group_dataset and price_dataset
    internal = {"halved_stays", "write_priced", "group_partition", "price_partition", "readmitted_rows",
                "pair_bucket"}
    assert found - internal == TAKES_ENGINE
