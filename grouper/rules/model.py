"""The rule tables of a grouping scheme as plain Python data (the output of every reader in this package).

Fields used outside the grouper (``drg synth`` draws codes from them) are pinned: ``mdcs``, ``adrgs`` with
``AdrgRule.code/name/mdc/surgical/principal_dx/principal_px``, ``drgs``, ``mcc``, ``cc``, ``exclusions``,
``mdc_principal_dx`` and the code dictionary ``CodeDictionary.dx/px/or_px``.

The structured conditions the grouper evaluates are :class:`Clause` objects: an ADRG's rule is a list of
alternatives (any one suffices), each alternative a list of clauses (all must hold).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Clause kinds. The integer values are part of the compiled scheme format (grouper.scheme).
PDX_IN = 1        # the principal diagnosis is in the list            (包含以下主要诊断)
PPX_IN = 2        # the principal procedure is in the list            (包含以下主要手术或操作)
ANY_DX_IN = 3     # some diagnosis (principal or other) is in the list (主要诊断或其他诊断中包含 / 包含以下诊断)
ANY_PX_IN = 4     # some procedure (any position) is in the list      (同时包含以下手术 … 和 …, 手术表 N)
PPX_OR = 5        # the principal procedure is an operating-room one  (全部手术 / 包含全部手术)
NO_OR_PX = 6      # no operating-room procedure in any position (且无手术)

CLAUSE_NAMES = {PDX_IN: "principal diagnosis in", PPX_IN: "principal procedure in",
                ANY_DX_IN: "some diagnosis in", ANY_PX_IN: "some procedure in",
                PPX_OR: "principal procedure is an operating-room procedure",
                NO_OR_PX: "no operating-room procedure"}


@dataclass
class CodeDictionary:
    """A code dictionary (layout of ``codes/chs_drg_11``): code → name for diagnoses and procedures,
    and the operating-room procedures (SS_VALID, the meaning of 全部手术 in the rule tables)."""

    dx: dict[str, str] = field(default_factory=dict)
    px: dict[str, str] = field(default_factory=dict)
    or_px: set[str] = field(default_factory=set)
    source_files: dict[str, str] = field(default_factory=dict)  # file name -> sha256


@dataclass(frozen=True)
class Clause:
    """One condition of an ADRG alternative: ``kind`` (a constant of this module) over ``codes``
    (empty for PPX_OR / NO_OR_PX). ``label`` says where the list came from (e.g. ``手术表 2``)."""

    kind: int
    codes: tuple[str, ...] = ()
    label: str = ""


@dataclass
class AdrgRule:
    """One ADRG's rule.

    ``principal_dx`` / ``principal_px`` are the codes a case may have as principal diagnosis / principal
    procedure to enter the ADRG (empty when the rule does not constrain it). ``conditions`` holds the
    structured rule: a list of alternatives, each a list of :class:`Clause` that must all hold.
    ``age_days_min/max`` and ``weight_min/max`` are the newborn bands written in MDCP ADRG names
    (inclusive bounds, ``None`` when absent).
    """

    code: str
    name: str
    mdc: str
    surgical: bool
    principal_dx: tuple[str, ...] = ()
    principal_px: tuple[str, ...] = ()
    conditions: list = field(default_factory=list)
    age_days_min: int | None = None
    age_days_max: int | None = None
    weight_min: int | None = None
    weight_max: int | None = None


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
    # MDCZ body regions (region name -> dx codes) when the scheme has a multiple-trauma MDC
    trauma_regions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    trauma_mdc: str = ""
    # MDC -> sex that may enter it (1 male, 2 female); absent = any sex
    mdc_sex: dict[str, int] = field(default_factory=dict)
    # MDC evaluation order (pre-MDC groups first, then the sex-specific MDCs, then the rest)
    mdc_order: list[str] = field(default_factory=list)
    newborn_mdc: str = ""
    pregnancy_mdc: str = ""
    version: str = ""
