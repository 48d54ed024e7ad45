"""The monitoring facts of one year read lean from the ledger, for ``drg monitor`` (SPEC §9).

:func:`drg.monitoring.store.read_facts` returns every ``monitor_facts`` row with its text keys: 5.7 M rows at
a 10 M-case province, and with the per-row terms of :func:`drg.monitoring.indicators.prepare` several
gigabytes. Here the facts stay in the ledger:

* the exact integer sums each output needs are grouped in DuckDB (``SUM`` of BIGINT is exact; the HUGEINT
  result is cast back to BIGINT), so polars sees a few thousand rows per unit type;
* the only per-row work that cannot be grouped first — the float terms of the cost and time indices
  (费用消耗指数, 时间消耗指数), which must be added one after another in the facts' order — runs in numpy over
  integer codes of the text keys (each code's order that of its text) and two integer columns.

:class:`LedgerSums` answers the same questions as :class:`drg.monitoring.indicators.FrameSums` does over the
prepared facts frame, with the same numbers to the last bit (the tests compare the two). A key column with a
NULL (which no settlement run writes) is left to the straightforward way: :meth:`LedgerFacts.sums` then
returns a :class:`~drg.monitoring.indicators.FrameSums`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LedgerFacts", "LedgerSums"]

#: The text keys of a fact, in the facts' order (after year and month).
KEYS = ("pool", "hospital_id", "county", "mdc", "adrg", "drg", "case_class", "group_state")
#: The key columns the per-row float terms need (``case_class`` only orders the rows).
_ROW_KEYS = ("pool", "hospital_id", "county", "mdc", "adrg", "drg", "group_state")

#: Unit × pool keys up to this many are sorted as 16-bit integers: numpy sorts those stably by radix, in one
#: pass (the same order as the int64 sort, so the float terms are added in the same order; at 10 M cases
#: ``drg monitor`` 12.3 → 9.1 s with the DRG-use table, 2026-12-05).
RADIX_SORT_KEYS = 1 << 16


def _sum(expr: str, name: str) -> str:
    return f"CAST(coalesce(sum({expr}), 0) AS BIGINT) AS {name}"


class LedgerFacts:
    """The ``monitor_facts`` of ``year`` (its ``months``; all when None), each month from the latest run that
    covers it (as :func:`drg.monitoring.store.read_facts`), read on demand.

    Attributes
    ----------
    months : list of int
        The months some run covers, ascending.
    """

    def __init__(self, ledger: Any, year: int, months: tuple[int, ...] | None = None):
        from drg.monitoring.store import _has_table, _latest_runs_sql

        self.ledger, self.year = ledger, int(year)
        with ledger.connect(read_only=True) as con:
            runs = (con.execute(_latest_runs_sql() + " SELECT month, run_id FROM latest ORDER BY month",
                                [self.year]).fetchall() if _has_table(con, "monitor_facts") else [])
        self.runs = [(int(m), str(r)) for m, r in runs if months is None or int(m) in months]
        self.months = [m for m, _ in self.runs]
        self._keys: dict[str, list] | None = None
        self._rows: dict | None = None
        self._frame = None

    @property
    def empty(self) -> bool:
        return not self.runs

    def source(self, months: tuple[int, ...] | None = None) -> tuple[str, list]:
        """``(SQL subquery, parameters)`` of the facts of ``months`` (all read months when None)."""
        pairs = [(m, r) for m, r in self.runs if months is None or m in months]
        if not pairs:
            return "(SELECT * FROM monitor_facts WHERE false)", []
        values = ", ".join("(?, ?)" for _ in pairs)
        return (f"(SELECT f.* FROM monitor_facts f JOIN (VALUES {values}) AS l(month, run_id) "
                "ON f.month = l.month AND f.run_id = l.run_id WHERE f.year = ?)",
                [x for p in pairs for x in p] + [self.year])

    def query(self, sql: str, params: list, tables: dict | None = None, *, numpy: bool = False):
        """Run ``sql`` on a read-only connection with ``tables`` (name → Arrow table) registered; a polars frame
        (or numpy arrays)."""
        with self.ledger.connect(read_only=True) as con:
            for name, table in (tables or {}).items():
                con.register(name, table)
            rel = con.sql(sql, params=params)
            return rel.fetchnumpy() if numpy else rel.pl()

    def keys(self) -> dict[str, list]:
        """Each text key's distinct values over the read months, sorted (the code of a value is its index)."""
        if self._keys is None:
            src, params = self.source()
            self._keys = {}
            for k in KEYS:
                got = self.query(f"SELECT DISTINCT {k} FROM {src} ORDER BY {k}", params, numpy=True)[k]
                self._keys[k] = [None if v is None else str(v) for v in got.tolist()]
        return self._keys

    @property
    def codable(self) -> bool:
        """Whether no key column holds a NULL (else the facts are summed the straightforward way)."""
        return not any(None in v for v in self.keys().values())

    def pools(self) -> list[str]:
        return [p for p in self.keys()["pool"] if p is not None]

    def scale(self) -> int | None:
        """The points scale (the largest over the read months; None without facts)."""
        if self.empty:
            return None
        src, params = self.source()
        got = self.query(f"SELECT max(scale) AS s FROM {src}", params)["s"][0]
        return None if got is None else int(got)

    def rows(self) -> dict:
        """The per-row columns of the float terms, in the facts' order (year, month, then the text keys as
        :func:`drg.monitoring.store.read_facts` orders them): ``month`` and the codes of :data:`_ROW_KEYS`,
        ``total_cost_fen`` and ``los_days`` (int64)."""
        if self._rows is None:
            import numpy as np
            import pyarrow as pa

            keys = self.keys()
            tables, codes, joins = {}, [], []
            for k in KEYS:
                wide = len(keys[k]) > 32000
                tables[f"m_code_{k}"] = pa.table({"v": pa.array(keys[k], pa.string()),
                                                  "code": pa.array(range(len(keys[k])),
                                                                   pa.int32() if wide else pa.int16())})
                codes.append(f"c_{k}.code AS {k}")
                joins.append(f"JOIN m_code_{k} c_{k} ON f.{k} = c_{k}.v")
            src, params = self.source()
            got = self.query(f"SELECT f.month::TINYINT AS month, {', '.join(codes)}, f.total_cost_fen, f.los_days "
                             f"FROM {src} f {' '.join(joins)}", params, tables, numpy=True)
            got = {k: np.asarray(v) for k, v in got.items()}
            order = np.lexsort([got[k] for k in reversed(("month", *KEYS))])   # last key first
            del got["case_class"]
            self._rows = {k: v[order] for k, v in got.items()}
        return self._rows

    def frame(self):
        """Every fact of the read months as :func:`drg.monitoring.store.read_facts` returns them (the
        straightforward way, for facts with a NULL key)."""
        if self._frame is None:
            from drg.monitoring.store import read_facts

            self._frame = read_facts(self.ledger, self.year, tuple(self.months))
        return self._frame

    def sums(self, months: tuple[int, ...] | None, hospitals: dict[str, dict], low_risk: set[str] | None):
        """The sums of ``months`` (all read months when None): a :class:`LedgerSums`, or a
        :class:`~drg.monitoring.indicators.FrameSums` of the prepared facts when a key holds a NULL."""
        months = tuple(self.months) if months is None else tuple(months)
        if self.empty or self.codable:
            return LedgerSums(self, months, hospitals, low_risk)
        import polars as pl

        from drg.monitoring.indicators import FrameSums, prepare

        return FrameSums(prepare(self.frame().filter(pl.col("month").is_in(list(months))), hospitals, low_risk))


