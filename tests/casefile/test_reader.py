"""The case contract: reading Parquet, CSV (UTF-8, BOM, GBK) and Excel; every reject reason (an Enum, written as
its strings); rows never lost. Reading money to fen runs on both engines (the kernel and its twin)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from drg.casefile import (ColumnMapping, REJECT_REASONS, RejectReason, check_cases, detect_encoding, read_cases,
                          yuan_to_fen_array)
from drg.errors import InputError


def good_row(i: int = 1, **over) -> dict:
    row = {
        "case_id": f"C{i:05d}", "patient_id": f"P{i:05d}", "hospital_id": "H0001", "sex": 1, "age": 66,
        "age_days": None, "birth_weight": None, "los": 9, "discharge_status": 1,
        "dx": ["I21.000", "I50.900x002"], "px": ["36.0700"], "vent_hours": None,
        "admit_date": dt.date(2025, 3, 1), "discharge_date": dt.date(2025, 3, 10),
        "total_cost": 52300.50, "fund_paid": 40000.00, "self_paid": 12300.50, "other_paid": 0.0,
        "insurance_type": "310", "county": "东湖区",
    }
    row.update(over)
    return row


SCHEMA = pa.schema([
    ("case_id", pa.string()), ("patient_id", pa.string()), ("hospital_id", pa.string()), ("sex", pa.int8()),
    ("age", pa.int16()), ("age_days", pa.int32()), ("birth_weight", pa.int32()), ("los", pa.int32()),
    ("discharge_status", pa.int8()), ("dx", pa.list_(pa.string())), ("px", pa.list_(pa.string())),
    ("vent_hours", pa.int32()), ("admit_date", pa.date32()), ("discharge_date", pa.date32()),
    ("total_cost", pa.float64()), ("fund_paid", pa.float64()), ("self_paid", pa.float64()),
    ("other_paid", pa.float64()), ("insurance_type", pa.string()), ("county", pa.string()),
])


def write_parquet(tmp_path, rows, name="cases.parquet", row_group_size=None):
    path = tmp_path / name
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path, row_group_size=row_group_size)
    return path


def collect(path, **kw):
    acc, rej = [], []
    for b in read_cases(path, **kw):
        acc.append(pa.Table.from_batches([b.accepted]))
        if b.rejected is not None:
            rej.append(b.rejected)
    accepted = pa.concat_tables(acc)
    rejected = pa.concat_tables(rej) if rej else None
    return accepted, rejected


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.usefixtures("engine")
def test_parquet_round_trip_keeps_values_and_adds_fen(tmp_path):
    path = write_parquet(tmp_path, [good_row(1), good_row(2, total_cost=100.0, fund_paid=60.0, self_paid=40.0)])
    acc, rej = collect(path)
    assert rej is None
    assert acc.num_rows == 2
    assert acc.column("total_cost_fen").to_pylist() == [5230050, 10000]
    assert acc.column("row_number").to_pylist() == [1, 2]
    assert acc.column("dx").to_pylist()[0] == ["I21.000", "I50.900x002"]
    assert acc.schema.field("sex").type == pa.int8()
    assert acc.column("county").to_pylist()[0] == "东湖区"


def test_parquet_streams_by_row_group_and_numbers_rows_across_groups(tmp_path):
    rows = [good_row(i) for i in range(1, 11)]
    rows[7] = good_row(8, los=-1)
    path = write_parquet(tmp_path, rows, row_group_size=3)
    batches = list(read_cases(path))
    assert len(batches) == 4
    rej = pa.concat_tables([b.rejected for b in batches if b.rejected is not None])
    assert rej.column("row_number").to_pylist() == [8]
    assert sum(b.n_read for b in batches) == 10


def test_decimal_money_is_exact(tmp_path):
    t = pa.Table.from_pylist([good_row(1)], schema=SCHEMA)
    for name in ("total_cost", "fund_paid", "self_paid", "other_paid"):
        i = t.schema.get_field_index(name)
        t = t.set_column(i, name, t.column(name).cast(pa.decimal128(14, 2)))
    path = tmp_path / "dec.parquet"
    pq.write_table(t, path)
    acc, rej = collect(path)
    assert rej is None
    assert acc.column("self_paid_fen").to_pylist() == [1230050]


@pytest.mark.usefixtures("engine")
def test_yuan_to_fen_rounds_half_away_from_zero_on_the_decimal():
    assert yuan_to_fen_array(np.array([12.345, -12.345, 0.005, 1.0049, 52300.50, 0.1 + 0.2])).tolist() == [
        1235, -1235, 1, 100, 5230050, 30]


CSV_HEADER = ("case_id,patient_id,hospital_id,sex,age,age_days,birth_weight,los,discharge_status,dx,px,"
              "vent_hours,admit_date,discharge_date,total_cost,fund_paid,self_paid,insurance_type,county,"
              "hospital_name")
CSV_ROW = ("C1,P1,H0001,1,66,,,9,1,I21.000|I50.900x002,36.0700,,2025-03-01,2025-03-10,52300.50,40000.00,"
           "12300.50,310,东湖区,东湖区第一人民医院")


@pytest.mark.usefixtures("engine")
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_are_detected(tmp_path, encoding):
    path = tmp_path / f"cases-{encoding}.csv"
    path.write_bytes(f"{CSV_HEADER}\n{CSV_ROW}\n".encode(encoding))
    acc, rej = collect(path)
    assert rej is None
    row = acc.to_pylist()[0]
    assert row["hospital_name"] == "东湖区第一人民医院"
    assert row["county"] == "东湖区"
    assert row["dx"] == ["I21.000", "I50.900x002"]
    assert row["total_cost_fen"] == 5230050
    assert row["admit_date"] == dt.date(2025, 3, 1)


def test_detect_encoding():
    assert detect_encoding("医院".encode("gbk")) == "gb18030"
    assert detect_encoding("Müller 5µg café".encode()) == "utf-8"  # Latin-1 letters stay UTF-8
    assert detect_encoding("sex\n女\n".encode("gbk")) == "gb18030"  # 女 in GBK reads as "Ů" in UTF-8
    assert detect_encoding(b"\xef\xbb\xbfabc") == "utf-8-sig"
    assert detect_encoding("医院".encode()) == "utf-8"


def test_csv_accepts_comma_and_semicolon_separated_codes(tmp_path):
    path = tmp_path / "c.csv"
    row = CSV_ROW.replace("I21.000|I50.900x002", '"I21.000, I50.900x002;E11.900"')
    path.write_text(f"{CSV_HEADER}\n{row}\n", encoding="utf-8")
    acc, _ = collect(path)
    assert acc.column("dx").to_pylist()[0] == ["I21.000", "I50.900x002", "E11.900"]


@pytest.mark.usefixtures("engine")
def test_excel_round_trip(tmp_path):
    df = pl.DataFrame([good_row(1), good_row(2)]).with_columns(
        pl.col("dx").list.join("|"), pl.col("px").list.join("|"))
    path = tmp_path / "cases.xlsx"
    df.write_excel(path)
    acc, rej = collect(path)
    assert rej is None
    assert acc.column("dx").to_pylist()[1] == ["I21.000", "I50.900x002"]
    assert acc.column("total_cost_fen").to_pylist() == [5230050, 5230050]


def test_column_mapping_for_a_hospital_systems_own_headers(tmp_path):
    mapping = tmp_path / "his.toml"
    mapping.write_text("""
