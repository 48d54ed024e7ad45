"""The numba kernel and the plain-Python reference grouper must agree on every case: the reference cases of
../shared and seeded random cases drawn from the scheme's own code lists (so that every kind of rule fires),
on the published CHS-DRG 2.0, 1.1 and 1.0-revised schemes and on the demo scheme; and the kernel's batch twin
(``BatchGrouper(engine="python")``, which the other grouping tests run through the ``engine`` fixture) against
the kernel, array for array."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grouper.batch import BatchGrouper
from grouper import Case, group_case
from tests.helpers.paths import REPO, SHARED

FIELDS = ("mdc", "adrg", "drg", "cc_level", "cc_dx", "group_status", "group_note")


def _compare(scheme, table: pa.Table) -> list:
    res = BatchGrouper(scheme, engine="numba").group(table)
    kernel = list(zip(*(res[f].to_pylist() for f in FIELDS)))
    bad = []
    for i, r in enumerate(table.to_pylist()):
        ref = group_case(scheme, Case(sex=r["sex"], age=r["age"], dx=r["dx"] or [], px=r["px"] or [],
                                      age_days=r["age_days"], birth_weight=r["birth_weight"],
                                      vent_hours=r["vent_hours"]))
        want = (ref.mdc, ref.adrg, ref.drg, ref.cc_level, ref.cc_dx, ref.status, ref.group_note or None)
        if kernel[i] != want:
            bad.append((i, r, kernel[i], want))
    return bad


def random_cases(scheme, n: int, seed: int) -> pa.Table:
    """Cases built from the scheme's lists: principal dx from MDC/ADRG tables, procedures from procedure
    lists and SS_VALID, secondary codes from CC/MCC, trauma and exclusion lists, plus junk codes; with the
    2.0 code checks, invalid and gray codes in the first and later positions too."""
    rng = random.Random(seed)
    a = scheme.arrays
    checked_dx = [scheme.dx_codes[i] for i in (a["dx_check"] != 0).nonzero()[0]]
    checked_px = [scheme.px_codes[i] for i in (a["px_check"] != 0).nonzero()[0]]
    dx_lists = [i for i in range(len(scheme.list_labels)) if not a["list_is_px"][i]]
    px_lists = [i for i in range(len(scheme.list_labels)) if a["list_is_px"][i]]
    cc_codes = [scheme.dx_codes[i] for i in range(len(scheme.dx_codes)) if a["dx_sev"][i]]
    or_codes = [scheme.px_codes[i] for i in range(len(scheme.px_codes)) if a["px_or"][i]]

    def pick(lists, codes):
        lid = rng.choice(lists)
        ids = scheme.list_codes(lid)
        return codes[int(ids[rng.randrange(len(ids))])] if len(ids) else codes[0]

    rows = {k: [] for k in ("sex", "age", "age_days", "birth_weight", "vent_hours", "dx", "px")}
    for _ in range(n):
        newborn = rng.random() < 0.15
        age = 0 if newborn else rng.randrange(1, 95)
        age_days = rng.choice([None, rng.randrange(0, 365)]) if newborn else age * 365 + rng.randrange(365)
        dx = [pick(dx_lists, scheme.dx_codes)]
        for _ in range(rng.randrange(0, 6)):
            r = rng.random()
            dx.append(rng.choice(cc_codes) if r < 0.5 else pick(dx_lists, scheme.dx_codes) if r < 0.9
                      else rng.choice(["Z99.999", " " + dx[0].lower(), ""]))
        px = []
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
            r = rng.random()
            px.append(pick(px_lists, scheme.px_codes) if px_lists and r < 0.6 else rng.choice(or_codes)
                      if r < 0.9 else rng.choice(["99.99zz", " 39.6500 "]))
        rows["sex"].append(rng.choice([1, 2, 1, 2, 0, 9]))
        rows["age"].append(age)
        rows["age_days"].append(age_days)
        rows["birth_weight"].append(rng.choice([None, rng.randrange(400, 5000)]) if newborn else None)
        rows["vent_hours"].append(rng.choice([None, None, rng.randrange(0, 300)]))
        if checked_dx and rng.random() < 0.1:          # (no draw for schemes without code checks)
            dx[rng.randrange(len(dx))] = rng.choice(checked_dx)
        if checked_px and rng.random() < 0.2:
            px.insert(rng.choice([0, 0, len(px)]), rng.choice(checked_px + ["99.1000"]))
        rows["dx"].append(dx)
        rows["px"].append(px)
    types = {"sex": pa.int8(), "age": pa.int16(), "age_days": pa.int32(), "birth_weight": pa.int32(),
             "vent_hours": pa.int32(), "dx": pa.list_(pa.string()), "px": pa.list_(pa.string())}
    return pa.table({k: pa.array(v, types[k]) for k, v in rows.items()})


SCHEMES = [("CHS_DRG_11", SHARED / "schemes" / "CHS_DRG_11", SHARED / "codes" / "chs_drg_11"),
           ("CHS_DRG_20", SHARED / "schemes" / "CHS_DRG_20", SHARED / "codes" / "chs_drg_20"),
           ("CHS_DRG_10P", SHARED / "schemes" / "CHS_DRG_10P", SHARED / "codes" / "chs_drg_10"),
           ("demo", REPO / "data" / "schemes" / "demo", REPO / "data" / "codes" / "demo")]


@pytest.fixture(scope="module", params=SCHEMES, ids=[s[0] for s in SCHEMES])
def scheme(request, built_scheme):
    return built_scheme(request.param[0])


@pytest.fixture(params=["file order", "pdx order"])
def kernel_order(request, monkeypatch):
    """Run the kernel over cases as they come, and over cases sorted by principal diagnosis (what it does
    with large batches: grouper.kernel.SORT_MIN_CASES)."""
    import grouper.kernel

    monkeypatch.setattr(grouper.kernel, "SORT_MIN_CASES", 10**9 if request.param == "file order" else 0)
    return request.param


def test_twins_on_random_cases(scheme, kernel_order):
    table = random_cases(scheme, 3000, seed=7)
    bad = _compare(scheme, table)
    assert not bad, bad[:3]
    statuses = set(BatchGrouper(scheme, engine="numba").group(table)["group_status"].to_pylist())
    if scheme.rules["ambiguous_groups"]:
        assert {"ok", "ambiguous", "gray_principal_dx", "invalid_principal_dx", "gray_principal_px"} <= statuses
        assert "missing_newborn_data" not in statuses
    else:
        assert {"ok", "missing_newborn_data"} <= statuses


def test_notes_keyed_in_numpy_equal_the_row_loop_and_survive_key_collisions(scheme, monkeypatch, engine):
    """The notes are keyed by a 64-bit hash of each row's flags, hours and unknown codes; every row is checked
    against its key's first row, so a collision falls back to the row-by-row texts, never to a wrong one."""
    import numpy as np

    import grouper.batch as gb

    table = random_cases(scheme, 2000, seed=3)
    calls = []
    slow = gb.BatchGrouper._notes
    monkeypatch.setattr(gb.BatchGrouper, "_notes", lambda self, *a: calls.append(1) or slow(self, *a))
    fast = gb.BatchGrouper(scheme, engine=engine).group(table)["group_note"].to_pylist()
    assert not calls and any(fast)                                  # the keyed path, with notes to make
    grouper = gb.BatchGrouper(scheme, engine=engine)
    enc, _ = grouper.encode_batch(table)
    out = grouper.run_kernel(enc)
    flagged = np.flatnonzero(out["flags"] & gb.NOTE_MASK)
    assert slow(grouper, table, enc, out["flags"], flagged, table.num_rows).to_pylist() == fast
    monkeypatch.setattr(gb, "_mix", lambda x: np.zeros_like(x))     # every key collides
    assert gb.BatchGrouper(scheme, engine=engine).group(table)["group_note"].to_pylist() == fast and calls


