"""Policy profiles: one TOML file per city and year → a typed, validated, frozen :class:`Policy`.

This module owns every **[param]** of SPEC.md (§0.1 arithmetic, §2 weights, §3 coefficients, §4 case points,
§5 adjustments, §6 budget and point value, §7 settlement, §8 county accounts, §9 monitoring), the origin of
each value (a public source, or a default a city must confirm), and the registry of the profiles shipped in
``data/policies`` (installed as package ``drg_data``).

File layout (every key optional except where a profile needs to differ from the default)::

    [policy]      id, name, city, year, scheme, description, extends ("zhejiang-province" or a path)
    [arithmetic]  points_decimals
    [pools]       pools_by_insurance_type
    [weights]     history_years, year_weights, cost_index, n_min, cv_max
    [weights.trim] method (sd|percentile|none), k, lo, hi
    [per_diem]    drgs, min_los
    [coef]        n_min, tier_n_min, tiers, down_factor, up_factor, min, max, blend, blend_by_year
    [pricing]     ungroupable (factor|review), ungroupable_factor, ambiguous (ungroupable|review), high_steps,
                  low_ratio, low_outlier_rule
    [readmission] enabled, window_days, match (drg|adrg), scope (hospital|city), factor, exempt_adrgs
    [violations]  multipliers, default_multiplier
    [budget]      growth_rate, reserve_ratio, point_value_includes_self_pay
    [prepayment]  provisional_pv (last_year|budget_pace), factor, prepay_ratio
    [reserve]     use (none|share_loss), share, cap (yuan per hospital)
    [county]      gap_city_share (α)
    [monitoring]  spending_tolerance, spending_alert, pv_drop_max, pv_drop_alert, pv_floor,
                  projection_from_month, cmi_rise_max, cmi_rise_alert, cc_share_rise_max, cc_share_rise_alert,
                  cc_share_min_cases, outlier_share_max, outlier_share_alert, group_rate_min, group_rate_alert,
                  hospital_min_cases, low_risk_min_cases, low_risk_k, convergence_min_cases
    [sources]     "dotted.key" = "where the value comes from"

Numbers that are not whole are read as :class:`decimal.Decimal` (``tomllib`` with ``parse_float=Decimal``)
so that rates such as ρ = 0.05 or the readmission factor 0.5 are exact; whole-number keys are ``int``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from drg.errors import PolicyError
from drg.money import yuan_to_fen

__all__ = [
    "Policy", "WeightsPolicy", "TrimPolicy", "PerDiemPolicy", "CoefPolicy", "Blend", "PricingPolicy",
    "HighStep", "ReadmissionPolicy", "ViolationPolicy", "BudgetPolicy", "PrepaymentPolicy",
    "ReservePolicy", "CountyPolicy", "MonitoringPolicy", "PolicyInfo",
    "load_policy", "list_policies", "resolve_policy_path", "read_policy_values", "policy_rows", "policy_to_dict",
    "policies_dir", "policy_fields", "PARAMS",
]

DEFAULT = "default — a city must confirm"


# ----------------------------------------------------------------------------------------------- values
@dataclass(frozen=True)
class Blend:
    """``coef = hospital·HC + tier·TC + one·1.0`` (SPEC §3.3); the three weights sum to 1."""

    hospital: Decimal = Decimal(1)
    tier: Decimal = Decimal(0)
    one: Decimal = Decimal(0)


@dataclass(frozen=True)
class HighStep:
    """High-outlier threshold ``ratio`` for base points ≤ ``up_to`` (``None`` = no upper bound)."""

    up_to: Decimal | None
    ratio: Decimal


# ----------------------------------------------------------------------------------------------- schema
@dataclass(frozen=True)
class _Param:
    """One policy parameter, declared once: its dotted key in the TOML file, its kind (how the value is read
    and checked), its default and where the default comes from. ``attr`` is the :class:`Policy` attribute it
    sets as a dotted path (the key itself when empty; None: read, not stored), ``store`` turns the value read
    into the attribute's value."""

    key: str
    kind: str        # int bool str enum dec opt_dec opt_int opt_str strlist declist yearmap strdecmap steps
    default: Any
    origin: str = DEFAULT
    choices: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = None
    doc: str = ""
    attr: str | None = ""
    store: Callable[[Any], Any] | None = None

    @property
    def target(self) -> str | None:
        """The dotted :class:`Policy` attribute this parameter sets (None: none)."""
        return self.key if self.attr == "" else self.attr

    def stored(self, value: Any) -> Any:
        return self.store(value) if self.store is not None and value is not None else value


def _ge(lo):
    return lambda v: None if v >= lo else f"must be ≥ {lo}"


def _between(lo, hi):
    return lambda v: None if lo <= v <= hi else f"must be between {lo} and {hi}"


def _positive(v):
    return None if v > 0 else "must be > 0"


