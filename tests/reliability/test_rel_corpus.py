"""The bad-input corpus (issue 16) through ``drg check``, ``drg group``, ``drg points`` (on what group wrote) and
``drg estimate --cases``: every outcome is a success whose counts add up at every stage, or a clean error
(exit 1, the file named, no traceback, no row content). A fixed sample runs by default; the whole corpus
(more than a thousand inputs) with ``pytest -m corpus``. Hypothesis draws rows of text cells on top."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import corpus as C
from relhelpers import drg_run

ALL = C.corpus()
SAMPLE = {name for name, _ in C.sample()}


def _clean(stage: str, code: int, out: str, err: str, path: Path) -> None:
    assert code in (0, 1), (stage, code, err)
    for bad in ("Traceback", "internal error", "panicked", "Exception ignored"):
        assert bad not in err, (stage, err)
    assert C.SECRET not in out and C.SECRET not in err, (stage, "row content printed")
    if code == 1:
        assert str(path) in err, (stage, err)
        assert len(err.strip().splitlines()) <= 2, (stage, err)


def run_input(rworld, tmp: Path, write) -> dict:
    base = C.base_rows(pq.read_table(rworld["cases"]))
    path = write(tmp, base)
    got = {}
    code, out, err = drg_run(["check", path, "--quiet", "--json", "--rejects", tmp / "c.rej.parquet"])
    _clean("check", code, out, err, path)
    if code == 0:
        s = json.loads(out)
        assert s["read"] == s["accepted"] + s["rejected"]
        assert pq.read_metadata(tmp / "c.rej.parquet").num_rows == s["rejected"]
        got["check"] = s
    code, out, err = drg_run(["group", "--scheme", rworld["scheme"], "--cases", path, "--out", tmp / "g.parquet",
                              "--rejects", tmp / "g.rej.parquet", "--quiet", "--json"])
    _clean("group", code, out, err, path)
    if code == 0:
        s = json.loads(out)
        assert s["read"] == s["rows"] + s["rejected"]
        assert pq.read_metadata(tmp / "g.parquet").num_rows == s["rows"]
        assert pq.read_metadata(tmp / "g.rej.parquet").num_rows == s["rejected"]
        if "check" in got:
            assert s["read"] == got["check"]["read"], "check and group read different row counts"
        got["group"] = s
        code, out, err = drg_run(["points", "--cases", tmp / "g.parquet", "--tables", rworld["tables"], "--policy",
                                  "demo", "--out", tmp / "p.parquet", "--year", "2025", "--json",
                                  "--rejects", tmp / "p.rej.parquet"])
        _clean("points", code, out, err, tmp / "g.parquet")
        if code == 0:
            p = json.loads(out)
            assert p["read"] == s["rows"] and p["read"] == p["cases"] + p["rejected"]
            assert pq.read_metadata(tmp / "p.parquet").num_rows == p["cases"]
            got["points"] = p
    else:
        assert not (tmp / "g.parquet").exists() and not list(tmp.glob("*.partial*"))
    code, out, err = drg_run(["estimate", "--bundle", rworld["bundle"], "--cases", path, "--json",
                              "--out", tmp / "e.xlsx", "--rejects", tmp / "e.rej.parquet"])
    _clean("estimate", code, out, err, path)
    if code == 0:
        e = json.loads(out)["summary"]
        assert e["rows_read"] == e["cases"] + e["rejected"]
        if "check" in got:
            assert e["rows_read"] == got["check"]["read"]
        got["estimate"] = e
    assert not list(tmp.glob("*.partial*")) and not list(tmp.glob(".*partial*"))
    return got


@pytest.mark.parametrize("name,write", [(n, w) for n, w in ALL if n in SAMPLE], ids=lambda x: x if isinstance(x, str) else "")
def test_corpus_sample(rworld, tmp_path, name, write):
    run_input(rworld, tmp_path, write)


@pytest.mark.corpus
@pytest.mark.parametrize("name,write", [(n, w) for n, w in ALL if n not in SAMPLE], ids=lambda x: x if isinstance(x, str) else "")
def test_corpus_whole(rworld, tmp_path, name, write):
    run_input(rworld, tmp_path, write)


def test_corpus_size():
    families = {n.split("/")[0] for n, _ in ALL}
    assert len(ALL) >= 1000 and families == {"parquet", "csv", "xlsx"}


# hypothesis: rows of odd text cells, written as CSV, through check and group ------------------------------
def test_hypothesis_rows_conserve(rworld, tmp_path_factory):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    cell = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "1", "0", "-1", "2", "9", "150", "6.5", "NaN",
                                                            "2025-03-01", "2025/3/1", "1e309", "I10.x00",
                                                            "I10.x00|J18.900", '"', "=1+1", "1,000.00"]))
    header = C._header_names()
    row = st.fixed_dictionaries({c: cell for c in header})

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(row, min_size=0, max_size=6))
    def check(rows):
        import csv
        import io

        tmp = tmp_path_factory.mktemp("hyp")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([r[c] for c in header])
        path = tmp / "h.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        got = {}
        for stage, args in (("check", ["check", path, "--quiet", "--json"]),
                            ("group", ["group", "--scheme", rworld["scheme"], "--cases", path, "--out",
                                       tmp / "g.parquet", "--quiet", "--json"])):
            code, out, err = drg_run(args)
            _clean(stage, code, out, err, path)
            if code == 0:
                s = json.loads(out)
                got[stage] = s
                assert s["read"] == s.get("accepted", s.get("rows")) + s["rejected"]
        if len(got) == 2:
            assert got["check"]["read"] == got["group"]["read"]

    check()
