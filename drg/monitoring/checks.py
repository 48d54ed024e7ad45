"""The warnings of one monitored period and the series the report draws, gathered from the ledger's runs
and sums: the point value by month, fund spending against the budget's pace, the year-end projection, the
county accounts (settled, or projected under SPEC §8), hospital CMI and CC/MCC shares against last year's
same months, outlier shares and 入组率. The rules themselves are in :mod:`drg.monitoring.warnings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from drg.monitoring.warnings import (SEVERITIES, MonitorWarning, cc_share_rise, cmi_rise, fund_pace, pv_drop,
                                     pv_projection, rate_checks)

__all__ = ["Checked", "period_warnings"]


@dataclass
class Checked:
    warnings: list[MonitorWarning] = field(default_factory=list)
    point_values: dict = field(default_factory=dict)
    pace: dict = field(default_factory=dict)
    counties: list[dict] = field(default_factory=list)
    projections: dict = field(default_factory=dict)


def _fr(text: str | None) -> Fraction | None:
    from drg.money import parse_fraction

    return parse_fraction(text) if text else None


def _monthly(facts, pool: str, column: str) -> dict[int, int]:
    import polars as pl

    if facts is None or not facts.height:
        return {}
    g = facts.filter(pl.col("pool") == pool).group_by("month").agg(pl.col(column).sum())
    return {int(m): int(v) for m, v in g.iter_rows()}


def period_warnings(*, period, pools: list[str], facts, facts_last, prepared, prepared_last=None, indicators, runs,
                    policy, scale: int, scale_last: int, hospitals: dict, covered: list[int], ledger) -> Checked:
    """The warnings of ``period`` and the series behind them. ``facts``: the sums of the year to date
    (:class:`drg.monitoring.sums.LedgerSums` or :class:`drg.monitoring.indicators.FrameSums`, or a facts frame),
    ``facts_last`` of last year (None without), ``prepared`` of the period's months, ``prepared_last`` of last
    year's same months without the low-risk DRGs (None: taken from ``facts_last``)."""
    import polars as pl

    from drg.monitoring import indicators as ind

    mon = policy.monitoring
    year, m = period.year, period.last_month
    out = Checked()
    missing = [j for j in period.months if j not in covered]
    if missing:
        out.warnings.append(MonitorWarning(
            "months_missing", "info", "all", "city", "city",
            f"no settlement run in the ledger covers month(s) {', '.join(map(str, missing))} of {period.text}",
            f"{period.text} 中 {', '.join(map(str, missing))} 月无结算数据", None, None, {"months": missing}))
    if isinstance(facts, pl.DataFrame):
        facts = ind.FrameSums(facts)
    if isinstance(facts_last, pl.DataFrame):
        if prepared_last is None and facts_last.height:
            prepared_last = ind.FrameSums(ind.prepare(facts_last.filter(pl.col("month").is_in(list(period.months))),
                                                      hospitals, None))
        facts_last = ind.FrameSums(facts_last)
    if facts_last is not None and facts_last.empty:
        facts_last = None
    net = (pl.col("points_units") - pl.col("deduction_units")).alias("net_units")
    facts_net = facts.month_cells().with_columns(net)
    last_net = facts_last.month_cells().with_columns(net) if facts_last is not None else None
    year_runs = runs.filter(runs["year"] == year)
    for pool in pools:
        pr = year_runs.filter(year_runs["pool"] == pool)
        monthly = pr.filter(pr["kind"] == "month").sort("month")
        annual = pr.filter(pr["kind"] == "year")
        last_annual = runs.filter((runs["year"] == year - 1) & (runs["pool"] == pool) & (runs["kind"] == "year"))
        last_pv = _fr(last_annual["point_value_exact"][-1]) if last_annual.height else None
        latest = pr.sort("created_at")
        budget = int(latest["budget_fen"][-1]) if latest.height else 0
        reserve = int(latest["reserve_fen"][-1]) if latest.height else 0
        # point value by month (provisional) and the year's
        pvs = {int(r["month"]): _fr(r["point_value_exact"]) for r in monthly.iter_rows(named=True)}
        annual_pv = _fr(annual["point_value_exact"][-1]) if annual.height else None
        out.point_values[pool] = {"months": {j: float(v) / 100 for j, v in pvs.items() if v is not None and j <= m},
                                  "annual": None if annual_pv is None or m < 12 else float(annual_pv) / 100,
                                  "last_year": None if last_pv is None else float(last_pv) / 100,
                                  "method": monthly["provisional_method"][-1] if monthly.height else ""}
        # fund pace: Σ_h F_{h,1..m} of the monthly runs
        spent_by = {int(r["month"]): int(r["fund_payments_fen"]) for r in monthly.iter_rows(named=True)
                    if r["month"] <= m}
        cum, total = {}, 0
        for j in range(1, m + 1):
            if j in spent_by:
                total += spent_by[j]
                cum[j] = total
        spent = total
        if not spent_by and annual.height and m == 12:
            spent = int(annual["fund_payments_fen"][-1])
            cum[12] = spent
        out.pace[pool] = {"budget_fen": budget, "reserve_fen": reserve, "months": cum,
                          "tolerance": float(mon.spending_tolerance), "alert": float(mon.spending_alert)}
        w = fund_pace(pool, m, spent, budget, mon, sorted(spent_by))
        if w:
            out.warnings.append(w)
        # point value against last year's
        if annual_pv is not None and m == 12:
            w = pv_drop(pool, "annual", annual_pv, last_pv, mon)
        else:
            upto = [j for j in pvs if j <= m]
            w = pv_drop(pool, f"provisional {year}-{max(upto):02d}", pvs[max(upto)], last_pv, mon) if upto else None
        if w:
            out.warnings.append(w)
        # projection of the year-end point value
        floor = (Fraction(Decimal(mon.pv_floor)) * 100 if mon.pv_floor is not None
                 else last_pv * (1 - Fraction(mon.pv_drop_max)) if last_pv else None)
        points = {j: v for j, v in _monthly(facts_net, pool, "net_units").items() if j <= m}
        selfp = {j: v for j, v in _monthly(facts_net, pool, "self_pay_fen").items() if j <= m}
        w, fig = pv_projection(pool, m, points, _monthly(last_net, pool, "net_units"), selfp,
                               _monthly(last_net, pool, "self_pay_fen"), budget, reserve,
                               policy.budget.point_value_includes_self_pay, floor, mon, scale)
        out.projections[pool] = fig
        out.warnings.append(w)
        # counties
        out.counties += _counties(ledger, pool, year, m, facts_net, fig, budget, reserve, policy, annual, out.warnings)
    # hospitals against last year's same months
    hosp = indicators.filter(pl.col("unit_type") == "hospital")
    last = {}
    last_cc = None
    if facts_last is not None:
        fl = prepared_last
        if fl is not None and not fl.empty:
            li = ind.indicators(fl, scale=scale_last, pv_by_pool={}, hospitals=hospitals, low_risk_known=False,
                                unit_types=("hospital",))
            last = {r["unit"]: r for r in li.iter_rows(named=True)}
            last_cc = ind.cc_shares(fl)
    for r in hosp.iter_rows(named=True):
        prev = last.get(r["unit"])
        if prev:
            w = cmi_rise(r["unit"], r["name"], r["cmi"], prev["cmi"], r["cases"], prev["cases"], mon)
            if w:
                out.warnings.append(w)
    if last_cc is not None:
        cur = ind.cc_shares(prepared)
        joined = cur.join(last_cc, on=["hospital_id", "adrg"], suffix="_last")
        names = {h: str(v.get("name") or "") for h, v in hospitals.items()}
        for r in joined.sort(["hospital_id", "adrg"]).iter_rows(named=True):
            w = cc_share_rise(r["hospital_id"], names.get(r["hospital_id"], ""), r["adrg"], r["cc_share"],
                              r["cc_share_last"], r["cases"], r["cases_last"], mon)
            if w:
                out.warnings.append(w)
    out.warnings += rate_checks(indicators.filter(pl.col("unit_type").is_in(["city", "pool", "hospital"])).to_dicts(),
                                mon)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    out.warnings.sort(key=lambda w: (rank[w.severity], w.kind, w.pool, w.subject))
    return out