_DEFAULT_MULTIPLIERS = {
    "split_admission": Decimal(1), "bed_holding": Decimal(1), "admission_without_indication": Decimal(1),
    "outpatient_shift": Decimal(2), "self_pay_switch": Decimal(2), "upcoding": Decimal(2), "fraud": Decimal(5),
}
_SRC_EVAL = "source: Zhejiang DRG payment evaluation rules (2021 trial)"

PARAMS: tuple[_Param, ...] = (
    _Param("policy.id", "opt_str", None, "file name", doc="profile id", attr="id"),
    _Param("policy.name", "str", "", "", attr="name"),
    _Param("policy.city", "str", "", "", attr="city"),
    _Param("policy.year", "opt_int", None, "", check=lambda v: None if v is None or 1990 <= v <= 2100
           else "must be a year", attr="year"),
    _Param("policy.scheme", "opt_str", None, "", doc="grouping scheme id the weights are for", attr="scheme"),
    _Param("policy.description", "str", "", "", attr="description"),
    _Param("policy.extends", "opt_str", None, "", doc="profile this one starts from", attr=None),
    _Param("arithmetic.points_decimals", "int", 4, DEFAULT + " (SPEC §0.1)", check=_between(0, 6), attr="points_decimals"),
    _Param("pools.pools_by_insurance_type", "bool", True, DEFAULT, doc="one point value per insurance type", attr="pools_by_insurance_type"),
    _Param("weights.history_years", "int", 2, "source: Jinhua uses the two previous years", check=_between(1, 10)),
    _Param("weights.year_weights", "declist", (), DEFAULT + " (equal)"),
    _Param("weights.cost_index", "yearmap", {}, DEFAULT + " (1.0)"),
    _Param("weights.n_min", "int", 5, "source: Zhejiang province (DRGs under 5 cases go to special review)",
           check=_ge(1)),
    _Param("weights.cv_max", "dec", Decimal(1), DEFAULT, check=_positive),
    _Param("weights.trim.method", "enum", "sd", DEFAULT, choices=("sd", "percentile", "none")),
    _Param("weights.trim.k", "dec", Decimal(3), DEFAULT, check=_positive),
    _Param("weights.trim.lo", "dec", Decimal("2.5"), DEFAULT, check=_between(0, 100)),
    _Param("weights.trim.hi", "dec", Decimal("97.5"), DEFAULT, check=_between(0, 100)),
    _Param("per_diem.drgs", "strlist", (), DEFAULT + " (none)"),
    _Param("per_diem.min_los", "opt_int", None, DEFAULT + " (none)", check=lambda v: None if v is None or v >= 1
           else "must be ≥ 1"),
    _Param("coef.n_min", "int", 5, DEFAULT, check=_ge(1)),
    _Param("coef.tier_n_min", "int", 1, DEFAULT, check=_ge(1)),
    _Param("coef.tiers", "strlist", ("A", "B", "C", "D", "E"), DEFAULT + " (highest first)",
           check=lambda v: None if v and len(set(v)) == len(v) else "must be distinct tier codes"),
    _Param("coef.down_factor", "dec", Decimal("0.9"), "source: Zigong DRG coefficient rules", check=_positive),
    _Param("coef.up_factor", "dec", Decimal("1.1"), "source: Zigong DRG coefficient rules", check=_positive),
    _Param("coef.min", "opt_dec", None, DEFAULT + " (no clipping)"),
    _Param("coef.max", "opt_dec", None, DEFAULT + " (no clipping)"),
    _Param("coef.blend", "blend", Blend(), DEFAULT + " (hospital coefficient only)"),
    _Param("coef.blend_by_year", "blendmap", {}, DEFAULT + " (none)"),
    _Param("pricing.ungroupable", "enum", "factor", DEFAULT, choices=("factor", "review")),
    _Param("pricing.ungroupable_factor", "dec", Decimal(1), DEFAULT, check=_ge(0)),
    _Param("pricing.ambiguous", "enum", "ungroupable", "SPEC §4 (CHS-DRG 2.0 xQY groups); a city must confirm",
           choices=("ungroupable", "review")),
    _Param("pricing.high_steps", "steps", (HighStep(Decimal(100), Decimal(3)), HighStep(Decimal(200), Decimal(2)),
                                          HighStep(None, Decimal("1.5"))), DEFAULT),
    _Param("pricing.low_ratio", "dec", Decimal("0.4"), DEFAULT, check=_between(0, 1)),
    _Param("pricing.low_outlier_rule", "enum", "province", "source: Zhejiang province",
           choices=("province", "jinhua")),
    _Param("readmission.enabled", "bool", True, "source: Zhejiang province"),
    _Param("readmission.window_days", "int", 15, "source: Zhejiang province (15 days)", check=_between(0, 366)),
    _Param("readmission.match", "enum", "drg", DEFAULT, choices=("drg", "adrg")),
    _Param("readmission.scope", "enum", "hospital", DEFAULT, choices=("hospital", "city")),
    _Param("readmission.factor", "dec", Decimal("0.5"), "source: Zhejiang province", check=_between(0, 1)),
    _Param("readmission.exempt_adrgs", "strlist", ("RB1", "RB2", "RC1", "RE1"),
           "source: Zhejiang province (radiotherapy and chemotherapy of malignant tumours; CHS-DRG 1.1 codes)"),
    _Param("violations.multipliers", "strdecmap", dict(_DEFAULT_MULTIPLIERS), _SRC_EVAL),
    _Param("violations.default_multiplier", "opt_dec", None, DEFAULT + " (unlisted type is an error)"),
    _Param("budget.growth_rate", "dec", Decimal(0), DEFAULT + " (Jinhua targeted 0.075 in 2016)",
           check=_between(-1, 1)),
    _Param("budget.reserve_ratio", "dec", Decimal(0), DEFAULT, check=_between(0, 1)),
    _Param("budget.point_value_includes_self_pay", "bool", True, DEFAULT),
    _Param("prepayment.provisional_pv", "enum", "budget_pace", DEFAULT, choices=("last_year", "budget_pace")),
    _Param("prepayment.factor", "dec", Decimal(1), DEFAULT, check=_positive),
    _Param("prepayment.prepay_ratio", "dec", Decimal("0.85"), "source: Zhejiang province (at least 85 %)",
           check=_between(0, 1)),
    _Param("reserve.use", "enum", "none", DEFAULT, choices=("none", "share_loss")),
    _Param("reserve.share", "dec", Decimal(0), DEFAULT, check=_between(0, 1)),
    _Param("reserve.cap", "opt_dec", None, DEFAULT + " (no cap)", check=lambda v: None if v is None or v >= 0
           else "must be ≥ 0", doc="yuan per hospital", attr="reserve.cap_fen", store=yuan_to_fen),
    _Param("county.gap_city_share", "dec", Decimal("0.5"), DEFAULT, check=_between(0, 1)),
    _Param("monitoring.spending_tolerance", "dec", Decimal("0.05"), DEFAULT, check=_ge(0)),
    _Param("monitoring.pv_drop_max", "dec", Decimal("0.05"), DEFAULT, check=_ge(0)),
    _Param("monitoring.cmi_rise_max", "dec", Decimal("0.05"), DEFAULT, check=_ge(0)),
    _Param("monitoring.outlier_share_max", "dec", Decimal("0.05"), DEFAULT, check=_between(0, 1)),
    _Param("monitoring.spending_alert", "dec", Decimal("0.10"), DEFAULT, check=_ge(0),
           doc="fund pace above m/12 of the budget × (1 + this): alert"),
    _Param("monitoring.pv_drop_alert", "dec", Decimal("0.10"), DEFAULT, check=_ge(0),
           doc="provisional point value more than this below last year's: alert"),
    _Param("monitoring.pv_floor", "opt_dec", None, DEFAULT + " (last year's point value × (1 − pv_drop_max))",
           check=lambda v: None if v is None or v > 0 else "must be > 0",
           doc="yuan per point: the floor of the projected year-end point value"),
    _Param("monitoring.projection_from_month", "int", 3, DEFAULT + " (SPEC §9: from the third month)",
           check=_between(1, 12), doc="before this month the projection is information only"),
    _Param("monitoring.cmi_rise_alert", "dec", Decimal("0.10"), DEFAULT, check=_ge(0)),
    _Param("monitoring.cc_share_rise_max", "dec", Decimal("0.05"), DEFAULT, check=_between(0, 1),
           doc="a hospital's CC/MCC share within an ADRG up more than this (share points) on last year: warning"),
    _Param("monitoring.cc_share_rise_alert", "dec", Decimal("0.10"), DEFAULT, check=_between(0, 1)),
    _Param("monitoring.cc_share_min_cases", "int", 20, DEFAULT, check=_ge(1),
           doc="cases of the hospital in the ADRG, this year and last, before its CC/MCC share is compared"),
    _Param("monitoring.outlier_share_alert", "dec", Decimal("0.10"), DEFAULT, check=_between(0, 1)),
    _Param("monitoring.group_rate_min", "dec", Decimal("0.95"), DEFAULT, check=_between(0, 1),
           doc="入组率 below this: warning"),
    _Param("monitoring.group_rate_alert", "dec", Decimal("0.90"), DEFAULT, check=_between(0, 1),
           doc="入组率 below this: alert"),
    _Param("monitoring.hospital_min_cases", "int", 30, DEFAULT, check=_ge(1),
           doc="cases of a hospital in the period before its shares and CMI are checked"),
    _Param("monitoring.low_risk_min_cases", "int", 30, DEFAULT + " (SPEC §9)", check=_ge(1),
           doc="history cases of a DRG before it is classified as low-risk or not"),
    _Param("monitoring.low_risk_k", "dec", Decimal(1),
           "source: national DRG performance evaluation method (低风险组: ln m_d < μ − k·s)", check=_ge(0)),
    _Param("monitoring.convergence_min_cases", "int", 5, DEFAULT + " (SPEC §9)", check=_ge(1),
           doc="cases of a hospital in a DRG before it enters the 同病同价 convergence"),
)
_BY_KEY = {p.key: p for p in PARAMS}
_LEAF_KINDS = {"yearmap", "strdecmap", "blend", "blendmap"}   # TOML tables that are one value




