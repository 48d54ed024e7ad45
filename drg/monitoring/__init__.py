"""Monitoring as a bureau runs it (SPEC §9: 月监测、季分析、半年评估，风险预警): the standard DRG indicators of
every unit and period, the warnings with their severity and figures, and the city report.

* :mod:`.store` — what the ledger keeps for monitoring (written by ``drg settle`` and ``drg weights``) and
  how it is read back;
* :mod:`.lowrisk` — the low-risk DRGs fixed from the weights' history years;
* :mod:`.indicators` — the indicators of a span of months for every unit;
* :mod:`.warnings` and :mod:`.checks` — the warnings and the figures behind them;
* :mod:`.monitor` — ``drg monitor``: one period from the ledger alone;
* :mod:`.report` — the self-contained HTML city report.
"""

from drg._lazy import lazy_exports

_EXPORTS = {
    "MonitorResult": "monitor",
    "MonitorWarning": "warnings",
    "monitor_period": "monitor",
    "write_report": "report",
    "low_risk_table": "lowrisk",
    "classify_low_risk": "lowrisk",
    "indicators": "indicators",
    "UNIT_TYPES": "indicators",
    "INDICATOR_COLUMNS": "indicators",
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
