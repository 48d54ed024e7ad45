"""The indicators of SPEC §9 a second way: plain SQL in DuckDB over the priced case file, one case per row,
written from the SPEC's formulas without the engine's code (no sums table, no polars).

Each function takes a DuckDB connection, the priced file, the months of the span and what the formulas need
from outside the cases (the hospitals table, the low-risk DRGs, the point value of each pool as an exact
``num/den`` fen per point), and returns plain Python rows.
"""

from __future__ import annotations

from fractions import Fraction

UNIT_SQL = {
    "city": "'city'", "pool": "c.pool", "county": "c.county", "hospital": "c.hospital_id", "tier": "c.tier",
    "mdc": "c.mdc", "adrg": "c.adrg", "drg": "c.drg",
}


def cases_sql(priced: str, hospitals: str, year: int, months: tuple[int, ...], low_risk: set[str]) -> str:
    """One row per case of the span with the flags the formulas use."""
    lr = ", ".join("'" + d.replace("'", "''") + "'" for d in sorted(low_risk)) or "NULL"
    ms = ", ".join(str(m) for m in months)
    return f"""
    WITH raw AS (SELECT * FROM read_parquet('{priced}')),
    h AS (SELECT hospital_id, tier FROM read_parquet('{hospitals}'))
    SELECT r.*, coalesce(h.tier, '') AS tier, r.insurance_type AS pool,
           CASE WHEN length(trim(r.drg)) = 3 AND upper(trim(r.drg)) LIKE '%QY' THEN 'ambiguous'
                WHEN coalesce(r.group_status, 'ok') = 'ok' AND trim(coalesce(r.drg, '')) NOT IN ('', '0000')
                     THEN 'grouped' ELSE 'ungroupable' END AS gs,
           coalesce(r.discharge_status = 5, false) AS dead,
           r.drg IN ({lr}) AS low_risk_drg,
           CAST(r.adjusted_points AS DECIMAL(18,4)) - CAST(coalesce(r.deduction_points, 0) AS DECIMAL(18,4)) AS net,
           coalesce(r.adjust_reason, '') LIKE 'readmission%' AS halved,
           r.self_paid_fen + coalesce(r.other_paid_fen, 0) AS selfpay
    FROM raw r LEFT JOIN h USING (hospital_id)
    WHERE year(r.discharge_date) = {year} AND month(r.discharge_date) IN ({ms})"""


def indicators(con, priced: str, hospitals: str, year: int, months: tuple[int, ...], unit_type: str,
               low_risk: set[str], pv: dict[str, Fraction | None]) -> dict[str, dict]:
    """unit → indicators of ``unit_type`` over the span."""
    unit = UNIT_SQL[unit_type]
    where = "" if unit_type not in ("mdc", "adrg", "drg") else \
        f"WHERE coalesce({unit}, '') <> '' AND c.drg NOT IN ('', '0000')"
    cases = cases_sql(priced, hospitals, year, months, low_risk)
    rows = con.execute(f"""
    WITH c AS ({cases}),
    citymean AS (SELECT drg, avg(total_cost_fen) AS cbar, avg(los) AS lbar FROM c WHERE gs = 'grouped' GROUP BY drg),
    u AS (SELECT {unit} AS unit, c.* FROM c {where})
    SELECT unit,
        count(*) AS cases,
        count(*) FILTER (WHERE gs = 'grouped') AS grouped,
        count(DISTINCT drg) FILTER (WHERE gs = 'grouped') AS drgs_used,
        sum(net) AS points,
        sum(CAST(points AS DECIMAL(18,4))) AS points_before,
        sum(CASE WHEN base_points IS NOT NULL THEN base_points ELSE points END / 100.0) FILTER (WHERE gs = 'grouped')
            / nullif(count(*) FILTER (WHERE gs = 'grouped'), 0) AS cmi,
        sum(total_cost_fen) AS total_cost_fen,
        avg(los) AS avg_los,
        sum(total_cost_fen / m.cbar) FILTER (WHERE gs = 'grouped' AND m.cbar > 0)
            / nullif(count(*) FILTER (WHERE gs = 'grouped' AND m.cbar > 0), 0) AS cost_index,
        sum(los / m.lbar) FILTER (WHERE gs = 'grouped' AND m.lbar > 0)
            / nullif(count(*) FILTER (WHERE gs = 'grouped' AND m.lbar > 0), 0) AS time_index,
        count(*) FILTER (WHERE gs = 'grouped' AND low_risk_drg) AS low_risk_cases,
        count(*) FILTER (WHERE gs = 'grouped' AND low_risk_drg AND dead) AS low_risk_deaths,
        avg(CASE WHEN case_class = 'high' THEN 1 ELSE 0 END) AS high_share,
        avg(CASE WHEN case_class = 'low' THEN 1 ELSE 0 END) AS low_share,
        avg(CASE WHEN case_class IN ('high', 'low') THEN 1 ELSE 0 END) AS outlier_share,
        avg(CASE WHEN case_class = 'unstable' THEN 1 ELSE 0 END) AS unstable_share,
        avg(CASE WHEN case_class = 'per_diem' THEN 1 ELSE 0 END) AS per_diem_share,
        avg(CASE WHEN case_class = 'review' THEN 1 ELSE 0 END) AS review_share,
        avg(CASE WHEN halved THEN 1 ELSE 0 END) AS halved_share,
        avg(CASE WHEN gs = 'ungroupable' THEN 1 ELSE 0 END) AS ungroupable_share,
        avg(CASE WHEN gs = 'ambiguous' THEN 1 ELSE 0 END) AS ambiguous_share,
        avg(CASE WHEN coalesce(cc_level, 0) >= 1 THEN 1 ELSE 0 END) AS cc_share,
        sum(selfpay) / nullif(sum(total_cost_fen), 0) AS self_pay_share
    FROM u LEFT JOIN citymean m USING (drg)
    GROUP BY unit""").fetchall()
    cols = [d[0] for d in con.description]
    out = {r[0]: dict(zip(cols, r)) for r in rows}
    for unit_, r in out.items():
        n = r["cases"]
        r["group_rate"] = r["grouped"] / n
        r["avg_cost_fen"] = (2 * int(r["total_cost_fen"]) + n) // (2 * n)
        r["low_risk_mortality"] = r["low_risk_deaths"] / r["low_risk_cases"] if r["low_risk_cases"] else None
    # 结余/超支: per pool, round(points × PV) half away from zero, minus the cost
    if all(v is not None for v in pv.values()):
        per_pool = con.execute(f"""
            WITH c AS ({cases}), u AS (SELECT {unit} AS unit, c.* FROM c {where})
            SELECT unit, pool, sum(net), sum(total_cost_fen) FROM u GROUP BY unit, pool""").fetchall()
        amount: dict[str, int] = {}
        for unit_, pool, pts, _cost in per_pool:
            x = Fraction(pts) * pv[pool]
            amount[unit_] = amount.get(unit_, 0) + _round(x)
        for unit_, r in out.items():
            r["balance_fen"] = amount[unit_] - int(r["total_cost_fen"])
    return out