class LedgerSums:
    """The sums of :class:`drg.monitoring.indicators.FrameSums` for the facts of ``months`` of a
    :class:`LedgerFacts`, with the hospitals' tiers and the low-risk DRGs of :func:`prepare`."""

    def __init__(self, facts: LedgerFacts, months: tuple[int, ...], hospitals: dict[str, dict],
                 low_risk: set[str] | None):
        self.facts, self.hospitals, self.low_risk = facts, hospitals, low_risk
        self.months = tuple(m for m in facts.months if m in months)
        self._city = None
        self._terms_cache = None

    @property
    def empty(self) -> bool:
        return not self.months

    def _query(self, select: str, where: str = "true", tables: dict | None = None):
        src, params = self.facts.source(self.months)
        return self.facts.query(select.replace("{src}", src) + f" WHERE {where} GROUP BY ALL", params, tables)

    def _tables(self) -> dict:
        import pyarrow as pa

        city = self.city()
        return {
            "m_tiers": pa.table({"hospital_id": pa.array(list(self.hospitals), pa.string()),
                                 "tier": pa.array([str(v.get("tier") or "") for v in self.hospitals.values()],
                                                  pa.string())}),
            "m_low": pa.table({"drg": pa.array(sorted(self.low_risk or ()), pa.string())}),
            "m_city": city.to_arrow()}

    def city(self):
        """Per DRG of the grouped cases: cases ``n_d``, total cost ``cost_d`` and LOS ``los_d`` (the city's
        means of the cost and time indices)."""
        if self._city is None:
            self._city = self._query("SELECT drg, " + ", ".join(
                [_sum("cases", "n_d"), _sum("total_cost_fen", "cost_d"), _sum("los_days", "los_d")])
                + " FROM {src}", "group_state = 'grouped'")
        return self._city

    # ------------------------------------------------------------------------------------------ the units
    def unit_sums(self, unit_type: str):
        """As :meth:`drg.monitoring.indicators.FrameSums.unit_sums`."""

        from drg.monitoring.indicators import _FLOAT_SUMS, _SUMS, SHARE_CLASSES

        if self.empty:
            return None
        unit = {"city": "'city'", "tier": "coalesce(t.tier, '')", "hospital": "f.hospital_id"}.get(
            unit_type, f"f.{unit_type}")
        where = (f"{unit} <> '' AND f.drg <> '0000' AND f.drg <> ''" if unit_type in ("mdc", "adrg", "drg")
                 else "true")
        g = "f.group_state = 'grouped'"
        terms = {"ci_den": f"CASE WHEN {g} AND c.cost_d > 0 THEN f.cases ELSE 0 END",
                 "ti_den": f"CASE WHEN {g} AND c.los_d > 0 THEN f.cases ELSE 0 END",
                 "lr_cases": f"CASE WHEN {g} AND f.drg IN (SELECT drg FROM m_low) THEN f.cases ELSE 0 END",
                 "lr_deaths": f"CASE WHEN {g} AND f.drg IN (SELECT drg FROM m_low) THEN f.deaths ELSE 0 END",
                 "ungroupable_cases": "CASE WHEN f.group_state = 'ungroupable' THEN f.cases ELSE 0 END",
                 "ambiguous_cases": "CASE WHEN f.group_state = 'ambiguous' THEN f.cases ELSE 0 END",
                 **{f"{c}_cases": f"CASE WHEN f.case_class = '{c}' THEN f.cases ELSE 0 END" for c in SHARE_CLASSES}}
        exact = [c for c in _SUMS if c not in _FLOAT_SUMS]
        sums = ", ".join(_sum(terms.get(c, f"f.{c}"), c) for c in exact)
        ints = self._query(f"SELECT {unit} AS unit, f.pool AS pool, {sums} FROM {{src}} f "
                           "LEFT JOIN m_city c ON f.drg = c.drg LEFT JOIN m_tiers t ON f.hospital_id = t.hospital_id",
                           where, self._tables())
        if ints.height == 0:
            return None
        floats, drgs = self._float_sums(unit_type)
        by_pool = ints.join(floats, on=["unit", "pool"]).sort(["unit", "pool"])
        return by_pool.select("unit", "pool", *exact, *_FLOAT_SUMS), drgs

    def _terms(self) -> dict:
        """The span's rows (in the facts' order): the codes of :data:`_ROW_KEYS`, ``grouped`` and the float
        terms ``ci_num`` and ``ti_num`` as :func:`drg.monitoring.indicators.prepare` computes them."""
        if self._terms_cache is None:
            self._terms_cache = self._compute_terms()
        return self._terms_cache

    def _compute_terms(self) -> dict:
        import numpy as np

        rows, keys = self.facts.rows(), self.facts.keys()
        if len(self.months) == len(self.facts.months):       # every row: views, no copy
            span = {k: rows[k] for k in ("total_cost_fen", "los_days", *_ROW_KEYS)}
        else:
            idx = np.flatnonzero(np.isin(rows["month"], np.array(self.months, dtype=np.int8)))
            span = {k: rows[k][idx] for k in ("total_cost_fen", "los_days", *_ROW_KEYS)}
        city = self.city()
        code = {d: i for i, d in enumerate(keys["drg"])}
        n_d, cost_d, los_d = (np.zeros(len(keys["drg"]), np.int64) for _ in range(3))
        at = np.array([code[d] for d in city["drg"].to_list()], np.int64)
        n_d[at], cost_d[at], los_d[at] = city["n_d"].to_numpy(), city["cost_d"].to_numpy(), city["los_d"].to_numpy()
        drg = span["drg"]
        span["grouped"] = span.pop("group_state") == _code(keys["group_state"], "grouped")
        for name, col, den in (("ci_num", "total_cost_fen", cost_d), ("ti_num", "los_days", los_d)):
            term = np.zeros(len(drg), np.float64)
            on = span["grouped"] & (den[drg] > 0)
            d = drg[on]
            # as polars evaluates cost.cast(Float64) * n_d / cost_d: each operand to float64, left to right
            term[on] = span.pop(col)[on].astype(np.float64) * n_d[d].astype(np.float64) / den[d].astype(np.float64)
            span[name] = term
        return span

    def _float_sums(self, unit_type: str):
        """Per (unit, pool): ``ci_num`` and ``ti_num`` added in the facts' order (numpy's ``add.reduceat`` over
        each group's terms, as :func:`drg.monitoring.indicators._sums_in_order`); per unit its DRGs used."""
        import numpy as np
        import polars as pl

        keys, span = self.facts.keys(), self._terms()
        if unit_type == "city":
            unit, names = np.zeros(len(span["drg"]), np.int64), ["city"]
        elif unit_type == "tier":
            names = sorted({str(v.get("tier") or "") for v in self.hospitals.values()} | {""})
            tier_of = {h: str(v.get("tier") or "") for h, v in self.hospitals.items()}
            by_code = np.array([names.index(tier_of.get(h, "")) for h in keys["hospital_id"]], np.int64)
            unit = by_code[span["hospital_id"]]
        else:
            col = "hospital_id" if unit_type == "hospital" else unit_type
            unit, names = span[col].astype(np.int64), keys[col]
        drg, pool, grouped, ci_num, ti_num = (span[k] for k in ("drg", "pool", "grouped", "ci_num", "ti_num"))
        if unit_type in ("mdc", "adrg", "drg"):
            keep = ((unit != _code(names, "")) & (drg != _code(keys["drg"], "0000"))
                    & (drg != _code(keys["drg"], "")))
            unit, drg, pool, grouped, ci_num, ti_num = (a[keep] for a in (unit, drg, pool, grouped, ci_num, ti_num))
        pools = keys["pool"]
        key = unit * len(pools) + pool
        if len(names) * len(pools) <= RADIX_SORT_KEYS:
            key = key.astype(np.uint16)
        order = np.argsort(key, kind="stable")
        ks = key[order]
        starts = np.flatnonzero(np.concatenate(([True], ks[1:] != ks[:-1]))) if len(ks) else np.zeros(0, np.int64)
        first = ks[starts]
        floats = pl.DataFrame({
            "unit": pl.Series([names[u] for u in (first // len(pools)).tolist()], dtype=pl.String),
            "pool": pl.Series([pools[p] for p in (first % len(pools)).tolist()], dtype=pl.String),
            "ci_num": np.add.reduceat(ci_num[order], starts) if len(ks) else np.zeros(0),
            "ti_num": np.add.reduceat(ti_num[order], starts) if len(ks) else np.zeros(0)})
        # DRGs used: the distinct (unit, DRG) pairs of the grouped rows, marked in a unit × DRG table
        seen = np.zeros((len(names), len(keys["drg"])), bool)
        seen[unit[grouped], drg[grouped]] = True
        used = seen.sum(axis=1)
        has = np.flatnonzero(used)
        drgs = pl.DataFrame({"unit": pl.Series([names[u] for u in has.tolist()], dtype=pl.String),
                             "drgs_used": pl.Series(used[has], dtype=pl.UInt32)})
        return floats, drgs

    # ------------------------------------------------------------------------------------------ the cells
    def hospital_drg_cells(self):
        """As :meth:`drg.monitoring.indicators.FrameSums.hospital_drg_cells`."""
        cols = ("cases", "points_units", "deduction_units", "points_before_units", "total_cost_fen")
        return self._cells(["hospital_id", "drg", "pool"], cols, "drg <> '' AND drg <> '0000'")

    def hospital_mean_cells(self):
        """As :meth:`drg.monitoring.indicators.FrameSums.hospital_mean_cells`."""
        return self._cells(["pool", "drg", "hospital_id"], ("cases", "points_before_units"),
                           "group_state = 'grouped'")

    def cc_cells(self):
        """As :meth:`drg.monitoring.indicators.FrameSums.cc_cells`."""
        return self._cells(["hospital_id", "adrg"], ("cases", "cc_cases"), "group_state = 'grouped' AND adrg <> ''")

    def month_cells(self):
        """As :meth:`drg.monitoring.indicators.FrameSums.month_cells`."""
        return self._cells(["month", "pool", "hospital_id", "county"],
                           ("points_units", "deduction_units", "self_pay_fen"))

    def _cells(self, by: list[str], cols: tuple[str, ...], where: str = "true"):
        return self._query(f"SELECT {', '.join(by)}, {', '.join(_sum(c, c) for c in cols)} FROM {{src}}", where)


def _code(values: list, value: str) -> int:
    """The code of ``value`` among the sorted ``values``; −1 (no row's code) when absent."""
    try:
        return values.index(value)
    except ValueError:
        return -1
