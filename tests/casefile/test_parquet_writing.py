"""Which columns the case-file writers dictionary-encode (drg.casefile.parquet.dictionary_columns), and that
the grouped and priced writers use it."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from drg.casefile.parquet import PLAIN_COLUMNS, dictionary_columns
from drg.grouping import GroupedWriter
from tests.helpers.paths import dictionary_encoded

SCHEMA = pa.schema([("case_id", pa.string()), ("patient_id", pa.string()), ("hospital_id", pa.string()),
                    ("drg", pa.dictionary(pa.int32(), pa.string())), ("sex", pa.int8()), ("los", pa.int32()),
                    ("dx", pa.list_(pa.string())), ("discharge_date", pa.date32()), ("total_cost", pa.float64()),
                    ("total_cost_fen", pa.int64()), ("points", pa.float64())])


def test_zstd_files_encode_only_the_text_of_few_values():
    assert dictionary_columns(SCHEMA, "zstd") == ["hospital_id", "drg"]
    assert dictionary_columns(SCHEMA, "ZSTD") == ["hospital_id", "drg"]


def test_snappy_files_also_encode_integers_and_dates_but_not_money_floats_ids_or_lists():
    got = dictionary_columns(SCHEMA, "snappy")
    assert got == ["hospital_id", "drg", "sex", "los", "discharge_date"]
    assert not set(got) & set(PLAIN_COLUMNS) and "total_cost_fen" not in got and "points" not in got


def test_grouped_file_has_dictionary_pages_only_where_they_pay(tmp_path):
    n = 50
    table = pa.table({"case_id": [f"C{i}" for i in range(n)], "patient_id": [f"P{i}" for i in range(n)],
                      "hospital_id": ["H1", "H2"] * (n // 2), "sex": pa.array([1, 2] * (n // 2), pa.int8()),
                      "dx": [["I10", "E11.9"]] * n, "discharge_date": [dt.date(2025, 1, 2)] * n,
                      "total_cost": [1000.5 + i for i in range(n)]})
    out = tmp_path / "g.parquet"
    writer = GroupedWriter(out)
    writer.write(table)
    writer.close()
    assert dictionary_encoded(out) == {"hospital_id", "sex", "discharge_date"}
    assert pq.read_table(out).equals(table)
