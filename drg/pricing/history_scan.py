"""The projection of grouped history that ``drg weights`` keeps, made in one pass per record batch.

What :func:`drg.pricing.weights.history_rows`, :class:`drg.pricing.weights.HistoryRowsBuilder` and
:func:`drg.monitoring.lowrisk.death_counts` take from a batch in a dozen numpy and Arrow passes — the cases
with a DRG (DRG and hospital codes, discharge year, fen, bed-days, per-diem), the discharge years present,
the hospitals named, the cases and deaths per DRG and year — a numba kernel takes here reading each row
once (20 M history cases: 0.9 s of the main thread's work in those passes). Text columns come as Arrow
dictionaries: each batch's few distinct values are looked up in Python (codes in order of first
appearance, as the numpy code numbers them), the rows only carry indices.

:class:`HistoryProjection` is used by :func:`drg.pricing.coefficients.scan_history` when ``ENGINE`` is
``numba``; with ``python`` the scan runs the numpy code, its plain twin. Both give the same rows, names,
years, hospitals and death counts (tests run whole histories through both).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from numba import njit

from drg.errors import InputError

__all__ = ["ENGINE", "HistoryProjection", "civil_year"]

#: ``numba`` (:class:`HistoryProjection`) or ``python`` (the numpy passes). No caller chooses it; the tests'
#: engine fixture sets it for the length of a test.
ENGINE = "numba"

#: distinct discharge years the kernel keeps death counts for (more, or a year outside 0…9999: the scan is
#: done again by the numpy code, which has no such limit)
YEAR_SLOTS = 64
#: capacity (rows) from which the projection's pages are touched on a thread ahead of the kernel
TOUCH_MIN_ROWS = 1 << 22
#: a null discharge date, in days (its year is 0, as ``case_years`` gives it)
NO_DATE = np.iinfo(np.int32).min

# statuses of the kernel
_DONE, _WIDEN_COST, _WIDEN_BED_DAYS, _LOS_RANGE, _UNUSUAL_YEAR = 0, 1, 2, 3, 4


class UnusualHistory(Exception):
    """The history has more distinct years than :data:`YEAR_SLOTS` or a year outside 0…9999: the caller
    scans it with the numpy code instead."""


@njit(cache=True, inline="always")
def civil_year(days):
    """The proleptic Gregorian year of a day count since 1970-01-01 (H. Hinnant's ``civil_from_days``, with
    floor division: the era of a day before 0000-03-01 is negative)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    return yoe + era * 400 + (1 if mp >= 10 else 0)


#: the first day (since 1970-01-01) of :data:`YEAR_OF_DAY`: 1900-01-01
FIRST_DAY = -25567
#: the year of each day from 1900 to 2199 (a lookup in place of :func:`civil_year`'s seven divisions)
YEAR_OF_DAY = np.repeat(np.arange(1900, 2200, dtype=np.int16),
                        [366 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 365 for y in range(1900, 2200)])


@njit(cache=True)
def _year_apart(days, i, from_days, years):
    """The discharge year of row ``i`` that the kernel's table does not hold: from ``years`` (a date column of
    another type, its years taken by Arrow), 0 for a missing date, else :func:`civil_year`. (A function of its
    own, not inlined: with the division-heavy path inside the loop, the kernel took twice as long.)"""
    if not from_days:
        return years[i]
    d = np.int64(days[i])
    if d == NO_DATE:
        return np.int64(0)
    return civil_year(d)


