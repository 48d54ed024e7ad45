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
(:func:`hospital_point_totals`, which also reports the part that could not be deducted).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa

from drg.errors import InputError
from drg.money import round_half_away
from drg.pricing.exact import (CLASS_NAMES, COEF_SCALE, PER_DIEM, REVIEW, UNGROUPABLE, UNSTABLE, pair_twin,
                               price_one_exact, scale_units_twin, to_units)
from drg.pricing.kernels import group_hash, pair_kernel, price_kernel, scale_units, sort_runs_by_dates
from drg.policy import Policy, load_policy
from drg.casefile.money import with_fen_columns
from drg.pricing.exact import is_ungroupable
from drg.pricing.weights import Weights, case_years, per_diem_mask, read_weights

__all__ = ["price_cases", "price_file", "hospital_point_totals", "read_reviews", "read_violations",
           "PRICED_COLUMNS"]

PRICED_COLUMNS = ("case_class", "base_points", "per_diem_points", "bed_days", "coef", "coef_source", "mean_cost",
                  "high_ratio", "cost_ratio", "points", "adjusted_points", "adjust_reason", "deduction_points",
                  "violation", "price_note")


# ----------------------------------------------------------------------------------------------- inputs
def _read_table(path: str | Path) -> pa.Table:
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
            column_types={"case_id": pa.string(), "violation": pa.string(), "note": pa.string()}))
    import pyarrow.parquet as pq

    return pq.read_table(path)


def read_reviews(path: str | Path) -> pa.Table:
    """Special-review table (特病单议): ``case_id, points, note`` (Parquet or CSV)."""
    t = _read_table(path)
    for c in ("case_id", "points"):
        if c not in t.column_names:
            raise InputError(f"missing column {c}", file=str(path), field=c)
    return t


def read_violations(path: str | Path) -> pa.Table:
    """Adjudicated violations: ``case_id, violation, serious`` and optional ``multiplier``."""
    t = _read_table(path)
    for c in ("case_id", "violation", "serious"):
        if c not in t.column_names:
            raise InputError(f"missing column {c}", file=str(path), field=c)
    return t


def _encode(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list]:
    """Dictionary-encode a string column: (int32 codes with -1 for null, dictionary values)."""
    import pyarrow.compute as pc

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    arr = arr.cast(pa.string())
    enc = pc.dictionary_encode(arr)
    codes = np.asarray(enc.indices.fill_null(-1), dtype=np.int32)
    return codes, enc.dictionary.to_pylist()


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
    cases = _checked(cases, policy, file)
    priced = _price_arrays(cases, weights, coefficients, policy, reviews=reviews, violations=violations, year=year,
                           engine=engine)
    return _with_priced_columns(cases, priced.columns())


def _with_priced_columns(cases: pa.Table, cols: dict[str, pa.Array]) -> pa.Table:
    """``cases`` with :data:`PRICED_COLUMNS` appended (an existing column of the same name is replaced)."""
    out = cases.drop_columns([c for c in PRICED_COLUMNS if c in cases.column_names])
    for name in PRICED_COLUMNS:
        out = out.append_column(name, cols[name])
    return out


def _checked(cases: pa.Table, policy: Policy, file: str) -> pa.Table:
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


