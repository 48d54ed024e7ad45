"""Moving from CHS-DRG 1.1 to 2.0: ``drg scheme diff`` (grouper.diff), ``drg scheme migrate`` (drg.migration) on a
small synthetic 2.0 city, ``drg synth`` drawing a 2.0 city, and the policy's scheme check in ``drg weights`` and
``drg points``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from drg.cli import app

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"
runner = CliRunner()


def test_diff_counts_the_published_changes(scheme11, scheme20, capsys):
    from drg.cli.grouping import _print_diff
    from grouper.diff import diff_schemes

    d = diff_schemes(scheme11, scheme20, examples=5)
    assert d["summary"]["adrgs"] == [376, 409] and d["summary"]["drgs"] == [628, 634]
    assert len(d["adrgs"]["added"]) == 53 and len(d["adrgs"]["removed"]) == 20     # README of CHS_DRG_20 §2.11
    assert ["AA1", "AA2", "心脏移植"] in d["adrgs"]["recoded"]                    # AA1 is now 心肺移植
    assert ["AA1", "心脏移植", "心肺移植"] in d["adrgs"]["renamed"]
    assert d["principal_dx_moves"]["moved"] > 0 and len(d["principal_dx_moves"]["pairs"]) == 5
    assert d["cc"]["cc"][1] == 8009 and d["cc"]["mcc"][1] == 4477
    assert d["cc"]["became_mcc"]["count"] > 0 and d["exclusions"]["tables"][1] == 211
    assert d["behaviour"]["ambiguous_groups"] == [False, True]
    assert d["behaviour"]["MDCZ entry"][1] == "two or more body regions among the diagnoses"
    _print_diff(d)                                      # the tables of `drg scheme diff`
    assert "changes, with counts" in capsys.readouterr().out


def test_a_scheme_has_no_difference_with_itself(scheme20):
    from grouper.diff import diff_schemes

    same = diff_schemes(scheme20, scheme20)
    assert all(v == 0 or isinstance(v, list) for v in same["summary"].values()) and not same["behaviour"]


def test_diff_command_prints_tables_and_json(scheme_files):
    r = runner.invoke(app, ["scheme", "diff", str(scheme_files["11"]), str(scheme_files["20"]), "--json",
                            "--examples", "2"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["from"]["scheme"] == "CHS_DRG_11" and d["to"]["edition"] == "2.0"


@pytest.fixture(scope="module")
def city20(tmp_path_factory, scheme20):
    """A small synthetic city drawn from the CHS-DRG 2.0 tables: 2023–2025, about 1,000 cases a year."""
    from drg.synth.city import synthesize
    from drg.synth.samples import city_settings
    from grouper.rules import load_code_dictionary, load_rule_set

    out = tmp_path_factory.mktemp("city20")
    return synthesize(load_rule_set(SHARED / "schemes" / "CHS_DRG_20"),
                      load_code_dictionary(SHARED / "codes" / "chs_drg_20"), out, cases=3000,
                      years=[2023, 2024, 2025], settings=city_settings("demo"), seed=7)


def test_synth_draws_a_20_city_that_groups(city20, scheme20):
    """Every 2.0 DRG can be drawn (the catalogue covers all 634), and the drawn cases mostly group."""
    from collections import Counter

    from grouper.batch import BatchGrouper
    from grouper.catalogue import build_catalogue
    from grouper.rules import load_code_dictionary, load_rule_set

    rules = load_rule_set(SHARED / "schemes" / "CHS_DRG_20")
    assert len(build_catalogue(rules, load_code_dictionary(SHARED / "codes" / "chs_drg_20")).drgs) == 634
    t = pq.read_table(city20.case_files[2025])
    got = BatchGrouper(scheme20, engine="numba").group(t)
    status = Counter(got["group_status"].to_pylist())
    assert status["ok"] / t.num_rows > 0.9
    drawn = set(t.column("drg").to_pylist())
    assert len(drawn) > 300


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, scheme_files, city20):
    out = tmp_path_factory.mktemp("migrate")
    policy = out / "policy.toml"
    policy.write_text('[policy]\nid = "city-2025"\nextends = "demo"\nyear = 2025\nscheme = "CHS_DRG_20"\n',
                      encoding="utf-8")
    r = runner.invoke(app, ["scheme", "migrate", "--from", str(scheme_files["11"]), "--to", str(scheme_files["20"]),
                            "--cases", str(city20.case_files[2025]), "--out", str(out / "m"),
                            "--history", str(city20.case_files[2023]), "--history", str(city20.case_files[2024]),
                            "--hospitals", str(city20.hospitals), "--policy", str(policy), "--json"])
    assert r.exit_code == 0, r.output
    return out, json.loads(r.output), policy


def test_migrate_writes_the_crosswalk_and_the_changes(migrated):
    out, summary, _ = migrated
    m = out / "m"
    with open(m / "crosswalk.csv", encoding="utf-8-sig") as fh:
        walk = list(csv.DictReader(fh))
    assert sum(int(r["cases"]) for r in walk) == summary["cases"] > 0
    assert sum(int(r["cases"]) for r in walk if r["drg_from"] != r["drg_to"]) == summary["changed"] > 0
    changed = pq.read_table(m / "changed_cases.parquet")
    assert changed.num_rows == summary["changed"]
    assert set(changed.column_names) >= {"case_id", "hospital_id", "drg_from", "drg_to", "total_cost_fen"}
    with open(m / "hospitals.csv", encoding="utf-8-sig") as fh:
        hosp = list(csv.DictReader(fh))
    assert sum(int(r["changed"]) for r in hosp) == summary["changed"]
    assert all(r["points_to"] not in ("", None) for r in hosp)
    assert pq.read_schema(m / "year-to.parquet").metadata[b"drg.scheme_id"].startswith(b"CHS_DRG_20@")


def test_the_policy_scheme_must_match(migrated, city20):
    out, _, policy = migrated
    m = out / "m"
    # drg weights: history grouped with 1.1 under a policy that expects 2.0
    r = runner.invoke(app, ["weights", "--history", str(m / "history-from-1.parquet"), "--hospitals",
                            str(city20.hospitals), "--policy", str(policy), "--out", str(out / "t"), "--year", "2025"])
    assert r.exit_code == 1 and "policy.scheme" in str(r.exception or r.output)
    # drg points: cases grouped with 2.0, weights of the 1.1 history
    r = runner.invoke(app, ["points", "--cases", str(m / "year-to.parquet"), "--tables", str(m / "tables-from"),
                            "--policy", "demo", "--out", str(out / "p.parquet")])
    assert r.exit_code == 1 and "weights" in str(r.exception or r.output)
    # … and the same under the policy of the new year, whose scheme the 2.0 tables match
    r = runner.invoke(app, ["points", "--cases", str(m / "year-to.parquet"), "--tables", str(m / "tables-to"),
                            "--policy", str(policy), "--out", str(out / "p.parquet")])
    assert r.exit_code == 0, r.output
