"""The rule tables of a grouping scheme as plain Python data (the output of every reader in this package).

Fields used outside the grouper (``drg synth`` draws codes from them) are pinned: ``mdcs``, ``adrgs`` with
``AdrgRule.code/name/mdc/surgical/principal_dx/principal_px``, ``drgs``, ``mcc``, ``cc``, ``exclusions``,
``mdc_principal_dx`` and the code dictionary ``CodeDictionary.dx/px/or_px``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CodeDictionary:
    """A code dictionary (layout of ``codes/chs_drg_11``): code → name for diagnoses and procedures,
    and the operating-room procedures (SS_VALID, the meaning of 全部手术 in the rule tables)."""

    dx: dict[str, str] = field(default_factory=dict)
    px: dict[str, str] = field(default_factory=dict)
    or_px: set[str] = field(default_factory=set)
    source_files: dict[str, str] = field(default_factory=dict)  # file name -> sha256


@dataclass
class AdrgRule:
    """One ADRG's rule.

    ``principal_dx`` / ``principal_px`` are the codes a case may have as principal diagnosis / principal
    procedure to enter the ADRG (empty when the rule does not constrain it). Readers add the structured
    conditions the grouper evaluates (procedure pairs, numbered tables, any-diagnosis lists, ...) in
    ``conditions``.
    """

    code: str
    name: str
    mdc: str
    surgical: bool
    principal_dx: tuple[str, ...] = ()
    principal_px: tuple[str, ...] = ()
    conditions: list = field(default_factory=list)


@dataclass
class RuleSet:
    """A grouping scheme's rule tables, as read from its text layout."""

    name: str
    mdcs: dict[str, str] = field(default_factory=dict)            # 'MDCB' -> name, in table order
    adrgs: dict[str, AdrgRule] = field(default_factory=dict)      # 'BB1' -> rule, in table order
    drgs: dict[str, str] = field(default_factory=dict)            # 'BB11' -> name, in table order
    mcc: dict[str, str] = field(default_factory=dict)             # dx code -> exclusion table id ('7-1')
    cc: dict[str, str] = field(default_factory=dict)              # dx code -> exclusion table id
    exclusions: dict[str, frozenset[str]] = field(default_factory=dict)  # table id -> principal dx codes
    mdc_principal_dx: dict[str, tuple[str, ...]] = field(default_factory=dict)  # 'MDCB' -> dx codes
    source_files: dict[str, str] = field(default_factory=dict)   # relative path -> sha256
    notes: list[str] = field(default_factory=list)               # problems the reader found, with counts
