"""The registry of sample data shipped in ``data/`` (installed as package ``drg_data``).

One place says what samples exist: the demo grouping scheme and its code dictionary, the synthetic-city
settings, and (through :mod:`drg.policy`) the policy profiles. ``drg demo``, ``drg synth`` and the tests
find them here; nothing else hard-codes a path into ``data/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from drg.errors import InputError

__all__ = ["SchemeSample", "data_dir", "schemes", "cities", "city_settings", "resolve_rules"]


def data_dir() -> Path:
    """The root of the shipped sample data."""
    return Path(str(files("drg_data")))


@dataclass(frozen=True)
class SchemeSample:
    """A grouping scheme in rule-table layout, with the code dictionary it is built against."""

    name: str
    rules_dir: Path
    codes_dir: Path
    description: str


def schemes() -> dict[str, SchemeSample]:
    """Shipped schemes (only the demo; the published sets are read from ``../shared`` or a given path)."""
    root = data_dir()
    return {
        "demo": SchemeSample("demo", root / "schemes" / "demo", root / "codes" / "demo",
                             "small demo scheme in the CHS-DRG 1.1 table layout (docs/demo-scheme.md)"),
    }


def cities() -> dict[str, Path]:
    """Shipped synthetic-city settings, by name."""
    return {p.stem: p for p in sorted((data_dir() / "cities").glob("*.toml"))}


def city_settings(name_or_path: str | Path):
    """Load synthetic-city settings by shipped name (``demo``) or TOML path."""
    from drg.synth.city import CitySettings

    known = cities()
    if str(name_or_path) in known:
        return CitySettings.load(known[str(name_or_path)])
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return CitySettings.load(path)
    raise InputError(f"unknown city {str(name_or_path)!r}; shipped: {sorted(known)}, or give a TOML path")


def resolve_rules(scheme: str | Path, codes: str | Path | None = None) -> tuple[Path, Path]:
    """Return ``(rules_dir, codes_dir)`` for a shipped scheme name, a rule-table directory, or a compiled scheme
    file (``drg scheme build``) whose rule tables are found here (:func:`_rules_of_compiled`).

    A rule-table directory needs ``codes`` (its code dictionary directory) unless it is a shipped one.
    """
    known = schemes()
    if str(scheme) in known:
        sample = known[str(scheme)]
        return sample.rules_dir, Path(codes) if codes else sample.codes_dir
    if Path(scheme).is_file():
        return _rules_of_compiled(Path(scheme), codes)
    rules_dir = Path(scheme)
    if not rules_dir.is_dir():
        raise InputError(f"no such scheme: give a shipped name {sorted(known)} or a rule-table directory",
                         file=str(scheme))
    if codes is None:
        raise InputError("a rule-table directory needs --codes (the code dictionary directory)",
                         file=str(scheme), field="codes")
    return rules_dir, Path(codes)


def _candidate_dirs(kind: str) -> list[Path]:
    """Where rule tables (``kind = "schemes"``) or code dictionaries (``"codes"``) may be: the shipped ones,
    and the published sets in ``../shared`` beside the repository or the working directory."""
    out = [getattr(s, "rules_dir" if kind == "schemes" else "codes_dir") for s in schemes().values()]
    repo = Path(__file__).resolve().parents[2]
    for root in (repo.parent / "shared" / kind, Path.cwd().parent / "shared" / kind, Path.cwd() / "shared" / kind):
        if root.is_dir():
            out += sorted(p for p in root.iterdir() if p.is_dir())
    return out


def _matches(directory: Path, sources: dict[str, str]) -> bool:
    import hashlib

    if not sources:
        return False
    for name, digest in sources.items():
        p = directory / name
        if not p.is_file() or hashlib.sha256(p.read_bytes()).hexdigest() != digest:
            return False
    return True


def _rules_of_compiled(path: Path, codes: str | Path | None) -> tuple[Path, Path]:
    """The rule tables and code dictionary a compiled scheme file was built from, found by the sha256 of
    every source file its manifest lists (synthesizing draws cases from the rule tables themselves)."""
    from grouper.scheme import load_scheme

    manifest = load_scheme(path).manifest
    sources = manifest.get("sources", {})
    rules_src = {k: v for k, v in sources.items() if not k.startswith("codes/") and "/" not in k}
    codes_src = {k.removeprefix("codes/"): v for k, v in sources.items() if k.startswith("codes/")}
    rules_dir = next((d for d in _candidate_dirs("schemes") if _matches(d, rules_src)), None)
    if rules_dir is None:
        raise InputError(f"the scheme file was compiled from rule tables that are not found here (scheme "
                         f"{manifest.get('scheme')} {manifest.get('version')}); give the rule-table directory to "
                         "--scheme, with --codes", file=str(path))
    if codes is not None:
        return rules_dir, Path(codes)
    codes_dir = next((d for d in _candidate_dirs("codes") if _matches(d, codes_src)), None)
    if codes_dir is None:
        raise InputError("the scheme file's code dictionary is not found here; give it with --codes", file=str(path))
    return rules_dir, codes_dir