def _default(key: str):
    """The dataclass default of the attribute set by parameter ``key``: the one default of :data:`PARAMS`."""
    value = _BY_KEY[key].default
    if isinstance(value, (dict, list, set)):
        return field(default_factory=lambda: type(value)(value))
    return value


# ----------------------------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class TrimPolicy:
    """Outlier trimming before means (SPEC §2.2). ``lo``/``hi`` are percents for ``percentile``."""

    method: str = _default("weights.trim.method")
    k: Decimal = _default("weights.trim.k")
    lo: Decimal = _default("weights.trim.lo")
    hi: Decimal = _default("weights.trim.hi")


@dataclass(frozen=True)
class WeightsPolicy:
    """Base points from history (基准点数, SPEC §2)."""

    history_years: int = _default("weights.history_years")
    year_weights: tuple[Decimal, ...] = _default("weights.year_weights")          # oldest first; empty = equal
    cost_index: dict[int, Decimal] = _default("weights.cost_index")  # discharge year → factor (1.0 if absent)
    n_min: int = _default("weights.n_min")
    cv_max: Decimal = _default("weights.cv_max")
    trim: TrimPolicy = TrimPolicy()

    def year_weight(self, year: int, newest_year: int) -> Decimal:
        """Weight of history ``year`` when ``newest_year`` is the last history year (the year before the
        settlement year): ``year_weights`` are oldest first, so the newest year takes the last entry."""
        if not self.year_weights:
            return Decimal(1)
        i = len(self.year_weights) - 1 - (newest_year - year)
        return self.year_weights[i] if 0 <= i < len(self.year_weights) else Decimal(0)