def _price_arrays(cases: pa.Table, weights: Weights, coefficients: pa.Table, policy: Policy, *,
                  reviews: pa.Table | None, violations: pa.Table | None, year: int | None,
                  engine: str) -> _PricedArrays:
    """The pricing itself over the columns :func:`_checked` guarantees (every case at once: readmission pairs
    stays across the whole file)."""
    n = cases.num_rows
    scale = policy.points_scale
    pr = policy.pricing
    drgs, bp_u, pdp_u, mean, pdm, stable, h_dec, exact = _weights_arrays(weights, policy)
    high_h = np.array([float(h) for h in h_dec], np.float64)
    a_fen = float(weights.a_fen)      # the kernel's float A; near-ties go to the twin, which uses the exact A

    drg_codes, drg_dict = _encode(cases.column("drg"))
    w_of = {d: i for i, d in enumerate(drgs)}
    dict_w = np.array([w_of.get(d, -1) for d in drg_dict] + [-1], np.int32)
    widx = dict_w[drg_codes]                   # code -1 → last entry (-1)
    dict_ung = np.array([is_ungroupable(d) for d in drg_dict] + [True], bool)
    ungroupable = dict_ung[drg_codes]
    los = np.asarray(cases.column("los").cast(pa.int64()).fill_null(0), dtype=np.int64)
    bed_days = np.maximum(los, 1)
    adrg_col = cases.column("adrg") if "adrg" in cases.column_names else None
    per_diem = per_diem_mask(cases.column("drg"), adrg_col, los, policy)
    cost_fen = np.asarray(cases.column("total_cost_fen"), dtype=np.int64)

    # coefficients: hospital × weights-row matrix in units
    h_codes, h_dict = _encode(cases.column("hospital_id"))
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
        halved = _readmissions(cases, cls, ungroupable, policy, year, engine, drg_codes, h_codes)
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
    return _PricedArrays(n=n, scale=scale, cls=cls, pts=pts, adjusted=adjusted, ratio=ratio, halved=halved,
                         deduction=deduction, reason_code=reason_code, reason_names=reason_names,
                         note_code=note_code, widx=widx, coef_u=coef_u, coef_src=coef_src, src_names=src_names,
                         bed_days=bed_days, bp_u=bp_u, pdp_u=pdp_u, high_h=high_h, mean_yuan=mean_yuan,
                         pd_yuan=pd_yuan, viol_type=viol_type if viol_rows else None)


NOTE_NAMES = ("", "no weight: priced as unstable", "hospital not in hospitals table: coef 1.0",
              "no weight: priced as unstable; hospital not in hospitals table",
              "per-diem case without per-diem points: priced as unstable",
              "per-diem case without per-diem points: priced as unstable; hospital not in hospitals table")


@dataclass
class _PricedArrays:
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


def _readmissions(cases: pa.Table, cls: np.ndarray, ungroupable: np.ndarray, policy: Policy, year: int | None,
                  engine: str, drg_codes: np.ndarray, h_codes: np.ndarray) -> np.ndarray:
    """Mask of stays halved as readmissions (SPEC §5.1)."""
    import pyarrow.compute as pc

    rp = policy.readmission
    n = cases.num_rows
    years = case_years(cases)
    admit = np.asarray(cases.column("admit_date").cast(pa.int32()).fill_null(-(2 ** 30)), dtype=np.int64)
    dis = np.asarray(cases.column("discharge_date").cast(pa.int32()).fill_null(-(2 ** 30)), dtype=np.int64)
    pat = cases.column("patient_id")
    m_codes = drg_codes if rp.match == "drg" else _encode(cases.column("adrg"))[0]
    eligible = ~ungroupable & ~np.asarray(pat.is_null(), dtype=bool) & (m_codes >= 0) & \
        (admit > -(2 ** 30)) & (dis > -(2 ** 30))
    if year is not None:
        eligible &= years == year
    if "adrg" in cases.column_names and rp.exempt_adrgs:
        ex = pc.is_in(cases.column("adrg").cast(pa.string()), value_set=pa.array(list(rp.exempt_adrgs), pa.string()))
        eligible &= ~np.asarray(ex.fill_null(False), dtype=bool)
    halvable = ~np.isin(cls, (PER_DIEM, UNGROUPABLE, REVIEW))
    hosp = h_codes if rp.scope == "hospital" else np.zeros(n, np.int32)
    if engine == "python":
        ids = cases.column("case_id").cast(pa.string()).to_pylist()
        pats = pat.cast(pa.string()).to_pylist()
        hs = cases.column("hospital_id").cast(pa.string()).to_pylist()
        ms = cases.column(rp.match).cast(pa.string()).to_pylist()
        stays = [{"key": (pats[i], hs[i] if rp.scope == "hospital" else "", ms[i], int(years[i])),
                  "admit": int(admit[i]), "discharge": int(dis[i]), "case_id": ids[i],
                  "halvable": bool(halvable[i])} for i in np.nonzero(eligible)[0]]
        halved_ids = pair_twin(stays, rp.window_days)
        return np.array([x in halved_ids for x in ids], bool)
    e = np.nonzero(eligible)[0]
    if len(e) < 2:
        return np.zeros(n, bool)
    sorted_ = _sort_stays_hashed(pat, e, hosp, m_codes, years, admit, dis)
    if sorted_ is None:   # a 64-bit hash collision between two patients: take the exact road
        sorted_ = _sort_stays_exact(pat, e, hosp, m_codes, years, admit, dis)
    s, same = sorted_
    a_s, d_s = admit[s], dis[s]
    # ties on (group, admit, discharge) are broken by case id, so the row order never matters
    tie = same[:-1] & (a_s[1:] == a_s[:-1]) & (d_s[1:] == d_s[:-1])
    if tie.any():
        ids = cases.column("case_id").cast(pa.string())
        t_idx = np.nonzero(tie)[0]
        starts = t_idx[np.r_[True, t_idx[1:] != t_idx[:-1] + 1]]
        for st in starts:
            en = st + 1
            while en < len(tie) and tie[en]:
                en += 1
            block = s[st:en + 1]
            block_ids = ids.take(pa.array(block)).to_pylist()
            s[st:en + 1] = block[np.argsort(np.array(block_ids, dtype=object), kind="stable")]
    mask_sorted = pair_kernel(same, a_s, d_s, halvable[s], rp.window_days)  # a tie reorder keeps a_s, d_s
    out = np.zeros(n, bool)
    out[s[mask_sorted]] = True
    return out


