"""How well the detectors find what was planted: a synthetic city with known truth (``drg synth --plant``),
taken through the bureau's steps, and each detector's precision, recall and false-positive rate.

* :func:`prepare_city` — synthesize (planted or not), compile the demo scheme, group every year, derive the
  weights from the years before the last, price the last two years: what ``drg audit run`` reads.
* :func:`measure` — a queue against the truth: per detector, the planted cases, the flagged cases, the true
  positives, precision and recall, and the false-positive rate (flagged cases that carry none of the
  detector's behaviour, over the audited cases).

docs/audit.md gives the figures at the default parameters (tuned on one seed, measured on another) and the
false-positive rate on unplanted cities; ``tools/audit_measure.py`` reproduces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["BEHAVIOUR_OF", "PreparedCity", "measure", "prepare_city"]

#: The planted behaviour each detector looks for.
BEHAVIOUR_OF = {"split_admission": "split", "low_standard": "low_standard", "upcoding": "upcoding",
                "duplicate_claim": "duplicate", "cost_shift": "cost_shift"}


@dataclass(frozen=True)
class PreparedCity:
    """The files of a prepared city: its directory, the priced files of the last two years, the grouped files,
    the tables of ``drg weights``, the hospitals, budget and county income, the truth (None unplanted)."""

    out: Path
    year: int
    priced: dict[int, Path]
    grouped: dict[int, Path]
    tables: Path
    hospitals: Path
    budget: Path
    county_income: Path
    truth: Path | None
    policy: str

    @property
    def history(self) -> list[Path]:
        """The priced file of the year before the audited one."""
        return [self.priced[self.year - 1]]


def prepare_city(out: str | Path, *, cases: int, seed: int, plant=None, years: tuple[int, ...] = (2023, 2024, 2025),
                 policy: str = "demo", engine: str = "numba") -> PreparedCity:
    """Synthesize the demo city (``plant``: :class:`drg.synth.plant.PlantSettings` or None), group every year,
    build the weights from all years but the last, and price the last two years."""
    from grouper.build import build_scheme
    from grouper.rules import load_code_dictionary, load_rule_set

    from drg.casefile.schema import SETTLEMENT_REQUIRED
    from drg.grouping import group_file
    from drg.pricing.coefficients import build_tables
    from drg.pricing.priced_file import price_file
    from drg.synth.city import synthesize
    from drg.synth.samples import city_settings, schemes

    out = Path(out)
    sample = schemes()["demo"]
    city = synthesize(load_rule_set(sample.rules_dir), load_code_dictionary(sample.codes_dir), out / "city",
                      cases=cases, years=list(years), seed=seed, settings=city_settings("demo"), plant=plant)
    scheme, _ = build_scheme(sample.rules_dir, sample.codes_dir)
    grouped = {}
    for y in years:
        grouped[y] = out / "grouped" / f"cases-{y}.parquet"
        grouped[y].parent.mkdir(parents=True, exist_ok=True)
        group_file(scheme, city.case_files[y], grouped[y], rejects=out / "grouped" / f"rejects-{y}.csv",
                   required=SETTLEMENT_REQUIRED, engine=engine)
    last = years[-1]
    tables = out / "tables"
    build_tables([grouped[y] for y in years[:-1]], city.hospitals, policy, tables, year=last)
    priced = {}
    for y in years[-2:]:
        priced[y] = out / "priced" / f"cases-{y}.parquet"
        price_file(grouped[y], tables, policy, priced[y], year=y, engine=engine)
    return PreparedCity(out, last, priced, grouped, tables, city.hospitals, city.budget, city.county_income,
                        city.truth, policy)


def measure(queue, truth, audited_cases: int, *, year: int | None = None) -> dict[str, dict]:
    """Per detector: ``planted`` (truth cases of its behaviour), ``flagged`` (distinct cases it queued),
    ``true_positives``, ``precision`` (None when nothing was flagged), ``recall`` (None when nothing was
    planted) and ``false_positive_rate`` (flagged cases without the behaviour ÷ ``audited_cases``).

    ``queue`` and ``truth`` are polars frames (or paths): the queue's ``detector`` and ``case_id``, the truth's
    ``behaviour`` and ``case_id`` (rows of ``year`` when given; an unplanted city has an empty truth).
    """
    import polars as pl

    q = pl.read_parquet(queue) if isinstance(queue, (str, Path)) else queue
    if truth is None:
        t = pl.DataFrame(schema={"case_id": pl.String, "behaviour": pl.String, "year": pl.Int32})
    else:
        t = pl.read_parquet(truth) if isinstance(truth, (str, Path)) else truth
    if year is not None and "year" in t.columns:
        t = t.filter(pl.col("year") == year)
    out = {}
    for det, behaviour in BEHAVIOUR_OF.items():
        flagged = set(q.filter(pl.col("detector") == det)["case_id"].to_list())
        planted = set(t.filter(pl.col("behaviour") == behaviour)["case_id"].to_list())
        tp = len(flagged & planted)
        out[det] = {"planted": len(planted), "flagged": len(flagged), "true_positives": tp,
                    "precision": round(tp / len(flagged), 4) if flagged else None,
                    "recall": round(tp / len(planted), 4) if planted else None,
                    "false_positive_rate": round((len(flagged) - tp) / audited_cases, 6) if audited_cases else None}
    return out
