"""Grouping Arrow batches: codes dictionary-encoded once per batch, the numba kernel, result columns.

Strings live only at the edges: each batch's ``dx``/``px`` list columns are flattened, dictionary-encoded
(one pass over the strings), the distinct strings are normalised and looked up in the scheme once, and the
kernel sees CSR integer arrays. Results come back as Arrow columns ``mdc, adrg, drg, cc_level, cc_dx,
group_status, group_note``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grouper.reference import (NOTE_INVALID_PPX, NOTE_MALE_PREGNANCY, NOTE_SEX_SKIPPED, NOTE_SEX_UNKNOWN,
                               NOTE_UNKNOWN_DX, NOTE_UNKNOWN_PX, NOTE_VENT_NO_CODE, STATUS_NAMES, normalize_code,
                               note_parts)
from grouper.scheme import Scheme
from grouper.results import UNGROUPABLE_DRG

RESULT_COLUMNS = ("mdc", "adrg", "drg", "cc_level", "cc_dx", "group_status", "group_note")
#: the flags that produce a group_note text (the others are kept for the step log only)
NOTE_MASK = (NOTE_UNKNOWN_DX | NOTE_UNKNOWN_PX | NOTE_MALE_PREGNANCY | NOTE_SEX_SKIPPED | NOTE_SEX_UNKNOWN
             | NOTE_VENT_NO_CODE | NOTE_INVALID_PPX)
GROUPING_COLUMNS = ("sex", "age", "age_days", "birth_weight", "vent_hours", "dx", "px")
#: The most untidy strings (spellings that are not a scheme code as written) an encoder remembers; past this
#: it forgets them and starts again from the scheme's own codes, so that a file with ever new spellings
#: (a unique junk code on every row) keeps memory flat. Forgetting changes no result, only what is cached.
MAX_UNTIDY_REMEMBERED = 1 << 16


class CodeEncoder:
    """Maps code strings to scheme ids, remembering every distinct string it has seen (across batches).

    The strings a batch holds are looked up in one Arrow hash join (``index_in``) against every string
    already known: the scheme's own codes and the untidy strings met before. Only strings never seen go
    through :func:`grouper.reference.normalize_code` in Python, once per encoder.
    """

    def __init__(self, scheme: Scheme, is_px: bool) -> None:
        self.index = scheme.px_index if is_px else scheme.dx_index
        codes = scheme.px_codes if is_px else scheme.dx_codes
        tidy = [c for c in codes if normalize_code(c) == c]
        self._known_strings: list[str] = tidy
        self._known_ids: list[int] = [self.index[c] for c in tidy]
        self._tidy = len(tidy)
        self._known: tuple[pa.Array, np.ndarray] | None = None

    def _known_arrays(self) -> tuple[pa.Array, np.ndarray]:
        if self._known is None:
            self._known = (pa.array(self._known_strings, pa.string()), np.asarray(self._known_ids, np.int32))
        return self._known

    def ids_of(self, strings: pa.Array) -> np.ndarray:
        """The scheme id of each string (``-1`` unknown code, ``-2`` empty or null)."""
        strings = strings.cast(pa.string()) if strings.type != pa.string() else strings
        if len(self._known_strings) - self._tidy > MAX_UNTIDY_REMEMBERED:   # memory flat whatever the input
            del self._known_strings[self._tidy:], self._known_ids[self._tidy:]
            self._known = None
        known, known_ids = self._known_arrays()
        # each known string's place among this batch's strings: the hash table is built over the batch's
        # few thousand distinct strings, not over every known one (a third of the time)
        pos = pc.fill_null(pc.index_in(known, value_set=strings), -1).to_numpy(zero_copy_only=False)
        hit = pos >= 0
        out = np.full(len(strings), -3, np.int32)
        out[pos[hit]] = known_ids[hit]
        missing = np.flatnonzero(out == -3)   # new strings, nulls, and repeats of a string in the batch
        if len(missing):
            for k, raw in zip(missing.tolist(), strings.take(pa.array(missing)).to_pylist()):
                c = normalize_code(raw) if raw is not None else ""
                v = self.index.get(c, -1) if c else -2
                out[k] = v
                if raw is not None:
                    self._known_strings.append(raw)
                    self._known_ids.append(v)
                    self._known = None
        return out

    def encode(self, column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """A list<string> column → (offsets int64[n+1], ids int32[m]); a null list is an empty list."""
        offsets, ids, _raw, _strings = self.encode_raw(column)
        return offsets, ids

    def encode_raw(self, column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, np.ndarray, pa.Array]:
        """:meth:`encode` plus, for each code, its index into the distinct strings as written (the last
        item), from which the notes name unknown codes."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        n = len(column)
        if column.null_count == 0 and pa.types.is_list(column.type):
            off = column.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
            flat = column.values.slice(off[0], off[-1] - off[0])
            offsets = off - off[0]
        else:
            lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
            offsets = np.zeros(n + 1, np.int64)
            np.cumsum(lengths, out=offsets[1:])
            flat = pc.list_flatten(column)
        if len(flat) == 0:
            return offsets, np.zeros(0, np.int32), np.zeros(0, np.int32), pa.array([], pa.string())
        if not pa.types.is_dictionary(flat.type):
            flat = pc.dictionary_encode(flat)
        strings = flat.dictionary
        ids = self.ids_of(strings)
        idx = flat.indices
        if idx.null_count:
            idx = pc.fill_null(idx, len(ids))
            ids = np.append(ids, np.int32(-2))
        from grouper.kernel import take_ids

        raw = idx.to_numpy(zero_copy_only=False)
        return offsets, take_ids(np.ascontiguousarray(ids, np.int32), raw), raw, strings


