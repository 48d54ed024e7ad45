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
from drg.money import round_half_away
from drg.pricing.exact import (CLASS_NAMES, COEF_SCALE, PER_DIEM, REVIEW, UNGROUPABLE, UNSTABLE, price_one_exact, scale_units_twin, to_units)
from drg.pricing.kernels import price_kernel, scale_units
from drg.policy import Policy
from drg.casefile.money import with_fen_columns
from drg.pricing.classes import drg_mask, per_diem_mask
from drg.pricing.columns import encode_strings
from drg.pricing.weights import Weights
from drg.pricing.readmission import halved_stays

__all__ = ['PRICED_COLUMNS', 'NOTE_NAMES', 'PricedArrays', 'checked_columns', 'price_arrays', 'price_cases', 'with_priced_columns']


PRICED_COLUMNS = ("case_class", "base_points", "per_diem_points", "bed_days", "coef", "coef_source", "mean_cost",
                  "high_ratio", "cost_ratio", "points", "adjusted_points", "adjust_reason", "deduction_points",
                  "violation", "price_note")


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


def _by_case_id(case_ids: pa.ChunkedArray, table: pa.Table, file: str) -> np.ndarray:
    """Row of ``table`` for each case (-1 if none); a duplicated case id in ``table`` is an error."""
    import pyarrow.compute as pc

    ids = table.column("case_id").cast(pa.string())
    if pc.count_distinct(ids).as_py() != len(ids) or ids.null_count:
        vals = ids.to_pylist()
        seen = set()
        for i, v in enumerate(vals, start=1):
            if v is None or v in seen:
                raise InputError("case_id missing or duplicated", file=file, row=i, field="case_id")
            seen.add(v)
    idx = pc.index_in(case_ids.cast(pa.string()), value_set=ids.combine_chunks())
    return np.asarray(idx.fill_null(-1), dtype=np.int64)


# ----------------------------------------------------------------------------------------------- pricing
def _weights_arrays(weights: Weights, policy: Policy):
    t = weights.table
    scale = policy.points_scale
    drgs = t.column("drg").to_pylist()
    bp = t.column("base_points").to_pylist()
    pdp = t.column("per_diem_points").to_pylist()
    bp_u = np.array([-1 if v is None else to_units(v, scale) for v in bp], np.int64)
    pdp_u = np.array([-1 if v is None else to_units(v, scale) for v in pdp], np.int64)
    mean = np.array([np.nan if v is None else v for v in t.column("mean_cost_fen").to_pylist()], np.float64)
    pdm = np.array([np.nan if v is None else v for v in t.column("per_diem_mean_fen").to_pylist()], np.float64)
    stable = np.asarray(t.column("stable").fill_null(False), dtype=bool)
    h_dec = [policy.pricing.high_ratio(Decimal(repr(v))) if v is not None else Decimal(0) for v in bp]
    exact = {"mean": _exact_column(t, "mean_cost_exact", mean), "pdm": _exact_column(t, "per_diem_mean_exact", pdm)}
    return drgs, bp_u, pdp_u, mean, pdm, stable, h_dec, exact


def _exact_column(t: pa.Table, name: str, floats: np.ndarray) -> list:
    """Exact means (``Fraction`` fen) from a ``num/den`` column; tables written before it existed fall back
    to the float64 values."""
    if name in t.column_names:
        return [None if v is None else Fraction(v) for v in t.column(name).to_pylist()]
    return [None if np.isnan(v) else Fraction(float(v)) for v in floats]


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