[columns]
case_id = "结算清单号"
patient_id = "患者编号"
hospital_id = "医院编码"
sex = "性别"
age = "年龄"
los = "住院天数"
dx = "诊断编码"
px = "手术编码"
admit_date = "入院日期"
discharge_date = "出院日期"
total_cost = "总费用"
fund_paid = "统筹支付"
self_paid = "个人支付"
insurance_type = "险种"
county = "参保地"

[values.sex]
"男" = 1
"女" = 2
""", encoding="utf-8")
    csv = tmp_path / "his.csv"
    csv.write_bytes(("结算清单号,患者编号,医院编码,性别,年龄,住院天数,诊断编码,手术编码,入院日期,出院日期,总费用,"
                     "统筹支付,个人支付,险种,参保地\nA1,P1,H1,女,40,5,O80.000,,2025-01-01,2025-01-06,"
                     "5000,4000,1000,390,南江县\n").encode("gbk"))
    acc, rej = collect(csv, mapping=mapping)
    assert rej is None
    assert acc.column("sex").to_pylist() == [2]
    assert acc.column("case_id").to_pylist() == ["A1"]


def test_mapping_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[columns]\nnot_a_column = "x"\n', encoding="utf-8")
    with pytest.raises(InputError, match="bad.toml.*not_a_column"):
        ColumnMapping.load(bad)


def test_missing_required_column_is_a_file_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("case_id,sex\nC1,1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"c\.csv.*missing required column"):
        list(read_cases(path))


def test_unknown_file_type_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="case file not found"):
        list(read_cases(tmp_path / "nope.parquet"))
    p = tmp_path / "x.json"
    p.write_text("{}")
    with pytest.raises(InputError, match="unknown case file type"):
        list(read_cases(p))


# ------------------------------------------------------------------------------------------ rejects

BAD_ROWS = {
    "missing_field": good_row(2, hospital_id=None),
    "duplicate_case_id": good_row(1),
    "empty_dx": good_row(3, dx=[]),
    "sex_out_of_range": good_row(4, sex=3),
    "missing_age_days": good_row(5, age=0, age_days=None, birth_weight=3000),
    "negative_los": good_row(6, los=-2),
    "discharge_before_admission": good_row(7, admit_date=dt.date(2025, 3, 12)),
    "non_finite_money": good_row(8, total_cost=math.inf),
    "negative_money": good_row(9, total_cost=-1.0, fund_paid=-1.0, self_paid=0.0),
    "payment_mismatch": good_row(10, fund_paid=40000.02),
}


@pytest.mark.usefixtures("engine")
def test_every_reject_reason(tmp_path):
    rows = [good_row(1)] + list(BAD_ROWS.values()) + [good_row(11, fund_paid=40000.01)]  # 1 fen is tolerated
    path = write_parquet(tmp_path, rows)
    acc, rej = collect(path)
    reasons = dict(zip(rej.column("case_id").to_pylist(), rej.column("reject_reason").to_pylist()))
    expected = {row["case_id"]: reason for reason, row in BAD_ROWS.items()}
    expected["C00001"] = "duplicate_case_id"  # the second C00001 is the duplicate; keyed by id here
    assert sorted(rej.column("reject_reason").to_pylist()) == sorted(BAD_ROWS)
    for reason, row in BAD_ROWS.items():
        if reason != "duplicate_case_id":
            assert reasons[row["case_id"]] == reason
    assert acc.column("case_id").to_pylist() == ["C00001", "C00011"]
    assert acc.num_rows + rej.num_rows == len(rows)
    # the duplicate is the later row, the first keeps its place
    dup = rej.filter(pa.compute.equal(rej.column("reject_reason"), "duplicate_case_id"))
    assert dup.column("row_number").to_pylist() == [3]


def test_wrong_type_from_csv_keeps_the_row_as_read(tmp_path):
    path = tmp_path / "c.csv"
    bad = CSV_ROW.replace("C1,P1,H0001,1,66", "C2,P2,H0001,M,66")
    bad_date = CSV_ROW.replace("C1,", "C3,").replace("2025-03-10", "10/03/2025x")
    path.write_text(f"{CSV_HEADER}\n{CSV_ROW}\n{bad}\n{bad_date}\n", encoding="utf-8")
    acc, rej = collect(path)
    assert acc.num_rows == 1
    rows = rej.to_pylist()
    assert [r["reject_reason"] for r in rows] == ["wrong_type", "wrong_type"]
    assert rows[0]["sex"] == "M"  # as read
    assert "wrong_type:sex" in rows[0]["reject_detail"]
    assert "wrong_type:discharge_date" in rows[1]["reject_detail"]
    assert [r["row_number"] for r in rows] == [3, 4]   # physical lines: the header is line 1


def test_reject_detail_lists_every_problem(tmp_path):
    path = write_parquet(tmp_path, [good_row(1, los=-1, sex=5)])
    _, rej = collect(path)
    row = rej.to_pylist()[0]
    assert row["reject_reason"] == "sex_out_of_range"
    assert "negative_los:los" in row["reject_detail"]


def test_reason_codes_are_the_documented_ones():
    assert set(REJECT_REASONS) == {"missing_field", "wrong_type", "out_of_range", *BAD_ROWS}


def test_reject_reasons_are_the_enum_values_in_order():
    assert REJECT_REASONS == tuple(r.value for r in RejectReason)
    assert [RejectReason(v) for v in REJECT_REASONS] == list(RejectReason)
    assert all(type(v) is str for v in REJECT_REASONS)


@pytest.mark.parametrize("out", ["rejects.csv", "rejects.parquet"])
def test_rejects_file_holds_exactly_the_reason_strings(tmp_path, out):
    """One row for each reason, in the Enum's order, after one good row: the rejects file names them with the
    Enum's strings, in that order, as a plain string column, and with nothing else."""
    by_reason = {**BAD_ROWS, "wrong_type": good_row(12, age=70000), "out_of_range": good_row(13, age=200)}
    rows = [good_row(1)] + [by_reason[r] for r in REJECT_REASONS]
    schema = SCHEMA.set(SCHEMA.get_field_index("age"), pa.field("age", pa.int64()))   # 70,000: wrong_type
    path = tmp_path / "cases.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    summary = check_cases(path, rejects=tmp_path / out)
    assert summary.rejected == len(REJECT_REASONS) and set(summary.by_reason) == set(REJECT_REASONS)
    if out.endswith(".csv"):
        written = pl.read_csv(tmp_path / out, infer_schema=False)["reject_reason"]
        assert written.dtype == pl.String
        reasons = written.to_list()
    else:
        column = pq.read_table(tmp_path / out).column("reject_reason")
        assert column.type == pa.string()
        reasons = column.to_pylist()
    assert reasons == list(REJECT_REASONS)


