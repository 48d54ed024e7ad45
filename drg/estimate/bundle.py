"""The bureau's published bundle (``drg publish``) and its reading (``drg estimate --bundle``).

A bundle is one directory that lets a hospital price its own cases the way the bureau will:

===========================  ===========================================================================
``manifest.json``            format, creation time, policy id, settlement year, scheme name/version, the
                             point-value source, and the sha256 and size of every other file
``scheme.zip``               the compiled grouping scheme (a copy of the file given to ``--scheme``)
``weights.parquet``          the weights table of ``drg weights`` (base points, means, stability)
``coefficients.parquet``     the coefficients of every hospital of the settlement year
``policy.toml``              the policy, resolved (every ``extends`` followed), so the bundle stands alone
``point_values.json``        provisional point value per pool (insurance type), exact fen per point
``estimate.json``            the weights and coefficients again in a compact JSON form, read by the
                             one-case estimate without pyarrow (see below)
``codes.json`` (optional)    code → name of the dictionary (``--codes``), for readable code suggestions
``病组点数表.xlsx``           for people: base points, stability, mean cost and the payment of a normal
                             case per DRG; every hospital's coefficient per DRG with the amount a normal
                             case earns at each pool's point value; the point values; what each column
                             means (:func:`drg.estimate.bundle_workbook.write_bundle_workbook`)
===========================  ===========================================================================

``estimate.json`` holds, for each DRG of the weights table (in its order): ``n_cases, mean_cost_fen, cv,
stable, base_points, per_diem_points, per_diem_mean_fen``; the all-DRG mean ``A`` (the float the batch
pricing divides by, and its exact fraction); and per hospital its tier and, aligned with the DRGs, ``coef``,
``coef_source`` (one letter a DRG: ``h`` hospital, ``t`` tier, ``1`` neither), ``hospital_coef``,
``tier_coef`` and ``n_hospital``. Floats are written with ``repr`` so they read back bit for bit: the
one-case estimate uses exactly the numbers :func:`drg.pricing.points.price_cases` uses.

Reading a bundle for the one-case estimate (:func:`open_bundle`) needs only the standard library and numpy
(the scheme's arrays): no polars, pyarrow, numba or duckdb. Writing one (:func:`publish`) uses pyarrow.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

from drg.errors import InputError

__all__ = ["publish", "open_bundle", "Bundle", "EstimateTables", "PointValue", "parse_point_values",
           "policy_toml", "BUNDLE_FILES", "FORMAT_VERSION"]

FORMAT_VERSION = 1
SCHEME_FILE = "scheme.zip"
BUNDLE_FILES = {
    "scheme": SCHEME_FILE,
    "weights": "weights.parquet",
    "coefficients": "coefficients.parquet",
    "policy": "policy.toml",
    "point_values": "point_values.json",
    "estimate_tables": "estimate.json",
    "workbook": "病组点数表.xlsx",
}
#: files the one-case estimate reads (checked against the manifest's sha256 when opened)
FAST_FILES = ("scheme", "policy", "point_values", "estimate_tables")
ALL_POOLS = "all"
SOURCE_LETTER = {"hospital": "h", "tier": "t", "1.0": "1"}
SOURCE_NAME = {v: k for k, v in SOURCE_LETTER.items()}


# ----------------------------------------------------------------------------------------------- helpers
def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fraction_text(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _parse_fraction(text: str) -> Fraction:
    return Fraction(text)


@dataclass(frozen=True)
class PointValue:
    """A provisional point value of one pool: exact fen per point, and where it comes from."""

    pool: str
    fen_per_point: Fraction
    source: str

    @property
    def yuan_text(self) -> str:
        """Yuan per point rounded half away from zero to 4 decimals (display only; never used rounded)."""
        from drg.money import round_half_away

        u = round_half_away(self.fen_per_point * 100)   # 1/10000 yuan
        sign = "-" if u < 0 else ""
        u = abs(u)
        return f"{sign}{u // 10000}.{u % 10000:04d}"

    def to_json(self) -> dict:
        return {"fen_per_point": _fraction_text(self.fen_per_point), "yuan_per_point": self.yuan_text,
                "source": self.source}


def parse_point_values(items: list[str]) -> dict[str, PointValue]:
    """``["310=85.5", "390=80.2"]`` (yuan per point, per pool) → pool → :class:`PointValue`.

    A bare number (``85.5``) is the point value of every pool (pool ``all``).
    """
    out: dict[str, PointValue] = {}
    for item in items:
        pool, sep, value = item.partition("=")
        if not sep:
            pool, value = ALL_POOLS, item
        pool, value = pool.strip(), value.strip()
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise InputError(f"--point-value {item!r}: {value!r} is not a number of yuan per point "
                             "(write POOL=YUAN, e.g. 310=85.5)", field="--point-value") from None
        if not d.is_finite() or d <= 0:
            raise InputError(f"--point-value {item!r}: the point value must be a positive number",
                             field="--point-value")
        if pool in out:
            raise InputError(f"--point-value: pool {pool!r} given twice", field="--point-value")
        out[pool] = PointValue(pool, Fraction(d) * 100, f"given to drg publish ({value} yuan per point)")
    if not out:
        raise InputError("no point value given (use --point-value POOL=YUAN or --ledger)", field="--point-value")
    return out


# ----------------------------------------------------------------------------------------------- policy
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        s = str(v)
        return s if any(ch in s for ch in ".eE") else s + ".0"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else json.dumps(k, ensure_ascii=False)


def policy_toml(policy_path: str | Path) -> str:
    """The policy file with every ``extends`` followed: one self-contained TOML text.

    Each key keeps the value written in the file that set it; the ``[sources]`` table keeps the cited
    source of every value that had one, so ``drg policy show`` on the bundle's copy cites the same sources.
    """
    from drg.policy import load_policy, read_policy_values, resolve_policy_path

    path = resolve_policy_path(policy_path)
    pol = load_policy(path)
    flat, origins = read_policy_values(path)
    flat.pop("policy.extends", None)
    flat["policy.id"] = (pol.id, str(path))
    sections: dict[str, list[tuple[str, Any]]] = {}
    for key, (value, _file) in flat.items():
        section, _, leaf = key.rpartition(".")
        sections.setdefault(section, []).append((leaf, value))
    lines = [f"# Policy {pol.id} resolved by `drg publish` from {path.name} (every `extends` followed).", ""]
    for section, items in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in items)
        lines.append("")
    cited = {k: o for k, o in origins.items() if k in flat and not o.startswith("set in")}
    if cited:
        lines.append("[sources]")
        lines.extend(f"{json.dumps(k)} = {json.dumps(o, ensure_ascii=False)}" for k, o in cited.items())
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- publish
def _estimate_tables(weights, coefficients) -> dict:
    """The compact JSON form of the weights and coefficients (see the module docstring)."""
    wt = weights.table
    drgs = wt.column("drg").to_pylist()
    out: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "a_fen": float(weights.a_fen),
        "a_fen_exact": _fraction_text(weights.a_fen),
        "history_years": list(weights.years),
        "policy_id": weights.policy_id,
        "scheme_id": weights.scheme_id,
        "settlement_year": weights.settlement_year,
        "drgs": drgs,
    }
    for col in ("n_cases", "mean_cost_fen", "cv", "stable", "base_points", "per_diem_points", "per_diem_mean_fen",
                "mean_cost_exact", "per_diem_mean_exact"):  # the exact means decide classes, as in batch pricing
        out[col] = wt.column(col).to_pylist() if col in wt.column_names else [None] * len(drgs)
    w_of = {d: i for i, d in enumerate(drgs)}
    ct = coefficients
    cols = {c: ct.column(c).to_pylist() for c in ("hospital_id", "tier", "drg", "coef", "coef_source",
                                                  "hospital_coef", "tier_coef", "n_hospital")}
    hospitals: dict[str, dict] = {}
    n = len(drgs)
    for i, h in enumerate(cols["hospital_id"]):
        rec = hospitals.get(h)
        if rec is None:
            rec = hospitals[h] = {"tier": cols["tier"][i], "coef": [None] * n, "coef_source": ["1"] * n,
                                  "hospital_coef": [None] * n, "tier_coef": [None] * n, "n_hospital": [0] * n}
        w = w_of.get(cols["drg"][i])
        if w is None:
            continue
        rec["coef"][w] = cols["coef"][i]
        rec["coef_source"][w] = SOURCE_LETTER.get(cols["coef_source"][i], "1")
        rec["hospital_coef"][w] = cols["hospital_coef"][i]
        rec["tier_coef"][w] = cols["tier_coef"][i]
        rec["n_hospital"][w] = cols["n_hospital"][i]
    for rec in hospitals.values():
        rec["coef_source"] = "".join(rec["coef_source"])
    out["hospitals"] = dict(sorted(hospitals.items()))
    md = ct.schema.metadata or {}
    blend = md.get(b"drg.blend")
    out["blend"] = json.loads(blend) if blend else None
    return out


def _ledger_point_values(ledger: Path, period: str) -> dict[str, PointValue]:
    """Point values per pool of the settlement run of ``period`` in the ledger (DuckDB).

    ``period`` is a year (``2025``: the annual run) or a month (``2025-06``: that month's run, whose point
    value is the provisional one of SPEC §6). A plain query on the ledger's ``runs`` and ``pool_results``
    tables (:mod:`drg.settlement.ledger`), exact as ``point_value_exact`` (``num/den`` fen per point).
    """
    from drg.settlement.ledger import Ledger

    period = str(period).strip()
    with Ledger(ledger).connect(read_only=True) as con:
        has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                          "('runs', 'pool_results')").fetchone()[0]
        if has < 2:
            raise InputError("not a settlement ledger (no runs/pool_results tables)", file=str(ledger))
        rows = con.execute("""SELECT r.kind, r.run_id, p.pool, p.point_value_exact FROM runs r
                              JOIN pool_results p USING (run_id) WHERE r.period = ? ORDER BY p.pool""",
                           [period]).fetchall()
        periods = [x[0] for x in con.execute("SELECT DISTINCT period FROM runs ORDER BY period").fetchall()]
    if not rows:
        raise InputError(f"the ledger has no settlement run for period {period!r} (periods recorded: "
                         f"{', '.join(periods) or 'none'})", file=str(ledger), field="--period")
    out = {}
    for kind, run_id, pool, exact in rows:
        if exact is None:
            raise InputError(f"run {run_id} has no exact point value for pool {pool}", file=str(ledger))
        out[str(pool)] = PointValue(str(pool), Fraction(exact),
                                    f"ledger {Path(ledger).name}, {kind} run {period} ({run_id})")
    return out


def publish(scheme: str | Path, tables: str | Path, policy: str | Path, out: str | Path, *,
            point_values: list[str] | None = None, ledger: str | Path | None = None, period: str | None = None,
            codes: str | Path | None = None) -> dict:
    """Write a bundle directory (``drg publish``).

    Parameters
    ----------
    scheme : path of a compiled scheme file (``drg scheme build``).
    tables : the directory written by ``drg weights`` (``weights.parquet``, ``coefficients.parquet``).
    policy : policy profile name or TOML path.
    out : the bundle directory (created; files of an earlier bundle there are replaced).
    point_values : ``["310=85.5", ...]`` yuan per point per pool; or ``ledger`` and ``period``.
    codes : optional code dictionary directory, for code names in suggestions.

    Returns
    -------
    dict
        The manifest.
    """
    from grouper.scheme import load_scheme

    from drg.pricing.coefficients import read_coefficients
    from drg.policy import load_policy
    from drg.pricing.weights import read_weights

    scheme, tables, out = Path(scheme), Path(tables), Path(out)
    sch = load_scheme(scheme)
    for name in ("weights.parquet", "coefficients.parquet"):
        if not (tables / name).is_file():
            raise InputError(f"{name} not found in the tables directory (run `drg weights --out {tables}`)",
                             file=str(tables / name))
    weights = read_weights(tables / "weights.parquet")
    coefs = read_coefficients(tables / "coefficients.parquet")
    pol = load_policy(policy)
    if (point_values is None) == (ledger is None):
        raise InputError("give either --point-value POOL=YUAN (one per pool) or --ledger LEDGER --period P")
    if ledger is not None:
        if not period:
            raise InputError("--ledger needs --period", field="--period")
        pvs = _ledger_point_values(Path(ledger), period)
    else:
        pvs = parse_point_values(point_values)
    warnings = []
    if pol.pools_by_insurance_type:
        missing = [p for p in ("310", "390") if p not in pvs and ALL_POOLS not in pvs]
        if missing:
            warnings.append(f"no point value for pool(s) {', '.join(missing)}: cases of these pools get points "
                            "but no money estimate")
    if weights.policy_id and weights.policy_id != pol.id:
        warnings.append(f"the weights were computed under policy {weights.policy_id!r}, the bundle's policy is "
                        f"{pol.id!r}")
    sid = f"{sch.manifest.get('scheme', sch.name)}@{sch.manifest.get('version', sch.version)}"  # drg.grouping
    if weights.scheme_id and weights.scheme_id not in (sch.name, sch.version, sid):
        warnings.append(f"the weights were computed on cases grouped with scheme {weights.scheme_id!r}; the "
                        f"scheme file is {sid}")
    codes_map = None
    if codes is not None:
        from grouper.rules import load_code_dictionary

        cd = load_code_dictionary(codes)
        codes_map = {"dx": dict(cd.dx), "px": dict(cd.px)}

    from drg.outputs import atomic_dir

    # the bundle is written whole in a directory beside OUT and then takes its place: a failed or killed
    # publish leaves the earlier bundle as it was
    with atomic_dir(out) as staged:
        shutil.copyfile(scheme, staged / SCHEME_FILE)
        shutil.copyfile(tables / "weights.parquet", staged / BUNDLE_FILES["weights"])
        shutil.copyfile(tables / "coefficients.parquet", staged / BUNDLE_FILES["coefficients"])
        (staged / BUNDLE_FILES["policy"]).write_text(policy_toml(policy), encoding="utf-8")
        pv_doc = {"pools": {p: v.to_json() for p, v in sorted(pvs.items())}}
        (staged / BUNDLE_FILES["point_values"]).write_text(json.dumps(pv_doc, ensure_ascii=False, indent=1),
                                                        encoding="utf-8")
        (staged / BUNDLE_FILES["estimate_tables"]).write_text(
            json.dumps(_estimate_tables(weights, coefs), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        from drg.estimate.bundle_workbook import write_bundle_workbook

        write_bundle_workbook(staged / BUNDLE_FILES["workbook"], weights, coefs, pvs, sch,
                              {"policy_id": pol.id, "policy_name": pol.name, "scheme_id": sid,
                               "settlement_year": weights.settlement_year if weights.settlement_year is not None
                               else pol.year, "history_years": list(weights.years)})
        files = dict(BUNDLE_FILES)
        if codes_map is not None:
            (staged / "codes.json").write_text(json.dumps(codes_map, ensure_ascii=False, separators=(",", ":")),
                                            encoding="utf-8")
            files["codes"] = "codes.json"
        manifest = {
            "format_version": FORMAT_VERSION,
            "kind": "drg-bundle",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "policy_id": pol.id,
            "policy_name": pol.name,
            "settlement_year": weights.settlement_year if weights.settlement_year is not None else pol.year,
            "scheme": {"name": sch.name, "version": sch.version, "id": sid, "source_file": scheme.name},
            "weights": {"history_years": list(weights.years), "drgs": weights.table.num_rows,
                        "all_drg_mean_yuan": round(weights.a_yuan, 2)},
            "hospitals": len(set(coefs.column("hospital_id").to_pylist())),
            "point_values": {p: v.to_json() for p, v in sorted(pvs.items())},
            "point_value_source": "ledger" if ledger is not None else "given",
            "files": {k: {"path": f, "sha256": sha256_file(staged / f), "bytes": (staged / f).stat().st_size}
                      for k, f in files.items()},
            "warnings": warnings,
        }
        (staged / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


# ----------------------------------------------------------------------------------------------- reading
def _exact_list(texts: list | None, floats: list) -> list:
    """Exact means from ``num/den`` texts; where a text is missing (tables written before the exact means
    existed) the float is taken as it is."""
    texts = texts if texts is not None else [None] * len(floats)
    return [Fraction(t) if t is not None else (None if f is None else Fraction(f)) for t, f in zip(texts, floats)]


@dataclass
class EstimateTables:
    """The compact weights and coefficients of ``estimate.json`` (plain Python lists)."""

    a_fen: float
    a_fen_exact: Fraction
    drgs: list[str]
    n_cases: list
    mean_cost_fen: list
    cv: list
    stable: list
    base_points: list
    per_diem_points: list
    per_diem_mean_fen: list
    mean_cost_exact: list   # Fraction fen or None (exact num/den; a bundle without them falls back to floats)
    per_diem_mean_exact: list
    hospitals: dict
    blend: dict | None
    settlement_year: int | None
    index: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, doc: dict) -> EstimateTables:
        t = cls(a_fen=float(doc["a_fen"]), a_fen_exact=_parse_fraction(doc["a_fen_exact"]), drgs=doc["drgs"],
                n_cases=doc["n_cases"], mean_cost_fen=doc["mean_cost_fen"], cv=doc["cv"], stable=doc["stable"],
                base_points=doc["base_points"], per_diem_points=doc["per_diem_points"],
                per_diem_mean_fen=doc["per_diem_mean_fen"],
                mean_cost_exact=_exact_list(doc.get("mean_cost_exact"), doc["mean_cost_fen"]),
                per_diem_mean_exact=_exact_list(doc.get("per_diem_mean_exact"), doc["per_diem_mean_fen"]),
                hospitals=doc["hospitals"], blend=doc.get("blend"),
                settlement_year=doc.get("settlement_year"))
        t.index = {d: i for i, d in enumerate(t.drgs)}
        return t


@dataclass
class Bundle:
    """An opened bundle: its directory, manifest, and the parts loaded on first use."""

    path: Path
    manifest: dict
    _scheme: Any = None
    _policy: Any = None
    _tables: EstimateTables | None = None
    _pvs: dict[str, PointValue] | None = None
    _codes: dict | None = None

    def file(self, key: str) -> Path:
        """Path of a bundle file by its manifest key; a clear error when it is missing."""
        entry = self.manifest.get("files", {}).get(key)
        name = entry["path"] if entry else BUNDLE_FILES.get(key, key)
        p = self.path / name
        if not p.is_file():
            raise InputError(f"the bundle is missing its {key} file {name!r} (publish the bundle again with "
                             "`drg publish`)", file=str(p))
        return p

    def verify(self, keys: tuple[str, ...] = FAST_FILES) -> None:
        """Check that the files exist and their sha256 matches the manifest."""
        for key in keys:
            p = self.file(key)
            entry = self.manifest.get("files", {}).get(key)
            if entry is None:
                raise InputError(f"the bundle manifest does not list its {key} file", file=str(self.path /
                                                                                               "manifest.json"))
            if sha256_file(p) != entry["sha256"]:
                raise InputError(f"{entry['path']} was changed after the bundle was published (sha256 differs "
                                 "from manifest.json); publish the bundle again", file=str(p))

    @property
    def scheme(self):
        if self._scheme is None:
            from grouper.scheme import load_scheme

            self._scheme = load_scheme(self.file("scheme"))
        return self._scheme

    @property
    def policy(self):
        if self._policy is None:
            from drg.policy import load_policy

            self._policy = load_policy(self.file("policy"))
        return self._policy

    @property
    def tables(self) -> EstimateTables:
        if self._tables is None:
            p = self.file("estimate_tables")
            try:
                self._tables = EstimateTables.from_json(json.loads(p.read_text(encoding="utf-8")))
            except (ValueError, KeyError) as exc:
                raise InputError(f"not an estimate table written by `drg publish` ({exc})", file=str(p)) from None
        return self._tables

    @property
    def point_values(self) -> dict[str, PointValue]:
        if self._pvs is None:
            p = self.file("point_values")
            try:
                doc = json.loads(p.read_text(encoding="utf-8"))
                self._pvs = {k: PointValue(k, _parse_fraction(v["fen_per_point"]), v.get("source", ""))
                             for k, v in doc["pools"].items()}
            except (ValueError, KeyError, ZeroDivisionError) as exc:
                raise InputError(f"not a point-value file written by `drg publish` ({exc})", file=str(p)) from None
        return self._pvs

    @property
    def codes(self) -> dict | None:
        """Code names (``codes.json``) or None when the bundle has none."""
        if self._codes is None and "codes" in self.manifest.get("files", {}):
            self._codes = json.loads(self.file("codes").read_text(encoding="utf-8"))
        return self._codes

    def point_value(self, pool: str | None) -> PointValue | None:
        """The point value of a pool (insurance type); the ``all`` value when the bundle has one."""
        pvs = self.point_values
        if not self.policy.pools_by_insurance_type or pool is None:
            return pvs.get(ALL_POOLS) or (next(iter(pvs.values())) if len(pvs) == 1 else None)
        return pvs.get(str(pool)) or pvs.get(ALL_POOLS)


def open_bundle(path: str | Path, *, verify: bool = True) -> Bundle:
    """Open a bundle directory written by :func:`publish` (standard library only until a part is used).

    Raises
    ------
    InputError
        The directory or its manifest is missing, a file is missing (the message names it), or a file's
        sha256 differs from the manifest.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError("bundle directory not found (the bureau's `drg publish` writes it)", file=str(path))
    mpath = path / "manifest.json"
    if not mpath.is_file():
        raise InputError("the bundle has no manifest.json (not a bundle written by `drg publish`)", file=str(mpath))
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"manifest.json is not valid JSON ({exc})", file=str(mpath)) from None
    if manifest.get("kind") != "drg-bundle" or manifest.get("format_version") != FORMAT_VERSION:
        raise InputError(f"not a bundle of format {FORMAT_VERSION} (kind {manifest.get('kind')!r}, format "
                         f"{manifest.get('format_version')!r})", file=str(mpath))
    b = Bundle(path, manifest)
    if verify:
        b.verify()
    return b
