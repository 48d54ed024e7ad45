"""The city report of a monitored period: one self-contained HTML file that opens with no network.

Everything is inline: the data as tables, the charts as SVG drawn by matplotlib (text kept as text, so the
browser draws the Chinese labels with whatever CJK font it has), a stylesheet and a few lines of JavaScript
that sort the hospital table by a click on a header. Warnings come first (alerts, then warnings, then
information), then the headline indicators of the city and each pool, the point value by month (provisional
against the annual value and last year's), fund spending against the budget's pace, the hospitals, the
counties (balance, gap, the city's and the county's shares, the reserve left) and the 同病同价 convergence of
each DRG against last year.

:func:`write_report` is the one function that writes it (``drg monitor --out``, ``drg demo``); the caller
chooses the directory.
"""

from __future__ import annotations

import html
import io
import math
import re
import warnings as _warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["write_report", "render_report", "REPORT_NAME"]

#: The report's file name for a period (``report-2025-Q2.html``).
REPORT_NAME = "report-{period}.html"

_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei",
          "PingFang SC", "SimHei", "DejaVu Sans", "sans-serif"]
_SEV = {"alert": ("警报", "#b42318"), "warning": ("警告", "#b54708"), "info": ("提示", "#175cd3")}
_POOL = {"310": "职工", "390": "居民", "all": "全部"}

_CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei","PingFang SC",sans-serif;margin:24px;
color:#1d2939;background:#fff;max-width:1280px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:2px solid #d0d5dd;padding-bottom:4px}
.meta{color:#475467;font-size:13px}table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border:1px solid #d0d5dd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f2f4f7;position:sticky;top:0}td.t,th.t{text-align:left;white-space:normal}
table.sortable th{cursor:pointer}table.sortable th::after{content:" ⇅";color:#98a2b3}
.sev{font-weight:bold;color:#fff;border-radius:3px;padding:1px 6px}.neg{color:#b42318}
figure.chart{margin:8px 0;display:inline-block;vertical-align:top}figure.chart svg{max-width:100%;height:auto}
figcaption{font-size:12px;color:#475467}.scroll{max-height:520px;overflow:auto;display:inline-block}
"""

_JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){
    var b=t.tBodies[0],rows=Array.from(b.rows),d=th.dataset.dir==='asc'?-1:1;th.dataset.dir=d>0?'asc':'desc';
    rows.sort(function(x,y){var a=x.cells[i].dataset.v,c=y.cells[i].dataset.v;
      var na=parseFloat(a),nc=parseFloat(c);
      if(!isNaN(na)&&!isNaN(nc))return d*(na-nc);return d*String(a).localeCompare(String(c));});
    rows.forEach(function(r){b.appendChild(r);});});});});
"""


# ----------------------------------------------------------------------------------------------- formats
def _e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _num(v: Any, places: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{float(v):,.{places}f}"


def _pct(v: Any) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{float(v):.1%}"


def _yuan(fen: Any) -> str:
    return "—" if fen is None else f"{int(fen) / 100:,.2f}"


def _td(text: str, value: Any = None, cls: str = "") -> str:
    v = "" if value is None else (float(value) if not isinstance(value, str) else value)
    c = f' class="{cls}"' if cls else ""
    return f'<td{c} data-v="{_e(v)}">{text}</td>'


def _pool(pool: str) -> str:
    return f"{_POOL.get(pool, pool)}({pool})" if pool in ("310", "390") else _POOL.get(pool, pool)


# ----------------------------------------------------------------------------------------------- charts
def _figure():
    import matplotlib

    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.fonttype"] = "none"       # text stays text: the browser draws it
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = _FONTS
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["svg.hashsalt"] = "drg-points"  # the same ids every run
    fig = Figure(figsize=(7.2, 3.6), dpi=100)
    FigureCanvasSVG(fig)
    return fig


def _svg(fig) -> str:
    buf = io.StringIO()
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")       # glyphs the layout font lacks: the browser draws them
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg"):], flags=re.S)  # RDF names, not needed
    return text


def _chart(name: str, fig, caption: str) -> str:
    return f'<figure class="chart" data-chart="{name}">{_svg(fig)}<figcaption>{_e(caption)}</figcaption></figure>'


def _pv_chart(result) -> str:
    fig = _figure()
    ax = fig.subplots()
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for i, (pool, pv) in enumerate(sorted(result.point_values.items())):
        c = colors[i % len(colors)]
        months = sorted(pv["months"])
        if months:
            ax.plot(months, [pv["months"][m] for m in months], marker="o", color=c, label=f"{_pool(pool)} 月度暂定点值")
        if pv.get("annual") is not None:
            ax.axhline(pv["annual"], color=c, linestyle="--", label=f"{_pool(pool)} 年度清算点值")
        if pv.get("last_year") is not None:
            ax.axhline(pv["last_year"], color=c, linestyle=":", alpha=0.7, label=f"{_pool(pool)} 上年点值")
        proj = result.projections.get(pool, {})
        if proj.get("projected_pv_yuan") is not None:
            ax.errorbar([12.3], [proj["projected_pv_yuan"]],
                        yerr=[[proj["projected_pv_yuan"] - proj["band_low_yuan"]],
                              [proj["band_high_yuan"] - proj["projected_pv_yuan"]]],
                        fmt="D", color=c, capsize=4, label=f"{_pool(pool)} 年终预测(区间)")
    ax.set_xlim(0.5, 12.8)
    ax.set_xticks(range(1, 13))
    ax.set_xlabel("月份")
    ax.set_ylabel("点值(元/点)")
    ax.set_title(f"{result.year} 年点值")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _chart("point_value", fig, "点值按月：月度暂定点值(实线)、年度清算点值(虚线)、上年点值(点线)、年终预测及区间(菱形)")


def _pace_chart(result) -> str:
    fig = _figure()
    ax = fig.subplots()
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    for i, (pool, pace) in enumerate(sorted(result.pace.items())):
        c = colors[i % len(colors)]
        b = pace["budget_fen"] / 100 / 10000
        ax.plot([0, 12], [0, b], color=c, linestyle="--", alpha=0.7, label=f"{_pool(pool)} 预算进度")
        ax.fill_between([0, 12], [0, 0], [0, b * (1 + pace["tolerance"])], color=c, alpha=0.06)
        months = sorted(pace["months"])
        if months:
            ax.plot(months, [pace["months"][m] / 100 / 10000 for m in months], marker="o", color=c,
                    label=f"{_pool(pool)} 累计基金支出")
    ax.set_xlim(0, 12.3)
    ax.set_xticks(range(0, 13))
    ax.set_xlabel("月份")
    ax.set_ylabel("万元")
    ax.set_title("基金支出与预算进度")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _chart("fund_pace", fig, "累计基金支出(月度预付运行的暂定基金金额之和)与预算按月进度 m/12 × B；阴影为容许上限")


def _convergence_chart(result) -> str:
    import polars as pl

    conv = result.convergence.filter((pl.col("scope") == "period") & pl.col("cv").is_not_null())
    fig = _figure()
    ax = fig.subplots()
    colors = {"310": "#1f77b4", "390": "#d62728"}
    with_last = conv.filter(pl.col("cv_last_year").is_not_null())
    if with_last.height:
        top = 0.0
        for pool in sorted(set(with_last["pool"].to_list())):
            d = with_last.filter(pl.col("pool") == pool)
            ax.scatter(d["cv_last_year"].to_list(), d["cv"].to_list(), s=14, color=colors.get(pool, "#555"),
                       label=f"{_pool(pool)} 各病组", alpha=0.8)
            top = max(top, max(d["cv_last_year"].to_list() + d["cv"].to_list()))
        ax.plot([0, top * 1.05 or 1], [0, top * 1.05 or 1], color="#98a2b3", linestyle="--", label="与上年持平")
        ax.set_xlabel("上年同期变异系数")
        ax.set_ylabel("本期变异系数")
        caption = "同病同价：各病组医院间次均支付的变异系数，本期对上年同期；对角线以下为趋同"
    else:
        d = conv.sort("cv", descending=True).head(20)
        ax.barh([f"{p}/{g}" for p, g in zip(d["pool"].to_list(), d["drg"].to_list())], d["cv"].to_list(),
                color="#1f77b4")
        ax.invert_yaxis()
        ax.set_xlabel("变异系数")
        caption = "同病同价：变异系数最高的病组(无上年同期数据)"
    ax.set_title("同病同价趋同")
    ax.grid(alpha=0.3)
    if with_last.height:
        ax.legend(fontsize=7)
    return _chart("convergence", fig, caption)


def _county_chart(result) -> str:
    fig = _figure()
    ax = fig.subplots()
    rows = result.counties
    labels = [f"{r['county']}\n{_POOL.get(r['pool'], r['pool'])}" for r in rows]
    vals = [r["balance_fen"] / 100 / 10000 for r in rows]
    ax.bar(range(len(rows)), vals, color=["#b42318" if v < 0 else "#12b76a" for v in vals])
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(labels, fontsize=7)
    ax.axhline(0, color="#475467", linewidth=0.8)
    ax.set_ylabel("万元")
    basis = "清算" if rows and rows[0]["basis"] == "settled" else "预计年终"
    ax.set_title(f"区县基金结余({basis})")
    ax.grid(alpha=0.3, axis="y")
    return _chart("counties", fig, f"区县当期结余 G = I − X − O ({basis})；红色为缺口")


# ----------------------------------------------------------------------------------------------- sections
def _warnings_section(result) -> str:
    from drg.reports.labels import warning_label

    if not result.warnings:
        return "<h2>预警</h2><p>本期无预警。</p>"
    rows = []
    for w in result.warnings:
        label, color = _SEV.get(w.severity, (w.severity, "#475467"))
        rows.append(f'<tr data-severity="{_e(w.severity)}"><td class="t"><span class="sev" style="background:{color}">'
                    f'{label}</span></td><td class="t">{_e(warning_label(w.kind))}</td>'
                    f'<td class="t">{_e(_pool(w.pool))}</td><td class="t">{_e(w.subject)}</td>'
                    f'<td class="t">{_e(w.message_zh)}</td></tr>')
    counts = {s: sum(1 for w in result.warnings if w.severity == s) for s in _SEV}
    head = "，".join(f"{_SEV[s][0]} {n} 条" for s, n in counts.items() if n)
    return (f'<h2 id="warnings">预警 <small>({head})</small></h2><div class="scroll"><table id="warnings-table">'
            '<thead><tr><th class="t">级别</th><th class="t">类型</th><th class="t">统筹区</th><th class="t">对象</th>'
            f'<th class="t">说明</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


_HEAD = [("cases", "病例数", "count"), ("group_rate", "入组率", "pct"), ("drgs_used", "使用病组数", "count"),
         ("points", "总点数", "points"), ("cmi", "CMI", "coef"), ("avg_cost_fen", "次均费用(元)", "yuan"),
         ("avg_los", "平均住院日", "los"), ("cost_index", "费用消耗指数", "coef"), ("time_index", "时间消耗指数", "coef"),
         ("low_risk_mortality", "低风险组死亡率", "pct"), ("outlier_share", "高低倍率占比", "pct"),
         ("unstable_share", "非稳定病组占比", "pct"), ("per_diem_share", "床日付费占比", "pct"),
         ("halved_share", "分解住院减半占比", "pct"), ("review_share", "特病单议占比", "pct"),
         ("ungroupable_share", "未入组占比", "pct"), ("ambiguous_share", "歧义组占比", "pct"),
         ("self_pay_share", "个人负担占比", "pct"), ("balance_fen", "结余/超支(元)", "yuan")]


def _fmt(v: Any, kind: str) -> str:
    if kind == "count":
        return "—" if v is None else f"{int(v):,}"
    if kind == "pct":
        return _pct(v)
    if kind == "yuan":
        return _yuan(v)
    if kind == "points":
        return _num(v, 4)
    if kind == "los":
        return _num(v, 2)
    return _num(v, 4)


def _headline_section(result) -> str:
    out = ['<h2 id="headline">核心指标</h2>']
    for scope, span in result.spans.items():
        rows = result.headline(scope)
        title = "本期" if scope == "period" else "年初至今"
        cols = "".join(f"<th>{_e(_unit_label(r))}</th>" for r in rows)
        body = []
        for key, label, kind in _HEAD:
            cells = "".join(_td(_fmt(r.get(key), kind), r.get(key)) for r in rows)
            body.append(f'<tr><td class="t">{_e(label)}</td>{cells}</tr>')
        out.append(f'<h3>{title} ({_e(span)})</h3><table class="headline" data-scope="{scope}"><thead><tr>'
                   f'<th class="t">指标</th>{cols}</tr></thead><tbody>{"".join(body)}</tbody></table>')
    basis = "；".join(f"{_pool(p)}: {'年度清算点值' if b['kind'] == 'annual' else '暂定点值 ' + str(b['period']) if b['kind'] == 'provisional' else '无点值'}"
                      f" {_num(b['point_value_yuan'])} 元/点" for p, b in result.pv_basis.items())
    out.append(f'<p class="meta">结余/超支 = Σ 点数 × 点值 − Σ 医疗总费用(按统筹区计算)，点值：{_e(basis)}。'
               f'低风险组：{"已由基准点数测算确定 " + str(result.low_risk.get("drgs")) + " 个病组" if result.low_risk.get("known") else "未确定(drg weights 未写入账本)"}。</p>')
    return "".join(out)


def _unit_label(r: dict) -> str:
    return "全市" if r["unit_type"] == "city" else _pool(r["unit"])


def _pv_section(result) -> str:
    rows = []
    pools = sorted(result.point_values)
    for m in range(1, 13):
        vals = [result.point_values[p]["months"].get(m) for p in pools]
        if any(v is not None for v in vals):
            rows.append(f'<tr><td class="t">{m} 月</td>' + "".join(_td(_num(v), v) for v in vals) + "</tr>")
    annual = "".join(_td(_num(result.point_values[p].get("annual")), result.point_values[p].get("annual")) for p in pools)
    last = "".join(_td(_num(result.point_values[p].get("last_year")), result.point_values[p].get("last_year")) for p in pools)
    proj = "".join(_td(_num(result.projections.get(p, {}).get("projected_pv_yuan")) + " (" +
                       _num(result.projections.get(p, {}).get("band_low_yuan")) + "–" +
                       _num(result.projections.get(p, {}).get("band_high_yuan")) + ")") for p in pools)
    head = "".join(f"<th>{_e(_pool(p))}</th>" for p in pools)
    table = (f'<table><thead><tr><th class="t">点值(元/点)</th>{head}</tr></thead><tbody>{"".join(rows)}'
             f'<tr><td class="t">年度清算</td>{annual}</tr><tr><td class="t">上年</td>{last}</tr>'
             f'<tr><td class="t">年终预测(区间)</td>{proj}</tr></tbody></table>')
    return f'<h2 id="point-value">点值</h2>{_pv_chart(result)}{table}'


def _pace_section(result) -> str:
    rows = []
    for pool, pace in sorted(result.pace.items()):
        last = max(pace["months"]) if pace["months"] else None
        spent = pace["months"].get(last) if last else None
        due = pace["budget_fen"] * last / 12 if last else None
        rows.append(f'<tr><td class="t">{_e(_pool(pool))}</td>{_td(_yuan(pace["budget_fen"]), pace["budget_fen"])}'
                    f'{_td(str(last or "—"), last)}{_td(_yuan(spent), spent)}{_td(_yuan(due), due)}'
                    f'{_td(_pct(spent / due - 1) if spent is not None and due else "—")}</tr>')
    table = ('<table><thead><tr><th class="t">统筹区</th><th>基金预算(元)</th><th>至月份</th><th>累计基金支出(元)</th>'
             f'<th>预算进度(元)</th><th>超出进度</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')
    return f'<h2 id="fund-pace">基金支出进度</h2>{_pace_chart(result)}{table}'


_HOSP = [("cases", "病例数", "count"), ("points", "总点数", "points"), ("cmi", "CMI", "coef"),
         ("cost_index", "费用消耗指数", "coef"), ("time_index", "时间消耗指数", "coef"),
         ("outlier_share", "高低倍率占比", "pct"), ("group_rate", "入组率", "pct"),
         ("avg_cost_fen", "次均费用(元)", "yuan"), ("low_risk_mortality", "低风险组死亡率", "pct"),
         ("balance_fen", "结余/超支(元)", "yuan")]


def _hospital_section(result, hospitals_tiers: dict) -> str:
    import polars as pl

    h = result.indicators.filter((pl.col("scope") == "period") & (pl.col("unit_type") == "hospital"))
    rows = []
    for r in h.iter_rows(named=True):
        cells = "".join(_td(_fmt(r[k], kind), r[k], "neg" if k == "balance_fen" and (r[k] or 0) < 0 else "")
                        for k, _l, kind in _HOSP)
        rows.append(f'<tr>{_td(_e(r["unit"]), r["unit"], "t")}{_td(_e(r["name"]), r["name"], "t")}'
                    f'{_td(_e(hospitals_tiers.get(r["unit"], "")), hospitals_tiers.get(r["unit"], ""), "t")}{cells}</tr>')
    head = "".join(f"<th>{_e(label)}</th>" for _k, label, _kind in _HOSP)
    return (f'<h2 id="hospitals">医院 <small>(点击表头排序)</small></h2><div class="scroll"><table class="sortable" '
            f'id="hospital-table"><thead><tr><th class="t">医院编码</th><th class="t">医院名称</th><th class="t">等级</th>'
            f'{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _county_section(result) -> str:
    import polars as pl

    ci = {r["unit"]: r for r in result.indicators.filter((pl.col("scope") == "period") & (pl.col("unit_type") == "county"))
          .iter_rows(named=True)}
    rows = []
    for r in result.counties:
        i = ci.get(r["county"], {})
        rows.append(
            f'<tr><td class="t">{_e(_pool(r["pool"]))}</td><td class="t">{_e(r["county"])}</td>'
            f'<td class="t">{"清算" if r["basis"] == "settled" else "预计年终"}</td>'
            + "".join(_td(_yuan(r[k]), r[k], "neg" if k == "balance_fen" and r[k] < 0 else "")
                      for k in ("income_fen", "drg_spending_fen", "other_spending_fen", "balance_fen", "gap_fen",
                                "city_share_fen", "county_share_fen", "reserve_left_fen"))
            + _td(_fmt(i.get("cases"), "count"), i.get("cases")) + _td(_pct(i.get("self_pay_share")), i.get("self_pay_share"))
            + "</tr>")
    if not rows:
        return '<h2 id="counties">区县</h2><p>账本中无区县基金收入，未测算区县账户。</p>'
    head = "".join(f"<th>{x}</th>" for x in ("基金收入(元)", "DRG 基金支出(元)", "其他支出(元)", "结余(元)", "缺口(元)",
                                              "市级分担(元)", "区县分担(元)", "调剂金余额(元)", "参保人病例数(本期)",
                                              "个人负担占比"))
    return (f'<h2 id="counties">区县</h2>{_county_chart(result)}<div class="scroll"><table id="county-table">'
            f'<thead><tr><th class="t">统筹区</th><th class="t">区县</th><th class="t">口径</th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _convergence_section(result) -> str:
    import polars as pl

    conv = (result.convergence.filter((pl.col("scope") == "period") & pl.col("cv").is_not_null())
            .sort("cv", descending=True).head(30))
    rows = []
    for r in conv.iter_rows(named=True):
        rows.append(f'<tr><td class="t">{_e(_pool(r["pool"]))}</td><td class="t">{_e(r["drg"])}</td>'
                    f'{_td(str(r["hospitals"]), r["hospitals"])}{_td(str(r["cases"]), r["cases"])}'
                    f'{_td(_yuan(round(r["mean_payment_fen"])) if r["mean_payment_fen"] is not None else "—", r["mean_payment_fen"])}'
                    f'{_td(_num(r["cv"]), r["cv"])}{_td(_num(r["cv_last_year"]), r["cv_last_year"])}'
                    f'{_td(_num(r["cv_change"]), r["cv_change"])}</tr>')
    table = ('<div class="scroll"><table class="sortable" id="convergence-table"><thead><tr><th class="t">统筹区</th>'
             '<th class="t">病组</th><th>医院数</th><th>病例数</th><th>次均支付(元)</th><th>变异系数</th>'
             f'<th>上年同期</th><th>变化</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')
    return f'<h2 id="convergence">同病同价</h2>{_convergence_chart(result)}{table}'


def render_report(result, *, hospitals: dict | None = None, lang: str = "zh") -> str:
    """The report of a :class:`drg.monitoring.monitor.MonitorResult` as one HTML text."""
    from drg.settlement.periods import parse_period

    p = parse_period(result.period)
    tiers = {h: str(v.get("tier") or "") for h, v in (hospitals or {}).items()}
    made = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    months = "、".join(str(m) for m in result.months_covered) or "—"
    body = [
        f"<h1>DRG 点数法付费监测报告 — {_e(p.label('zh'))}</h1>",
        f'<p class="meta">期间 {_e(result.period)}；已结算月份 {months}；政策 {_e(result.policy_id)}；分组方案 '
        f'{_e(result.scheme_id or "—")}；生成于 {made}。金额单位：元。</p>',
        _warnings_section(result), _headline_section(result), _pv_section(result), _pace_section(result),
        _hospital_section(result, tiers), _county_section(result), _convergence_section(result),
        '<p class="meta">各指标的公式与出处见 docs/monitoring.md。</p>',
    ]
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>DRG 付费监测报告 {_e(result.period)}</title><style>{_CSS}</style></head><body>"
            + "".join(body) + f"<script>{_JS}</script></body></html>\n")


def write_report(result, out: str | Path, *, lang: str = "zh") -> Path:
    """Write the city report of ``result`` into directory ``out`` as ``report-PERIOD.html`` (atomically) and
    return its path."""
    from drg.outputs import write_text

    path = Path(out) / REPORT_NAME.format(period=result.period)
    write_text(path, render_report(result, hospitals=result.hospitals, lang=lang))
    return path