def test_check_counts_and_writes_rejects(tmp_path):
    rows = [good_row(1)] + list(BAD_ROWS.values())
    path = write_parquet(tmp_path, rows, row_group_size=4)
    for out in ("rej.csv", "rej.parquet"):
        summary = check_cases(path, rejects=tmp_path / out)
        assert summary.read == len(rows) == summary.accepted + summary.rejected
        assert summary.rejected == len(BAD_ROWS)
        assert sum(summary.by_reason.values()) == summary.rejected
        written = (pl.read_csv(tmp_path / out) if out.endswith(".csv") else pl.read_parquet(tmp_path / out))
        assert written.height == len(BAD_ROWS)
        assert {"row_number", "reject_reason", "case_id", "dx"} <= set(written.columns)


def test_duplicates_across_row_groups(tmp_path):
    rows = [good_row(i) for i in range(1, 7)] + [good_row(2), good_row(6)]
    path = write_parquet(tmp_path, rows, row_group_size=3)
    summary = check_cases(path)
    assert summary.by_reason == {"duplicate_case_id": 2}


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_duplicate_ids_found_whatever_the_row_groups_each_thread_hashes(tmp_path, workers):
    """The pre-pass shares row groups among threads; an id repeated in one thread's row groups, or in two
    threads', is found either way (and an id seen once is not)."""
    from drg.casefile import DuplicateFinder

    ids = [f"C{i:05d}" for i in range(1, 30)] + ["C00001", "C00002", "C00004", "C00029", "C00029"]
    path = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"case_id": ids}), path, row_group_size=4)
    finder = DuplicateFinder.for_parquet(pq.ParquetFile(path), "case_id", path, workers=workers)
    assert len(finder._candidates) == 4
    marks = np.concatenate([finder.mark(pa.chunked_array([pa.array(ids[k:k + 4])])) for k in range(0, len(ids), 4)])
    assert [ids[i] for i in np.flatnonzero(marks)] == ["C00001", "C00002", "C00004", "C00029", "C00029"]