@njit(cache=True, nogil=True)
def _project(drg_idx, drg_code, drg_has, drg_pd, hosp_idx, hosp_code, adrg_idx, adrg_pd, gs_idx, gs_ok, los, days,
             from_days, years, table, status, cost, min_los, out_drg, out_hospital, out_year, out_cost, out_bed_days,
             out_per_diem, at, start, year_slot, death_n, death_x, hospital_seen, year_seen):
    """Rows ``start`` on of one batch: the rows with a DRG written at ``at`` on, the deaths, hospitals and
    years counted. Returns (status, row, rows written): ``_DONE`` at the end of the batch; else the row it
    stopped before, having done those before it — a value the output arrays cannot hold (``_WIDEN_*``: widen
    them and go on from that row), or a row the kernel does not take (``_LOS_RANGE``, ``_UNUSUAL_YEAR``)."""
    n = drg_idx.shape[0]
    cost_lo, cost_hi = np.iinfo(out_cost.dtype).min, np.iinfo(out_cost.dtype).max
    bed_hi = np.iinfo(out_bed_days.dtype).max
    m = at
    n_table = table.shape[0]
    for i in range(start, n):
        k = np.int64(days[i]) - FIRST_DAY if from_days else np.int64(-1)
        if 0 <= k < n_table:
            y = np.int64(table[k])
        else:
            y = _year_apart(days, i, from_days, years)
        if y < 0 or y > 9999:
            return _UNUSUAL_YEAR, i, m - at
        s = year_slot[y]
        if s < 0:
            if year_slot[10000] >= YEAR_SLOTS:
                return _UNUSUAL_YEAR, i, m - at
            s = year_slot[10000]
            year_slot[y] = s
            year_slot[10000] += 1
        k = drg_idx[i]
        d = -1 if k < 0 else drg_code[k]
        if d >= 0 and drg_has[d]:
            c = cost[i]
            if c < cost_lo or c > cost_hi:
                return _WIDEN_COST, i, m - at
            b = max(np.int64(los[i]), 1)
            if b >= 2**31:
                return _LOS_RANGE, i, m - at
            if b > bed_hi:
                return _WIDEN_BED_DAYS, i, m - at
            if gs_idx.shape[0] == 0 or (gs_idx[i] >= 0 and gs_ok[gs_idx[i]]):
                death_n[d, s] += 1
                if status.shape[0] and status[i] == 5:
                    death_x[d, s] += 1
            pd = drg_pd[d]
            if not pd and adrg_idx.shape[0]:
                a = adrg_idx[i]
                pd = a >= 0 and adrg_pd[a]
            if not pd and min_los >= 0:
                pd = los[i] >= min_los
            out_drg[m] = d
            out_year[m] = y
            out_cost[m] = c
            out_bed_days[m] = b
            out_per_diem[m] = pd
        year_seen[y] = True
        h = hosp_idx[i]
        hc = -1 if h < 0 else hosp_code[h]
        hospital_seen[hc + 1] = True            # (slot 0: a missing id)
        if d >= 0 and drg_has[d]:
            out_hospital[m] = hc
            m += 1
    return _DONE, n, m - at


@njit(cache=True, nogil=True)
def _touch(pages):
    """Write a byte on every 4 KiB page of ``pages`` (uint8): the system gives each its memory now."""
    for i in range(0, pages.shape[0], 4096):
        pages[i] = 0


class PageToucher:
    """Gives the pages of the projection's arrays their memory on a thread of their own, a slice of rows at a
    time from the first row on, ahead of the kernel that fills them.

    At 20 M history cases the arrays are 260 MB of fresh memory: 63 K page faults, about 0.13 s that the
    kernel paid on the main thread. The toucher writes only rows the kernel has not been allowed to write
    (:meth:`wait` lets the kernel write rows below what is touched, and the toucher never goes back); it
    stops when the arrays are replaced (grown or widened)."""

    SLICE = 1 << 20

    def __init__(self, arrays: list[np.ndarray], rows: int) -> None:
        import threading

        self._arrays = arrays
        self._rows = rows
        self._done = 0
        self._stop = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="drg-page-toucher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        lo = 0
        while lo < self._rows and not self._stop:
            hi = min(lo + self.SLICE, self._rows)
            for a in self._arrays:
                _touch(a[lo:hi].view(np.uint8))
            with self._changed:
                self._done = hi
                self._changed.notify_all()
            lo = hi
        with self._changed:
            self._done = self._rows
            self._changed.notify_all()

    def wait(self, rows: int) -> None:
        """Return once rows up to ``rows`` (exclusive) are touched, or the toucher has stopped."""
        with self._changed:
            while self._done < min(rows, self._rows) and not self._stop:
                self._changed.wait()

    def stop(self) -> None:
        self._stop = True
        with self._changed:
            self._changed.notify_all()
        self._thread.join()


def _indices(array: pa.Array) -> np.ndarray:
    """The indices of a dictionary array as int32 numpy, −1 for a null."""
    ind = array.indices
    if ind.null_count:
        ind = ind.fill_null(-1)
    return np.asarray(ind, np.int32) if ind.type == pa.int32() else np.asarray(ind.cast(pa.int32()), np.int32)


def _ints(array: pa.Array, null: int, dtype) -> np.ndarray:
    """An integer Arrow array as numpy (``dtype``, or its own type for None), nulls as ``null``."""
    if array.null_count:
        array = array.fill_null(null)
    return np.asarray(array, dtype)