@pytest.mark.skipif(not (SHARED / "reference").is_dir(), reason="../shared/reference absent")
@pytest.mark.parametrize("edition", ["11", "20"])
def test_twins_on_reference_cases(kernel_order, edition, built_scheme):
    import pyarrow.parquet as pq

    s = built_scheme(f"CHS_DRG_{edition}")
    table = pq.read_table(SHARED / "reference" / f"chs_drg_{edition}_cases.parquet")
    bad = _compare(s, table)
    assert not bad, bad[:3]


def test_pdx_order_gives_the_results_of_file_order(scheme):
    """Sorting by principal diagnosis is only a faster walk: the same results in the cases' own order, also
    for cases without a principal diagnosis, with an unknown one, and with long code lists; the same again
    with the order computed beforehand (as the pipeline's encoding thread does)."""
    import numpy as np

    from grouper.kernel import group_encoded_batch, walk_order

    table = random_cases(scheme, 1500, seed=11)
    odd = {"dx": [[], [""], ["ZZZ.999"], None, [scheme.dx_codes[0]] * 12, ["ZZZ.999", scheme.dx_codes[1]]],
           "px": [[], None, [scheme.px_codes[0]] * 10, ["99.99zz"], [], [scheme.px_codes[-1]] * 9]}
    extra = pa.table({c: (pa.array(odd[c], table.schema.field(c).type) if c in odd
                          else pa.array([table.column(c)[i].as_py() for i in range(6)], table.schema.field(c).type))
                      for c in table.column_names})
    table = pa.concat_tables([extra, table, extra] * 6)   # 9,000 cases: more than SORT_MIN_CASES
    enc, _ = BatchGrouper(scheme, engine="numba").encode_batch(table)
    assert "order" in BatchGrouper(scheme, engine="numba").encode_batch(table, walk=True)[0]
    a = group_encoded_batch(scheme, **enc, in_pdx_order=False)
    b = group_encoded_batch(scheme, **enc, in_pdx_order=True)
    c = group_encoded_batch(scheme, **enc, order=walk_order(scheme, enc["dx_off"], enc["dx_val"]))
    assert set(a) == set(b) == set(c)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
        assert np.array_equal(a[k], c[k]), k
    assert (a["status"] != 0).any()


