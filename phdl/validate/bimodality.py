"""Figure 15's two discs: is [X/Fe] at fixed [Fe/H] one population or two (high- and low-α)?

:func:`gaussian_mixture` fits a 1-D Gaussian mixture by expectation–maximisation (numpy only).
It starts from the data's quantiles (component k's mean at quantile (k + ½)/K) and, for
``n_init`` > 1, also from means drawn among the data with ``numpy.random.default_rng(seed)``,
and keeps the fit of highest likelihood, so the same input and seed give the same answer.
Each variance is floored at 10⁻⁶ of the data's variance (and 10⁻¹² in the data's unit²), so a
component cannot collapse onto a single star; ``sigma_min`` raises the floor to a width the data
can resolve (e.g. the median measurement error: on a hundred stars, a component narrower than
that is a few stars that happen to agree, not a population).

:func:`alpha_bimodality` fits one and two components to [X/Fe] in each [Fe/H] bin and reports
the Ashman D (two components are well separated for D > 2) and ΔBIC = BIC(1) − BIC(2)
(positive favours two). :func:`true_fractions` is the sky's answer: the fraction of its
high-α population per bin. Bins are half-open, lo ≤ [Fe/H] < hi, as in
:func:`phdl.sky.score.binned_medians`. [Fe/H] and [X/Fe] are in dex.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.table import Table

__all__ = ["ALPHA_FEH_EDGES", "Mixture", "alpha_bimodality", "gaussian_mixture", "true_fractions"]

#: Chapter 9's [Fe/H] bins (dex) for the α bimodality: the thick disc's metal-poor end to the
#: metal-rich thin disc, above the metal-poor scatter (:data:`phdl.paper.CATALOG_METAL_POOR_FEH`).
ALPHA_FEH_EDGES: tuple[float, ...] = (-1.0, -0.5, -0.2, 0.1, 0.5)


@dataclass(frozen=True)
class Mixture:
    """A 1-D Gaussian mixture, components sorted by mean (units of the data)."""

    weights: np.ndarray
    means: np.ndarray
    sigmas: np.ndarray
    loglike: float  #: ln L of the data
    bic: float  #: (3K − 1) ln n − 2 ln L
    converged: bool


def _log_components(x, weights, means, variances) -> np.ndarray:
    """(n, K) ln(w_k N(x_i | μ_k, σ_k²))."""
    d2 = (x[:, None] - means[None, :]) ** 2
    return np.log(weights) - 0.5 * (np.log(2 * np.pi * variances) + d2 / variances)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=1, keepdims=True)))[:, 0]


def _em(x, means, floor, max_iter, tol):
    """(weights, means, variances, ln L, converged) of EM from the starting ``means``."""
    k = means.size
    weights, variances = np.full(k, 1.0 / k), np.full(k, max(np.var(x) / k**2, floor))
    loglike, converged = -np.inf, False
    for _ in range(max_iter):
        logp = _log_components(x, weights, means, variances)
        norm = _logsumexp(logp)
        new = float(norm.sum())
        resp = np.exp(logp - norm[:, None])
        nk = np.maximum(resp.sum(axis=0), 1e-12)
        weights, means = nk / x.size, (resp * x[:, None]).sum(axis=0) / nk
        variances = np.maximum((resp * (x[:, None] - means) ** 2).sum(axis=0) / nk, floor)
        if abs(new - loglike) <= tol * max(abs(new), 1.0):
            converged = True
            break
        loglike = new
    loglike = float(_logsumexp(_log_components(x, weights, means, variances)).sum())
    return weights, means, variances, loglike, converged


def _starts(x, k, seed, n_init) -> list[np.ndarray]:
    starts = [np.quantile(x, (np.arange(k) + 0.5) / k)]
    rng = np.random.default_rng(seed)
    starts += [np.sort(rng.choice(x, size=k, replace=False)) for _ in range(n_init - 1)]
    return starts


def gaussian_mixture(
    x: np.ndarray,
    n_components: int = 2,
    *,
    seed: int = 0,
    max_iter: int = 500,
    tol: float = 1e-8,
    n_init: int = 4,
    sigma_min: float = 0.0,
) -> Mixture:
    """The maximum-likelihood mixture of ``n_components`` Gaussians to the finite values of
    ``x`` (module docstring). Converged means the relative change of ln L fell below ``tol``
    within ``max_iter`` EM steps. ValueError for fewer than 3 × ``n_components`` finite values.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if n_components < 1 or x.size < 3 * n_components:
        raise ValueError(
            f"gaussian_mixture: {n_components} component(s) need at least "
            f"{3 * max(n_components, 1)} finite values, got {x.size}"
        )
    floor = max(1e-6 * np.var(x), 1e-12, float(sigma_min) ** 2)
    fits = [_em(x, m, floor, max_iter, tol) for m in _starts(x, n_components, seed, n_init)]
    weights, means, variances, loglike, converged = max(fits, key=lambda f: f[3])
    order = np.argsort(means)
    bic = (3 * n_components - 1) * np.log(x.size) - 2 * loglike
    return Mixture(weights[order], means[order], np.sqrt(variances[order]), loglike,
                   float(bic), converged)  # fmt: skip


