"""Tests of :mod:`drg.casefile`: reading and validating case files, rejects, repeated ids, money to fen,
background I/O, the small input tables."""
