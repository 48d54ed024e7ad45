"""Where the tests find the repository, its demo data and the shared reference material (``../shared``,
beside the repository; tests that need it are skipped when it is absent), and which columns of a Parquet
file a writer dictionary-encoded."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"
DATA = REPO / "data"

#: Rule tables and code dictionary of each scheme the tests compile (``built_scheme`` in tests/conftest.py).
SCHEME_SOURCES = {
    "demo": (DATA / "schemes" / "demo", DATA / "codes" / "demo"),
    "CHS_DRG_11": (SHARED / "schemes" / "CHS_DRG_11", SHARED / "codes" / "chs_drg_11"),
    "CHS_DRG_10": (SHARED / "schemes" / "CHS_DRG_10", SHARED / "codes" / "chs_drg_10"),
    "CHS_DRG_10P": (SHARED / "schemes" / "CHS_DRG_10P", SHARED / "codes" / "chs_drg_10"),
    "CHS_DRG_20": (SHARED / "schemes" / "CHS_DRG_20", SHARED / "codes" / "chs_drg_20"),
}


def dictionary_encoded(path) -> set[str]:
    """The top-level columns of a Parquet file whose first row group has dictionary pages."""
    import pyarrow.parquet as pq

    rg = pq.ParquetFile(path).metadata.row_group(0)
    return {rg.column(j).path_in_schema.split(".")[0] for j in range(rg.num_columns)
            if any("DICTIONARY" in e for e in rg.column(j).encodings)}
