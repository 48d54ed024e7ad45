"""Codes → DRG: compiles published CHS-DRG rule tables into a scheme and groups cases. Knows nothing about money.

Public entry points (light: importing them needs numpy only; the numba kernel and the Arrow batch path
are imported on use):

* :func:`grouper.rules.load_rule_set`, :func:`grouper.rules.load_code_dictionary` — read published tables;
* :func:`grouper.build.build_scheme` — compile and check a scheme file; :func:`grouper.scheme.load_scheme`;
* :func:`grouper.reference.group_case` with :class:`grouper.reference.Case` — one case, every step;
* :class:`grouper.batch.BatchGrouper` and :func:`drg.grouping.group_batches` — Arrow batches, the kernel.
"""

from grouper.reference import Case, Result, group_case, normalize_code
from grouper.scheme import Scheme, SchemeOptions, load_scheme

__all__ = ["Case", "Result", "group_case", "normalize_code", "Scheme", "SchemeOptions", "load_scheme"]