def test_code_lookup_takes_repeats_nulls_and_untidy_strings(scheme):
    """A batch's distinct strings may repeat one (Arrow does not forbid it), hold nulls, blanks and untidy
    spellings; each gets its id, in the first batch and again once every string is known."""
    from grouper.batch import CodeEncoder
    from grouper import normalize_code

    encoder = CodeEncoder(scheme, is_px=False)
    c0, c1 = scheme.dx_codes[0], scheme.dx_codes[1]
    strings = pa.array([c0, c1, c0, " " + c1.lower() + " ", None, "", "ZZZ.999", c1])
    want = [scheme.dx_index[c0], scheme.dx_index[c1], scheme.dx_index[c0],
            scheme.dx_index.get(normalize_code(" " + c1.lower() + " "), -1), -2, -2, -1, scheme.dx_index[c1]]
    for _ in range(2):
        assert encoder.ids_of(strings).tolist() == want


@pytest.mark.parametrize("name,vent_adrg", [("CHS_DRG_11", "AH1"), ("CHS_DRG_20", "AH2")])
def test_vent_hours_option_is_twinned(built_scheme, name, vent_adrg):
    """The opt-in ventilation-hours rule leads to the ventilation ADRG of the edition (2.0: AH2; its AH1 is
    ECMO)."""
    from grouper import SchemeOptions

    s = built_scheme(name, SchemeOptions(vent_hours_rule=True))
    table = random_cases(s, 1500, seed=11)
    assert not _compare(s, table)
    r = group_case(s, Case(sex=1, age=70, dx=["J18.900"], px=[], vent_hours=120))
    assert r.adrg == vent_adrg
    off = built_scheme(name)
    r = group_case(off, Case(sex=1, age=70, dx=["J18.900"], px=[], vent_hours=120))
    assert r.adrg != vent_adrg and "vent_hours 120" in r.group_note


