"""Reader of code dictionaries in the layout of ``codes/chs_drg_11``: ``ZD_INFO.dat`` (diagnoses),
``SS_INFO.dat`` (procedures), ``SS_VALID.dat`` (operating-room procedures, 手术室手术)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from grouper.rules.model import CodeDictionary


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_code_names(path: Path) -> dict[str, str]:
    """Read ``code name`` lines (first space separates) into a dict, in file order; blank lines skipped."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            code, _, name = line.partition(" ")
            out.setdefault(code.strip(), name.strip())
    return out


def load_code_dictionary(codes_dir: str | Path) -> CodeDictionary:
    """Load a code dictionary directory.

    Parameters
    ----------
    codes_dir : path
        Directory holding ``ZD_INFO.dat``, ``SS_INFO.dat`` and ``SS_VALID.dat``.

    Returns
    -------
    CodeDictionary
        ``dx`` and ``px`` code → name, ``or_px`` the operating-room procedures, ``source_files`` the sha256
        of each file read.
    """
    from grouper.errors import InputError

    codes_dir = Path(codes_dir)
    files = {"ZD_INFO.dat": None, "SS_INFO.dat": None, "SS_VALID.dat": None}
    for name in files:
        if not (codes_dir / name).is_file():
            raise InputError(f"code dictionary file {name} is missing", file=str(codes_dir))
    d = CodeDictionary()
    d.dx = read_code_names(codes_dir / "ZD_INFO.dat")
    d.px = read_code_names(codes_dir / "SS_INFO.dat")
    d.or_px = set(read_code_names(codes_dir / "SS_VALID.dat"))
    for name in files:
        d.source_files[name] = sha256_file(codes_dir / name)
    return d
