"""Case points (病例点数, SPEC §4) and the adjustments after pricing (SPEC §5): case classes, points by the
numba kernel (or its exact twin), readmission halving (分解住院), special-review overrides (特病单议),
adjudicated violations with their hospital deductions, and the hospital totals after deductions (§5.3).

Output of :func:`price_cases` — every input column plus:

========================  ==================================================================================
``case_class``            normal, high, low, unstable, per_diem, ungroupable, review
``base_points``           BP_d of the case's DRG (null when the DRG has no weight)
``per_diem_points``       BPd_d, points per bed-day (per-diem cases only)
``bed_days``              max(los, 1)
``coef``, ``coef_source`` the hospital's coefficient for the DRG and where it came from (hospital, tier, 1.0,
                          hospital_not_in_table); it enters normal, high and (province rule) low points
``mean_cost``             mean_d in yuan (classes are decided on the exact mean; the shown ratio divides by the float64 ``mean_cost_fen`` of the
                          weights table; for a per-diem case the mean cost per bed-day)
``high_ratio``            H(BP_d); the low bound L is the policy's ``pricing.low_ratio``
``cost_ratio``            r = cost / mean (never rounded; null for ungroupable and no-weight cases)
``points``                points by SPEC §4, rounded half away from zero to ``points_decimals``
``adjusted_points``       after readmission (×factor, rounded again) and violations (0)
``adjust_reason``         "", ``readmission``, ``violation:TYPE`` or both joined by ``;``
``deduction_points``      SPEC §5.2 deduction from the hospital's total in the case's pool (0 if none)
``violation``             the adjudicated violation type (null if none)
``violation_ref``         where the violation came from: the violations table's ``queue_ref`` (the review
                          queue's row of ``drg audit``), null if none
``price_note``            e.g. ``no weight: priced as unstable``, ``hospital not in hospitals table``
========================  ==================================================================================

The settlement step takes, per hospital and pool, ``Σ adjusted_points − Σ deduction_points`` floored at 0
(:func:`drg.pricing.adjustments.hospital_total`, which also reports the part that could not be deducted).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
import numpy as np
import pyarrow as pa
from drg.errors import InputError
from drg.pricing.adjustments import apply_violations, rows_by_case_id, violation_refs
from drg.pricing.exact import (CLASS_NAMES, COEF_SCALE, PER_DIEM, REVIEW, UNGROUPABLE, UNSTABLE, CaseToPrice,
                               PricingRule, WeightRow, price_one_exact, scale_units_twin, to_units)
from drg.pricing.kernels import CaseArrays, KernelRule, WeightArrays, price_kernel, scale_units
from drg.policy import Policy
from drg.casefile.money import with_fen_columns
from drg.pricing.classes import drg_mask, held_mask, per_diem_mask
from drg.pricing.columns import encode_strings, filled
from drg.pricing.weights import Weights
from drg.pricing.readmission import halved_stays, may_be_halved

__all__ = ['PRICED_COLUMNS', 'NOTE_NAMES', 'CoefficientMatrix', 'PricedArrays', 'checked_columns', 'price_arrays', 'price_cases', 'summary_of_sums', 'with_priced_columns']


PRICED_COLUMNS = ("case_class", "base_points", "per_diem_points", "bed_days", "coef", "coef_source", "mean_cost",
                  "high_ratio", "cost_ratio", "points", "adjusted_points", "adjust_reason", "deduction_points",
                  "violation", "violation_ref", "price_note")


def _units_vector(values: list, scale: int) -> np.ndarray:
    """Floats → int64 units of ``1/scale``; values that are not already on the grid go through the exact
    :func:`drg.pricing.kernels.to_units` (half away from zero on the printed decimal)."""
    v = np.array([np.nan if x is None else x for x in values], np.float64)
    y = v * scale
    u = np.rint(y)
    off = np.nonzero(~(np.abs(y - u) <= 1e-6))[0]
    out = np.where(np.isnan(u), 0, u).astype(np.int64)
    for i in off:
        if values[i] is not None:
            out[i] = to_units(values[i], scale)
    return out


# ----------------------------------------------------------------------------------------------- weights
@dataclass(frozen=True)
class WeightTable:
    """The weights table as pricing reads it: the kernel's arrays, the exact values of the twin, and the
    yuan values shown in the priced file, one entry per DRG row (``row_of`` maps a DRG code to its row)."""

    drgs: list[str]
    arrays: WeightArrays
    high_exact: list[Decimal]
    mean_exact: list[Fraction | None]
    per_diem_mean_exact: list[Fraction | None]
    mean_yuan: np.ndarray            # one entry more than the rows: NaN for a case without weight (-1)
    per_diem_mean_yuan: np.ndarray

    @property
    def row_of(self) -> dict[str, int]:
        return {d: i for i, d in enumerate(self.drgs)}

    def exact_row(self, w: int) -> WeightRow | None:
        """Row ``w`` for the exact twin (None for -1)."""
        if w < 0:
            return None
        a = self.arrays
        base = int(a.base_u[w]) if a.base_u[w] >= 0 else None
        per_diem = int(a.per_diem_u[w]) if a.per_diem_u[w] >= 0 else None
        return WeightRow(base, self.mean_exact[w] if base is not None else None, bool(a.stable[w]),
                         self.high_exact[w] if base is not None else Decimal(0), per_diem,
                         self.per_diem_mean_exact[w] if per_diem is not None else None)

    @classmethod
    def of(cls, weights: Weights, policy: Policy) -> WeightTable:
        t = weights.table
        scale = policy.points_scale
        bp = t.column("base_points").to_pylist()
        pdp = t.column("per_diem_points").to_pylist()
        mean = _floats(t.column("mean_cost_fen").to_pylist())
        pdm = _floats(t.column("per_diem_mean_fen").to_pylist())
        high = [policy.pricing.high_ratio(Decimal(repr(v))) if v is not None else Decimal(0) for v in bp]
        arrays = WeightArrays(
            base_u=np.array([-1 if v is None else to_units(v, scale) for v in bp], np.int64), mean_fen=mean,
            stable=np.asarray(t.column("stable").fill_null(False), dtype=bool),
            high_ratio=np.array([float(h) for h in high], np.float64),
            per_diem_u=np.array([-1 if v is None else to_units(v, scale) for v in pdp], np.int64),
            per_diem_mean_fen=pdm)
        pd_yuan = (t.column("per_diem_mean_cost").to_pylist() if "per_diem_mean_cost" in t.column_names
                   else [None if x is None else x / 100 for x in t.column("per_diem_mean_fen").to_pylist()])
        return cls(t.column("drg").to_pylist(), arrays, high, _exact_column(t, "mean_cost_exact", mean),
                   _exact_column(t, "per_diem_mean_exact", pdm),
                   np.append(_floats(t.column("mean_cost").to_pylist()), np.nan),
                   np.append(_floats(pd_yuan), np.nan))


def _floats(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], np.float64)


def _exact_column(t: pa.Table, name: str, floats: np.ndarray) -> list:
    """Exact means (``Fraction`` fen) from a ``num/den`` column; tables written before it existed fall back
    to the float64 values."""
    if name in t.column_names:
        return [None if v is None else Fraction(v) for v in t.column(name).to_pylist()]
    return [None if np.isnan(v) else Fraction(float(v)) for v in floats]


# ----------------------------------------------------------------------------------------------- pricing
def price_cases(cases: pa.Table, weights: Weights, coefficients: pa.Table, policy: Policy, *,
                reviews: pa.Table | None = None, violations: pa.Table | None = None, year: int | None = None,
                engine: str = "numba", file: str = "cases") -> pa.Table:
    """Price grouped cases (SPEC §4–§5).

    Parameters
    ----------
    cases : pyarrow.Table
        Grouped cases: ``case_id, patient_id, hospital_id, drg, los, admit_date, discharge_date,
        total_cost`` (or ``total_cost_fen``); optional ``adrg`` (required when readmission matches on ADRG).
    weights, coefficients
        From :func:`drg.pricing.weights.read_weights` / :func:`drg.pricing.coefficients.read_coefficients`.
    policy : Policy
    reviews, violations : pyarrow.Table, optional
        Special-review points and adjudicated violations.
    year : int, optional
        Settlement year: only stays discharged in it pair as readmissions (always: only stays of the
        same discharge year pair).
    engine : {"numba", "python"}
        The numba kernel, or its exact plain-Python twin.

    Returns
    -------
    pyarrow.Table
        Every input column plus :data:`PRICED_COLUMNS`.
    """
    cases = checked_columns(cases, policy, file)
    priced = price_arrays(cases, weights, coefficients, policy, reviews=reviews, violations=violations, year=year,
                           engine=engine)
    return with_priced_columns(cases, priced.columns())


def with_priced_columns(cases: pa.Table, cols: dict[str, pa.Array]) -> pa.Table:
    """``cases`` with :data:`PRICED_COLUMNS` appended (an existing column of the same name is replaced)."""
    out = cases.drop_columns([c for c in PRICED_COLUMNS if c in cases.column_names])
    for name in PRICED_COLUMNS:
        out = out.append_column(name, cols[name])
    return out


def checked_columns(cases: pa.Table, policy: Policy, file: str) -> pa.Table:
    """The columns pricing needs are present; the ``*_fen`` money columns are added."""
    need = ["case_id", "hospital_id", "drg", "los", "discharge_date"]
    if policy.readmission.enabled:
        need += ["patient_id", "admit_date"]
        if policy.readmission.match == "adrg":
            need.append("adrg")
    missing = [c for c in need if c not in cases.column_names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=file, field=missing[0])
    cases = with_fen_columns(cases, file=file)
    if "total_cost_fen" not in cases.column_names:
        raise InputError("missing column total_cost", file=file, field="total_cost")
    return cases


def price_arrays(cases: pa.Table, weights: Weights, coefficients: pa.Table | CoefficientMatrix, policy: Policy, *,
                 reviews: pa.Table | None, violations: pa.Table | None, year: int | None,
                 engine: str, readmitted: np.ndarray | None = None, case_ids=None) -> PricedArrays:
    """The pricing itself over the columns :func:`checked_columns` guarantees, every case at once (readmission
    pairs stays across the whole file), step by step: the weights as arrays, the cases as arrays, their
    coefficients and review points, classes and points (SPEC §4), readmission halving (§5.1), violations
    (§5.2), and the texts of the priced columns.

    ``readmitted``: when the stays were paired elsewhere (a dataset whose partitions share patients,
    :mod:`drg.distributed.pricing`), the mask of the cases whose next stay is a readmission
    (:func:`drg.pricing.readmission.halved_stays` with every stay halvable); the halving rule then applies
    the case classes to it (:func:`drg.pricing.readmission.may_be_halved`). ``coefficients`` may be the table
    or its :class:`CoefficientMatrix` over ``weights``, built once for many files.

    ``case_ids``: for ``cases`` without their ``case_id`` column (no reviews and no violations to match, so
    only the readmission tie-break needs ids), a function giving the case ids of some rows (int array) as an
    Arrow string array."""
    if engine not in ("numba", "python"):
        raise ValueError(f"engine must be 'numba' or 'python', got {engine!r}")
    table = WeightTable.of(weights, policy)
    drg_codes, drg_dict = encode_strings(cases.column("drg"))
    h_codes, h_dict = encode_strings(cases.column("hospital_id"))
    widx = np.array([table.row_of.get(d, -1) for d in drg_dict] + [-1], np.int32)[drg_codes]  # -1 → no row
    coef_u, coef_src = _coefficients(coefficients, table, h_codes, h_dict, widx)
    review, review_u = _review_points(cases, reviews, policy.points_scale)
    los_col = cases.column("los")
    # (int32 days as they are; any other type cast, and checked, as int64)
    los = np.asarray(filled(los_col if pa.types.is_int32(los_col.type) else los_col.cast(pa.int64()), 0))
    if len(los) and -2 ** 31 < los.min() and los.max() < 2 ** 31:   # (days as int32 where they fit: 0.1 GB at 10 M)
        los = los.astype(np.int32, copy=False)
    case_arrays = CaseArrays(
        cost_fen=np.asarray(cases.column("total_cost_fen"), dtype=np.int64), bed_days=np.maximum(los, 1),
        ungroupable=~drg_mask(drg_dict)[drg_codes],                 # code -1 (null) → no DRG
        review=review, review_u=review_u,
        per_diem=per_diem_mask(cases.column("drg"), cases.column("adrg") if "adrg" in cases.column_names
                               else None, los, policy),
        widx=widx, coef_u=coef_u)
    rule = PricingRule.of(policy, weights.a_fen)
    cls, pts, ratio, noweight = _classify(case_arrays, table, rule, engine)
    if policy.pricing.ambiguous == "review":   # SPEC §4: ambiguous groups wait for review with 0 points
        pts[held_mask(drg_dict, policy)[drg_codes] & (cls == UNGROUPABLE)] = 0
    adjusted, halved = _readmission(cases, case_arrays, cls, pts, policy, year, engine, drg_codes, h_codes,
                                    readmitted, case_ids)
    ids = cases.column("case_id") if violations is not None else None
    adjusted, deduction, violation = apply_violations(ids, violations, adjusted,
                                                      _deduction_base(table, widx, cls, noweight), policy)
    reason_code, reason_names = _adjust_reasons(halved, violation)
    return PricedArrays(n=len(cls), scale=policy.points_scale, cls=cls, pts=pts, adjusted=adjusted, ratio=ratio,
                        halved=halved, deduction=deduction, reason_code=reason_code, reason_names=reason_names,
                        note_code=_price_notes(noweight, cls, case_arrays, table, coef_src), widx=widx,
                        coef_u=coef_u, coef_src=coef_src, src_names=list(COEF_SOURCES), bed_days=case_arrays.bed_days,
                        bp_u=table.arrays.base_u, pdp_u=table.arrays.per_diem_u, high_h=table.arrays.high_ratio,
                        mean_yuan=table.mean_yuan, pd_yuan=table.per_diem_mean_yuan, viol_type=violation,
                        viol_ref=violation_refs(ids, violations))


#: Where a case's coefficient came from (the ``coef_source`` column).
COEF_SOURCES = ("hospital", "tier", "1.0", "hospital_not_in_table", "no_weight")
_SOURCE = {s: i for i, s in enumerate(COEF_SOURCES)}


@dataclass(frozen=True)
class CoefficientMatrix:
    """The coefficients table as a hospital × DRG matrix over the DRG rows of one weights table: units of
    1/COEF_SCALE and source codes, 1.0 for a hospital or DRG the table lacks (the last row: a hospital not in
    the table). Built once for a pair of tables, it prices any number of files — a dataset's partitions on a
    worker (:mod:`drg.distributed.pricing`) — where building it per file would cost as much as a national
    coefficients table has rows."""

    drgs: tuple
    known: dict
    value: np.ndarray
    source: np.ndarray

    @classmethod
    def of(cls, coefficients: pa.Table, table: WeightTable) -> CoefficientMatrix:
        hospitals = coefficients.column("hospital_id").to_pylist()
        drgs = coefficients.column("drg").to_pylist()
        sources = coefficients.column("coef_source").to_pylist()
        units = _units_vector(coefficients.column("coef").to_pylist(), COEF_SCALE)
        known = {h: i for i, h in enumerate(sorted(set(hospitals)))}
        rows, row_of = len(known) + 1, table.row_of           # the last matrix row: a hospital not in the table
        value = np.full((rows, max(len(table.drgs), 1)), COEF_SCALE, np.int64)
        source = np.full((rows, max(len(table.drgs), 1)), _SOURCE["1.0"], np.int8)
        source[len(known), :] = _SOURCE["hospital_not_in_table"]
        for h, d, u, s in zip(hospitals, drgs, units.tolist(), sources):
            w = row_of.get(d)
            if w is not None:
                value[known[h], w] = u
                source[known[h], w] = _SOURCE.get(s, _SOURCE["1.0"])
        return cls(tuple(table.drgs), known, value, source)


def _coefficients(coefficients: pa.Table | CoefficientMatrix, table: WeightTable, h_codes: np.ndarray,
                  h_dict: list, widx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each case's coefficient in units of 1/COEF_SCALE and its source code, from a hospital × DRG matrix
    (1.0 for a hospital or DRG the coefficients table lacks)."""
    m = coefficients if isinstance(coefficients, CoefficientMatrix) else CoefficientMatrix.of(coefficients, table)
    if m.drgs != tuple(table.drgs):
        raise ValueError("the coefficient matrix was built over another weights table")
    known, value, source = m.known, m.value, m.source
    hospital_row = np.array([known.get(h, len(known)) for h in h_dict] + [len(known)], np.int64)[h_codes]
    has_weight = widx >= 0
    w = np.maximum(widx, 0)
    return (np.where(has_weight, value[hospital_row, w], COEF_SCALE),
            np.where(has_weight, source[hospital_row, w], _SOURCE["no_weight"]))


