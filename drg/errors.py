"""Errors that reach a person: each names the file, and where it applies the row, field or key."""

from __future__ import annotations

__all__ = ["InputError", "PolicyError", "InvariantError", "read_toml"]


class InputError(Exception):
    """The input or policy is wrong (CLI exit code 1).

    Parameters
    ----------
    message : str
        What is wrong, in words a settlement officer understands.
    file, row, field : optional
        Where it is wrong. ``row`` is 1-based as a person counts data rows (header excluded).
    """

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.row, self.field = file, row, field
        where = []
        if file:
            where.append(str(file))
        if row is not None:
            where.append(f"row {row}")
        if field:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class PolicyError(InputError):
    """A policy file has a wrong, missing or unknown key. The message names the key and the file."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.key = key
        super().__init__(message, file=file, field=key)


class InvariantError(RuntimeError):
    """A money invariant of a settlement run does not hold; the run is refused, nothing is written."""


def read_toml(path, what: str = "settings file") -> dict:
    """Read a TOML file; a missing file or a syntax error is an :class:`InputError` naming the file."""
    import tomllib
    from pathlib import Path

    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{what} not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", file=str(path)) from None