def _sort_stays_exact(pat, e, hosp, m_codes, years, admit, dis):
    """Eligible stays sorted by (group, admission, discharge) with dictionary codes of the patient ids.

    Returns ``(s, same)``: case rows in sorted order and whether each sorted stay's successor is in its
    group. Group order is arbitrary; only membership and the order inside a group matter.
    """
    p_codes, _ = _encode(pat)
    pe, he, me = p_codes[e].astype(np.int64), hosp[e].astype(np.int64), m_codes[e].astype(np.int64)
    ye = years[e].astype(np.int64) - int(years[e].min())
    nh, nm, ny = int(he.max()) + 1, int(me.max()) + 1, int(ye.max()) + 1
    if (int(pe.max()) + 1) * nh * nm * ny < 2 ** 62:
        gkey = ((pe * nh + he) * nm + me) * ny + ye
    else:  # pragma: no cover - astronomically many groups
        _, gkey = np.unique(np.stack([pe, he, me, ye], axis=1), axis=0, return_inverse=True)
    order = np.lexsort((dis[e], admit[e], gkey))
    g = gkey[order]
    return e[order], np.r_[g[1:] == g[:-1], False]


def _sort_stays_hashed(pat, e, hosp, m_codes, years, admit, dis):
    """As :func:`_sort_stays_exact`, grouping by a 64-bit hash of (patient, hospital, match code, year).

    One sort of the hash, then each run of equal hashes is ordered by dates. The result is then checked
    exactly: every two neighbours of a run must have the same patient id (compared as strings), hospital,
    match code and year. On a collision it returns None and the caller takes the exact road.
    """
    import polars as pl
    import pyarrow.compute as pc

    ph = pl.from_arrow(pat.combine_chunks() if isinstance(pat, pa.ChunkedArray) else pat).hash(seed=7).to_numpy()
    g = group_hash(ph, hosp, m_codes, years, e)
    order = pl.Series(g).arg_sort().to_numpy()   # multi-threaded: about twice numpy's argsort on 2 cores
    s = e[order]
    gs = g[order]
    sort_runs_by_dates(gs, s, admit, dis)
    same = np.r_[gs[1:] == gs[:-1], False]
    i = np.nonzero(same)[0]
    if len(i):
        a, b = s[i], s[i + 1]
        if not (np.array_equal(hosp[a], hosp[b]) and np.array_equal(m_codes[a], m_codes[b])
                and np.array_equal(years[a], years[b])):
            return None
        if not pc.all(pc.equal(pat.take(pa.array(a)), pat.take(pa.array(b)))).as_py():
            return None
    return s, same


