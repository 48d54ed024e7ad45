"""Codes → DRG: compiles published CHS-DRG rule tables into a scheme and groups cases. Knows nothing about money.

Public entry points (light: importing them needs numpy only; the numba kernel and the Arrow batch path
are imported on use):

* :func:`grouper.rules.load_rule_set`, :func:`grouper.rules.load_code_dictionary` — read published tables;
* :func:`grouper.build.build_scheme` — compile and check a scheme file; :func:`grouper.scheme.load_scheme`;
* :func:`grouper.reference.group_case` with :class:`grouper.reference.Case` — one case, every step;
* :class:`grouper.batch.BatchGrouper` and :func:`drg.grouping.group_batches` — Arrow batches, the kernel.

The names below are imported from their modules on first use (PEP 562): a command that needs only
:mod:`grouper.errors` or :mod:`grouper.results` (``drg weights``, ``drg settle``) does not load the rule
tables' modules (40–60 ms at every start).
"""

from __future__ import annotations

import importlib

_EXPORTS = {"Case": "reference", "Result": "reference", "group_case": "reference", "normalize_code": "reference",
            "Scheme": "scheme", "SchemeOptions": "scheme", "load_scheme": "scheme"}

__all__ = ["Case", "Result", "group_case", "normalize_code", "Scheme", "SchemeOptions", "load_scheme"]


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'grouper' has no attribute {name!r}") from None
    return getattr(importlib.import_module(f"grouper.{module}"), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
