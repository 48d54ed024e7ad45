"""A partitioned case dataset: its files in their documented order, and where each file's outputs go.

A dataset is a directory of Parquet files, usually in hive-style partitions (``year=2025/month=03/``, or by
county), or a list of files or directories. Its **documented order** is the order every distributed run
follows and every identity test checks: the files of a directory sorted by their path relative to it (as
text, so zero-padded months sort in time order), the items of a list in the order given. Running the
single-machine command on the files concatenated in that order gives the same rows, weights and money.

Names starting with ``_`` or ``.`` are not part of a dataset (``_manifest.json``, ``_rejects/``,
``_hospital_totals.parquet``, unfinished ``.drg-tmp-*`` directories), nor are ``*.partial`` files.

Each partition's outputs keep its relative path under the output directory, so a retried task writes the
same file again — never a second one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drg.errors import InputError

__all__ = ["Dataset", "Partition", "open_dataset", "split_cases"]

SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Partition:
    """One file of a dataset: its place in the documented order, its path, and its name (the path relative
    to the dataset's root, with ``/``), which is also its outputs' relative path."""

    index: int
    path: str
    name: str


@dataclass(frozen=True)
class Dataset:
    """The files of a dataset in documented order."""

    source: str
    partitions: tuple[Partition, ...]

    def __len__(self) -> int:
        return len(self.partitions)

    def __iter__(self):
        return iter(self.partitions)

    def output(self, root: str | Path, part: Partition, suffix: str | None = None) -> Path:
        """Where ``part``'s output goes under ``root`` (same relative path; ``suffix`` replaces the file's)."""
        rel = Path(part.name)
        if suffix is not None:
            rel = rel.with_suffix(suffix)
        return Path(root) / rel


def _hidden(rel: Path) -> bool:
    return any(p.startswith(("_", ".")) for p in rel.parts) or rel.name.endswith(".partial")


def _files_of(directory: Path) -> list[Path]:
    found = [p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
             and not _hidden(p.relative_to(directory))]
    return sorted(found, key=lambda p: p.relative_to(directory).as_posix())


def open_dataset(source: str | Path | Sequence[str | Path]) -> Dataset:
    """The files of a dataset directory, of one file, or of a list of files and directories (each directory
    expanded in place), in documented order. Names are relative to the deepest directory holding them all.

    Raises
    ------
    InputError
        When a path does not exist or the dataset holds no Parquet file.
    """
    items = [source] if isinstance(source, (str, Path)) else list(source)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = _files_of(p)
            if not found:
                raise InputError("no Parquet file in the dataset directory", file=str(p))
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise InputError("case dataset not found", file=str(p))
    if not files:
        raise InputError("the dataset holds no file", file=str(source))
    resolved = [f.resolve() for f in files]
    if len(set(resolved)) != len(resolved):
        raise InputError("a file appears twice in the dataset", file=str(source))
    dirs = [Path(items[0]).resolve()] if len(items) == 1 and Path(items[0]).is_dir() else \
        [f.parent for f in resolved]
    root = Path(os.path.commonpath([str(d) for d in dirs])) if dirs else Path(".")
    parts = tuple(Partition(i, str(f), f.relative_to(root).as_posix()) for i, f in enumerate(resolved))
    return Dataset(str(source) if isinstance(source, (str, Path)) else ", ".join(map(str, items)), parts)


def split_cases(src: str | Path, out_dir: str | Path, *, partitions: int | None = None, by: str | None = None,
                row_group_rows: int = 1 << 20) -> Dataset:
    """Cut one case file into a dataset (for tests, benchmarks and trying a cluster on a single file).

    ``partitions=N``: N files ``part-00000.parquet`` … of consecutive rows, so the dataset in documented order
    is the file itself. ``by="month"``: hive partitions ``year=YYYY/month=MM/part-0.parquet`` by discharge
    date; ``by=COLUMN``: ``COLUMN=VALUE/part-0.parquet``. Rows keep their file order within a partition. The
    file is read row group by row group (one in memory at a time).
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from drg.casefile.parquet import parquet_file

    if (partitions is None) == (by is None):
        raise ValueError("give partitions=N or by=COLUMN")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    source = parquet_file(src)
    schema = source.schema_arrow
    writers: dict[str, pq.ParquetWriter] = {}

    def write(rel: str, table: pa.Table) -> None:
        if rel not in writers:
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            writers[rel] = pq.ParquetWriter(path, schema)
        writers[rel].write_table(table, row_group_size=row_group_rows)

    try:
        if partitions is not None:
            bounds = np.linspace(0, source.metadata.num_rows, partitions + 1).astype(np.int64)
            width = max(5, len(str(partitions)))
            names = [f"part-{k:0{width}d}.parquet" for k in range(partitions)]
            lo = 0
            for i in range(source.num_row_groups):
                rg = source.read_row_group(i)
                hi = lo + rg.num_rows
                for k in range(partitions):
                    a, b = max(lo, int(bounds[k])), min(hi, int(bounds[k + 1]))
                    if a < b:
                        write(names[k], rg.slice(a - lo, b - a))
                lo = hi
            for name in names:          # an empty partition is still a file
                if name not in writers:
                    write(name, schema.empty_table())
        else:
            for i in range(source.num_row_groups):
                rg = source.read_row_group(i)
                if by == "month":
                    dd = rg.column("discharge_date")
                    keys = pc.binary_join_element_wise(
                        pc.utf8_lpad(pc.cast(pc.year(dd), pa.string()), 4, "0").fill_null("0000"),
                        pc.utf8_lpad(pc.cast(pc.month(dd), pa.string()), 2, "0").fill_null("00"), "/month=")
                    keys = pc.binary_join_element_wise(pa.scalar("year="), keys, "")
                else:
                    keys = pc.binary_join_element_wise(pa.scalar(f"{by}="),
                                                       rg.column(by).cast(pa.string()).fill_null("__null__"), "")
                enc = pc.dictionary_encode(keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys)
                codes = np.asarray(enc.indices)
                for j, k in enumerate(enc.dictionary.to_pylist()):
                    write(f"{k}/part-0.parquet", rg.take(pa.array(np.nonzero(codes == j)[0])))
    finally:
        for w in writers.values():
            w.close()
    return open_dataset(out)
