"""The manifest of a distributed run: every output file with its partition, row counts, size and sha256.

Written as ``OUT/_manifest.json`` once every partition is done, under a temporary name and then renamed, so a
manifest is always a whole run's. A settlement run over a priced dataset takes the files' sha256 for its
ledger records from the manifest instead of reading every file again on the client.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = ["MANIFEST_NAME", "file_sha256", "read_manifest", "write_manifest"]

MANIFEST_NAME = "_manifest.json"


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


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
