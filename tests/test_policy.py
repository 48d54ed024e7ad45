"""Policy profiles: shipped registry, validation (errors name key and file), origins, extends, one table of
parameters (the CLI is in tests/cli/test_payment_cli.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from drg.errors import PolicyError
from drg.policy import PARAMS, list_policies, load_policy, policy_rows, policy_to_dict


def test_registry_lists_shipped_profiles():
    ids = {p.id for p in list_policies()}
    assert {"zhejiang-province", "jinhua", "demo"} <= ids


@pytest.mark.parametrize("name", ["zhejiang-province", "zhejiang-province-2.0", "jinhua", "demo"])
def test_shipped_profiles_load(name):
    p = load_policy(name)
    assert p.id == name
    assert p.points_decimals == 4 and p.points_scale == 10_000
    rows = policy_rows(p)
    keys = {k for k, _, _ in rows}
    assert {q.key for q in PARAMS} - {"policy.extends"} <= keys
    assert all(origin for k, _, origin in rows if not k.startswith("policy."))
    json.dumps(policy_to_dict(p))


def test_the_2_0_profile_names_2_0_adrgs():
    """The exempt ADRGs of the CHS-DRG 2.0 profile are ADRGs of the 2.0 tables (../shared), and grouped
    cases of another edition are refused with it."""
    from tests.helpers.paths import SHARED

    p = load_policy("zhejiang-province-2.0")
    assert p.scheme == "CHS_DRG_20" and p.readmission.window_days == 15
    table = SHARED / "schemes" / "CHS_DRG_20" / "2_ADRG.txt"
    if not table.exists():
        pytest.skip("../shared/schemes/CHS_DRG_20 not present")
    adrgs = {line.split()[0] for line in table.read_text(encoding="utf-8").splitlines() if line.strip()}
    assert set(p.readmission.exempt_adrgs) <= adrgs
    with pytest.raises(PolicyError, match="CHS_DRG_20"):
        p.check_scheme("CHS_DRG_11@abc", what="the history cases")


def test_province_values_and_sources():
    p = load_policy("zhejiang-province")
    assert p.readmission.window_days == 15 and p.readmission.factor == Decimal("0.5")
    assert p.pricing.low_outlier_rule == "province"
    assert p.prepayment.prepay_ratio == Decimal("0.85")
    assert p.violations.multiplier("upcoding") == 2 and p.violations.multiplier("fraud") == 5
    assert p.pricing.high_ratio(100) == 3 and p.pricing.high_ratio(100.0001) == 2
    assert p.pricing.high_ratio(200) == 2 and p.pricing.high_ratio(250) == Decimal("1.5")
    assert p.origins["readmission.window_days"][1].startswith("source:")
    assert p.origins["budget.reserve_ratio"][1].startswith("default")


def test_jinhua_extends_province():
    p = load_policy("jinhua")
    assert p.readmission.window_days == 10
    assert p.pricing.low_outlier_rule == "jinhua"
    assert p.weights.history_years == 2
    assert p.prepayment.prepay_ratio == Decimal("0.85")       # inherited
    assert "Jinhua" in p.origins["readmission.window_days"][1]


def test_demo_blend_by_year_and_every_section():
    p = load_policy("demo")
    assert p.coef.blend_for(2026).one == Decimal("0.4")
    assert p.coef.blend_for(1999) == p.coef.blend
    assert p.reserve.use == "share_loss" and p.reserve.cap_fen == 50_000_000
    assert p.budget.reserve_ratio == Decimal("0.05")
    assert p.county.gap_city_share == Decimal("0.5")
    assert p.monitoring.spending_tolerance == Decimal("0.05")
    assert p.pools_by_insurance_type is True
    assert p.budget.point_value_includes_self_pay is True
    assert p.prepayment.provisional_pv in ("last_year", "budget_pace")


def _write(tmp_path, text, name="p.toml"):
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    return f


@pytest.mark.parametrize("text,key", [
    ("[pricing]\nlow_ratio = \"x\"\n", "pricing.low_ratio"),
    ("[pricng]\nlow_ratio = 0.4\n", "pricng"),
    ("[pricing]\nlow_rati = 0.4\n", "pricing.low_rati"),
    ("[readmission]\nmatch = \"icd\"\n", "readmission.match"),
    ("[readmission]\nwindow_days = 1.5\n", "readmission.window_days"),
    ("[readmission]\nenabled = 1\n", "readmission.enabled"),
    ("[coef]\nblend = { hospital = 0.5, tier = 0.3 }\n", "coef.blend"),
    ("[coef]\nblend = { hospital = 0.5, tier = 0.5, ones = 0 }\n", "coef.blend"),
    ("[budget]\nreserve_ratio = 1.5\n", "budget.reserve_ratio"),
    ("[weights]\nhistory_years = 2\nyear_weights = [1, 2, 3]\n", "weights.year_weights"),
    ("[weights.trim]\nmethod = \"iqr\"\n", "weights.trim.method"),
    ("[pricing]\nhigh_steps = [ { ratio = 3.0 }, { up_to = 200, ratio = 2.0 } ]\n", "pricing.high_steps"),
    ("[prepayment]\nprovisional_pv = \"guess\"\n", "prepayment.provisional_pv"),
    ("[reserve]\nuse = \"share_loss\"\n", "reserve.share"),
    ("[sources]\n\"pricing.nothing\" = \"x\"\n", "sources.pricing.nothing"),
    ("[coef]\nmin = 1.2\nmax = 1.1\n", "coef.min"),
])
def test_bad_values_name_key_and_file(tmp_path, text, key):
    f = _write(tmp_path, text)
    with pytest.raises(PolicyError) as exc:
        load_policy(f)
    assert exc.value.key == key
    assert str(f) in str(exc.value)


def test_bad_toml_and_missing(tmp_path):
    with pytest.raises(PolicyError, match="TOML"):
        load_policy(_write(tmp_path, "[pricing\n"))
    with pytest.raises(PolicyError, match="no policy profile"):
        load_policy("atlantis")


def test_extends_path_and_source_override(tmp_path):
    f = _write(tmp_path, '[policy]\nid = "x"\nextends = "jinhua"\n[readmission]\nwindow_days = 7\n'
                         '[sources]\n"readmission.window_days" = "source: city notice 2024"\n')
    p = load_policy(f)
    assert p.id == "x" and p.readmission.window_days == 7 and p.pricing.low_outlier_rule == "jinhua"
    assert p.origins["readmission.window_days"] == ("7", "source: city notice 2024")


def test_defaults_when_file_is_empty(tmp_path):
    p = load_policy(_write(tmp_path, "", name="empty.toml"))
    assert p.id == "empty"
    assert p.weights.trim.method == "sd" and p.weights.trim.k == 3
    assert p.readmission.window_days == 15


def test_a_directory_named_like_a_profile_does_not_hide_it(tmp_path, monkeypatch):
    (tmp_path / "demo").mkdir()
    monkeypatch.chdir(tmp_path)
    assert load_policy("demo").id == "demo"


def test_each_parameter_is_declared_once():
    """PARAMS is the one table of parameters: every settable attribute of Policy is set by exactly one
    parameter, and the dataclasses' defaults are the table's defaults."""
    from drg.policy import Policy, policy_fields

    targets = [p.target for p in PARAMS if p.target is not None]
    assert len(targets) == len(set(targets))
    assert set(targets) == set(policy_fields())
    bare = Policy(id="x")
    for p in PARAMS:
        if p.target is None or p.key == "policy.id":
            continue
        value = bare
        for part in p.target.split("."):
            value = getattr(value, part)
        assert value == p.stored(p.default), p.key
