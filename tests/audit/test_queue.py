"""The review queue (Parquet and the Chinese workbook) and ``drg audit apply``: decisions in, the violations
table ``drg points`` reads out, each violation with its queue row."""

from __future__ import annotations

import zipfile
from datetime import date

import polars as pl
import pyarrow.parquet as pq
import pytest

from drg.audit.apply import apply_decisions, decisions_to_violations
from drg.audit.queue import QUEUE_COLUMNS, SHEETS, read_queue
from drg.errors import InputError
from drg.policy import load_policy


def test_queue_file(planted, planted_audit):
    path = planted_audit.files["queue"]
    t = pq.read_table(path)
    assert tuple(t.column_names) == QUEUE_COLUMNS
    assert t.schema.field("total_cost_fen").metadata == {b"unit": b"fen"}
    md = t.schema.metadata
    assert md[b"drg.audit.queue_id"].decode() == planted_audit.queue_id and md[b"drg.audit.policy_id"] == b"demo"
    q = pl.read_parquet(path)
    assert q["queue_ref"].n_unique() == q.height and q["queue_ref"].str.starts_with(planted_audit.queue_id).all()
    assert (q["score"] >= planted_audit.min_score).all() and q["score"].is_between(0, 1).all()
    # ranked within each detector by score; every row has evidence in JSON and in Chinese
    for det in q["detector"].unique():
        part = q.filter(pl.col("detector") == det)
        assert part["rank"].to_list() == list(range(1, part.height + 1))
        assert part["score"].to_list() == sorted(part["score"].to_list(), reverse=True)
    assert q["evidence"].str.starts_with("{").all() and (q["evidence_text"].str.len_chars() > 10).all()
    assert q.select(pl.col(c).is_null().all() for c in ("decision", "violation", "serious", "multiplier")).row(0) \
        == (True,) * 4
    # the same inputs give the same queue id and rows
    from drg.audit.run import audit_run

    again = audit_run(planted.priced[2025], planted.history, policy="demo", out=planted.out / "audit" / "again.parquet",
                      hospitals=planted.hospitals, workbook=False)
    assert again.queue_id == planted_audit.queue_id
    assert again.queue.drop("queue_id").equals(planted_audit.queue.drop("queue_id"))


