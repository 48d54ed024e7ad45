"""Known truth for the audit (``drg synth --plant``): behaviours a bureau's intelligent monitoring (智能监控) looks
for, planted in the synthetic city's last year, each at a realistic prevalence, with the truth written beside
the cases (``truth.parquet``).

What is planted, each at hospitals of its own (chosen from the seed among the hospitals with at least
``min_hospital_share`` of the year's cases), so that one behaviour never hides another:

=================  =========================================================================================
behaviour          how
=================  =========================================================================================
``upcoding``       高套分组: a hospital adds one favourite MCC secondary code (drawn from the scheme's MCC table,
                   not a newborn's, pregnancy's or one sex's diagnosis, never one the case's principal diagnosis
                   excludes) to ``upcoding_share`` of its cases in ADRGs whose MCC group is worth more than the
                   case's own (the rational target; not pre-MDC or multiple-trauma groups); the cost stays that
                   of the case's true group. Truth: the coded cases.
``split``          分解住院: a hospital cuts ``split_share`` of its stays of 4 days or more (not newborns'
                   nor multiple trauma, which the synthetic city's codes seldom let the grouper group) in two
                   (or three, ``split_chain_share``): the patient is discharged and admitted again the same day
                   (the next day for ``split_next_day_share``), every part coded as the whole stay, the cost shared
                   between the parts plus 5–20 % of duplicated admission costs. ``split_transfer_share`` of
                   the cuts send the second part to a partner hospital as a transfer (离院方式 2). Truth: the
                   second (and third) parts, with the other parts as related cases.
``duplicate``      重复结算: hospitals claim ``duplicate_share`` of their stays twice under a new settlement id
                   (half of the copies with the cost changed by up to 3 %). Truth: both claims of each pair.
``low_standard``   低标准入院: a hospital admits ``low_standard_share`` × the year's cases of patients who could
                   have been treated as outpatients: stays of 1–2 days costing 10–30 % of the mean of the
                   cheapest medical DRG the principal diagnosis may be grouped into, discharged home, copying
                   the codes of this year's medical cases without a procedure whose principal diagnosis was
                   treated in at most 3 days at least half of the time last year (not multiple trauma, newborn
                   or sex-specific; without a last year: medical DRGs whose typical stay is at most 3 days).
                   A city without such care gets none (the summary's ``notes`` says so). Truth: those stays.
``cost_shift``     转嫁费用: a hospital moves 30–50 % of the fund's share of ``cost_shift_share`` of its cases
                   onto the patient (self-pay). Truth: those cases.
=================  =========================================================================================

No behaviour exceeds ``max_prevalence`` (2 %) of the year's cases; money stays exact in fen (``fund + self +
other = total`` on every row). Without planting, :func:`drg.synth.city.synthesize` writes exactly what it
always wrote: planting reads the year's file back, rewrites it, and draws from a random stream of its own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pyarrow as pa

from drg.errors import InputError, read_toml

__all__ = ["BEHAVIOURS", "PlantSettings", "TRUTH_SCHEMA", "plant_year", "write_truth"]

#: The planted behaviours, in the order they are planted.
BEHAVIOURS = ("cost_shift", "upcoding", "split", "duplicate", "low_standard")

#: ``truth.parquet``: one row per planted case.
TRUTH_SCHEMA = pa.schema([("case_id", pa.string()), ("behaviour", pa.string()), ("hospital_id", pa.string()),
                          ("year", pa.int32()), ("related", pa.list_(pa.string())), ("note", pa.string())])


@dataclass(frozen=True)
class PlantSettings:
    """What ``--plant`` plants (``--plant-settings TOML`` overrides any field; docs/audit.md)."""

    years: tuple[int, ...] = ()           # empty: the city's last year
    min_hospital_share: float = 0.04
    max_prevalence: float = 0.02
    upcoding_hospitals: int = 1
    upcoding_share: float = 0.4
    upcoding_min_gain: float = 1.15       # the MCC group's mean cost over the true group's
    split_hospitals: int = 1
    split_share: float = 0.12
    split_min_los: int = 4
    split_chain_share: float = 0.15
    split_transfer_share: float = 0.15
    split_next_day_share: float = 0.3
    duplicate_hospitals: int = 2
    duplicate_share: float = 0.03
    low_standard_hospitals: int = 1
    low_standard_share: float = 0.004
    low_standard_max_typical_los: float = 3.0
    cost_shift_hospitals: int = 1
    cost_shift_share: float = 0.4
    cost_shift_fraction: tuple[float, float] = (0.3, 0.5)

    @classmethod
    def load(cls, path: str | Path) -> PlantSettings:
        path = Path(path)
        raw = read_toml(path, "plant settings file")
        known = {f.name for f in fields(cls)}
        for key in raw:
            if key not in known:
                raise InputError(f"unknown key {key!r}; known keys: {sorted(known)}", file=str(path), field=key)
        values = dict(raw)
        for key in ("years", "cost_shift_fraction"):
            if key in values:
                values[key] = tuple(values[key])
        out = cls(**values)
        out.validate(str(path))
        return out

    def validate(self, source: str = "plant settings") -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name.endswith("_share") or f.name in ("max_prevalence", "min_hospital_share"):
                if not 0.0 <= v <= 1.0:
                    raise InputError("must be between 0 and 1", file=source, field=f.name)
            elif f.name.endswith("_hospitals") and (not isinstance(v, int) or v < 0):
                raise InputError("must be a whole number ≥ 0", file=source, field=f.name)
        lo, hi = self.cost_shift_fraction
        if not 0.0 <= lo <= hi <= 1.0:
            raise InputError("must be two fractions lo ≤ hi", file=source, field="cost_shift_fraction")

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


class _Year:
    """The year's cases as arrays (money in fen), with room for the rows planting adds."""

    _ARRAYS = ("hosp", "d", "admit", "discharge", "status", "total", "fund", "self_", "other", "age", "employee")
    _LISTS = ("case_id", "patient", "county", "dx")

    def __init__(self, table: pa.Table, city, next_seq: int, settings: PlantSettings) -> None:
        self.table = table
        self.city = city
        self.n0 = n = table.num_rows
        cap = n + int(4 * settings.max_prevalence * n) + 16      # every behaviour adds at most 2 % × 2 rows
        hosp_index = {h: i for i, h in enumerate(city.hosp_ids)}
        drg_of = {d: i for i, d in enumerate(city.cat.drgs)}

        def arr(values, dtype=np.int64) -> np.ndarray:
            out = np.zeros(cap, dtype)
            out[:n] = values
            return out

        def num(c: str) -> np.ndarray:
            return table.column(c).to_numpy(zero_copy_only=False)

        def days(c: str) -> np.ndarray:
            return table.column(c).cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)

        self.hosp = arr([hosp_index[h] for h in table.column("hospital_id").to_pylist()])
        self.d = arr([drg_of.get(x, -1) for x in table.column("drg").to_pylist()])
        self.admit, self.discharge = arr(days("admit_date")), arr(days("discharge_date"))
        self.status = arr(np.nan_to_num(num("discharge_status").astype(np.float64), nan=1).astype(np.int64))
        self.total, self.fund = arr(np.rint(num("total_cost") * 100)), arr(np.rint(num("fund_paid") * 100))
        self.self_, self.other = arr(np.rint(num("self_paid") * 100)), arr(np.rint(num("other_paid") * 100))
        self.age = arr(num("age").astype(np.int64))
        self.employee = arr(np.array([t == "310" for t in table.column("insurance_type").to_pylist()], np.int64))
        self.case_id = table.column("case_id").to_pylist()
        self.patient = table.column("patient_id").to_pylist()
        self.county = table.column("county").to_pylist()
        self.dx = table.column("dx").to_pylist()
        self.px = table.column("px").to_pylist()
        self.rows = list(range(n))            # source row of every output row (a new row copies its source)
        self.size = n
        self.used = np.zeros(cap, bool)       # a case carries at most one behaviour
        # a row whose id another row shares (the generator's planted input error, for the reject path) is
        # never planted: the truth names cases by id
        ids = table.column("case_id").to_numpy(zero_copy_only=False).astype(str)
        _, first, counts = np.unique(ids, return_inverse=True, return_counts=True)
        self.used[:n] = counts[first] > 1
        self.next_seq = next_seq
        self.truth: list[dict] = []

    def new_id(self, year: int) -> str:
        self.next_seq += 1
        return f"C{year}{self.next_seq - 1:08d}"

    def append(self, src: int, **values) -> int:
        """A new row copying row ``src`` with ``values`` replaced; returns its index."""
        i = self.size
        if i >= len(self.hosp):  # pragma: no cover - the capacity bounds every behaviour
            raise RuntimeError("planting outgrew its capacity")
        self.size += 1
        self.rows.append(self.rows[src])
        for name in self._ARRAYS:
            a = getattr(self, name)
            a[i] = values.get(name, a[src])
        for name in self._LISTS:
            lst = getattr(self, name)
            lst.append(values.get(name, lst[src]))
        self.used[i] = True
        return i

    def money(self, i: int, total: int, fund_share: float | None = None) -> None:
        """Row ``i`` costs ``total`` fen; the fund pays ``fund_share`` of it (no other payer), or the fund and
        other payers keep their shares of the row's old cost; self-pay takes the rest."""
        old = int(self.total[i])
        if fund_share is not None:
            fund, other = int(round(total * fund_share)), 0
        else:
            fund = int(round(int(self.fund[i]) * total / old)) if old else 0
            other = int(round(int(self.other[i]) * total / old)) if old else 0
            fund = min(fund, total - other)
        self.total[i], self.fund[i], self.other[i] = total, fund, other
        self.self_[i] = total - fund - other

    def note(self, i: int, behaviour: str, year: int, related: list[str] | None = None, note: str = "") -> None:
        self.truth.append({"case_id": self.case_id[i], "behaviour": behaviour,
                           "hospital_id": self.city.hosp_ids[int(self.hosp[i])], "year": year,
                           "related": related or [], "note": note})

    def to_table(self) -> pa.Table:
        """The planted year with the original schema (new rows copy their source's other columns)."""
        m = self.size
        base = self.table.take(pa.array(self.rows, pa.int64()))
        schema = self.table.schema
        values = {
            "case_id": pa.array(self.case_id, pa.string()), "patient_id": pa.array(self.patient, pa.string()),
            "hospital_id": pa.array([self.city.hosp_ids[int(h)] for h in self.hosp[:m]], pa.string()),
            "age": pa.array(self.age[:m], pa.int16()),
            "los": pa.array(self.discharge[:m] - self.admit[:m], pa.int32()),
            "discharge_status": pa.array(self.status[:m], pa.int8()),
            "dx": pa.array(self.dx, schema.field("dx").type),
            "admit_date": pa.array(self.admit[:m].astype(np.int32), pa.date32()),
            "discharge_date": pa.array(self.discharge[:m].astype(np.int32), pa.date32()),
            "total_cost": pa.array(self.total[:m] / 100.0, pa.float64()),
            "fund_paid": pa.array(self.fund[:m] / 100.0, pa.float64()),
            "self_paid": pa.array(self.self_[:m] / 100.0, pa.float64()),
            "other_paid": pa.array(self.other[:m] / 100.0, pa.float64()),
            "insurance_type": pa.array(np.where(self.employee[:m] == 1, "310", "390").tolist(), pa.string()),
            "county": pa.array(self.county, pa.string()),
        }
        cols = [values[f.name].cast(f.type) if f.name in values else base.column(f.name) for f in schema]
        return pa.Table.from_arrays(cols, schema=schema)


