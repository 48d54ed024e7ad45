"""The small input tables (:mod:`drg.casefile.tables`): budget, county income, hospitals and their tiers; exact
money, and errors that name the file, row and field."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from drg.casefile import hospital_tiers, read_budget, read_county_income
from drg.errors import InputError
from drg.policy import load_policy
from tests.helpers.priced_cases import write_income


@pytest.fixture(scope="module")
def pol():
    return load_policy("zhejiang-province")


def test_read_budget_csv_exact_and_duplicates(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("year,insurance_type,fund_budget\n2025,310,1000000.005\n2025,390,0.01\n", encoding="utf-8")
    assert read_budget(p) == {(2025, "310"): 100_000_001, (2025, "390"): 1}
    p.write_text("year,insurance_type,fund_budget\n2025,310,1\n2025,310,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="twice") as e:
        read_budget(p)
    assert "row 2" in str(e.value)
    p.write_text("year,insurance_type,fund_budget\n2025,310,abc\n", encoding="utf-8")
    with pytest.raises(InputError, match="fund_budget"):
        read_budget(p)
    p.write_text("year,insurance_type\n2025,310\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column fund_budget"):
        read_budget(p)


def test_read_county_income(tmp_path):
    p = write_income(tmp_path / "i.parquet", [(2025, "310", "C1", 100.5, 1.25)])
    assert read_county_income(p) == {(2025, "310", "C1"): (10_050, 125)}


def test_one_hospitals_reader_for_gbk_csv_and_tier_errors_name_the_row(tmp_path):
    from drg.casefile import hospital_tiers, read_hospitals
    from drg.errors import InputError
    from drg.policy import load_policy

    path = tmp_path / "hospitals.csv"
    path.write_bytes("hospital_id,name,tier,county\nH0001,东湖区第一人民医院,A,东湖区\nH0002,南江县中医医院,C,南江县\n"
                     .encode("gbk"))
    rows = read_hospitals(path)
    assert rows["H0001"]["name"] == "东湖区第一人民医院" and rows["H0002"]["county"] == "南江县"
    assert hospital_tiers(path, load_policy("demo").coef.tiers).column("tier").to_pylist() == ["A", "C"]
    path.write_text("hospital_id,name,tier,county\nH0001,x,A,c\nH0002,y,Z,c\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"hospitals.csv, row 2, field 'tier'"):
        hospital_tiers(path, load_policy("demo").coef.tiers)
    path.write_text("hospital_id,name,tier,county\n,x,A,c\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 1.*hospital_id"):
        read_hospitals(path)


def test_unknown_tier_is_an_error(pol, tmp_path):
    import pyarrow as pa

    pq.write_table(pa.table({"hospital_id": ["H1"], "tier": ["Z"]}), tmp_path / "hosp.parquet")
    with pytest.raises(InputError, match="tier"):
        hospital_tiers(tmp_path / "hosp.parquet", pol.coef.tiers)
