"""Tests of :mod:`drg.estimate`: the published bundle, the one-case estimate and a hospital's month."""
