"""``drg demo`` end to end on a small city (the session's ``demo`` run, tests/synth/conftest.py): every stage runs,
money adds up, everything is traceable."""

from __future__ import annotations

import duckdb


def test_every_row_is_grouped_or_rejected(demo):
    _, s = demo
    for year, g in s["grouping"].items():
        assert g["read"] == g["rows"] + g["rejected"] == s["cases_by_year"][year]


def test_annual_money_adds_up_to_the_fen(demo):
    _, s = demo
    for pool, p in s["annual"]["pools"].items():
        rows = [r for r in s["hospital_rows"] if r["pool"] == pool]
        assert sum(r["entitlement"] for r in rows) == p["distributable_fen"]
        assert sum(r["fund_payment"] for r in rows) == p["budget_fen"] - p["reserve_fen"] == p["fund_payments_fen"]
        assert all(r["prepaid"] + r["balance"] == r["fund_payment"] for r in rows)
        counties = [c for c in s["county_rows"] if c["pool"] == pool]
        assert sum(c["drg_spending"] for c in counties) == p["fund_payments_fen"]


def test_ledger_holds_last_year_twelve_months_and_the_year(demo):
    out, s = demo
    con = duckdb.connect(str(out / "ledger.duckdb"), read_only=True)
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    runs_table = "runs" if "runs" in tables else sorted(tables)[0]
    periods = {r[0] for r in con.execute(f"select period from {runs_table}").fetchall()}
    con.close()
    assert {"2024", "2025"} | {f"2025-{m:02d}" for m in range(1, 13)} <= periods
    assert len(s["monthly_point_values"]) == 12


def test_statements_and_chart_are_written(demo):
    out, _ = demo
    st = out / "statements"
    assert (st / "point_values.png").stat().st_size > 1000
    assert list(st.rglob("*.xlsx")) and list(st.rglob("*.csv"))


def test_scheme_id_travels_from_grouping_to_the_ledger(demo):
    import pyarrow.parquet as pq

    out, s = demo
    grouped = (pq.read_schema(out / "grouped" / "cases-2025.parquet").metadata or {})[b"drg.scheme_id"].decode()
    priced = (pq.read_schema(out / "priced" / "cases-2025.parquet").metadata or {})[b"drg.scheme_id"].decode()
    assert grouped == priced == s["annual"]["scheme_id"]
    assert grouped.startswith("demo@")
