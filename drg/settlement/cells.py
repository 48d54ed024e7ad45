"""Exact sums per cell of integer keys, added up batch by batch in one pass (the finest grain of a
settlement's sums, :data:`drg.settlement.aggregates.FINE_KEYS`).

A cell is a distinct row of key codes (int32). Each batch's rows are looked up in an open-addressing hash
table of the cells seen so far; a new key row becomes the next cell (cells are numbered in order of first
appearance, so "first in file order" is the cell's first row), and the row's sums (int64) are added to its
cell. Only the cells are held, never the cases: memory grows with the number of cells, not of rows.

Storage is laid out for the two ways it is used: the key rows of the cells row by row (a probe compares a
whole row), the sums and the first values column by column (each column is handed to polars without a
copy). The kernels release the GIL: the next batch is read and coded on another thread meanwhile
(:func:`drg.settlement.aggregates.priced_sums`). Capacity is reserved for as many cells as there can be rows (:meth:`CellSums.reserve`) with
``np.zeros``, whose pages the system gives only when first written: what is resident is what the cells use.

:func:`add_rows_twin` is the plain-Python twin of the kernel (a dict of key tuples); the tests run batches
through both and require equal storage.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from drg.casefile.idset import fmix64
from grouper.prefetch import prefetch_for_write

__all__ = ["CellSums", "add_rows_twin"]

_EMPTY = -1

#: The engine new :class:`CellSums` use: ``numba`` (the kernel) or ``python`` (its twin). No caller chooses
#: it; the tests' engine fixture sets it for the length of a test (``tests/helpers/engines.py``).
ENGINE = "numba"


@njit(cache=True, inline="always")
def _mix(h, v):
    return (h ^ np.uint64(np.uint32(v))) * np.uint64(0x100000001B3)


#: How many rows ahead the kernel prefetches a row's slot of the table, and (half as far) the key row and
#: sums of the cell found there: a table of millions of cells misses the caches on every row, and a
#: row's 15 sums are 15 columns, so 15 more misses for a cell seen before.
SLOT_AHEAD = 16
CELL_AHEAD = 8


@njit(cache=True, nogil=True)
def _add_rows(in_keys, in_sums, in_firsts, keys, sums, firsts, table, n_cells):
    """Add the rows of a batch (``in_keys`` [k, n] int32, ``in_sums`` [s, n] int64, ``in_firsts`` [f, n]
    uint32) to the cells (``keys`` [cap, k], ``sums`` [s, cap], ``firsts`` [f, cap]); returns the new number
    of cells. ``table`` (int32 cell numbers, −1 empty) has at least twice as many slots as cells after.

    The rows' home slots are hashed first; while adding row ``i`` the kernel prefetches the home slot of row
    ``i + SLOT_AHEAD`` and the key row and sums of the cell in the home slot of row ``i + CELL_AHEAD`` (a
    hint only: the probe of each row is done in full when its turn comes, after the rows before it)."""
    mask = np.uint64(table.shape[0] - 1)
    k = in_keys.shape[0]
    s = in_sums.shape[0]
    f = in_firsts.shape[0]
    n = in_keys.shape[1]
    home = np.empty(n, np.uint64)
    for i in range(n):
        h = np.uint64(0xCBF29CE484222325)
        for j in range(k):
            h = _mix(h, in_keys[j, i])
        home[i] = fmix64(h) & mask
    for i in range(n):
        if i + SLOT_AHEAD < n:
            prefetch_for_write(table, home[i + SLOT_AHEAD])
        if i + CELL_AHEAD < n:
            ahead = table[home[i + CELL_AHEAD]]
            if ahead >= 0:
                prefetch_for_write(keys, (ahead, 0))
                for j in range(s):
                    prefetch_for_write(sums, (j, ahead))
        slot = home[i]
        while True:
            c = table[slot]
            if c < 0:
                c = n_cells
                n_cells += 1
                table[slot] = c
                for j in range(k):
                    keys[c, j] = in_keys[j, i]
                for j in range(f):
                    firsts[j, c] = in_firsts[j, i]
                break
            same = True
            for j in range(k):
                if keys[c, j] != in_keys[j, i]:
                    same = False
                    break
            if same:
                break
            slot = (slot + np.uint64(1)) & mask
        for j in range(s):
            sums[j, c] += in_sums[j, i]
    return n_cells


@njit(cache=True, nogil=True)
def _rehash(keys, n_cells, table):
    """Put cells ``0 … n_cells − 1`` into an empty ``table``."""
    mask = np.uint64(table.shape[0] - 1)
    k = keys.shape[1]
    for c in range(n_cells):
        h = np.uint64(0xCBF29CE484222325)
        for j in range(k):
            h = _mix(h, keys[c, j])
        slot = fmix64(h) & mask
        while table[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        table[slot] = c


def add_rows_twin(in_keys: np.ndarray, in_sums: np.ndarray, in_firsts: np.ndarray, keys: np.ndarray,
                  sums: np.ndarray, firsts: np.ndarray, index: dict, n_cells: int) -> int:
    """Plain-Python twin of the kernel: ``index`` maps a key tuple to its cell (no hash table)."""
    for i in range(in_keys.shape[1]):
        row = tuple(int(v) for v in in_keys[:, i])
        c = index.get(row)
        if c is None:
            c = index[row] = n_cells
            n_cells += 1
            keys[c, :] = row
            firsts[:, c] = in_firsts[:, i]
        sums[:, c] += in_sums[:, i]
    return n_cells


class CellSums:
    """Cells of ``n_keys`` int32 key codes with ``n_sums`` exact int64 sums and ``n_firsts`` uint32 values of
    each cell's first row, added up by the kernel or its twin as :data:`ENGINE` says when made."""

    def __init__(self, n_keys: int, n_sums: int, n_firsts: int) -> None:
        if ENGINE not in ("numba", "python"):
            raise ValueError(f"unknown engine {ENGINE!r}")
        self.engine = ENGINE
        self.n_cells = 0
        self.keys = np.zeros((0, n_keys), np.int32)
        self.sums = np.zeros((n_sums, 0), np.int64)
        self.firsts = np.zeros((n_firsts, 0), np.uint32)
        self._table = np.full(16, _EMPTY, np.int32)
        self._index: dict = {}

    @property
    def capacity(self) -> int:
        return self.keys.shape[0]

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` more rows, each possibly a new cell (pages are resident only once written)."""
        need = self.n_cells + rows
        if need <= self.capacity:
            return
        cap = max(need, 2 * self.capacity)
        keys = np.zeros((cap, self.keys.shape[1]), np.int32)
        sums = np.zeros((self.sums.shape[0], cap), np.int64)
        firsts = np.zeros((self.firsts.shape[0], cap), np.uint32)
        n = self.n_cells
        keys[:n] = self.keys[:n]
        sums[:, :n] = self.sums[:, :n]
        firsts[:, :n] = self.firsts[:, :n]
        self.keys, self.sums, self.firsts = keys, sums, firsts

    def add(self, in_keys: np.ndarray, in_sums: np.ndarray, in_firsts: np.ndarray) -> None:
        """Add a batch: ``in_keys`` [n_keys, n] int32, ``in_sums`` [n_sums, n] int64, ``in_firsts``
        [n_firsts, n] uint32, rows in file order."""
        n = in_keys.shape[1]
        if n == 0:
            return
        self.reserve(n)
        if self.engine == "python":
            self.n_cells = add_rows_twin(in_keys, in_sums, in_firsts, self.keys, self.sums, self.firsts,
                                         self._index, self.n_cells)
            return
        slots = self._table.shape[0]
        if slots < 2 * (self.n_cells + n):
            while slots < 2 * (self.n_cells + n):
                slots *= 2
            self._table = np.full(slots, _EMPTY, np.int32)
            _rehash(self.keys, self.n_cells, self._table)
        self.n_cells = _add_rows(np.ascontiguousarray(in_keys, np.int32), np.ascontiguousarray(in_sums, np.int64),
                                 np.ascontiguousarray(in_firsts, np.uint32), self.keys, self.sums, self.firsts,
                                 self._table, self.n_cells)

    def release_index(self) -> None:
        """Drop the lookup table (no more rows will be added)."""
        self._table = np.full(16, _EMPTY, np.int32)
        self._index = {}
