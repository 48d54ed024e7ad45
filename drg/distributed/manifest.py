"""The manifest of a distributed run: every output file with its partition, row counts, size and sha256.

Written as ``OUT/_manifest.json`` once every partition is done, under a temporary name and then renamed, so a
manifest is always a whole run's. A settlement run over a priced dataset takes the files' sha256 for its
ledger records from the manifest instead of reading every file again on the client.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["MANIFEST_NAME", "file_sha256", "partition_entry", "read_manifest", "staged_outputs", "write_manifest"]

MANIFEST_NAME = "_manifest.json"


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def staged_outputs(out: Path, rejects: Path | None) -> Iterator[tuple[Path, Path | None]]:
    """Where a partition task writes its output (and rejects) file: a directory of its own beside each final
    path, renamed into place when the block ends without an error, removed in every case. A retried task
    (Dask reruns it after a worker died) never meets a half-written file of the attempt before."""
    staged = [(final, final.parent / f".drg-tmp-{uuid.uuid4().hex}") for final in (out, rejects) if final]
    try:
        for _final, tmp in staged:
            tmp.mkdir(parents=True)
        yield tuple(tmp / final.name for final, tmp in staged) + ((None,) if rejects is None else ())
        for final, tmp in staged:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / final.name, final)
    finally:
        for _final, tmp in staged:
            shutil.rmtree(tmp, ignore_errors=True)


def partition_entry(part, out: Path, rejects: Path | None, **facts) -> dict:
    """A partition's manifest entry: its input, its output with size and sha256, its rejects file with its
    sha256, and the stage's ``facts`` (rows, counts, sums)."""
    entry = {"partition": part.index, "input": part.path, "name": part.name, "output": str(out), **facts,
             "bytes": out.stat().st_size, "sha256": file_sha256(out)}
    if rejects is not None:
        entry |= {"rejects": str(rejects), "rejects_sha256": file_sha256(rejects)}
    return entry


def write_manifest(out: str | Path, stage: str, files: list[dict], **facts) -> Path:
    """Write ``OUT/_manifest.json``: the stage (``group``, ``points``), facts of the run (its inputs and their
    sha256, the summary) and ``files``, one entry per partition in documented order (paths relative to
    ``out``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"stage": stage, **facts, "files": sorted(files, key=lambda f: f["partition"])}
    path = out / MANIFEST_NAME
    tmp = out / f".{MANIFEST_NAME}.{os.getpid()}.partial"
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_manifest(directory: str | Path) -> dict | None:
    """The manifest of a dataset directory written by a distributed run, or None."""
    path = Path(directory) / MANIFEST_NAME
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))
