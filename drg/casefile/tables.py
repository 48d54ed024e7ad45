"""The contract's other input tables (CONTRACT.md, Other inputs): hospitals, budget, county income, special
reviews and violations. Each reader names the file, row and field of a bad value; money in yuan becomes exact
fen by :func:`drg.money.yuan_to_fen`.

The hospitals table has one reader, :func:`read_hospitals` (``{hospital_id: name, tier, county, row}``);
:func:`hospital_tiers` is its ``hospital_id, tier`` view for the coefficients, every tier checked against the
policy's tiers.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from drg.errors import InputError
from drg.money import yuan_to_fen

__all__ = ["hospital_tiers", "read_budget", "read_county_income", "read_hospitals", "read_reviews", "read_table",
           "read_violations"]


def read_table(path: str | Path, required: tuple[str, ...], role: str):
    """Read a small input table (Parquet, CSV or Excel) with polars; missing columns are an InputError."""
    import polars as pl

    path = Path(path)
    if not path.exists():
        raise InputError(f"{role} file not found", file=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pl.read_parquet(path)
        elif suffix == ".csv":  # all strings: exact decimals, codes keep zeros; UTF-8 or GBK detected
            import io

            from drg.casefile.reader import detect_encoding

            data = path.read_bytes()
            text = data.decode(detect_encoding(data)).lstrip("\ufeff")
            df = pl.read_csv(io.StringIO(text), infer_schema_length=0)
        elif suffix in (".xlsx", ".xls"):
            df = pl.read_excel(path, infer_schema_length=0)
        else:
            raise InputError(f"{role}: unknown file type {suffix!r} (Parquet, CSV or Excel)", file=str(path))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - a reader's own message, with the file named
        raise InputError(f"cannot read {role}: {exc}", file=str(path)) from None
    for c in required:
        if c not in df.columns:
            raise InputError(f"{role}: missing column {c}", file=str(path), field=c)
    return df


def _table_rows(path: str | Path, required: tuple[str, ...], role: str) -> list[dict]:
    """The rows of a small input table as dicts, as :func:`read_table` reads them; a Parquet file read by
    pyarrow (the same Python values: strings, integers, dates), so that a command reading no other table with
    polars does not import it (50 ms at every start)."""
    path = Path(path)
    if path.suffix.lower() != ".parquet" or not path.exists():
        return list(read_table(path, required, role).iter_rows(named=True))
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - the reader's own message, with the file named
        raise InputError(f"cannot read {role}: {exc}", file=str(path)) from None
    for c in required:
        if c not in table.column_names:
            raise InputError(f"{role}: missing column {c}", file=str(path), field=c)
    return table.to_pylist()


def _fen_column(df, col: str, file: str) -> list[int]:
    out = []
    for i, v in enumerate(df[col].to_list(), start=1):
        if v is None or (isinstance(v, str) and not v.strip()):
            raise InputError("empty amount", file=file, row=i, field=col)
        try:
            out.append(yuan_to_fen(v.strip() if isinstance(v, str) else v))
        except Exception:  # noqa: BLE001
            raise InputError(f"not an amount: {v!r}", file=file, row=i, field=col) from None
    return out


def _int_column(df, col: str, file: str) -> list[int]:
    out = []
    for i, v in enumerate(df[col].to_list(), start=1):
        try:
            out.append(int(str(v).strip()))
        except Exception:  # noqa: BLE001
            raise InputError(f"not a whole number: {v!r}", file=file, row=i, field=col) from None
    return out


def read_budget(path: str | Path) -> dict[tuple[int, str], int]:
    """``budget`` table → ``{(year, insurance_type): fund_budget_fen}``; a repeated key is an error."""
    file = str(path)
    df = read_table(path, ("year", "insurance_type", "fund_budget"), "budget")
    years = _int_column(df, "year", file)
    types = [str(v).strip() for v in df["insurance_type"].to_list()]
    fen = _fen_column(df, "fund_budget", file)
    out: dict[tuple[int, str], int] = {}
    for i, key in enumerate(zip(years, types), start=1):
        if key in out:
            raise InputError(f"budget for year {key[0]} insurance type {key[1]} given twice", file=file, row=i)
        out[key] = fen[i - 1]
    return out


def read_county_income(path: str | Path) -> dict[tuple[int, str, str], tuple[int, int]]:
    """``county_income`` table → ``{(year, insurance_type, county): (income_fen, other_spending_fen)}``."""
    file = str(path)
    df = read_table(path, ("year", "insurance_type", "county", "income", "other_spending"), "county_income")
    years = _int_column(df, "year", file)
    types = [str(v).strip() for v in df["insurance_type"].to_list()]
    counties = [str(v).strip() for v in df["county"].to_list()]
    inc = _fen_column(df, "income", file)
    oth = _fen_column(df, "other_spending", file)
    out: dict[tuple[int, str, str], tuple[int, int]] = {}
    for i, key in enumerate(zip(years, types, counties), start=1):
        if key in out:
            raise InputError(f"county {key[2]} of year {key[0]} insurance type {key[1]} given twice",
                             file=file, row=i)
        out[key] = (inc[i - 1], oth[i - 1])
    return out


def read_hospitals(path: str | Path, required: tuple[str, ...] = ("hospital_id",)) -> dict[str, dict]:
    """``hospitals`` table → ``{hospital_id: {"name", "tier", "county", "row"}}`` in file order.

    The one reader of the hospitals table (Parquet, CSV in UTF-8 or GBK, Excel): a missing or repeated
    ``hospital_id`` is an error naming the row; ``required`` names columns that must exist and be filled.
    """
    file = str(path)
    out: dict[str, dict] = {}
    for i, row in enumerate(_table_rows(path, tuple(dict.fromkeys(("hospital_id", *required))), "hospitals"),
                            start=1):
        raw = row["hospital_id"]
        hid = "" if raw is None else str(raw).strip()
        if not hid:
            raise InputError("hospital_id is missing", file=file, row=i, field="hospital_id")
        if hid in out:
            raise InputError(f"hospital {hid} listed twice", file=file, row=i, field="hospital_id")
        for c in required:
            if row.get(c) is None or str(row[c]).strip() == "":
                raise InputError(f"{c} is missing", file=file, row=i, field=c)
        out[hid] = {"name": row.get("name") or "", "tier": str(row.get("tier") or "").strip(),
                    "county": row.get("county") or "", "row": i}
    return out


def hospital_tiers(path: str | Path, tiers: tuple[str, ...]) -> pa.Table:
    """``hospital_id, tier`` of the hospitals table (:func:`read_hospitals`), every tier one of ``tiers`` (the
    policy's ``coef.tiers``)."""
    rows = read_hospitals(path, required=("hospital_id", "tier"))
    for info in rows.values():
        if info["tier"] not in tiers:
            raise InputError(f"tier {info['tier']!r} is not one of the policy's coef.tiers "
                             f"{', '.join(tiers)}", file=str(path), row=info["row"], field="tier")
    return pa.table({"hospital_id": pa.array(list(rows), pa.string()),
                     "tier": pa.array([info["tier"] for info in rows.values()], pa.string())})


def _read_table(path: str | Path) -> pa.Table:
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(
            column_types={"case_id": pa.string(), "violation": pa.string(), "note": pa.string()}))
    from drg.casefile.parquet import read_parquet

    return read_parquet(path)


def read_reviews(path: str | Path) -> pa.Table:
    """Special-review table (特病单议): ``case_id, points, note`` (Parquet or CSV)."""
    t = _read_table(path)
    for c in ("case_id", "points"):
        if c not in t.column_names:
            raise InputError(f"missing column {c}", file=str(path), field=c)
    return t


def read_violations(path: str | Path) -> pa.Table:
    """Adjudicated violations: ``case_id, violation, serious`` and optional ``multiplier``."""
    t = _read_table(path)
    for c in ("case_id", "violation", "serious"):
        if c not in t.column_names:
            raise InputError(f"missing column {c}", file=str(path), field=c)
    return t