@dataclass(frozen=True)
class PerDiemPolicy:
    """Per-diem (床日付费) groups: listed DRG/ADRG codes and/or a minimum length of stay (SPEC §2.7)."""

    drgs: tuple[str, ...] = _default("per_diem.drgs")
    min_los: int | None = _default("per_diem.min_los")


@dataclass(frozen=True)
class CoefPolicy:
    """Hospital and tier coefficients (差异系数, SPEC §3)."""

    n_min: int = _default("coef.n_min")
    tier_n_min: int = _default("coef.tier_n_min")
    tiers: tuple[str, ...] = _default("coef.tiers")   # highest tier first
    down_factor: Decimal = _default("coef.down_factor")
    up_factor: Decimal = _default("coef.up_factor")
    min: Decimal | None = _default("coef.min")
    max: Decimal | None = _default("coef.max")
    blend: Blend = _default("coef.blend")
    blend_by_year: dict[int, Blend] = _default("coef.blend_by_year")

    def blend_for(self, year: int | None) -> Blend:
        """The blend of policy year ``year`` (``blend_by_year``), else the default ``blend``."""
        if year is not None and year in self.blend_by_year:
            return self.blend_by_year[year]
        return self.blend


@dataclass(frozen=True)
class PricingPolicy:
    """Case classes and points (SPEC §4)."""

    ungroupable: str = _default("pricing.ungroupable")               # factor | review
    ungroupable_factor: Decimal = _default("pricing.ungroupable_factor")
    ambiguous: str = _default("pricing.ambiguous")                     # ungroupable | review (CHS-DRG 2.0 xQY)
    high_steps: tuple[HighStep, ...] = _default("pricing.high_steps")
    low_ratio: Decimal = _default("pricing.low_ratio")
    low_outlier_rule: str = _default("pricing.low_outlier_rule")        # province | jinhua

    def high_ratio(self, base_points: Decimal | float) -> Decimal:
        """H(BP): the first step whose ``up_to`` is ≥ the base points."""
        bp = Decimal(str(base_points)) if isinstance(base_points, float) else Decimal(base_points)
        for step in self.high_steps:
            if step.up_to is None or bp <= step.up_to:
                return step.ratio
        return self.high_steps[-1].ratio


@dataclass(frozen=True)
class ReadmissionPolicy:
    """Split admission (分解住院, SPEC §5.1)."""

    enabled: bool = _default("readmission.enabled")
    window_days: int = _default("readmission.window_days")
    match: str = _default("readmission.match")        # drg | adrg
    scope: str = _default("readmission.scope")   # hospital | city
    factor: Decimal = _default("readmission.factor")
    exempt_adrgs: tuple[str, ...] = _default("readmission.exempt_adrgs")


@dataclass(frozen=True)
class ViolationPolicy:
    """Adjudicated violations (SPEC §5.2): deduction multiplier m per violation type."""

    multipliers: dict[str, Decimal] = _default("violations.multipliers")
    default_multiplier: Decimal | None = None

    def multiplier(self, violation: str) -> Decimal | None:
        """m for a violation type; ``default_multiplier`` when the type is not listed."""
        return self.multipliers.get(violation, self.default_multiplier)


