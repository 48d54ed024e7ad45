"""The review queue: one row per flagged case and detector, with the detector's score and evidence and the
columns a reviewer fills.

=====================  ======================================================================================
column                 meaning
=====================  ======================================================================================
``queue_ref``          the row's reference, ``QUEUE_ID-NNNNN`` (carried into the violations table, the priced
                       file's ``violation_ref`` and the ledger, so a deduction traces back to its row)
``queue_id``           ``AQ-PERIOD-HASH``: the period and the first 8 hex digits of the sha256 of the inputs
                       (files, policy, parameters) — the same inputs give the same ids
``detector``           split_admission, low_standard, upcoding, duplicate_claim, cost_shift
``rank``               the row's rank within its detector (1 = the highest score)
``score``              0–1; rows scoring at least ``audit.min_score`` are queued
``strength``           the case's own evidence, 0–1 (score = strength, or ``unflagged_factor`` × strength)
``hospital_flagged``   whether the hospital-level test flagged the hospital (docs/audit.md)
``case_id`` …          the case: hospital, pool, discharge date, DRG, ADRG, case class, total cost (fen),
                       points and adjusted points as priced
``evidence``           the figures behind the finding, JSON
``evidence_text``      the same for people, in Chinese
``related_cases``      the other cases involved (the earlier stay, the other claim …)
``suggested_violation`` the violation type the detector suggests (``audit.<detector>.violation``)
``decision``           the reviewer's: ``violation`` (违规), ``no_violation`` (不违规) or empty (pending)
``violation``          the violation type decided (empty: the suggested one)
``serious``            whether it is serious (a deduction under SPEC §5.2); empty: no
``multiplier``         the deduction multiplier (empty: the policy's for the type)
``reviewer_note``      free text
=====================  ======================================================================================

Written as Parquet (money in fen, ``total_cost_fen`` with ``unit: fen`` in its field metadata) and as a
Chinese workbook (:func:`write_queue_workbook`): a summary sheet, one sheet per detector with the same rows
(money in yuan, numbers as numbers, text never a formula), the unit-level signals and the notes. Either file,
once the reviewers have filled it, is what ``drg audit apply`` reads (:func:`read_queue`).
"""

from __future__ import annotations

from pathlib import Path

from drg.audit.common import DETECTORS
from drg.errors import InputError

__all__ = ["DECISIONS", "QUEUE_COLUMNS", "REVIEW_COLUMNS", "SHEETS", "read_queue", "write_queue",
           "write_queue_workbook"]

#: The reviewer's columns.
REVIEW_COLUMNS = ("decision", "violation", "serious", "multiplier", "reviewer_note")

QUEUE_COLUMNS = ("queue_ref", "queue_id", "detector", "rank", "score", "strength", "hospital_flagged", "case_id",
                 "hospital_id", "pool", "discharge_date", "drg", "adrg", "case_class", "total_cost_fen", "points",
                 "adjusted_points", "evidence", "evidence_text", "related_cases", "suggested_violation",
                 *REVIEW_COLUMNS)

#: The workbook's sheet of each detector.
SHEETS = {"split_admission": "分解住院", "low_standard": "低标准入院", "upcoding": "高套分组",
          "duplicate_claim": "重复结算", "cost_shift": "转嫁费用"}

#: Accepted decision values (case-insensitive), in English and Chinese.
DECISIONS = {"violation": "violation", "违规": "violation", "confirmed": "violation", "yes": "violation",
             "是": "violation", "no_violation": "no_violation", "不违规": "no_violation", "dismissed": "no_violation",
             "no": "no_violation", "否": "no_violation", "pending": None, "待定": None, "": None}

#: Workbook columns: (key, Chinese header, kind).
_BOOK = [("queue_ref", "队列号", "text"), ("rank", "排序", "count"), ("score", "得分", "coef"),
         ("case_id", "结算清单号", "text"), ("hospital_id", "医院编码", "text"), ("pool", "统筹区", "text"),
         ("discharge_date", "出院日期", "date"), ("drg", "DRG", "text"), ("adrg", "ADRG", "text"),
         ("case_class", "病例类型", "text"), ("total_cost_fen", "医疗总费用(元)", "yuan"), ("points", "点数", "points"),
         ("hospital_flagged", "医院层面显著", "text"), ("evidence_text", "疑点证据", "text"),
         ("related_cases", "关联病例", "text"), ("suggested_violation", "建议违规类型", "text"),
         ("decision", "审核结论", "text"), ("violation", "违规类型", "text"), ("serious", "是否严重", "text"),
         ("multiplier", "扣减倍数", "coef"), ("reviewer_note", "审核备注", "text")]
