"""The settlement ledger as people read it (``drg ledger show``): its runs with their point values and a stale
mark, or one run's pools, hospitals, counties, inputs and warnings — money in yuan, read from the ledger's
yuan views (:mod:`drg.settlement.ledger`), never from its fen tables directly.

:func:`run_list` and :func:`run_detail` return small objects that print as rich tables (``.print()``) or turn
into JSON (``.to_json()``: money as exact decimal text in yuan).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from drg.errors import InputError

__all__ = ["RunList", "RunDetail", "run_list", "run_detail"]


def _ledger(path):
    from drg.settlement.ledger import Ledger

    led = path if isinstance(path, Ledger) else Ledger(path)
    if not led.path.exists():
        raise InputError("ledger not found", file=str(led.path))
    return led


def _json(v: Any) -> Any:
    if isinstance(v, Decimal):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat(sep=" ", timespec="seconds") if hasattr(v, "hour") else v.isoformat()
    return v


def _money(v) -> str:
    if v is None:
        return "—"
    return f"{Decimal(v):,.2f}"


def _num(v, places: int = 4) -> str:
    if v is None:
        return "—"
    return f"{Decimal(v):,.{places}f}"


def _in_period(kind: str, run_period: str, period: str | None) -> bool:
    if period is None:
        return True
    from drg.settlement.periods import parse_period

    want = parse_period(period)
    got = parse_period(run_period)
    if got.year != want.year:
        return False
    if want.kind == "year":
        return True
    return kind == "month" and got.index in want.months


@dataclass
class RunList:
    """The runs of a ledger (optionally of one period)."""

    ledger: str
    runs: list[dict]
    pools: list[str]
    period: str | None = None

    def to_json(self) -> list[dict]:
        return [{k: _json(v) for k, v in r.items()} for r in self.runs]

    def print(self) -> None:
        from drg.reports.labels import console
        from rich.table import Table

        con = console()
        title = f"ledger {self.ledger} — {len(self.runs)} run(s)" + (f" of {self.period}" if self.period else "")
        policies = {r["policy_id"] for r in self.runs}
        schemes = {r["scheme_id"] for r in self.runs}
        same = len(policies) == 1 and len(schemes) == 1
        if same and self.runs:
            title += f"; policy {self.runs[0]['policy_id']}, scheme {self.runs[0]['scheme_id'] or '—'}"
        t = Table(title=title + "; point values in yuan per point")
        t.add_column("run id", no_wrap=True)
        t.add_column("period", no_wrap=True)
        if not same:
            t.add_column("policy")
            t.add_column("scheme")
        t.add_column("run at (UTC)", no_wrap=True)
        for p in self.pools:
            t.add_column(f"PV {p}", justify="right", no_wrap=True)
        t.add_column("warn", justify="right")
        t.add_column("stale")
        for r in self.runs:
            pv = r["point_values_yuan"]
            created = r["created_at"].strftime("%Y-%m-%d %H:%M") if r["created_at"] else ""
            period = r["period"] + (" annual" if r["kind"] == "year" else "")
            cells = [r["run_id"], period] + ([] if same else [r["policy_id"] or "", r["scheme_id"] or ""])
            t.add_row(*cells, created, *[_num(pv.get(p)) for p in self.pools], str(r["warnings"]),
                      "[bold red]STALE[/]" if r["stale"] else "")
        con.print(t)
        for r in self.runs:
            if r["stale"]:
                con.print(f"[red]stale[/] {r['run_id']}: {r['stale_reason']}; run `drg settle year --replace` "
                          f"again so the annual settlement uses the prepayments now recorded", highlight=False)


def run_list(ledger, *, period: str | None = None) -> RunList:
    """The ledger's runs (of ``period``: a month, quarter, half-year or year), in period order."""
    led = _ledger(ledger)
    rows = led._query("""
        SELECT s.run_id, s.kind, s.period, s.year, s.month, s.policy_id, s.scheme_id, s.created_at,
               s.prepaid_source, s.stale, s.stale_reason,
               (SELECT count(*) FROM warnings w WHERE w.run_id = s.run_id) AS warnings,
               (SELECT count(*) FROM hospital_results h WHERE h.run_id = s.run_id) AS hospital_rows
        FROM run_status s ORDER BY s.year, s.kind = 'year', s.period""")
    cols = ["run_id", "kind", "period", "year", "month", "policy_id", "scheme_id", "created_at", "prepaid_source",
            "stale", "stale_reason", "warnings", "hospital_rows"]
    pvs: dict[str, dict[str, Decimal]] = {}
    for run_id, pool, pv in led._query("SELECT run_id, pool, point_value_yuan FROM point_values"):
        pvs.setdefault(run_id, {})[pool] = pv
    runs = []
    for row in rows:
        r = dict(zip(cols, row))
        if not _in_period(r["kind"], r["period"], period):
            continue
        r["point_values_yuan"] = pvs.get(r["run_id"], {})
        runs.append(r)
    pools = sorted({p for r in runs for p in r["point_values_yuan"]})
    return RunList(str(led.path), runs, pools, period)


