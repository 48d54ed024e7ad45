"""A small published world for the estimate and publish tests, and the example GBK CSV generator.

:func:`build_world` (the session fixture ``world`` of tests/conftest.py): the demo scheme compiled, a synthetic
city (history 2023–2024, month file 2025), weights and coefficients from ``drg weights``' library call under a
policy that extends ``demo`` with a per-diem rule (so per-diem cases occur), and a bundle published with point
values 310 = 85.5 and 390 = 80.2 yuan.

:func:`write_his_csv` writes cases the way a hospital information system exports its settlement list: GBK
bytes, Chinese headers (those of ``data/mappings/his-example.toml``), coded values in words (男/女, 职工基本
医疗保险 …), codes joined with ``|``. Run this file as a script to write one:
``python tests/helpers/estimate_world.py OUT.csv [N]``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAPPING = REPO / "data" / "mappings" / "his-example.toml"
PV = {"310": "85.5", "390": "80.2"}
#: One case of the world's scheme as ``drg estimate`` flags, and the same case as a JSON case file.
FLAGS = ["--dx", "I50.908,J15.700", "--age", "66", "--sex", "1", "--los", "9", "--cost", "12300.50",
         "--self-paid", "2800.00", "--hospital", "H0004", "--insurance", "310"]
CASE_JSON = {"dx": ["I50.908", "J15.700"], "age": 66, "sex": 1, "los": 9, "total_cost": "12300.50",
             "self_paid": 2800.00, "hospital_id": "H0004", "insurance_type": "310"}

HIS_HEADERS = {
    "case_id": "结算清单号", "patient_id": "医保个人编号", "hospital_id": "定点医药机构编码", "sex": "性别",
    "age": "年龄", "age_days": "年龄(天)", "birth_weight": "新生儿出生体重(克)", "los": "住院天数",
    "discharge_status": "离院方式", "dx": "诊断编码", "px": "手术及操作编码",
    "vent_hours": "有创呼吸机使用时间(小时)", "admit_date": "入院日期", "discharge_date": "出院日期",
    "total_cost": "医疗费总额", "fund_paid": "统筹基金支付", "self_paid": "个人负担", "other_paid": "其他支付",
    "insurance_type": "险种类型", "county": "参保地",
}
_SEX = {1: "男", 2: "女", 0: "未知"}
_INS = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
_DS = {1: "医嘱离院", 2: "医嘱转院", 3: "医嘱转社区卫生服务机构/乡镇卫生院", 4: "非医嘱离院", 5: "死亡", 9: "其他"}

POLICY = """
[policy]
id = "estimate-test"
name = "demo with a per-diem rule"
extends = "demo"

[per_diem]
drgs = ["TR1"]
min_los = 28
"""


def _cell(v) -> str:
    return "" if v is None else str(v)


def write_his_csv(rows: list[dict], path: str | Path, *, encoding: str = "gbk", extra_rows: list[list] | None = None
                  ) -> Path:
    """Write contract-shaped case dicts as a hospital system's GBK CSV export (see the module docstring)."""
    path = Path(path)
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(HIS_HEADERS.values()))
        for r in rows:
            out = []
            for k in HIS_HEADERS:
                v = r.get(k)
                if k == "sex":
                    v = _SEX.get(v, "未知")
                elif k == "insurance_type":
                    v = _INS.get(v, v)
                elif k == "discharge_status":
                    v = _DS.get(v, "")
                elif k in ("dx", "px"):
                    v = "|".join(v or [])
                elif k in ("total_cost", "fund_paid", "self_paid", "other_paid"):
                    v = f"{v:.2f}" if v is not None else ""
                out.append(_cell(v))
            w.writerow(out)
        for row in extra_rows or []:
            w.writerow(row)
    return path


#: A row of an export that cannot be read (age "sixty"): the one reject of :func:`write_his_month`'s file.
BAD_ROW = ["BAD1", "P1", "H0004", "男", "sixty", "", "", "3", "", "I50.908", "", "", "2025-01-01", "2025-01-04",
           "100.00", "50.00", "50.00", "0", "职工基本医疗保险", ""]


def write_his_month(world: dict, path: Path) -> list[dict]:
    """Hospital H0004's month (the world's 2025 cases, newborns without an age in days left out, 150 at most)
    as its system's GBK export with :data:`BAD_ROW` at the end; returns the rows written before it."""
    rows = [r for r in world["month"].to_pylist() if r["hospital_id"] == "H0004"
            and not (r["age"] == 0 and r["age_days"] is None)][:150]
    write_his_csv(rows, path, extra_rows=[BAD_ROW])
    return rows


def build_world(root: Path) -> dict:
    """The published world (see the module docstring), written under ``root``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from drg.estimate import publish
    from drg.pricing import build_tables
    from drg.synth import city_settings, schemes, synthesize
    from grouper.build import build_scheme
    from grouper.rules import load_code_dictionary, load_rule_set

    sample = schemes()["demo"]
    scheme_path = root / "demo.scheme"
    build_scheme(sample.rules_dir, sample.codes_dir, out=scheme_path)
    res = synthesize(load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir), root / "city",
                     cases=6000, years=[2023, 2024, 2025], settings=city_settings("demo"), seed=7)
    from drg.grouping import group_file
    from grouper.scheme import load_scheme

    scheme = load_scheme(scheme_path)
    for y in (2023, 2024):          # history as the bureau has it: grouped with the scheme
        group_file(scheme, res.case_files[y], root / f"grouped-{y}.parquet", engine="numba")
    hist = pa.concat_tables([pq.read_table(root / f"grouped-{y}.parquet") for y in (2023, 2024)],
                            promote_options="permissive")
    pq.write_table(hist, root / "history.parquet")
    policy = root / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    build_tables(root / "history.parquet", res.hospitals, policy, root / "tables", year=2025)
    bundle = root / "bundle"
    publish(scheme_path, root / "tables", policy, bundle, point_values=[f"{k}={v}" for k, v in PV.items()],
            codes=sample.codes_dir)
    month = pq.read_table(res.case_files[2025])
    return {"root": root, "scheme": scheme_path, "tables": root / "tables", "policy": policy, "bundle": bundle,
            "month": month, "month_file": res.case_files[2025], "hospitals": res.hospitals,
            "codes": sample.codes_dir}


if __name__ == "__main__":  # python tests/helpers/estimate_world.py OUT.csv [N]: an example export
    import pyarrow.parquet as pq

    from drg.synth import city_settings, schemes, synthesize
    from grouper.rules import load_code_dictionary, load_rule_set

    import tempfile

    out, n = Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 200
    sample = schemes()["demo"]
    with tempfile.TemporaryDirectory() as tmp:
        r = synthesize(load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir), tmp,
                       cases=n, years=[2025], settings=city_settings("demo"))
        write_his_csv(pq.read_table(r.case_files[2025]).to_pylist(), out)
    print(f"wrote {out} (GBK, Chinese headers; read it with --columns {MAPPING.relative_to(REPO)})")