def _review_points(cases: pa.Table, reviews: pa.Table | None, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether each case has a special-review row (特病单议), and its points in units."""
    n = cases.num_rows
    review, review_u = np.zeros(n, bool), np.zeros(n, np.int64)
    if reviews is None or not reviews.num_rows:
        return review, review_u
    row = rows_by_case_id(cases.column("case_id"), reviews, "reviews")
    review = row >= 0
    points = reviews.column("points").to_pylist()
    for i, v in enumerate(points, start=1):
        if v is None or (isinstance(v, float) and not np.isfinite(v)) or v < 0:
            raise InputError("review points missing or negative", file="reviews", row=i, field="points")
    units = np.array([to_units(v, scale) for v in points], np.int64)
    review_u[review] = units[row[review]]
    return review, review_u


def _classify(cases: CaseArrays, table: WeightTable, rule: PricingRule, engine: str):
    """Class, points (units), cost ratio and no-weight flag of every case (SPEC §4): the kernel, with the
    cases it flags (near a tie or a class bound) priced again by the exact twin; or the twin for all."""
    n = len(cases.cost_fen)
    if engine == "numba":
        kernel_rule = KernelRule(float(rule.a_fen), float(rule.low_ratio), rule.low_rule_jinhua,
                                 rule.ungroupable_review, float(rule.ungroupable_factor), rule.scale)
        cls, pts, ratio, flag, noweight = price_kernel(cases, table.arrays, kernel_rule)
        redo = np.nonzero(flag)[0]
    else:
        cls, pts = np.empty(n, np.int8), np.empty(n, np.int64)
        ratio, noweight = np.empty(n, np.float64), np.zeros(n, bool)
        redo = np.arange(n)
    mean = table.arrays.mean_fen
    for i in redo:
        w = int(cases.widx[i])
        case = CaseToPrice(int(cases.cost_fen[i]), int(cases.bed_days[i]), bool(cases.ungroupable[i]),
                           bool(cases.review[i]), int(cases.review_u[i]), bool(cases.per_diem[i]),
                           int(cases.coef_u[i]))
        c_, p_, r_, nw_ = price_one_exact(case, table.exact_row(w), rule)
        if case.review and w >= 0 and table.mean_exact[w] is not None and float(mean[w]) != 0:
            r_ = float(case.cost_fen) / float(mean[w])
        cls[i], pts[i], ratio[i], noweight[i] = c_, p_, r_, nw_
    return cls, pts, ratio, noweight


def _readmission(cases: pa.Table, arrays: CaseArrays, cls: np.ndarray, pts: np.ndarray, policy: Policy,
                 year: int | None, engine: str, drg_codes: np.ndarray, h_codes: np.ndarray,
                 readmitted: np.ndarray | None = None, case_ids=None):
    """The points after readmission halving (SPEC §5.1: ×factor, rounded again) and the halved mask."""
    halved = np.zeros(len(pts), bool)
    rp = policy.readmission
    if rp.enabled and len(pts):
        halved = (halved_stays(cases, cls, arrays.ungroupable, policy, year, engine, drg_codes, h_codes,
                               case_ids=case_ids)
                  if readmitted is None else readmitted & may_be_halved(cls))
    adjusted = pts.copy()     # (after the pairing, whose sort is the peak of pricing)
    if halved.any():
        idx = np.nonzero(halved)[0]
        adjusted[idx] = (scale_units(pts[idx], rp.factor) if engine == "numba"
                         else np.array(scale_units_twin(pts[idx], rp.factor), np.int64))
    return adjusted, halved


def _deduction_base(table: WeightTable, widx: np.ndarray, cls: np.ndarray, noweight: np.ndarray) -> np.ndarray:
    """SPEC §5.2: the base points a serious violation's multiplier applies to — BP_d for a normal, high, low
    or unstable case with a weight, -1 (its own points) for the others."""
    w = np.maximum(widx, 0)
    base = table.arrays.base_u[w]
    by_bp = ~np.isin(cls, (PER_DIEM, UNGROUPABLE, REVIEW)) & ~noweight & (widx >= 0) & (base >= 0)
    return np.where(by_bp, base, -1)


def _adjust_reasons(halved: np.ndarray, violation: list | None) -> tuple[np.ndarray, list[str]]:
    """The ``adjust_reason`` of every case as codes into a small list of texts: "", ``readmission``,
    ``violation:TYPE``, or both joined by ``;``."""
    code = halved.astype(np.int32)
    names = ["", "readmission"]
    for i, v in enumerate(violation or ()):
        if v is None:
            continue
        text = f"readmission;violation:{v}" if halved[i] else f"violation:{v}"
        if text not in names:
            names.append(text)
        code[i] = names.index(text)
    return code, names


def _price_notes(noweight: np.ndarray, cls: np.ndarray, cases: CaseArrays, table: WeightTable,
                 coef_src: np.ndarray) -> np.ndarray:
    """The ``price_note`` of every case as a code into :data:`NOTE_NAMES`."""
    note = np.zeros(len(cls), np.int8)
    no_weight = noweight & (cls == UNSTABLE)
    w = np.maximum(cases.widx, 0)
    no_per_diem = no_weight & cases.per_diem & (cases.widx >= 0) & (table.arrays.base_u[w] >= 0)
    not_in_table = coef_src == _SOURCE["hospital_not_in_table"]
    note[no_weight] = 1
    note[no_per_diem] = 4
    note[not_in_table] = 2
    note[no_weight & not_in_table] = 3
    note[no_per_diem & not_in_table] = 5
    return note


NOTE_NAMES = ("", "no weight: priced as unstable", "hospital not in hospitals table: coef 1.0",
              "no weight: priced as unstable; hospital not in hospitals table",
              "per-diem case without per-diem points: priced as unstable",
              "per-diem case without per-diem points: priced as unstable; hospital not in hospitals table")


@dataclass
class PricedArrays:
    """Every case's price as numpy arrays (codes into small name lists for the text columns); the Arrow
    columns of :data:`PRICED_COLUMNS` are built per slice, so a file can be written while it streams."""

    n: int
    scale: int
    cls: np.ndarray
    pts: np.ndarray
    adjusted: np.ndarray
    ratio: np.ndarray
    halved: np.ndarray
    deduction: np.ndarray
    reason_code: np.ndarray
    reason_names: list
    note_code: np.ndarray
    widx: np.ndarray
    coef_u: np.ndarray
    coef_src: np.ndarray
    src_names: list
    bed_days: np.ndarray
    bp_u: np.ndarray
    pdp_u: np.ndarray
    high_h: np.ndarray
    mean_yuan: np.ndarray
    pd_yuan: np.ndarray
    viol_type: list | None
    viol_ref: list | None = None

    def columns(self, lo: int = 0, hi: int | None = None) -> dict[str, pa.Array]:
        """The priced columns of rows ``lo:hi`` (strings taken from the small name lists, never built per row)."""
        import pyarrow.compute as pc

        hi = self.n if hi is None else hi
        sl = slice(lo, hi)
        scale = self.scale

        def strings(codes: np.ndarray, names) -> pa.Array:
            return pc.take(pa.array(list(names), pa.string()), pa.array(codes.astype(np.int32, copy=False)))

        widx = self.widx[sl]
        cls = self.cls[sl]
        hasw = widx >= 0
        wsafe = np.maximum(widx, 0)
        bpw = np.where(hasw, self.bp_u[wsafe], -1)
        is_pd = cls == PER_DIEM
        pdw = np.where(hasw & is_pd, self.pdp_u[wsafe], -1)
        mean_y = np.where(hasw, np.where(is_pd, self.pd_yuan[widx], self.mean_yuan[widx]), np.nan)
        ratio = self.ratio[sl]
        return {
            "case_class": strings(cls, CLASS_NAMES),
            "base_points": pa.array(bpw / scale, pa.float64(), mask=bpw < 0),
            "per_diem_points": pa.array(pdw / scale, pa.float64(), mask=pdw < 0),
            "bed_days": pa.array(self.bed_days[sl], pa.int32()),
            "coef": pa.array(self.coef_u[sl] / COEF_SCALE, pa.float64(), mask=~hasw),
            "coef_source": strings(self.coef_src[sl], self.src_names),
            "mean_cost": pa.array(mean_y, pa.float64(), mask=np.isnan(mean_y)),
            "high_ratio": pa.array(np.where(hasw, self.high_h[wsafe], np.nan), pa.float64(), mask=~hasw | (bpw < 0)),
            "cost_ratio": pa.array(ratio, pa.float64(), mask=np.isnan(ratio)),
            "points": pa.array(self.pts[sl] / scale, pa.float64()),
            "adjusted_points": pa.array(self.adjusted[sl] / scale, pa.float64()),
            "adjust_reason": strings(self.reason_code[sl], self.reason_names),
            "deduction_points": pa.array(self.deduction[sl] / scale, pa.float64()),
            "violation": (pa.array(self.viol_type[lo:hi], pa.string()) if self.viol_type is not None
                          else pa.nulls(hi - lo, pa.string())),
            "violation_ref": (pa.array(self.viol_ref[lo:hi], pa.string()) if self.viol_ref is not None
                              else pa.nulls(hi - lo, pa.string())),
            "price_note": strings(self.note_code[sl], NOTE_NAMES),
        }

    def summary(self) -> dict:
        """Cases per class, point sums (exact: summed in units), halved stays and deductions."""
        return summary_of_sums(self.summary_sums(), self.scale)

    def summary_sums(self) -> dict:
        """The integers behind :meth:`summary` (cases per class, point sums in units, …): the sums of several
        files' cases add up, key by key (:func:`summary_of_sums`)."""
        counts = np.bincount(self.cls.astype(np.int64), minlength=len(CLASS_NAMES)) if self.n else \
            np.zeros(len(CLASS_NAMES), np.int64)
        return {"cases": self.n, "classes": [int(c) for c in counts], "points_u": int(self.pts.sum()),
                "adjusted_u": int(self.adjusted.sum()), "halved": int(self.halved.sum()),
                "deduction_u": int(self.deduction.sum())}


def summary_of_sums(sums: dict, scale: int) -> dict:
    """A pricing summary (cases per class, points, halved stays, deductions) from
    :meth:`PricedArrays.summary_sums`, or the key-by-key sum of several."""
    counts = sums["classes"]
    out: dict = {"cases": sums["cases"]}
    out.update({f"class {name}": int(counts[i]) for i, name in sorted(enumerate(CLASS_NAMES), key=lambda x: x[1])
                if counts[i]})
    out["points"] = round(sums["points_u"] / scale, 4)
    out["adjusted_points"] = round(sums["adjusted_u"] / scale, 4)
    out["readmissions_halved"] = sums["halved"]
    out["deduction_points"] = round(sums["deduction_u"] / scale, 4)
    return out
