"""Settlement runs: the monthly batch job (月度预付) and the annual run (年度清算) of every pool, from priced
case files to a recorded, checked :class:`drg.settlement.records.SettlementResult`.

The library entry points are :func:`settle_year`, :func:`settle_month` and :func:`settle_months`; they read
the priced files once (:mod:`drg.settlement.aggregates`), settle each pool (:mod:`.annual`, :mod:`.monthly`,
county accounts in :mod:`.pools`), check the invariants (:mod:`.invariants`), raise the warnings
(:mod:`.monitoring`), record the run in the ledger (:mod:`.ledger`) and write ``hospitals.parquet`` /
``counties.parquet`` only once the ledger has committed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as replace_field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from drg.errors import InputError
from drg.money import apply_ratio, units_to_decimal, yuan_text
from drg.policy import Policy, load_policy
from drg.pricing.adjustments import hospital_total
from drg.casefile.tables import read_budget, read_county_income, read_hospitals
from drg.settlement.pools import ALL_POOLS, county_accounts, pool_budget
from drg.settlement.records import write_frame, CaseAggregates, HospitalInput, InputFile, PoolResult, SettlementResult, SettlementWarning, SummedPriced, county_schema, hospital_schema, concat_frames, county_frame, empty_frame, hospital_frame
from drg.settlement.periods import parse_month, parse_period  # noqa: F401 - parse_period: the name runs has always offered
from drg.settlement.aggregates import hospital_inputs, hospital_stats, prev_year_cmi, prev_year_spending, read_priced
from drg.settlement.annual import annual_pool
from drg.settlement.monthly import monthly_pool, provisional_point_value
from drg.settlement.invariants import check_invariants
from drg.settlement.monitoring import pool_warnings

__all__ = ['StatementOptions', 'settle_year', 'settle_month', 'settle_months']


# ----------------------------------------------------------------------------------------------- helpers
def _as_policy(policy: Policy | str | Path) -> Policy:
    return policy if isinstance(policy, Policy) else load_policy(policy)


def _paths(priced) -> list[Path]:
    if isinstance(priced, (str, Path)):
        return [Path(priced)]
    return [Path(p) for p in priced]


def _last_year_pv(arg, pools: Iterable[str]) -> dict[str, Fraction]:
    """``last_year_pv`` given by the caller: one value for all pools, or pool → value; yuan per point
    (Decimal/str/float/int) or an exact :class:`Fraction` of **fen** per point."""
    if arg is None:
        return {}

    def conv(v):
        if isinstance(v, Fraction):
            return v
        if isinstance(v, float):
            v = repr(v)
        return Fraction(Decimal(str(v))) * 100

    if isinstance(arg, Mapping):
        return {str(k): conv(v) for k, v in arg.items()}
    return {p: conv(arg) for p in pools}


@dataclass
class _Context:
    policy: Policy
    agg: CaseAggregates
    budget: dict | None
    income: dict | None
    hospitals: dict
    inputs: list[InputFile]
    ledger: Any
    insurance_types: tuple[str, ...]
    last_pv: dict[str, Fraction]
    month_cache: dict = field(default_factory=dict)
    ledger_cache: dict = field(default_factory=dict)   # last year's figures read from the ledger, once a run

    def from_ledger(self, key: tuple, read):
        """``read()`` from the ledger once per run (last year's spending and CMI do not change during it)."""
        if key not in self.ledger_cache:
            self.ledger_cache[key] = read()
        return self.ledger_cache[key]


def _prepare(priced, hospitals, budget, county_income, policy, year, ledger, last_year_pv,
             kind: str, period: str, replace: bool, strict: bool = False) -> _Context:
    pol = _as_policy(policy)
    summed = priced if isinstance(priced, SummedPriced) else None   # reduced elsewhere (drg.distributed)
    paths = [] if summed is not None else _paths(priced)
    led = None
    if ledger is not None:
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        if not replace and led.has_run(kind, period):
            raise InputError(f"{kind} {period} is already in the ledger; use --replace to run it again",
                             file=str(led.path))
    inputs = (list(summed.inputs) if summed is not None
              else [InputFile.of("priced", p) for p in paths if Path(p).exists()])
    for role, p in (("hospitals", hospitals), ("budget", budget), ("county_income", county_income)):
        if p is not None:
            if not Path(p).exists():
                raise InputError(f"{role} file not found", file=str(p))
            inputs.append(InputFile.of(role, p))
    if pol.path and Path(pol.path).exists():
        inputs.append(InputFile.of("policy", pol.path))
    agg = read_priced(paths, year, pol) if summed is None else summed.aggregates_for(year)
    import polars as pl

    if agg.rejects is not None and agg.rejects.height:
        r = agg.rejects.row(0, named=True)
        if strict:
            raise InputError(f"{agg.rejects.height:,} priced row(s) cannot be settled (the first: {r['file']} row "
                             f"{r['row_number']}, {r['reject_detail']}); the run is refused under --strict",
                             file=r["file"], row=r["row_number"])

    bud = read_budget(budget) if budget is not None else None
    # pool "all" sums the budget rows of every insurance type the table has for the year
    types = tuple(sorted({t for (y, t) in (bud or {}) if y == year}))
    pools = sorted(agg.by_month.filter(pl.col("year") == year)["pool"].unique().to_list())
    last = _last_year_pv(last_year_pv, pools)
    if led is not None:
        for p, v in led.point_values(year - 1, kind="year").items():
            last.setdefault(p, v)
    return _Context(pol, agg, bud, read_county_income(county_income) if county_income is not None else None,
                    read_hospitals(hospitals) if hospitals is not None else {}, inputs, led, types, last)


def _budget_of(ctx: _Context, pool: str, year: int, budget_file) -> tuple[int, str]:
    spending = None
    if ctx.ledger is not None:
        spending = ctx.from_ledger(("spending", year - 1), lambda: ctx.ledger.fund_spending(year - 1)).get(pool)
    if spending is None:
        spending = prev_year_spending(ctx.agg, pool)
    return pool_budget(ctx.budget, year, pool, insurance_types=ctx.insurance_types,
                       growth_rate=ctx.policy.budget.growth_rate, last_year_spending_fen=spending,
                       file=None if budget_file is None else str(budget_file))


def _unknown_hospital_warnings(ctx: _Context, pool: str, ids: Iterable[str]) -> list[SettlementWarning]:
    if not ctx.hospitals:
        return []
    return [SettlementWarning("unknown_hospital", pool, h, f"hospital {h} is not in the hospitals table")
            for h in sorted(ids) if h not in ctx.hospitals]


def _last_cmi(ctx: _Context, pool: str, year: int) -> dict[str, float]:
    cmi = prev_year_cmi(ctx.agg, pool)
    if ctx.ledger is not None:
        for h, v in ctx.from_ledger(("cmi", year - 1, pool), lambda: ctx.ledger.hospital_cmi(year - 1, pool)).items():
            cmi.setdefault(h, v)
    return cmi


@dataclass(frozen=True)
class StatementOptions:
    """Where and how a run writes what people read (:func:`drg.reports.statements.write_statements`): the
    base directory (statements under ``statements/PERIOD/``, the city summary beside), the language, and
    whether this run writes the city summary (a range of months writes it once, with its last month)."""

    directory: Path
    lang: str = "zh"
    city_summary: bool = True

    @classmethod
    def of(cls, statements) -> StatementOptions | None:
        if statements is None or isinstance(statements, StatementOptions):
            return statements
        return cls(Path(statements))


def _finish(result: SettlementResult, ctx: _Context, out, replace: bool, statements=None) -> SettlementResult:
    """Check the run, write its files into run directories of their own, record it in the ledger (with those
    directories), then make them current (:mod:`drg.settlement.rundirs`): the ledger rows and every file of
    the run are all old or all new, whenever the run is stopped."""
    import uuid

    from drg.outputs import writing
    from drg.settlement import rundirs

    rejects = ctx.agg.rejects
    if rejects is not None and rejects.height:
        cost, fund = int(rejects["total_cost_fen"].sum()), int(rejects["fund_paid_fen"].sum())
        result.warnings.append(SettlementWarning(
            "rejected_rows", "all", "all", f"{rejects.height:,} priced row(s) could not be settled and are left out "
            f"of this run (total cost {units_to_decimal(cost, 100)} yuan, fund paid {units_to_decimal(fund, 100)} "
            f"yuan; reasons: {', '.join(sorted(set(rejects['reject_reason'].to_list())))}): every pool's point "
            f"value moves without them. They are in the ledger (run_rejects); --strict refuses such a run",
            value=float(rejects.height)))
    check_invariants(result)
    run_id = f"{result.kind}-{result.period}-{uuid.uuid4().hex[:12]}"
    if ctx.ledger is not None:
        result.run_id = run_id      # the statements name the run they belong to (it commits below, or nothing does)
    opts = StatementOptions.of(statements)
    bases = [(role, Path(b)) for role, b in (("out", out), ("statements", opts and opts.directory)) if b is not None]
    staged: list[Path] = []
    try:
        run_dirs: dict[Path, Path] = {}
        for role, base in bases:
            key = base.resolve()
            if key not in run_dirs:       # (--out and --statements may name the same directory)
                with writing(base):
                    base.mkdir(parents=True, exist_ok=True)
                    rundirs.recover(base, ctx.ledger)
                    run_dirs[key] = rundirs.stage(base, run_id)
                staged.append(base)
            run_dir = run_dirs[key]
            if role == "out":
                _write_outputs(result, run_dir)
            else:
                from drg.reports.statements import write_statements

                with writing(run_dir):
                    rundirs.link_other_periods(base, run_dir, result.period)
                    files = write_statements(result, run_dir, priced=ctx.agg.files, ledger=ctx.ledger,
                                             lang=opts.lang, city_summary=opts.city_summary)
                result.statement_files = {"statements": [_stable(p, run_dir, base) for p in files["statements"]],
                                          **{k: _stable(v, run_dir, base) for k, v in files.items()
                                             if k != "statements"}}
        if ctx.ledger is not None:
            roles = {}
            for role, base in bases:
                roles.setdefault(str(base.resolve()), role)
            result.run_id = ctx.ledger.record(result, replace=replace, run_id=run_id,
                                              outputs=[(role, path) for path, role in roles.items()])
    except BaseException:
        for base in staged:
            rundirs.discard(base, run_id)
        raise
    for base in staged:   # after the commit: a kill from here on is put right by the next run's recover
        with writing(base):
            rundirs.publish(base, run_id)
    for role, base in bases:
        if role == "out":
            for name in ("hospitals", "counties"):
                result.out_files[name] = str(base / f"{name}.parquet")
    return result


def _stable(path: str, run_dir: Path, base: Path) -> str:
    """A file's path in a run directory as readers find it: through ``BASE/`` (the stable links)."""
    return str(base / Path(path).relative_to(run_dir))


def _write_outputs(result: SettlementResult, run_dir: Path) -> None:
    """``hospitals.parquet`` and ``counties.parquet`` of the run, in its own directory."""
    from drg.outputs import writing

    for name, frame in (("hospitals", result.hospitals), ("counties", result.counties)):
        with writing(run_dir / f"{name}.parquet"):
            write_frame(frame, run_dir / f"{name}.parquet")


# ----------------------------------------------------------------------------------------------- runs
def settle_year(priced: str | Path | Sequence[str | Path], hospitals: str | Path | None,
                budget: str | Path | None, county_income: str | Path | None, policy: Policy | str | Path,
                year: int, *, ledger: Any = None, out: str | Path | None = None, replace: bool = False,
                last_year_pv: Any = None, scheme_id: str | None = None,
                prepaid: str | Mapping[tuple[str, str], int] = "auto", statements: str | Path | None = None,
                strict: bool = False) -> SettlementResult:
    """The annual settlement (年度清算) of ``year`` for every pool (SPEC §6, §7, §8).

    Parameters
    ----------
    priced : path or list of paths
        Priced-case Parquet files (``drg points``); cases are placed by discharge date. Cases of
        ``year − 1`` in them serve last year's CMI and, without a budget row, last year's fund spending.
    hospitals, budget, county_income : path or None
        The input tables of CONTRACT.md. ``budget`` may lack the year (then last year's fund DRG spending ×
        (1 + ``budget.growth_rate``)); ``county_income`` None skips the county accounts.
    policy : Policy, profile name or path
    year : int
    ledger : path or :class:`drg.settlement.ledger.Ledger`, optional
        Record the run; a year already there is refused unless ``replace``.
    out : directory, optional
        Write ``hospitals.parquet`` and ``counties.parquet`` there (``OUT/runs/RUN_ID/``, made current once
        the ledger commits: :mod:`drg.settlement.rundirs`).
    statements : directory or :class:`StatementOptions`, optional
        Write the hospital statements, the city summary and its chart there, the same way (language and
        whether to write the city summary in the options).
    strict : bool
        Refuse the run when a priced row cannot be settled (by default such rows are left out, recorded in
        the ledger with the run, and raised as a warning naming their count and money).
    last_year_pv : optional
        Last year's point value (yuan per point, one value or pool → value) for the §9 warning and the
        recomputed prepayments under ``provisional_pv = last_year``; defaults to the ledger's.
    prepaid : "auto", "ledger", "recompute", "none" or mapping (pool, hospital) → fen
        Where the year's prepayments come from. ``auto``: the ledger's monthly runs of the year when there
        are any, else recomputed from the priced cases as twelve monthly runs would have paid them.

    Returns
    -------
    SettlementResult

    Raises
    ------
    InputError
        Bad or missing input (file, row, field named), a period already in the ledger.
    InvariantError
        A money invariant failed; nothing is written.
    """
    import polars as pl

    period = str(year)
    ctx = _prepare(priced, hospitals, budget, county_income, policy, year, ledger, last_year_pv, "year", period,
                   replace, strict)
    pol, agg = ctx.policy, ctx.agg
    pools = sorted(agg.by_month.filter(pl.col("year") == year)["pool"].unique().to_list())
    warnings: list[SettlementWarning] = []
    pool_results: dict[str, PoolResult] = {}
    hframes, cframes = [], []
    prepaid_map, source = _prepaid(ctx, pools, year, prepaid, budget, warnings)
    for pool in pools:
        b, bsrc = _budget_of(ctx, pool, year, budget)
        hin = hospital_inputs(agg, pool, range(1, 13), year)
        for (pp, hid), fen in prepaid_map.items():
            if pp == pool and hid not in hin:
                hin[hid] = HospitalInput(hid, 0)
        hin = {h: HospitalInput(v.hospital_id, v.adjusted_units, v.deduction_units, v.self_paid, v.total_cost,
                                v.cases, prepaid_map.get((pool, h), 0)) for h, v in hin.items()}
        pres, rows = annual_pool(pool, b, list(hin.values()), pol, budget_source=bsrc)
        # §8 county accounts
        if ctx.income is not None:
            bc = agg.by_county.filter(pl.col("pool") == pool)
            cpts = {(r["hospital_id"], r["county"]): int(r["adj_u"]) for r in
                    bc.group_by(["hospital_id", "county"]).agg(pl.col("adj_u").sum()).iter_rows(named=True)}
            csp = {r["county"]: int(r["selfpay"]) for r in
                   bc.group_by("county").agg(pl.col("selfpay").sum()).iter_rows(named=True)}
            inc = _pool_income(ctx, year, pool)
            accounts, used = county_accounts(
                pres.distributable, {r["hospital_id"]: r["points_units"] for r in rows}, cpts, csp, inc,
                alpha=pol.county.gap_city_share, reserve_left_fen=pres.reserve_left,
                includes_self_pay=pol.budget.point_value_includes_self_pay)
            pres = _replace(pres, reserve_to_counties=used, reserve_left=pres.reserve_left - used)
            cframes.append(county_frame("year", period, pool, accounts, pol.points_scale))
            short = [a for a in accounts if a.claim > a.city_share]
            if short:
                warnings.append(SettlementWarning(
                    "reserve_short", pool, "pool", f"pool {pool}: the reserve left ({yuan_text(pres.reserve_left + used)} "
                    f"yuan) does not cover the city's share of county gaps ({yuan_text(sum(a.claim for a in accounts))} "
                    f"yuan); split by largest remainder"))
        pool_results[pool] = pres
        stats = hospital_stats(agg, pool, range(1, 13), year)
        hframes.append(hospital_frame("year", period, pool, rows, pres.point_value, pol.points_scale,
                                       ctx.hospitals, stats))
        warnings += _unknown_hospital_warnings(ctx, pool, hin)
        for r in rows:
            if r["undeducted_units"]:
                warnings.append(SettlementWarning(
                    "undeducted", pool, r["hospital_id"], f"hospital {r['hospital_id']} pool {pool}: "
                    f"{units_to_decimal(r['undeducted_units'], pol.points_scale)} points of deductions could not "
                    f"be taken (total floored at 0)"))
            if r["fund_payment"] < 0:
                warnings.append(SettlementWarning(
                    "recovery", pool, r["hospital_id"], f"hospital {r['hospital_id']} pool {pool}: fund payment "
                    f"{yuan_text(r['fund_payment'])} yuan is negative (self-pay above entitlement): recovery"))
        warnings += pool_warnings("year", pool, 12, pres, agg, pol, ctx.last_pv.get(pool), _last_cmi(ctx, pool, year),
                                stats, b)
    result = SettlementResult(
        kind="year", period=period, year=year, month=None, policy_id=pol.id,
        scheme_id=scheme_id or agg.scheme_id or pol.scheme, pools=pool_results,
        hospitals=concat_frames(hframes, hospital_schema()), counties=concat_frames(cframes, county_schema()),
        warnings=warnings, inputs=ctx.inputs, aggregates=agg, prepaid_source=source,
        includes_self_pay=pol.budget.point_value_includes_self_pay, monitoring=_monitoring_inputs(ctx))
    return _finish(result, ctx, out, replace, statements)


def _monitoring_inputs(ctx: _Context) -> dict:
    """What the ledger keeps of the run's inputs for monitoring (drg.monitoring.store): the hospitals table
    and the county income rows."""
    return {"hospitals": ctx.hospitals, "county_income": ctx.income or {}}


def _replace(p: PoolResult, **kw) -> PoolResult:
    from dataclasses import replace

    return replace(p, **kw)


def _pool_income(ctx: _Context, year: int, pool: str) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for (y, t, c), (i, o) in (ctx.income or {}).items():
        if y == year and (pool == ALL_POOLS or t == pool):
            a, b = out.get(c, (0, 0))
            out[c] = (a + i, b + o)
    return out


def _prepaid(ctx: _Context, pools, year, prepaid, budget_file, warnings) -> tuple[dict, str]:
    if isinstance(prepaid, Mapping):
        return {(str(p), str(h)): int(v) for (p, h), v in prepaid.items()}, "given"
    if prepaid == "none":
        return {}, "none"
    if prepaid in ("auto", "ledger") and ctx.ledger is not None:
        got, months = ctx.ledger.prepayments(year)
        if months or prepaid == "ledger":
            missing = [m for m in range(1, 13) if m not in months]
            if missing:
                warnings.append(SettlementWarning(
                    "months_missing", "all", "pool", f"the ledger has no monthly run of {year} for month(s) "
                    f"{', '.join(map(str, missing))}: nothing was prepaid for them"))
            return got, "ledger"
    if prepaid == "ledger":
        raise InputError("prepaid = ledger needs a ledger")
    if prepaid not in ("auto", "recompute"):
        raise InputError(f"prepaid must be auto, ledger, recompute or none, got {prepaid!r}")
    out: dict[tuple[str, str], int] = {}
    for pool in pools:
        b, _ = _budget_of(ctx, pool, year, budget_file)
        for m in range(1, 13):
            rows, _pres = _month_rows(ctx, pool, year, m, b)
            for r in rows:
                key = (pool, r["hospital_id"])
                out[key] = out.get(key, 0) + r["prepaid"]
    return out, "recomputed"


def _month_inputs(ctx: _Context, pool: str, year: int) -> dict[int, dict[str, HospitalInput]]:
    """month → hospital → its sums in ``pool`` (built once per pool and cached on the context)."""
    import polars as pl

    key = (pool, year)
    if key not in ctx.month_cache:
        bm = ctx.agg.by_month.filter((pl.col("pool") == pool) & (pl.col("year") == year))
        out: dict[int, dict[str, HospitalInput]] = {m: {} for m in range(1, 13)}
        for r in bm.iter_rows(named=True):
            out[r["month"]][r["hospital_id"]] = HospitalInput(
                r["hospital_id"], int(r["adj_u"]), int(r["ded_u"]), int(r["selfpay"]), int(r["total_cost"]),
                int(r["cases"]))
        ctx.month_cache[key] = out
    return ctx.month_cache[key]


def _month_rows(ctx: _Context, pool: str, year: int, month: int, budget_fen: int,
                warnings: list[SettlementWarning] | None = None) -> tuple[list[dict], PoolResult]:
    pol = ctx.policy
    scale = pol.points_scale
    reserve = apply_ratio(budget_fen, pol.budget.reserve_ratio)
    by_month = _month_inputs(ctx, pool, year)
    month_in = by_month[month]
    ytd_units = ytd_s = 0
    for m in range(1, month + 1):
        ytd_units += sum(hospital_total(h.adjusted_units, h.deduction_units)[0] for h in by_month[m].values())
        ytd_s += sum(h.self_paid for h in by_month[m].values())
    pp = pol.prepayment
    if pp.provisional_pv == "budget_pace" and ytd_units == 0:
        # no points yet this year: every amount from points is 0 whatever the value; 0 is recorded
        pv = Fraction(0)
        if warnings is not None:
            warnings.append(SettlementWarning(
                "no_points", pool, "pool", f"pool {pool}: no points in {year} through month {month}; the "
                f"provisional point value is recorded as 0 and nothing is prepaid"))
    else:
        pv = provisional_point_value(pp.provisional_pv, month=month, budget_fen=budget_fen, reserve_fen=reserve,
                                     ytd_self_pay=ytd_s, ytd_points_units=ytd_units, scale=scale,
                                     includes_self_pay=pol.budget.point_value_includes_self_pay,
                                     last_year_pv=ctx.last_pv.get(pool), factor=pp.factor)
    rows = monthly_pool(pool, month, list(month_in.values()), pv, pol)
    pres = PoolResult(pool=pool, budget=budget_fen, budget_source="", reserve=reserve, self_pay=ytd_s,
                      distributable=sum(r["entitlement"] for r in rows), total_points_units=ytd_units, point_value=pv,
                      provisional_method=pp.provisional_pv, cases=sum(r["cases"] for r in rows),
                      fund_payments=sum(r["fund_payment"] for r in rows), prepaid=sum(r["prepaid"] for r in rows),
                      reserve_to_hospitals=0, reserve_to_counties=0, reserve_left=reserve,
                      undeducted_units=sum(r["undeducted_units"] for r in rows), scale=scale)
    return rows, pres


def settle_month(priced: str | Path | Sequence[str | Path], hospitals: str | Path | None,
                 budget: str | Path | None, county_income: str | Path | None, policy: Policy | str | Path,
                 period: str, *, ledger: Any = None, out: str | Path | None = None, replace: bool = False,
                 last_year_pv: Any = None, scheme_id: str | None = None, statements: str | Path | None = None,
                 strict: bool = False) -> SettlementResult:
    """A monthly run (月度预付) for ``period`` = ``"YYYY-MM"`` (SPEC §6, §9).

    The priced files hold the year's cases to date (later months are ignored). Per pool: the provisional
    point value (``prepayment.provisional_pv``), each hospital's month points after deductions, provisional
    fund amount ``F_{h,m}``, prepayment and the part carried to the year end (``balance``), and the
    monitoring warnings of §9. ``county_income`` is read and hashed into the ledger when given, but county
    accounts are annual: a monthly run's ``counties`` frame is empty.
    Same parameters and errors as :func:`settle_year`.
    """
    year, month = parse_month(period)
    period = f"{year:04d}-{month:02d}"
    ctx = _prepare(priced, hospitals, budget, county_income, policy, year, ledger, last_year_pv, "month", period,
                   replace, strict)
    return _month_run(ctx, year, month, budget, out=out, replace=replace, scheme_id=scheme_id, statements=statements)


def settle_months(priced: str | Path | Sequence[str | Path], hospitals: str | Path | None,
                  budget: str | Path | None, county_income: str | Path | None, policy: Policy | str | Path,
                  year: int, *, months: Iterable[int] = range(1, 13), ledger: Any = None,
                  out: str | Path | None = None, replace: bool = False, last_year_pv: Any = None,
                  scheme_id: str | None = None, statements: str | Path | None = None,
                  strict: bool = False) -> list[SettlementResult]:
    """Several monthly runs of ``year`` from one read of the priced files (the same results, run by run, as
    :func:`settle_month` for each period). Each month is its own run in the ledger (its own transaction);
    ``out`` gets one sub-directory per period (``out/2025-03/``). Periods already in the ledger are refused
    before anything is computed unless ``replace``. The statements of each month go to their own directory
    under ``statements`` too (``statements/2025-03/``); the city summary is written once, with the last month.
    """
    months = sorted(set(int(m) for m in months))
    periods = [f"{year:04d}-{m:02d}" for m in months]
    if ledger is not None and not replace:
        from drg.settlement.ledger import Ledger

        led = ledger if isinstance(ledger, Ledger) else Ledger(ledger)
        done = [p for p in periods if led.has_run("month", p)]
        if done:
            raise InputError(f"month {done[0]} is already in the ledger; use --replace to run it again",
                             file=str(led.path))
        ledger = led
    ctx = _prepare(priced, hospitals, budget, county_income, policy, year, ledger, last_year_pv, "month",
                   periods[0], True, strict)
    opts = StatementOptions.of(statements)
    return [_month_run(ctx, year, m, budget, out=None if out is None else Path(out) / p, replace=replace,
                       scheme_id=scheme_id,
                       statements=opts and replace_field(opts, directory=opts.directory / p,
                                                         city_summary=opts.city_summary and m == months[-1]))
            for m, p in zip(months, periods)]


def _month_run(ctx: _Context, year: int, month: int, budget, *, out, replace: bool,
               scheme_id: str | None, statements=None) -> SettlementResult:
    import polars as pl

    period = f"{year:04d}-{month:02d}"
    pol, agg = ctx.policy, ctx.agg
    pools = sorted(agg.by_month.filter((pl.col("year") == year) & (pl.col("month") <= month))["pool"]
                   .unique().to_list())
    if not pools:
        raise InputError(f"no priced case discharged in {year} up to month {month}", file=", ".join(agg.files))
    warnings: list[SettlementWarning] = []
    if ctx.ledger is not None and ctx.ledger.has_run("year", str(year)):
        warnings.append(SettlementWarning(
            "annual_exists", "all", "pool", f"the annual settlement of {year} is already in the ledger; it used "
            f"the prepayments recorded then — run it again with --replace if this month's prepayments changed"))
    pool_results: dict[str, PoolResult] = {}
    hframes = []
    for pool in pools:
        b, bsrc = _budget_of(ctx, pool, year, budget)
        rows, pres = _month_rows(ctx, pool, year, month, b, warnings)
        pres = _replace(pres, budget_source=bsrc)
        pool_results[pool] = pres
        stats = hospital_stats(agg, pool, [month], year)
        ytd_stats = hospital_stats(agg, pool, range(1, month + 1), year)
        hframes.append(hospital_frame("month", period, pool, rows, pres.point_value, pol.points_scale,
                                       ctx.hospitals, stats))
        warnings += _unknown_hospital_warnings(ctx, pool, [r["hospital_id"] for r in rows])
        for r in rows:
            if r["fund_payment"] < 0:
                warnings.append(SettlementWarning(
                    "negative_month", pool, r["hospital_id"], f"hospital {r['hospital_id']} pool {pool}: provisional "
                    f"fund amount {yuan_text(r['fund_payment'])} yuan is negative: carried to the year end"))
        warnings += pool_warnings("month", pool, month, pres, agg, pol, ctx.last_pv.get(pool),
                                _last_cmi(ctx, pool, year), ytd_stats, b)
    result = SettlementResult(
        kind="month", period=period, year=year, month=month, policy_id=pol.id,
        scheme_id=scheme_id or agg.scheme_id or pol.scheme, pools=pool_results,
        hospitals=concat_frames(hframes, hospital_schema()), counties=empty_frame(county_schema()),
        warnings=warnings, inputs=ctx.inputs, aggregates=agg,
        includes_self_pay=pol.budget.point_value_includes_self_pay, monitoring=_monitoring_inputs(ctx))
    return _finish(result, ctx, out, replace, statements)