def price_arrays(cases: pa.Table, weights: Weights, coefficients: pa.Table, policy: Policy, *,
                  reviews: pa.Table | None, violations: pa.Table | None, year: int | None,
                  engine: str) -> PricedArrays:
    """The pricing itself over the columns :func:`checked_columns` guarantees (every case at once: readmission pairs
    stays across the whole file)."""
    n = cases.num_rows
    scale = policy.points_scale
    pr = policy.pricing
    drgs, bp_u, pdp_u, mean, pdm, stable, h_dec, exact = _weights_arrays(weights, policy)
    high_h = np.array([float(h) for h in h_dec], np.float64)
    a_fen = float(weights.a_fen)      # the kernel's float A; near-ties go to the twin, which uses the exact A

    drg_codes, drg_dict = encode_strings(cases.column("drg"))
    w_of = {d: i for i, d in enumerate(drgs)}
    dict_w = np.array([w_of.get(d, -1) for d in drg_dict] + [-1], np.int32)
    widx = dict_w[drg_codes]                   # code -1 → last entry (-1)
    ungroupable = ~drg_mask(drg_dict)[drg_codes]                  # code -1 (null) → last entry
    los = np.asarray(cases.column("los").cast(pa.int64()).fill_null(0), dtype=np.int64)
    bed_days = np.maximum(los, 1)
    adrg_col = cases.column("adrg") if "adrg" in cases.column_names else None
    per_diem = per_diem_mask(cases.column("drg"), adrg_col, los, policy)
    cost_fen = np.asarray(cases.column("total_cost_fen"), dtype=np.int64)

    # coefficients: hospital × weights-row matrix in units
    h_codes, h_dict = encode_strings(cases.column("hospital_id"))
    ct = coefficients
    c_h = ct.column("hospital_id").to_pylist()
    c_d = ct.column("drg").to_pylist()
    c_v = ct.column("coef").to_pylist()
    c_s = ct.column("coef_source").to_pylist()
    known = {h: i for i, h in enumerate(sorted(set(c_h)))}
    src_names = ["hospital", "tier", "1.0", "hospital_not_in_table", "no_weight"]
    src_code = {s: i for i, s in enumerate(src_names)}
    nw = len(drgs)
    mat = np.full((len(known) + 1, max(nw, 1)), COEF_SCALE, np.int64)   # coefficients in 1/10,000
    smat = np.full((len(known) + 1, max(nw, 1)), src_code["1.0"], np.int8)
    smat[len(known), :] = src_code["hospital_not_in_table"]
    c_units = _units_vector(c_v, COEF_SCALE)
    for h, d, u, s in zip(c_h, c_d, c_units.tolist(), c_s):
        w = w_of.get(d)
        if w is not None:
            mat[known[h], w] = u
            smat[known[h], w] = src_code.get(s, src_code["1.0"])
    hrow_dict = np.array([known.get(h, len(known)) for h in h_dict] + [len(known)], np.int64)
    hrow = hrow_dict[h_codes]
    wsafe = np.maximum(widx, 0)
    coef_u = np.where(widx >= 0, mat[hrow, wsafe], COEF_SCALE)
    coef_src = np.where(widx >= 0, smat[hrow, wsafe], src_code["no_weight"])

    # reviews
    review = np.zeros(n, bool)
    review_u = np.zeros(n, np.int64)
    if reviews is not None and reviews.num_rows:
        ri = _by_case_id(cases.column("case_id"), reviews, "reviews")
        review = ri >= 0
        rp = reviews.column("points").to_pylist()
        for i, v in enumerate(rp, start=1):
            if v is None or (isinstance(v, float) and not np.isfinite(v)) or v < 0:
                raise InputError("review points missing or negative", file="reviews", row=i, field="points")
        r_units = np.array([to_units(v if not isinstance(v, float) else v, scale) for v in rp], np.int64)
        review_u[review] = r_units[ri[review]]

    low_l = pr.low_ratio
    jin = pr.low_outlier_rule == "jinhua"
    ung_review = pr.ungroupable == "review"
    if engine == "numba":
        cls, pts, ratio, flag, noweight = price_kernel(
            cost_fen, bed_days, ungroupable, review, review_u, per_diem, widx, coef_u, bp_u, mean, stable, high_h,
            pdp_u, pdm, a_fen, float(low_l), jin, ung_review, float(pr.ungroupable_factor), scale)
        redo = np.nonzero(flag)[0]
    elif engine == "python":
        cls = np.empty(n, np.int8)
        pts = np.empty(n, np.int64)
        ratio = np.empty(n, np.float64)
        noweight = np.zeros(n, bool)
        redo = np.arange(n)
    else:
        raise ValueError(f"engine must be 'numba' or 'python', got {engine!r}")
    for i in redo:
        w = int(widx[i])
        hasw = w >= 0 and bp_u[w] >= 0
        c_, p_, r_, nw_ = price_one_exact(
            int(cost_fen[i]), int(bed_days[i]), bool(ungroupable[i]), bool(review[i]), int(review_u[i]),
            bool(per_diem[i]), int(coef_u[i]), int(bp_u[w]) if hasw else None,
            exact["mean"][w] if hasw else None, bool(stable[w]) if w >= 0 else False,
            h_dec[w] if hasw else Decimal(0), int(pdp_u[w]) if w >= 0 and pdp_u[w] >= 0 else None,
            exact["pdm"][w] if w >= 0 and pdp_u[w] >= 0 else None, weights.a_fen, low_l, jin, ung_review,
            pr.ungroupable_factor, scale)
        if review[i] and w >= 0 and exact["mean"][w] is not None:
            r_ = float(cost_fen[i]) / float(mean[w])
        cls[i], pts[i], ratio[i], noweight[i] = c_, p_, r_, nw_

    # ---- readmission (§5.1)
    adjusted = pts.copy()
    halved = np.zeros(n, bool)
    rp_ = policy.readmission
    if rp_.enabled and n:
        halved = halved_stays(cases, cls, ungroupable, policy, year, engine, drg_codes, h_codes)
        if halved.any():
            idx = np.nonzero(halved)[0]
            adjusted[idx] = (scale_units(pts[idx], rp_.factor) if engine == "numba"
                             else np.array(scale_units_twin(pts[idx], rp_.factor), np.int64))

    # ---- violations (§5.2)
    deduction = np.zeros(n, np.int64)
    viol_type: list | None = None
    viol_rows: list[int] = []
    if violations is not None and violations.num_rows:
        vi = _by_case_id(cases.column("case_id"), violations, "violations")
        vt = violations.column("violation").cast(pa.string()).to_pylist()
        vs = violations.column("serious").to_pylist()
        vm = violations.column("multiplier").to_pylist() if "multiplier" in violations.column_names else \
            [None] * violations.num_rows
        viol_type = [None] * n
        for i in np.nonzero(vi >= 0)[0]:
            j = int(vi[i])
            viol_type[i] = vt[j]
            viol_rows.append(int(i))
            serious = vs[j]
            if isinstance(serious, str):
                serious = serious.strip().lower() in ("1", "true", "yes", "y", "t")
            if serious:
                m = vm[j]
                if m is None:
                    m = policy.violations.multiplier(vt[j])
                    if m is None:
                        raise InputError(f"violation type {vt[j]!r} has no multiplier in the policy "
                                         "(violations.multipliers) and the row gives none", file="violations",
                                         row=j + 1, field="multiplier")
                m = Fraction(Decimal(repr(m)) if isinstance(m, float) else Decimal(m))
                w = int(widx[i])
                by_bp = cls[i] not in (PER_DIEM, UNGROUPABLE, REVIEW) and not noweight[i] and w >= 0 \
                    and bp_u[w] >= 0
                base = int(bp_u[w]) if by_bp else int(adjusted[i])
                deduction[i] = round_half_away(m * base)
            adjusted[i] = 0

    reason_code = halved.astype(np.int32)               # 0 "", 1 "readmission", 2.. per violation text
    reason_names = ["", "readmission"]
    for i in viol_rows:
        text = f"violation:{viol_type[i]}"
        text = f"readmission;{text}" if halved[i] else text
        if text not in reason_names:
            reason_names.append(text)
        reason_code[i] = reason_names.index(text)
    note_code = np.zeros(n, np.int8)
    no_w = noweight & (cls == UNSTABLE)
    no_pd = no_w & per_diem & (widx >= 0) & (bp_u[wsafe] >= 0)   # per-diem, but no per-diem points
    note_code[no_w] = 1
    note_code[no_pd] = 4
    not_in_table = coef_src == src_code["hospital_not_in_table"]
    note_code[not_in_table] = 2
    note_code[no_w & not_in_table] = 3
    note_code[no_pd & not_in_table] = 5
    mean_yuan = np.array([np.nan if v is None else v for v in weights.table.column("mean_cost").to_pylist()]
                         + [np.nan])
    pd_yuan = np.array([np.nan if v is None else v for v in (
        weights.table.column("per_diem_mean_cost").to_pylist() if "per_diem_mean_cost" in weights.table.column_names
        else [None if x is None else x / 100 for x in weights.table.column("per_diem_mean_fen").to_pylist()])]
        + [np.nan])
    return PricedArrays(n=n, scale=scale, cls=cls, pts=pts, adjusted=adjusted, ratio=ratio, halved=halved,
                         deduction=deduction, reason_code=reason_code, reason_names=reason_names,
                         note_code=note_code, widx=widx, coef_u=coef_u, coef_src=coef_src, src_names=src_names,
                         bed_days=bed_days, bp_u=bp_u, pdp_u=pdp_u, high_h=high_h, mean_yuan=mean_yuan,
                         pd_yuan=pd_yuan, viol_type=viol_type if viol_rows else None)


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
            "price_note": strings(self.note_code[sl], NOTE_NAMES),
        }

    def summary(self) -> dict:
        """Cases per class, point sums (exact: summed in units), halved stays and deductions."""
        counts = np.bincount(self.cls.astype(np.int64), minlength=len(CLASS_NAMES)) if self.n else \
            np.zeros(len(CLASS_NAMES), np.int64)
        out: dict = {"cases": self.n}
        out.update({f"class {name}": int(counts[i]) for i, name in sorted(enumerate(CLASS_NAMES), key=lambda x: x[1])
                    if counts[i]})
        out["points"] = round(int(self.pts.sum()) / self.scale, 4)
        out["adjusted_points"] = round(int(self.adjusted.sum()) / self.scale, 4)
        out["readmissions_halved"] = int(self.halved.sum())
        out["deduction_points"] = round(int(self.deduction.sum()) / self.scale, 4)
        return out
