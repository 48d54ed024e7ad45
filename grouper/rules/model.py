"""The rule tables of a grouping scheme as plain Python data (the output of every reader in this package).

Fields used outside the grouper (``drg synth`` draws codes from them) are pinned: ``mdcs``, ``adrgs`` with
``AdrgRule.code/name/mdc/surgical/principal_dx/principal_px``, ``drgs``, ``mcc``, ``cc``, ``exclusions``,
``mdc_principal_dx`` and the code dictionary ``CodeDictionary.dx/px/or_px``.

The structured conditions the grouper evaluates are :class:`Clause` objects: an ADRG's rule is a list of
alternatives (any one suffices), each alternative a list of clauses (all must hold). A CHS-DRG 2.0 entry
condition (``入组条件：…`` with ``+``, ``或`` and brackets) is brought to this form (an OR of ANDs) by the
reader; ``AdrgRule.alt_labels`` keeps each alternative's terms as the table writes them.

How a case enters an MDC (``RuleSet.mdc_entry``) and the edition's validation and ambiguous-group rules
(``RuleSet.code_checks``, ``ambiguous_groups``, ``newborn_data_required``) are data too: the compiled scheme
carries them and the groupers read them, so 1.x and 2.0 run through the same code.
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
SDX_IN = 7        # some secondary diagnosis (position >= 2) is in the list (2.0: 其他诊断)
ANY_PX = 8        # some procedure code in any position (2.0: 包含全部手术或操作)

CLAUSE_NAMES = {PDX_IN: "principal diagnosis in", PPX_IN: "principal procedure in",
                ANY_DX_IN: "some diagnosis in", ANY_PX_IN: "some procedure in",
                PPX_OR: "principal procedure is an operating-room procedure",
                NO_OR_PX: "no operating-room procedure", SDX_IN: "some secondary diagnosis in",
                ANY_PX: "some procedure, any position"}

# How a case enters an MDC. The integer values are part of the compiled scheme format.
ENTRY_PDX = 0          # the principal diagnosis is in the MDC's table (1.x MDCP: and age 0; 1.x MDCZ: and
#                        two body regions among the diagnoses in the table)
ENTRY_PPX_OR = 1       # no table: the principal procedure is an operating-room procedure (1.x MDCA)
ENTRY_ALWAYS = 2       # every case tries the MDC's ADRGs (2.0 MDCA: its ADRG rules decide)
ENTRY_NEWBORN_AGE = 3  # age 0 with age in days under 365 (2.0 MDCP: by age only)
ENTRY_ANY_DX = 4       # some diagnosis, principal or secondary, is in the MDC's table (2.0 MDCY)
ENTRY_REGIONS = 5      # the diagnoses cover two or more body regions (2.0 MDCZ; the principal need not be
#                        in the table)

ENTRY_NAMES = {ENTRY_PDX: "principal diagnosis in its table",
               ENTRY_PPX_OR: "operating-room principal procedure",
               ENTRY_ALWAYS: "every case (its ADRG rules decide)",
               ENTRY_NEWBORN_AGE: "age under one year (by age in days)",
               ENTRY_ANY_DX: "some diagnosis in its table",
               ENTRY_REGIONS: "two or more body regions among the diagnoses"}

# Code checks of CHS-DRG 2.0 (ZD_INVALID / ZD_GRAY / SS_INVALID / SS_GRAY). Values are part of the format.
CHECK_NONE, CHECK_INVALID, CHECK_GRAY, CHECK_GRAY_ALLOWED = 0, 1, 2, 3


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
    alt_labels: list[str] = field(default_factory=list)   # one per alternative ("" when the table gives none)
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
    # the edition's grouping behaviour (defaults: CHS-DRG 1.x)
    edition: str = ""                                              # "2.0" for the CHS-DRG 2.0 layout
    mdc_entry: dict[str, int] = field(default_factory=dict)        # MDC -> ENTRY_* (absent: ENTRY_PDX)
    # code -> CHECK_INVALID / CHECK_GRAY / CHECK_GRAY_ALLOWED, for diagnoses and for procedures
    dx_checks: dict[str, int] = field(default_factory=dict)
    px_checks: dict[str, int] = field(default_factory=dict)
    ambiguous_groups: bool = False       # a medical ADRG met by a principal procedure gives xQY (2.0)
    newborn_data_required: bool = True   # age 0 needs age_days, under 29 days a birth weight (1.x)
