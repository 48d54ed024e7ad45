"""Tests of :mod:`drg.reports`: hospital statements and the city summary."""
