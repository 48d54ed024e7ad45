"""Tests of :mod:`drg.cli`: each command as a user runs it (exit codes, output, options)."""
