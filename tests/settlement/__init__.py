"""Tests of :mod:`drg.settlement`: point values, monthly and annual settlement, county accounts, invariants,
the ledger."""
