"""The tests' arithmetic against direct sums and published examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from drg.audit.stats import benjamini_hochberg, binomial_upper, normal_upper, poisson_upper


@pytest.mark.parametrize("k,n,p", [(0, 10, 0.3), (3, 10, 0.3), (10, 10, 0.3), (11, 10, 0.3), (40, 200, 0.05),
                                   (5, 5, 0.0), (1, 50, 1.0)])
def test_binomial_upper_is_the_direct_sum(k, n, p):
    direct = sum(math.comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(max(k, 0), n + 1))
    assert binomial_upper(k, n, p)[0] == pytest.approx(direct, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("k,lam", [(0, 2.0), (1, 2.0), (5, 2.0), (30, 4.5), (3, 0.0), (200, 150.0)])
def test_poisson_upper_is_one_minus_the_cdf(k, lam):
    if lam == 0:
        assert poisson_upper(k, lam)[0] == 0.0
        return
    cdf = sum(math.exp(-lam + j * math.log(lam) - math.lgamma(j + 1)) for j in range(k))
    assert poisson_upper(k, lam)[0] == pytest.approx(1 - cdf, rel=1e-7)


def test_tiny_tails_are_not_rounded_to_zero():
    p = poisson_upper(60, 2.0)[0]
    assert 0 < p < 1e-40
    assert 0 < binomial_upper(90, 100, 0.1)[0] < 1e-60


def test_normal_upper():
    assert normal_upper([0.0, 1.959963984540054])[0] == pytest.approx(0.5)
    assert normal_upper([1.959963984540054])[0] == pytest.approx(0.025)


def test_benjamini_hochberg_example():
    """Benjamini & Hochberg (1995), the fifteen p-values of their example: at q = 0.05 the four smallest are
    declared."""
    p = np.array([0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719,
                  0.6528, 0.7590, 1.0])
    adj = benjamini_hochberg(p)
    assert (adj <= 0.05).sum() == 4
    assert adj[0] == pytest.approx(0.0015) and adj[-1] == 1.0
    shuffled = np.random.default_rng(1).permutation(len(p))
    assert np.allclose(benjamini_hochberg(p[shuffled]), adj[shuffled])
    assert benjamini_hochberg(np.array([])).size == 0


def test_benjamini_hochberg_counts_the_untested_hypotheses():
    """Hypotheses left untested (their count could not be small) rank last with p = 1: the adjustment of the
    tested ones is that of the whole family."""
    p = np.array([0.001, 0.01])
    assert np.allclose(benjamini_hochberg(p, m=10), benjamini_hochberg(np.r_[p, np.ones(8)])[:2])
    assert np.allclose(benjamini_hochberg(p, m=1), benjamini_hochberg(p))