def _counties(ledger, pool: str, year: int, month: int, facts_net, projection: dict, budget: int, reserve: int,
              policy, annual, warnings: list) -> list[dict]:
    """County accounts of ``pool``: the settled ones of the annual run once the year is settled, else
    projected to the year end under SPEC §8 (the year-to-date shares of points scaled to the projected
    distributable amount; the whole reserve left, before §7 pays from it)."""
    import polars as pl

    from drg.errors import InputError
    from drg.money import round_half_away
    from drg.monitoring.store import read_county_income
    from drg.settlement.pools import county_accounts

    rows: list[dict] = []
    settled = annual.height and month == 12
    if settled:
        with ledger.connect(read_only=True) as con:
            got = con.execute("""SELECT county, q_points, share_fen, self_paid_fen, income, drg_spending,
                                        other_spending, balance, gap_claim_fen, city_share, county_share
                                 FROM county_results WHERE run_id = ? AND pool = ? ORDER BY county""",
                              [annual["run_id"][-1], pool]).fetchall()
        reserve_left = int(annual["reserve_left_fen"][-1])
        for c, q, share, s, inc, x, oth, g, claim, cs, cos in got:
            rows.append({"pool": pool, "county": c, "basis": "settled", "share_fen": share, "self_paid_fen": s,
                         "income_fen": inc, "drg_spending_fen": x, "other_spending_fen": oth, "balance_fen": g,
                         "gap_fen": -g if g < 0 else 0, "claim_fen": claim, "city_share_fen": cs,
                         "county_share_fen": cos, "reserve_left_fen": reserve_left})
    else:
        income = {c: v for (p, c), v in read_county_income(ledger, year).items() if p == pool}
        if not income:
            return []
        ytd = facts_net.filter((pl.col("pool") == pool) & (pl.col("month") <= month))
        if not ytd.height or not projection.get("projected_points"):
            return []
        hp = ytd.group_by("hospital_id").agg(pl.col("points_units").sum(), pl.col("deduction_units").sum())
        hospital_points = {h: max(0, int(a) - int(d)) for h, a, d in hp.iter_rows()}
        cp = ytd.group_by(["hospital_id", "county"]).agg(pl.col("points_units").sum())
        county_points = {(h, c): int(q) for h, c, q in cp.iter_rows()}
        s_ytd = int(ytd["self_pay_fen"].sum())
        s_hat = projection.get("projected_self_pay_fen") or 0
        cs = ytd.group_by("county").agg(pl.col("self_pay_fen").sum())
        county_self = {c: round_half_away(Fraction(int(v) * s_hat, s_ytd)) if s_ytd else 0 for c, v in cs.iter_rows()}
        includes = policy.budget.point_value_includes_self_pay
        d_hat = budget - reserve + (s_hat if includes else 0)
        try:
            accounts, used = county_accounts(d_hat, hospital_points, county_points, county_self, income,
                                             alpha=policy.county.gap_city_share, reserve_left_fen=reserve,
                                             includes_self_pay=includes)
        except InputError as exc:
            warnings.append(MonitorWarning("county_gap", "info", pool, "pool", pool,
                                           f"pool {pool}: county accounts not projected: {exc.reason}",
                                           f"统筹区 {pool}: 无法预测区县账户", None, None, {}))
            return []
        for a in accounts:
            rows.append({"pool": pool, "county": a.county, "basis": "projected", "share_fen": a.share,
                         "self_paid_fen": a.self_paid, "income_fen": a.income, "drg_spending_fen": a.drg_spending,
                         "other_spending_fen": a.other_spending, "balance_fen": a.balance,
                         "gap_fen": -a.balance if a.balance < 0 else 0, "claim_fen": a.claim,
                         "city_share_fen": a.city_share, "county_share_fen": a.county_share,
                         "reserve_left_fen": reserve - used})
    for r in rows:
        if r["balance_fen"] >= 0:
            continue
        short = r["claim_fen"] > r["city_share_fen"]
        what = "settled" if r["basis"] == "settled" else "projected to the year end"
        warnings.append(MonitorWarning(
            "county_gap", "alert" if short else "warning", pool, "county", r["county"],
            f"county {r['county']} pool {pool}: balance {what} {r['balance_fen'] / 100:,.2f} yuan — a gap of "
            f"{r['gap_fen'] / 100:,.2f}; the city bears {r['city_share_fen'] / 100:,.2f} from the reserve "
            f"(claim {r['claim_fen'] / 100:,.2f}), the county {r['county_share_fen'] / 100:,.2f}; reserve left "
            f"{r['reserve_left_fen'] / 100:,.2f} yuan",
            f"区县 {r['county']} 统筹区 {pool}: {'清算' if r['basis'] == 'settled' else '预计年终'}结余 "
            f"{r['balance_fen'] / 100:,.2f} 元，缺口 {r['gap_fen'] / 100:,.2f} 元；市级分担 "
            f"{r['city_share_fen'] / 100:,.2f} 元，区县分担 {r['county_share_fen'] / 100:,.2f} 元；调剂金余额 "
            f"{r['reserve_left_fen'] / 100:,.2f} 元",
            r["balance_fen"] / 100, 0.0, {k: v for k, v in r.items() if k not in ("pool", "county")}))
    return rows
