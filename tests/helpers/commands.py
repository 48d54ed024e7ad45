"""Running the ``drg`` command in a child process, as a user does."""

from __future__ import annotations

import subprocess
import sys

PY = sys.executable


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    """``python -m drg.cli ARGS``, its output captured as text."""
    return subprocess.run([PY, "-m", "drg.cli", *args], capture_output=True, text=True, **kw)
