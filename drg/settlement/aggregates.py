"""Priced cases reduced to exact sums (SPEC §0.1): money in int fen (the ``*_fen`` columns made when the
cases were read), points in integer units; the per-hospital views a run reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from drg.casefile.money import FEN_COLUMNS, MONEY_COLUMNS, with_fen_columns
from drg.errors import InputError
from drg.money import (points_to_units)
from drg.policy import Policy
from drg.settlement.pools import ALL_POOLS
from drg.settlement.records import CaseAggregates, HospitalInput
from grouper.results import has_drg, is_ambiguous

if TYPE_CHECKING:  # (the cell kernel's module imports numba: only when a file is summed)
    from drg.settlement.cells import CellSums

__all__ = ['PRICED_REQUIRED', 'PRICED_OPTIONAL', 'MONITOR_OPTIONAL', 'OUTLIER_CLASSES', 'FINE_KEYS', 'FINE_SUMS',
           'GROUP_STATES', 'TEXT_COLUMNS', 'FIRST_VALUES', 'VIEWS', 'as_strings', 'priced_columns_read', 'PricedSums', 'aggregates_of', 'priced_sums', 'read_priced', 'hospital_inputs',
           'hospital_stats', 'cmi_of', 'prev_year_cmi', 'prev_year_spending']


#: Columns a priced-case file must have, and the optional ones (absent → 0 / unknown).
PRICED_REQUIRED = ("hospital_id", "insurance_type", "county", "discharge_date", "total_cost", "fund_paid",
                   "self_paid", "adjusted_points")


PRICED_OPTIONAL = ("other_paid", "deduction_points", "case_class", "drg", "base_points")


#: Optional columns read for the monitoring sums (SPEC §9); a file without them gives 0 / unknown.
MONITOR_OPTIONAL = ("points", "los", "discharge_status", "group_status", "cc_level", "adjust_reason", "mdc", "adrg")


OUTLIER_CLASSES = ("high", "low")


#: String columns read as Arrow dictionaries: few distinct values, each looked up (or its rule evaluated) once,
#: and no string built per case (Parquet stores them dictionary-encoded already).
_DICTIONARY_COLUMNS = ("hospital_id", "insurance_type", "county", "case_class", "drg", "mdc", "adrg",
                       "group_status", "adjust_reason")


#: The finest grain of the sums; ``grp`` is the case's group state (:data:`GROUP_STATES`).
FINE_KEYS = ["pool", "hospital_id", "year", "month", "county", "case_class", "drg", "grp"]


#: Exact sums per cell: money in fen, points in units, counts. ``pts_u`` points before §5, ``adj_u`` after
#: readmission and violations, ``ded_u`` deductions; ``w_u`` Σ w_i of the CMI over grouped cases (SPEC §9:
#: base points where the DRG has them, else the points before §5); ``grouped`` grouped cases; ``los`` days;
#: ``deaths`` discharge status 5; ``halved`` readmission-halved stays; ``cc``/``mcc`` cases with a CC or MCC
#: (``cc_level`` ≥ 1 / = 2).
FINE_SUMS = ["cases", "adj_u", "ded_u", "selfpay", "total_cost", "fund_paid", "outlier", "pts_u", "w_u", "grouped",
             "los", "deaths", "halved", "cc", "mcc"]

#: The text columns of the finest grain: the text keys of :data:`FINE_KEYS` and each cell's first ``mdc`` and
#: ``adrg`` (:data:`FIRST_VALUES`). :func:`priced_sums` gives them as polars enums in their strings' order;
#: :func:`as_strings` turns them into strings.
FIRST_VALUES = ("mdc", "adrg")
TEXT_COLUMNS = ("pool", "hospital_id", "county", "case_class", "drg", *FIRST_VALUES)

#: ``grp`` codes: grouped (status ok and a DRG), ungroupable (no DRG, or a status that is not ok), ambiguous
#: (an ``xQY`` group of CHS-DRG 2.0).
GROUP_STATES = ("grouped", "ungroupable", "ambiguous")


def read_priced(paths: str | Path | Sequence[str | Path], year: int, policy: Policy, *,
                batch_rows: int | None = None) -> CaseAggregates:
    """Stream priced-case Parquet files and reduce them to exact per-hospital sums for ``year``.

    Cases are placed by discharge date (SPEC §0.1); cases of ``year − 1`` are kept in ``by_month`` only (for
    last year's CMI and fund spending); other years are counted and skipped. Money is the ``*_fen`` columns
    made when the cases were read (converted here by :func:`drg.casefile.money.with_fen_columns` only for a
    file without them); points are turned into integer units (an error if a value has more decimals than
    ``points_decimals``).

    The files are reduced by :func:`priced_sums` and the views built by :func:`aggregates_of`; a partitioned
    dataset takes the same steps, each partition's sums added up as a tree (:meth:`PricedSums.combine`,
    :mod:`drg.distributed.settlement`).
    """
    return aggregates_of(priced_sums(paths, year, policy, batch_rows=batch_rows), year, policy)


#: Rows of a priced file turned into codes and sums at a time (:func:`priced_sums`): each batch's arrays are
#: 1 MB a column, which glibc serves again from the heap the last batch freed (larger ones it maps afresh and
#: gives back every time). The sums of 10 M cases: 2**20-row batches 9.5–10.1 s and 1.05–1.06 M page faults,
#: 2**17-row ones 8.0–8.8 s and 0.93–0.98 M (2026-12-05).
BATCH_ROWS = 1 << 17


#: The views a settlement run reads: keys, sums, and whether they keep ``year − 1`` (only by_month does).
VIEWS = {"by_month": (["pool", "hospital_id", "year", "month"], FINE_SUMS, True),
         "by_county": (["pool", "hospital_id", "county", "month"], ["cases", "adj_u", "selfpay"], False),
         "by_class": (["pool", "hospital_id", "month", "case_class"], ["cases", "adj_u", "total_cost"], False),
         "by_drg": (["pool", "hospital_id", "month", "drg"], ["cases", "adj_u", "total_cost"], False)}


def as_strings(frame):
    """``frame`` with its text columns (:data:`TEXT_COLUMNS`) as strings, where they are polars enums."""
    import polars as pl

    return frame.with_columns([pl.col(c).cast(pl.String) for c in TEXT_COLUMNS
                               if c in frame.columns and isinstance(frame.schema[c], pl.Enum)])


def _fine_agg():
    import polars as pl

    # mdc and adrg of a cell: its first case's, in file order (a DRG has one; an ungroupable cell the first seen)
    return [pl.col(c).sum() for c in FINE_SUMS] + [pl.col("mdc").first(), pl.col("adrg").first()]


@dataclass
class PricedSums:
    """Priced cases reduced to exact sums at the finest grain (:data:`FINE_KEYS`, with :data:`FINE_SUMS` and
    each cell's ``mdc`` and ``adrg``; a polars frame, unsorted, of ``year`` and ``year − 1``; None before any
    case), the rows the settlement cannot take (rejects, in file order; None without any), the files they came
    from, their scheme id and row counts. Sums of different files add up cell by cell: :meth:`combine` (a
    dataset's partitions, as a tree); :func:`aggregates_of` derives the views a run reads.

    The cells' ``mdc``/``adrg`` are the first case's in file order, so parts are combined in file order: the
    first of firsts is the first. :func:`priced_sums` gives its cells sorted by :data:`FINE_KEYS`
    (``in_order``), so the views need no sorted copy of them, and its text columns as polars enums
    (:data:`TEXT_COLUMNS`); a combination is not sorted and has strings (:func:`as_strings`).
    """

    fine: Any
    rejects: Any
    files: list[str]
    scheme_id: str | None
    rows_read: int
    rows_other_years: int
    #: the cells are sorted by :data:`FINE_KEYS` (strings in their order): one file's sums, not a combination
    in_order: bool = False

    @classmethod
    def combine(cls, parts: Sequence[PricedSums], *, disjoint: bool = False) -> PricedSums:
        """The sums of ``parts`` (given in file order) added up cell by cell; ``disjoint``: no cell is in two
        parts (sums of different hospitals), so the cells are only put together."""
        import polars as pl

        fines = [as_strings(p.fine) for p in parts if p.fine is not None]   # (each part's enums are its own)
        fine = None
        if len(fines) == 1:
            fine = fines[0]
        elif fines:
            fine = pl.concat(fines) if disjoint else pl.concat(fines).group_by(FINE_KEYS).agg(_fine_agg())
        rejects = [p.rejects for p in parts if p.rejects is not None]
        return cls(fine, pl.concat(rejects) if rejects else None, [f for p in parts for f in p.files],
                   next((p.scheme_id for p in parts if p.scheme_id), None),
                   sum(p.rows_read for p in parts), sum(p.rows_other_years for p in parts))


def priced_columns_read(names: Sequence[str]) -> list[str]:
    """The columns a settlement reads of a priced file with columns ``names``: the required, optional and
    monitoring ones it has, money in fen where the file has the fen column (the yuan one is then not read:
    money crosses the pipe once). Also what the benchmark's I/O floor of ``drg settle`` reads."""
    has_fen = {yuan for yuan, fen in zip(MONEY_COLUMNS, FEN_COLUMNS) if fen in names}
    return [c for c in (*PRICED_REQUIRED, *PRICED_OPTIONAL, *MONITOR_OPTIONAL, *FEN_COLUMNS)
            if c in names and c not in has_fen]


def priced_sums(paths: str | Path | Sequence[str | Path], year: int, policy: Policy, *,
                batch_rows: int | None = None) -> PricedSums:
    """Priced-case files reduced to :class:`PricedSums` for ``year`` (and ``year − 1``), batch by batch: each
    case added to its cell of :data:`FINE_KEYS` (:class:`drg.settlement.cells.CellSums`)."""
    import polars as pl
    import pyarrow as pa
    from drg.casefile.background import prefetch
    from drg.casefile.parquet import parquet_file
    from drg.settlement.cells import CellSums

    if isinstance(paths, (str, Path)):
        paths = [paths]
    batch_rows = batch_rows or BATCH_ROWS
    tally = _Tally()
    scheme_id = None
    files = []
    codes = _Codes()
    cells = CellSums(len(FINE_KEYS), len(FINE_SUMS), 2)
    for path in paths:
        path = Path(path)
        file = str(path)
        files.append(file)
        if not path.exists():
            raise InputError("priced-case file not found", file=file)
        if path.suffix.lower() != ".parquet":
            raise InputError("priced cases must be Parquet (the output of `drg points`)", file=file)
        try:
            pf = parquet_file(path)
            cells.reserve(pf.metadata.num_rows)
            as_dict = [c for c in _DICTIONARY_COLUMNS if c in pf.schema_arrow.names]
            if as_dict:
                pf = parquet_file(path, read_dictionary=as_dict)
            md = pf.schema_arrow.metadata or {}
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable Parquet file ({type(exc).__name__})", file=file) from None
        if scheme_id is None and md.get(b"drg.scheme_id"):
            scheme_id = md[b"drg.scheme_id"].decode() or None
        names = pf.schema_arrow.names
        for c in PRICED_REQUIRED:
            if c not in names:
                raise InputError(f"priced cases: missing column {c}", file=file, field=c)
        cols = priced_columns_read(names)
        # the next batches are read, checked and turned into codes and sums on a second thread while the cells
        # kernel adds this one (Arrow's reader and the kernel release the GIL); an error there is raised here
        for keys, sums, firsts in prefetch(_cell_rows(pf, batch_rows, cols, file, year, policy, codes, tally),
                                           depth=2):
            cells.add(keys, sums, firsts)

    fine = None
    if cells.n_cells:
        cells.release_index()
        _sort_cells(cells, codes)
        fine = codes.as_enums(_fine_frame(cells))
    rejects = pl.concat(tally.rejects) if tally.rejects else None
    return PricedSums(fine, rejects, files, scheme_id, tally.rows_read, tally.rows_other, in_order=True)


def _cell_rows(pf, batch_rows: int, cols: list[str], file: str, year: int, policy: Policy, codes: _Codes,
               tally: _Tally):
    """The rows of a priced file as the cells kernel takes them, batch by batch: key codes [k, n] int32,
    sums [s, n] int64 and first values [2, n] uint32 of the cases of ``year`` and ``year − 1`` that can be
    settled; the rows read, those of other years and the rejects counted in ``tally``. The only user of
    ``codes`` while it runs (one producer: codes are given in the order values are met)."""
    import pyarrow as pa

    scale = policy.points_scale
    all_pools = codes.code("pool", ALL_POOLS)
    outlier_codes = [codes.code("case_class", c) for c in OUTLIER_CLASSES]
    first = 1
    for batch in _batches(pf, batch_rows, cols, file):
        tally.rows_read += batch.num_rows
        # a row this stage cannot settle is a reject of the stage (recorded with the run), not the end of it
        t, rejected = _settleable(pa.Table.from_batches([batch]), file, first)
        if rejected is not None:
            tally.rejects.append(rejected)
        n = t.num_rows
        if n == 0:
            first += batch.num_rows
            continue
        # money crosses the pipe once: the fen columns made when the cases were read
        t = with_fen_columns(t, file=file, first_row=first)
        years, months = _year_month(t.column("discharge_date"))
        adj = np.asarray(t.column("adjusted_points").cast(pa.float64()).to_numpy(zero_copy_only=False))
        adj_u = points_to_units(adj, scale, what="adjusted_points", file=file)
        # string keys as integer codes (one code per distinct value over all batches; enums at the end)
        cols = {
            "pool": (codes.of("pool", t.column("insurance_type")) if policy.pools_by_insurance_type
                     else np.full(n, all_pools, np.uint32)),
            "hospital_id": codes.of("hospital_id", t.column("hospital_id")),
            "year": years, "month": months,
            "county": codes.of("county", t.column("county")),
            "case_class": codes.of("case_class", t.column("case_class") if "case_class" in t.column_names
                                   else None, n),
            "drg": codes.of("drg", t.column("drg") if "drg" in t.column_names else None, n),
            "cases": np.ones(n, np.int8),
            "adj_u": adj_u,
            "ded_u": points_to_units(np.nan_to_num(t.column("deduction_points").to_numpy(zero_copy_only=False)
                                                   .astype(np.float64)), scale,
                                     what="deduction_points", file=file)
            if "deduction_points" in t.column_names else np.zeros(n, np.int64),
            "selfpay": np.asarray(t.column("self_paid_fen")) + np.asarray(t.column("other_paid_fen")),
            "total_cost": np.asarray(t.column("total_cost_fen")),
            "fund_paid": np.asarray(t.column("fund_paid_fen")),
        }
        cols["outlier"] = np.isin(cols["case_class"], outlier_codes).astype(np.int8)
        bpu = np.zeros(n, np.int64)
        has = np.zeros(n, bool)
        if "base_points" in t.column_names:
            bp = t.column("base_points").cast(pa.float64()).to_numpy(zero_copy_only=False)
            has = ~np.isnan(bp)
            if has.any():
                bpu[has] = points_to_units(bp[has], scale, what="base_points", file=file)
        cols |= _monitor_columns(t, adj_u, bpu, has, scale, file, codes)
        first += batch.num_rows
        keep = (years == year - 1) | (years == year)
        if not keep.all():
            tally.rows_other += int(n - keep.sum())
            cols = {c: v[keep] for c, v in cols.items()}
        # the finest grain: each row added to its cell (codes in, exact sums out), the cases not kept
        yield (np.stack([cols[c].astype(np.int32, copy=False) for c in FINE_KEYS]),
               np.stack([cols[c].astype(np.int64, copy=False) for c in FINE_SUMS]),
               np.stack([cols["mdc"], cols["adrg"]]).astype(np.uint32, copy=False))
        del cols, t


@dataclass
class _Tally:
    """What :func:`_cell_rows` counts for :func:`priced_sums`."""

    rows_read: int = 0
    rows_other: int = 0
    rejects: list = field(default_factory=list)


def aggregates_of(sums: PricedSums, year: int, policy: Policy) -> CaseAggregates:
    """The views a settlement run reads (:class:`CaseAggregates`) from the sums of every priced file: the
    four views of :data:`VIEWS` and the finest grain (the ledger's monitoring facts), sorted by their keys."""
    import polars as pl

    scale, files, fine = policy.points_scale, sums.files, sums.fine
    rejects = sums.rejects if sums.rejects is not None else _empty_rejects()
    if fine is None:
        n_rej = rejects.height
        raise InputError(f"no priced case discharged in {year}" + (f" ({n_rej:,} rows cannot be settled)"
                                                                    if n_rej else ""), file=", ".join(files))
    # the string keys as enums whose categories are their values in order: group-bys and sorts on integer codes,
    # in the strings' order; the views and the finest grain get their strings back at the end
    # (one file's sums have them already: :func:`priced_sums`)
    text_keys = [c for c in FINE_KEYS if c in TEXT_COLUMNS]
    coded = fine.with_columns([pl.col(c).cast(pl.Enum(fine[c].unique().sort())) for c in TEXT_COLUMNS
                               if fine.schema[c] == pl.String])
    strings = [pl.col(c).cast(pl.String) for c in text_keys]
    # lazily: each view reads only its keys and sums (no filtered copy of every column of the finest grain)
    lazy = coded.lazy()
    cur = lazy.filter(pl.col("year") == year)
    # (by_drg, a row per hospital, month and DRG — 3.1 M rows at 10 M cases — keeps its keys as enums too)
    view = {name: (lazy if both_years else cur).group_by(keys).agg([pl.col(c).sum() for c in view_sums]).sort(keys)
            .with_columns([e for e, c in zip(strings, text_keys) if c in keys and name != "by_drg"]).collect()
            for name, (keys, view_sums, both_years) in VIEWS.items()}
    by_month = view["by_month"].rename({"outlier": "outliers"})
    if by_month.filter(pl.col("year") == year).height == 0:
        raise InputError(f"no priced case discharged in {year}", file=", ".join(files))
    return CaseAggregates(
        year=year, scale=scale, by_month=by_month, by_county=view["by_county"], by_class=view["by_class"],
        by_drg=view["by_drg"], fine=fine if sums.in_order else coded.sort(FINE_KEYS),
        files=files, scheme_id=sums.scheme_id,
        rows_read=sums.rows_read, rows_other_years=sums.rows_other_years, rejects=rejects)


def _year_month(dd) -> tuple[np.ndarray, np.ndarray]:
    """Discharge year and month (int32) of a date column (a timestamp's are those of its own calendar)."""
    import pyarrow as pa

    if pa.types.is_date32(dd.type):
        days = np.asarray(dd.cast(pa.int32()).fill_null(0), np.int64).astype("datetime64[D]")
        m = days.astype("datetime64[M]").astype(np.int64)
        return (m // 12 + 1970).astype(np.int32), (m % 12 + 1).astype(np.int32)
    import polars as pl

    d = pl.from_arrow(dd)
    return d.dt.year().cast(pl.Int32).to_numpy(), d.dt.month().cast(pl.Int32).to_numpy()


def _sort_cells(cells: CellSums, codes: _Codes) -> None:
    """The cells put in the order of :data:`FINE_KEYS`, in place: the codes of each text key renumbered in
    the order of their strings (:meth:`_Codes.renumber_in_order`), the cells sorted by their key rows (folded
    into one int64 where the keys' ranges allow, else column by column), each stored column permuted in turn
    (one column's copy at a time beside the cells)."""
    n = cells.n_cells
    keys = cells.keys[:n]
    spans = []
    for j, k in enumerate(FINE_KEYS):
        if k in codes.values:
            keys[:, j] = codes.renumber_in_order(k)[keys[:, j]]
        lo = int(keys[:, j].min())
        spans.append((lo, int(keys[:, j].max()) - lo + 1))
    total = 1
    for _lo, size in spans:
        total *= size
    if total < 2**62:
        folded = np.zeros(n, np.int64)
        for j, (lo, size) in enumerate(spans):
            folded *= size
            folded += keys[:, j]       # (cast in the ufunc's small buffers, not into a fresh 46 MB copy)
            folded -= lo
        # (every cell's folded key is its own: no two equal, so any sort gives the one order; numpy's default
        # sort of int64 is its SIMD one)
        order = np.argsort(folded)
        del folded
    else:
        order = np.lexsort([keys[:, j] for j in reversed(range(len(FINE_KEYS)))])
    for j, k in enumerate(FIRST_VALUES):     # (the first values' codes in their strings' order too)
        if k in codes.values:
            cells.firsts[j, :n] = codes.renumber_in_order(k)[cells.firsts[j, :n]]
    # each column permuted through one scratch array of its type (a fresh array per column is fresh memory
    # from the system every time: 17 columns of 46 MB at 10 M cases), the columns shared by two threads
    # (numpy's take lets go of the interpreter lock; at 10 M cases 1.45 s on one thread, 1.0–1.1 s on two)
    columns = [keys[:, j] for j in range(keys.shape[1])] + list(cells.sums[:, :n]) + list(cells.firsts[:, :n])

    def permute(part) -> None:
        scratch = {}
        for column in part:
            tmp = scratch.get(column.dtype)
            if tmp is None:
                tmp = scratch[column.dtype] = np.empty(n, column.dtype)
            # (mode "clip": with the default "raise", numpy takes into a fresh copy of ``out`` and copies
            # that back, so every column got fresh memory after all; every index is valid, so clip is none)
            np.take(column, order, out=tmp, mode="clip")
            column[:] = tmp

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(permute, [columns[0::2], columns[1::2]]))


def _fine_frame(cells: CellSums):
    """The cells as the polars frame of :attr:`PricedSums.fine` (codes still to become enums); the sums and the
    first values are the cells' own columns, not copies."""
    import polars as pl

    n = cells.n_cells
    types = {"year": (np.int32, pl.Int32), "month": (np.int32, pl.Int32), "grp": (np.int8, pl.Int8)}
    cols = []
    for j, c in enumerate(FINE_KEYS):
        np_type, pl_type = types.get(c, (np.uint32, pl.UInt32))
        cols.append(pl.Series(c, cells.keys[:n, j].astype(np_type), pl_type))
    cols += [pl.Series(c, cells.sums[j, :n], pl.Int64) for j, c in enumerate(FINE_SUMS)]
    cols += [pl.Series(c, cells.firsts[j, :n], pl.UInt32) for j, c in enumerate(FIRST_VALUES)]
    return pl.DataFrame(cols)


class _Codes:
    """Integer codes of the string keys of the sums, one table per key (``pool``, ``hospital_id``, ``county``,
    ``case_class``, ``drg``, ``mdc``, ``adrg``): each batch's column is dictionary-encoded (or read as a
    dictionary), its few distinct values are looked up here once, and the cases carry codes; a null is ``""``.
    :meth:`as_enums` turns the code columns of the sums into polars enums."""

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {}
        self.index: dict[str, dict[str, int]] = {}

    def code(self, key: str, value: str) -> int:
        index = self.index.setdefault(key, {})
        c = index.get(value)
        if c is None:
            values = self.values.setdefault(key, [])
            c = index[value] = len(values)
            values.append(value)
        return c

    def renumber_in_order(self, key: str) -> np.ndarray:
        """Renumber the codes of ``key`` in the order of their strings; returns the new code of each old one."""
        values = self.values.get(key, [])
        order = sorted(range(len(values)), key=values.__getitem__)
        new = np.empty(len(values), np.int32)
        new[order] = np.arange(len(values), dtype=np.int32)
        self.values[key] = [values[i] for i in order]
        self.index[key] = {v: i for i, v in enumerate(self.values[key])}
        return new

    def of(self, key: str, column, n: int = 0) -> np.ndarray:
        """The codes of a string column (a null is ``""``); ``column`` None: ``n`` times ``""``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if column is None:
            return np.full(n, self.code(key, ""), np.uint32)
        arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if not pa.types.is_dictionary(arr.type):
            if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
                arr = arr.cast(pa.string())
            arr = pc.dictionary_encode(arr)
        values = arr.dictionary
        if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
            values = values.cast(pa.string())
        table = np.array([self.code(key, v) for v in values.to_pylist()] + [self.code(key, "")], np.uint32)
        return table[np.asarray(arr.indices.fill_null(len(values)), np.int64)]

    def as_enums(self, frame):
        """``frame`` with its code columns (:data:`TEXT_COLUMNS`) as polars enums whose categories are the
        strings the cells have, in their order (each key renumbered so by :meth:`renumber_in_order`; a value
        seen only in rows of other years is left out, so one file's enums equal those of a combination): one
        small integer a cell, no string built per cell, and sorts and group-bys in the strings' order."""
        import polars as pl

        out = []
        for col in TEXT_COLUMNS:
            if col in frame.columns:
                values = self.values.get(col) or [""]
                if values != sorted(values):
                    raise AssertionError(f"codes of {col} are not in their strings' order")  # pragma: no cover
                codes = frame[col].to_numpy()
                used = np.zeros(len(values), bool)      # (np.bincount would copy the codes into intp first)
                used[frame[col].unique().to_numpy()] = True
                if not used.all():    # only the values the cells have (a value seen only in other years' rows)
                    codes = (np.cumsum(used) - 1).astype(np.uint32)[codes]
                    values = [v for v, u in zip(values, used.tolist()) if u]
                out.append(pl.Series(col, values, pl.Enum(values)).gather(codes))
        return frame.with_columns(out)


def _flags(column, rule) -> np.ndarray:
    """``rule(value)`` for every value of a string column, evaluated once per distinct value (the column's
    dictionary: read as one from Parquet, or encoded here)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from drg.casefile.strings import per_dictionary_value

    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    return per_dictionary_value(
        column, lambda values: [bool(rule(v.strip() if isinstance(v, str) else v)) for v in values.to_pylist()],
        bool(rule(None)), bool)


def _monitor_columns(t, adj_u: np.ndarray, bpu: np.ndarray, has_bp: np.ndarray, scale: int, file: str,
                     codes: _Codes) -> dict[str, np.ndarray]:
    """The per-case columns of the monitoring sums (SPEC §9) for one batch: the group state ``grp``, points
    before §5, the CMI weight of a grouped case, LOS, deaths, halved stays, CC/MCC, MDC and ADRG (codes);
    flags as int8, summed into int64."""
    import pyarrow as pa

    n = t.num_rows
    names = t.column_names
    if "drg" in names:
        has = _flags(t.column("drg"), has_drg)
        ambiguous = _flags(t.column("drg"), is_ambiguous)
    else:
        has = ambiguous = np.zeros(n, bool)
    grouped = has & _flags(t.column("group_status"), lambda v: v == "ok") if "group_status" in names else has
    if "points" in names:
        pts = t.column("points").cast(pa.float64()).to_numpy(zero_copy_only=False)
        pts_u = points_to_units(np.nan_to_num(pts), scale, what="points", file=file)
    else:
        pts_u = adj_u
    w = np.where(has_bp, bpu, pts_u)

    def ints(name: str, fill: int = 0) -> np.ndarray:
        if name not in names:
            return np.full(n, fill, np.int64)
        return np.asarray(t.column(name).cast(pa.int64()).fill_null(fill), np.int64)

    cc = ints("cc_level")
    halved = (_flags(t.column("adjust_reason"), lambda v: v is not None and v.startswith("readmission"))
              if "adjust_reason" in names else np.zeros(n, bool))

    def text(name: str) -> np.ndarray:
        return codes.of(name, t.column(name) if name in names else None, n)

    return {"grp": np.where(grouped, 0, np.where(ambiguous, 2, 1)).astype(np.int8),
            "pts_u": np.asarray(pts_u, np.int64), "w_u": np.where(grouped, w, 0).astype(np.int64),
            "grouped": grouped.astype(np.int8), "los": ints("los"),
            "deaths": (ints("discharge_status", -1) == 5).astype(np.int8), "halved": halved.astype(np.int8),
            "cc": (cc >= 1).astype(np.int8), "mcc": (cc == 2).astype(np.int8), "mdc": text("mdc"),
            "adrg": text("adrg")}


def hospital_inputs(agg: CaseAggregates, pool: str, months: Iterable[int], year: int) -> dict[str, HospitalInput]:
    import polars as pl

    bm = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year) & pl.col("month").is_in(list(months)))
    g = bm.group_by("hospital_id").agg(pl.col("adj_u").sum(), pl.col("ded_u").sum(), pl.col("selfpay").sum(),
                                       pl.col("total_cost").sum(), pl.col("cases").sum())
    return {r["hospital_id"]: HospitalInput(r["hospital_id"], int(r["adj_u"]), int(r["ded_u"]), int(r["selfpay"]),
                                            int(r["total_cost"]), int(r["cases"]))
            for r in g.iter_rows(named=True)}


def hospital_stats(agg: CaseAggregates, pool: str, months: Iterable[int], year: int) -> dict[str, dict]:
    """CMI (SPEC §9: Σ w_i / grouped cases, :func:`cmi_of`) and outlier share per hospital."""
    import polars as pl

    bm = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year) & pl.col("month").is_in(list(months)))
    g = bm.group_by("hospital_id").agg(pl.col("cases").sum(), pl.col("outliers").sum(), pl.col("w_u").sum(),
                                       pl.col("grouped").sum())
    out = {}
    for r in g.iter_rows(named=True):
        cmi = cmi_of(r["w_u"], r["grouped"], agg.scale)
        out[r["hospital_id"]] = {"cmi": cmi, "outlier_share": round(r["outliers"] / r["cases"], 4) if r["cases"]
                                 else None, "cases": r["cases"], "outliers": r["outliers"]}
    return out


def prev_year_cmi(agg: CaseAggregates, pool: str) -> dict[str, float]:
    import polars as pl

    prev = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year - 1))
    g = prev.group_by("hospital_id").agg(pl.col("w_u").sum(), pl.col("grouped").sum())
    return {r["hospital_id"]: cmi_of(r["w_u"], r["grouped"], agg.scale)
            for r in g.iter_rows(named=True) if r["grouped"]}


def cmi_of(w_units: int, grouped: int, scale: int) -> float | None:
    """CMI (SPEC §9) = Σ w_i / grouped cases, w_i in point units (``w = BP / 100``), rounded to 4 decimals;
    None without a grouped case."""
    return round(w_units / scale / 100 / grouped, 4) if grouped else None


def prev_year_spending(agg: CaseAggregates, pool: str) -> int | None:
    import polars as pl

    prev = agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == agg.year - 1))
    return int(prev["fund_paid"].sum()) if prev.height else None


#: Columns of a settlement stage's rejects (ledger table ``run_rejects``).
REJECT_SCHEMA = {"file": "String", "row_number": "Int64", "reject_reason": "String", "reject_detail": "String",
                 "total_cost_fen": "Int64", "fund_paid_fen": "Int64"}


def _empty_rejects():
    import polars as pl

    return pl.DataFrame(schema={k: getattr(pl, v) for k, v in REJECT_SCHEMA.items()})


def _settleable(t, file: str, first: int):
    """The rows of a priced batch that can be settled, and the others as rejects (file, row number,
    reason, detail, money in fen where it can be read): a row without a discharge date, hospital, insurance
    type, county or points, or with money that is missing, not a number or out of range."""
    import polars as pl
    import pyarrow as pa

    from drg.casefile.money import FEN_COLUMNS, MONEY_COLUMNS
    from drg.casefile.problems import Problem, blank_mask, reasons_of, yuan_money_problems

    n = t.num_rows
    problems: list[Problem] = []

    dd = t.column("discharge_date")
    if not (pa.types.is_date(dd.type) or pa.types.is_timestamp(dd.type)):
        parsed = pl.from_arrow(dd.cast(pa.string())).str.strip_chars().str.slice(0, 10).str.to_date(
            "%Y-%m-%d", strict=False)
        dd = parsed.to_arrow()
        t = t.set_column(t.column_names.index("discharge_date"), "discharge_date", dd)
    problems.append(("missing_field", "discharge_date", np.asarray(dd.is_null(), dtype=bool)))
    for c in ("hospital_id", "insurance_type", "county"):
        problems.append(("missing_field", c, blank_mask(t.column(c))))
    adj = t.column("adjusted_points").cast(pa.float64(), safe=False)
    adj_np = np.asarray(adj.fill_null(np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
    problems.append(("missing_field", "adjusted_points", ~np.isfinite(adj_np)))
    fen = {}
    for yuan, name in zip(MONEY_COLUMNS, FEN_COLUMNS):
        if name in t.column_names:
            col = t.column(name)
            fen[name] = np.asarray(col.fill_null(0), dtype=np.int64)
            if yuan != "other_paid":
                problems.append(("missing_field", yuan, np.asarray(col.is_null(), dtype=bool)))
        elif yuan in t.column_names:
            fen[name], _isnull, found = yuan_money_problems(t.column(yuan), yuan)
            problems += found
    bad = np.zeros(n, dtype=bool)
    for _, _, m in problems:
        bad |= m
    if not bad.any():
        return t, None
    rows = np.flatnonzero(bad)
    reasons, details = reasons_of(problems, rows)
    money = {k: (fen[k][rows] if k in fen else np.zeros(len(rows), np.int64)) for k in ("total_cost_fen", "fund_paid_fen")}
    rejected = pl.DataFrame({"file": [file] * len(rows), "row_number": (rows + first).astype(np.int64),
                             "reject_reason": reasons, "reject_detail": details,
                             "total_cost_fen": money["total_cost_fen"], "fund_paid_fen": money["fund_paid_fen"]})
    return t.filter(pa.array(~bad)), rejected


def _batches(pf, batch_rows: int, columns: list[str], file: str):
    """The priced file's batches; a damaged one is an error naming the file (not Arrow's)."""
    import pyarrow as pa

    it = pf.iter_batches(batch_size=batch_rows, columns=columns)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"a part of the file cannot be read ({type(exc).__name__})", file=file) from None
        yield batch
