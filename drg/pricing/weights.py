"""Weights from history (基准点数, SPEC §2): trimming, year-weighted means, the all-DRG mean A, base
points, stability and per-diem points; also the reading of grouped case files shared by the payment steps.

Exactness: trimming decisions are taken in float64 on the cost after the cost index; the means of the kept
cases, A and the base points are then computed in rational arithmetic from integer fen sums, so the
4-decimal rounding of ``BP_d = mean_d / A × 100`` is half away from zero on the exact value.
The table keeps ``mean_cost_fen`` (float64, the value pricing divides by) and ``mean_cost`` (yuan).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyarrow as pa

from drg.casefile.money import with_fen_columns
from drg.errors import InputError
from drg.money import round_half_away
from drg.policy import Policy
from drg.pricing.classes import drg_mask, per_diem_mask
from drg.pricing.columns import case_years, encode_strings

__all__ = ["Weights", "compute_weights", "grouped_scheme_id", "one_scheme", "read_grouped", "trim_mask", "write_weights",
           "read_weights", "HistoryRows", "HistoryYears", "DrgYearSums", "history_rows", "history_years",
           "drg_year_sums", "weights_from_sums"]



# ----------------------------------------------------------------------------------------------- reading
def grouped_scheme_id(path: str | Path, *, command: str) -> str | None:
    """The scheme id a grouped Parquet file was grouped with (None for CSV/Excel, or a file without one).

    A Parquet file without ``group_status`` was not produced by a grouping: an error telling the person to
    run ``drg group`` first (a ``drg`` column in it would be priced as if it were a group).
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if path.suffix.lower() not in (".parquet", ".pq"):
        return None
    if not path.exists():
        raise InputError("file not found", file=str(path))
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    if "group_status" not in schema.names:
        has = "a drg column that no grouping produced" if "drg" in schema.names else "no drg column"
        raise InputError(f"the file was not grouped (no group_status column; it has {has}): run `drg group "
                         f"--scheme SCHEME --cases {path.name} --out GROUPED` first, then `drg {command}` on the "
                         "grouped file", file=str(path), field="group_status")
    return (schema.metadata or {}).get(b"drg.scheme_id", b"").decode() or None


def one_scheme(ids: dict[str, str | None]) -> str | None:
    """The one scheme id of ``{file: scheme id}`` (files without an id are left out); files grouped with
    different schemes are an error naming two of them."""
    first: dict[str, str] = {}
    for f, s in ids.items():
        if s:
            first.setdefault(s, f)
    if len(first) > 1:
        (s1, f1), (s2, f2) = list(first.items())[:2]
        raise InputError(f"the files were grouped with different schemes: {f1} with {s1}, {f2} with {s2}; group "
                         "them with the same scheme")
    return next(iter(first), None)


def read_grouped(path: str | Path, columns: list[str] | None = None) -> pa.Table:
    """Read a grouped case file: Parquet with pyarrow (the file of ``drg group``, already validated), CSV or
    Excel through :func:`drg.casefile.reader.read_cases`. Money columns in yuan are kept and ``*_fen`` int64 columns
    are added (``other_paid_fen`` is 0 when the column is absent)."""
    from drg.casefile.parquet import read_parquet

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.suffix.lower() not in (".parquet", ".pq"):
        return _read_small(path, columns)
    try:
        t = read_parquet(path, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    return with_fen_columns(t, file=str(path))


def _read_small(path: Path, columns: list[str] | None) -> pa.Table:
    """CSV / Excel grouped cases through :func:`drg.casefile.reader.read_cases` (exact money, GBK detection); a row
    the reader rejects is an error here (rejects belong to ``drg check``/``drg group``)."""
    from drg.casefile.reader import read_cases

    parts = []
    for batch in read_cases(path, required=("case_id", "hospital_id", "los", "discharge_date", "total_cost")):
        if batch.rejected is not None and batch.rejected.num_rows:
            r = batch.rejected.slice(0, 1).to_pylist()[0]
            raise InputError(f"row rejected: {r.get('reject_reason')} {r.get('reject_detail') or ''}".strip(),
                             file=str(path), row=r.get("row_number"))
        parts.append(pa.Table.from_batches([batch.accepted]))
    t = pa.concat_tables(parts) if parts else pa.table({})
    if "row_number" in t.column_names:
        t = t.drop_columns(["row_number"])
    for c in ("mdc", "adrg", "drg", "group_status", "group_note"):
        if c in t.column_names and not pa.types.is_string(t.column(c).type):
            t = t.set_column(t.column_names.index(c), c, t.column(c).cast(pa.string()))
    if columns:
        t = t.select([c for c in columns if c in t.column_names] +
                     [c for c in t.column_names if c.endswith("_fen") and c not in columns])
    return t


def _require(t: pa.Table, cols: list[str], file: str) -> None:
    missing = [c for c in cols if c not in t.column_names]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=file, field=missing[0])


def _str_col(t: pa.Table, name: str) -> np.ndarray:
    if name not in t.column_names:
        return np.full(t.num_rows, "", dtype=object)
    return np.asarray(t.column(name).cast(pa.string()).fill_null("").to_numpy(zero_copy_only=False),
                      dtype=object)


