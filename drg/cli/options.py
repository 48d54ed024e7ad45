"""What every command shares: reading a period, a scheme, a sex and a list of codes the same way; the usage
error (exit 2) for a value of the wrong form; the light coercion of plain options.

Usage errors: a value of the wrong *form* (a period that is not ``YYYY-MM``, ``YYYY-Qn``, ``YYYY-Hn`` or
``YYYY``; a sex that is neither 1/2 nor 男/女) is a usage error, exit code 2, raised as
:class:`typer.BadParameter` by the parsers here. A value of the right form that the data contradicts (a
period not in the ledger) is an input error, exit code 1.

Light coercion (:func:`install_light_coercion`): typer 0.29 converts every option value through a pydantic
``TypeAdapter``, and importing pydantic costs about 0.15–0.2 s — more than the one-case estimate's own work.
Options of plain types (``str``, ``int``, ``float``, ``Path`` and lists of them, optional or not, without
constraints but a ``min``/``max`` of a number: ``--workers``, which every batch command has) are converted
here instead, by the same rules (an ``int`` option given ``"x"``, or one below its ``min``, is a usage error);
anything else still goes through typer's own coercion. If typer's internals differ from what this
expects, nothing is replaced and every option goes through typer as before.
"""

from __future__ import annotations

import typing
from pathlib import Path

__all__ = ["install_light_coercion", "period_value", "sex_value", "split_codes", "load_any_scheme",
           "SEX_WORDS", "PERIOD_HELP"]

#: What a ``--period`` option accepts, for help texts.
PERIOD_HELP = "YYYY-MM (a month), YYYY-Qn (a quarter), YYYY-Hn (a half-year) or YYYY (a year)"

#: Words accepted for sex, beside 1 and 2 (the contract's codes).
SEX_WORDS = {"男": 1, "女": 2, "m": 1, "f": 2, "male": 1, "female": 2, "未知": 0, "未说明": 9}


# ----------------------------------------------------------------------------------------------- values
def period_value(text: str | None, *, kinds: tuple[str, ...] = ("month", "quarter", "half", "year"),
                 option: str = "--period", allow_range: bool = False):
    """Read ``--period`` with :func:`drg.settlement.periods.parse_period` (or a range ``A:B`` when
    ``allow_range``); a malformed value is a usage error (exit 2). Returns the canonical text, or None."""
    import typer

    from drg.errors import InputError
    from drg.settlement.periods import parse_period, parse_period_range

    if text is None:
        return None
    try:
        if allow_range and ":" in text:
            parse_period_range(text, what="the period")
            return text.strip()
        return parse_period(text, kinds=kinds, what="the period").text
    except InputError as exc:
        raise typer.BadParameter(exc.reason, param_hint=option) from None


def sex_value(text: str | None, option: str = "--sex") -> int | None:
    """``1``, ``2`` (0, 9) or 男/女 (male/female); anything else is a usage error (exit 2)."""
    import typer

    if text is None:
        return None
    v = str(text).strip()
    if v.isdigit() and int(v) in (0, 1, 2, 9):
        return int(v)
    if v.lower() in SEX_WORDS:
        return SEX_WORDS[v.lower()]
    raise typer.BadParameter(f"{text!r}: use 1 (male, 男) or 2 (female, 女)", param_hint=option)


def split_codes(text: str | None) -> list[str]:
    """Codes as typed: separated by ``,`` ``|`` ``;`` (full-width too) or spaces."""
    if not text:
        return []
    import re

    return [c for c in re.split(r"[|,;，；\s]+", text.strip()) if c]


def load_any_scheme(path: str | Path, codes: str | Path | None = None):
    """A grouping scheme from a compiled scheme file (``drg scheme build``) or a rule-table directory (compiled
    in memory; ``codes`` is its code dictionary, found beside a shipped scheme), or the name of a shipped
    scheme (``demo``).

    Raises
    ------
    InputError
        The path is neither, or a directory lacks its code dictionary.
    """
    from drg.errors import InputError

    p = Path(path)
    if p.is_file():
        from grouper.scheme import load_scheme

        return load_scheme(p)
    from drg.synth.samples import resolve_rules, schemes

    if p.is_dir() or str(path) in schemes():
        from grouper.build import build_scheme

        rules_dir, codes_dir = resolve_rules(str(path), codes)
        scheme, _report = build_scheme(rules_dir, codes_dir)
        return scheme
    raise InputError("no such scheme: give a compiled scheme file (drg scheme build), a rule-table directory "
                     "with --codes, or a shipped scheme name (demo)", file=str(path))


# ----------------------------------------------------------------------------------------------- coercion
_installed = False


def install_light_coercion() -> bool:
    """Convert plain option values without pydantic (see the module docstring). Returns whether installed."""
    global _installed
    if _installed:
        return True
    try:
        import typer.core as core
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:  # another typer: keep its own coercion
        return False
    original = getattr(core, "build_runtime_param", None)
    if original is None or not isinstance(RuntimeParam, type):
        return False

    def to_bool(v):
        text = str(v).strip().lower()
        if text in ("1", "true", "yes", "y", "on", "t"):
            return True
        if text in ("0", "false", "no", "n", "off", "f"):
            return False
        raise ValueError(v)

    plain = {str: str, int: int, float: float, Path: Path, bool: to_bool}
    words = {int: "integer", float: "number", str: "text", Path: "path", bool: "boolean"}

    def unwrap(annotation):
        if typing.get_origin(annotation) is typing.Union:
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                return args[0]
        return annotation

    def constrained(info, kind) -> bool:
        names = ("parser", "click_type", "exists", "formats", "mode", "encoding", "path_type", "allow_dash",
                 "resolve_path", "writable", "clamp")
        if any(getattr(info, n, None) not in (None, False) for n in names):
            return True
        if kind not in (int, float) and any(getattr(info, n, None) is not None for n in ("min", "max")):
            return True
        return any(getattr(info, n, True) is not True for n in ("file_okay", "dir_okay", "readable"))

    class _Light(RuntimeParam):
        def _coerce_value(self, value, param, ctx):
            ann = unwrap(self.annotation)
            many = typing.get_origin(ann) is list
            kind = unwrap(typing.get_args(ann)[0]) if many else ann
            conv = plain[kind]

            info = self.parameter_info
            low, high = getattr(info, "min", None), getattr(info, "max", None)

            def one(v):
                if not isinstance(v, kind):
                    try:
                        v = conv(v)
                    except (TypeError, ValueError):
                        raise BadParameter(f"{v!r} is not a valid {words[kind]}.", ctx=ctx, param=param) from None
                # a bound of an int or float option (typer's own words for it)
                if low is not None and v < low:
                    raise BadParameter(f"Input should be greater than or equal to {low}", ctx=ctx, param=param)
                if high is not None and v > high:
                    raise BadParameter(f"Input should be less than or equal to {high}", ctx=ctx, param=param)
                return v

            if many:
                return [one(v) for v in (value if isinstance(value, (list, tuple)) else [value])]
            return one(value)

    def light(descriptor):
        ann = unwrap(descriptor.annotation)
        kind = ann
        if typing.get_origin(ann) is list and len(typing.get_args(ann)) == 1:
            kind = unwrap(typing.get_args(ann)[0])
        if (kind in plain and descriptor.file_annotation is None
                and not constrained(descriptor.parameter_info, kind)):
            try:
                return _Light(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
            except TypeError:
                pass
        return original(descriptor)

    core.build_runtime_param = light
    _installed = True
    return True
