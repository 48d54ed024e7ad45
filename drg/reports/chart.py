"""The point-value chart of the city summary (``point_values.png``): the provisional point value of each
pool by month and the annual value as a dashed line.

matplotlib takes about a second to import, more than everything else the statements do, so
:func:`start_chart` draws the chart in a helper process (``python -m drg.reports.chart``, the spec on its
standard input) that runs on another core while the statements are written; :func:`ChartJob.wait` collects it
(and draws in-process if the helper failed). Chinese labels are used when matplotlib finds a font that can
draw them, English otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

__all__ = ["render", "start_chart", "ChartJob"]

_CJK = ("Noto Sans CJK", "Noto Serif CJK", "SimHei", "Microsoft YaHei", "WenQuanYi", "Source Han", "PingFang",
        "Heiti", "Songti", "AR PL")


def render(spec: dict, path: str | Path) -> Path:
    """Draw ``spec`` (``{"title_zh", "title_en", "lines": [{"pool", "pool_zh", "months": [[m, pv]…],
    "annual": pv|None}], "lang"}``) to the PNG ``path``, atomically."""
    from matplotlib import font_manager
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from drg.outputs import atomic_path

    font = None
    if spec.get("lang", "zh") == "zh":
        font = next((f.name for f in font_manager.fontManager.ttflist if any(k in f.name for k in _CJK)), None)
    zh = font is not None
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    if zh:
        import matplotlib

        matplotlib.rcParams["font.sans-serif"] = [font, *matplotlib.rcParams["font.sans-serif"]]
        matplotlib.rcParams["axes.unicode_minus"] = False
    for line in spec["lines"]:
        name = line["pool_zh"] if zh else line["pool"]
        color = None
        if line["months"]:
            (drawn,) = ax.plot([m for m, _ in line["months"]], [float(v) for _, v in line["months"]], marker="o",
                               label=f"{name} 月度暂定点值" if zh else f"pool {name} (monthly provisional)")
            color = drawn.get_color()
        if line.get("annual") is not None:
            v = line["annual"]
            ax.axhline(float(v), linestyle="--", linewidth=1, color=color,
                       label=f"{name} 年度清算点值 {v}" if zh else f"pool {name} annual {v}")
    ax.set_xlabel("月份" if zh else "month")
    ax.set_ylabel("点值(元/点)" if zh else "point value (yuan per point)")
    ax.set_xticks(range(1, 13))
    ax.set_title(spec["title_zh"] if zh else spec["title_en"])
    ax.grid(alpha=0.3)
    if spec["lines"]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


class ChartJob:
    """A chart being drawn by the helper process."""

    def __init__(self, spec: dict, path: Path, proc: subprocess.Popen | None) -> None:
        self.spec, self.path, self.proc = spec, path, proc

    def wait(self) -> Path:
        """The chart's path once drawn (in-process when the helper could not draw it)."""
        if self.proc is not None:
            try:
                if self.proc.wait(timeout=120) == 0 and self.path.exists():
                    return self.path
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return render(self.spec, self.path)


def start_chart(spec: dict, path: str | Path) -> ChartJob:
    """Start drawing ``spec`` to ``path`` in a helper process; ``.wait()`` on the result."""
    path = Path(path)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "drg.reports.chart", str(path)], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(spec, ensure_ascii=False).encode("utf-8"))
        proc.stdin.close()
    except OSError:
        proc = None
    return ChartJob(spec, path, proc)


def _main() -> int:
    spec = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    render(spec, sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(_main())
