"""A hospital system's own headers and codes mapped to the contract (``--columns MAPPING.toml``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from drg.casefile.schema import CASE_SCHEMA
from drg.errors import InputError, read_toml

__all__ = ['ColumnMapping']


@dataclass(frozen=True)
class ColumnMapping:
    """A hospital system's headers mapped to contract names (``--columns MAPPING.toml``).

    The TOML file has a ``[columns]`` table of ``contract_name = "their header"``, and optionally
    ``[values.sex]`` (e.g. ``"男" = 1``), ``[values.insurance_type]``, ``[values.discharge_status]`` to
    translate coded values, ``sheet`` (Excel sheet name or 1-based number), ``encoding`` (to override
    detection) and ``optional`` (contract names whose header a file may lack: the column is then simply
    absent, instead of an error).
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    sheet: str | int | None = None
    encoding: str | None = None
    source: str | None = None
    optional: frozenset[str] = frozenset()

    @classmethod
    def load(cls, path: str | Path) -> ColumnMapping:
        path = Path(path)
        raw = read_toml(path, "column mapping file")
        unknown = set(raw) - {"columns", "values", "sheet", "encoding", "optional"}
        if unknown:
            raise InputError(f"unknown key(s) {sorted(unknown)}; expected columns, values, sheet, encoding, "
                             "optional", file=str(path))
        optional = raw.get("optional", [])
        if not isinstance(optional, list) or any(not isinstance(x, str) for x in optional):
            raise InputError("optional must be a list of contract column names", file=str(path), field="optional")
        bad_opt = [k for k in optional if k not in raw.get("columns", {})]
        if bad_opt:
            raise InputError(f"optional names column(s) {bad_opt} that [columns] does not map", file=str(path),
                             field="optional")
        columns = raw.get("columns", {})
        bad = [k for k in columns if k not in CASE_SCHEMA]
        if bad:
            raise InputError(f"[columns] maps unknown contract column(s) {bad}; contract columns are "
                             f"{list(CASE_SCHEMA)}", file=str(path), field="columns")
        values = raw.get("values", {})
        for name in values:
            if name not in CASE_SCHEMA:
                raise InputError(f"[values.{name}] names no contract column", file=str(path), field="values")
        return cls(columns=dict(columns), values={k: dict(v) for k, v in values.items()},
                   sheet=raw.get("sheet"), encoding=raw.get("encoding"), source=str(path),
                   optional=frozenset(optional))

    def renames(self, columns: list[str], file: str) -> dict[str, str]:
        """``{their header: contract name}``; an error names a header the file lacks, or a contract name that
        would collide with a column the file already has."""
        renames = {}
        for contract, header in self.columns.items():
            if header not in columns and contract in self.optional:
                continue  # an optional column the file does not have
            if header not in columns:
                raise InputError(f"the mapping {self.source} expects a column {header!r} (for {contract}); "
                                 f"the file has {columns}", file=file, field=header)
            if contract != header and contract in columns:
                raise InputError(f"the mapping {self.source} maps {header!r} to {contract!r}, but the file already "
                                 f"has a column {contract!r}", file=file, field=contract)
            renames[header] = contract
        return renames

    def translate(self, df: pl.DataFrame) -> pl.DataFrame:
        """Apply the ``[values.*]`` translations to the (already renamed) columns."""
        for name, table in self.values.items():
            if name in df.columns:
                lookup = {str(k): str(v) for k, v in table.items()}
                df = df.with_columns(pl.col(name).cast(pl.String).replace(lookup))
        return df

    def rename(self, df: pl.DataFrame, file: str) -> pl.DataFrame:
        renames = self.renames(df.columns, file)
        return self.translate(df.rename(renames))