@dataclass(frozen=True)
class BudgetPolicy:
    """Budget and point value (SPEC §6)."""

    growth_rate: Decimal = _default("budget.growth_rate")
    reserve_ratio: Decimal = _default("budget.reserve_ratio")
    point_value_includes_self_pay: bool = _default("budget.point_value_includes_self_pay")


@dataclass(frozen=True)
class PrepaymentPolicy:
    """Monthly prepayment (月度预付, SPEC §6)."""

    provisional_pv: str = _default("prepayment.provisional_pv")   # last_year | budget_pace
    factor: Decimal = _default("prepayment.factor")          # applied to last year's PV under last_year
    prepay_ratio: Decimal = _default("prepayment.prepay_ratio")


@dataclass(frozen=True)
class ReservePolicy:
    """Use of the reserve (调剂金) for loss sharing (SPEC §7). ``cap_fen`` is per hospital; None = no cap."""

    use: str = _default("reserve.use")                     # none | share_loss
    share: Decimal = _default("reserve.share")
    cap_fen: int | None = _default("reserve.cap")   # fen (the policy file gives yuan)


@dataclass(frozen=True)
class CountyPolicy:
    """County accounts under city-level pooling (SPEC §8)."""

    gap_city_share: Decimal = _default("county.gap_city_share")   # α


@dataclass(frozen=True)
class MonitoringPolicy:
    """Monitoring (SPEC §9): the thresholds of the warnings — each a warning level and an alert level, as
    fractions (0.05 = 5 %, a CC/MCC share rise in share points) — and the parameters of the indicators."""

    spending_tolerance: Decimal = _default("monitoring.spending_tolerance")
    pv_drop_max: Decimal = _default("monitoring.pv_drop_max")
    cmi_rise_max: Decimal = _default("monitoring.cmi_rise_max")
    outlier_share_max: Decimal = _default("monitoring.outlier_share_max")
    spending_alert: Decimal = _default("monitoring.spending_alert")
    pv_drop_alert: Decimal = _default("monitoring.pv_drop_alert")
    pv_floor: Decimal | None = _default("monitoring.pv_floor")            # yuan per point
    projection_from_month: int = _default("monitoring.projection_from_month")
    cmi_rise_alert: Decimal = _default("monitoring.cmi_rise_alert")
    cc_share_rise_max: Decimal = _default("monitoring.cc_share_rise_max")
    cc_share_rise_alert: Decimal = _default("monitoring.cc_share_rise_alert")
    cc_share_min_cases: int = _default("monitoring.cc_share_min_cases")
    outlier_share_alert: Decimal = _default("monitoring.outlier_share_alert")
    group_rate_min: Decimal = _default("monitoring.group_rate_min")
    group_rate_alert: Decimal = _default("monitoring.group_rate_alert")
    hospital_min_cases: int = _default("monitoring.hospital_min_cases")
    low_risk_min_cases: int = _default("monitoring.low_risk_min_cases")
    low_risk_k: Decimal = _default("monitoring.low_risk_k")
    convergence_min_cases: int = _default("monitoring.convergence_min_cases")


@dataclass(frozen=True)
class Policy:
    """A city's payment policy for one year. Build it with :func:`load_policy`.

    ``origins`` maps each dotted key to ``(value_text, origin)`` where origin is a source citation,
    ``"set in FILE"`` or the default label; ``drg policy show`` prints it.
    """

    id: str
    name: str = ""
    city: str = ""
    year: int | None = None
    scheme: str | None = None
    description: str = ""
    path: str | None = None
    points_decimals: int = _default("arithmetic.points_decimals")
    pools_by_insurance_type: bool = _default("pools.pools_by_insurance_type")
    weights: WeightsPolicy = WeightsPolicy()
    per_diem: PerDiemPolicy = PerDiemPolicy()
    coef: CoefPolicy = CoefPolicy()
    pricing: PricingPolicy = PricingPolicy()
    readmission: ReadmissionPolicy = ReadmissionPolicy()
    violations: ViolationPolicy = ViolationPolicy()
    budget: BudgetPolicy = BudgetPolicy()
    prepayment: PrepaymentPolicy = PrepaymentPolicy()
    reserve: ReservePolicy = ReservePolicy()
    county: CountyPolicy = CountyPolicy()
    monitoring: MonitoringPolicy = MonitoringPolicy()
    origins: dict[str, tuple[str, str]] = field(default_factory=dict, compare=False)

    @property
    def points_scale(self) -> int:
        """10 ** points_decimals: points are held as integers in units of 1 / points_scale."""
        return 10 ** self.points_decimals

    def check_scheme(self, scheme_id: str | None, *, what: str, file: str | None = None) -> None:
        """``[policy] scheme`` names the grouping scheme this policy prices (``CHS_DRG_20``, or with its
        version ``CHS_DRG_20@e7c7666d0656``): a scheme id ``name@version`` of grouped cases or tables that
        differs from it is a :class:`PolicyError` (exit 1). No check when either side names no scheme."""
        if not self.scheme or not scheme_id:
            return
        name, _, version = self.scheme.partition("@")
        got_name, _, got_version = scheme_id.partition("@")
        if name != got_name or (version and version != got_version):
            raise PolicyError(f"{what} were grouped with scheme {scheme_id!r}, but policy {self.id!r} expects "
                              f"{self.scheme!r} ([policy] scheme): regroup them with that scheme "
                              f"(drg scheme migrate) or use the policy of their edition", file=file,
                              key="policy.scheme")


