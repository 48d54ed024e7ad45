"""Small priced-case files for the audit's rule tests: a row is a dict of the few fields a test cares about,
the other columns of a priced file (CONTRACT.md) filled with plain values."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

AUDIT_POLICY = """
[policy]
id = "audit-test"
extends = "zhejiang-province"
year = 2025

[violations]
default_multiplier = 1
"""


def stay(case_id: str, patient: str, hospital: str, admit: date, los: int, *, drg: str = "GD25", adrg: str | None = None,
         cost_ratio: float = 1.0, mean_cost: float = 10000.0, status: int = 1, pdx: str = "K35.800",
         cc_level: int = 0, cc_dx: str | None = None, self_share: float = 0.2, ins: str = "310",
         base_points: float = 100.0, group_status: str = "ok") -> dict:
    """One priced stay: cost = cost_ratio × mean cost, self-paid ``self_share`` of it, the fund the rest."""
    total = round(cost_ratio * mean_cost, 2)
    self_paid = round(total * self_share, 2)
    return {"case_id": case_id, "patient_id": patient, "hospital_id": hospital, "insurance_type": ins,
            "county": "C1", "admit_date": admit, "discharge_date": admit + timedelta(days=los), "los": los,
            "discharge_status": status, "dx": [pdx] + ([cc_dx] if cc_dx else []), "mdc": "MDC" + (adrg or drg)[0],
            "adrg": adrg or drg[:3], "drg": drg, "cc_level": cc_level, "cc_dx": cc_dx, "group_status": group_status,
            "case_class": "normal", "base_points": base_points, "mean_cost": mean_cost, "cost_ratio": cost_ratio,
            "points": base_points, "adjusted_points": base_points, "total_cost": total,
            "fund_paid": round(total - self_paid, 2), "self_paid": self_paid, "other_paid": 0.0}


SCHEMA = pa.schema([
    ("case_id", pa.string()), ("patient_id", pa.string()), ("hospital_id", pa.string()),
    ("insurance_type", pa.string()), ("county", pa.string()), ("admit_date", pa.date32()),
    ("discharge_date", pa.date32()), ("los", pa.int32()), ("discharge_status", pa.int8()),
    ("dx", pa.list_(pa.string())), ("mdc", pa.string()), ("adrg", pa.string()), ("drg", pa.string()),
    ("cc_level", pa.int8()), ("cc_dx", pa.string()), ("group_status", pa.string()), ("case_class", pa.string()),
    ("base_points", pa.float64()), ("mean_cost", pa.float64()), ("cost_ratio", pa.float64()),
    ("points", pa.float64()), ("adjusted_points", pa.float64()), ("total_cost", pa.float64()),
    ("fund_paid", pa.float64()), ("self_paid", pa.float64()), ("other_paid", pa.float64())])


def write_priced(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path)
    return path


def write_policy(path: Path, extra: str = "") -> Path:
    path.write_text(AUDIT_POLICY + extra, encoding="utf-8")
    return path