def test_workbook_sheets_numbers_and_text(planted_audit):
    book = planted_audit.files["workbook"]
    import fastexcel

    names = fastexcel.read_excel(book).sheet_names
    assert names == ["汇总", *SHEETS.values(), "信号", "说明"]
    q = planted_audit.queue
    for det, sheet in SHEETS.items():
        df = pl.read_excel(book, sheet_name=sheet, schema_overrides={c: pl.String for c in ("审核结论", "违规类型",
                                                                                         "是否严重", "扣减倍数", "审核备注")})
        rows = q.filter(pl.col("detector") == det)
        assert df.height == rows.height
        if rows.height:
            assert df.schema["得分"].is_numeric() and df.schema["医疗总费用(元)"].is_numeric()   # numbers, not text
            assert df["医疗总费用(元)"].to_list() == [v / 100 for v in rows["total_cost_fen"].to_list()]
            assert df["结算清单号"].to_list() == rows["case_id"].to_list()
    with zipfile.ZipFile(book) as z:
        assert not any("<f>" in z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    from drg.audit.queue import write_queue_workbook

    q = pl.DataFrame({c: [None] for c in QUEUE_COLUMNS}).with_columns(
        pl.lit("=HYPERLINK(\"http://x\")").alias("case_id"), pl.lit("split_admission").alias("detector"),
        pl.lit("@SUM(A1)").alias("evidence_text"), pl.lit(0.9).alias("score"), pl.lit(1).alias("rank"),
        pl.Series("related_cases", [["+1", "-2"]]), pl.lit(12345).alias("total_cost_fen"))
    path = write_queue_workbook(q, [], tmp_path / "q.xlsx", info=[("队列编号", "x")], summary={})
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet2.xml").decode("utf-8")
    assert "<f>" not in sheet and "HYPERLINK" not in sheet      # shared strings, not a formula
    df = pl.read_excel(path, sheet_name="分解住院")
    assert df["结算清单号"][0] == "=HYPERLINK(\"http://x\")" and df["医疗总费用(元)"][0] == 123.45


def _decided(queue: pl.DataFrame) -> pl.DataFrame:
    """Reviewers decide the first three rows of each detector: violation, dismissed, violation (serious)."""
    q = queue.with_columns(pl.col("rank").cast(pl.Int64))
    return q.with_columns(
        pl.when(pl.col("rank") == 1).then(pl.lit("违规")).when(pl.col("rank") == 2).then(pl.lit("不违规"))
        .when(pl.col("rank") == 3).then(pl.lit("violation")).otherwise(None).alias("decision"),
        pl.when(pl.col("rank") == 3).then(True).otherwise(None).alias("serious"))


def test_apply_writes_one_violation_per_decided_case(planted_audit, tmp_path):
    q = _decided(planted_audit.queue)
    path = tmp_path / "decided.parquet"
    q.write_parquet(path)
    res = apply_decisions(path, tmp_path / "v.parquet", policy="demo")
    v = pl.read_parquet(tmp_path / "v.parquet")
    dets = q.filter(pl.col("decision").is_in(["违规", "violation"]))
    assert res.violations == v.height == dets["case_id"].n_unique()
    assert res.no_violation == q.filter(pl.col("decision") == "不违规").height
    assert res.pending == q.filter(pl.col("decision").is_null()).height
    assert set(v.columns) >= {"case_id", "violation", "serious", "multiplier", "queue_ref"}
    row = v.filter(pl.col("queue_ref") == dets["queue_ref"][0])
    assert row["violation"][0] == dets["suggested_violation"][0] and row["serious"][0] is False
    from drg.casefile.tables import read_violations

    assert read_violations(tmp_path / "v.parquet").num_rows == v.height     # what drg points reads


def test_two_detectors_on_one_case_are_one_violation():
    pol = load_policy("demo")
    q = pl.DataFrame({"queue_ref": ["Q-1", "Q-2", "Q-3"], "case_id": ["c1", "c1", "c2"],
                      "detector": ["split_admission", "upcoding", "cost_shift"],
                      "suggested_violation": ["split_admission", "upcoding", "self_pay_switch"],
                      "decision": ["违规", "违规", "待定"], "violation": [None, None, None],
                      "serious": ["是", "是", None], "multiplier": [None, None, None]})
    v, decided, counts = decisions_to_violations(q, pol)
    assert v.to_dicts() == [{"case_id": "c1", "violation": "upcoding", "serious": True, "multiplier": None,
                             "queue_ref": "Q-1;Q-2", "detector": "upcoding"}]
    assert counts == {"violation": 2, "no_violation": 0, "pending": 1} and decided.height == 2


@pytest.mark.parametrize("column,value,message", [
    ("decision", "maybe", "decision"), ("serious", "very", "serious"), ("multiplier", "two", "multiplier")])
def test_a_bad_decision_names_the_row(column, value, message):
    pol = load_policy("demo")
    q = pl.DataFrame({"queue_ref": ["Q-1", "Q-2"], "case_id": ["c1", "c2"], "detector": ["upcoding"] * 2,
                      "suggested_violation": ["upcoding"] * 2, "decision": ["违规", "违规"], "violation": [None, None],
                      "serious": ["否", "否"], "multiplier": [None, None]})
    q = q.with_columns(pl.when(pl.col("queue_ref") == "Q-2").then(pl.lit(value)).otherwise(pl.col(column)).alias(column))
    with pytest.raises(InputError, match=message) as err:
        decisions_to_violations(q, pol, file="queue.xlsx")
    assert "row 2" in str(err.value) and "queue.xlsx" in str(err.value)


def test_a_type_without_a_multiplier_is_an_error():
    pol = load_policy("zhejiang-province")     # no default multiplier
    q = pl.DataFrame({"queue_ref": ["Q-1"], "case_id": ["c1"], "detector": ["x"], "suggested_violation": [None],
                      "decision": ["违规"], "violation": ["made_up"], "serious": ["是"], "multiplier": [None]})
    with pytest.raises(InputError, match="made_up"):
        decisions_to_violations(q, pol)


def test_apply_reads_the_reviewers_workbook(planted_audit, tmp_path):
    """The reviewers fill the workbook's columns (here: rewritten through the project's workbook writer, as a
    spreadsheet program would save it); apply reads the detector sheets back by their Chinese headers."""
    from drg.reports.workbook import Sheet, write_workbook

    book = planted_audit.files["workbook"]
    sheets = []
    for det, name in SHEETS.items():
        df = pl.read_excel(book, sheet_name=name, infer_schema_length=0)
        if df.height:
            df = df.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("违规")).otherwise(None).alias("审核结论"),
                                 pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("是")).otherwise(None).alias("是否严重"))
        sheets.append(Sheet(name, [(c, "text") for c in df.columns], df.rows()))
    filled = write_workbook(tmp_path / "filled.xlsx", sheets)
    q = read_queue(filled)
    assert q.height == planted_audit.queue.height
    res = apply_decisions(filled, tmp_path / "v.csv", policy="demo")
    expected = planted_audit.queue.filter(pl.col("rank") == 1)
    assert res.violations == expected["case_id"].n_unique()
    v = pl.read_csv(tmp_path / "v.csv")
    assert sorted(v["queue_ref"].to_list()) == sorted(expected["queue_ref"].to_list())
    assert (tmp_path / "v.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_read_queue_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_queue(tmp_path / "none.parquet")
    (tmp_path / "q.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match="unknown queue file type"):
        read_queue(tmp_path / "q.txt")
    pl.DataFrame({"case_id": ["c"], "date": [date(2025, 1, 1)]}).write_parquet(tmp_path / "q.parquet")
    with pytest.raises(InputError, match="queue_ref"):
        read_queue(tmp_path / "q.parquet")


def test_a_row_the_run_could_not_settle_is_no_settled_deduction(tmp_path):
    """drg.settlement.deductions records a run's violations case by case, except the rows the run rejected
    (main's settlement leaves out what it cannot settle; the ledger's deductions follow it)."""
    from types import SimpleNamespace

    import duckdb

    from drg.settlement.deductions import DEDUCTIONS_DDL, record_deductions

    priced = tmp_path / "priced.parquet"
    pl.DataFrame({
        "case_id": ["A", "B", "C"], "hospital_id": ["H1", "H1", "H2"], "insurance_type": ["310"] * 3,
        "discharge_date": [date(2025, 3, 1)] * 3, "drg": ["GB11"] * 3, "violation": ["upcoding", None, "fraud"],
        "violation_ref": ["AQ-1", None, "AQ-2"], "points": [150.0, 90.0, 80.0], "adjusted_points": [0.0, 90.0, 0.0],
        "deduction_points": [300.0, 0.0, 400.0]}).write_parquet(priced)
    rejects = pl.DataFrame({"file": [str(priced)], "row_number": [3]})       # C (row 3) could not be settled
    result = SimpleNamespace(inputs=[SimpleNamespace(role="priced", path=str(priced.resolve()))], year=2025,
                             month=None, pools={"310": None}, aggregates=SimpleNamespace(rejects=rejects))
    con = duckdb.connect()
    con.execute(DEDUCTIONS_DDL)
    assert record_deductions(con, "R1", result) == 1
    rows = con.sql("SELECT case_id, violation_ref, deduction_points FROM deductions").fetchall()
    assert [(r[0], r[1], float(r[2])) for r in rows] == [("A", "AQ-1", 300.0)]
    result.aggregates = None                                                  # no rejects: both
    assert record_deductions(con, "R2", result) == 2
