"""The few tests the detectors need, in numpy (no SciPy): exact upper tails of the binomial and Poisson
distributions, the normal upper tail, and the Benjamini–Hochberg adjustment for many tests.

Tails are summed term by term in log space from the observed count upwards, so a p-value of 1e-30 is as
accurate as one of 0.3 (``1 − CDF`` would round it to 0).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["benjamini_hochberg", "binomial_upper", "normal_upper", "poisson_upper"]


def _log_factorials(n: int) -> np.ndarray:
    """``log(k!)`` for k = 0…n."""
    out = np.zeros(n + 1)
    if n:
        out[1:] = np.cumsum(np.log(np.arange(1, n + 1)))
    return out


def binomial_upper(k, n, p) -> np.ndarray:
    """P(X ≥ k) for X ~ Binomial(n, p), element-wise (1 when k ≤ 0; 0 when k > n or p = 0 and k > 0)."""
    k, n, p = (np.atleast_1d(np.asarray(x)) for x in (k, n, p))
    k, n, p = np.broadcast_arrays(k.astype(np.int64), n.astype(np.int64), p.astype(np.float64))
    out = np.ones(k.shape)
    lf = _log_factorials(int(n.max()) if n.size else 0)
    for i in np.ndindex(k.shape):
        ki, ni, pi = int(k[i]), int(n[i]), float(p[i])
        if ki <= 0:
            continue
        if ki > ni or pi <= 0.0:
            out[i] = 0.0
            continue
        if pi >= 1.0:
            continue
        j = np.arange(ki, ni + 1)
        logs = lf[ni] - lf[j] - lf[ni - j] + j * math.log(pi) + (ni - j) * math.log1p(-pi)
        m = logs.max()
        out[i] = min(1.0, math.exp(m) * float(np.exp(logs - m).sum()))
    return out


def poisson_upper(k, lam) -> np.ndarray:
    """P(X ≥ k) for X ~ Poisson(λ), element-wise (1 when k ≤ 0; 0 when λ = 0 and k > 0)."""
    k, lam = (np.atleast_1d(np.asarray(x)) for x in (k, lam))
    k, lam = np.broadcast_arrays(k.astype(np.int64), lam.astype(np.float64))
    out = np.ones(k.shape)
    for i in np.ndindex(k.shape):
        ki, li = int(k[i]), float(lam[i])
        if ki <= 0:
            continue
        if li <= 0.0:
            out[i] = 0.0
            continue
        hi = int(max(ki, li) + 12 * math.sqrt(max(ki, li)) + 60)     # terms beyond are below 1e-30 of the sum
        j = np.arange(ki, hi + 1)
        logs = -li + j * math.log(li) - _log_factorials(hi)[j]
        m = logs.max()
        out[i] = min(1.0, math.exp(m) * float(np.exp(logs - m).sum()))
    return out


def normal_upper(z) -> np.ndarray:
    """P(Z ≥ z) for a standard normal Z, element-wise."""
    z = np.atleast_1d(np.asarray(z, dtype=np.float64))
    return np.array([0.5 * math.erfc(v / math.sqrt(2)) for v in z.ravel()]).reshape(z.shape)


def benjamini_hochberg(p, m: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (step-up; monotone; capped at 1), in the input order.

    A test is declared at false discovery rate q when its adjusted value is at most q; over m tests, the
    expected share of false discoveries among the declared ones is then at most q (independent or positively
    dependent tests; Benjamini & Hochberg 1995). ``m``, when larger than the number of p-values given, counts
    hypotheses whose p-value was not computed because it could not be small (a count below the flagging
    minimum): they rank last with p = 1, and the family stays the whole family.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    m = max(p.size, m or 0)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, p.size + 1)
    adj = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(p.size)
    out[order] = np.minimum(adj, 1.0)
    return out
