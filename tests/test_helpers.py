"""The tests' own tools (:mod:`tests.helpers`): the data builders write the contract's columns, the HIS export
is GBK with Chinese headers, and the engine routes send the deep kernels where they say, with twins that
give the kernels' answers."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.helpers.engines import engine_routes, hash_ids_twin
from tests.helpers.grouped_cases import HOSPITALS, make_cases, make_hospitals
from tests.helpers.priced_cases import case, write_priced


def test_builders_make_contract_columns():
    t = make_cases(50)
    assert t.num_rows == 52
    assert {"case_id", "drg", "adrg", "total_cost", "discharge_date"} <= set(t.column_names)
    assert make_hospitals().num_rows == len(HOSPITALS)


def test_fixture_writes_contract_columns(tmp_path):
    """The fixture writes what `drg points` writes for settlement: the columns settle reads."""
    from drg.settlement import PRICED_OPTIONAL, PRICED_REQUIRED

    t = pq.read_table(write_priced(tmp_path / "p.parquet", [case("a", "A", 1.5)]))
    assert set(PRICED_REQUIRED + PRICED_OPTIONAL) <= set(t.column_names)


def test_generator_writes_gbk_with_chinese_headers(his_csv):
    path, _ = his_csv
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gbk").startswith("结算清单号,医保个人编号")


def test_engine_routes_send_the_deep_kernels_and_put_them_back():
    import drg.casefile.idset as idset
    import drg.casefile.money as money

    fast_rows, hash_ids = money.FAST_ROWS, idset.hash_ids
    with engine_routes("numba"):
        assert money.FAST_ROWS == 0 and idset.hash_ids is hash_ids
    with engine_routes("python"):
        assert money.FAST_ROWS > 2**40 and idset.hash_ids is hash_ids_twin
        assert idset.id_hashes(pa.array(["C1"])).tolist() == [idset.id_hash_twin("C1")]
    assert (money.FAST_ROWS, idset.hash_ids) == (fast_rows, hash_ids)
    with pytest.raises(ValueError, match="engine"):
        with engine_routes("fortran"):
            pass


@pytest.mark.parametrize("ids", [
    pa.chunked_array([pa.array(["C1", None, "中文"]), pa.array(["", "C1"])]),
    pa.chunked_array([pa.array(["A", "B", "C", "D"]).slice(1)]),
    pa.array([12, None, 7]),
    pa.array(["b", "a", "b", None]).dictionary_encode(),
    pa.array(["A1", "A2", "B"], pa.large_string()),
    pa.array([], pa.string()),
])
@pytest.mark.parametrize("after", [None, b"A", b"A1"])
def test_hash_ids_twin_answers_as_the_kernel(ids, after):
    """The twin that ``engine="python"`` puts in place of :func:`drg.casefile.idset.hash_ids`."""
    from drg.casefile.idset import hash_ids

    prev = None if after is None else np.frombuffer(after, np.uint8)
    for kw in ({}, {"check_order": True, "after": prev}, {"check_order": True, "after": prev, "hashes": False}):
        fast, twin = hash_ids(ids, **kw), hash_ids_twin(ids, **kw)
        assert (None if fast.hashes is None else fast.hashes.tolist()) == (
            None if twin.hashes is None else twin.hashes.tolist())
        assert fast.increasing == twin.increasing
        assert (None if fast.last is None else bytes(fast.last)) == (None if twin.last is None else bytes(twin.last))
