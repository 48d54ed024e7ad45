"""Readmission pairing (分解住院, SPEC §5.1): chains, the window's inclusive end, exemptions, scope, match,
the year boundary; every case through the kernel and the twin."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drg.pricing import pair_twin
from drg.pricing.kernels import pair_kernel
from drg.policy import load_policy
from tests.helpers.grouped_cases import case_rows, hand_tables, price_both

D0 = dt.date(2024, 3, 1)


@pytest.fixture(scope="module")
def tables():
    drgs = [{"drg": "FR23", "base_points": 150.0, "mean_cost": 15000.0},
            {"drg": "FR25", "base_points": 100.0, "mean_cost": 10000.0},
            {"drg": "RE13", "base_points": 60.0, "mean_cost": 6000.0},
            {"drg": "TR11", "per_diem_points": 6.0, "per_diem_mean": 600.0}]
    return hand_tables(drgs, hospitals=(("H01", "A"), ("H02", "A")))


@pytest.fixture(scope="module")
def pol():
    return load_policy("zhejiang-province")


def stay(cid, admit, los=5, **kw):
    return {"case_id": cid, "patient_id": kw.pop("patient_id", "P1"), "admit": admit, "los": los,
            "drg": kw.pop("drg", "FR23"), "cost": kw.pop("cost", 15000.0), **kw}


def halved(tables, policy, rows, **kw):
    w, c = tables
    out = price_both(case_rows(rows), w, c, policy, **kw)
    return {r["case_id"] for r in out.to_pylist() if "readmission" in r["adjust_reason"]}, out


def test_chain_of_three_first_two_halved(tables, pol):
    rows = [stay("a", D0), stay("b", D0 + dt.timedelta(days=10)), stay("c", D0 + dt.timedelta(days=20))]
    h, out = halved(tables, pol, rows)
    assert h == {"a", "b"}
    pts = {r["case_id"]: r["adjusted_points"] for r in out.to_pylist()}
    assert pts == {"a": 75.0, "b": 75.0, "c": 150.0}


@pytest.mark.parametrize("gap,expect", [(0, True), (15, True), (16, False), (-1, False)])
def test_window_inclusive_end(tables, pol, gap, expect):
    first = stay("a", D0, los=5)
    second = stay("b", D0 + dt.timedelta(days=5 + gap))
    h, _ = halved(tables, pol, [first, second])
    assert (h == {"a"}) is expect


def test_jinhua_window_is_ten_days(tables):
    pol = load_policy("jinhua")
    assert halved(tables, pol, [stay("a", D0), stay("b", D0 + dt.timedelta(days=15))])[0] == {"a"}
    assert halved(tables, pol, [stay("a", D0), stay("b", D0 + dt.timedelta(days=16))])[0] == set()


def test_exempt_adrg_not_halved(tables, pol):
    rows = [stay("a", D0, drg="RE13", cost=6000.0), stay("b", D0 + dt.timedelta(days=7), drg="RE13", cost=6000.0)]
    assert halved(tables, pol, rows)[0] == set()


def test_december_january_does_not_pair(tables, pol):
    rows = [stay("dec", dt.date(2023, 12, 20), los=5),           # discharged 2023-12-25
            stay("jan", dt.date(2024, 1, 2), los=5)]             # admitted 8 days later, next year
    assert halved(tables, pol, rows)[0] == set()
    assert halved(tables, pol, rows, year=2024)[0] == set()


def test_only_settlement_year_pairs(tables, pol):
    rows = [stay("a", dt.date(2023, 6, 1)), stay("b", dt.date(2023, 6, 10))]
    assert halved(tables, pol, rows)[0] == {"a"}
    assert halved(tables, pol, rows, year=2024)[0] == set()


def test_scope_hospital_and_city(tables, pol):
    rows = [stay("a", D0, hospital_id="H01"), stay("b", D0 + dt.timedelta(days=7), hospital_id="H02")]
    assert halved(tables, pol, rows)[0] == set()
    city = replace(pol, readmission=replace(pol.readmission, scope="city"))
    assert halved(tables, city, rows)[0] == {"a"}


def test_match_drg_or_adrg(tables, pol):
    rows = [stay("a", D0, drg="FR23"), stay("b", D0 + dt.timedelta(days=7), drg="FR25", cost=10000.0)]
    assert halved(tables, pol, rows)[0] == set()
    by_adrg = replace(pol, readmission=replace(pol.readmission, match="adrg"))
    assert halved(tables, by_adrg, rows)[0] == {"a"}


def test_other_patient_does_not_pair(tables, pol):
    rows = [stay("a", D0, patient_id="P1"), stay("b", D0 + dt.timedelta(days=7), patient_id="P2")]
    assert halved(tables, pol, rows)[0] == set()


def test_ungroupable_review_per_diem_never_halved(tables, pol):
    pd_pol = replace(pol, per_diem=replace(pol.per_diem, drgs=("TR11",)))
    rows = [stay("u1", D0, drg="0000"), stay("u2", D0 + dt.timedelta(days=7), drg="0000")]
    assert halved(tables, pd_pol, rows)[0] == set()
    rows = [stay("p1", D0, drg="TR11", cost=3000.0), stay("p2", D0 + dt.timedelta(days=7), drg="TR11", cost=3000.0)]
    assert halved(tables, pd_pol, rows)[0] == set()
    rows = [stay("r1", D0), stay("r2", D0 + dt.timedelta(days=7))]
    reviews = pa.table({"case_id": ["r1"], "points": [99.5], "note": ["expert panel"]})
    h, out = halved(tables, pol, rows, reviews=reviews)
    assert h == set()
    r1 = next(r for r in out.to_pylist() if r["case_id"] == "r1")
    assert r1["case_class"] == "review" and r1["adjusted_points"] == 99.5


def test_readmission_then_violation(tables, pol):
    rows = [stay("a", D0), stay("b", D0 + dt.timedelta(days=7))]
    viol = pa.table({"case_id": ["a"], "violation": ["split_admission"], "serious": [False]})
    _, out = halved(tables, pol, rows, violations=viol)
    a = next(r for r in out.to_pylist() if r["case_id"] == "a")
    assert a["adjusted_points"] == 0.0 and a["deduction_points"] == 0.0
    assert a["adjust_reason"] == "readmission;violation:split_admission"


def test_same_day_ties_broken_by_case_id_not_row_order(tables, pol):
    rows = [stay("z", D0, los=0, cost=15000.0), stay("y", D0, los=0, cost=40000.0)]
    h1, _ = halved(tables, pol, rows)
    h2, _ = halved(tables, pol, rows[::-1])
    assert h1 == h2 == {"y"}


def test_pair_kernel_matches_twin():
    import numpy as np

    rng = np.random.default_rng(3)
    n = 400
    key = rng.integers(0, 40, n)
    admit = rng.integers(0, 200, n)
    dis = admit + rng.integers(0, 10, n)
    halv = rng.random(n) < 0.8
    ids = [f"c{i:04d}" for i in range(n)]
    stays = [{"key": int(key[i]), "admit": int(admit[i]), "discharge": int(dis[i]), "case_id": ids[i],
              "halvable": bool(halv[i])} for i in range(n)]
    want = pair_twin(stays, 15)
    order = sorted(range(n), key=lambda i: (key[i], admit[i], dis[i], ids[i]))
    o = np.array(order)
    same = np.r_[key[o][1:] == key[o][:-1], False]
    got = pair_kernel(same, admit[o], dis[o], halv[o], 15)
    assert {ids[i] for i in o[got]} == want


def test_hash_collision_takes_the_exact_road(tables, pol, monkeypatch):
    import numpy as np

    import drg.pricing.readmission as points

    rows = [stay("a", D0, patient_id="P1"), stay("b", D0 + dt.timedelta(days=7), patient_id="P2"),
            stay("c", D0 + dt.timedelta(days=9), patient_id="P1")]
    want, _ = halved(tables, pol, rows)
    assert want == {"a"}
    monkeypatch.setattr(points, "_group_hashes", lambda st, o, d, rows, h, m, y: np.zeros(len(rows), np.uint64))
    called = []
    exact = points._sort_stays_exact
    monkeypatch.setattr(points, "_sort_stays_exact", lambda *a: called.append(1) or exact(*a))
    got, _ = halved(tables, pol, rows)
    assert got == want and called


_IDS = st.sampled_from(["", "P1", "P10", "P1 ", "患者一", "患者二", "x" * 40, "x" * 39 + "y"])


def _as_arrow(values, form):
    """``values`` as the patient-id column of one of the forms a file may give: plain or large strings, a
    sliced array, dictionary-encoded, or in several chunks."""
    if form == "string":
        return pa.array(values, pa.string())
    if form == "large":
        return pa.array(values, pa.large_string())
    if form == "sliced":
        return pa.array(["pad"] + values, pa.string()).slice(1)
    if form == "dictionary":
        return pa.array(values).dictionary_encode()
    cut = len(values) // 2
    return pa.chunked_array([pa.array(values[:cut], pa.string()), pa.array(values[cut:], pa.string())])


FORMS = ("string", "large", "sliced", "dictionary", "chunked")


@settings(max_examples=60, deadline=None)
@given(st.lists(_IDS, min_size=1, max_size=30), st.data())
def test_group_hash_kernel_and_twin(values, data):
    """The group hash of each stay (patient id hashed on the Arrow buffers, chunk by chunk, mixed with the
    codes) equals the plain twin's, whatever form the id column takes."""
    import numpy as np

    from drg.pricing import text_group_hash_twin
    from drg.pricing.readmission import _group_hashes, _text_chunks

    n = len(values)
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1)))), np.int32)
    hosp = np.array(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), np.int32)
    match = np.array(data.draw(st.lists(st.integers(-1, 900), min_size=n, max_size=n)), np.int32)
    year = np.full(n, 2025, np.int32)
    want = [text_group_hash_twin(values[i], int(hosp[i]), int(match[i]), 2025) for i in rows]
    for form in FORMS:
        got = _group_hashes(*_text_chunks(_as_arrow(values, form)), rows, hosp, match, year)
        assert got.tolist() == want, form


