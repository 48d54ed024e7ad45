"""The bad-input corpus of issue 16: more than a thousand case files, generated, deterministic.

:func:`corpus` returns ``(name, write)`` pairs; ``write(directory, base)`` writes one input there and returns
its path, from ``base`` (a few valid contract rows as a pyarrow table). Three families:

* Parquet — every contract column in other Arrow types (other widths, text, binary, decimals of every size,
  dates and timestamps, dictionaries, nested types, the null type), values at and beyond their edges,
  repeated and reserved column names, missing columns, row groups of one row, empty files, and files cut or
  damaged at many byte offsets;
* CSV — encodings (UTF-8 with and without a BOM, GBK/GB18030, UTF-16/32, Latin-1 junk, compressed data), line
  ends (LF, CRLF, lone CR, CR CR LF, mixed), blank lines, quotes (unclosed in each column, stray, escaped,
  around line ends), NULs, ragged lines, odd headers, and every column's cell in a dozen odd spellings;
* Excel — blank rows, a header below row 1, merged cells, formulas, real date cells, numbers and text in the
  wrong columns, empty and extra sheets, damaged workbooks.

The patient id :data:`SECRET` is in every input: no command may ever print it.
"""

from __future__ import annotations

import decimal
import gzip
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SECRET = "SECRET-PATIENT-0042"

CONTRACT_COLUMNS = ("case_id", "patient_id", "hospital_id", "sex", "age", "age_days", "birth_weight", "los",
                    "discharge_status", "dx", "px", "vent_hours", "admit_date", "discharge_date", "total_cost",
                    "fund_paid", "self_paid", "other_paid", "insurance_type", "county")

Writer = Callable[[Path, pa.Table], Path]


def base_rows(cases: pa.Table, n: int = 8) -> pa.Table:
    """``n`` valid rows of a synthetic city, patient ids replaced by :data:`SECRET`-marked ones."""
    t = cases.slice(0, n)
    i = t.column_names.index("patient_id")
    return t.set_column(i, "patient_id", pa.array([f"{SECRET}-{k}" for k in range(n)]))


def _set(t: pa.Table, name: str, arr) -> pa.Table:
    if name in t.column_names:
        return t.set_column(t.column_names.index(name), name, arr)
    return t.append_column(name, arr)


def _pq(name: str, make: Callable[[pa.Table], pa.Table], **write_kw) -> tuple[str, Writer]:
    def write(d: Path, base: pa.Table) -> Path:
        p = d / f"{name}.parquet"
        pq.write_table(make(base), p, **write_kw)
        return p
    return f"parquet/{name}", write


def _bytes(name: str, suffix: str, make: Callable[[pa.Table], bytes]) -> tuple[str, Writer]:
    def write(d: Path, base: pa.Table) -> Path:
        p = d / f"{name}{suffix}"
        p.write_bytes(make(base))
        return p
    return f"{suffix.strip('.')}/{name}", write