def test_negative_counts_read_as_missing_in_both_twins(built_scheme):
    """Found by review: the kernel reads nulls as -1, so the reference treats any negative as missing too."""
    from grouper.batch import BatchGrouper
    from grouper import Case, group_case
    import pyarrow as pa

    scheme = built_scheme("demo")
    cases = [Case(sex=1, age=0, age_days=-5, birth_weight=3000, dx=["P22.000"]),
             Case(sex=1, age=0, age_days=10, birth_weight=-1, dx=["P22.000"]),
             Case(sex=1, age=60, vent_hours=-2, dx=["J18.900"])]
    batch = pa.table({"case_id": ["a", "b", "c"], "sex": pa.array([1, 1, 1], pa.int8()),
                      "age": pa.array([0, 0, 60], pa.int16()), "age_days": pa.array([-5, 10, None], pa.int32()),
                      "birth_weight": pa.array([3000, -1, None], pa.int32()),
                      "vent_hours": pa.array([None, None, -2], pa.int32()),
                      "dx": [["P22.000"], ["P22.000"], ["J18.900"]], "px": [[], [], []]}).to_batches()[0]
    kernel = BatchGrouper(scheme, engine="numba").group(batch)
    for i, case in enumerate(cases):
        ref = group_case(scheme, case)
        assert (ref.drg or "0000", ref.status) == (kernel["drg"][i].as_py() or "0000",
                                                   kernel["group_status"][i].as_py()), i


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-1, 5), max_size=70), st.sampled_from([-1, 6]))
def test_result_dictionary_arrays_agree_with_their_twin(values, none_as):
    """The kernel's indices become Arrow dictionary arrays in one numba pass (validity bitmap built there);
    the numpy twin gives the same array, nulls and the no-group index included."""
    import numpy as np

    from grouper.batch import _dictionary, _dictionary_twin

    strings = pa.array(list("abcdefg"))
    idx = np.array(values, np.int16)
    fast, twin = _dictionary(idx, strings, none_as), _dictionary_twin(idx, strings, none_as)
    assert fast.to_pylist() == twin.to_pylist()
    assert fast.null_count == twin.null_count
    fast.validate(full=True)


def test_batch_twin_gives_the_kernels_arrays(scheme):
    """The kernel's plain twin over an encoded batch (what ``engine="python"`` runs) returns the kernel's
    arrays exactly, flags included; through ``BatchGrouper`` the six result columns are the same."""
    import numpy as np

    from grouper.kernel import group_encoded_batch
    from grouper.reference import group_encoded_batch_twin

    table = random_cases(scheme, 1500, seed=5)
    enc, _ = BatchGrouper(scheme, engine="numba").encode_batch(table)
    kernel, twin = group_encoded_batch(scheme, **enc), group_encoded_batch_twin(scheme, **enc)
    assert set(kernel) == set(twin)
    for k in kernel:
        assert kernel[k].dtype == twin[k].dtype and np.array_equal(kernel[k], twin[k]), k
    fast = BatchGrouper(scheme, engine="numba").group(table)
    plain = BatchGrouper(scheme, engine="python").group(table)
    assert all(fast[c].equals(plain[c]) for c in fast)
    with pytest.raises(ValueError, match="engine"):
        BatchGrouper(scheme, engine="fortran")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-1, 40), max_size=70))
def test_compact_ids_agree_with_their_twin(values):
    """``cc_dx`` is a dictionary over only the codes a batch uses: the numba renumbering and its numpy twin
    give the same indices and codes."""
    import numpy as np

    from grouper.batch import _compact_ids_twin
    from grouper.kernel import compact_ids

    ids = np.array(values, np.int32)
    fast, twin = compact_ids(ids, 41), _compact_ids_twin(ids, 41)
    assert fast[0].tolist() == twin[0].tolist() and fast[1].tolist() == twin[1].tolist()