def _int_column(batch, name: str, n: int, dtype, null=-1) -> np.ndarray:
    if name not in batch.schema.names:
        return np.full(n, null, dtype)
    col = batch.column(name)
    if col.null_count:
        col = pc.fill_null(col, null)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype)


class BatchGrouper:
    """Groups Arrow record batches with one scheme (keeps the code encoders between batches).

    ``engine`` is ``"numba"`` (the kernel, :func:`grouper.kernel.group_encoded_batch`) or ``"python"`` (its
    plain twin, :func:`grouper.reference.group_encoded_batch_twin`); both give the same results."""

    def __init__(self, scheme: Scheme, engine: str = "numba") -> None:
        if engine not in ("numba", "python"):
            raise ValueError(f"engine must be 'numba' or 'python', got {engine!r}")
        self.scheme = scheme
        self.engine = engine
        self.dx_enc = CodeEncoder(scheme, False)
        self.px_enc = CodeEncoder(scheme, True)
        s = scheme
        self._mdc = pa.array(list(s.mdc_codes), pa.string())
        self._adrg = pa.array(s.adrg_results, pa.string())
        self._drg = pa.array(s.drg_results + [UNGROUPABLE_DRG], pa.string())
        self._status = pa.array(list(STATUS_NAMES), pa.string())
        self._dx = pa.array(list(s.dx_codes), pa.string())

    def encode(self, batch) -> dict:
        """The kernel's input arrays for one batch."""
        return self.encode_batch(batch)[0]

    def encode_batch(self, batch, *, walk: bool = False) -> tuple[dict, dict]:
        """The kernel's input arrays, and per code list the codes as written (indices into the distinct
        strings, and those strings) for the notes: what :meth:`run_kernel` and :meth:`result_columns` take. The
        encoders remember strings between batches, so one thread at a time may call this.

        With ``walk``, a batch the kernel walks in principal-diagnosis order gets that order here, on the
        calling thread (``enc["order"]``, :func:`grouper.kernel.walk_order`): a pipeline sorts on its
        encoding thread, so that the kernel's thread only walks."""
        n = batch.num_rows
        dx_off, dx_val, dx_raw, dx_str = self.dx_enc.encode_raw(batch.column("dx"))
        if "px" in batch.schema.names:
            px_off, px_val, px_raw, px_str = self.px_enc.encode_raw(batch.column("px"))
        else:
            px_off, px_val = np.zeros(n + 1, np.int64), np.zeros(0, np.int32)
            px_raw, px_str = np.zeros(0, np.int32), pa.array([], pa.string())
        enc = dict(sex=_int_column(batch, "sex", n, np.int8, 0), age=_int_column(batch, "age", n, np.int32),
                   age_days=_int_column(batch, "age_days", n, np.int32),
                   weight=_int_column(batch, "birth_weight", n, np.int32),
                   vent=_int_column(batch, "vent_hours", n, np.int32),
                   dx_off=dx_off, dx_val=dx_val, px_off=px_off, px_val=px_val)
        if walk:
            from grouper.kernel import SORT_MIN_CASES, walk_order

            if n >= SORT_MIN_CASES:
                enc["order"] = walk_order(self.scheme, dx_off, dx_val)
        return enc, {"dx": (dx_raw, dx_str), "px": (px_raw, px_str)}

    def group(self, batch, *, by_status: Counter | None = None, by_mdc: Counter | None = None,
              dictionary: bool = False) -> dict[str, pa.Array]:
        """Group one batch (RecordBatch or Table with the contract's grouping columns).

        ``by_status`` / ``by_mdc``, when given, are incremented with the batch's cases per ``group_status``
        and per ``mdc`` (None for no MDC), counted on the kernel's integer output. With ``dictionary`` the
        string result columns come as Arrow dictionary arrays (the kernel's indices over the scheme's code
        lists: no string is copied; Parquet writes them as they are)."""
        enc, written = self.encode_batch(batch)
        out = self.run_kernel(enc, by_status=by_status, by_mdc=by_mdc)
        return self.result_columns(batch, enc, out, dictionary=dictionary, written=written)

    def run_kernel(self, enc: dict, *, by_status: Counter | None = None,
                   by_mdc: Counter | None = None) -> dict[str, np.ndarray]:
        """The kernel's integer output for an encoded batch (counted into ``by_status``/``by_mdc``); the
        result columns are :meth:`result_columns` of it, which a pipeline builds on its writing thread."""
        if self.engine == "python":
            from grouper.reference import group_encoded_batch_twin as group_encoded_batch
        else:
            from grouper.kernel import group_encoded_batch

        out = group_encoded_batch(self.scheme, **enc)
        if by_status is not None:
            _count(by_status, out["status"], STATUS_NAMES)
        if by_mdc is not None:
            _count(by_mdc, out["mdc"], self.scheme.mdc_codes)
        return out

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

    def _notes_keyed(self, enc: dict, written: dict, flags: np.ndarray, flagged: np.ndarray,
                     n: int) -> pa.Array | None:
        """:meth:`_notes` without the per-row loop: each flagged row gets a 64-bit key from its note flags,
        hours and unknown codes as written (their positions in the batch's distinct strings, in order);
        rows are grouped by key and each key's text is made once from its first row. Every row is then
        checked against that row exactly (same flags, hours and codes); on any difference (a hash
        collision) it returns None and the caller uses :meth:`_notes`."""
        m = len(flagged)
        f = flags[flagged].astype(np.int64) & NOTE_MASK
        vent = np.where(f & NOTE_VENT_NO_CODE, enc["vent"][flagged].astype(np.int64), -1)
        key = _mix(f.astype(np.uint64)) ^ _mix(vent.astype(np.uint64) + np.uint64(0x51ED27))
        sides = []
        for side_no, (side, skip) in enumerate((("dx", True), ("px", False))):
            off, ids = enc[f"{side}_off"], enc[f"{side}_val"]
            raw, strings = written[side]
            pos = np.flatnonzero(ids == -1)
            rows = np.searchsorted(off, pos, side="right") - 1
            if skip:
                keep = pos != off[rows]
                pos, rows = pos[keep], rows[keep]
            slot = np.searchsorted(flagged, rows)
            if len(pos) and not np.array_equal(flagged[np.minimum(slot, m - 1)], rows):
                return None                           # an unknown code on a row the kernel did not flag
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, np.int64)
            counts = np.diff(np.r_[starts, len(rows)])
            rank = np.arange(len(rows)) - np.repeat(starts, counts)
            code = raw[pos].astype(np.int64)
            part = _mix((code + 1).astype(np.uint64) + (rank.astype(np.uint64) << np.uint64(24))
                        + np.uint64(side_no << 56))
            if len(part):
                key[slot[starts]] ^= np.bitwise_xor.reduceat(part, starts)
            count = np.zeros(m, np.int64)
            count[slot[starts]] = counts
            first = np.full(m, -1, np.int64)
            first[slot[starts]] = starts
            key ^= _mix(count.astype(np.uint64) + np.uint64((side_no + 1) << 40))
            sides.append((code, slot, rank, count, first, strings))
        _uniq, rep_of_key, inverse = np.unique(key, return_index=True, return_inverse=True)
        rep = rep_of_key[inverse]                     # each row's representative (first row of its key)
        if not (np.array_equal(f, f[rep]) and np.array_equal(vent, vent[rep])):
            return None
        for code, slot, rank, count, first, _strings in sides:
            if not np.array_equal(count, count[rep]):
                return None
            if len(code) and not np.array_equal(code, code[first[rep[slot]] + rank]):
                return None
        texts: list[str] = []
        text_of_key = np.full(len(rep_of_key), -1, np.int32)
        for k, r in enumerate(rep_of_key.tolist()):
            unknown = []
            for code, _slot, _rank, count, first, strings in sides:
                c = int(count[r])
                unknown.append(tuple(strings.take(pa.array(code[first[r]:first[r] + c])).to_pylist()) if c else ())
            parts = note_parts(int(f[r]), unknown[0], unknown[1], int(vent[r]) if vent[r] >= 0 else None)
            if parts:
                text_of_key[k] = len(texts)
                texts.append("; ".join(parts))
        where = np.full(n, -1, np.int32)
        where[flagged] = text_of_key[inverse]
        return _dictionary(where, pa.array(texts, pa.string()))

    def result_columns(self, batch, enc: dict, out: dict, *, dictionary: bool = False,
                       written: dict | None = None) -> dict[str, pa.Array]:
        """Kernel output → the seven result columns: the kernel's indices over the scheme's code lists (for
        ``cc_dx``, over only the diagnosis codes the batch uses), as dictionary arrays (``dictionary=True``)
        or decoded to plain strings. ``written`` (from the encoder: the codes as written) lets the notes be
        keyed in numpy instead of row by row."""
        n = len(out["drg"])
        flagged = np.flatnonzero(out["flags"] & NOTE_MASK)
        if len(flagged):
            notes = self._notes_keyed(enc, written, out["flags"], flagged, n) if written is not None else None
            if notes is None:
                notes = self._notes(batch, enc, out["flags"], flagged, n)
        else:
            notes = pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int32()), pa.array([], pa.string()))
        from grouper.kernel import compact_ids

        cc_idx, cc_used = compact_ids(out["cc_dx"], len(self._dx))    # only the codes used: a small dictionary
        cols = {
            "mdc": _dictionary(out["mdc"], self._mdc),
            "adrg": _dictionary(out["adrg"], self._adrg),
            "drg": _dictionary(out["drg"], self._drg, none_as=len(self._drg) - 1),   # no group: "0000"
            "cc_level": pa.array(out["cc_level"], pa.int8()),
            "cc_dx": _dictionary(cc_idx, self._dx.take(pa.array(cc_used))),
            "group_status": _dictionary(out["status"], self._status),
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


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser over uint64 values (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _dictionary(idx: np.ndarray, strings: pa.Array, none_as: int = -1) -> pa.DictionaryArray:
    """Indices into ``strings`` (-1: null, or the index ``none_as``) as a dictionary array."""
    from grouper.kernel import dictionary_indices

    values, bits, nulls = dictionary_indices(idx, none_as)
    indices = pa.Array.from_buffers(pa.int32(), len(values), [pa.py_buffer(bits) if nulls else None,
                                                              pa.py_buffer(values)], null_count=nulls)
    return pa.DictionaryArray.from_arrays(indices, strings)


def _compact_ids_twin(ids: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """Plain numpy twin of :func:`grouper.kernel.compact_ids`."""
    used = np.unique(ids[ids >= 0]).astype(np.int64)
    out = np.full(len(ids), -1, np.int32)
    out[ids >= 0] = np.searchsorted(used, ids[ids >= 0])
    return out, used


def _dictionary_twin(idx: np.ndarray, strings: pa.Array, none_as: int = -1) -> pa.DictionaryArray:
    """Plain numpy twin of :func:`_dictionary`."""
    idx = idx.astype(np.int32)
    if none_as >= 0:
        idx[idx < 0] = none_as
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