def _as_dictionary(array: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(array.type):
        if not pa.types.is_string(array.type.value_type):
            array = pa.DictionaryArray.from_arrays(array.indices, array.dictionary.cast(pa.string()))
        return array
    return array.cast(pa.string()).dictionary_encode()


class HistoryProjection:
    """The slim projection of history batches (in order) and what ``drg weights`` keeps beside it, built in
    :class:`drg.pricing.weights.HistoryRowsBuilder`'s arrays.

    ``add`` takes a table of the history columns (``hospital_id, drg, los, discharge_date, total_cost_fen``,
    optional ``adrg``, ``discharge_status``, ``group_status``); ``first_row`` is its first row's number in
    ``file``, for the errors."""

    def __init__(self, capacity: int, policy) -> None:
        from drg.pricing.weights import HistoryRowsBuilder

        self.builder = HistoryRowsBuilder(capacity)
        self._pd_names = frozenset(policy.per_diem.drgs)
        self._min_los = -1 if policy.per_diem.min_los is None else int(policy.per_diem.min_los)
        self._drg_has = np.zeros(64, np.bool_)
        self._drg_pd = np.zeros(64, np.bool_)
        self._year_slot = np.full(10001, -1, np.int64)
        self._year_slot[10000] = 0               # (the next free slot)
        self._death_n = np.zeros((64, YEAR_SLOTS), np.int64)
        self._death_x = np.zeros((64, YEAR_SLOTS), np.int64)
        self._hospital_seen = np.zeros(65, np.bool_)
        self._year_seen = np.zeros(10000, np.bool_)
        self._flagged = 0                        # (DRG names whose flags are set)
        self._known: dict = {}                   # id of a name dict → its names as an Arrow array
        self._toucher = PageToucher(self._arrays(), capacity) if capacity >= TOUCH_MIN_ROWS else None
        self.cases = 0

    # ----------------------------------------------------------------------------------- names and codes
    def _codes(self, dictionary: pa.Array, names: dict) -> np.ndarray:
        """Codes of a batch dictionary's values in ``names`` (new values added in their order), and −1 at the
        end (for a null index). Looked up by Arrow against the names known so far (a batch's 600 values:
        0.1 ms in Python, a tenth of it so)."""
        import pyarrow.compute as pc

        known = self._known.get(id(names))
        if known is None or len(known) != len(names):
            known = self._known[id(names)] = pa.array(list(names), pa.string())
        found = pc.index_in(dictionary, value_set=known)
        if found.null_count > dictionary.null_count:        # values not seen before: named in their order
            for v, k in zip(dictionary.to_pylist(), found.to_pylist()):
                if v is not None and k is None:
                    names.setdefault(v, len(names))
            known = self._known[id(names)] = pa.array(list(names), pa.string())
            found = pc.index_in(dictionary, value_set=known)
        codes = np.empty(len(dictionary) + 1, np.int64)
        codes[:-1] = np.asarray(found.fill_null(-1) if found.null_count else found, np.int64)
        codes[-1] = -1
        return codes

    def _grow(self) -> None:
        from grouper.results import has_drg

        names = self.builder._drg_names
        n = len(names)
        if n > len(self._drg_has):
            size = max(n, 2 * len(self._drg_has))
            for name in ("_drg_has", "_drg_pd", "_death_n", "_death_x"):
                old = getattr(self, name)
                grown = np.zeros((size, *old.shape[1:]), old.dtype)
                grown[:len(old)] = old
                setattr(self, name, grown)
        for v, code in list(names.items())[self._flagged:]:
            self._drg_has[code] = has_drg(v)
            self._drg_pd[code] = v in self._pd_names
        self._flagged = n
        for name, count in (("_drg", n), ("_hospital", len(self.builder._hospital_names))):
            if count > np.iinfo(getattr(self.builder, name).dtype).max:
                self.builder.widen(name)
        hn = len(self.builder._hospital_names)
        if hn + 1 > len(self._hospital_seen):
            grown = np.zeros(max(hn + 1, 2 * len(self._hospital_seen)), np.bool_)
            grown[:len(self._hospital_seen)] = self._hospital_seen
            self._hospital_seen = grown

    # --------------------------------------------------------------------------------------------- batches
    def add(self, table: pa.Table, *, file: str, first_row: int) -> None:
        import pyarrow.compute as pc

        row = first_row
        names = table.column_names
        for batch in table.to_batches():
            if not batch.num_rows:
                continue
            col = dict(zip(names, batch.columns))
            drg = _as_dictionary(col["drg"])
            hosp = _as_dictionary(col["hospital_id"])
            drg_code = self._codes(drg.dictionary, self.builder._drg_names)
            hosp_code = self._codes(hosp.dictionary, self.builder._hospital_names)
            self._grow()
            empty_i, empty_b = np.zeros(0, np.int32), np.zeros(0, np.bool_)
            adrg_idx, adrg_pd = empty_i, empty_b
            if self._pd_names and "adrg" in col:
                adrg = _as_dictionary(col["adrg"])
                adrg_idx = _indices(adrg)
                adrg_pd = np.array([v in self._pd_names for v in adrg.dictionary.to_pylist()], np.bool_)
            gs_idx, gs_ok = empty_i, empty_b
            if "group_status" in col:
                gs = _as_dictionary(col["group_status"])
                gs_idx = _indices(gs)
                gs_ok = np.array([v == "ok" for v in gs.dictionary.to_pylist()], np.bool_)
            # (integer columns as they are: int8 status, int32 stays not widened per batch)
            status = np.zeros(0, np.int8)
            if "discharge_status" in col:
                s = col["discharge_status"]
                status = _ints(s if pa.types.is_integer(s.type) else s.cast(pa.int64()), 0, None)
            los = col["los"]
            los = _ints(los if pa.types.is_integer(los.type) else los.cast(pa.int64()), 0, None)
            date = col["discharge_date"]
            days, years = np.zeros(0, np.int32), np.zeros(0, np.int64)
            from_days = pa.types.is_date32(date.type)
            if from_days:
                days = _ints(date.view(pa.int32()), NO_DATE, np.int32)
            else:
                years = _ints(pc.year(date), 0, np.int64)
            cost = np.asarray(col["total_cost_fen"], np.int64)
            b = self.builder
            b.reserve(batch.num_rows)
            if self._toucher is not None:
                if any(a is not t for a, t in zip(self._arrays(), self._toucher._arrays)):
                    self.close()                # (the arrays grown or widened: their pages are given)
                else:
                    self._toucher.wait(b._n + batch.num_rows)
            start = 0
            while True:
                status_code, stop, written = _project(
                    _indices(drg), drg_code, self._drg_has, self._drg_pd, _indices(hosp), hosp_code, adrg_idx,
                    adrg_pd, gs_idx, gs_ok, los, days, from_days, years, YEAR_OF_DAY, status, cost, self._min_los,
                    b._drg, b._hospital, b._year, b._cost, b._bed_days, b._per_diem, b._n, start, self._year_slot,
                    self._death_n, self._death_x, self._hospital_seen, self._year_seen)
                b._n += written
                if status_code == _DONE:
                    break
                if status_code == _LOS_RANGE:
                    raise InputError("los out of range", file=file, row=row + stop, field="los")
                if status_code == _UNUSUAL_YEAR:
                    raise UnusualHistory()
                b.widen("_cost" if status_code == _WIDEN_COST else "_bed_days")
                start = stop
            self.cases += batch.num_rows
            row += batch.num_rows

    def _arrays(self) -> list[np.ndarray]:
        b = self.builder
        return [b._drg, b._hospital, b._year, b._cost, b._bed_days, b._per_diem]

    def close(self) -> None:
        """Stop the page toucher (also when a batch raised)."""
        if self._toucher is not None:
            self._toucher.stop()
            self._toucher = None

    # --------------------------------------------------------------------------------------------- results
    def rows(self):
        self.close()
        return self.builder.rows()

    def years(self) -> np.ndarray:
        return np.flatnonzero(self._year_seen).astype(np.int32)

    def hospitals(self) -> set:
        names = list(self.builder._hospital_names)
        seen = np.flatnonzero(self._hospital_seen).tolist()
        return {None if k == 0 else names[k - 1] for k in seen}

    def deaths(self):
        from drg.monitoring.lowrisk import DeathCounts

        names = list(self.builder._drg_names)
        slots = {int(s): y for y, s in enumerate(self._year_slot[:10000].tolist()) if s >= 0}
        counts = {}
        for d, s in zip(*np.nonzero(self._death_n[:len(names)])):
            counts[(names[d], slots[int(s)])] = (int(self._death_n[d, s]), int(self._death_x[d, s]))
        return DeathCounts(names, counts)
