"""One money convention: machine tables hold integer fen under the contract's names or ``*_fen`` with
``unit: fen`` in the field metadata; the ledger's views are yuan DECIMAL(18,2) with Chinese and English column
comments; docs/ledger.md's queries run as written; a stale annual run is marked; an older ledger is upgraded."""

from __future__ import annotations

import re
from decimal import Decimal

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from drg.settlement.ledger import LEDGER_VIEWS, Ledger
from drg.settlement.records import CONTRACT_FEN_COLUMNS

from .conftest import REPO, settle_args

CONTRACT_HOSPITAL = {"entitlement", "self_paid", "fund_payment", "prepaid", "balance", "reserve_share"}
CONTRACT_COUNTY = {"income", "drg_spending", "other_spending", "balance", "city_share", "county_share"}


def _units(path):
    return {f.name: (f.metadata or {}).get(b"unit", b"").decode() for f in pq.read_schema(path)}


def test_hospitals_and_counties_parquet_name_fen_by_unit(settled):
    h = settled["year_dir"] / "hospitals.parquet"
    c = settled["year_dir"] / "counties.parquet"
    hu, cu = _units(h), _units(c)
    assert "total_cost" not in hu and hu["total_cost_fen"] == "fen" and hu["loss_fen"] == "fen"
    assert {k for k, v in hu.items() if v == "fen"} == CONTRACT_HOSPITAL | {"total_cost_fen", "loss_fen"}
    assert {k for k, v in cu.items() if v == "fen"} == CONTRACT_COUNTY | {"share_fen", "self_paid_fen",
                                                                          "gap_claim_fen"}
    assert hu["point_value"] == "yuan/point" and hu["points"] == "point"
    for path in (h, c):  # every fen column is integer; every integer money column is named by unit
        t = pq.read_schema(path)
        for f in t:
            if f.name in CONTRACT_FEN_COLUMNS or f.name.endswith("_fen"):
                assert str(f.type) == "int64", f.name


def test_ledger_tables_hold_fen_and_views_yuan(settled):
    with duckdb.connect(str(settled["ledger"]), read_only=True) as con:
        cols = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'pool_results'").fetchall())
        assert cols["budget_fen"] == "BIGINT" and "budget" not in cols
        for view in LEDGER_VIEWS:
            types = con.execute("SELECT column_name, data_type, comment FROM duckdb_columns() WHERE table_name = ?",
                                [view]).fetchall()
            assert types, view
            for name, typ, comment in types:
                if name.endswith("_yuan") and name != "point_value_yuan":
                    assert typ == "DECIMAL(18,2)", (view, name, typ)
                assert "DOUBLE" not in typ or name in ("cmi", "outlier_share"), (view, name)
                assert comment and re.search(r"[\u4e00-\u9fff]", comment) and re.search(r"[a-z]", comment), \
                    (view, name, comment)
        # the views equal the tables to the fen
        fen = con.execute("SELECT sum(fund_payment) FROM hospital_results WHERE run_id = ?",
                          [settled["run_id"]]).fetchone()[0]
        yuan = con.execute("SELECT sum(fund_payment_yuan) FROM hospitals_yuan WHERE run_id = ?",
                           [settled["run_id"]]).fetchone()[0]
        assert isinstance(yuan, Decimal) and yuan * 100 == fen


def _doc_queries() -> list[tuple[str, str]]:
    text = (REPO / "docs" / "ledger.md").read_text(encoding="utf-8")
    return re.findall(r"#### (.+?)\n.*?```sql\n(.*?)```", text, flags=re.S)


def test_docs_ledger_queries_run_as_written(settled):
    queries = _doc_queries()
    assert len(queries) >= 3
    titles = " ".join(t for t, _ in queries)
    for topic in ("hospital's year", "county", "monthly point values"):
        assert topic in titles, topic
    with duckdb.connect(str(settled["ledger"]), read_only=True) as con:
        for title, sql in queries:
            sql = sql.replace("'H0001'", "'H1'").replace("'330102'", "'C1'")
            rows = con.execute(sql).fetchall()
            if "owe" not in title:  # no hospital of the small city owes money back
                assert rows, title


def test_reserve_short_warning_in_yuan(settled):
    for w in settled["summary"]["warnings"]:
        assert not re.search(r"\d fen\b", w), w


def test_stale_mark_after_a_month_is_run_again(city, tmp_path):
    runner = CliRunner()
    from drg.cli import app

    ledger = tmp_path / "l.duckdb"
    args = settle_args(city, ledger)
    assert runner.invoke(app, ["settle", "month", "--period", "2025-01:2025-12", *args, "--no-statements"]).exit_code == 0
    assert runner.invoke(app, ["settle", "year", "--year", "2025", *args, "--no-statements"]).exit_code == 0
    assert not Ledger(ledger).runs().filter(pl.col("kind") == "year")["stale"][0]
    r = runner.invoke(app, ["settle", "month", "--period", "2025-03", *args, "--replace", "--no-statements"])
    assert r.exit_code == 0, r.output
    runs = Ledger(ledger).runs()
    year = runs.filter(pl.col("kind") == "year").row(0, named=True)
    assert year["stale"] and "2025-03" in year["stale_reason"]
    shown = runner.invoke(app, ["ledger", "show", "--ledger", str(ledger)])
    assert shown.exit_code == 0 and "STALE" in shown.output and "2025-03" in shown.output
    runner.invoke(app, ["settle", "year", "--year", "2025", *args, "--replace", "--no-statements"])
    assert not Ledger(ledger).runs().filter(pl.col("kind") == "year")["stale"][0]


def test_ledger_of_the_first_layout_is_upgraded(settled, tmp_path):
    import shutil

    from drg.settlement.ledger import _RENAMES_V2

    old = tmp_path / "old.duckdb"
    shutil.copy(settled["ledger"], old)
    with duckdb.connect(str(old)) as con:  # back to the first layout: money columns without units, no views
        for v in LEDGER_VIEWS:
            con.execute(f"DROP VIEW {v}")
        for t, ren in _RENAMES_V2.items():
            for a, b in ren.items():
                con.execute(f"ALTER TABLE {t} RENAME COLUMN {b} TO {a}")
        con.execute("DROP TABLE ledger_meta")
    led = Ledger(old)
    assert led.fund_spending(2025) == Ledger(settled["ledger"]).fund_spending(2025)
    assert led.table("pools_yuan").height == Ledger(settled["ledger"]).table("pools_yuan").height


@pytest.mark.parametrize("text,kind,months", [("2025-03", "month", (3,)), ("2025-3", "month", (3,)),
                                              ("2025-Q2", "quarter", (4, 5, 6)), ("2025-h2", "half", tuple(range(7, 13))),
                                              ("2025", "year", tuple(range(1, 13)))])
def test_period_grammar(text, kind, months):
    from drg.settlement.periods import parse_period

    p = parse_period(text)
    assert (p.kind, p.months) == (kind, months)
    assert parse_period(p.text) == p


@pytest.mark.parametrize("bad", ["2025-13", "2025-Q5", "2025-H3", "25-03", "2025/03", "", "2025-00"])
def test_period_grammar_refuses(bad):
    from drg.errors import InputError
    from drg.settlement.periods import parse_period

    with pytest.raises(InputError):
        parse_period(bad)