@dataclass
class RunDetail:
    """One run: its record, pool figures, hospitals, counties, inputs and warnings (money in yuan)."""

    ledger: str
    run: dict
    pools: list[dict] = field(default_factory=list)
    hospitals: list[dict] = field(default_factory=list)
    counties: list[dict] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        def conv(rows):
            return [{k: _json(v) for k, v in r.items()} for r in rows]

        return {"run": {k: _json(v) for k, v in self.run.items()}, "pools": conv(self.pools),
                "hospitals": conv(self.hospitals), "counties": conv(self.counties), "inputs": conv(self.inputs),
                "warnings": conv(self.warnings)}

    def print(self) -> None:
        from drg.reports.labels import console
        from rich.table import Table

        from drg.reports.labels import pool_label, warning_label

        con = console()
        r = self.run
        kind = "annual settlement" if r["kind"] == "year" else "monthly prepayment"
        con.print(f"[bold]{kind} {r['period']}[/] — run {r['run_id']}, policy {r['policy_id']}, scheme "
                  f"{r['scheme_id'] or '—'}, run at {_json(r['created_at'])} UTC"
                  + (f", prepayments: {r['prepaid_source']}" if r.get("prepaid_source") else ""), highlight=False)
        if r.get("stale"):
            con.print(f"[bold red]stale:[/] {r['stale_reason']}", highlight=False)
        t = Table(title="pools (money in yuan)")
        t.add_column("")
        for p in self.pools:
            t.add_column(pool_label(p["pool"], "en"), justify="right")
        items = [("cases", "cases", lambda v: f"{v:,}"), ("fund budget (yuan)", "budget_yuan", _money),
                 ("reserve (yuan)", "reserve_yuan", _money), ("self-pay (yuan)", "self_pay_yuan", _money),
                 ("distributable (yuan)", "distributable_yuan", _money), ("total points", "total_points", _num),
                 ("point value (yuan per point)", "point_value_yuan", _num),
                 ("fund payments (yuan)", "fund_payments_yuan", _money), ("prepaid (yuan)", "prepaid_yuan", _money)]
        if r["kind"] == "year":
            items += [("reserve to hospitals (yuan)", "reserve_to_hospitals_yuan", _money),
                      ("reserve to counties (yuan)", "reserve_to_counties_yuan", _money),
                      ("reserve left (yuan)", "reserve_left_yuan", _money)]
        for name, key, fmt in items:
            t.add_row(name, *[fmt(p[key]) if p[key] is not None else "—" for p in self.pools])
        con.print(t)
        h = Table(title="hospitals (money in yuan)")
        keys = [("pool", "pool"), ("hospital_id", "hospital"), ("cases", "cases"), ("points", "points"),
                ("entitlement_yuan", "entitlement"), ("self_paid_yuan", "self-paid"),
                ("fund_payment_yuan", "fund payment"), ("prepaid_yuan", "prepaid"), ("balance_yuan", "balance"),
                ("reserve_share_yuan", "reserve share")]
        for _k, name in keys:
            h.add_column(name, justify="left" if _k in ("pool", "hospital_id") else "right", no_wrap=True)
        tot: dict[str, Decimal] = {}
        for row in self.hospitals:
            cells = []
            for k, _n in keys:
                v = row[k]
                if k.endswith("_yuan"):
                    tot[k] = tot.get(k, Decimal(0)) + v
                    cells.append(_money(v))
                elif k == "points":
                    tot[k] = tot.get(k, Decimal(0)) + v
                    cells.append(_num(v))
                elif k == "cases":
                    tot[k] = tot.get(k, 0) + v
                    cells.append(f"{v:,}")
                else:
                    cells.append(str(v))
            h.add_row(*cells)
        if self.hospitals:
            h.add_row("total", "", f"{tot['cases']:,}", _num(tot["points"]),
                      *[_money(tot[k]) for k, _n in keys[4:]], style="bold")
        con.print(h)
        if self.counties:
            c = Table(title="county accounts (yuan)")
            ck = [("pool", "pool"), ("county", "county"), ("income_yuan", "income"),
                  ("drg_spending_yuan", "DRG spending"), ("other_spending_yuan", "other spending"),
                  ("balance_yuan", "balance"), ("city_share_yuan", "city share"),
                  ("county_share_yuan", "county share")]
            for _k, name in ck:
                c.add_column(name, justify="left" if _k in ("pool", "county") else "right")
            for row in self.counties:
                c.add_row(*[_money(row[k]) if k.endswith("_yuan") else str(row[k]) for k, _n in ck])
            con.print(c)
        if self.inputs:
            i = Table(title="inputs")
            for name in ("role", "path", "sha256", "bytes"):
                i.add_column(name, justify="right" if name == "bytes" else "left")
            for row in self.inputs:
                i.add_row(row["role"], row["path"], (row["sha256"] or "")[:16] + "…", f"{row['size_bytes']:,}")
            con.print(i)
        if self.warnings:
            w = Table(title=f"warnings ({len(self.warnings)})")
            for name in ("kind", "pool", "subject", "message"):
                w.add_column(name)
            for row in self.warnings:
                w.add_row(f"{row['kind']} ({warning_label(row['kind'])})", row["pool"], row["subject"], row["message"])
            con.print(w)


