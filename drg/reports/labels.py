"""The words and number formats people read: Chinese labels (English on request) for columns, case classes,
sex, insurance types and pools, and money in yuan — one place for every statement, summary, workbook and
CLI table.

Standard library only: the one-case estimate imports it.

* :func:`label` — a column's header, with its unit: ``label("fund_payment")`` → ``"基金支付(元)"``,
  ``label("fund_payment", "en")`` → ``"fund payment (yuan)"``.
* :func:`describe` — what the column means (the 说明 sheets).
* :data:`CLASS_LABELS`, :data:`SEX_LABELS`, :data:`INSURANCE_LABELS` and their functions.
* :func:`yuan` — integer fen → exact yuan :class:`~decimal.Decimal` (two places); :func:`yuan_text` the same
  as text with thousands separators.
* :data:`FORMATS` — the Excel number format of each kind of value (money ``#,##0.00``, points
  ``#,##0.0000``, a share ``0.0%``, a count ``#,##0``).
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["CLASS_LABELS", "COEF_SOURCE_LABELS", "COLUMNS", "REJECT_LABELS", "FORMATS", "INSURANCE_LABELS", "KIND_LABELS", "SEX_LABELS", "WARNING_LABELS", "Column",
           "class_label", "coef_source_label", "console", "describe", "reject_label", "insurance_label", "kind_of", "label", "pool_label", "sex_label", "warning_label", "yuan",
           "yuan_text"]

#: Excel number formats by kind of value.
FORMATS = {
    "yuan": "#,##0.00",        # money in yuan, two decimals
    "points": "#,##0.0000",    # points (4 decimals, SPEC §0.1)
    "pv": "#,##0.0000",        # point value, yuan per point
    "coef": "0.0000",          # coefficients, cost ratios, CMI
    "pct": "0.0%",             # a share stored as a fraction (0.14 shows as 14.0%)
    "count": "#,##0",          # whole numbers
    "int": "0",                # codes stored as numbers (sex, years)
    "text": "@",
    "date": "yyyy-mm-dd",
}


class Column:
    """A column people read: its Chinese and English header (unit included), its kind (the number format),
    and what it means in both languages."""

    __slots__ = ("key", "zh", "en", "kind", "zh_note", "en_note")

    def __init__(self, key: str, zh: str, en: str, kind: str = "text", zh_note: str = "", en_note: str = "") -> None:
        self.key, self.zh, self.en, self.kind, self.zh_note, self.en_note = key, zh, en, kind, zh_note, en_note

    def header(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh

    def note(self, lang: str = "zh") -> str:
        return (self.en_note or self.zh_note) if lang == "en" else (self.zh_note or self.en_note)


def _c(key, zh, en, kind="text", zh_note="", en_note=""):
    return key, Column(key, zh, en, kind, zh_note, en_note)


#: Every column people read, by its key in the machine tables. Money headers say 元 / yuan.
COLUMNS: dict[str, Column] = dict([
    # who and when
    _c("kind", "运行类型", "run", "text", "月度预付或年度清算", "monthly prepayment or annual settlement"),
    _c("period", "期间", "period", "text", "月份 YYYY-MM 或年度 YYYY", "a month YYYY-MM or a year YYYY"),
    _c("pool", "统筹区", "pool", "text", "职工(310)或居民(390)基金；点值按统筹区计算",
       "the fund of one insurance type (310 employee, 390 resident); each has its own point value"),
    _c("hospital_id", "医院编码", "hospital id", "text", "定点医疗机构编码", "the designated hospital's code"),
    _c("name", "医院名称", "hospital name"),
    _c("county", "区县", "county", "text", "参保人所属区县", "the insured person's county"),
    _c("run_id", "账本运行号", "ledger run id", "text", "结算账本中该次运行的编号，据此可追溯每个数字",
       "the run's id in the settlement ledger: every figure traces to it"),
    # counts and points
    _c("cases", "病例数", "cases", "count", "按出院日期计入本期的病例", "cases discharged in the period"),
    _c("points", "总点数", "points", "points", "扣减后的医院总点数", "the hospital's points after deductions"),
    _c("undeducted_points", "未能扣减点数", "deductions not taken (points)", "points",
       "总点数不低于 0，扣不下的点数在此列出", "points are floored at 0; what could not be deducted"),
    _c("adjusted_points", "调整后点数", "adjusted points", "points", "分解住院减半、违规扣减之后",
       "after readmission halving and violations"),
    _c("total_points", "总点数", "total points", "points"),
    _c("point_value", "点值(元/点)", "point value (yuan per point)", "pv",
       "每点的金额，四舍五入到 4 位小数显示；计算用精确值", "yuan per point shown to 4 decimals; amounts use the exact value"),
    _c("point_value_yuan", "点值(元/点)", "point value (yuan per point)", "pv"),
    _c("cmi", "CMI", "CMI", "coef", "病例组合指数：入组病例基准点数/100 的平均",
       "case-mix index: mean base points / 100 of the grouped cases"),
    _c("outlier_share", "高低倍率病例占比", "outlier share", "pct"),
    # money (fen in the machine tables, yuan here)
    _c("budget", "基金预算(元)", "fund budget (yuan)", "yuan", "统筹区 DRG 基金年度预算", "the pool's DRG fund budget of the year"),
    _c("reserve", "调剂金(元)", "reserve (yuan)", "yuan", "预算中提留的调剂金", "the share of the budget held back"),
    _c("self_pay", "个人负担(元)", "self-pay (yuan)", "yuan", "基本医疗保险基金以外支付的部分(自付、自费及其他)",
       "everything the basic fund did not pay (patient and other payers)"),
    _c("distributable", "可分配总额(元)", "distributable (yuan)", "yuan", "预算 − 调剂金 + 个人负担",
       "budget − reserve + self-pay"),
    _c("entitlement", "应得金额(元)", "entitlement (yuan)", "yuan", "总点数 × 点值，按最大余数法精确到分",
       "points × point value, shared to the fen by the largest-remainder method"),
    _c("self_paid", "个人负担(元)", "self-paid (yuan)", "yuan", "患者及其他支付方负担的部分",
       "what the patients and other payers paid"),
    _c("fund_payment", "基金支付(元)", "fund payment (yuan)", "yuan", "应得金额 − 个人负担；负数为追回",
       "entitlement − self-paid; negative is a recovery"),
    _c("fund_payments", "基金支付(元)", "fund payments (yuan)", "yuan"),
    _c("prepaid", "已预付(元)", "prepaid (yuan)", "yuan", "月度预付之和", "the monthly prepayments"),
    _c("balance", "清算余额(元)", "balance (yuan)", "yuan", "基金支付 − 已预付；负数为追回",
       "fund payment − prepaid; negative is a recovery"),
    _c("reserve_share", "调剂金分担(元)", "reserve share (yuan)", "yuan", "调剂金分担的超支，不含在基金支付内",
       "the loss the reserve shares; not part of the fund payment"),
    _c("total_cost", "医疗总费用(元)", "total cost (yuan)", "yuan", "住院医疗费用总额(统筹基金、个人及其他支付之和)", "the stay's total cost (fund, patient and other payers)"),
    _c("loss", "超支(元)", "loss (yuan)", "yuan", "医疗总费用高于应得金额的部分", "total cost above the entitlement"),
    _c("reserve_to_hospitals", "调剂金分担医院(元)", "reserve to hospitals (yuan)", "yuan"),
    _c("reserve_to_counties", "调剂金分担区县(元)", "reserve to counties (yuan)", "yuan"),
    _c("reserve_left", "调剂金结余(元)", "reserve left (yuan)", "yuan"),
    _c("share", "区县分配额(元)", "county share (yuan)", "yuan"),
    _c("q_points", "区县点数", "county points", "points"),
    _c("income", "基金收入(元)", "fund income (yuan)", "yuan"),
    _c("drg_spending", "DRG 基金支出(元)", "DRG spending (yuan)", "yuan", "区县分配额 − 个人负担",
       "county share − self-paid"),
    _c("other_spending", "其他支出(元)", "other spending (yuan)", "yuan"),
    _c("gap_claim", "市级应分担(元)", "city's claim (yuan)", "yuan"),
    _c("city_share", "市级分担(元)", "city share (yuan)", "yuan", "由调剂金承担的缺口", "the gap paid from the reserve"),
    _c("county_share", "区县分担(元)", "county share of the gap (yuan)", "yuan"),
    _c("county_balance", "当期结余(元)", "balance (yuan)", "yuan", "基金收入 − DRG 基金支出 − 其他支出",
       "income − DRG spending − other spending"),
    # case level (statements' outliers, the estimate)
    _c("row_number", "行号", "row", "count", "原文件中的行号", "the row in the file as read"),
    _c("case_id", "结算清单号", "case id", "text", "医保结算清单的编号", "the settlement list's id"),
    _c("patient_id", "参保人编号", "patient id", "text", "参保人的医保编号", "the insured person's id"),
    _c("insurance_type", "险种", "insurance type", "text", "职工(310)或居民(390)：决定适用哪个统筹区的点值", "employee (310) or resident (390): whose point value applies"),
    _c("sex", "性别", "sex", "text", "男、女(代码 1、2)", "male, female (codes 1, 2)"),
    _c("age", "年龄", "age", "int", "周岁", "whole years"),
    _c("los", "住院天数", "length of stay (days)", "count", "天", "days"),
    _c("dx", "诊断编码", "diagnoses", "text", "主诊断在前，以 | 分隔", "principal first, separated by |"),
    _c("px", "手术操作编码", "procedures", "text", "主手术在前，以 | 分隔", "principal first, separated by |"),
    _c("admit_date", "入院日期", "admission date", "date"),
    _c("discharge_date", "出院日期", "discharge date", "date", "病例按出院日期归属年度和月份", "a case belongs to the year and month of its discharge"),
    _c("mdc", "MDC", "MDC", "text", "主要诊断大类", "major diagnostic category"),
    _c("adrg", "ADRG", "ADRG", "text", "核心疾病诊断相关组", "adjacent DRG"),
    _c("drg", "DRG", "DRG", "text", "0000 为未入组", "0000: no group"),
    _c("drg_name", "病组名称", "DRG name", "text", "分组方案中病组的名称", "the DRG's name in the scheme"),
    _c("cc_level", "并发症等级", "CC level", "int", "0 无，1 一般并发症(CC)，2 严重并发症(MCC)", "0 none, 1 CC, 2 MCC"),
    _c("cc_dx", "并发症诊断", "CC diagnosis", "text", "决定并发症等级的次要诊断编码（等级为 0 时为空）",
       "the secondary code that set the CC level (empty at level 0)"),
    _c("group_status", "入组状态", "grouping status", "text", "ok 为正常入组，其余为未入组原因",
       "ok, or why the case has no group"),
    _c("group_note", "分组说明", "grouping note", "text", "如未知的次要诊断编码及最接近的有效编码", "e.g. unknown secondary codes and the nearest valid ones"),
    _c("case_class", "病例类型", "case class", "text", "正常、高倍率、低倍率、非稳定病组、床日付费、未入组、特病单议",
       "normal, high, low, unstable, per-diem, ungroupable, special review"),
    _c("base_points", "基准点数", "base points", "points"),
    _c("per_diem_points", "床日点数", "per-diem points", "points"),
    _c("coef", "差异系数", "coefficient", "coef"),
    _c("coef_source", "系数来源", "coefficient source", "text", "医院、级别或 1.0", "hospital, tier or 1.0"),
    _c("cost_ratio", "费用倍率", "cost ratio", "coef", "病例费用 ÷ 病组均值", "the case's cost ÷ the DRG's mean"),
    _c("adjust_reason", "调整原因", "adjustment", "text", "分解住院减半、违规扣减、特病单议", "readmission halving, violations, special review"),
    _c("price_note", "计价说明", "pricing note", "text", "如病组无历史权重、医院不在名单", "e.g. a DRG without weight, a hospital not in the table"),
    _c("margin", "结余(+)/超支(−)(元)", "income − cost (yuan)", "yuan"),
    _c("income_est", "预计 DRG 收入(元)", "estimated DRG income (yuan)", "yuan", "点数 × 点值", "points × point value"),
    _c("high", "高倍率病例数", "high outliers", "count"),
    _c("low", "低倍率病例数", "low outliers", "count"),
    _c("mean_cost", "病组均值费用(元)", "DRG mean cost (yuan)", "yuan"),
    _c("n_cases", "历史病例数", "history cases", "count"),
    _c("cv", "变异系数", "coefficient of variation", "coef"),
    _c("stable", "稳定病组", "stable", "text"),
    _c("tier", "医院级别", "tier"),
    _c("age_days", "年龄(天)", "age (days)", "int"),
    _c("birth_weight", "出生体重(克)", "birth weight (g)", "int"),
    _c("vent_hours", "有创呼吸机时间(小时)", "ventilation (hours)", "int"),
    _c("discharge_status", "离院方式", "discharge status", "int", "1 医嘱离院，2 医嘱转院，3 转社区，4 非医嘱离院，5 死亡，9 其他",
       "1 doctor's order, 2 transfer, 3 to community care, 4 against advice, 5 death, 9 other"),
    _c("fund_paid", "统筹基金支付(元)", "fund paid (yuan)", "yuan"),
    _c("other_paid", "其他支付(元)", "other payers (yuan)", "yuan", "大病保险、医疗救助等", "major-illness insurance, "
       "medical assistance …"),
    _c("entitlement_est", "预计 DRG 收入(元)", "estimated DRG income (yuan)", "yuan",
       "调整后点数 × 点值，每例四舍五入到分", "adjusted points × point value, rounded to the fen per case"),
    _c("fund_payment_est", "预计基金支付(元)", "estimated fund payment (yuan)", "yuan",
       "预计 DRG 收入 − 个人负担 − 其他支付", "estimated income − self-paid − other payers"),
    _c("reject_reason", "拒收原因", "reject reason"),
    _c("reject_detail", "拒收说明", "reject detail", "text", "哪一列、什么值", "which field, which value"),
    _c("margin_est", "结余(+)/超支(−)(元)", "income − cost (yuan)", "yuan", "预计 DRG 收入 − 医疗总费用",
       "estimated income − total cost"),
])

#: Run kinds.
KIND_LABELS = {"month": ("月度预付", "monthly"), "year": ("年度清算", "annual")}

#: Case classes (SPEC §4).
CLASS_LABELS = {"normal": ("正常病例", "normal"), "high": ("高倍率病例", "high outlier"),
                "low": ("低倍率病例", "low outlier"), "unstable": ("非稳定病组病例", "unstable DRG"),
                "per_diem": ("床日付费病例", "per-diem"), "ungroupable": ("未入组病例", "ungroupable"),
                "review": ("特病单议病例", "special review")}

#: Kinds of settlement warning (SPEC §9 and the notes of a run).
WARNING_LABELS = {"spending_pace": ("基金支出进度", "fund spending pace"), "pv_drop": ("点值下降", "point value drop"),
                  "cmi_rise": ("CMI 上升", "CMI rise"), "outlier_share": ("高低倍率占比", "outlier share"),
                  "undeducted": ("扣减未尽", "deductions not taken"), "recovery": ("基金追回", "recovery"),
                  "negative_month": ("月度负数结转", "negative month carried"),
                  "reserve_short": ("调剂金不足", "reserve short"), "months_missing": ("缺少月度运行", "months missing"),
                  "unknown_hospital": ("医院不在名单", "unknown hospital"),
                  "annual_exists": ("年度清算已在账本", "annual run exists"), "no_points": ("尚无点数", "no points"),
                  "pv_projection": ("年终点值预测", "year-end point value projection"),
                  "county_gap": ("区县基金缺口", "county gap"), "cc_share_rise": ("并发症占比上升", "CC/MCC share rise"),
                  "group_rate": ("入组率偏低", "grouping rate low")}

#: Why a row of a case file was rejected (drg.casefile.schema.RejectReason).
REJECT_LABELS = {"missing_field": ("必填项为空", "a required field is empty"),
                 "wrong_type": ("格式错误", "a value of the wrong type"),
                 "duplicate_case_id": ("结算清单号重复", "duplicate case id"),
                 "empty_dx": ("无诊断编码", "no diagnosis code"),
                 "sex_out_of_range": ("性别代码无效", "sex code not 0, 1, 2 or 9"),
                 "missing_age_days": ("新生儿缺年龄(天)", "age 0 without age in days"),
                 "out_of_range": ("数值超出范围", "a value out of range"),
                 "negative_los": ("住院天数为负", "negative length of stay"),
                 "discharge_before_admission": ("出院早于入院", "discharge before admission"),
                 "non_finite_money": ("金额无效", "money not a finite number"),
                 "negative_money": ("金额为负", "negative money"),
                 "payment_mismatch": ("支付之和不等于总费用", "fund + self + other ≠ total cost")}

#: Where a case's coefficient comes from (drg.pricing.coefficients).
COEF_SOURCE_LABELS = {"hospital": ("本院系数", "the hospital's own"), "tier": ("同级别系数", "the tier's"),
                      "1.0": ("1.0", "1.0")}

#: Sex codes of the contract.
SEX_LABELS = {1: ("男", "male"), 2: ("女", "female"), 0: ("未知", "unknown"), 9: ("未说明", "unspecified")}

#: Insurance types (and so pools).
INSURANCE_LABELS = {"310": ("职工", "employee"), "390": ("居民", "resident"), "all": ("全部", "all")}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def label(key: str, lang: str = "zh") -> str:
    """The header of column ``key`` for people (a ``*_fen`` or ``*_yuan`` key is read as its money column)."""
    base = key.removesuffix("_fen").removesuffix("_yuan")
    col = COLUMNS.get(key) or COLUMNS.get(base)
    return col.header(lang) if col else key


def describe(key: str, lang: str = "zh") -> str:
    """What column ``key`` means (empty when it needs no note)."""
    base = key.removesuffix("_fen").removesuffix("_yuan")
    col = COLUMNS.get(key) or COLUMNS.get(base)
    return col.note(lang) if col else ""


def kind_of(key: str) -> str:
    """The kind of value of column ``key`` (a key of :data:`FORMATS`)."""
    base = key.removesuffix("_fen").removesuffix("_yuan")
    col = COLUMNS.get(key) or COLUMNS.get(base)
    return col.kind if col else "text"


def class_label(value: str | None, lang: str = "zh") -> str | None:
    """``"high"`` → ``"高倍率病例"``; an unknown value as it is."""
    if value is None:
        return None
    pair = CLASS_LABELS.get(value)
    return _pick(pair, lang) if pair else value


def reject_label(reason: str | None, lang: str = "zh") -> str | None:
    """``"wrong_type"`` → ``"格式错误 (wrong_type)"``: the reason in words, with its code."""
    if reason is None:
        return None
    pair = REJECT_LABELS.get(reason)
    return f"{_pick(pair, lang)} ({reason})" if pair else reason


def coef_source_label(value: str | None, lang: str = "zh") -> str | None:
    """``"hospital"`` → ``"本院系数"``."""
    if value is None:
        return None
    pair = COEF_SOURCE_LABELS.get(value)
    return _pick(pair, lang) if pair else value


def warning_label(kind: str, lang: str = "zh") -> str:
    """``"pv_drop"`` → ``"点值下降"``; an unknown kind as it is."""
    pair = WARNING_LABELS.get(kind)
    return _pick(pair, lang) if pair else kind


def sex_label(value, lang: str = "zh") -> str | None:
    """``2`` → ``"女"``; an unknown value as text."""
    if value is None:
        return None
    try:
        pair = SEX_LABELS.get(int(value))
    except (TypeError, ValueError):
        return str(value)
    return _pick(pair, lang) if pair else str(value)


def insurance_label(value, lang: str = "zh") -> str | None:
    """``"310"`` → ``"职工"``; an unknown value as text."""
    if value is None:
        return None
    pair = INSURANCE_LABELS.get(str(value))
    return _pick(pair, lang) if pair else str(value)


def pool_label(pool: str, lang: str = "zh") -> str:
    """``"310"`` → ``"职工(310)"``, ``"all"`` → ``"全部"``."""
    pair = INSURANCE_LABELS.get(str(pool))
    if pair is None:
        return str(pool)
    return _pick(pair, lang) if pool == "all" else f"{_pick(pair, lang)} ({pool})" if lang == "en" else \
        f"{pair[0]}({pool})"


def console(stderr: bool = False):
    """A rich console for tables people read: the terminal's width, or 200 columns when the output goes to a
    file or a pipe (so wide tables of yuan are not squeezed into 80 columns)."""
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 200)


def yuan(fen: int | None) -> Decimal | None:
    """Integer fen → exact yuan with two places (None stays None)."""
    return None if fen is None else Decimal(int(fen)).scaleb(-2)


def yuan_text(fen: int | None) -> str:
    """Integer fen as yuan text with thousands separators: ``"1,234.56"``; ``"—"`` for None."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"
