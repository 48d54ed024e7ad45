"""Tests of :mod:`drg.synth`: the synthetic city, the samples registry and ``drg demo``."""