def test_blank_codes_are_no_diagnosis(tmp_path):
    path = write_parquet(tmp_path, [good_row(1, dx=["  ", ""]), good_row(2, dx=[" ", "I10.x00"]),
                                    good_row(3, dx=None)])
    acc, rej = collect(path)
    assert dict(zip(rej.column("case_id").to_pylist(), rej.column("reject_reason").to_pylist())) == {
        "C00001": "empty_dx", "C00003": "empty_dx"}
    assert acc.column("case_id").to_pylist() == ["C00002"]  # a blank principal is the grouper's to judge



@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])
def test_blank_ids_on_arrow_buffers_follow_the_strip_rule(string_type):
    """Parquet ids are checked for blanks on their Arrow buffers (only values whose first byte may begin a
    whitespace character are stripped): the same answer as polars' strip_chars, for slices and chunks."""
    from drg.casefile.strings import null_or_blank

    values = ["C1", "", " ", "\t\n", "\u3000", "\u00a0 ", " C2", "C3 ", None, "\u3000C4", "\u00e9", "\x85", "x"]
    whole = pa.array(values * 3, string_type)
    column = pa.chunked_array([whole.slice(1, 14), whole.slice(15, 20)])
    want = (pl.Series([v for c in column.chunks for v in c.to_pylist()], dtype=pl.String)
            .str.strip_chars().str.len_bytes().fill_null(0) == 0).to_list()
    assert null_or_blank(column).tolist() == want
    assert null_or_blank(pa.chunked_array([pa.array([1, 2])])) is None