def hospital_point_totals(priced: pa.Table, policy: Policy) -> pa.Table:
    """Per hospital and pool (SPEC §5.3): ``hospital_id, insurance_type, cases, points, adjusted_points,
    deduction_points, total_points, undeducted_points, total_points_units, undeducted_points_units,
    points_scale``.

    ``total_points = max(0, Σ adjusted_points − Σ deduction_points)``; ``undeducted_points`` is the part
    of the deduction that could not be taken. Sums are exact: ``*_units`` are int64 in units of
    ``1 / points_scale`` (use these for money); the float columns are the same rounded to the decimals.
    ``insurance_type`` is ``"all"`` when the policy does not pool by insurance type.
    """
    import polars as pl

    scale = policy.points_scale
    df = pl.from_arrow(priced.select([c for c in ("hospital_id", "insurance_type", "points", "adjusted_points",
                                                  "deduction_points") if c in priced.column_names]))
    if "insurance_type" not in df.columns or not policy.pools_by_insurance_type:
        df = df.with_columns(pl.lit("all").alias("insurance_type"))
    u = lambda c: (pl.col(c) * scale).round(0).cast(pl.Int64)  # noqa: E731 - values are exact 4-dec floats
    g = df.group_by(["hospital_id", "insurance_type"]).agg(
        pl.len().alias("cases"), u("points").sum().alias("p"), u("adjusted_points").sum().alias("a"),
        u("deduction_points").sum().alias("d")).sort(["insurance_type", "hospital_id"])
    g = g.with_columns((pl.col("a") - pl.col("d")).clip(lower_bound=0).alias("t"),
                       (pl.col("d") - pl.col("a")).clip(lower_bound=0).alias("x"))
    return g.select("hospital_id", "insurance_type", "cases",
                    *[(pl.col(k) / scale).round(policy.points_decimals).alias(name)
                      for k, name in (("p", "points"), ("a", "adjusted_points"), ("d", "deduction_points"),
                                      ("t", "total_points"), ("x", "undeducted_points"))],
                    pl.col("t").alias("total_points_units"), pl.col("x").alias("undeducted_points_units"),
                    pl.lit(scale, pl.Int64).alias("points_scale")).to_arrow()


# Columns whose Parquet statistics (min/max) a priced file keeps: the ones a reader filters on. Statistics of
# the other 40-odd columns (lists of codes, texts, floats) cost about a sixth of the write and serve no one.
STATISTICS_COLUMNS = ("case_id", "patient_id", "hospital_id", "insurance_type", "county", "admit_date",
                      "discharge_date", "mdc", "adrg", "drg", "case_class")
PRICING_INPUTS = ("case_id", "patient_id", "hospital_id", "insurance_type", "drg", "adrg", "los", "admit_date",
                  "discharge_date", "total_cost", "fund_paid", "self_paid", "other_paid", "total_cost_fen",
                  "fund_paid_fen", "self_paid_fen", "other_paid_fen")


def price_file(cases: str | Path, tables: str | Path, policy: str | Path | Policy, out: str | Path, *,
               reviews: str | Path | None = None, violations: str | Path | None = None, year: int | None = None,
               engine: str = "numba") -> dict:
    """``drg points``: read grouped cases and the tables of ``drg weights``, price, write Parquet (zstd).

    ``year`` defaults to the policy's ``policy.year``. Also writes ``OUT.hospital_totals.parquet`` beside ``out`` (:func:`hospital_point_totals`). Returns a
    summary dict (cases per class, total points, halved stays, deductions).

    A Parquet input is read twice: first the columns pricing needs (every case at once, since readmission
    pairs stays across the file), then row group by row group with every column, each written out with its
    priced columns while the next is read (:mod:`drg.casefile.background`). The file equals
    ``price_cases(read_grouped(cases), …)`` written as one table.
    """
    import pyarrow.parquet as pq

    from drg.pricing.coefficients import read_coefficients
    from drg.pricing.weights import read_grouped

    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    year = year if year is not None else pol.year
    tables = Path(tables)
    w = read_weights(tables / "weights.parquet")
    c = read_coefficients(tables / "coefficients.parquet")
    rv = read_reviews(reviews) if reviews else None
    vv = read_violations(violations) if violations else None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    source = _parquet_source(cases)
    _check_schemes(source, w, pol, str(cases), str(tables))
    # CSV / Excel, or an empty Parquet file: one table; else the pricing columns now, every column streamed later
    columns = None if source is None else [n for n in PRICING_INPUTS if n in source.schema_arrow.names]
    keys = _checked(read_grouped(cases, columns=columns), pol, str(cases))
    priced = _price_arrays(keys, w, c, pol, reviews=rv, violations=vv, year=year, engine=engine)
    if source is None:
        rows = [_with_priced_columns(keys, priced.columns())]
        schema = rows[0].schema
    else:
        rows, schema = _priced_row_groups(source, keys, priced)
    meta = {**(schema.metadata or {}), b"drg.policy_id": pol.id.encode()}
    if w.scheme_id:
        meta[b"drg.scheme_id"] = w.scheme_id.encode()
    with _PricedWriter(out, schema.with_metadata(meta)) as writer:
        for table in rows:
            writer.write(table)
        totals = hospital_point_totals(_totals_input(keys, priced), pol)    # while the last ones are written
    totals_path = out.with_name(out.stem + ".hospital_totals.parquet")
    pq.write_table(totals, totals_path)
    return priced.summary() | {"hospital_totals": str(totals_path)}