# ----------------------------------------------------------------------------------------------- parsing
def _flatten(table: dict, prefix: str, out: dict, file: str) -> None:
    for k, v in table.items():
        key = f"{prefix}{k}"
        p = _BY_KEY.get(key)
        if p is not None and p.kind in _LEAF_KINDS:
            out[key] = v
        elif isinstance(v, dict) and p is None:
            if not any(q.startswith(key + ".") for q in _BY_KEY):
                raise PolicyError(f"unknown section {key!r}", file=file, key=key)
            _flatten(v, key + ".", out, file)
        elif p is None:
            raise PolicyError(f"unknown key {key!r}", file=file, key=key)
        else:
            out[key] = v


def _dec(v: Any, key: str, file: str) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, (int, Decimal, float)):
        raise PolicyError(f"{key} must be a number, got {v!r}", file=file, key=key)
    return v if isinstance(v, Decimal) else Decimal(str(v))


def _blend(v: Any, key: str, file: str) -> Blend:
    if not isinstance(v, dict):
        raise PolicyError(f"{key} must be a table with hospital, tier, one", file=file, key=key)
    extra = set(v) - {"hospital", "tier", "one"}
    if extra:
        raise PolicyError(f"unknown key {sorted(extra)[0]!r} in {key} (allowed: hospital, tier, one)",
                          file=file, key=key)
    w = {n: _dec(v.get(n, 0), f"{key}.{n}", file) for n in ("hospital", "tier", "one")}
    if any(x < 0 for x in w.values()) or sum(w.values()) != 1:
        raise PolicyError(f"{key}: weights hospital, tier, one must be ≥ 0 and sum to 1, got "
                          f"{', '.join(str(x) for x in w.values())}", file=file, key=key)
    return Blend(**w)


def _convert(p: _Param, v: Any, file: str) -> Any:
    key, kind = p.key, p.kind

    def fail(msg: str):
        raise PolicyError(f"{key}: {msg}, got {v!r}", file=file, key=key)

    if kind == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            fail("must be a whole number")
        out = v
    elif kind == "opt_int":
        if isinstance(v, bool) or not isinstance(v, int):
            fail("must be a whole number")
        out = v
    elif kind == "bool":
        if not isinstance(v, bool):
            fail("must be true or false")
        out = v
    elif kind in ("str", "opt_str"):
        if not isinstance(v, str):
            fail("must be a string")
        out = v
    elif kind == "enum":
        if v not in p.choices:
            fail(f"must be one of {', '.join(p.choices)}")
        out = v
    elif kind in ("dec", "opt_dec"):
        out = _dec(v, key, file)
    elif kind == "strlist":
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            fail("must be a list of strings")
        out = tuple(x.strip() for x in v)
    elif kind == "declist":
        if not isinstance(v, list):
            fail("must be a list of numbers")
        out = tuple(_dec(x, key, file) for x in v)
        if any(x < 0 for x in out) or (out and sum(out) <= 0):
            fail("weights must be ≥ 0 with a positive sum")
    elif kind == "yearmap":
        if not isinstance(v, dict):
            fail("must be a table of year = factor")
        out = {}
        for y, f in v.items():
            if not str(y).isdigit():
                raise PolicyError(f"{key}: {y!r} is not a year", file=file, key=key)
            d = _dec(f, f"{key}.{y}", file)
            if d <= 0:
                raise PolicyError(f"{key}.{y}: must be > 0", file=file, key=key)
            out[int(y)] = d
    elif kind == "strdecmap":
        if not isinstance(v, dict):
            fail("must be a table of name = number")
        out = {str(n): _dec(x, f"{key}.{n}", file) for n, x in v.items()}
        if any(x < 0 for x in out.values()):
            fail("multipliers must be ≥ 0")
    elif kind == "blend":
        out = _blend(v, key, file)
    elif kind == "blendmap":
        if not isinstance(v, dict):
            fail("must be a table of year = {hospital, tier, one}")
        out = {}
        for y, b in v.items():
            if not str(y).isdigit():
                raise PolicyError(f"{key}: {y!r} is not a year", file=file, key=key)
            out[int(y)] = _blend(b, f"{key}.{y}", file)
    elif kind == "steps":
        if not isinstance(v, list) or not v:
            fail("must be a non-empty list of {up_to, ratio}")
        steps, last = [], None
        for i, s in enumerate(v):
            if not isinstance(s, dict) or set(s) - {"up_to", "ratio"} or "ratio" not in s:
                fail(f"step {i + 1} must be {{up_to = N, ratio = R}} (up_to omitted on the last)")
            up = _dec(s["up_to"], key, file) if "up_to" in s else None
            ratio = _dec(s["ratio"], key, file)
            if ratio <= 0:
                fail(f"step {i + 1}: ratio must be > 0")
            if up is None and i != len(v) - 1:
                fail(f"step {i + 1}: only the last step may omit up_to")
            if up is not None and last is not None and up <= last:
                fail("up_to must increase")
            last = up
            steps.append(HighStep(up, ratio))
        out = tuple(steps)
    else:  # pragma: no cover
        raise AssertionError(kind)
    if p.check is not None:
        msg = p.check(out)
        if msg:
            raise PolicyError(f"{key}: {msg}, got {v!r}", file=file, key=key)
    return out