def test_blank_and_duplicate_ids_rejected_from_parquet(tmp_path):
    rows = [good_row(1), good_row(2, case_id="  "), good_row(3, case_id="\u3000"), good_row(1), good_row(4)]
    acc, rej = collect(write_parquet(tmp_path, rows))
    assert rej.column("reject_reason").to_pylist() == ["missing_field", "missing_field", "duplicate_case_id"]
    assert acc.column("case_id").to_pylist() == ["C00001", "C00004"]


# ------------------------------------------------------------------------------------------ found by review


def test_impossible_values_are_out_of_range(tmp_path):
    rows = [good_row(1, age=0, age_days=-5, birth_weight=3000), good_row(2, age=0, age_days=10, birth_weight=-1),
            good_row(3, age=0, age_days=10, birth_weight=0), good_row(4, vent_hours=-3), good_row(5, age=200),
            good_row(6, age=0, age_days=400, birth_weight=3000), good_row(7, age=0, age_days=364, birth_weight=3000)]
    acc, rej = collect(write_parquet(tmp_path, rows))
    assert rej.column("reject_reason").to_pylist() == ["out_of_range"] * 6
    assert [d.split(":")[1] for d in rej.column("reject_detail").to_pylist()] == [
        "age_days", "birth_weight", "birth_weight", "vent_hours", "age", "age_days"]
    assert acc.column("case_id").to_pylist() == ["C00007"]


@pytest.mark.usefixtures("engine")
def test_a_blank_other_paid_is_zero_and_the_payment_is_still_checked(tmp_path):
    path = tmp_path / "c.csv"
    header = CSV_HEADER.replace(",insurance_type", ",other_paid,insurance_type")
    ok = CSV_ROW.replace(",310,", ",,310,")
    bad = CSV_ROW.replace("C1,", "C2,").replace("12300.50,310,", "10.00,,310,")
    path.write_text(f"{header}\n{ok}\n{bad}\n", encoding="utf-8")
    acc, rej = collect(path)
    assert acc.column("case_id").to_pylist() == ["C1"]
    assert acc.column("other_paid_fen").to_pylist() == [0]
    assert rej.column("reject_reason").to_pylist() == ["payment_mismatch"]