_HEADER_KEY = {zh: key for key, zh, _ in _BOOK}

_DETECTOR_ZH = {"split_admission": "分解住院", "low_standard": "低标准入院", "upcoding": "高套分组",
                "duplicate_claim": "重复结算", "cost_shift": "转嫁费用(诱导自费)"}


def queue_schema():
    import pyarrow as pa

    fen = {b"unit": b"fen"}
    return pa.schema([
        ("queue_ref", pa.string()), ("queue_id", pa.string()), ("detector", pa.string()), ("rank", pa.int32()),
        ("score", pa.float64()), ("strength", pa.float64()), ("hospital_flagged", pa.bool_()),
        ("case_id", pa.string()), ("hospital_id", pa.string()), ("pool", pa.string()),
        ("discharge_date", pa.date32()), ("drg", pa.string()), ("adrg", pa.string()), ("case_class", pa.string()),
        pa.field("total_cost_fen", pa.int64(), metadata=fen), ("points", pa.float64()),
        ("adjusted_points", pa.float64()), ("evidence", pa.string()), ("evidence_text", pa.string()),
        ("related_cases", pa.list_(pa.string())), ("suggested_violation", pa.string()), ("decision", pa.string()),
        ("violation", pa.string()), ("serious", pa.bool_()), ("multiplier", pa.float64()),
        ("reviewer_note", pa.string())])


def write_queue(queue, path: str | Path, *, metadata: dict[str, str] | None = None) -> Path:
    """Write the queue (a polars frame of :data:`QUEUE_COLUMNS`) as Parquet, atomically."""
    import pyarrow.parquet as pq

    from drg.outputs import atomic_path

    schema = queue_schema()
    table = queue.select(QUEUE_COLUMNS).to_arrow().cast(schema)
    md = {f"drg.audit.{k}".encode(): str(v).encode() for k, v in (metadata or {}).items()}
    table = table.replace_schema_metadata(md)
    path = Path(path)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def _yes_no(v):
    return None if v is None else ("是" if v else "否")


def write_queue_workbook(queue, signals, path: str | Path, *, info: list[tuple[str, object]],
                         summary: dict) -> Path:
    """The queue as a Chinese workbook: 汇总 (the run and the count per detector), one sheet per detector,
    信号 (the unit-level signals), 说明 (the columns and the decision values)."""
    import polars as pl

    from drg.reports.workbook import Sheet, write_workbook

    sheets = []
    counts = [[_DETECTOR_ZH[d], d, int(queue.filter(pl.col("detector") == d).height),
               int(summary.get(d, {}).get("candidates", 0) or 0)] for d in DETECTORS]
    sheets.append(Sheet("汇总", [("检测规则", "text"), ("规则代码", "text"), ("入队病例", "count"), ("命中规则病例", "count")],
                        counts, title="智能监控审核队列", info=info,
                        notes=["入队病例：得分不低于 audit.min_score 的病例；命中规则病例：满足规则条件的全部病例。",
                               "每个规则一个工作表；审核人员填写“审核结论”等列后，用 drg audit apply 读回。"]))
    for det in DETECTORS:
        rows = []
        for r in queue.filter(pl.col("detector") == det).iter_rows(named=True):
            row = []
            for key, _zh, kind in _BOOK:
                v = r[key]
                if key == "total_cost_fen":
                    from decimal import Decimal
                    v = None if v is None else Decimal(int(v)) / 100
                elif key == "related_cases":
                    v = "、".join(v or [])
                elif key in ("hospital_flagged", "serious"):
                    v = _yes_no(v)
                row.append(v)
            rows.append(row)
        sheets.append(Sheet(SHEETS[det], [(zh, kind) for _k, zh, kind in _BOOK], rows))
    sig_cols = [("检测规则", "text"), ("层级", "text"), ("医院编码", "text"), ("单元", "text"), ("信号", "text"),
                ("观察值", "coef"), ("病例数", "count"), ("预期值", "coef"), ("观察/预期", "coef"), ("p 值", "coef"),
                ("校正后 p 值", "coef")]
    level_zh = {"hospital": "医院", "hospital_adrg": "医院 × ADRG", "hospital_code": "医院 × 次要诊断"}
    sig_rows = [[_DETECTOR_ZH.get(s["detector"], s["detector"]), level_zh.get(s["level"], s["level"]), s["hospital_id"],
                 s["unit"], s["what"], s["observed"], s["cases"], s["expected"], s["ratio"], s["p"], s["p_adj"]]
                for s in signals]
    sheets.append(Sheet("信号", sig_cols, sig_rows, title="医院层面与单元层面的统计信号",
                        notes=["p 值为单侧检验；校正后 p 值为 Benjamini–Hochberg 校正（控制错误发现率）。"]))
    notes = [[zh, key, _NOTES.get(key, "")] for key, zh, _k in _BOOK]
    notes += [["审核结论取值", "decision", "违规 / 不违规 / 待定（或 violation / no_violation / 空）"],
              ["是否严重取值", "serious", "是 / 否；严重违规按 SPEC §5.2 从医院总点数中扣减 倍数 × 基准点数"]]
    sheets.append(Sheet("说明", [("列", "text"), ("字段", "text"), ("含义", "text")], notes))
    return write_workbook(path, sheets)