def _bins(feh: np.ndarray, feh_bins) -> tuple[np.ndarray, np.ndarray]:
    """(bin index of each star, −1 or len−1 outside; the edges) for half-open bins."""
    edges = np.asarray(feh_bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("feh_bins must be at least two increasing [Fe/H] edges (dex)")
    return np.digitize(np.asarray(feh, dtype=float), edges) - 1, edges


_COLUMNS = ("feh_lo", "feh_hi", "n", "w_high", "mu_low", "mu_high", "sigma_low", "sigma_high",
            "ashman_d", "delta_bic")  # fmt: skip


def _bin_row(x: np.ndarray, seed: int, sigma_min: float) -> tuple[float, ...]:
    two = gaussian_mixture(x, 2, seed=seed, sigma_min=sigma_min)
    one = gaussian_mixture(x, 1, seed=seed, sigma_min=sigma_min)
    (m1, m2), (s1, s2) = two.means, two.sigmas
    d = abs(m2 - m1) / np.sqrt((s1**2 + s2**2) / 2)
    return (two.weights[1], m1, m2, s1, s2, d, one.bic - two.bic)


def alpha_bimodality(
    feh, xfe, feh_bins, *, seed: int = 0, min_stars: int = 30, sigma_min: float = 0.0
) -> Table:
    """Per [Fe/H] bin: ``feh_lo``, ``feh_hi``, ``n`` (stars with both finite), ``w_high`` (weight
    of the higher-mean component), ``mu_low``, ``mu_high``, ``sigma_low``, ``sigma_high`` (dex),
    ``ashman_d`` = |μ2 − μ1| / sqrt((σ1² + σ2²)/2), ``delta_bic`` = BIC(1) − BIC(2) (positive
    favours two components). Bins with fewer than ``min_stars`` stars get NaN (and their n).
    ``sigma_min`` (dex): the narrowest component allowed (:func:`gaussian_mixture`)."""
    feh, xfe = np.asarray(feh, dtype=float), np.asarray(xfe, dtype=float)
    if feh.shape != xfe.shape:
        raise ValueError(f"feh and xfe differ in shape: {feh.shape} vs {xfe.shape}")
    which, edges = _bins(feh, feh_bins)
    ok = np.isfinite(feh) & np.isfinite(xfe)
    rows = []
    for b in range(edges.size - 1):
        sel = ok & (which == b)
        n = int(sel.sum())
        fit = _bin_row(xfe[sel], seed, sigma_min) if n >= max(min_stars, 6) else (np.nan,) * 7
        rows.append((edges[b], edges[b + 1], n, *fit))
    return Table(rows=rows, names=_COLUMNS)


def true_fractions(feh, population, feh_bins, high: str = "high-alpha") -> np.ndarray:
    """Per [Fe/H] bin, the fraction of stars whose ``population`` is ``high`` (the sky's truth
    tables name "low-alpha", "high-alpha", "halo"); NaN for an empty bin."""
    population = np.asarray(population).astype(str)
    which, edges = _bins(feh, feh_bins)
    if population.shape != which.shape:
        raise ValueError(f"feh and population differ in shape: {which.shape} vs {population.shape}")
    out = np.full(edges.size - 1, np.nan)
    for b in range(edges.size - 1):
        sel = which == b
        if sel.any():
            out[b] = np.mean(population[sel] == high)
    return out
