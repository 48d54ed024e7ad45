"""Tests of :mod:`drg.pricing`: weights, coefficients, case classes and points, readmission, reviews and
violations; every case through the numba kernels and their exact twins."""
