"""Errors that reach a person: each names the file, and where it applies the row, field or key.

:class:`InputError` is the grouper's (``grouper.errors``): one class for every input a person got wrong, from a
rule table to a case row; this module adds the policy's and the settlement's own.
"""

from __future__ import annotations

from grouper.errors import InputError

__all__ = ["InputError", "PolicyError", "InvariantError", "read_toml"]


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