def _choose_hospitals(y: _Year, settings: PlantSettings, rng: np.random.Generator) -> dict[str, list[int]]:
    """Distinct hospitals for each behaviour (and a partner hospital for split transfers)."""
    n_h = len(y.city.hosp_ids)
    counts = np.bincount(y.hosp, minlength=n_h)
    big = np.flatnonzero(counts >= settings.min_hospital_share * max(1, y.n0))
    pool = list(rng.permutation(big))
    rest = [h for h in rng.permutation(n_h) if h not in set(pool)]
    order = pool + rest
    out: dict[str, list[int]] = {}
    for b in BEHAVIOURS:
        k = getattr(settings, f"{b}_hospitals")
        out[b], order = [int(h) for h in order[:k]], order[k:]
    out["split_partner"] = [int(order[0])] if order else []
    return out


def _cap(idx: np.ndarray, settings: PlantSettings, n: int, rng: np.random.Generator, per_case: int = 1) -> np.ndarray:
    """At most ``max_prevalence`` of the year's cases (a planted case may bring ``per_case`` truth rows)."""
    limit = int(settings.max_prevalence * n) // per_case
    return np.sort(rng.choice(idx, size=limit, replace=False)) if len(idx) > limit else idx


def plant_year(table: pa.Table, city, rules, year: int, days: np.ndarray, settings: PlantSettings, *, seed: int,
               next_seq: int, previous: pa.Table | None = None) -> tuple[pa.Table, list[dict], dict]:
    """Plant the behaviours in one year's cases; return ``(cases, truth rows, summary)``.

    ``city`` is the generator's fixed part (:class:`drg.synth.city._City`), ``rules`` the rule set (for the MCC
    codes and their exclusions), ``days`` the days of the year that have cases, ``next_seq`` the first free case
    number (new claims continue the city's ids), ``previous`` last year's cases (what care was short then).
    """
    rng = np.random.default_rng([seed, year, 7_000_001])
    y = _Year(table, city, next_seq, settings)
    cat = city.cat
    n = y.n0
    chosen = _choose_hospitals(y, settings, rng)
    days_hi = int(days.max())

    # cost shifting: part of the fund's share moved onto the patient
    lo, hi = settings.cost_shift_fraction
    for h in chosen["cost_shift"]:
        idx = np.flatnonzero((y.hosp[:n] == h) & ~y.used[:n] & (rng.random(n) < settings.cost_shift_share))
        idx = _cap(idx, settings, n, rng)
        moved = np.rint(y.fund[idx] * rng.uniform(lo, hi, len(idx))).astype(np.int64)
        y.fund[idx] -= moved
        y.self_[idx] += moved
        y.used[idx] = True
        for i, m in zip(idx, moved):
            y.note(int(i), "cost_shift", year, note=f"{m / 100:.2f} yuan moved from the fund to the patient")

    # upcoding: a favourite MCC code added where the MCC group pays more
    sev1 = {}
    for j, (a, s) in enumerate(zip(cat.adrgs, cat.severity)):
        if s == 1:
            sev1[a] = j
    trauma = np.array([m == rules.trauma_mdc for m in cat.mdcs], bool) if rules.trauma_mdc else np.zeros(len(cat.drgs), bool)
    target = np.full(len(cat.drgs), -1, np.int64)
    for j, (a, s) in enumerate(zip(cat.adrgs, cat.severity)):
        k = sev1.get(a, -1)
        if s in (3, 5) and k >= 0 and cat.newborn[j] == 0 and cat.premdc[j] == 0 and not trauma[j] and \
                city.drg_cost[k] > settings.upcoding_min_gain * city.drg_cost[j]:
            target[j] = k
    # a favourite code any adult may carry: not a newborn's, a pregnancy's or one sex's principal diagnosis
    special = set()
    for mdc in {rules.newborn_mdc, rules.pregnancy_mdc, *rules.mdc_sex}:
        special.update(rules.mdc_principal_dx.get(mdc, ()))
    mcc_codes = sorted(c for c in rules.mcc if c not in special)
    for h in chosen["upcoding"]:
        if not mcc_codes:
            break
        favourites = [str(c) for c in rng.permutation(mcc_codes)[:3]]
        ok = (y.hosp[:n] == h) & ~y.used[:n] & (y.d[:n] >= 0)
        ok &= np.where(y.d[:n] >= 0, target[np.maximum(y.d[:n], 0)] >= 0, False)
        idx = np.flatnonzero(ok & (rng.random(n) < settings.upcoding_share))
        idx = _cap(idx, settings, n, rng)
        for i in idx:
            dx = list(y.dx[i])
            pdx = dx[0] if dx else None
            code = next((c for c in favourites if c not in dx and
                         pdx not in rules.exclusions.get(rules.mcc[c], frozenset())), None)
            if code is None:
                continue
            y.dx[i] = dx + [code]
            y.used[i] = True
            y.note(int(i), "upcoding", year, note=f"MCC code {code} added (true group {cat.drgs[y.d[i]]}, "
                                                  f"MCC group {cat.drgs[target[y.d[i]]]})")

    # split admissions: one stay cut in two or three, the parts coded alike
    partner = chosen["split_partner"][0] if chosen["split_partner"] else None
    for h in chosen["split"]:
        los = y.discharge[:n] - y.admit[:n]
        ok = (y.hosp[:n] == h) & ~y.used[:n] & (los >= settings.split_min_los) & (y.status[:n] == 1)
        ok &= (y.d[:n] >= 0) & (cat.newborn[np.maximum(y.d[:n], 0)] == 0) & (y.discharge[:n] + 2 <= days_hi)
        ok &= ~trauma[np.maximum(y.d[:n], 0)]         # the city's multiple-trauma draws are mostly ungroupable
        ok &= y.admit[:n] >= int(days.min())          # every part is discharged in the planted year
        idx = np.flatnonzero(ok & (rng.random(n) < settings.split_share))
        idx = _cap(idx, settings, n, rng, per_case=2)
        for i in idx:
            i = int(i)
            u = rng.random()
            parts = 3 if u < settings.split_chain_share and los[i] >= 6 else 2
            transfer = parts == 2 and partner is not None and u > 1 - settings.split_transfer_share
            cuts = np.sort(rng.choice(np.arange(1, los[i]), size=parts - 1, replace=False))
            lengths = np.diff(np.r_[0, cuts, los[i]])
            gaps = np.where(rng.random(parts - 1) < settings.split_next_day_share, 1, 0)
            if y.discharge[i] + gaps.sum() > days_hi:
                continue
            total, overhead = int(y.total[i]), rng.uniform(0.05, 0.2)
            costs = [max(10000, int(round(total * ln / los[i] * (1 + overhead)))) for ln in lengths]
            start = int(y.admit[i])
            members = [i]
            for k in range(parts):
                end = start + int(lengths[k])
                if k == 0:
                    y.discharge[i] = end
                    y.status[i] = 2 if transfer else 1
                    y.money(i, costs[0])
                else:
                    j = y.append(i, case_id=y.new_id(year), admit=start, discharge=end, status=1,
                                 hosp=partner if transfer else h)
                    y.money(j, costs[k])
                    members.append(j)
                if k < parts - 1:
                    start = end + int(gaps[k])
            y.used[i] = True
            ids = [y.case_id[m] for m in members]
            how = "transfer to a partner hospital" if transfer else f"{parts} stays"
            for m in members[1:]:
                y.note(m, "split", year, related=[x for x in ids if x != y.case_id[m]],
                       note=f"one stay of {int(los[i])} days cut into {how}")

    # duplicate claims: the same stay claimed twice
    for h in chosen["duplicate"]:
        idx = np.flatnonzero((y.hosp[:n] == h) & ~y.used[:n] & (rng.random(n) < settings.duplicate_share))
        idx = _cap(idx, settings, n, rng, per_case=2)
        for i in idx:
            i = int(i)
            j = y.append(i, case_id=y.new_id(year))
            if rng.random() < 0.5:
                y.money(j, max(10000, int(round(int(y.total[i]) * rng.uniform(0.97, 1.03)))))
            y.used[i] = True
            y.note(i, "duplicate", year, related=[y.case_id[j]], note="claimed twice")
            y.note(j, "duplicate", year, related=[y.case_id[i]], note="the second claim of the same stay")

    # low-standard admissions: short, cheap stays of outpatient-like DRGs
    # outpatient-like care: principal diagnoses whose stays (without a procedure) were mostly short last year —
    # the cases a bureau's ADRG of such diagnoses holds; without last year, DRGs whose typical stay is short
    trauma = np.array([m == rules.trauma_mdc for m in cat.mdcs], bool) if rules.trauma_mdc else np.zeros(len(cat.drgs), bool)
    fit = (cat.kind == 0) & (cat.newborn == 0) & (cat.premdc == 0) & (cat.sex == 0) & ~trauma
    no_px = np.array([len(x) == 0 for x in y.px], bool)
    pdx = np.array([x[0] if x else "" for x in y.dx[:n]], dtype=object)
    ok = np.isin(y.d[:n], np.flatnonzero(fit)) & (y.status[:n] == 1) & no_px
    if previous is not None and previous.num_rows:
        short_pdx = _short_diagnoses(previous, settings)
        templates = np.flatnonzero(ok & np.isin(pdx, list(short_pdx)))
    else:
        short = np.flatnonzero(fit & (city.drg_los <= settings.low_standard_max_typical_los))
        templates = np.flatnonzero(ok & np.isin(y.d[:n], short))
    # the cost basis: the cheapest medical DRG whose principal diagnoses include the template's (a stay drawn
    # from one group may be grouped into another: without a procedure, the grouper may price it in a cheaper one)
    basis: dict[str, float] = {}
    if len(templates):
        wanted = set(pdx[templates].tolist())
        for j in np.flatnonzero((cat.kind == 0) & (cat.premdc == 0)):
            for c in cat.codes[cat.pool[cat.pdx_start[j]:cat.pdx_stop[j]]]:
                if c in wanted:
                    basis[c] = min(basis.get(c, np.inf), float(city.drg_cost[j]))
    want = int(round(settings.low_standard_share * n))
    want = min(want, int(settings.max_prevalence * n))
    per_county = max(2, city.population // city.n_counties)
    counties = list(city.settings.counties)
    for h in chosen["low_standard"]:
        if not len(templates):
            break
        for src in rng.choice(templates, size=want, replace=True):
            src = int(src)
            stay = int(rng.integers(1, 3))
            discharge = int(days[rng.integers(0, len(days))])
            c = int(city.hosp_county[h]) if rng.random() < 0.7 else int(rng.integers(0, city.n_counties))
            person = c * per_county + int(rng.integers(0, per_county))
            odd = int(y.patient[src][1:]) % 2
            person = (person & ~1) | odd            # the person's sex, as the generator derives it
            age, employee = _person(person, city.settings.employee_share)
            lo_f, hi_f = city.settings.fund_share_employee if employee else city.settings.fund_share_resident
            base = min(float(city.drg_cost[y.d[src]]), basis.get(pdx[src], np.inf))
            cost = max(5000, int(round(base * city.hosp_level[h] * rng.uniform(0.1, 0.3) * 100)))
            j = y.append(src, case_id=y.new_id(year), patient=f"P{person:09d}", hosp=h, county=counties[c],
                         admit=discharge - stay, discharge=discharge, status=1, age=age, employee=employee)
            y.money(j, cost, fund_share=rng.uniform(lo_f, hi_f))
            y.note(j, "low_standard", year, note=f"{stay}-day stay costing {cost / 100:.2f} yuan")

    notes = []
    if chosen["low_standard"] and not len(templates):
        notes.append("low_standard: no medical care without a procedure was short at least half of the time "
                     "last year; nothing planted")
    summary = {"year": year, "cases_before": n, "cases_after": y.size, "notes": notes,
               "hospitals": {b: [city.hosp_ids[h] for h in hs] for b, hs in chosen.items()},
               "planted": {b: sum(1 for t in y.truth if t["behaviour"] == b) for b in BEHAVIOURS}}
    return y.to_table(), y.truth, summary


def _short_diagnoses(previous: pa.Table, settings: PlantSettings) -> set[str]:
    """Principal diagnoses whose stays without a procedure were at most 3 days at least half of the time last
    year (at least 20 such stays)."""
    import pyarrow.compute as pc

    t = previous.select(["dx", "px", "los"])
    no_px = np.asarray(pc.equal(pc.list_value_length(t.column("px")).fill_null(0), 0))
    pdx = pc.list_element(t.column("dx"), 0).to_numpy(zero_copy_only=False)[no_px]
    los = t.column("los").to_numpy(zero_copy_only=False)[no_px]
    out = set()
    if not len(pdx):
        return out
    codes, inv = np.unique(pdx.astype(str), return_inverse=True)
    n = np.bincount(inv)
    short = np.bincount(inv, weights=(los <= settings.low_standard_max_typical_los).astype(float))
    for c, k, s in zip(codes, n, short):
        if k >= 20 and s >= 0.5 * k:
            out.add(str(c))
    return out


def _person(person: int, employee_share: float) -> tuple[int, int]:
    """Age and insurance of a person id, derived as the generator derives them (drg.synth.city)."""
    mix = (person * 2654435761) >> 7
    return 1 + mix % 90, int((mix >> 11) % 1000 < int(employee_share * 1000))


def write_truth(rows: list[dict], path: Path) -> None:
    """``truth.parquet`` (:data:`TRUTH_SCHEMA`)."""
    import pyarrow.parquet as pq

    cols = {f.name: [r[f.name] for r in rows] for f in TRUTH_SCHEMA}
    pq.write_table(pa.table(cols, schema=TRUTH_SCHEMA), path)
