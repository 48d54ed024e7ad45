"""Codes → DRG: compiles published CHS-DRG rule tables into a scheme and groups cases. Knows nothing about money.

Public entry points (light: importing them needs numpy only; the numba kernel and the Arrow batch path
are imported on use):

* :func:`grouper.rules.load_rule_set`, :func:`grouper.rules.load_code_dictionary` — read published tables;
* :func:`grouper.build.build_scheme` — compile and check a scheme file; :func:`grouper.scheme.load_scheme`;
* :func:`grouper.reference.group_case` with :class:`grouper.reference.Case` — one case, every step;
* :class:`grouper.batch.BatchGrouper` and :func:`drg.grouping.group_batches` — Arrow batches, the kernel.

The names below are imported from their modules on first use (:mod:`grouper.lazy`): a command that needs
only :mod:`grouper.errors` or :mod:`grouper.results` (``drg weights``, ``drg settle``) does not load the rule
tables' modules (40–60 ms at every start).
"""

from grouper.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports("grouper", {
    "Case": "reference", "Result": "reference", "group_case": "reference", "normalize_code": "reference",
    "Scheme": "scheme", "SchemeOptions": "scheme", "load_scheme": "scheme"})
