"""Lazy re-exports for package ``__init__`` modules (PEP 562), of ``grouper`` and of ``drg``'s packages.

A package lists its public names and the module each lives in; a name's module is imported on first use. So
``import drg.pricing.exact`` (the one-case estimate's path) stays free of polars, pyarrow and numba while
``from drg.pricing import price_file`` still works, and ``import grouper.errors`` (every drg command's error
classes) does not load the rule tables' modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[list[str], Callable, Callable]:
    """``(__all__, __getattr__, __dir__)`` for ``package``, whose public ``name`` lives in module
    ``package + "." + exports[name]``."""

    def __getattr__(name: str):
        try:
            module = exports[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    names = sorted(exports)
    return names, __getattr__, lambda: names