def trim_mask(values: np.ndarray, group: np.ndarray, policy: Policy) -> np.ndarray:
    """Keep-mask after trimming within each group (SPEC §2.2), one pass.

    ``sd``: keep ``|x − mean| ≤ k·SD`` (sample SD), groups under 2 cases untouched; ``percentile``: keep
    ``lo_q ≤ x ≤ hi_q`` (linear interpolation); ``none``: keep all.
    """
    trim = policy.weights.trim
    n = len(values)
    keep = np.ones(n, bool)
    if trim.method == "none" or n == 0:
        return keep
    # the groups' boundaries from their sizes (groups are small non-negative keys: no sorted copy of them)
    if group.min() >= 0 and group.max() < max(4 * n, 1 << 20):
        sizes = np.bincount(group)
        sizes = sizes[sizes > 0]
    else:
        sizes = np.unique(group, return_counts=True)[1]
    ends = np.cumsum(sizes)
    starts = ends - sizes
    order = np.argsort(group, kind="stable")
    k = float(trim.k)
    for s, e in zip(starts.tolist(), ends.tolist()):
        idx = order[s:e]
        x = values[idx]
        if trim.method == "sd":
            if len(x) < 2:
                continue
            m = x.mean()
            sd = x.std(ddof=1)
            keep[idx] = np.abs(x - m) <= k * sd * (1 + 1e-12) + 1e-9 * abs(m)
        else:
            lo, hi = np.percentile(x, [float(trim.lo), float(trim.hi)])
            keep[idx] = (x >= lo) & (x <= hi)
    return keep


# ----------------------------------------------------------------------------------------------- weights
@dataclass(frozen=True)
class Weights:
    """The weights table and its city-wide constants.

    ``table`` columns: ``drg, n_cases, mean_cost, mean_cost_fen, cv, stable, base_points, per_diem_points,
    per_diem_cases, per_diem_mean_fen, per_diem_mean_cost`` (one row per DRG with trimmed history; ``*_fen``
    are the float64 values pricing divides by, ``mean_cost``/``per_diem_mean_cost`` the same in yuan).
    """

    table: pa.Table
    a_fen: Fraction            # all-DRG mean cost per case, exact
    years: tuple[int, ...]
    policy_id: str
    scheme_id: str | None = None
    settlement_year: int | None = None
    mean_exact: dict | None = None      # drg → exact mean (Fraction, fen); None when read from a file

    @property
    def a_yuan(self) -> float:
        return float(self.a_fen / 100)


def _history_years(years_present: np.ndarray, policy: Policy, settlement_year: int | None) -> list[int]:
    present = sorted(set(int(y) for y in np.unique(years_present) if y > 0))
    hy = policy.weights.history_years
    if settlement_year is not None:
        return [y for y in range(settlement_year - hy, settlement_year) if y in present]
    return present[-hy:]


@dataclass(frozen=True)
class HistoryYears:
    """The history years a weights run uses (SPEC §2.1, §2.3): each with its weight and cost index."""

    years: tuple[int, ...]
    weight: dict[int, Decimal]
    index: dict[int, Decimal]


def history_years(years_present, policy: Policy, settlement_year: int | None, *,
                  file: str = "history") -> HistoryYears:
    """The years used, from the discharge years present in the history (0 for a missing date): the
    ``history_years`` before ``settlement_year`` (else the latest present), those of weight 0 left out."""
    use_years = _history_years(np.asarray(years_present), policy, settlement_year)
    if not use_years:
        raise InputError(f"no history cases in the years used (settlement year {settlement_year}, "
                         f"history_years {policy.weights.history_years})", file=file, field="discharge_date")
    newest = settlement_year - 1 if settlement_year is not None else max(use_years)
    w_of = {y: policy.weights.year_weight(y, newest) for y in use_years}
    if not any(w_of.values()):
        raise InputError("every history year used has weight 0 (weights.year_weights)", file=file,
                         field="discharge_date")
    use_years = [y for y in use_years if w_of[y] > 0]     # a year of weight 0 takes no part
    return HistoryYears(tuple(use_years), w_of,
                        {y: policy.weights.cost_index.get(y, Decimal(1)) for y in use_years})


