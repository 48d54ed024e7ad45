"""A synthetic city (``drg synth``): hospitals, insured persons, cases, a county income and a budget table.

Everything is drawn from a seed, so the same settings and seed give byte-identical Parquet files. Cases are
generated and written one row group at a time (``chunk_rows``); no table of the whole city's strings is ever
held in memory, which is what lets ten million cases be written in well under a minute on two cores.

What the generator models, per case:

- a DRG drawn from skewed frequencies, recorded as ``mdc, adrg, drg`` (the group the case was *drawn* from,
  so the payment side can be built and tested before the grouper);
- codes drawn from the scheme's own tables through :mod:`grouper.catalogue` (this module never looks inside
  a code);
- a hospital (tiers A–E, each with its own cost level), the insured person's county, insurance type
  (``310`` employee, ``390`` resident) and a consistent person id, with repeat admissions — some within 15
  days of the earlier discharge at the same hospital, often to the same DRG;
- lognormal cost around a per-DRG mean, length of stay following cost, a share of long stays, newborns with
  age in days and birth weight in the band of their group, deaths (status 5) and transfers (2 and 3);
- the fund / self-pay / other split by insurance type, exact in fen;
- optionally (``bad_row_share``) a few rows with one planted error each, for the reject path.

Besides the case files (``cases-YEAR.parquet``) it writes ``hospitals.parquet``, ``budget.parquet`` (each
year's fund spending grown by ``budget_growth``), ``county_income.parquet`` and ``manifest.json``. With ``plant``
(``drg synth --plant``), behaviours the audit looks for are planted in the last year and ``truth.parquet`` says
which cases carry them (:mod:`drg.synth.plant`); without it the files are exactly those of an unplanted city.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from drg.casefile.parquet import read_parquet

from drg.errors import InputError, read_toml

__all__ = ["CitySettings", "SynthResult", "synthesize", "TIERS", "TIER_COST_LEVEL"]

TIERS = ("A", "B", "C", "D", "E")
#: Relative cost level of each tier (三甲 above 三乙 … above 一级 and below).
TIER_COST_LEVEL = {"A": 1.18, "B": 1.06, "C": 1.0, "D": 0.9, "E": 0.8}
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class CitySettings:
    """Settings of a synthetic city (``data/cities/NAME.toml``); every field is a key of that file."""

    name: str = "demo"
    description: str = ""
    counties: tuple[str, ...] = ("东湖区", "西山区", "南江县", "北岭县", "青溪县", "白沙市")
    hospitals: int = 40
    tier_shares: dict = field(default_factory=lambda: {"A": 0.08, "B": 0.12, "C": 0.3, "D": 0.3, "E": 0.2})
    #: insured persons per case of one year (fewer persons than cases means repeat admissions)
    persons_per_case: float = 0.75
    employee_share: float = 0.45
    readmission_share: float = 0.04
    readmission_max_gap_days: int = 25
    long_stay_share: float = 0.01
    death_share: float = 0.008
    transfer_share: float = 0.025
    unknown_sex_share: float = 0.0005
    mean_cost_yuan: float = 9000.0
    cost_sigma: float = 0.45
    hospital_cost_sigma: float = 0.08
    fund_share_employee: tuple[float, float] = (0.70, 0.86)
    fund_share_resident: tuple[float, float] = (0.52, 0.66)
    other_paid_over_yuan: float = 50000.0
    other_paid_chance: float = 0.25
    #: share of rows written with one planted error (a duplicated case id, a payment that does not add up,
    #: a discharge before admission, an out-of-range sex), so that the reject path is exercised
    bad_row_share: float = 0.0
    budget_growth: float = 0.05
    yearly_case_growth: float = 0.04
    county_other_spending_share: float = 0.3

    @classmethod
    def load(cls, path: str | Path) -> CitySettings:
        path = Path(path)
        raw = read_toml(path, "city settings file")
        known = {f.name: f for f in fields(cls)}
        for key, value in raw.items():
            if key not in known:
                raise InputError(f"unknown key {key!r}; known keys: {sorted(known)}", file=str(path), field=key)
        values = dict(raw)
        for key in ("counties", "fund_share_employee", "fund_share_resident"):
            if key in values:
                values[key] = tuple(values[key])
        settings = cls(**values)
        settings.validate(str(path))
        return settings

    def validate(self, source: str = "settings") -> None:
        if self.hospitals < 1:
            raise InputError("must be at least 1", file=source, field="hospitals")
        if not self.counties:
            raise InputError("at least one county is needed", file=source, field="counties")
        if set(self.tier_shares) - set(TIERS) or abs(sum(self.tier_shares.values()) - 1.0) > 1e-9:
            raise InputError(f"tiers must be among {TIERS} and shares must sum to 1", file=source,
                             field="tier_shares")
        for key in ("readmission_share", "long_stay_share", "death_share", "transfer_share",
                    "employee_share", "unknown_sex_share", "other_paid_chance", "bad_row_share"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise InputError("must be between 0 and 1", file=source, field=key)


@dataclass
class SynthResult:
    """What ``synthesize`` wrote: file paths and counts."""

    out_dir: Path
    case_files: dict[int, Path]
    cases_by_year: dict[int, int]
    hospitals: Path
    budget: Path
    county_income: Path
    manifest: Path
    truth: Path | None = None


def _month_days(year: int, months: list[int]) -> np.ndarray:
    """Days (since 1970-01-01) of the given months of ``year``."""
    days = []
    for m in months:
        start = date(year, m, 1)
        stop = date(year + (m == 12), m % 12 + 1, 1)
        days.extend(range((start - EPOCH).days, (stop - EPOCH).days))
    return np.array(days, dtype=np.int32)


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(np.int64)
    out[np.argsort(-(raw - out), kind="stable")[: total - out.sum()]] += 1
    return out


class _City:
    """The fixed part of a city: hospitals, DRG frequencies and costs (drawn once from the seed)."""

    def __init__(self, settings: CitySettings, catalogue, seed: int, cases_per_year: int) -> None:
        rng = np.random.default_rng([seed, 0])
        s = settings
        self.settings = s
        self.cat = catalogue
        n_h = s.hospitals
        tier_names = list(s.tier_shares)
        counts = _split(n_h, np.array([s.tier_shares[t] for t in tier_names]))
        self.tier = np.repeat(np.arange(len(tier_names)), counts)
        self.tier_names = tier_names
        self.n_counties = len(s.counties)
        self.hosp_county = np.arange(n_h) % self.n_counties
        rng.shuffle(self.hosp_county)
        self.hosp_level = np.array([TIER_COST_LEVEL[tier_names[t]] for t in self.tier]) * rng.lognormal(
            0.0, s.hospital_cost_sigma, n_h)
        size = np.array([{"A": 8.0, "B": 4.0, "C": 2.0, "D": 1.0, "E": 0.5}[tier_names[t]] for t in self.tier])
        self.hosp_size = size * rng.lognormal(0.0, 0.3, n_h)
        self.hosp_ids = [f"H{i + 1:04d}" for i in range(n_h)]
        self.hosp_names = [
            f"{s.counties[self.hosp_county[i]]}{['第一', '第二', '第三', '中心', '中医', '妇幼', '康复', '仁爱'][i % 8]}"
            f"{'人民医院' if i % 8 < 4 else '医院'}{'' if i < 8 * self.n_counties else i}"
            for i in range(n_h)
        ]
        n_d = len(catalogue.drgs)
        if n_d == 0:
            raise InputError("the scheme offers no DRG with codes to draw from")
        freq = rng.lognormal(0.0, 1.3, n_d)
        freq[catalogue.premdc == 1] *= 0.05
        freq[catalogue.newborn > 0] *= 0.3
        self.drg_p = freq / freq.sum()
        base = s.mean_cost_yuan * rng.lognormal(-0.3, 0.6, n_d)
        base *= np.where(catalogue.kind == 1, 2.4, 1.0)
        base *= np.select([catalogue.severity == 1, catalogue.severity == 3], [1.7, 1.25], 1.0)
        base *= np.where(catalogue.premdc == 1, 10.0, 1.0)
        self.drg_cost = base
        self.drg_los = np.clip(base / 1200.0 * rng.lognormal(0.0, 0.2, n_d), 2.0, 60.0)
        self.population = max(1000, int(cases_per_year * s.persons_per_case))
        self.codes = pa.array(catalogue.codes.tolist(), pa.string())
        self.pregnancy = np.array([m == "MDCO" for m in catalogue.mdcs], dtype=bool)


def _draw_chunk(city: _City, year: int, n: int, days: np.ndarray, first_seq: int,
                rng: np.random.Generator) -> tuple[pa.Table, dict]:
    s, cat = city.settings, city.cat
    n_h = len(city.hosp_ids)
    d = rng.choice(len(cat.drgs), size=n, p=city.drg_p)
    surgical = (cat.kind[d] == 1) | (cat.premdc[d] == 1)
    # hospital: big hospitals take more surgery
    w_med = city.hosp_size
    w_surg = city.hosp_size * np.where(city.tier <= 1, 3.0, 1.0)
    h = np.where(surgical, rng.choice(n_h, size=n, p=w_surg / w_surg.sum()),
                 rng.choice(n_h, size=n, p=w_med / w_med.sum()))
    # the insured person: mostly from the hospital's county
    county = np.where(rng.random(n) < 0.7, city.hosp_county[h], rng.integers(0, city.n_counties, n))
    per_county = max(2, city.population // city.n_counties)
    person = county * per_county + rng.integers(0, per_county, n)
    need_sex = cat.sex[d]
    person = np.where(need_sex == 1, person & ~1, np.where(need_sex == 2, person | 1, person))
    newborn = cat.newborn[d]

    # durations, dates, money
    cost_factor = rng.lognormal(-s.cost_sigma ** 2 / 2, s.cost_sigma, n)
    los = np.maximum(1, np.rint(city.drg_los[d] * cost_factor ** 0.6 * rng.lognormal(0, 0.25, n))).astype(np.int64)
    long_stay = rng.random(n) < s.long_stay_share
    los = np.where(long_stay, los * 4 + rng.integers(30, 120, n), los)
    cost_factor = np.where(long_stay, cost_factor * 3.0, cost_factor)
    total_fen = np.maximum(10000, np.rint(city.drg_cost[d] * city.hosp_level[h] * cost_factor * 100)).astype(np.int64)
    discharge = days[rng.integers(0, len(days), n)].astype(np.int64)
    admit = discharge - los

    # repeat admissions: a follow-up stay of an earlier case's person at the same hospital
    follow = np.flatnonzero((rng.random(n) < s.readmission_share) & (newborn == 0))
    if len(follow):
        base = rng.integers(0, n, len(follow))
        ok = (base != follow) & (newborn[base] == 0)
        follow, base = follow[ok], base[ok]
        same_drg = rng.random(len(follow)) < 0.6
        gap = np.where(rng.random(len(follow)) < 0.7, rng.integers(0, 16, len(follow)),
                       rng.integers(16, s.readmission_max_gap_days + 1, len(follow)))
        new_admit = discharge[base] + gap
        new_discharge = new_admit + los[follow]
        fits = new_discharge <= days.max()
        follow, base, same_drg, new_admit, new_discharge = (
            a[fits] for a in (follow, base, same_drg, new_admit, new_discharge))
        d[follow] = np.where(same_drg | (cat.sex[d[follow]] != 0), d[base], d[follow])
        person[follow] = person[base]
        county[follow] = county[base]
        h[follow] = h[base]
        admit[follow] = new_admit
        discharge[follow] = new_discharge

    # people: sex, age, insurance (derived from the person id, so a person is consistent)
    mix = (person.astype(np.uint64) * np.uint64(2654435761)) >> np.uint64(7)
    sex = np.where(person % 2 == 0, 1, 2).astype(np.int8)
    unknown = (rng.random(n) < s.unknown_sex_share) & (cat.sex[d] == 0)
    sex = np.where(unknown, 9, sex).astype(np.int8)
    age = (1 + (mix % np.uint64(90))).astype(np.int64)
    age = np.where(city.pregnancy[d], 20 + (mix % np.uint64(23)).astype(np.int64), age)
    insurance_is_employee = (mix >> np.uint64(11)) % np.uint64(1000) < np.uint64(int(s.employee_share * 1000))
    age_days = np.full(n, -1, dtype=np.int64)
    birth_weight = np.full(n, -1, dtype=np.int64)
    nb1 = newborn == 1
    nb2 = newborn == 2
    age = np.where(newborn > 0, 0, age)
    age_days = np.where(nb1, rng.integers(0, 29, n), np.where(nb2, rng.integers(29, 365, n), age_days))
    lo, hi = cat.weight_lo[d].astype(np.int64), cat.weight_hi[d].astype(np.int64)
    birth_weight = np.where(newborn > 0, lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64), birth_weight)
    # newborn person ids are their own
    person = np.where(newborn > 0, city.population + first_seq + np.arange(n), person)

    status = np.ones(n, dtype=np.int8)
    u = rng.random(n)
    death_p = s.death_share * np.where(cat.premdc[d] == 1, 15.0, 1.0) * np.where(cat.severity[d] == 1, 3.0, 1.0)
    status = np.where(u < death_p, 5, np.where(u < death_p + s.transfer_share, 2,
                      np.where(u < death_p + s.transfer_share * 1.4, 3,
                               np.where(u < death_p + s.transfer_share * 2.2, 4,
                                        np.where(u > 0.995, 9, 1))))).astype(np.int8)
    vent = np.where(cat.premdc[d] == 1, rng.integers(96, 600, n),
                    np.where(rng.random(n) < 0.01 * (cat.severity[d] == 1), rng.integers(4, 95, n), -1))

    # money: fund / self / other
    lo_f, hi_f = s.fund_share_employee
    lo_r, hi_r = s.fund_share_resident
    fund_share = np.where(insurance_is_employee, rng.uniform(lo_f, hi_f, n), rng.uniform(lo_r, hi_r, n))
    fund_fen = np.rint(total_fen * fund_share).astype(np.int64)
    other_fen = np.where((total_fen > s.other_paid_over_yuan * 100) & (rng.random(n) < s.other_paid_chance),
                         np.rint(total_fen * rng.uniform(0.03, 0.12, n)), 0).astype(np.int64)
    other_fen = np.minimum(other_fen, total_fen - fund_fen)
    self_fen = total_fen - fund_fen - other_fen

    # codes: principal dx, severity secondaries, other secondaries; procedures
    def pick(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        width = stop - start
        return cat.pool[np.minimum(start + (rng.random(len(start)) * np.maximum(width, 1)).astype(np.int64),
                                   len(cat.pool) - 1)]

    pdx = pick(cat.pdx_start[d], cat.pdx_stop[d])
    has_sdx = cat.sdx_stop[d] > cat.sdx_start[d]
    sdx = pick(cat.sdx_start[d], cat.sdx_stop[d])
    n_other = rng.integers(0, 4, n) if len(cat.other_dx) else np.zeros(n, dtype=np.int64)
    n_dx = 1 + has_sdx + n_other
    dx_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_dx, out=dx_off[1:])
    dx_vals = np.empty(dx_off[-1], dtype=np.int64)
    dx_vals[dx_off[:-1]] = pdx
    dx_vals[dx_off[:-1][has_sdx] + 1] = sdx[has_sdx]
    other_slots = np.ones(dx_off[-1], dtype=bool)
    other_slots[dx_off[:-1]] = False
    other_slots[dx_off[:-1][has_sdx] + 1] = False
    if other_slots.any():
        dx_vals[other_slots] = cat.other_dx[rng.integers(0, len(cat.other_dx), int(other_slots.sum()))]
    has_px = cat.px_stop[d] > cat.px_start[d]
    n_px = np.where(has_px, 1 + rng.integers(0, 3, n), 0)
    px_off = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_px, out=px_off[1:])
    rows = np.repeat(np.arange(n), n_px)
    px_vals = pick(cat.px_start[d][rows], cat.px_stop[d][rows]) if len(rows) else np.zeros(0, np.int64)

    seq = first_seq + np.arange(n)
    stay = discharge - admit
    bad = np.flatnonzero(rng.random(n) < s.bad_row_share) if s.bad_row_share > 0 else np.zeros(0, np.int64)
    if len(bad):  # one planted error per bad row, cycling through four kinds
        kind = rng.integers(0, 4, len(bad))
        dup = bad[(kind == 0) & (bad > 0)]
        seq[dup] = seq[dup - 1]                                   # duplicate_case_id
        fund_fen[bad[kind == 1]] += 500                           # payment_mismatch (5 yuan too much)
        late = bad[kind == 2]
        admit[late] = discharge[late] + 1                         # discharge_before_admission
        sex[bad[kind == 3]] = 3                                   # sex_out_of_range
    county_arr = pa.array([str(c) for c in city.settings.counties], pa.string())
    hosp_arr = pa.array(city.hosp_ids, pa.string())
    ins_arr = pa.array(["310", "390"], pa.string())
    table = pa.table({
        "case_id": _ids(f"C{year}", seq, 8),
        "patient_id": _ids("P", person, 9),
        "hospital_id": hosp_arr.take(pa.array(h)),
        "sex": pa.array(sex, pa.int8()),
        "age": pa.array(age, pa.int16()),
        "age_days": pa.array(age_days, pa.int32(), mask=age_days < 0),
        "birth_weight": pa.array(birth_weight, pa.int32(), mask=birth_weight < 0),
        "los": pa.array(stay, pa.int32()),
        "discharge_status": pa.array(status, pa.int8()),
        "dx": pa.ListArray.from_arrays(pa.array(dx_off, pa.int32()), city.codes.take(pa.array(dx_vals))),
        "px": pa.ListArray.from_arrays(pa.array(px_off, pa.int32()), city.codes.take(pa.array(px_vals))),
        "vent_hours": pa.array(vent, pa.int32(), mask=vent < 0),
        "admit_date": pa.array(admit.astype(np.int32), pa.date32()),
        "discharge_date": pa.array(discharge.astype(np.int32), pa.date32()),
        "total_cost": pa.array(total_fen / 100.0, pa.float64()),
        "fund_paid": pa.array(fund_fen / 100.0, pa.float64()),
        "self_paid": pa.array(self_fen / 100.0, pa.float64()),
        "other_paid": pa.array(other_fen / 100.0, pa.float64()),
        "insurance_type": ins_arr.take(pa.array(np.where(insurance_is_employee, 0, 1))),
        "county": county_arr.take(pa.array(county)),
        "mdc": pa.array(cat.mdcs, pa.string()).take(pa.array(d)),
        "adrg": pa.array(cat.adrgs, pa.string()).take(pa.array(d)),
        "drg": pa.array(cat.drgs, pa.string()).take(pa.array(d)),
    })
    pool = np.where(insurance_is_employee, 0, 1)
    spent = fund_fen.astype(np.float64)
    spent[bad] = 0.0  # the budget follows the spending of the rows a validation accepts
    totals = {
        "fund_by_pool": np.bincount(pool, weights=spent, minlength=2),
        "fund_by_pool_county": np.bincount(pool * city.n_counties + county, weights=spent,
                                           minlength=2 * city.n_counties),
    }
    return table, totals


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """String ids ``prefix + zero-padded number``, built in Arrow (no Python string per row)."""
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pa.array(numbers, pa.int64()).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def synthesize(rules, codes, out_dir: str | Path, *, cases: int, years: list[int], months: list[int] | None = None,
               seed: int = 20250101, settings: CitySettings | None = None, chunk_rows: int = 1 << 20,
               progress: Callable[[int], None] | None = None, plant=None) -> SynthResult:
    """Write a synthetic city drawn from a rule set (``grouper.rules.model.RuleSet``) into ``out_dir``.

    Parameters
    ----------
    rules, codes : the scheme's rule set and code dictionary (codes may be None).
    cases : number of cases over all ``years`` (later years grow by ``yearly_case_growth``).
    years : calendar years, e.g. ``[2023, 2024, 2025]``: one ``cases-YEAR.parquet`` each.
    months : months of each year that get cases (default all twelve).
    seed : the seed; the same inputs give byte-identical files.
    chunk_rows : rows per Parquet row group (the unit of generation and of memory).
    plant : :class:`drg.synth.plant.PlantSettings`, optional
        Plant the audit's behaviours in the last year (or ``plant.years``) and write ``truth.parquet``.
    """
    from grouper.catalogue import build_catalogue

    settings = settings or CitySettings()
    settings.validate()
    months = months or list(range(1, 13))
    if not years:
        raise InputError("at least one year is needed", field="years")
    if any(m < 1 or m > 12 for m in months):
        raise InputError("months must be 1..12", field="months")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    catalogue = build_catalogue(rules, codes)
    growth = np.array([(1 + settings.yearly_case_growth) ** i for i in range(len(years))])
    per_year = _split(cases, growth)
    city = _City(settings, catalogue, seed, int(per_year.max()) if len(per_year) else cases)

    case_files: dict[int, Path] = {}
    fund_pool = np.zeros((len(years), 2))
    fund_county = np.zeros((len(years), 2, city.n_counties))
    seq = 0
    done = 0
    for yi, (year, n_year) in enumerate(zip(years, per_year, strict=True)):
        days = _month_days(year, months)
        path = out / f"cases-{year}.parquet"
        writer = None
        for ci, start in enumerate(range(0, int(n_year), chunk_rows)):
            n = int(min(chunk_rows, n_year - start))
            rng = np.random.default_rng([seed, year, ci + 1])
            table, totals = _draw_chunk(city, year, n, days, seq, rng)
            seq += n
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=chunk_rows)
            fund_pool[yi] += totals["fund_by_pool"]
            fund_county[yi] += totals["fund_by_pool_county"].reshape(2, city.n_counties)
            done += n
            if progress is not None:
                progress(done)
        if writer is None:  # a year with no cases still gets an (empty) file
            table, _ = _draw_chunk(city, year, 0, days, seq, np.random.default_rng([seed, year, 0]))
            pq.write_table(table, path)
        else:
            writer.close()
        case_files[year] = path
    planted = _plant(plant, city, rules, case_files, months, seed, seq, chunk_rows, out) if plant else None

    hospitals = out / "hospitals.parquet"
    pq.write_table(pa.table({
        "hospital_id": city.hosp_ids,
        "name": city.hosp_names,
        "tier": [city.tier_names[t] for t in city.tier],
        "county": [settings.counties[c] for c in city.hosp_county],
    }), hospitals)

    # budget: each year's fund spending on DRG cases, grown by budget_growth, in yuan (whole fen)
    budget = out / "budget.parquet"
    rows = {"year": [], "insurance_type": [], "fund_budget": [], "growth_rate": []}
    income = {"year": [], "insurance_type": [], "county": [], "income": [], "other_spending": []}
    rng = np.random.default_rng([seed, 1])
    for yi, year in enumerate(years):
        for pi, ins in enumerate(("310", "390")):
            rows["year"].append(year)
            rows["insurance_type"].append(ins)
            rows["fund_budget"].append(round(fund_pool[yi, pi] * (1 + settings.budget_growth)) / 100.0)
            rows["growth_rate"].append(settings.budget_growth)
            for c, name in enumerate(settings.counties):
                spent = fund_county[yi, pi, c]
                other = round(spent * settings.county_other_spending_share)
                inc = round((spent + other) * rng.uniform(0.93, 1.10))
                income["year"].append(year)
                income["insurance_type"].append(ins)
                income["county"].append(name)
                income["income"].append(inc / 100.0)
                income["other_spending"].append(other / 100.0)
    pq.write_table(pa.table(rows, schema=pa.schema([
        ("year", pa.int32()), ("insurance_type", pa.string()), ("fund_budget", pa.float64()),
        ("growth_rate", pa.float64())])), budget)
    county_income = out / "county_income.parquet"
    pq.write_table(pa.table(income, schema=pa.schema([
        ("year", pa.int32()), ("insurance_type", pa.string()), ("county", pa.string()),
        ("income", pa.float64()), ("other_spending", pa.float64())])), county_income)

    manifest = out / "manifest.json"
    extra = {} if planted is None else {"plant": planted[1]}
    files_extra = {} if planted is None else {"truth": planted[0].name}
    manifest.write_text(json.dumps({
        "generator": "drg synth", "seed": seed, "scheme": rules.name, "cases": int(cases),
        "years": years, "months": months, "cases_by_year": {str(y): int(n) for y, n in zip(years, per_year)},
        "drgs_drawn_from": len(catalogue.drgs), "drgs_in_scheme": len(rules.drgs),
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(settings).items()},
        "files": {"cases": {str(y): p.name for y, p in case_files.items()}, "hospitals": hospitals.name,
                  "budget": budget.name, "county_income": county_income.name, **files_extra},
        **extra,
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    cases_by_year = {y: int(n) for y, n in zip(years, per_year)}
    if planted is not None:
        cases_by_year.update(planted[2])
    return SynthResult(out_dir=out, case_files=case_files, cases_by_year=cases_by_year,
                       hospitals=hospitals, budget=budget, county_income=county_income, manifest=manifest,
                       truth=None if planted is None else planted[0])


def _plant(settings, city: _City, rules, case_files: dict[int, Path], months: list[int], seed: int, next_seq: int,
           chunk_rows: int, out: Path) -> tuple[Path, dict, dict[int, int]]:
    """Plant the audit's behaviours (:mod:`drg.synth.plant`) in the planted years' files, rewritten in place;
    write ``truth.parquet``. Returns its path, the manifest's ``plant`` entry and the new case counts."""
    from drg.synth.plant import plant_year, write_truth

    settings.validate()
    years = list(settings.years) or [max(case_files)]
    truth, summaries, counts = [], [], {}
    for year in years:
        if year not in case_files:
            raise InputError(f"plant year {year} is not a year of the city ({', '.join(map(str, case_files))})",
                             field="years")
        table = read_parquet(case_files[year])
        previous = read_parquet(case_files[year - 1], columns=["dx", "px", "los"]) if year - 1 in case_files else None
        table, rows, summary = plant_year(table, city, rules, year, _month_days(year, months), settings,
                                          seed=seed, next_seq=next_seq, previous=previous)
        next_seq += summary["cases_after"] - summary["cases_before"]
        pq.write_table(table, case_files[year], row_group_size=chunk_rows, compression="zstd")
        truth += rows
        summaries.append(summary)
        counts[year] = table.num_rows
    path = out / "truth.parquet"
    write_truth(truth, path)
    return path, {"settings": settings.to_dict(), "years": summaries}, counts
