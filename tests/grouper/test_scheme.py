"""The compiled scheme file's loading path: light enough for a one-case answer."""

from __future__ import annotations

import subprocess
import sys


def test_scheme_loads_without_heavy_libraries(demo_scheme_file):
    code = (f"import sys, time; t = time.perf_counter(); from grouper.scheme import load_scheme; "
            f"from grouper.reference import Case, group_case; s = load_scheme({str(demo_scheme_file)!r}); "
            f"r = group_case(s, Case(sex=1, age=60, dx=[s.dx_codes[0]])); "
            f"bad = [m for m in ('numba', 'polars', 'pyarrow', 'duckdb') if m in sys.modules]; "
            f"print(bad, time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "[]", out
    assert float(out[1]) < 1.0