@dataclass
class HistoryRows:
    """The slim projection of grouped history that weights and coefficients need: one entry per case with
    a DRG, in file order — DRG and hospital as codes into their name lists (hospital -1 for none), the
    discharge year, cost in fen, bed-days and whether the case is per-diem (SPEC §2.7)."""

    drg: np.ndarray            # integer codes into drg_names (int16 or int32: :class:`HistoryRowsBuilder`)
    drg_names: list
    hospital: np.ndarray       # integer codes into hospital_names, -1 for a missing id
    hospital_names: list
    year: np.ndarray           # integer year
    cost_fen: np.ndarray       # integer fen (int32 where every value fits, else int64)
    bed_days: np.ndarray       # integer days
    per_diem: np.ndarray       # bool

    def __len__(self) -> int:
        return len(self.drg)

    def take(self, idx: np.ndarray) -> HistoryRows:
        return HistoryRows(self.drg[idx], self.drg_names, self.hospital[idx], self.hospital_names, self.year[idx],
                           self.cost_fen[idx], self.bed_days[idx], self.per_diem[idx])

    def to_arrow(self) -> pa.Table:
        """As an Arrow table (``drg`` and ``hospital_id`` dictionary-encoded), to send between processes."""
        def dictionary(codes: np.ndarray, names: list) -> pa.Array:
            return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=codes < 0),
                                                  pa.array(names, pa.string()))

        return pa.table({"drg": dictionary(self.drg, self.drg_names),
                         "hospital_id": dictionary(self.hospital, self.hospital_names),
                         "year": pa.array(self.year, pa.int32()), "cost_fen": pa.array(self.cost_fen, pa.int64()),
                         "bed_days": pa.array(self.bed_days, pa.int64()), "per_diem": pa.array(self.per_diem)})

    @classmethod
    def from_arrow(cls, table: pa.Table) -> HistoryRows:
        """The rows of :meth:`to_arrow` tables concatenated in order (their dictionaries unified)."""
        table = table.unify_dictionaries().combine_chunks()

        def codes(name: str) -> tuple[np.ndarray, list]:
            col = table.column(name)
            arr = col.chunk(0) if col.num_chunks else pa.array([], pa.dictionary(pa.int32(), pa.string()))
            return (np.asarray(arr.indices.fill_null(-1), dtype=np.int32), arr.dictionary.to_pylist())

        d, dn = codes("drg")
        h, hn = codes("hospital_id")
        return cls(d, dn, h, hn, np.asarray(table.column("year"), dtype=np.int32),
                   np.asarray(table.column("cost_fen"), dtype=np.int64),
                   np.asarray(table.column("bed_days"), dtype=np.int32),
                   np.asarray(table.column("per_diem"), dtype=bool))


class HistoryRowsBuilder:
    """:class:`HistoryRows` of many parts (the batches of history files, in order) put end to end in arrays
    sized once for ``capacity`` rows (they grow if more come): DRG and hospital codes are renumbered into one
    name list each (in order of first appearance, as one :func:`history_rows` over the parts concatenated
    numbers them). Holding the parts and concatenating them would need twice the memory at the end.

    Each array starts in the narrowest type its values usually fit (:data:`NARROW`: DRG and hospital codes,
    years and bed-days in 16 bits, cost in fen in 32) and is widened, once, the first time a part's values do
    not fit: 13 bytes a case instead of 25 (20 M history cases: 240 MB less memory to fill, which this
    machine gives at up to 10 ns a byte the first time it is written)."""

    #: the narrow type of each array and the type it is widened to
    NARROW = {"_drg": (np.int16, np.int32), "_hospital": (np.int16, np.int32), "_year": (np.int16, np.int32),
              "_cost": (np.int32, np.int64), "_bed_days": (np.int16, np.int32), "_per_diem": (np.bool_, np.bool_)}

    def __init__(self, capacity: int) -> None:
        self._n = 0
        for name, (narrow, _wide) in self.NARROW.items():
            setattr(self, name, np.empty(capacity, narrow))
        self._drg_names: dict = {}
        self._hospital_names: dict = {}

    @staticmethod
    def _renumber(codes: np.ndarray, names: list, into: dict) -> np.ndarray:
        remap = np.array([into.setdefault(v, len(into)) for v in names] + [-1], dtype=np.int64)
        return remap[codes]            # (a code of -1 takes the last entry: -1)

    def _put(self, name: str, at: slice, values: np.ndarray) -> None:
        """``values`` into ``name[at]``, the array widened first if they do not fit its type."""
        arr = getattr(self, name)
        if arr.dtype != np.bool_ and len(values) and arr.dtype != self.NARROW[name][1]:
            info = np.iinfo(arr.dtype)
            if values.min() < info.min or values.max() > info.max:
                self.widen(name)
                arr = getattr(self, name)
        arr[at] = values

    def reserve(self, k: int) -> None:
        """Room for ``k`` more rows (the arrays grown, at least doubled, when they have not)."""
        if self._n + k > len(self._drg):
            size = max(self._n + k, 2 * len(self._drg))
            for name in self.NARROW:
                old = getattr(self, name)
                grown = np.empty(size, old.dtype)
                grown[:self._n] = old[:self._n]
                setattr(self, name, grown)

    def widen(self, name: str) -> None:
        """Array ``name`` (``_cost``, …) in its wide type from now on."""
        arr = getattr(self, name)
        if arr.dtype != self.NARROW[name][1]:
            setattr(self, name, arr.astype(self.NARROW[name][1]))

    def add(self, rows: HistoryRows) -> None:
        k = len(rows)
        self.reserve(k)
        at = slice(self._n, self._n + k)
        self._put("_drg", at, self._renumber(rows.drg, rows.drg_names, self._drg_names))
        self._put("_hospital", at, self._renumber(rows.hospital, rows.hospital_names, self._hospital_names))
        self._put("_year", at, rows.year)
        self._put("_cost", at, rows.cost_fen)
        self._put("_bed_days", at, rows.bed_days)
        self._put("_per_diem", at, rows.per_diem)
        self._n += k

    def rows(self) -> HistoryRows:
        n = self._n
        return HistoryRows(self._drg[:n], list(self._drg_names), self._hospital[:n], list(self._hospital_names),
                           self._year[:n], self._cost[:n], self._bed_days[:n], self._per_diem[:n])


