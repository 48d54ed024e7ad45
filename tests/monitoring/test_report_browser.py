"""The city report in a real browser: headless Chromium (Debian's ``chromium``, which ``.ci/run`` installs when
it is absent) opens the report that ``drg demo`` wrote, with the network cut off; the page logs no error,
requests nothing from outside, every chart has drawn, the hospital table sorts on a click. A full-page
screenshot is saved with the test output: ``$DRG_TEST_ARTIFACTS`` or ``test-output/`` at the repository root.

Skipped, with the reason, only where no Chromium is installed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _artifacts() -> Path:
    d = Path(os.environ.get("DRG_TEST_ARTIFACTS") or REPO / "test-output")
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_report_renders_in_chromium_without_errors(demo_world, tmp_path):
    browser_path = _chromium()
    if browser_path is None:
        pytest.skip("no Chromium here: install Debian's chromium (apt-get install -y chromium; .ci/run does)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    report = demo_world["report"]
    problems: list[str] = []
    outside: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900}, offline=True)
            page = context.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            charts = page.evaluate("""() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
                const s = f.querySelector('svg'); const b = s ? s.getBoundingClientRect() : {width: 0, height: 0};
                return {name: f.dataset.chart, width: b.width, height: b.height,
                        marks: s ? s.querySelectorAll('path, use, rect, line, text').length : 0};})""")
            first_warning = page.evaluate("() => document.querySelector('h2').id")
            # sort the hospital table by CMI (the 6th column), twice: ascending, then descending
            cmi_col = page.evaluate("""() => Array.from(document.querySelectorAll('#hospital-table th'))
                                             .findIndex(th => th.textContent.startsWith('CMI'))""")
            values = []
            for _ in range(2):
                page.click(f"#hospital-table th:nth-child({cmi_col + 1})")
                values.append(page.evaluate(f"""() => Array.from(document.querySelectorAll('#hospital-table tbody tr'))
                                                    .map(r => parseFloat(r.cells[{cmi_col}].dataset.v))"""))
            shot = _artifacts() / f"monitoring-{report.stem}.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {shot}")
    assert problems == []
    assert outside == []
    assert {c["name"] for c in charts} == {"point_value", "fund_pace", "counties", "convergence"}
    for c in charts:
        assert c["width"] > 200 and c["height"] > 150 and c["marks"] > 20, c
    assert first_warning == "warnings"
    asc, desc = values
    assert asc == sorted(asc) and desc == sorted(desc, reverse=True) and len(asc) > 5
    assert shot.stat().st_size > 50_000


def test_report_is_self_contained(demo_world):
    text = demo_world["report"].read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for needle in ("http://", "https://", "<link", "src="):
        assert needle not in text.replace("http://www.w3.org", ""), needle
    assert text.count("<svg") == 4
    for label in ("预警", "核心指标", "点值", "基金支出进度", "医院", "区县", "同病同价", "费用消耗指数", "时间消耗指数"):
        assert label in text
    assert text.index('id="warnings"') < text.index('id="headline"')
