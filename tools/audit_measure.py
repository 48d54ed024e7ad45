"""Measure the audit's detectors on synthetic cities with known truth (docs/audit.md, "Measured").

For each seed: a planted city (``drg synth --plant`` with the default plant settings) and the same city
unplanted (the same seed without ``--plant``), each synthesized, grouped, weighted and priced
(:func:`drg.audit.measure.prepare_city`), audited at the policy's default ``[audit]`` parameters, and each
detector's precision, recall and false-positive rate printed (JSON with ``--json``).

    python tools/audit_measure.py --cases 100000 --seeds 3001 3002 3003 3004 3005 3006 3007 3008 --out /tmp/am

The parameters were set on seed 101; seeds 202-707, 1001-1005 and 2001-2005 were used to find faults in the
rules and the planting; seeds 3001-3008 are the measurement (docs/audit.md, "Measured").
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def run(out: Path, cases: int, seed: int, planted: bool, policy: str) -> dict:
    import polars as pl

    from drg.audit.measure import measure, prepare_city
    from drg.audit.run import audit_run
    from drg.synth.plant import PlantSettings

    d = out / f"{'planted' if planted else 'clean'}-{seed}"
    t0 = time.perf_counter()
    city = prepare_city(d, cases=cases, seed=seed, plant=PlantSettings() if planted else None)
    t1 = time.perf_counter()
    result = audit_run(city.priced[city.year], city.history, policy=policy, out=d / "queue.parquet",
                       hospitals=city.hospitals, workbook=False)
    t2 = time.perf_counter()
    audited = pl.read_parquet(city.priced[city.year], columns=["case_id"])["case_id"]
    truth = None
    if city.truth is not None:
        truth = pl.read_parquet(city.truth).filter(pl.col("case_id").is_in(audited.implode()))
    return {"seed": seed, "planted": planted, "audited_cases": result.audited_cases,
            "prepare_s": round(t1 - t0, 2), "audit_s": round(t2 - t1, 2),
            "detectors": measure(result.queue, truth, result.audited_cases)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=100_000, help="cases over the three years of each city")
    ap.add_argument("--seeds", type=int, nargs="+", default=[3001, 3002, 3003, 3004, 3005, 3006, 3007, 3008])
    ap.add_argument("--out", type=Path, default=Path("audit-measure"))
    ap.add_argument("--policy", default="demo")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = [run(args.out, args.cases, s, p, args.policy) for s in args.seeds for p in (True, False)]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"seed {r['seed']} {'planted' if r['planted'] else 'unplanted'}: {r['audited_cases']:,} cases audited "
              f"(prepare {r['prepare_s']} s, audit {r['audit_s']} s)")
        for det, m in r["detectors"].items():
            print(f"  {det:16} planted {m['planted']:5} flagged {m['flagged']:5} tp {m['true_positives']:5} "
                  f"precision {m['precision']} recall {m['recall']} fp-rate {m['false_positive_rate']}")


if __name__ == "__main__":
    main()
