"""Grouping Arrow batches: codes dictionary-encoded once per batch, the numba kernel, result columns.

Strings live only at the edges: each batch's ``dx``/``px`` list columns are flattened, dictionary-encoded
(one pass over the strings), the distinct strings are normalised and looked up in the scheme once, and the
kernel sees CSR integer arrays. Results come back as Arrow columns ``mdc, adrg, drg, cc_level,
group_status, group_note``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grouper.reference import (NOTE_MALE_PREGNANCY, NOTE_SEX_SKIPPED, NOTE_SEX_UNKNOWN, NOTE_UNKNOWN_DX,
                               NOTE_UNKNOWN_PX, NOTE_VENT_NO_CODE, STATUS_NAMES, normalize_code, note_parts)
from grouper.scheme import Scheme

RESULT_COLUMNS = ("mdc", "adrg", "drg", "cc_level", "group_status", "group_note")
#: the flags that produce a group_note text (the others are kept for the step log only)
NOTE_MASK = (NOTE_UNKNOWN_DX | NOTE_UNKNOWN_PX | NOTE_MALE_PREGNANCY | NOTE_SEX_SKIPPED | NOTE_SEX_UNKNOWN
             | NOTE_VENT_NO_CODE)
GROUPING_COLUMNS = ("sex", "age", "age_days", "birth_weight", "vent_hours", "dx", "px")


class CodeEncoder:
    """Maps code strings to scheme ids, remembering every distinct string it has seen (across batches)."""

    def __init__(self, scheme: Scheme, is_px: bool) -> None:
        self.index = scheme.px_index if is_px else scheme.dx_index
        self.seen: dict[str, int] = {}

    def ids_for(self, strings: list) -> np.ndarray:
        seen, index = self.seen, self.index
        out = np.empty(len(strings), np.int32)
        for k, s in enumerate(strings):
            v = seen.get(s)
            if v is None:
                c = normalize_code(s) if s is not None else ""
                v = index.get(c, -1) if c else -2
                seen[s] = v
            out[k] = v
        return out

    def encode(self, column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """A list<string> column → (offsets int64[n+1], ids int32[m]); a null list is an empty list."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        n = len(column)
        lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = pc.list_flatten(column)
        if len(flat) == 0:
            return offsets, np.zeros(0, np.int32)
        if not pa.types.is_dictionary(flat.type):
            flat = pc.dictionary_encode(flat)
        ids = self.ids_for(flat.dictionary.to_pylist())
        idx = flat.indices
        if idx.null_count:
            idx = pc.fill_null(idx, len(ids))
            ids = np.append(ids, np.int32(-2))
        return offsets, ids[idx.to_numpy(zero_copy_only=False)]


def _int_column(batch, name: str, n: int, dtype, null=-1) -> np.ndarray:
    if name not in batch.schema.names:
        return np.full(n, null, dtype)
    col = batch.column(name)
    if col.null_count:
        col = pc.fill_null(col, null)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype)