def require_history_columns(history: pa.Table, *, file: str = "history") -> pa.Table:
    """``history`` with its cost in fen (added from yuan where it is not there); a column the projection of
    history needs and the table lacks is an error naming it."""
    _require(history, ["hospital_id", "drg", "los", "discharge_date"], file)
    history = with_fen_columns(history, file=file)
    _require(history, ["total_cost_fen"], file)
    return history


def history_rows(history: pa.Table, policy: Policy, *, file: str = "history") -> tuple[HistoryRows, np.ndarray]:
    """The cases with a DRG as :class:`HistoryRows`, and the discharge year of every case (0 for none).

    ``history`` holds ``hospital_id, drg, los, discharge_date, total_cost`` (or ``total_cost_fen``), optional
    ``adrg``. A weights run over a dataset takes this projection of each file and sends it on, never the cases.
    """
    history = require_history_columns(history, file=file)
    years = case_years(history)
    drg_codes, drg_dict = encode_strings(history.column("drg"))
    los = np.asarray(history.column("los").cast(pa.int64()).fill_null(0))
    pd_mask = per_diem_mask(history.column("drg"), history.column("adrg") if "adrg" in history.column_names
                            else None, los, policy)
    idx = np.nonzero(drg_mask(drg_dict)[drg_codes])[0]
    h_codes, h_dict = encode_strings(history.column("hospital_id"))
    bed_days = np.maximum(los[idx], 1)
    if len(bed_days) and bed_days.max() >= 2**31:
        row = int(idx[np.argmax(bed_days >= 2**31)]) + 1
        raise InputError("los out of range", file=file, row=row, field="los")
    rows = HistoryRows(drg_codes[idx].astype(np.int32), drg_dict, h_codes[idx], h_dict, years[idx],
                       np.asarray(history.column("total_cost_fen"))[idx], bed_days.astype(np.int32), pd_mask[idx])
    return rows, years


@dataclass
class DrgYearSums:
    """What trimming leaves of each DRG-year (SPEC §2.2–§2.3, §2.6–§2.7), exact: regular cases' fen sum and
    count per (drg, year), per-diem cases' fen sum, bed-days and count, and per DRG the trimmed regular case
    count and cv (pooled over the years). ``trimmed``: the kept regular cases that coefficients are computed
    on, summed per (hospital, drg, year): ``hospital_id, drg, year, cost_fen, n``.

    Every entry concerns one DRG alone, so the sums of DRGs computed apart (a dataset shuffled by DRG) are
    combined by :meth:`combine`.
    """

    sums: dict            # (drg, year) -> (fen, n)
    pd_sums: dict         # (drg, year) -> (fen, bed_days, n)
    n_of: dict            # drg -> trimmed regular cases over the years
    cv_of: dict           # drg -> cv or None
    trimmed: pa.Table

    @classmethod
    def combine(cls, parts: list[DrgYearSums]) -> DrgYearSums:
        out = cls({}, {}, {}, {}, None)
        for p in parts:
            if not set(p.n_of).isdisjoint(out.n_of) or not set(p.pd_sums).isdisjoint(out.pd_sums):
                raise ValueError("a DRG's sums were computed in two parts")
            out.sums.update(p.sums)
            out.pd_sums.update(p.pd_sums)
            out.n_of.update(p.n_of)
            out.cv_of.update(p.cv_of)
        tables = [p.trimmed for p in parts if p.trimmed is not None]
        out.trimmed = pa.concat_tables(tables) if tables else None
        return out