# --------------------------------------------------------------------------------------------------- Parquet
def _values_as(col: pa.ChunkedArray, t: pa.DataType) -> pa.Array:
    """The column's values in another type: a cast where Arrow has one, else through text (or nulls)."""
    try:
        return col.combine_chunks().cast(t, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    try:
        return col.combine_chunks().cast(pa.string()).cast(t, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return pa.nulls(len(col), t)


_ALT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint64(), pa.float32(), pa.float64(),
              pa.string(), pa.large_string(), pa.binary(), pa.bool_(), pa.date32(), pa.timestamp("ms"),
              pa.decimal128(12, 2), pa.decimal128(38, 6), pa.decimal256(50, 2), pa.null(),
              pa.dictionary(pa.int32(), pa.string()), pa.list_(pa.string()), pa.large_list(pa.string()),
              pa.struct([("v", pa.string())]), pa.time32("s"), pa.duration("s")]


def _typed_variants() -> list[tuple[str, Writer]]:
    out = []
    for c in CONTRACT_COLUMNS:
        for t in _ALT_TYPES:
            label = str(t).replace("<", "_").replace(">", "").replace(" ", "").replace(",", "_").replace(":", "")[:40]

            def make(base, c=c, t=t):
                if c not in base.column_names:
                    return base.append_column(c, pa.nulls(base.num_rows, t))
                col = base.column(c)
                if pa.types.is_list(t) or pa.types.is_large_list(t):
                    if pa.types.is_list(col.type):
                        return _set(base, c, col.cast(t))
                    return _set(base, c, pa.array([[None if v is None else str(v)] for v in col.to_pylist()], t))
                if pa.types.is_struct(t):
                    return _set(base, c, pa.array([{"v": str(v)} for v in col.to_pylist()], t))
                if pa.types.is_dictionary(t):
                    txt = [None if v is None else str(v) for v in col.to_pylist()]
                    return _set(base, c, pa.array(txt, pa.string()).dictionary_encode())
                if pa.types.is_list(col.type):
                    return _set(base, c, pa.array(["|".join(v or []) for v in col.to_pylist()]).cast(t, safe=False)
                                if t in (pa.string(), pa.large_string(), pa.binary()) else pa.nulls(len(col), t))
                return _set(base, c, _values_as(col, t))
            out.append(_pq(f"type_{c}_{label}", make))
    return out


_EDGE = {
    "int": [None, 0, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 15, 255, 9999, 99999],
    "float": [float("nan"), float("inf"), -float("inf"), -0.0, 1e20, -5.0, 1e-9, 12.345, 2 ** 63],
    "str": ["", " ", "\u3000", "x" * 5000, "a\x00b", "=1+1", "é\u200b", "\t", None],
    "date": [-(2 ** 31), 2 ** 31 - 1, 0, -25568, 47482, -719163, 2932897, None, 20000],
}


def _edge_variants() -> list[tuple[str, Writer]]:
    out = []
    kinds = {"sex": "int", "age": "int", "age_days": "int", "birth_weight": "int", "los": "int",
             "discharge_status": "int", "vent_hours": "int", "total_cost": "float", "fund_paid": "float",
             "self_paid": "float", "other_paid": "float", "case_id": "str", "patient_id": "str",
             "hospital_id": "str", "insurance_type": "str", "county": "str", "admit_date": "date",
             "discharge_date": "date"}
    for c, kind in kinds.items():
        for k, v in enumerate(_EDGE[kind]):
            def make(base, c=c, kind=kind, v=v):
                col = base.column(c) if c in base.column_names else pa.nulls(base.num_rows, pa.int32())
                values = col.to_pylist()
                values[1] = v
                if kind == "int":
                    return _set(base, c, pa.array(values, pa.int64()))
                if kind == "float":
                    return _set(base, c, pa.array([None if x is None else float(x) for x in values], pa.float64()))
                if kind == "date":
                    days = col.cast(pa.int32()).to_pylist()
                    days[1] = v
                    return _set(base, c, pa.array(days, pa.int32()).cast(pa.date32()))
                return _set(base, c, pa.array(values, pa.string()))
            out.append(_pq(f"edge_{c}_{k}", make))
    for k, codes in enumerate([[], [None], [""], ["  "], [None, "I10"], ["I10"] * 300, ["\x00"], ["=cmd|'/c calc'!A0"],
                               ["I10", None, ""], ["中文"], ["a" * 10000]]):
        def make(base, codes=codes):
            dx = base.column("dx").to_pylist()
            dx[2] = codes
            return _set(base, "dx", pa.array(dx, pa.list_(pa.string())))
        out.append(_pq(f"edge_dx_{k}", make))
    return out


def _decimal_variants() -> list[tuple[str, Writer]]:
    out = []
    specs = [(pa.decimal128(38, 2), "100000000000000000000.00"), (pa.decimal128(38, 2), "-1.00"),
             (pa.decimal128(10, 0), "5"), (pa.decimal128(18, 6), "12.345678"), (pa.decimal128(38, 10), "0.0000000001"),
             (pa.decimal256(76, 2), "9" * 60 + ".99"), (pa.decimal256(40, 3), "7.125"), (pa.decimal128(5, 2), "999.99"),
             (pa.decimal256(76, 38), "1." + "1" * 38), (pa.decimal128(38, 2), "1000000000.01")]
    for c in ("total_cost", "fund_paid", "self_paid", "other_paid"):
        for k, (t, v) in enumerate(specs):
            def make(base, c=c, t=t, v=v):
                n = base.num_rows
                vals = [decimal.Decimal(v) if i == 1 else decimal.Decimal("0") for i in range(n)]
                try:
                    arr = pa.array(vals, t)
                except (pa.ArrowInvalid, decimal.InvalidOperation):
                    arr = pa.nulls(n, t)
                return _set(base, c, arr)
            out.append(_pq(f"decimal_{c}_{k}", make))
    return out


def _name_variants() -> list[tuple[str, Writer]]:
    out = []
    for c in CONTRACT_COLUMNS + ("row_number", "total_cost_fen", "reject_reason", "reject_detail", "input_row_number"):
        def twice(base, c=c):
            col = base.column(c) if c in base.column_names else pa.array(["x"] * base.num_rows)
            return pa.Table.from_arrays(base.columns + [col], names=base.column_names + [c])
        out.append(_pq(f"twice_{c}", twice))
        if c in base_columns_required():
            out.append(_pq(f"missing_{c}", lambda base, c=c: base.drop_columns([c])))
    for name in ("row_number", "total_cost_fen", "fund_paid_fen", "reject_reason", "reject_detail", "", "__index_level_0__",
                 "病例号", "case_id ", "CASE_ID", "mdc", "drg", "group_note", "case_class", "adjusted_points"):
        out.append(_pq(f"extra_{abs(hash(name)) % 10 ** 6}_{len(name)}",
                       lambda base, name=name: base.append_column(name, pa.array(["=1+2"] * base.num_rows))))
    return out


def base_columns_required() -> tuple[str, ...]:
    return ("case_id", "sex", "age", "dx", "los", "total_cost")


def _structure_variants() -> list[tuple[str, Writer]]:
    out = [_pq("row_groups_of_one", lambda b: b, row_group_size=1),
           _pq("zero_rows", lambda b: b.slice(0, 0)),
           _pq("one_row", lambda b: b.slice(0, 1)),
           _pq("no_columns", lambda b: pa.table({})),
           _pq("only_case_id", lambda b: b.select(["case_id"])),
           _pq("dict_strings", lambda b: pa.Table.from_arrays(
               [c.dictionary_encode() if pa.types.is_string(c.type) else c for c in b.columns], names=b.column_names)),
           _pq("large_types", lambda b: pa.Table.from_arrays(
               [c.cast(pa.large_string()) if pa.types.is_string(c.type) else
                c.cast(pa.large_list(pa.large_string())) if pa.types.is_list(c.type) else c for c in b.columns],
               names=b.column_names)),
           _pq("all_null", lambda b: pa.Table.from_arrays([pa.nulls(b.num_rows, c.type) for c in b.columns],
                                                          names=b.column_names)),
           _pq("duplicate_ids", lambda b: _set(b, "case_id", pa.array(["SAME"] * b.num_rows))),
           _pq("ids_with_blanks", lambda b: _set(b, "case_id", pa.array([f" ID{k % 3} " if k % 2 else f"ID{k % 3}"
                                                                          for k in range(b.num_rows)]))),
           _pq("compressed_zstd", lambda b: b, compression="zstd"),
           _pq("no_dictionary", lambda b: b, use_dictionary=False)]
    for k, tz in enumerate([None, "UTC", "Asia/Shanghai"]):
        for unit in ("s", "ms", "us", "ns"):
            out.append(_pq(f"timestamp_{unit}_{k}", lambda b, unit=unit, tz=tz: _set(
                b, "discharge_date", b.column("discharge_date").cast(pa.timestamp(unit, tz=tz)))))
    out.append(_pq("date64", lambda b: _set(b, "admit_date", b.column("admit_date").cast(pa.date64()))))
    for k, text in enumerate(["2025/03/01", "20250301", "2025-3-1", "2025-02-30", "01/03/2025", "2025-03-01T08:00",
                              "  2025-03-01 ", "二〇二五年", "", "0000-00-00"]):
        out.append(_pq(f"date_text_{k}", lambda b, text=text: _set(b, "admit_date", pa.array([text] * b.num_rows))))
    return out


def _damaged_variants() -> list[tuple[str, Writer]]:
    out = []

    def good_bytes(base: pa.Table) -> bytes:
        sink = io.BytesIO()
        pq.write_table(base, sink, row_group_size=3)
        return sink.getvalue()

    for frac in np.linspace(0.05, 0.98, 14):
        out.append(_bytes(f"cut_{int(frac * 100)}", ".parquet", lambda b, f=frac: good_bytes(b)[:int(len(good_bytes(b)) * f)]))
    for k in range(16):
        def flip(b, k=k):
            data = bytearray(good_bytes(b))
            rng = np.random.default_rng(k)
            for i in rng.integers(4, len(data) - 8, 1 + k % 4):
                data[i] ^= 0xFF
            return bytes(data)
        out.append(_bytes(f"flip_{k}", ".parquet", flip))
    out.append(_bytes("empty_file", ".parquet", lambda b: b""))
    out.append(_bytes("magic_only", ".parquet", lambda b: b"PAR1PAR1"))
    out.append(_bytes("csv_named_parquet", ".parquet", lambda b: b"case_id,sex\n1,1\n"))
    return out


# --------------------------------------------------------------------------------------------------- CSV
def csv_text(base: pa.Table) -> str:
    import polars as pl

    df = pl.from_arrow(base)
    df = df.with_columns([pl.col(c).list.join("|") for c, t in df.schema.items() if isinstance(t, pl.List)])
    return df.write_csv()


def _lines(base: pa.Table) -> list[str]:
    return csv_text(base).rstrip("\n").split("\n")


def _csv(name: str, make: Callable[[pa.Table], str | bytes], encoding: str = "utf-8") -> tuple[str, Writer]:
    def write(d: Path, base: pa.Table) -> Path:
        p = d / f"{name}.csv"
        data = make(base)
        p.write_bytes(data if isinstance(data, bytes) else data.encode(encoding, "replace"))
        return p
    return f"csv/{name}", write


def _csv_variants() -> list[tuple[str, Writer]]:
    out = []
    for enc in ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "latin-1",
                "cp1252", "big5", "shift_jis"):
        out.append(_csv(f"enc_{enc}", lambda b: csv_text(b).replace("H0", "医院H0"), encoding=enc))
    out.append(_csv("gzip", lambda b: gzip.compress(csv_text(b).encode())))
    out.append(_csv("zip", lambda b: _zip_bytes(csv_text(b))))
    out.append(_csv("empty", lambda b: b""))
    out.append(_csv("header_only", lambda b: _lines(b)[0] + "\n"))
    out.append(_csv("header_only_no_newline", lambda b: _lines(b)[0]))
    out.append(_csv("random_bytes", lambda b: bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8))))
    out.append(_csv("invalid_utf8_in_cell", lambda b: csv_text(b).encode().replace(b"H0", b"H\xff\xfe0", 1)))
    for k, eol in enumerate(["\n", "\r\n", "\r", "\r\r\n", "\n\r"]):
        out.append(_csv(f"eol_{k}", lambda b, eol=eol: eol.join(_lines(b)) + eol))
        out.append(_csv(f"eol_{k}_noend", lambda b, eol=eol: eol.join(_lines(b))))
    out.append(_csv("eol_mixed", lambda b: "".join(line + ["\n", "\r\n", "\r"][i % 3] for i, line in enumerate(_lines(b)))))
    blanks = {"leading": lambda L: ["", "  ", *L], "middle": lambda L: [L[0], L[1], "", L[2], "   ", *L[3:]],
              "trailing": lambda L: [*L, "", "", " "], "commas": lambda L: [L[0], ",,,,", *L[1:], ",,,"],
              "every_other": lambda L: [x for line in L for x in (line, "")],
              "tabs": lambda L: [L[0], "\t\t", *L[1:]], "many": lambda L: [*L[:2], *[""] * 50, *L[2:]]}
    for k, f in blanks.items():
        out.append(_csv(f"blank_{k}", lambda b, f=f: "\n".join(f(_lines(b))) + "\n"))
    header = _header_names()
    for j in range(len(header)):
        out.append(_csv(f"quote_open_{j}", lambda b, j=j: _with_cell(b, 2, j, lambda v: '"' + v)))
        out.append(_csv(f"quote_stray_{j}", lambda b, j=j: _with_cell(b, 1, j, lambda v: v[:1] + '"' + v[1:])))
        out.append(_csv(f"quote_after_{j}", lambda b, j=j: _with_cell(b, 1, j, lambda v: f'"{v}"x')))
    for k, cell in enumerate(['"a""b"', '"line\nbreak"', '"semi;colon,comma"', '""', '"\r\n"', '"x"', '"', '""""']):
        out.append(_csv(f"quoted_{k}", lambda b, cell=cell: _with_cell(b, 1, 2, lambda v: cell)))
    out.append(_csv("quote_at_end", lambda b: csv_text(b) + '"'))
    for k, where in enumerate([0, 1, 5, -1]):
        out.append(_csv(f"nul_{k}", lambda b, where=where: _with_cell(b, 1, where if where >= 0 else 2, lambda v: v + "\x00")))
    out.append(_csv("bom_twice", lambda b: ("\ufeff\ufeff" + csv_text(b)).encode()))
    out.append(_csv("bom_in_middle", lambda b: csv_text(b).replace("\n", "\n\ufeff", 2)))
    out.append(_csv("ragged_more", lambda b: "\n".join(line + (",extra,more" if i == 2 else "")
                                                       for i, line in enumerate(_lines(b))) + "\n"))
    out.append(_csv("ragged_more_empty", lambda b: "\n".join(line + (",," if i == 2 else "")
                                                             for i, line in enumerate(_lines(b))) + "\n"))
    out.append(_csv("ragged_fewer", lambda b: "\n".join(line.rsplit(",", 3)[0] if i == 2 else line
                                                        for i, line in enumerate(_lines(b))) + "\n"))
    out.append(_csv("one_field", lambda b: "\n".join([_lines(b)[0], "X1", *_lines(b)[1:]]) + "\n"))
    for k, f in enumerate([lambda h: h + ["case_id"], lambda h: h + ["age"], lambda h: h[:1] + [""] + h[1:],
                           lambda h: [x.upper() for x in h], lambda h: [f" {x} " for x in h],
                           lambda h: h + ["row_number"], lambda h: h + ["total_cost_fen"], lambda h: h + ["reject_reason"],
                           lambda h: [x for x in h if x != "dx"], lambda h: [x for x in h if x != "case_id"],
                           lambda h: h + [""], lambda h: h + ["=cmd"], lambda h: ["\ufeff" + h[0]] + h[1:]]):
        def make(b, f=f):
            lines = _lines(b)
            h = f(lines[0].split(","))
            width = len(h)
            body = [(line + "," * max(0, width - len(line.split(",")))) for line in lines[1:]]
            return "\n".join([",".join(h), *body]) + "\n"
        out.append(_csv(f"header_{k}", make))
    spellings = ["", " ", "abc", "1e309", "-0", "NaN", "inf", "1,000.50", "１２", "x" * 3000, "=1+1", "@SUM(A1)",
                 "2025/3/1", "20250301", "2025-13-40", "+5", "0x10", "--1", "1.5", "99999999999999999999"]
    for j, name in enumerate(header):
        for k, v in enumerate(spellings):
            out.append(_csv(f"cell_{name}_{k}", lambda b, j=j, v=v: _with_cell(b, 1, j, lambda _: _quote(v))))
    for k, dx in enumerate([" | ; ", "", ",J18.900", "I10|||", "；；I10，J18", "I10 J18", '"I10,J18"', "|", "I10\tJ18",
                            "i10.x00", " I10.x00 ", "I10.x00|I10.x00", "A" * 300, "=1+1|I10", "中|文"]):
        out.append(_csv(f"dx_{k}", lambda b, dx=dx: _with_cell(b, 1, header.index("dx"), lambda _: _quote(dx))))
    return out