class BatchGrouper:
    """Groups Arrow record batches with one scheme (keeps the code encoders between batches)."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.dx_enc = CodeEncoder(scheme, False)
        self.px_enc = CodeEncoder(scheme, True)
        s = scheme
        self._mdc = pa.array(list(s.mdc_codes), pa.string())
        self._adrg = pa.array(list(s.adrg_codes), pa.string())
        self._drg = pa.array(list(s.drg_codes) + ["0000"], pa.string())
        self._status = pa.array(list(STATUS_NAMES), pa.string())

    def encode(self, batch) -> dict:
        """The kernel's input arrays for one batch."""
        n = batch.num_rows
        dx_off, dx_val = self.dx_enc.encode(batch.column("dx"))
        if "px" in batch.schema.names:
            px_off, px_val = self.px_enc.encode(batch.column("px"))
        else:
            px_off, px_val = np.zeros(n + 1, np.int64), np.zeros(0, np.int32)
        return dict(sex=_int_column(batch, "sex", n, np.int8, 0), age=_int_column(batch, "age", n, np.int32),
                    age_days=_int_column(batch, "age_days", n, np.int32),
                    weight=_int_column(batch, "birth_weight", n, np.int32),
                    vent=_int_column(batch, "vent_hours", n, np.int32),
                    dx_off=dx_off, dx_val=dx_val, px_off=px_off, px_val=px_val)

    def group(self, batch, *, by_status: Counter | None = None, by_mdc: Counter | None = None,
              dictionary: bool = False) -> dict[str, pa.Array]:
        """Group one batch (RecordBatch or Table with the contract's grouping columns).

        ``by_status`` / ``by_mdc``, when given, are incremented with the batch's cases per ``group_status``
        and per ``mdc`` (None for no MDC), counted on the kernel's integer output. With ``dictionary`` the
        string result columns come as Arrow dictionary arrays (the kernel's indices over the scheme's code
        lists: no string is copied; Parquet writes them as they are)."""
        from grouper.kernel import group_encoded_batch

        enc = self.encode(batch)
        out = group_encoded_batch(self.scheme, **enc)
        if by_status is not None:
            _count(by_status, out["status"], STATUS_NAMES)
        if by_mdc is not None:
            _count(by_mdc, out["mdc"], self.scheme.mdc_codes)
        return self.result_columns(batch, enc, out, dictionary=dictionary)

    def _notes(self, batch, enc: dict, flags: np.ndarray, flagged: np.ndarray, n: int) -> pa.Array:
        """``group_note`` as a dictionary array: the unknown codes are gathered in Arrow (only those become
        Python strings), and each distinct (flags, unknown codes, hours) gets its text once."""
        unknown_dx = _unknown_codes(batch.column("dx"), enc["dx_off"], enc["dx_val"], skip_principal=True)
        unknown_px = (_unknown_codes(batch.column("px"), enc["px_off"], enc["px_val"], skip_principal=False)
                      if "px" in batch.schema.names else {})
        vent = enc["vent"]
        memo: dict[tuple, int] = {}
        texts: list[str] = []
        code = np.full(len(flagged), -1, np.int32)
        for k, i in enumerate(flagged.tolist()):
            key = (int(flags[i]), unknown_dx.get(i, ()), unknown_px.get(i, ()),
                   int(vent[i]) if vent[i] >= 0 else None)
            c = memo.get(key)
            if c is None:
                parts = note_parts(*key)
                if parts:
                    texts.append("; ".join(parts))
                c = memo[key] = len(texts) - 1 if parts else -1
            code[k] = c
        where = np.full(n, -1, np.int32)
        where[flagged] = code
        return _dictionary(where, pa.array(texts, pa.string()))

    def result_columns(self, batch, enc: dict, out: dict, *, dictionary: bool = False) -> dict[str, pa.Array]:
        """Kernel output → the six result columns: the kernel's indices over the scheme's code lists, as
        dictionary arrays (``dictionary=True``) or decoded to plain strings."""
        n = len(out["drg"])
        flagged = np.flatnonzero(out["flags"] & NOTE_MASK)
        if len(flagged):
            notes = self._notes(batch, enc, out["flags"], flagged, n)
        else:
            notes = pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), pa.array([], pa.string()))
        drg = out["drg"].astype(np.int32)
        drg[drg < 0] = len(self._drg) - 1          # no group: "0000"
        cols = {
            "mdc": _dictionary(out["mdc"], self._mdc),
            "adrg": _dictionary(out["adrg"], self._adrg),
            "drg": pa.DictionaryArray.from_arrays(pa.array(drg), self._drg),
            "cc_level": pa.array(out["cc_level"], pa.int8()),
            "group_status": pa.DictionaryArray.from_arrays(pa.array(out["status"].astype(np.int32)),
                                                           self._status),
            "group_note": notes,
        }
        if not dictionary:
            cols = {c: decode(a) for c, a in cols.items()}
        return cols


def decode(column):
    """A dictionary array (or chunked array) as plain values; anything else unchanged."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _dictionary(idx: np.ndarray, strings: pa.Array) -> pa.DictionaryArray:
    """Indices into ``strings`` (-1: null) as a dictionary array."""
    idx = idx.astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(idx, mask=idx < 0), strings)


def _count(counter: Counter, codes: np.ndarray, names) -> None:
    """Add the cases per name to ``counter`` (code -1: None)."""
    counts = np.bincount(codes.astype(np.int64) + 1, minlength=len(names) + 1)
    for k in np.flatnonzero(counts).tolist():
        counter[names[k - 1] if k else None] += int(counts[k])


def _unknown_codes(column, offsets: np.ndarray, ids: np.ndarray, *, skip_principal: bool) -> dict[int, tuple]:
    """Row → the codes (as written) whose id is -1 (not in the scheme's dictionary), in list order.

    ``offsets``/``ids`` are the encoder's CSR of the same column, aligned with ``pc.list_flatten``.
    With ``skip_principal`` the first code of each row is left out (an unknown principal is a status).
    """
    pos = np.flatnonzero(ids == -1)
    if len(pos) == 0:
        return {}
    rows = np.searchsorted(offsets, pos, side="right") - 1
    if skip_principal:
        keep = pos != offsets[rows]
        pos, rows = pos[keep], rows[keep]
        if len(pos) == 0:
            return {}
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    raw = pc.list_flatten(column).take(pa.array(pos)).to_pylist()
    out: dict[int, list] = {}
    for r, code in zip(rows.tolist(), raw):
        out.setdefault(r, []).append(code)
    return {r: tuple(v) for r, v in out.items()}