@settings(max_examples=80, deadline=None)
@given(st.lists(_IDS, min_size=1, max_size=30), st.data())
def test_same_texts_kernel_and_twin(values, data):
    """The byte comparison of patient ids on the Arrow buffers (plain and large strings, a sliced array, a
    dictionary) agrees with the twin on every set of pairs."""
    import numpy as np

    from drg.pricing import same_texts_twin
    from drg.pricing.readmission import _same_texts

    n = len(values)
    pairs = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=20))
    a = np.array([p[0] for p in pairs], np.int64)
    b = np.array([p[1] for p in pairs], np.int64)
    expected = same_texts_twin(values, a, b)
    for form in ("string", "large", "sliced", "dictionary"):
        assert _same_texts(_as_arrow(values, form), a, b) == expected, form


@settings(max_examples=60, deadline=None)
@given(st.lists(_IDS, min_size=1, max_size=30), st.data())
def test_neighbours_match_checks_codes_and_ids(values, data):
    """The exact check of neighbouring stays after the hash sort: every stay marked as its successor's group
    has the successor's hospital, match code, year and patient id — whatever form the id column takes."""
    import numpy as np

    from drg.pricing.readmission import _neighbours_match

    n = len(values)
    rows = np.array(data.draw(st.permutations(range(n))), np.int32)
    same = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool)
    hosp = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), np.int32)
    match = np.zeros(n, np.int32)
    year = np.full(n, 2025, np.int32)
    want = all((hosp[rows[k]], values[rows[k]]) == (hosp[rows[k + 1]], values[rows[k + 1]])
               for k in range(n - 1) if same[k])
    for form in FORMS:
        assert _neighbours_match(same, rows, hosp, match, year, _as_arrow(values, form)) == want, form