def _round(x: Fraction) -> int:
    """Half away from zero."""
    q = (abs(x.numerator) * 2 + x.denominator) // (2 * x.denominator)
    return q if x >= 0 else -q


def hospital_drg(con, priced: str, hospitals: str, year: int, months: tuple[int, ...],
                 pv: dict[str, Fraction]) -> dict[tuple[str, str], dict]:
    cases = cases_sql(priced, hospitals, year, months, set())
    rows = con.execute(f"""
        WITH c AS ({cases})
        SELECT hospital_id, drg, pool, count(*), sum(net), sum(total_cost_fen) FROM c
        WHERE drg NOT IN ('', '0000') GROUP BY ALL""").fetchall()
    out: dict[tuple[str, str], dict] = {}
    for h, d, pool, n, pts, cost in rows:
        r = out.setdefault((h, d), {"cases": 0, "points": 0, "cost": 0, "amount": 0})
        r["cases"] += n
        r["points"] += pts
        r["cost"] += cost
        r["amount"] += _round(Fraction(pts) * pv[pool])
    for r in out.values():
        r["balance_fen"] = r["amount"] - r["cost"]
    return out


def convergence(con, priced: str, hospitals: str, year: int, months: tuple[int, ...], min_cases: int) -> dict:
    """(pool, drg) → (hospitals, cases, CV) over hospitals with at least ``min_cases`` grouped cases."""
    cases = cases_sql(priced, hospitals, year, months, set())
    rows = con.execute(f"""
        WITH c AS ({cases}),
        per_h AS (SELECT pool, drg, hospital_id, count(*) AS n, avg(points) AS m FROM c WHERE gs = 'grouped'
                  GROUP BY ALL HAVING count(*) >= {int(min_cases)})
        SELECT pool, drg, count(*), sum(n), CASE WHEN count(*) >= 2 THEN stddev_samp(m) / avg(m) END
        FROM per_h GROUP BY pool, drg""").fetchall()
    return {(p, d): (h, n, cv) for p, d, h, n, cv in rows}


def monthly_pool_sums(con, priced: str, year: int) -> dict[tuple[str, int], tuple[Fraction, int]]:
    """(pool, month) → (points after §5, self-pay fen)."""
    rows = con.execute(f"""
        SELECT insurance_type, month(discharge_date),
               sum(CAST(adjusted_points AS DECIMAL(18,4)) - CAST(coalesce(deduction_points, 0) AS DECIMAL(18,4))),
               sum(self_paid_fen + coalesce(other_paid_fen, 0))
        FROM read_parquet('{priced}') WHERE year(discharge_date) = {year} GROUP BY ALL""").fetchall()
    return {(p, m): (Fraction(pts), int(s)) for p, m, pts, s in rows}


def low_risk(con, history: list[str], years: list[int], min_cases: int, k: float) -> set[str]:
    """The low-risk DRGs of SPEC §9 from the grouped history, in SQL (ln, mean, stddev_samp)."""
    files = ", ".join(f"'{h}'" for h in history)
    ys = ", ".join(str(y) for y in years)
    rows = con.execute(f"""
        WITH c AS (SELECT drg, coalesce(discharge_status = 5, false) AS dead FROM read_parquet([{files}])
                   WHERE year(discharge_date) IN ({ys}) AND coalesce(group_status, 'ok') = 'ok'
                     AND trim(drg) NOT IN ('', '0000') AND NOT (length(trim(drg)) = 3 AND upper(drg) LIKE '%QY')),
        d AS (SELECT drg, count(*) AS n, sum(dead::INT) AS x FROM c GROUP BY drg HAVING count(*) >= {int(min_cases)}),
        s AS (SELECT avg(ln(x / n)) AS mu, stddev_samp(ln(x / n)) AS sd, count(*) AS k FROM d WHERE x > 0)
        SELECT drg FROM d, s WHERE CASE WHEN x = 0 THEN true WHEN s.k >= 3 THEN ln(x / n) < s.mu - {float(k)} * s.sd
                                        ELSE false END""").fetchall()
    return {r[0] for r in rows}
