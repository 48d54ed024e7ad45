"""``drg points`` over a partitioned grouped dataset on a Dask cluster.

Every case is priced in its own partition by the single-machine code (:func:`drg.pricing.priced_file.
write_priced`): classes, points, coefficients, reviews and violations need nothing beyond the case and the
tables (loaded once per worker). What crosses partitions is readmission (SPEC §5.1): a patient's stays may sit
in different partitions, so

1. each partition sends a slim projection of its stays — case and patient ids, hospital, DRG and ADRG,
   admission and discharge dates, its partition and row — only stays of the settlement year with a patient
   id, shuffled by a hash of the patient id (:mod:`drg.distributed.shuffle`);
2. each bucket, holding every stay of its patients, is paired by the same function as on one machine
   (:func:`drg.pricing.readmission.halved_stays`, every stay taken as halvable): the stays whose next stay
   is a readmission;
3. those (partition, row) pairs — a few percent of the stays, 8 bytes each — come back through the client to
   their partitions, where the case classes decide which of them are halved
   (:func:`drg.pricing.readmission.may_be_halved`) exactly as one machine would.

The hospital totals (SPEC §5.3) are exact sums per hospital and pool from every partition, added up and
written once as ``OUT/_hospital_totals.parquet``; the summary likewise. Outputs are written under temporary
names and renamed, with the partition's relative path, and listed in ``OUT/_manifest.json``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from drg.distributed.dataset import Partition, open_dataset
from drg.distributed.manifest import file_sha256, partition_entry, staged_outputs, write_manifest
from drg.distributed.plugin import kill_once
from drg.distributed.shuffle import bucket_count, buckets_of, shuffle, wait

__all__ = ["price_dataset", "TOTALS_NAME"]

TOTALS_NAME = "_hospital_totals.parquet"

#: The projection of a stay that pairing needs (strings and dates in one type whatever the file has).
STAY_SCHEMA = pa.schema([("case_id", pa.string()), ("patient_id", pa.string()), ("hospital_id", pa.string()),
                         ("drg", pa.string()), ("adrg", pa.string()), ("admit_date", pa.date32()),
                         ("discharge_date", pa.date32())])


# ------------------------------------------------------------------------------------------------ tasks
def stay_pieces(path: str, part: int, policy, year: int | None, buckets: int) -> list[pa.Table]:
    """The stays of one partition that may pair, with their partition and row, split by patient bucket. The
    rows pricing rejects (:func:`drg.pricing.priced_file.unpriceable`) are left out, as on one machine."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from drg.distributed.plugin import task_threads
    from drg.pricing.priced_file import pricing_columns, read_grouped_raw, unpriceable

    task_threads()
    names = pq.read_schema(path).names
    need = ["case_id", "patient_id", "hospital_id", "drg", "admit_date", "discharge_date"]
    if policy.readmission.match == "adrg":
        need.append("adrg")
    empty = STAY_SCHEMA.append(pa.field("part", pa.int32())).append(pa.field("row", pa.int32())).empty_table()
    if any(c not in names for c in need):          # the pricing task names the missing column
        return [empty] * buckets
    raw = read_grouped_raw(path, pricing_columns(names))
    priceable, _, _ = unpriceable(raw)
    t = raw.select([c for c in STAY_SCHEMA.names if c in raw.column_names])
    cols = {}
    for f in STAY_SCHEMA:
        if f.name in t.column_names:
            c = t.column(f.name)
            cols[f.name] = c.cast(f.type) if c.type != f.type else c
        else:
            cols[f.name] = pa.nulls(t.num_rows, f.type)
    t = pa.table(cols, schema=STAY_SCHEMA)
    keep = pc.is_valid(t.column("patient_id"))
    if year is not None:
        keep = pc.and_(keep, pc.fill_null(pc.equal(pc.year(t.column("discharge_date")), year), False))
    keep = np.asarray(keep, dtype=bool)
    if priceable is not None:
        keep &= priceable
    rows = np.nonzero(keep)[0]
    bucket = buckets_of(t.column("patient_id"), buckets)[rows]
    order = np.argsort(bucket, kind="stable")
    bounds = np.searchsorted(bucket[order], np.arange(buckets + 1))
    pieces = []
    for i in range(buckets):       # each bucket's stays taken once, in row order
        r = rows[order[bounds[i]:bounds[i + 1]]]
        pieces.append(t.take(pa.array(r)).append_column("part", pa.array(np.full(len(r), part, np.int32)))
                      .append_column("row", pa.array(r.astype(np.int32))))
    return pieces