def test_priced_file_breaks_date_ties_by_case_ids_read_again(tables, pol, tmp_path, engine):
    """Pricing a Parquet file without reviews or violations lets the case ids go after the checks and reads
    them again only for stays whose dates tie (drg.pricing.priced_file._ids_reader): over several row groups,
    after a rejected row, the halved stays are those of pricing the table itself."""
    import pyarrow.parquet as pq

    from drg.pricing import price_cases
    from drg.pricing.priced_file import write_priced
    from tests.helpers.grouped_cases import case_rows

    w, c = tables
    rows = [stay("z-bad", D0, patient_id="P9")]
    for p in range(12):       # per patient: two stays with the same dates (a tie), then one 5 days later
        pid = f"P{p:02d}"
        rows += [stay(f"t{p:02d}-b", D0, patient_id=pid), stay(f"t{p:02d}-a", D0, patient_id=pid),
                 stay(f"t{p:02d}-c", D0 + dt.timedelta(days=10), patient_id=pid)]
    t = case_rows(rows)
    col = t.column_names.index("hospital_id")
    t = t.set_column(col, "hospital_id", pa.array([None] + t.column("hospital_id").to_pylist()[1:], pa.string()))
    path = tmp_path / "grouped.parquet"
    pq.write_table(t, path, row_group_size=5)
    keys, priced, n_read = write_priced(path, w, c, pol, tmp_path / "priced.parquet", year=2024,
                                        rejects=tmp_path / "rejects.csv", engine=engine)
    assert n_read == len(rows) and "case_id" not in keys.column_names
    got = pq.read_table(tmp_path / "priced.parquet")
    want = price_cases(t.slice(1), w, c, pol, year=2024, engine=engine)
    halved = lambda tb: sorted(r["case_id"] for r in tb.select(["case_id", "adjust_reason"]).to_pylist()  # noqa: E731
                               if "readmission" in r["adjust_reason"])
    # each tie is ordered by case id (a before b, though the file has b first): b, then 5 days to c, is halved
    assert halved(got) == halved(want) == [f"t{p:02d}-b" for p in range(12)]
    assert got.column("adjusted_points").to_pylist() == want.column("adjusted_points").to_pylist()
