"""Codes a person typed, looked up in a scheme's dictionary: unknown codes named with the nearest valid
ones, and the CC/MCC status of each secondary diagnosis with its exclusion table."""

from __future__ import annotations

import difflib
from grouper.errors import InputError


# --------------------------------------------------------------------------------------------- codes
def _dictionary(scheme, is_px: bool) -> list[str]:
    key = "_est_px_dict" if is_px else "_est_dx_dict"
    cached = scheme.__dict__.get(key)
    if cached is None:
        codes = scheme.px_codes if is_px else scheme.dx_codes
        flags = scheme.arrays["px_in_dict" if is_px else "dx_in_dict"]
        cached = [c for c, f in zip(codes, flags.tolist()) if f]
        scheme.__dict__[key] = cached
    return cached


def suggest_codes(scheme, code: str, *, is_px: bool = False, n: int = 5) -> list[str]:
    """The nearest valid codes of the scheme's dictionary to an unknown ``code``.

    Codes sharing the category prefix (the part before the dot: ``I21`` of ``I21.00``, ``36`` of ``36.07``)
    come first, ranked by similarity (:mod:`difflib`); when the category has none, the closest codes of
    the whole dictionary.
    """
    from grouper.reference import normalize_code

    c = normalize_code(code)
    pool = _dictionary(scheme, is_px)
    head = c.split(".")[0]
    same = [x for x in pool if x.split(".")[0] == head] if head else []
    if same:
        ranked = sorted(same, key=lambda x: (-difflib.SequenceMatcher(None, c, x).ratio(), x))
        return ranked[:n]
    return difflib.get_close_matches(c, pool, n=n, cutoff=0.5)


def check_codes(scheme, dx: list[str], px: list[str], names=None) -> None:
    """Raise :class:`InputError` naming every unknown code, with the nearest valid codes.

    ``names`` is ``{"dx": {code: name}, "px": {...}}`` or a callable returning it (read only when a code is
    unknown), used to show the suggested codes with their names.
    """
    from grouper.reference import normalize_code

    problems = []
    for kind, codes, index, is_px in (("diagnosis", dx, scheme.dx_index, False),
                                      ("procedure", px, scheme.px_index, True)):
        dict_flags = scheme.arrays["px_in_dict" if is_px else "dx_in_dict"]
        for pos, code in enumerate(codes, start=1):
            i = index.get(normalize_code(code), -1)
            if i >= 0 and dict_flags[i]:
                continue
            sugg = suggest_codes(scheme, code, is_px=is_px)
            if callable(names):
                names = names()
            nm = (names or {}).get("px" if is_px else "dx", {})
            shown = ", ".join(f"{s} {nm[s]}" if s in nm else s for s in sugg)
            role = ("principal " if pos == 1 else "") + kind
            problems.append(f"unknown {role} code {code!r} ({'--px' if is_px else '--dx'} position {pos})"
                            + (f"; nearest valid codes: {shown}" if shown else "; no similar code in the dictionary"))
    if problems:
        raise InputError("; ".join(problems) + f" [dictionary of scheme {scheme.name} {scheme.version}; "
                         "--allow-unknown groups the case anyway, as the bureau would]", field="dx")