def pair_bucket(pieces: list[pa.Table], policy, year: int | None, engine: str,
                fault: dict | None = None, bucket: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(partition, row)`` of the stays of one patient bucket whose next stay is a readmission."""
    from drg.distributed.plugin import task_threads
    from drg.pricing.classes import drg_mask
    from drg.pricing.columns import encode_strings
    from drg.pricing.readmission import halved_stays

    task_threads()
    if fault and fault.get("stage") == "pair":
        kill_once(fault, bucket)
    t = pa.concat_tables(pieces).combine_chunks()
    n = t.num_rows
    if n < 2:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    drg_codes, drg_dict = encode_strings(t.column("drg"))
    h_codes, _ = encode_strings(t.column("hospital_id"))
    ungroupable = ~drg_mask(drg_dict)[drg_codes]
    every_stay = np.zeros(n, np.int8)     # class 0 (normal): halvable; classes are applied in the partition
    mask = halved_stays(t, every_stay, ungroupable, policy, year, engine, drg_codes, h_codes)
    return np.asarray(t.column("part"))[mask], np.asarray(t.column("row"))[mask]


def price_partition(part: Partition, out: str, rejects: str | None, tables: str, shas: dict, policy, *,
                    reviews: str | None, violations: str | None, year: int | None, engine: str,
                    readmitted_rows: np.ndarray | None, fault: dict | None = None) -> dict:
    """Price one partition on a worker (tables from the worker's cache) into its priced file and its rejects,
    and return its manifest entry, with its exact summary sums and hospital point sums."""
    from drg.casefile.parquet import parquet_file

    from drg.casefile.tables import read_reviews, read_violations
    from drg.distributed.plugin import cached, cached_tables, task_threads
    from drg.pricing.points import CoefficientMatrix, WeightTable
    from drg.pricing.priced_file import point_sums_of, write_priced

    task_threads()
    w, coefficients = cached_tables(tables, shas["weights"], shas["coefficients"])
    # the hospital × DRG matrix once per worker (a national table has millions of rows)
    c = cached(f"coefficient-matrix over weights {shas['weights']}", Path(tables) / "coefficients.parquet",
               shas["coefficients"],
               lambda _path: CoefficientMatrix.of(coefficients, WeightTable.of(w, policy)))
    rv = cached("reviews", reviews, shas["reviews"], read_reviews) if reviews else None
    vv = cached("violations", violations, shas["violations"], read_violations) if violations else None
    readmitted = None
    if policy.readmission.enabled:
        n = parquet_file(part.path).metadata.num_rows
        readmitted = np.zeros(n, bool)
        if readmitted_rows is not None and len(readmitted_rows):
            readmitted[readmitted_rows] = True
    out_p = Path(out)
    rej_p = Path(rejects) if rejects else None
    sums = {}

    def totals(keys, priced) -> None:
        sums["hospitals"] = point_sums_of(keys, priced, policy)
        if fault and fault.get("stage") == "price":   # tests: die with the file half written
            kill_once(fault, part.index)

    with staged_outputs(out_p, rej_p) as (tmp_out, tmp_rej):
        keys, priced, n_read = write_priced(part.path, w, c, policy, tmp_out, reviews=rv, violations=vv,
                                            year=year, engine=engine, readmitted=readmitted, rejects=tmp_rej,
                                            tables=tables, before_close=totals)
    return partition_entry(part, out_p, rej_p, rows=priced.n, read=n_read, rejected=n_read - keys.num_rows,
                           summary_sums=priced.summary_sums(), hospital_sums=sums["hospitals"])


# ------------------------------------------------------------------------------------------------ driver
def readmitted_rows(client, ds, policy, year: int | None, engine: str, *, run: str, threads: int,
                    rows: int | None = None, buckets: int | None = None, fault: dict | None = None,
                    on_progress: Callable[[str, int, int], None] | None = None) -> dict[int, np.ndarray]:
    """Partition → rows (in its file) whose next stay, anywhere in the dataset, is a readmission."""
    b = buckets or bucket_count(threads, len(ds), rows)
    mapped = [client.submit(stay_pieces, p.path, p.index, policy, year, b, key=f"drg-stays-{run}-{p.index}")
              for p in ds]
    paired = [client.submit(pair_bucket, pieces, policy, year, engine, fault, i, key=f"drg-pair-{run}-{i}")
              for i, pieces in enumerate(shuffle(client, mapped, b, key=f"drg-stayshuffle-{run}"))]
    found = wait(paired, "readmission pairing", on_progress)
    parts = np.concatenate([f[0] for f in found]) if found else np.zeros(0, np.int32)
    rows_ = np.concatenate([f[1] for f in found]) if found else np.zeros(0, np.int32)
    order = np.lexsort((rows_, parts))
    parts, rows_ = parts[order], rows_[order]
    out: dict[int, np.ndarray] = {}
    for k in np.unique(parts):
        lo, hi = np.searchsorted(parts, [k, k + 1])
        out[int(k)] = rows_[lo:hi].copy()
    return out


def price_dataset(client, cases, tables: str | Path, policy, out: str | Path, *, reviews: str | Path | None = None,
                  violations: str | Path | None = None, year: int | None = None, engine: str = "numba",
                  rejects: str | Path | None = None, buckets: int | None = None,
                  on_progress: Callable[[str, int, int], None] | None = None, fault: dict | None = None) -> dict:
    """Price every partition of the grouped dataset ``cases`` on the cluster of ``client``.

    Same parameters as :func:`drg.pricing.priced_file.price_file` (``out`` is a directory); the priced
    partitions, concatenated in documented order, are the file ``price_file`` writes for the grouped files
    concatenated in that order, and ``OUT/_hospital_totals.parquet`` its hospital totals. Each partition's
    rows that cannot be priced go to ``REJECTS/<its relative path>`` (default ``OUT/_rejects``; row numbers
    are the rows of the partition's own file). Returns the same summary, plus ``partitions`` and
    ``manifest``. ``buckets``: patient buckets of the readmission shuffle
    (default: two per worker thread, fewer than the partitions); the prices do not depend on it.
    """
    import pyarrow.parquet as pq
    from drg.casefile.parquet import parquet_file

    from drg.policy import Policy, load_policy
    from drg.pricing.adjustments import totals_of_point_sums
    from drg.pricing.points import summary_of_sums

    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    year = year if year is not None else pol.year
    ds = open_dataset(cases)
    out = Path(out)
    rej_root = Path(rejects) if rejects is not None else out / "_rejects"
    tables = Path(tables).resolve()
    for name in ("weights.parquet", "coefficients.parquet"):
        if not (tables / name).exists():
            from drg.errors import InputError

            raise InputError(f"{name[:-8]} table not found (run `drg weights`)", file=str(tables / name))
    shas = {"weights": file_sha256(tables / "weights.parquet"),
            "coefficients": file_sha256(tables / "coefficients.parquet")}
    if reviews:
        reviews = str(Path(reviews).resolve())
        shas["reviews"] = file_sha256(reviews)
    if violations:
        violations = str(Path(violations).resolve())
        shas["violations"] = file_sha256(violations)
    run = uuid.uuid4().hex[:8]
    threads = sum(client.nthreads().values()) or 1
    halved: dict[int, np.ndarray] = {}
    if pol.readmission.enabled:
        rows = sum(parquet_file(p.path).metadata.num_rows for p in ds)
        halved = readmitted_rows(client, ds, pol, year, engine, run=run, threads=threads, rows=rows,
                                 buckets=buckets, fault=fault, on_progress=on_progress)
    futures = [client.submit(price_partition, p, str(ds.output(out, p)), str(ds.output(rej_root, p)), str(tables),
                             shas, pol,
                             reviews=reviews, violations=violations, year=year, engine=engine,
                             readmitted_rows=halved.get(p.index), fault=fault, key=f"drg-price-{run}-{p.index}")
               for p in ds]
    entries = wait(futures, "pricing", on_progress)
    from drg.distributed.grouping import sweep_unfinished
    import polars as pl

    sweep_unfinished(out, rej_root)
    totals = totals_of_point_sums(pl.concat([e["hospital_sums"] for e in entries]), pol)
    totals_path = out / TOTALS_NAME
    tmp = out / f".{TOTALS_NAME}.partial"
    pq.write_table(totals, tmp)
    tmp.replace(totals_path)
    sums = {"cases": 0, "classes": None, "points_u": 0, "adjusted_u": 0, "halved": 0, "deduction_u": 0}
    for e in entries:
        s = e["summary_sums"]
        for k, v in s.items():
            if k == "classes":
                sums[k] = v if sums[k] is None else [a + b for a, b in zip(sums[k], v)]
            else:
                sums[k] += v
    read = sum(e["read"] for e in entries)
    rejected = sum(e["rejected"] for e in entries)
    summary = summary_of_sums(sums, pol.points_scale) | {"read": read, "rejected": rejected,
                                                         "hospital_totals": str(totals_path),
                                                         "partitions": len(ds)}
    files = [_relative({k: v for k, v in e.items() if k not in ("summary_sums", "hospital_sums")}, out)
             for e in entries]
    manifest = write_manifest(out, "points", files, cases=ds.source, tables=str(tables), tables_sha256=shas,
                              policy=pol.id, year=year, summary=summary)
    return summary | {"manifest": str(manifest)}


def _relative(entry: dict, out: Path) -> dict:
    import os

    e = dict(entry)
    e["output"] = os.path.relpath(e["output"], out)
    if "rejects" in e:
        e["rejects"] = os.path.relpath(e["rejects"], out)
    return e