_NOTES = {
    "queue_ref": "队列行号：写入违规表、计价结果(violation_ref)和结算账本，扣减可追溯到此行",
    "score": "0–1；不低于 audit.min_score 的病例入队",
    "hospital_flagged": "该医院命中规则的病例数显著高于按病种结构预期（Benjamini–Hochberg 校正）",
    "evidence_text": "规则命中的数字依据（完整数据见 Parquet 队列的 evidence 列）",
    "related_cases": "涉及的其他病例，如前次住院、另一笔结算",
    "suggested_violation": "规则建议的违规类型（政策 audit.*.violation）",
    "decision": "审核人员填写：违规、不违规或待定",
    "violation": "违规类型，空则取建议违规类型",
    "serious": "是否严重违规；空为否",
    "multiplier": "扣减倍数，空则取政策 violations.multipliers",
}


def read_queue(path: str | Path):
    """A review queue as filled in by the reviewers: the Parquet file, a CSV, or the workbook (its detector
    sheets). Returns a polars frame with ``queue_ref``, ``detector``, ``case_id``, ``suggested_violation`` and
    the reviewer's columns (text as written)."""
    import polars as pl

    path = Path(path)
    if not path.exists():
        raise InputError("queue file not found", file=str(path))
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            df = pl.read_parquet(path)
        elif suffix == ".csv":
            import io

            from drg.casefile.reader import detect_encoding

            data = path.read_bytes()
            df = pl.read_csv(io.StringIO(data.decode(detect_encoding(data)).lstrip("\ufeff")), infer_schema_length=0)
        elif suffix in (".xlsx", ".xls"):
            parts = []
            for det, name in SHEETS.items():
                try:
                    sheet = pl.read_excel(path, sheet_name=name, infer_schema_length=0)
                except Exception:  # noqa: BLE001 - a sheet removed by the reviewers: nothing decided there
                    continue
                sheet = sheet.rename({c: _HEADER_KEY[c] for c in sheet.columns if c in _HEADER_KEY})
                parts.append(sheet.with_columns(pl.lit(det).alias("detector"), pl.lit(name).alias("_sheet")))
            if not parts:
                raise InputError("the workbook has none of the queue's sheets", file=str(path))
            df = pl.concat([p.select([c for c in p.columns if c in _KEEP]) for p in parts], how="diagonal_relaxed")
        else:
            raise InputError(f"unknown queue file type {suffix!r} (Parquet, CSV or the queue's workbook)",
                             file=str(path))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read the queue: {exc}", file=str(path)) from None
    for c in ("queue_ref", "case_id", "decision"):
        if c not in df.columns:
            raise InputError(f"the queue has no column {c}", file=str(path), field=c)
    for c in ("detector", "suggested_violation", "violation", "serious", "multiplier", "reviewer_note"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(c))
    return df


_KEEP = {"queue_ref", "case_id", "detector", "suggested_violation", "decision", "violation", "serious", "multiplier",
         "reviewer_note", "_sheet"}