def _check_schemes(source, weights: Weights, policy: Policy, cases: str, tables: str) -> None:
    """The grouped cases, the weights and the policy name one grouping scheme (a mismatch is an error: points
    of one edition's DRGs priced with another edition's weights mean nothing)."""
    meta = (source.schema_arrow.metadata or {}) if source is not None else {}
    case_scheme = meta.get(b"drg.scheme_id", b"").decode() or None
    if case_scheme and weights.scheme_id and case_scheme != weights.scheme_id:
        raise InputError(f"the cases were grouped with scheme {case_scheme!r}, the weights in {tables} were "
                         f"computed with {weights.scheme_id!r}", file=cases, field="drg")
    policy.check_scheme(case_scheme, what="the cases", file=cases)
    policy.check_scheme(weights.scheme_id, what="the weights' history cases", file=tables)


def _parquet_source(cases: str | Path):
    """A :class:`pyarrow.parquet.ParquetFile` for a non-empty Parquet input, else None."""
    import pyarrow.parquet as pq

    path = Path(cases)
    if path.suffix.lower() not in (".parquet", ".pq") or not path.exists():
        return None
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    return pf if pf.metadata.num_rows and pf.num_row_groups else None


def _priced_row_groups(source, keys: pa.Table, priced: _PricedArrays):
    """Each row group of ``source`` with every column, the ``*_fen`` columns it lacks and its priced columns
    (read one ahead on a background thread); and the schema of those tables."""
    from drg.casefile.background import prefetch

    names = source.schema_arrow.names
    fen_added = [c for c in keys.column_names if c.endswith("_fen") and c not in names]
    schema = _with_priced_columns(_fen_slice(source.schema_arrow.empty_table(), keys, fen_added, 0),
                                  priced.columns(0, 0)).schema

    def tables():
        lo = 0
        for rg in prefetch(source.read_row_group(i) for i in range(source.num_row_groups)):
            hi = lo + rg.num_rows
            yield _with_priced_columns(_fen_slice(rg, keys, fen_added, lo), priced.columns(lo, hi))
            lo = hi
        if lo != keys.num_rows:
            raise InputError(f"the file changed while it was read ({keys.num_rows} rows, then {lo})")

    return tables(), schema


def _fen_slice(rg: pa.Table, keys: pa.Table, fen_added: list[str], lo: int) -> pa.Table:
    """``rg`` (rows ``lo…`` of the file) with the ``*_fen`` columns computed in the first pass."""
    for c in fen_added:
        rg = rg.append_column(c, keys.column(c).slice(lo, rg.num_rows))
    return rg


class _PricedWriter:
    """Writes priced tables (zstd; statistics for :data:`STATISTICS_COLUMNS`) on a background thread, at most
    two tables behind; leaving the ``with`` block waits for the last one. The file is written beside ``out``
    as ``OUT.partial`` and takes its name only when complete: an error leaves no half-priced file (and an
    earlier ``out`` untouched)."""

    def __init__(self, out: Path, schema: pa.Schema) -> None:
        import pyarrow.parquet as pq

        from drg.casefile.background import WriteBehind

        self._out = out
        self._partial = out.with_name(out.name + ".partial")
        stats = [c for c in STATISTICS_COLUMNS if c in schema.names]
        self._file = pq.ParquetWriter(self._partial, schema, compression="zstd", write_statistics=stats)
        self._behind = WriteBehind(self._file.write_table)

    def write(self, table: pa.Table) -> None:
        self._behind.write(table)

    def __enter__(self) -> _PricedWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        try:
            try:
                self._behind.close()
            finally:
                self._file.close()
        except BaseException:
            self._partial.unlink(missing_ok=True)
            raise
        if exc_type is not None:
            self._partial.unlink(missing_ok=True)
        else:
            self._partial.replace(self._out)


def _totals_input(keys: pa.Table, priced: _PricedArrays) -> pa.Table:
    scale = priced.scale
    cols = {c: keys.column(c) for c in ("hospital_id", "insurance_type") if c in keys.column_names}
    cols |= {"points": pa.array(priced.pts / scale), "adjusted_points": pa.array(priced.adjusted / scale),
             "deduction_points": pa.array(priced.deduction / scale)}
    return pa.table(cols)