def test_integers_too_large_for_their_type_are_wrong_type_not_a_crash(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(f"{CSV_HEADER}\n{CSV_ROW}\n{CSV_ROW.replace('C1,P1,H0001,1,66', 'C2,P2,H0001,1,70000')}\n",
                    encoding="utf-8")
    acc, rej = collect(path)
    assert rej.column("reject_detail").to_pylist() == ["wrong_type:age"]
    t = pa.Table.from_pylist([good_row(1), good_row(2, age=40)], schema=SCHEMA)
    t = t.set_column(t.schema.get_field_index("age"), "age", pa.array([66, 70000], pa.int64()))
    pq.write_table(t, tmp_path / "wide.parquet")
    acc, rej = collect(tmp_path / "wide.parquet")
    assert acc.schema.field("age").type == pa.int16() and acc.column("age").to_pylist() == [66]
    assert rej.column("reject_reason").to_pylist() == ["wrong_type"]


def test_ids_that_differ_only_by_spaces_are_duplicates(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(f"{CSV_HEADER}\n{CSV_ROW}\n{CSV_ROW.replace('C1,', ' C1 ,')}\n", encoding="utf-8")
    acc, rej = collect(path)
    assert acc.num_rows == 1 and rej.column("reject_reason").to_pylist() == ["duplicate_case_id"]


def test_mapping_applies_to_parquet_and_refuses_collisions(tmp_path):
    t = pa.Table.from_pylist([good_row(1), good_row(2, sex=2)], schema=SCHEMA)
    t = t.rename_columns(["结算清单号" if c == "case_id" else "性别" if c == "sex" else c for c in t.column_names])
    t = t.set_column(t.schema.get_field_index("性别"), "性别", pa.array(["男", "女"]))
    pq.write_table(t, tmp_path / "his.parquet")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\ncase_id = "结算清单号"\nsex = "性别"\n[values.sex]\n"男" = 1\n"女" = 2\n',
                       encoding="utf-8")
    acc, rej = collect(tmp_path / "his.parquet", mapping=mapping)
    assert rej is None and acc.column("case_id").to_pylist() == ["C00001", "C00002"]
    assert acc.column("sex").to_pylist() == [1, 2]
    clash = tmp_path / "clash.toml"
    clash.write_text('[columns]\ncase_id = "patient_id"\n', encoding="utf-8")
    with pytest.raises(InputError, match="already has a column 'case_id'"):
        collect(write_parquet(tmp_path, [good_row(1)], name="plain.parquet"), mapping=clash)


def test_a_list_where_a_scalar_belongs_is_a_file_error(tmp_path):
    t = pa.Table.from_pylist([good_row(1)], schema=SCHEMA)
    t = t.set_column(t.schema.get_field_index("patient_id"), "patient_id", pa.array([["P1"]]))
    pq.write_table(t, tmp_path / "odd.parquet")
    with pytest.raises(InputError, match="column patient_id has type list"):
        collect(tmp_path / "odd.parquet")


def test_an_empty_dx_cell_is_empty_dx_in_every_format(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(f"{CSV_HEADER}\n{CSV_ROW.replace('I21.000|I50.900x002', '')}\n", encoding="utf-8")
    _, rej = collect(path)
    assert rej.column("reject_reason").to_pylist() == ["empty_dx"]


@pytest.mark.parametrize("streaming", [False, True])
def test_a_damaged_row_group_is_an_input_error_naming_its_rows(tmp_path, streaming, built_scheme, engine):
    """Whether the pre-pass or the main pass (decoding ahead on its own thread) meets it first, a row group
    that cannot be decoded is reported with the file and its rows, and grouping leaves no output behind:
    neither a grouped file nor the rejects of the rows before it (an earlier rejects file stays as it was)."""
    from drg.grouping import group_file

    n = 3000
    t = pa.table({"case_id": ["C0" if i == 4 else f"C{i}" for i in range(n)], "sex": pa.array([1] * n, pa.int8()),
                  "age": pa.array([50] * n, pa.int16()), "dx": [["I10.x00"]] * n})
    path = tmp_path / "damaged.parquet"
    pq.write_table(t, path, row_group_size=1000, compression="none")
    at = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    raw = bytearray(path.read_bytes())
    raw[at:at + 200] = b"\xff" * 200                 # the second row group's first page header
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError) as err:
        for _ in read_cases(path, required=("case_id",), stream_duplicates=streaming, read_ahead=streaming):
            pass
    assert err.value.file == str(path) and err.value.row == 1001 and "rows 1,001-2,000" in str(err.value)
    scheme = built_scheme("demo")
    rejects = tmp_path / "rejects.parquet"
    rejects.write_bytes(b"an earlier run's rejects")
    with pytest.raises(InputError):
        group_file(scheme, path, tmp_path / "out.parquet", rejects=rejects, engine=engine)   # row 5 repeats C0
    assert not list(tmp_path.glob("out.parquet*")) and not list(tmp_path.glob("*.partial"))
    assert rejects.read_bytes() == b"an earlier run's rejects"