def drg_year_sums(rows: HistoryRows, years: HistoryYears, policy: Policy) -> DrgYearSums:
    """Trim each (DRG, year) — per-diem cases apart, on cost per bed-day — and sum what is kept.

    The trimming decisions are float64 over each group's costs in row order, so ``rows`` must hold every
    case of a DRG, in the order of the files; the sums are exact whatever the order.

    Runs the kernels of :mod:`drg.pricing.trimming` (SD trimming or none; percentile trimming, and the
    ``python`` engine, run the numpy twin :func:`drg_year_sums_numpy`); both give the same sums.
    """
    from drg.pricing import trimming

    if trimming.ENGINE == "python" or policy.weights.trim.method == "percentile":
        return drg_year_sums_numpy(rows, years, policy)
    use_years = list(years.years)
    ny, nd = len(use_years), len(rows.drg_names) + 1     # (the last DRG code: none, as in the twin)
    year_list = np.array(use_years, np.int64)
    index = np.array([float(years.index[y]) for y in use_years], np.float64)
    n_groups = nd * ny * 2
    cols = (rows.drg, rows.year, rows.cost_fen, rows.bed_days, rows.per_diem)
    parts = _row_parts(len(rows))
    with _PartRunner(len(parts)) as run:
        by_group = None
        if policy.weights.trim.method == "sd":
            # each trimming group's values, in row order, group after group (a counting sort: each part of
            # the rows writes from its own cursors, so the parts run at once and the order is the rows')
            counts = run(lambda p: trimming.trim_counts(rows.drg, rows.year, rows.per_diem, year_list, n_groups,
                                                        *parts[p]))
            count, start, cursors = _counting_sort_cursors(counts)
            by_group = np.empty(int(start[-1]), np.float64)
            run(lambda p: trimming.scatter_values(*cols, year_list, index, cursors[p], by_group, *parts[p]))
            mean, sd = np.full(n_groups, np.nan), np.full(n_groups, np.nan)
            ranges = _group_parts(start, len(parts))
            run(lambda p: trimming.moments_in_place(by_group, start, count, mean, sd, *ranges[p]))
            k = float(policy.weights.trim.k)
            with np.errstate(invalid="ignore"):
                bound = k * sd * (1 + 1e-12) + 1e-9 * np.abs(mean)    # (the twin's bound, group by group)
            trimmed = count >= 2
        else:
            mean = bound = np.zeros(n_groups)
            trimmed = np.zeros(n_groups, bool)
        space = (len(rows.hospital_names) + 1) * nd * ny
        dense = space <= max(4 * len(rows), 1 << 22) and space < 1 << 26
        kept = np.zeros(0 if dense else len(rows), bool)
        got = run(lambda p: trimming.kept_part(*cols, rows.hospital, year_list, index, mean, bound, trimmed, nd,
                                               space if dense else 0, kept, *parts[p]))
        s_reg, n_reg, s_pd, b_pd, n_pd, h_cost, h_n = (sum(g[i] for g in got) for i in (0, 1, 2, 3, 4, 6, 7))
        # cv over the pooled trimmed (cost-indexed) costs of each DRG's regular cases, in row order
        per_drg, start_d, cursors_d = _counting_sort_cursors([g[5] for g in got])
        if by_group is None or len(by_group) < start_d[-1]:
            by_group = np.empty(int(start_d[-1]), np.float64)
        run(lambda p: trimming.scatter_kept(*cols, year_list, index, mean, bound, trimmed, cursors_d[p], by_group,
                                            *parts[p]))
        mean_d, sd_d = np.full(nd, np.nan), np.full(nd, np.nan)
        ranges = _group_parts(start_d, len(parts))
        run(lambda p: trimming.moments_in_place(by_group, start_d, per_drg, mean_d, sd_d, *ranges[p]))
    by_group = None     # (160 MB at 20 M cases: freed before the tables are built)
    names = list(rows.drg_names) + [""]
    sums = {(names[k // ny], use_years[k % ny]): (int(s_reg[k]), int(n_reg[k])) for k in np.flatnonzero(n_reg)}
    pd_sums = {(names[k // ny], use_years[k % ny]): (int(s_pd[k]), int(b_pd[k]), int(n_pd[k]))
               for k in np.flatnonzero(n_pd)}
    cv_of: dict[str, float | None] = {}
    n_of: dict[str, int] = {}
    for d in np.flatnonzero(per_drg).tolist():
        n_of[names[d]] = int(per_drg[d])
        cv_of[names[d]] = float(sd_d[d] / mean_d[d]) if per_drg[d] >= 2 and mean_d[d] > 0 else None
    if dense:
        keys = np.flatnonzero(h_n)
        trimmed_table = _sums_table(rows, nd, use_years, keys, h_cost[keys], h_n[keys])
    else:
        kept_at = np.flatnonzero(kept)       # (the kept regular cases)
        kept_rows = rows.take(kept_at)
        y_inv = np.zeros(len(kept_at), np.int32)
        for j, y in enumerate(use_years[1:], start=1):
            y_inv[kept_rows.year == y] = j
        trimmed_table = _kept_sums(kept_rows, y_inv, use_years, np.arange(len(kept_at)))
    return DrgYearSums(sums, pd_sums, n_of, cv_of, trimmed_table)


#: rows below which drg_year_sums runs its kernels in one part (threads cost more than they save)
PART_MIN_ROWS = 1 << 20


def _row_parts(n: int) -> list[tuple[int, int]]:
    """``[lo, hi)`` ranges of ``n`` rows, one per core this process may use (one below :data:`PART_MIN_ROWS`)."""
    from drg.casefile.background import available_cores

    k = max(1, min(available_cores(), 8, n // PART_MIN_ROWS))
    bounds = [n * i // k for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _counting_sort_cursors(counts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """From each row part's counts per group: the total per group, each group's start (groups one after the
    other, ``len + 1`` entries) and each part's cursors (the group's start plus the parts before it)."""
    count = np.sum(counts, axis=0)
    start = np.zeros(len(count) + 1, np.int64)
    np.cumsum(count, out=start[1:])
    cursors, before = [], start[:-1].copy()
    for c in counts:
        cursors.append(before.copy())
        before += c
    return count, start, cursors


def _group_parts(start: np.ndarray, k: int) -> list[tuple[int, int]]:
    """``k`` ranges of groups holding about as many values each (``start``: the groups' starts)."""
    total = int(start[-1])
    cuts = [0] + [int(np.searchsorted(start, total * i // k, side="left")) for i in range(1, k)] + [len(start) - 1]
    cuts = [min(max(c, 0), len(start) - 1) for c in cuts]
    for i in range(1, len(cuts)):
        cuts[i] = max(cuts[i], cuts[i - 1])
    return list(zip(cuts[:-1], cuts[1:]))


class _PartRunner:
    """Runs a function of the part number on every part, on threads when there are several (the kernels
    release the GIL), and returns the results in part order; an error of a part is raised."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self._pool = None

    def __enter__(self):
        if self.parts > 1:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self.parts, thread_name_prefix="drg-weights")
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def __call__(self, fn) -> list:
        if self._pool is None:
            return [fn(p) for p in range(self.parts)]
        return list(self._pool.map(fn, range(self.parts)))


def drg_year_sums_numpy(rows: HistoryRows, years: HistoryYears, policy: Policy) -> DrgYearSums:
    """:func:`drg_year_sums` in numpy: the twin of its kernels, and the path of percentile trimming."""
    use_years = list(years.years)
    in_years = np.zeros(len(rows), bool)
    for y in use_years:   # (np.isin took 2.4 s over 20 M years of two values; a comparison per year 0.01 s)
        in_years |= rows.year == y
    if not in_years.all():
        rows = rows.take(np.nonzero(in_years)[0])
    del in_years
    # (codes as int32 at least: a 16-bit code times the years would overflow)
    drg_inv = rows.drg.astype(np.int32) if rows.drg.dtype.itemsize < 4 else rows.drg
    yrs, cost_fen, bed_days, pd_mask = rows.year, rows.cost_fen, rows.bed_days, rows.per_diem
    drg_names = np.array(list(rows.drg_names) + [""], dtype=object)
    idx_of = years.index
    ny = len(use_years)
    y_inv = np.zeros(len(yrs), np.int32)     # (a comparison per year: searchsorted took 2.8 s over 20 M cases)
    for j, y in enumerate(use_years[1:], start=1):
        y_inv[yrs == y] = j
    adj = np.array([float(idx_of[y]) for y in use_years])[y_inv]
    adj *= cost_fen
    # the value trimmed on: cost, or cost per bed-day for per-diem cases (the same float64 division as
    # adj / bed_days), in place: only regular cases' adj is read after (the cv), and theirs is unchanged
    # (a copy cost 1.7 s of fresh memory over 20 M cases)
    trim_value = np.divide(adj, bed_days, out=adj, where=pd_mask)
    # (DRG, year, per diem) as one small integer, built in place
    group = drg_inv.astype(np.int32 if len(drg_names) * ny * 2 < 2**31 else np.int64)
    group *= 2 * ny
    group += y_inv * 2
    group += pd_mask
    keep = trim_mask(trim_value, group, policy)
    del trim_value, group

    # --- exact sums per (drg, year) for regular and per-diem cases (bincount of int fen: exact < 2**53)
    reg = keep & ~pd_mask
    pdk = keep & pd_mask
    del keep
    nk = len(drg_names) * ny
    key = drg_inv * ny + y_inv
    k_reg = key[reg]          # (each selection made once: 20 M cases' temporaries are fresh memory)
    s_reg = np.bincount(k_reg, weights=cost_fen[reg], minlength=nk)
    n_reg = np.bincount(k_reg, minlength=nk)
    del k_reg
    k_pd = key[pdk]
    s_pd = np.bincount(k_pd, weights=cost_fen[pdk], minlength=nk)
    b_pd = np.bincount(k_pd, weights=bed_days[pdk], minlength=nk)
    n_pd = np.bincount(k_pd, minlength=nk)
    del key, k_pd, pdk
    sums = {(str(drg_names[k // ny]), use_years[k % ny]): (int(s_reg[k]), int(n_reg[k]))
            for k in np.nonzero(n_reg)[0]}
    pd_sums = {(str(drg_names[k // ny]), use_years[k % ny]): (int(s_pd[k]), int(b_pd[k]), int(n_pd[k]))
               for k in np.nonzero(n_pd)[0]}
    # cv over pooled trimmed (cost-indexed) costs, each DRG's costs in row order
    reg_idx = np.nonzero(reg)[0]
    del reg
    reg_drg = drg_inv[reg_idx]
    if len(drg_names) < 2**15:     # (a stable sort of 16-bit keys is a radix sort)
        reg_drg = reg_drg.astype(np.int16)
    perm = np.argsort(reg_drg, kind="stable")
    cv_of: dict[str, float | None] = {}
    n_of: dict[str, int] = {}
    if len(perm):
        sizes = np.bincount(reg_drg)
        present = np.flatnonzero(sizes)
        ends = np.cumsum(sizes[present])
        for d, s_, e_ in zip(present.tolist(), (ends - sizes[present]).tolist(), ends.tolist()):
            x = adj[reg_idx[perm[s_:e_]]]
            name = str(drg_names[d])
            n_of[name] = int(e_ - s_)
            m = x.mean()
            cv_of[name] = float(x.std(ddof=1) / m) if e_ - s_ >= 2 and m > 0 else None
    del perm, reg_drg, adj
    return DrgYearSums(sums, pd_sums, n_of, cv_of, _kept_sums(rows, y_inv, use_years, reg_idx))


def _kept_sums(rows: HistoryRows, y_inv: np.ndarray, use_years: list, kept: np.ndarray) -> pa.Table:
    """The kept regular cases ``kept`` (row positions) summed per (hospital, DRG, year) on their integer codes:
    ``hospital_id, drg, year, cost_fen, n`` (exact int sums: a hospital's fen in one DRG and year stays far
    below 2**53; what coefficients need of them), the names taken only for the distinct keys."""
    nd, ny = max(len(rows.drg_names), 1), max(len(use_years), 1)
    key = rows.hospital[kept].astype(np.int64) + 1          # (a missing hospital id, -1, becomes 0)
    key *= nd
    key += rows.drg[kept]
    key *= ny
    key += y_inv[kept]
    space = (len(rows.hospital_names) + 1) * nd * ny
    if space <= max(4 * len(key), 1 << 22):
        n = np.bincount(key, minlength=space)
        keys = np.flatnonzero(n)
        cost = np.bincount(key, weights=rows.cost_fen[kept], minlength=space)[keys].astype(np.int64)
        n = n[keys]
    else:
        import polars as pl

        agg = (pl.DataFrame({"k": key, "c": rows.cost_fen[kept]}).group_by("k")
               .agg(pl.col("c").sum(), pl.len().cast(pl.Int64).alias("n")).sort("k"))
        keys, cost, n = agg["k"].to_numpy(), agg["c"].to_numpy(), agg["n"].to_numpy()
    return _sums_table(rows, nd, use_years, keys, cost, n)


def _sums_table(rows: HistoryRows, nd: int, use_years: list, keys: np.ndarray, cost: np.ndarray,
                n: np.ndarray) -> pa.Table:
    """``hospital_id, drg, year, cost_fen, n`` of the keys ``((hospital + 1) · nd + drg) · ny + year``, in
    the keys' order."""
    ny = max(len(use_years), 1)
    h_names = pa.array([None, *rows.hospital_names], pa.string())
    d_names = pa.array(list(rows.drg_names), pa.string())
    return pa.table({"hospital_id": h_names.take(pa.array(keys // (nd * ny))),
                     "drg": d_names.take(pa.array(keys // ny % nd)),
                     "year": pa.array(np.array(use_years, np.int32)[keys % ny], pa.int32()),
                     "cost_fen": pa.array(cost, pa.int64()), "n": pa.array(n, pa.int64())})


def weights_from_sums(sums: DrgYearSums, years: HistoryYears, policy: Policy, *, settlement_year: int | None,
                      scheme_id: str | None = None, file: str = "history") -> Weights:
    """A, the DRG means, base points, stability and per-diem points (SPEC §2.3–§2.7) from the trimmed sums,
    in rational arithmetic (the same table whatever order the sums came in)."""
    use_years = list(years.years)
    # each year's weight and cost index as Fractions once (a Decimal made a Fraction per sum took longer than
    # the arithmetic)
    w_of = {y: Fraction(w) for y, w in years.weight.items()}
    idx_of = {y: Fraction(x) for y, x in years.index.items()}
    # A: year-weighted mean over trimmed, groupable, non-per-diem cases
    num, den = Fraction(0), Fraction(0)
    for (d, y), (s, n) in sums.sums.items():
        w = w_of[y]
        num += w * idx_of[y] * s
        den += w * n
    if den == 0:
        raise InputError("no groupable, non-per-diem history case is left after trimming: A is undefined",
                         file=file, field="drg")
    a_fen = num / den
    if a_fen == 0:
        raise InputError("every groupable, non-per-diem history case kept after trimming costs 0: A is 0 and no "
                         "base points can be formed", file=file, field="total_cost")

    def weighted_mean(per_year: dict[int, Fraction]) -> Fraction:
        ws = sum(w_of[y] for y in per_year)
        return sum(w_of[y] * m for y, m in per_year.items()) / ws

    by_drg: dict[str, dict[int, Fraction]] = {}
    for (d, y), (s, n) in sums.sums.items():
        by_drg.setdefault(d, {})[y] = idx_of[y] * s / n
    pd_by_drg: dict[str, dict[int, Fraction]] = {}
    pd_n: dict[str, int] = {}
    for (d, y), (s, b, n) in sums.pd_sums.items():
        pd_by_drg.setdefault(d, {})[y] = idx_of[y] * s / b
        pd_n[d] = pd_n.get(d, 0) + n
    cv_of, n_of = sums.cv_of, sums.n_of

    scale = policy.points_scale
    rows = []
    mean_exact = {d: weighted_mean(m) for d, m in by_drg.items()}
    for d in sorted(set(by_drg) | set(pd_by_drg)):
        mean = weighted_mean(by_drg[d]) if d in by_drg else None
        pdm = weighted_mean(pd_by_drg[d]) if d in pd_by_drg else None
        n = n_of.get(d, 0)
        cv = cv_of.get(d)
        stable = mean is not None and n >= policy.weights.n_min and cv is not None and \
            Decimal(repr(cv)) <= policy.weights.cv_max
        rows.append({
            "drg": d, "n_cases": n,
            "mean_cost": None if mean is None else float(mean / 100),
            "mean_cost_fen": None if mean is None else float(mean),
            "cv": cv, "stable": bool(stable),
            "base_points": None if mean is None else round_half_away(mean / a_fen * 100 * scale) / scale,
            "per_diem_points": None if pdm is None else round_half_away(pdm / a_fen * 100 * scale) / scale,
            "per_diem_cases": pd_n.get(d, 0),
            "per_diem_mean_fen": None if pdm is None else float(pdm),
            "per_diem_mean_cost": None if pdm is None else float(pdm / 100),
            "mean_cost_exact": None if mean is None else f"{mean.numerator}/{mean.denominator}",
            "per_diem_mean_exact": None if pdm is None else f"{pdm.numerator}/{pdm.denominator}",
        })
    schema = pa.schema([("drg", pa.string()), ("n_cases", pa.int64()), ("mean_cost", pa.float64()),
                        ("mean_cost_fen", pa.float64()), ("cv", pa.float64()), ("stable", pa.bool_()),
                        ("base_points", pa.float64()), ("per_diem_points", pa.float64()),
                        ("per_diem_cases", pa.int64()), ("per_diem_mean_fen", pa.float64()),
                        ("per_diem_mean_cost", pa.float64()),
                        # exact means in fen as "numerator/denominator": the cost ratio's divisor (SPEC §0.1)
                        ("mean_cost_exact", pa.string()), ("per_diem_mean_exact", pa.string())])
    table = pa.Table.from_pylist(rows, schema=schema)
    return Weights(table, a_fen, tuple(use_years), policy.id, scheme_id, settlement_year, mean_exact)


def compute_weights(history: pa.Table, policy: Policy, *, settlement_year: int | None = None,
                    scheme_id: str | None = None, file: str = "history") -> tuple[Weights, pa.Table]:
    """Weights from grouped history cases (SPEC §2).

    Parameters
    ----------
    history : pyarrow.Table
        Grouped cases of earlier years: ``hospital_id, drg, los, discharge_date, total_cost`` (or
        ``total_cost_fen``), optional ``adrg``.
    policy : Policy
    settlement_year : int, optional
        Use the ``history_years`` years before it; default the policy's year, else the latest years present.

    Returns
    -------
    (Weights, pyarrow.Table)
        The weights, and the trimmed non-per-diem history that the coefficients are computed on, summed per
        (hospital, DRG, year): ``hospital_id, drg, year, cost_fen, n``.

    The steps — :func:`history_rows` (the projection), :func:`history_years`, :func:`drg_year_sums` (trimming,
    per DRG) and :func:`weights_from_sums` — are the ones :mod:`drg.distributed.weights` runs over a
    partitioned dataset, the projection shuffled by DRG.
    """
    rows, years_present = history_rows(history, policy, file=file)
    settlement_year = settlement_year if settlement_year is not None else policy.year
    years = history_years(years_present, policy, settlement_year, file=file)
    sums = drg_year_sums(rows, years, policy)
    weights = weights_from_sums(sums, years, policy, settlement_year=settlement_year, scheme_id=scheme_id, file=file)
    return weights, sums.trimmed


def _meta(weights: Weights) -> dict[bytes, bytes]:
    return {b"drg.all_drg_mean_fen": str(float(weights.a_fen)).encode(),
            b"drg.all_drg_mean_fen_exact": f"{weights.a_fen.numerator}/{weights.a_fen.denominator}".encode(),
            b"drg.all_drg_mean_yuan": repr(weights.a_yuan).encode(),
            b"drg.history_years": json.dumps(list(weights.years)).encode(),
            b"drg.policy_id": weights.policy_id.encode(),
            b"drg.scheme_id": (weights.scheme_id or "").encode(),
            b"drg.settlement_year": str(weights.settlement_year or "").encode()}


def write_weights(weights: Weights, path: str | Path) -> None:
    """Write ``weights.parquet`` with A, years, policy and scheme ids in the file metadata."""
    import pyarrow.parquet as pq

    t = weights.table
    t = t.replace_schema_metadata(_meta(weights))
    from drg.outputs import atomic_path

    with atomic_path(path) as tmp:
        pq.write_table(t, tmp)


def read_weights(path: str | Path) -> Weights:
    """Read a ``weights.parquet`` written by :func:`write_weights`."""
    from drg.casefile.parquet import read_parquet

    path = Path(path)
    if not path.exists():
        raise InputError("weights table not found (run `drg weights`)", file=str(path))
    t = read_parquet(path)
    md = t.schema.metadata or {}
    if b"drg.all_drg_mean_fen_exact" not in md:
        raise InputError("not a weights table written by `drg weights` (metadata missing)", file=str(path))
    num, den = md[b"drg.all_drg_mean_fen_exact"].decode().split("/")
    sy = md.get(b"drg.settlement_year", b"").decode()
    return Weights(t.replace_schema_metadata(None), Fraction(int(num), int(den)),
                   tuple(json.loads(md[b"drg.history_years"])), md[b"drg.policy_id"].decode(),
                   md.get(b"drg.scheme_id", b"").decode() or None, int(sy) if sy else None)
