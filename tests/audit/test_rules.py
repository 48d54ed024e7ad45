"""Each detector's rule on cases made by hand (docs/audit.md): what is a hit, what is not, the strength and
the evidence; and the rule parameters in the policy."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from drg.audit.cases import read_audit_cases
from drg.policy import load_policy
from tests.helpers.audit_cases import stay, write_policy, write_priced

D = date(2025, 3, 1)


def _cases(tmp_path, rows, history=(), **kw):
    cur = write_priced(tmp_path / "priced.parquet", rows)
    hist = [write_priced(tmp_path / "history.parquet", list(history))] if history else []
    return read_audit_cases(cur, hist, **kw)


def _by_case(findings):
    return {r["case_id"]: r for r in findings.rows.iter_rows(named=True)}


def test_split_pairs_chains_transfers_and_exemptions(tmp_path):
    from drg.audit.split import detect_split

    pol = load_policy(write_policy(tmp_path / "p.toml", '\n[audit.split]\nrelated_adrgs = ["GD2 GZ1"]\n'))
    rows = [
        # one episode cut in three: the same day, then the next day; an unrelated stay overlaps them
        stay("a1", "P1", "H1", D, 3, cost_ratio=0.4), stay("a2", "P1", "H1", date(2025, 3, 4), 2, cost_ratio=0.4),
        stay("a3", "P1", "H1", date(2025, 3, 7), 2, cost_ratio=0.3),
        stay("x1", "P1", "H7", date(2025, 3, 2), 4, drg="FR25"),
        # a transfer to another hospital the same day
        stay("t1", "P2", "H1", D, 5, status=2, cost_ratio=0.6), stay("t2", "P2", "H2", date(2025, 3, 6), 4, cost_ratio=0.6),
        # related ADRGs (the policy's group), ten days later, full costs
        stay("r1", "P3", "H1", D, 4), stay("r2", "P3", "H1", date(2025, 3, 15), 4, drg="GZ15"),
        # not pairs: after a death; an exempt ADRG (chemotherapy courses); beyond the window; another ADRG
        stay("d1", "P4", "H1", D, 3, status=5), stay("d2", "P4", "H1", date(2025, 3, 4), 3),
        stay("e1", "P5", "H1", D, 3, drg="RE19"), stay("e2", "P5", "H1", date(2025, 3, 4), 3, drg="RE19"),
        stay("w1", "P6", "H1", D, 3), stay("w2", "P6", "H1", date(2025, 3, 25), 3),
        stay("o1", "P7", "H1", D, 3), stay("o2", "P7", "H1", date(2025, 3, 4), 3, drg="FR25"),
    ]
    f = detect_split(_cases(tmp_path, rows, policy=pol), pol)
    got = _by_case(f)
    assert set(got) == {"a2", "a3", "t2", "r2"}
    ev = json.loads(got["a3"]["evidence"])
    assert ev["earlier_case"] == "a2" and ev["gap_days"] == 1 and ev["chain_stays"] == 3
    assert sorted(got["a3"]["related_cases"]) == ["a1", "a2"] and sorted(got["a2"]["related_cases"]) == ["a1", "a3"]
    # the same DRG and diagnosis within a day, together one episode's cost: strength 1; H1 has three stays
    # followed by a quick readmission where the other hospitals have none: it is flagged, and its findings
    # score their strength (elsewhere audit.unflagged_factor × it)
    assert got["a2"]["strength"] == pytest.approx(1.0)
    assert f.summary["hospitals_flagged"] == ["H1"]
    assert got["a2"]["hospital_flagged"] and got["a2"]["score"] == pytest.approx(1.0)
    assert got["r2"]["score"] == pytest.approx(got["r2"]["strength"])
    assert json.loads(got["t2"]["evidence"])["transfer"] is True and "转院" in got["t2"]["evidence_text"]
    r2 = json.loads(got["r2"]["evidence"])
    assert r2["relation"] == "related" and r2["gap_days"] == 10
    # g = 0.6 − 0.2·(10 − 2)/(15 − 2); m = 0.6; e: R = 2 → 1 − 0.5·(2 − 1.5)/1.5
    assert got["r2"]["strength"] == pytest.approx((0.6 - 0.2 * 8 / 13) * 0.6 * (1 - 0.5 * 0.5 / 1.5))


def test_the_hospital_test_needs_a_few_hits(tmp_path):
    """One quick readmission at a hospital where no other has any is not significant (audit.hospital_min_hits):
    the finding scores audit.unflagged_factor × its strength."""
    from drg.audit.split import detect_split

    pol = load_policy(write_policy(tmp_path / "p.toml"))
    rows = [stay("a1", "P1", "H1", D, 3, cost_ratio=0.4), stay("a2", "P1", "H1", date(2025, 3, 4), 2, cost_ratio=0.4)]
    rows += [stay(f"n{i}", f"Q{i}", f"H{2 + i % 3}", D, 3) for i in range(30)]
    f = detect_split(_cases(tmp_path, rows, policy=pol), pol)
    got = _by_case(f)
    assert set(got) == {"a2"} and f.summary["hospitals_flagged"] == []
    assert got["a2"]["score"] == pytest.approx(float(pol.audit.unflagged_factor) * got["a2"]["strength"])


def test_split_window_is_the_policy_s(tmp_path):
    from drg.audit.split import detect_split

    rows = [stay("w1", "P6", "H1", D, 3), stay("w2", "P6", "H1", date(2025, 3, 25), 3)]
    pol = load_policy(write_policy(tmp_path / "p.toml", "\n[audit.split]\nwindow_days = 30\n"))
    assert set(_by_case(detect_split(_cases(tmp_path, rows, policy=pol), pol))) == {"w2"}


def test_a_history_stay_pairs_but_is_not_queued(tmp_path):
    from drg.audit.split import detect_split

    pol = load_policy(write_policy(tmp_path / "p.toml"))
    hist = [stay("h1", "P1", "H1", date(2024, 12, 28), 4)]
    cur = [stay("c1", "P1", "H1", date(2025, 1, 1), 2)]
    got = _by_case(detect_split(_cases(tmp_path, cur, hist, policy=pol), pol))
    assert set(got) == {"c1"} and json.loads(got["c1"]["evidence"])["earlier_case"] == "h1"


def test_duplicates(tmp_path):
    from drg.audit.duplicates import detect_duplicates

    pol = load_policy(write_policy(tmp_path / "p.toml"))
    rows = [stay("a", "P1", "H1", D, 3), stay("b", "P1", "H1", D, 3, cost_ratio=1.02),
            stay("c", "P1", "H2", D, 3),                      # another hospital: not the same claim
            stay("d", "P2", "H1", D, 3), stay("e", "P2", "H1", D, 4),   # other dates
            stay("f", "P3", "H1", D, 3, drg="FR25")]
    hist = [stay("g", "P3", "H1", D, 3, drg="FR25", cost_ratio=2.0)]   # the history claim of the same stay
    got = _by_case(detect_duplicates(_cases(tmp_path, rows, hist, policy=pol), pol))
    assert set(got) == {"a", "b", "f"}
    assert got["a"]["related_cases"] == ["b"] and got["a"]["strength"] == 1.0
    assert got["f"]["related_cases"] == ["g"] and got["f"]["strength"] == 0.9   # costs differ by more than 5 %


def test_low_standard_with_the_policy_s_list_and_learned_from_history(tmp_path):
    from drg.audit.low_standard import detect_low_standard

    base = [stay(f"n{i}", f"Q{i}", "H1", D, 6, drg="FR25") for i in range(20)]
    rows = base + [stay("hit", "P1", "H1", D, 2, drg="GZ15", cost_ratio=0.1),
                   stay("died", "P2", "H1", D, 1, drg="GZ15", cost_ratio=0.1, status=5),
                   stay("long", "P3", "H1", D, 5, drg="GZ15", cost_ratio=0.1),
                   stay("dear", "P4", "H1", D, 2, drg="GZ15", cost_ratio=0.9),
                   stay("other", "P5", "H1", D, 2, drg="FR25", cost_ratio=0.1)]
    pol = load_policy(write_policy(tmp_path / "p.toml", '\n[audit.low_standard]\nadrgs = ["GZ1"]\n'))
    f = detect_low_standard(_cases(tmp_path, rows, policy=pol), pol)
    assert set(_by_case(f)) == {"hit"} and f.summary["adrgs_from"] == "policy"
    ev = json.loads(_by_case(f)["hit"]["evidence"])
    assert ev["los"] == 2 and ev["adrg"] == "GZ1"
    # no list, no history: nothing to go on, and the summary says so
    pol = load_policy(write_policy(tmp_path / "q.toml"))
    f = detect_low_standard(_cases(tmp_path, rows, policy=pol), pol)
    assert f.rows.height == 0 and "no ADRG list" in f.summary["note"]
    # learned: GZ1's history stays are short, FR2's are not
    hist = ([stay(f"hg{i}", f"R{i}", "H2", date(2024, 5, 1), 1 + i % 3, drg="GZ15") for i in range(30)]
            + [stay(f"hf{i}", f"S{i}", "H2", date(2024, 5, 1), 8, drg="FR25") for i in range(30)])
    f = detect_low_standard(_cases(tmp_path, rows, hist, policy=pol), pol)
    assert f.summary["adrgs"] == ["GZ1"] and f.summary["adrgs_from"] == "history"
    assert set(_by_case(f)) == {"hit"}


def test_cost_shift_against_other_hospitals_of_the_tier(tmp_path):
    from drg.audit.cost_shift import detect_cost_shift

    pol = load_policy(write_policy(tmp_path / "p.toml"))
    peers = [stay(f"p{i}", f"Q{i}", f"H{2 + i % 3}", D, 4, self_share=0.2 + 0.002 * (i % 5)) for i in range(15)]
    rows = peers + [stay("shift", "P1", "H1", D, 4, self_share=0.45), stay("fine", "P2", "H1", D, 4, self_share=0.21),
                    stay("resident", "P3", "H1", D, 4, self_share=0.45, ins="390")]   # no resident peers
    ac = _cases(tmp_path, rows, policy=pol)
    ac.tiers = {f"H{i}": "C" for i in range(1, 5)}
    got = _by_case(detect_cost_shift(ac, pol))
    assert set(got) == {"shift"}
    ev = json.loads(got["shift"]["evidence"])
    assert ev["peers"] == 15 and ev["peer_scope"] == "tier" and ev["excess"] == pytest.approx(0.45 - 0.204, abs=1e-3)
    assert got["shift"]["strength"] == 1.0


def test_upcoding_code_signal(tmp_path):
    """A hospital whose favourite secondary code lifts a fifth of its cases into the MCC group, where the other
    hospitals' cases reach it by many codes: the code is flagged, its cases are findings; without cc_dx the
    signal is skipped and says so."""
    from drg.audit.facts import year_facts
    from drg.audit.upcoding import detect_upcoding

    pol = load_policy(write_policy(tmp_path / "p.toml"))
    rows = []
    for h in range(1, 9):
        for i in range(50):
            lifted = (h == 1 and i % 5 == 0) or (h > 1 and i % 10 == 0)
            code = "Z99.900" if h == 1 else f"J{h}{i:02d}.000"
            rows.append(stay(f"c{h}-{i}", f"P{h}-{i}", f"H{h}", D, 4, drg="BR21" if lifted else "BR25",
                             cc_level=2 if lifted else 0, cc_dx=code if lifted else None,
                             cost_ratio=0.5 if lifted and h == 1 else 1.0))
    ac = _cases(tmp_path, rows, policy=pol)
    now, last, _ = year_facts(ac, pol)
    f = detect_upcoding(ac, pol, facts_now=now, facts_last=last)
    codes = [s for s in f.signals if s["level"] == "hospital_code"]
    assert [(s["hospital_id"], s["unit"]) for s in codes] == [("H1", "Z99.900")]
    got = _by_case(f)
    assert set(got) == {f"c1-{i}" for i in range(0, 50, 5)}
    assert all(json.loads(r["evidence"])["cc_dx"] == "Z99.900" for r in got.values())
    assert f.summary["cmi_tests"] == 0 and "no last year" in f.summary["note_cmi"]
    no_code = ac.cases.with_columns(pl.lit(None, pl.String).alias("cc_dx"))
    ac.cases = no_code
    f = detect_upcoding(ac, pol, facts_now=now, facts_last=last)
    assert "cc_dx" in f.summary["note_code"]


def test_every_detector_parameter_is_a_policy_key():
    from drg.policy import PARAMS

    keys = {p.key for p in PARAMS if p.key.startswith("audit.")}
    for section in ("split", "low_standard", "upcoding", "duplicate", "cost_shift"):
        assert f"audit.{section}.violation" in keys
    pol = load_policy("demo")
    assert pol.audit.split.window_days == pol.readmission.window_days == 15
    assert pol.violations.multiplier(pol.audit.upcoding.violation) == 2
    assert all(pol.violations.multiplier(getattr(pol.audit, s).violation) is not None
               for s in ("split", "low_standard", "upcoding", "duplicate", "cost_shift"))
