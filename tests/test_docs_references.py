"""Documentation names code that exists: every dotted ``drg.…`` or ``grouper.…`` name in README.md and docs/
whose first part is a module or subpackage resolves to a module, or an attribute of one (Parquet metadata keys
such as ``drg.scheme_id`` name no module and are left alone). Guards the docs against moves of the layout."""

from __future__ import annotations

import dataclasses
import importlib
import re

import pytest

from tests.helpers.paths import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NAME = re.compile(r"`((?:drg|grouper)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _is_module_path(parts: list[str]) -> bool:
    root = REPO / parts[0] / parts[1]
    return root.with_suffix(".py").exists() or (root / "__init__.py").exists()


def references() -> list[tuple[str, str]]:
    found = set()
    for doc in DOCS:
        for name in NAME.findall(doc.read_text(encoding="utf-8")):
            parts = name.split(".")
            if parts[-1] in ("py", "md", "toml", "parquet"):
                continue
            if _is_module_path(parts):
                found.add((doc.name, name))
    return sorted(found)


def _resolves(name: str) -> bool:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if dataclasses.is_dataclass(obj) and attr in {f.name for f in dataclasses.fields(obj)}:
                return True      # a field (one with a default factory is no class attribute)
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


@pytest.mark.parametrize("doc,name", references(), ids=[f"{d}:{n}" for d, n in references()])
def test_documented_name_exists(doc, name):
    assert _resolves(name), f"{doc} names {name}, which does not exist"