def policies_dir() -> Path:
    """The directory of the shipped profiles (``data/policies``, package ``drg_data``)."""
    from importlib.resources import files

    return Path(str(files("drg_data"))) / "policies"


def resolve_policy_path(name_or_path: str | Path) -> Path:
    """The TOML file of a shipped profile name (``jinhua``) or of a path; an error lists the shipped names."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.is_file():  # a directory that happens to share a profile's name is not one
        if not p.is_file():
            raise PolicyError(f"policy file not found: {p}", file=str(p))
        return p
    shipped = policies_dir() / f"{name_or_path}.toml"
    if shipped.exists():
        return shipped
    names = ", ".join(i.id for i in list_policies())
    raise PolicyError(f"no policy profile named {str(name_or_path)!r} (shipped: {names})", file=str(name_or_path))


def read_policy_values(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict, dict[str, str]]:
    """A policy file's values as flat dotted keys (``readmission.window_days``) with where each came from,
    following ``extends``: the values behind :func:`load_policy`, before typing (``drg publish`` writes
    them out resolved)."""
    file = str(path)
    if path.resolve() in seen:
        raise PolicyError("policy extends itself (cycle)", file=file, key="policy.extends")
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"not valid TOML: {exc}", file=file) from None
    sources = raw.pop("sources", {})
    if not isinstance(sources, dict):
        raise PolicyError("sources must be a table of \"key\" = \"source\"", file=file, key="sources")
    flat: dict[str, Any] = {}
    _flatten(raw, "", flat, file)
    for k, s in sources.items():
        if k not in _BY_KEY:
            raise PolicyError(f"sources names unknown key {k!r}", file=file, key=f"sources.{k}")
        if not isinstance(s, str):
            raise PolicyError(f"sources: {k!r} must be a string", file=file, key=f"sources.{k}")
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    ext = flat.get("policy.extends")
    if ext is not None:
        if not isinstance(ext, str):
            raise PolicyError("policy.extends must be a profile name or path", file=file, key="policy.extends")
        base_path = (path.parent / ext) if ext.endswith(".toml") else resolve_policy_path(ext)
        if not base_path.exists():
            raise PolicyError(f"policy.extends: {ext!r} not found", file=file, key="policy.extends")
        values, origins = read_policy_values(base_path, seen + (path.resolve(),))
        for k in ("policy.id", "policy.name", "policy.description", "policy.extends"):
            values.pop(k, None)
            origins.pop(k, None)
    for k, v in flat.items():
        values[k] = (v, file)
        origins[k] = sources.get(k, f"set in {path.name}")
    for k, s in sources.items():   # a source given for an inherited value
        if k in values:
            origins[k] = s
    return values, origins


def _fmt(v: Any) -> str:
    if isinstance(v, Blend):
        return f"hospital {v.hospital}, tier {v.tier}, one {v.one}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in v.items()) + "}" if v else "{}"
    if isinstance(v, tuple):
        if v and isinstance(v[0], HighStep):
            return "; ".join(f"BP ≤ {s.up_to} → {s.ratio}" if s.up_to is not None else f"else → {s.ratio}"
                             for s in v)
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def load_policy(name_or_path: str | Path) -> Policy:
    """Read and validate a policy profile.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped profile name (``drg policy list``) or a path to a TOML file.

    Returns
    -------
    Policy
        Frozen settings; ``origins`` says where every value comes from.

    Raises
    ------
    PolicyError
        Unknown key, wrong type or value; the message names the key and the file.
    """
    path = resolve_policy_path(name_or_path)
    flat, src = read_policy_values(path)
    v: dict[str, Any] = {}
    origins: dict[str, tuple[str, str]] = {}
    for p in PARAMS:
        if p.key in flat:
            raw, file = flat[p.key]
            v[p.key] = _convert(p, raw, file)
            origin = src[p.key]
            if origin.startswith("set in") and v[p.key] == p.default and p.origin.startswith(DEFAULT):
                origin = f"{p.origin}; {origin}"
            origins[p.key] = (_fmt(v[p.key]), origin)
        else:
            v[p.key] = p.default
            origins[p.key] = (_fmt(p.default), p.origin)
    _check_together(v, str(path))
    v["policy.id"] = v["policy.id"] or path.stem
    attrs = {p.target: p.stored(v[p.key]) for p in PARAMS if p.target is not None}
    return _build(Policy, attrs, path=str(path), origins=origins)


def _check_together(v: dict[str, Any], file: str) -> None:
    """The checks that involve more than one parameter."""
    wy, hy = v["weights.year_weights"], v["weights.history_years"]
    if wy and len(wy) != hy:
        raise PolicyError(f"weights.year_weights has {len(wy)} entries but history_years is {hy}",
                          file=file, key="weights.year_weights")
    if v["weights.trim.lo"] >= v["weights.trim.hi"]:
        raise PolicyError("weights.trim.lo must be below weights.trim.hi", file=file, key="weights.trim.lo")
    cmin, cmax = v["coef.min"], v["coef.max"]
    if cmin is not None and cmax is not None and cmin > cmax:
        raise PolicyError("coef.min is above coef.max", file=file, key="coef.min")
    for warn, alert in (("spending_tolerance", "spending_alert"), ("pv_drop_max", "pv_drop_alert"),
                        ("cmi_rise_max", "cmi_rise_alert"), ("cc_share_rise_max", "cc_share_rise_alert"),
                        ("outlier_share_max", "outlier_share_alert")):
        if v[f"monitoring.{alert}"] < v[f"monitoring.{warn}"]:
            raise PolicyError(f"monitoring.{alert} is below monitoring.{warn} (an alert is the larger step)",
                              file=file, key=f"monitoring.{alert}")
    if v["monitoring.group_rate_alert"] > v["monitoring.group_rate_min"]:
        raise PolicyError("monitoring.group_rate_alert is above monitoring.group_rate_min (an alert is the lower "
                          "floor)", file=file, key="monitoring.group_rate_alert")
    if v["reserve.use"] == "share_loss" and v["reserve.share"] <= 0:
        raise PolicyError("reserve.use = share_loss needs reserve.share > 0", file=file, key="reserve.share")


def _build(cls: type, attrs: dict[str, Any], prefix: str = "", **extra: Any):
    """An instance of the settings dataclass ``cls`` from dotted attribute values (``weights.trim.k``):
    a field present in ``attrs`` takes its value, a section dataclass is built from its own keys."""
    hints = typing.get_type_hints(cls)
    kwargs = dict(extra)
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        if name in attrs:
            kwargs[f.name] = attrs[name]
        elif dataclasses.is_dataclass(hints[f.name]) and any(k.startswith(name + ".") for k in attrs):
            kwargs[f.name] = _build(hints[f.name], attrs, name + ".")
    return cls(**kwargs)


def policy_fields() -> list[str]:
    """Every settable attribute of :class:`Policy` as a dotted path (sections expanded; ``path`` and
    ``origins`` are not parameters). The tests hold it equal to the targets of :data:`PARAMS`."""
    def walk(cls: type, prefix: str) -> list[str]:
        hints = typing.get_type_hints(cls)
        out = []
        for f in dataclasses.fields(cls):
            t = hints[f.name]
            if dataclasses.is_dataclass(t) and t not in (Blend,):
                out += walk(t, prefix + f.name + ".")
            elif prefix or f.name not in ("path", "origins"):
                out.append(prefix + f.name)
        return out

    return walk(Policy, "")


def policy_rows(policy: Policy) -> list[tuple[str, str, str]]:
    """``(key, value, origin)`` for every parameter, in schema order (for ``drg policy show``)."""
    return [(p.key, *policy.origins.get(p.key, (_fmt(p.default), p.origin))) for p in PARAMS
            if p.key != "policy.extends" or p.key in policy.origins]


def _jsonable(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if hasattr(v, "__dataclass_fields__"):
        return {f: _jsonable(getattr(v, f)) for f in v.__dataclass_fields__ if f != "origins"}
    return v


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """A JSON-ready dict: the settings (decimals as strings) and ``origins`` per dotted key."""
    out = _jsonable(policy)
    out["origins"] = {k: {"value": val, "origin": o} for k, (val, o) in policy.origins.items()}
    return out


# ----------------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class PolicyInfo:
    """One shipped profile: its id, title, city, year and file."""

    id: str
    name: str
    city: str
    year: int | None
    path: Path


def list_policies() -> list[PolicyInfo]:
    """The profiles shipped in ``data/policies`` (the registry behind ``drg policy list``)."""
    out = []
    d = policies_dir()
    for path in sorted(d.glob("*.toml")) if d.is_dir() else []:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh, parse_float=Decimal)
        meta = raw.get("policy", {})
        out.append(PolicyInfo(meta.get("id", path.stem), meta.get("name", ""), meta.get("city", ""),
                              meta.get("year"), path))
    return out
