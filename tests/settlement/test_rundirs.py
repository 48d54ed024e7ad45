"""Run directories (drg.settlement.rundirs): what a start after a killed run leaves."""

from __future__ import annotations

from drg.settlement import rundirs


class _Ledger:
    """The one question recover asks a ledger: which runs of this base are committed."""

    def __init__(self, committed):
        self.committed = committed

    def committed_runs(self, _base):
        return self.committed


def test_a_run_committed_but_not_swapped_in_replaces_the_current_one_whole(tmp_path):
    """Killed after the ledger committed the new run (which replaced the old one) and before the swap: the next
    start makes the new run current and removes the old one's directory, leaving no third directory."""
    old = rundirs.stage(tmp_path, "year-2025-old")
    (old / "hospitals.parquet").write_bytes(b"old")
    rundirs.publish(tmp_path, "year-2025-old")
    new = rundirs.stage(tmp_path, "year-2025-new")
    (new / "hospitals.parquet").write_bytes(b"new")
    stray = rundirs.stage(tmp_path, "year-2025-killed")     # a run killed before its commit
    (stray / "half").write_bytes(b"")
    rundirs.recover(tmp_path, _Ledger(["year-2025-new"]))
    assert rundirs.current_run(tmp_path) == "year-2025-new"
    assert sorted(d.name for d in (tmp_path / "runs").iterdir()) == ["year-2025-new"]
    assert (tmp_path / "hospitals.parquet").read_bytes() == b"new"


def test_a_committed_current_run_is_kept(tmp_path):
    """Runs the ledger still holds (other periods written to the same directory) are never removed."""
    for run in ("month-2025-01", "month-2025-02"):
        rundirs.stage(tmp_path, run)
    rundirs.publish(tmp_path, "month-2025-01")
    rundirs.recover(tmp_path, _Ledger(["month-2025-01", "month-2025-02"]))
    assert rundirs.current_run(tmp_path) == "month-2025-02"
    assert sorted(d.name for d in (tmp_path / "runs").iterdir()) == ["month-2025-01", "month-2025-02"]
