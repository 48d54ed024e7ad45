"""A province's year, stage by stage, as a bureau runs it (issue 21).

A synthetic province (``drg synth``: CHS-DRG 1.1 when ../shared is present, else the demo scheme; three
years, ``bench_cases`` cases each) goes through the commands a bureau runs every month on the year to date:

1. ``drg group``  the settlement year (the two history years are grouped beforehand, untimed);
2. ``drg weights`` from the two grouped history years;
3. ``drg points`` on the grouped settlement year;
4. ``drg settle year`` with its statements (on by default) into a DuckDB ledger;
5. ``drg monitor`` of the year, from the ledger.

Each stage is its own process, as on the command line, so that its peak memory is its own: the wall time and
the peak resident set (``ru_maxrss`` of that child, from ``os.wait4``) are recorded. In the same run, each stage's
I/O floor is measured the same way: a child process in which plain pyarrow reads what the stage must read
(the same files, the same columns) and writes what it wrote (its output tables, already in memory, written
again to Parquet). The ratios stage / floor are what docs/benchmarks.md reports; they travel across machines
better than seconds. ``drg settle`` writes mostly what pyarrow cannot write — its statement workbooks and its
ledger rows — so it has a second floor that writes those too, with plain xlsxwriter and DuckDB
(:func:`outputs_floor`); both ratios are reported.

``pytest benchmarks/bench_pipeline.py --bench-size=full`` is the published size (10 million cases a year);
``1m`` and ``5m`` show how cost grows with the number of cases. The quick size keeps this file from rotting.
With ``DRG_BENCH_PROVINCE=DIR`` the synthetic province (and its grouped history) is kept in ``DIR`` and reused
by later runs of the same size, so that two versions of the code can be measured on the same cases.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import SHARED, record

HISTORY_YEARS = (2023, 2024)
YEAR = 2025
POLICY = "demo"


@dataclass
class Stage:
    """One measured child process."""

    name: str
    wall_s: float
    peak_mb: float
    floor_s: float | None = None
    floor_peak_mb: float | None = None
    #: the child's system CPU seconds and minor page faults: on the 2-core machine (a virtual machine) the cost of
    #: a fresh page moves with the host's state, and these say how much of a slow run it was
    sys_s: float = 0.0
    faults: int = 0
    #: ``drg settle``'s floor with every output it writes: the Parquet outputs as above, and its statement
    #: workbooks and ledger rows written again by plain xlsxwriter and DuckDB (:func:`outputs_floor`)
    all_floor_s: float | None = None
    all_floor_peak_mb: float | None = None
    #: what the floor would add as a program of its own: an interpreter's start and pyarrow's import
    floor_start_s: float | None = None

    @property
    def ratio(self) -> float | None:
        return self.wall_s / self.floor_s if self.floor_s else None

    @property
    def process_ratio(self) -> float | None:
        """The wall against the floor as a whole process (its start and imports in, as the stage's are)."""
        return self.wall_s / (self.floor_s + self.floor_start_s) if self.floor_s and self.floor_start_s else None

    @property
    def all_ratio(self) -> float | None:
        return self.wall_s / self.all_floor_s if self.all_floor_s else None


def _drg() -> list[str]:
    return [sys.executable, "-m", "drg.cli"]


@dataclass
class Run:
    """A child process's wall seconds, peak resident set (MB), system CPU seconds, minor page faults and
    standard output."""

    wall_s: float
    peak_mb: float
    sys_s: float
    faults: int
    out: str


def measured(args: list, *, env: dict | None = None) -> tuple[float, float, str]:
    """Run ``args`` as a child process: ``(wall seconds, peak RSS in MB, stdout)``; a failure fails the test
    with the child's error output."""
    run = measured_run(args, env=env)
    return run.wall_s, run.peak_mb, run.out


def measured_run(args: list, *, env: dict | None = None) -> Run:
    """:func:`measured` with the child's system time and page faults (:class:`Run`)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    # os.wait4 gives this child's own rusage; communicate() after it only drains the pipes
    out_chunks, err_chunks = [], []
    import threading

    def drain(stream, into):
        into.append(stream.read())

    readers = [threading.Thread(target=drain, args=(proc.stdout, out_chunks)),
               threading.Thread(target=drain, args=(proc.stderr, err_chunks))]
    for r in readers:
        r.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    for r in readers:
        r.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = out_chunks[0].decode("utf-8", "replace") if out_chunks else ""
    err = err_chunks[0].decode("utf-8", "replace") if err_chunks else ""
    assert proc.returncode == 0, f"{args[:4]} failed ({proc.returncode}):\n{err[-3000:]}"
    return Run(wall, usage.ru_maxrss / 1024, usage.ru_stime, usage.ru_minflt, out)


FLOOR = r'''
import time
T0 = time.perf_counter()
import sys, json
import pyarrow as pa, pyarrow.parquet as pq
IMPORTS = time.perf_counter() - T0
spec = json.loads(sys.argv[1])


def settings(path):
    # the writer settings of the file the stage wrote: its codec, its row-group size, the columns with statistics
    md = pq.ParquetFile(path).metadata
    rg = md.row_group(0) if md.num_row_groups else None
    codec = rg.column(0).compression.lower() if rg is not None and rg.num_columns else "snappy"
    stats = sorted({rg.column(j).path_in_schema.split(".")[0] for j in range(rg.num_columns)
                    if rg.column(j).is_stats_set}) if rg is not None else []
    rows = max((md.row_group(i).num_rows for i in range(md.num_row_groups)), default=1) or 1
    dictionary = sorted({rg.column(j).path_in_schema.split(".")[0] for j in range(rg.num_columns)
                         if any("DICTIONARY" in e for e in rg.column(j).encodings)}) if rg is not None else []
    return {"compression": "none" if codec == "uncompressed" else codec, "row_group_size": rows,
            "write_statistics": stats or False, "use_dictionary": dictionary or False}


# what the stage wrote, loaded before the clock starts: the floor writes it again, with the stage's settings
outputs = [(pq.read_table(p), p + ".floor.parquet", settings(p)) for p in spec["writes"]]
t0 = time.perf_counter()
for path, cols in spec["reads"]:
    # without pre-buffering, as the stages read: pyarrow's quickest read on a local disk
    pq.read_table(path, columns=cols, pre_buffer=False)
for table, path, kw in outputs:
    pq.write_table(table, path, **kw)
print(json.dumps({"seconds": time.perf_counter() - t0, "imports": IMPORTS}))
'''


def floor(reads: list[tuple[Path, list[str] | None]], writes: list[Path]) -> tuple[float, float, float]:
    """pyarrow reading ``reads`` (path, columns) and writing the tables of ``writes`` again: ``(seconds, peak MB,
    start seconds)``.

    Each table is written with the settings of the file the stage wrote, read from that file's metadata: the
    same compression codec (zstd for ``drg points``, whatever the stage chose elsewhere), the same row-group
    size (its largest row group, in rows), statistics for the same columns and dictionary pages for the same
    columns. A floor written with pyarrow's
    defaults (snappy, statistics everywhere) would be the floor of another writer, not of the stage.

    The reads are pyarrow's without pre-buffering, as the stages read (``drg.casefile.parquet``): with it,
    the same reads took up to 10 × longer on this machine, which would flatter every ratio.

    The seconds are those of the reads and writes alone (measured inside the child); the peak memory is the
    child's, which holds the output tables while it writes them. The start seconds are what the floor would
    add as a program of its own: an interpreter's start (:func:`python_start`) and the import of pyarrow,
    measured in the child. The stages' walls include their own start; the issue's ratio leaves the floor's
    out (the stricter measure), the second ratio (``*_over_floor_process``) puts it in.
    """
    spec = {"reads": [(str(p), c) for p, c in reads], "writes": [str(p) for p in writes]}
    _wall, peak, out = measured([sys.executable, "-c", FLOOR, json.dumps(spec)])
    for p in writes:
        Path(str(p) + ".floor.parquet").unlink(missing_ok=True)
    got = json.loads(out.strip().splitlines()[-1])
    return got["seconds"], peak, got["imports"] + python_start()


_PYTHON_START: list[float] = []


def python_start() -> float:
    """An interpreter's start and exit with nothing to do (the quickest of three), measured once a run."""
    if not _PYTHON_START:
        _PYTHON_START.append(min(measured([sys.executable, "-c", "pass"])[0] for _ in range(3)))
    return _PYTHON_START[0]


OUTPUTS_FLOOR = r'''
import sys, json, time
from concurrent.futures import ProcessPoolExecutor

import duckdb
import openpyxl
import pyarrow.parquet as pq
import xlsxwriter


def cells(path):
    # every sheet of a workbook the stage wrote, as rows of values (loaded before the clock starts)
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [(ws.title, [list(r) for r in ws.iter_rows(values_only=True)]) for ws in wb.worksheets]
    finally:
        wb.close()


def write_books(jobs):
    for path, sheets in jobs:
        wb = xlsxwriter.Workbook(path)
        for title, rows in sheets:
            ws = wb.add_worksheet(title)
            for i, row in enumerate(rows):
                ws.write_row(i, 0, row)
        wb.close()


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    outputs = [(pq.read_table(p), p + ".floor.parquet") for p in spec["parquet"]]
    books = [(p + ".floor.xlsx", cells(p)) for p in spec["workbooks"]]
    src = duckdb.connect(spec["ledger"], read_only=True)
    tables = {}
    for t in spec["tables"]:
        result = src.execute(f"SELECT * FROM {t}")
        tables[t] = (getattr(result, "to_arrow_table", None) or result.fetch_arrow_table)()   # (DuckDB 2 / 1)
    src.close()
    workers = max(1, min(spec["processes"], len(books)))
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(len, [[]] * workers))      # (the workers started before the clock, as the stage's are)
        t0 = time.perf_counter()
        for path, cols in spec["reads"]:
            pq.read_table(path, columns=cols, pre_buffer=False)
        for table, path in outputs:
            pq.write_table(table, path)
        list(pool.map(write_books, [books[i::workers] for i in range(workers)]))
        con = duckdb.connect(spec["ledger"] + ".floor.duckdb")
        con.execute("BEGIN TRANSACTION")
        for name, table in tables.items():
            con.register("t", table)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM t")
            con.unregister("t")
        con.execute("COMMIT")
        con.close()
        seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds}))
'''


def outputs_floor(reads: list[tuple[Path, list[str] | None]], parquet: list[Path], workbooks: list[Path],
                  ledger: Path, tables: list[str], processes: int) -> tuple[float, float]:
    """``drg settle``'s floor with every output it writes: pyarrow reading ``reads`` and writing ``parquet``
    again (as :func:`floor`), plain xlsxwriter writing the cells of every workbook in ``workbooks`` again (each
    sheet's values row by row, no formats, on ``processes`` processes as the stage uses), and DuckDB storing
    the rows the stage put in the ledger's ``tables`` into a new ledger file, in one transaction:
    ``(seconds, peak MB)``. pyarrow cannot write a workbook or a ledger row, so :func:`floor` leaves out
    most of what the stage writes; this one does not. The cells and rows are loaded before the clock starts."""
    spec = {"reads": [(str(p), c) for p, c in reads], "parquet": [str(p) for p in parquet],
            "workbooks": [str(p) for p in workbooks], "ledger": str(ledger), "tables": tables,
            "processes": processes}
    script = Path(str(ledger) + ".floor.py")
    script.write_text(OUTPUTS_FLOOR, encoding="utf-8")   # (a file: the worker processes import it)
    try:
        _wall, peak, out = measured([sys.executable, script, json.dumps(spec)])
    finally:
        script.unlink(missing_ok=True)
        for p in [*parquet, *workbooks]:
            Path(str(p) + ".floor.parquet").unlink(missing_ok=True)
            Path(str(p) + ".floor.xlsx").unlink(missing_ok=True)
        for suffix in (".floor.duckdb", ".floor.duckdb.wal"):
            Path(str(ledger) + suffix).unlink(missing_ok=True)
    return json.loads(out.strip().splitlines()[-1])["seconds"], peak


def _ledger_tables(ledger: Path) -> list[str]:
    """The ledger's tables that have rows (read right after ``drg settle``, before ``drg monitor`` adds its own)."""
    import duckdb

    con = duckdb.connect(str(ledger), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY table_name").fetchall()]
        return [n for n in names if con.execute(f"SELECT count(*) FROM {n}").fetchone()[0]]
    finally:
        con.close()


def _names(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).schema_arrow.names


QUICK_CASES = 40_000


def _cases(bench_cases: int) -> int:
    """Cases a year: the quick size is smaller here (five stages, three years, each its own process)."""
    return QUICK_CASES if bench_cases <= 200_000 else bench_cases


@pytest.fixture(scope="module")
def province(bench_dir, bench_cases) -> dict:
    """The synthetic province and its scheme; history years grouped (untimed)."""
    bench_cases = _cases(bench_cases)
    kept = os.environ.get("DRG_BENCH_PROVINCE")
    root = Path(kept) / f"province-{bench_cases}" if kept else bench_dir / "province"
    root.mkdir(parents=True, exist_ok=True)
    done = root / "ready.json"
    if done.exists():   # a province kept from an earlier run (DRG_BENCH_PROVINCE): not synthesized again
        return {k: Path(v) if k != "grouped" else {int(y): Path(g) for y, g in v.items()}
                for k, v in json.loads(done.read_text()).items()}
    rules, codes = SHARED / "schemes" / "CHS_DRG_11", SHARED / "codes" / "chs_drg_11"
    if rules.is_dir() and codes.is_dir():
        scheme = root / "chs11.scheme"
        measured([*_drg(), "scheme", "build", rules, "--codes", codes, "--out", scheme, "--json"])
        synth_scheme = ["--scheme", scheme]
    else:   # without ../shared: the shipped demo scheme
        scheme = root / "demo.scheme"
        from drg.synth.samples import schemes

        sample = schemes()["demo"]
        measured([*_drg(), "scheme", "build", sample.rules_dir, "--codes", sample.codes_dir, "--out", scheme,
                  "--json"])
        synth_scheme = ["--scheme", "demo"]
    city = root / "city"
    measured([*_drg(), "synth", "--out", city, "--cases", bench_cases * 3, "--years", "2023-2025", *synth_scheme,
              "--city", "demo" if bench_cases <= 1_000_000 else "province", "--quiet", "--json"])
    grouped = {}
    for y in HISTORY_YEARS:
        grouped[y] = root / f"grouped-{y}.parquet"
        measured([*_drg(), "group", "--scheme", scheme, "--cases", city / f"cases-{y}.parquet", "--out", grouped[y],
                  "--quiet", "--json"])
    province = {"root": root, "scheme": scheme, "city": city, "grouped": grouped}
    done.write_text(json.dumps({k: str(v) if k != "grouped" else {y: str(g) for y, g in v.items()}
                                for k, v in province.items()}))
    return province


def compiled_sources() -> None:
    """The project's modules compiled to bytecode before the clock, as an installed package has them. This
    machine (and CI) sets ``PYTHONDONTWRITEBYTECODE``, so without it every stage compiled the project's
    sources again at its start (about 0.05 s each, measured on `drg weights`' imports), while the floors
    import pyarrow from the compiled files pip wrote: an asymmetry of the environment, not of the stages."""
    import compileall

    import drg
    import grouper

    for package in (drg, grouper):
        compileall.compile_dir(Path(package.__file__).parent, quiet=2)


def run_pipeline(p: dict) -> dict[str, Stage]:
    """The five stages one after another, as a bureau runs them; then each stage's I/O floor.

    The floors come after every stage, not each after its own: the floors of `drg group` and `drg points`
    read their whole input into memory (5.9 and 8.5 GB at 10 M cases), and the stage run right after such a
    floor was slowed by it (at 10 M, `drg settle year` just after the points floor took 28.3 / 21.9 s,
    after a pause 21.8 / 17.9 s, alternating, 2026-12-05). The floors keep their own order."""
    from drg.pricing.coefficients import history_columns_read
    from drg.settlement.aggregates import priced_columns_read

    compiled_sources()
    root, city = p["root"], p["city"]
    work = root / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    runs: dict[str, Run] = {}
    floors: dict[str, tuple] = {}    # stage → (reads, writes) of its floor

    cases = city / f"cases-{YEAR}.parquet"
    grouped = work / f"grouped-{YEAR}.parquet"
    runs["group"] = measured_run([*_drg(), "group", "--scheme", p["scheme"], "--cases", cases, "--out", grouped,
                                  "--quiet", "--json"])
    floors["group"] = ([(cases, None)], [grouped])

    tables = work / "tables"
    runs["weights"] = measured_run([*_drg(), "weights",
                                    *sum((["--history", p["grouped"][y]] for y in HISTORY_YEARS), []),
                                    "--hospitals", city / "hospitals.parquet", "--policy", POLICY, "--out", tables,
                                    "--year", YEAR, "--json"])
    # the floors read exactly the columns the stages read (their own lists, from the files' schemas)
    floors["weights"] = ([(p["grouped"][y], history_columns_read(_names(p["grouped"][y]))) for y in HISTORY_YEARS],
                         sorted(tables.glob("*.parquet")))

    priced = work / f"priced-{YEAR}.parquet"
    runs["points"] = measured_run([*_drg(), "points", "--cases", grouped, "--tables", tables, "--policy", POLICY,
                                   "--out", priced, "--year", YEAR, "--json"])
    floors["points"] = ([(grouped, None)], [priced])

    ledger, out = work / "ledger.duckdb", work / "settle"
    runs["settle"] = measured_run([*_drg(), "settle", "year", "--year", YEAR, "--priced", priced,
                                   "--hospitals", city / "hospitals.parquet", "--budget", city / "budget.parquet",
                                   "--county-income", city / "county_income.parquet", "--policy", POLICY,
                                   "--ledger", ledger, "--out", out, "--json"])
    floors["settle"] = ([(priced, priced_columns_read(_names(priced)))], sorted(out.glob("*.parquet")))
    settle_tables = _ledger_tables(ledger)

    runs["monitor"] = measured_run([*_drg(), "monitor", "--ledger", ledger, "--period", str(YEAR), "--out",
                                    work / "monitor", "--json"])
    stages = {}
    for name, run in runs.items():
        seconds, peak, start = floor(*floors[name]) if name in floors else (None, None, None)
        stages[name] = Stage(name, run.wall_s, run.peak_mb, seconds, peak, sys_s=run.sys_s, faults=run.faults,
                             floor_start_s=start)
    from drg.reports.workbook import HELPER_MIN_BOOKS

    books = sorted((out / "current").resolve().rglob("*.xlsx"))     # (the run's own directory, no links)
    # (the stage writes its workbooks on two processes from HELPER_MIN_BOOKS on: drg.reports.workbook)
    processes = 2 if len(books) >= HELPER_MIN_BOOKS and (os.cpu_count() or 1) >= 2 else 1
    stages["settle"].all_floor_s, stages["settle"].all_floor_peak_mb = outputs_floor(
        *floors["settle"], books, ledger, settle_tables, processes)
    return stages


def test_province_year(benchmark, province, bench_cases):
    bench_cases = _cases(bench_cases)
    stages = benchmark.pedantic(run_pipeline, args=(province,), rounds=1, iterations=1)
    year = ("group", "weights", "points", "settle")
    total = sum(stages[s].wall_s for s in year)
    figures = {"cases_per_year": bench_cases, "year_total_s": round(total, 2),
               "peak_mb_max": round(max(s.peak_mb for s in stages.values()), 1)}
    for s in stages.values():
        figures[f"{s.name}_s"] = round(s.wall_s, 2)
        figures[f"{s.name}_peak_mb"] = round(s.peak_mb, 1)
        figures[f"{s.name}_sys_s"] = round(s.sys_s, 2)
        figures[f"{s.name}_page_faults"] = s.faults
        if s.floor_s:
            figures[f"{s.name}_floor_s"] = round(s.floor_s, 2)
            figures[f"{s.name}_floor_peak_mb"] = round(s.floor_peak_mb, 1)
            figures[f"{s.name}_over_floor"] = round(s.ratio, 2)
            figures[f"{s.name}_floor_start_s"] = round(s.floor_start_s, 3)
            figures[f"{s.name}_over_floor_process"] = round(s.process_ratio, 2)
        if s.all_floor_s:
            figures[f"{s.name}_all_outputs_floor_s"] = round(s.all_floor_s, 2)
            figures[f"{s.name}_all_outputs_floor_peak_mb"] = round(s.all_floor_peak_mb, 1)
            figures[f"{s.name}_over_all_outputs_floor"] = round(s.all_ratio, 2)
    record(benchmark, **figures)
    lines = [f"{'stage':<8} {'wall s':>8} {'peak MB':>9} {'floor s':>8} {'ratio':>6} {'ratio*':>6} {'sys s':>7} "
             f"{'faults':>9}"]
    for s in stages.values():
        lines.append(f"{s.name:<8} {s.wall_s:8.2f} {s.peak_mb:9.0f} {(s.floor_s or 0):8.2f} {(s.ratio or 0):6.2f} "
                     f"{(s.process_ratio or 0):6.2f} {s.sys_s:7.2f} {s.faults:9,}")
    lines.append(f"{'year':<8} {total:8.2f}   (group + weights + points + settle; {bench_cases:,} cases)")
    lines.append("ratio*: against the floor as a program of its own (an interpreter's start and pyarrow's import "
                 "added to it, as the stage's own are in its wall)")
    settle = stages["settle"]
    if settle.all_floor_s:
        lines.append(f"settle with every output in its floor (workbooks by xlsxwriter, ledger rows by DuckDB): "
                     f"floor {settle.all_floor_s:.2f} s, ratio {settle.all_ratio:.2f}")
    print("\n" + "\n".join(lines))
