"""The background stages of the grouping pipeline (:mod:`drg.casefile.background`): reading ahead and writing
behind lose nothing and hide no error."""

from __future__ import annotations

import pytest

from drg.casefile import WriteBehind, prefetch


def test_write_behind_writes_everything_in_order():
    seen = []
    behind = WriteBehind(seen.append)
    for i in range(50):
        behind.write(i)
    behind.close()
    assert seen == list(range(50))


def test_write_behind_raises_the_writers_error():
    def fail(item):
        raise OSError("disk full")

    behind = WriteBehind(fail)
    behind.write(0)
    with pytest.raises(OSError, match="disk full"):
        behind.close()          # waits for the thread, then raises what the writer raised
    with pytest.raises(OSError, match="disk full"):
        behind.write(1)         # and every later write says so too


def test_prefetch_passes_items_and_errors():
    assert list(prefetch(iter(range(7)))) == list(range(7))

    def broken():
        yield 1
        raise ValueError("bad row group")

    with pytest.raises(ValueError, match="bad row group"):
        list(prefetch(broken()))