def _rows(led, sql: str, params: list) -> list[dict]:
    with led.connect(read_only=True) as con:
        cur = con.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]


def run_detail(ledger, run_id: str) -> RunDetail:
    """One run of the ledger, from its yuan views.

    Raises
    ------
    InputError
        No such run (the message lists how to see the runs).
    """
    led = _ledger(ledger)
    runs = _rows(led, "SELECT * FROM run_status WHERE run_id = ?", [run_id])
    if not runs:
        raise InputError(f"no run {run_id!r} in the ledger (drg ledger show --ledger {led.path} lists the runs)",
                         file=str(led.path))
    return RunDetail(
        str(led.path), runs[0],
        pools=_rows(led, "SELECT * FROM pools_yuan WHERE run_id = ? ORDER BY pool", [run_id]),
        hospitals=_rows(led, "SELECT * FROM hospitals_yuan WHERE run_id = ? ORDER BY pool, hospital_id", [run_id]),
        counties=_rows(led, "SELECT * FROM counties_yuan WHERE run_id = ? ORDER BY pool, county", [run_id]),
        inputs=_rows(led, "SELECT role, path, sha256, size_bytes FROM run_inputs WHERE run_id = ? ORDER BY role, path",
                     [run_id]),
        warnings=_rows(led, "SELECT kind, pool, subject, message, value, threshold FROM warnings WHERE run_id = ? "
                       "ORDER BY kind, pool, subject", [run_id]))