def _quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if any(ch in v for ch in ',"\n\r') else v


_HEADER: list[str] | None = None


def _header_names() -> list[str]:
    return ["case_id", "patient_id", "hospital_id", "sex", "age", "age_days", "birth_weight", "los",
            "discharge_status", "dx", "px", "vent_hours", "admit_date", "discharge_date", "total_cost", "fund_paid",
            "self_paid", "other_paid", "insurance_type", "county"]


def _with_cell(base: pa.Table, row: int, col: int, change: Callable[[str], str]) -> str:
    """The base rows as CSV (contract column order) with one cell changed as text."""
    import csv

    names = _header_names()
    t = base.select([c for c in names if c in base.column_names])
    rows = list(csv.reader(io.StringIO(csv_text(t))))
    cells = rows[row]
    col = min(col, len(cells) - 1)
    cells[col] = change(cells[col])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows[:row]:
        w.writerow(r)
    lines = buf.getvalue()
    lines += ",".join(cells) + "\n"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows[row + 1:]:
        w.writerow(r)
    return lines + buf.getvalue()


def _zip_bytes(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("cases.csv", text)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------- Excel
def _xlsx(name: str, fill: Callable) -> tuple[str, Writer]:
    def write(d: Path, base: pa.Table) -> Path:
        import xlsxwriter

        p = d / f"{name}.xlsx"
        with xlsxwriter.Workbook(str(p), {"strings_to_numbers": False}) as wb:
            fill(wb, base)
        return p
    return f"xlsx/{name}", write


def _rows(base: pa.Table) -> tuple[list[str], list[list]]:
    import csv

    names = _header_names()
    t = base.select([c for c in names if c in base.column_names])
    rows = list(csv.reader(io.StringIO(csv_text(t))))
    return rows[0], rows[1:]


def _excel_variants() -> list[tuple[str, Writer]]:
    out = []

    def plain(top=0, left=0, blank_every=0, sheet_first_empty=False):
        def fill(wb, base):
            if sheet_first_empty:
                wb.add_worksheet("empty")
            ws = wb.add_worksheet("cases")
            head, rows = _rows(base)
            r = top
            ws.write_row(r, left, head)
            for k, row in enumerate(rows):
                r += 1 + (1 if blank_every and k % blank_every == 0 else 0)
                ws.write_row(r, left, row)
        return fill

    for top in range(4):
        for left in (0, 2):
            out.append(_xlsx(f"offset_{top}_{left}", plain(top, left)))
    for every in (1, 2, 3):
        out.append(_xlsx(f"blank_rows_{every}", plain(blank_every=every)))
    out.append(_xlsx("first_sheet_empty", plain(sheet_first_empty=True)))
    out.append(_xlsx("no_sheets_content", lambda wb, b: wb.add_worksheet("x")))
    out.append(_xlsx("header_only", lambda wb, b: wb.add_worksheet().write_row(0, 0, _rows(b)[0])))

    def merged(wb, base):
        ws = wb.add_worksheet()
        head, rows = _rows(base)
        ws.write_row(0, 0, head)
        for k, row in enumerate(rows, start=1):
            ws.write_row(k, 0, row)
        ws.merge_range(2, 0, 3, 2, "merged")
    out.append(_xlsx("merged", merged))

    def formula(text, col=0):
        def fill(wb, base):
            ws = wb.add_worksheet()
            head, rows = _rows(base)
            ws.write_row(0, 0, head)
            for k, row in enumerate(rows, start=1):
                ws.write_row(k, 0, row)
            ws.write_formula(1, col, text)
        return fill
    for k, f in enumerate(["=1+1", '=HYPERLINK("http://evil.example/","open")', "=1/0", "=NA()", '="I10"&".x00"',
                           "=TODAY()", "=A3"]):
        out.append(_xlsx(f"formula_{k}", formula(f)))
        out.append(_xlsx(f"formula_dx_{k}", formula(f, 9)))
        out.append(_xlsx(f"formula_cost_{k}", formula(f, 14)))

    def dates(kind):
        def fill(wb, base):
            import datetime

            ws = wb.add_worksheet()
            head, rows = _rows(base)
            ws.write_row(0, 0, head)
            fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
            for k, row in enumerate(rows, start=1):
                ws.write_row(k, 0, row)
                for j in (12, 13):
                    v = row[j]
                    if kind == "date" and v:
                        ws.write_datetime(k, j, datetime.datetime.fromisoformat(v), fmt)
                    elif kind == "serial" and v:
                        ws.write_number(k, j, 45000 + k)
                    elif kind == "datetime" and v:
                        ws.write_datetime(k, j, datetime.datetime.fromisoformat(v + "T13:45:00"))
                    elif kind == "early":
                        ws.write_number(k, j, 1)
        return fill
    for kind in ("date", "serial", "datetime", "early"):
        out.append(_xlsx(f"dates_{kind}", dates(kind)))

    def cell(j, value):
        def fill(wb, base):
            ws = wb.add_worksheet()
            head, rows = _rows(base)
            ws.write_row(0, 0, head)
            for k, row in enumerate(rows, start=1):
                ws.write_row(k, 0, row)
            if isinstance(value, bool):
                ws.write_boolean(1, j, value)
            elif isinstance(value, float):
                ws.write_number(1, j, value)
            elif value is None:
                ws.write_blank(1, j, None)
            else:
                ws.write_string(1, j, value)
        return fill
    for j, name in enumerate(_header_names()):
        for k, v in enumerate([True, 1.5, -3.0, 1e20, None, "abc", " ", "=1+1"]):
            out.append(_xlsx(f"cell_{name}_{k}", cell(j, v)))

    def raw(make):
        return make
    out.append(_bytes("xlsx_truncated", ".xlsx", lambda b: _xlsx_bytes(b)[:300]))
    out.append(_bytes("xlsx_empty", ".xlsx", lambda b: b""))
    out.append(_bytes("xlsx_zip_without_workbook", ".xlsx", lambda b: _zip_bytes("x")))
    out.append(_bytes("xlsx_is_csv", ".xlsx", lambda b: csv_text(b).encode()))
    for k in range(6):
        def flip(b, k=k):
            data = bytearray(_xlsx_bytes(b))
            rng = np.random.default_rng(100 + k)
            for i in rng.integers(40, len(data) - 40, 3):
                data[i] ^= 0x5A
            return bytes(data)
        out.append(_bytes(f"xlsx_flip_{k}", ".xlsx", flip))
    return out


def _xlsx_bytes(base: pa.Table) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf, {"in_memory": True}) as wb:
        ws = wb.add_worksheet()
        head, rows = _rows(base)
        ws.write_row(0, 0, head)
        for k, row in enumerate(rows, start=1):
            ws.write_row(k, 0, row)
    return buf.getvalue()


def corpus() -> list[tuple[str, Writer]]:
    """Every input of the corpus, in a fixed order."""
    items = (_typed_variants() + _edge_variants() + _decimal_variants() + _name_variants() + _structure_variants()
             + _damaged_variants() + _csv_variants() + _excel_variants())
    seen = set()
    out = []
    for name, w in items:
        while name in seen:
            name += "_"
        seen.add(name)
        out.append((name, w))
    return out


def sample(step: int = 41) -> list[tuple[str, Writer]]:
    """A fixed sample of the corpus for the default test run: every ``step``-th input, and each family's first."""
    items = corpus()
    picked = {i for i in range(0, len(items), step)}
    for family in ("parquet/", "csv/", "xlsx/"):
        picked.add(next(i for i, (n, _) in enumerate(items) if n.startswith(family)))
    return [items[i] for i in sorted(picked)]
