"""§4.2.1, Eq. 27-28, Table 2: the Teff trend of [X/Fe] from wide binaries, fitted with emcee.

The two stars of a wide binary share one composition, so their measured difference is the
difference of the Teff term of the systematic error (Eq. 26-28):

    f(T) = a T³ + b T² + c T                                      (Eq. 27; T = Teff / 1000 K)
    Δ[X/Fe] = f(T1) − f(T2) = a(T1³−T2³) + b(T1²−T2²) + c(T1−T2)   (Eq. 28)

Eq. 27 has no constant; the constant is absorbed by the zero point d (Eq. 26). f itself is
pinned by f(0) = 0, which pairs between 4500 and 7000 K constrain only by extrapolation: its
shape (f(T) − f(T0)) is well measured, its value at one Teff is not (Table 2's caveat).

The fit: Gaussian likelihood with the given errors on Δ, scaled up (``scale_errors``, default)
by √χ²_r of the weighted least-squares fit when χ²_r > 1, as Eq. 21 scales a star's errors:
the formal errors of a fit miss the emulator's own errors, which the pairs' scatter shows
(the factor is kept as ``error_scale``); a flat prior in the box ``bounds``
(:data:`PRIOR_BOUNDS`, generous: Table 2's largest coefficients are 0.34, 5.5 and 30); emcee's
affine-invariant ensemble (``nwalkers`` walkers) started in a small Gaussian ball around the
weighted least-squares solution (shaped by its covariance, σ 1 % of its errors); the first
``burn`` steps discarded. The chain counts as converged when the steps kept exceed 50 integrated
autocorrelation times (the largest of the three, ``get_autocorr_time(tol=0)``). Deterministic
under ``seed``: emcee draws from a ``RandomState`` set by passing a :class:`emcee.State` with
``random_state`` (emcee's documented replacement for ``rstate0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import emcee
import numpy as np

from phdl.paper import BINARY_TEFF_RANGE, TREND_TEFF_UNIT, TWIN_TEFF_RANGE

#: The Teff (K) at which the Teff step is zero: the middle of the solar twins' range, where the
#: zero points are measured (:meth:`TeffTrend.shape`).
REFERENCE_TEFF: float = 0.5 * (TWIN_TEFF_RANGE[0] + TWIN_TEFF_RANGE[1])

#: Flat prior box of (a, b, c), dex per kK³, kK², kK.
PRIOR_BOUNDS: tuple[tuple[float, float], ...] = ((-10.0, 10.0), (-200.0, 200.0), (-2000.0, 2000.0))
#: Steps kept must exceed this many autocorrelation times for ``converged``.
TAU_FACTOR: float = 50.0


def powers(teff: np.ndarray) -> np.ndarray:
    """(T³, T², T) of Eq. 27 with T = Teff / TREND_TEFF_UNIT; shape (..., 3); teff in K."""
    t = np.asarray(teff, dtype=float) / TREND_TEFF_UNIT
    return np.stack([t**3, t**2, t], axis=-1)


def design(teff1: np.ndarray, teff2: np.ndarray) -> np.ndarray:
    """The (n, 3) design matrix of Eq. 28: (T1³−T2³, T1²−T2², T1−T2)."""
    return powers(teff1) - powers(teff2)


class DegeneratePairs(ValueError):
    """The pairs' temperatures cannot separate a, b and c of Eq. 28 (e.g. every pair's two stars
    at one temperature, as when a poor fit pins them at a bound)."""


@dataclass(eq=False)
class TeffTrend:
    """f(Teff) of Eq. 27: ``a, b, c`` (posterior medians, dex per kK³, kK², kK), ``p16, p84``
    (posterior percentiles of (a, b, c)), ``cov`` (posterior covariance, 3×3), and the chain's
    diagnostics: ``tau`` (integrated autocorrelation times, steps), ``converged``, ``acceptance``
    (mean acceptance fraction), ``nwalkers, nsteps, burn, n_pairs, seed``. ``samples``: the kept
    posterior samples (n, 3), in memory only (not saved)."""

    a: float
    b: float
    c: float
    p16: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    p84: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    cov: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))
    tau: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    converged: bool = False
    acceptance: float = float("nan")
    nwalkers: int = 0
    nsteps: int = 0
    burn: int = 0
    n_pairs: int = 0
    seed: int = 0
    teff_range: tuple[float, float] = BINARY_TEFF_RANGE
    error_scale: float = 1.0
    samples: np.ndarray | None = field(default=None, repr=False)

    @property
    def coefficients(self) -> np.ndarray:
        """(a, b, c)."""
        return np.array([self.a, self.b, self.c])

    @property
    def errors(self) -> np.ndarray:
        """Half the 16-84 % posterior interval of (a, b, c)."""
        return (np.asarray(self.p84) - np.asarray(self.p16)) / 2

    a_err = property(lambda self: float(self.errors[0]), doc="Half the 16-84 % interval of a.")
    b_err = property(lambda self: float(self.errors[1]), doc="Half the 16-84 % interval of b.")
    c_err = property(lambda self: float(self.errors[2]), doc="Half the 16-84 % interval of c.")

    def __call__(self, teff: np.ndarray | float) -> np.ndarray:
        """f(Teff) = a T³ + b T² + c T in dex, Teff in K (Eq. 27), with Teff clipped into
        ``teff_range`` (the binaries' range, default the paper's 4500-7000 K cut): a cubic
        fitted there is not extrapolated, as the §4.1 splines are not."""
        return powers(np.clip(teff, *self.teff_range)) @ self.coefficients

    def shape(self, teff: np.ndarray | float, ref_teff: float = REFERENCE_TEFF) -> np.ndarray:
        """f(Teff) − f(ref_teff) in dex: the Teff step as applied (:mod:`~phdl.calibrate.
        correct`), zero at the solar twins' Teff; the constant is left to the zero point."""
        return self(teff) - self(ref_teff)

    def sigma(self, teff: np.ndarray | float, ref_teff: float | None = None) -> np.ndarray:
        """Posterior σ (dex) of f(Teff), or of f(Teff) − f(ref_teff) (the well measured shape),
        from the posterior covariance."""
        g = powers(teff) - (0.0 if ref_teff is None else powers(ref_teff))
        return np.sqrt(np.einsum("...i,ij,...j->...", g, self.cov, g))

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, for JSON (without ``samples``)."""
        return {
            "a": float(self.a), "b": float(self.b), "c": float(self.c),
            "p16": [float(v) for v in self.p16], "p84": [float(v) for v in self.p84],
            "cov": np.asarray(self.cov, dtype=float).tolist(),
            "tau": [float(v) for v in self.tau], "converged": bool(self.converged),
            "acceptance": float(self.acceptance), "nwalkers": int(self.nwalkers),
            "nsteps": int(self.nsteps), "burn": int(self.burn), "n_pairs": int(self.n_pairs),
            "seed": int(self.seed), "teff_range": [float(v) for v in self.teff_range],
            "error_scale": float(self.error_scale),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TeffTrend:
        """The inverse of :meth:`to_dict`."""
        arrays = {k: np.asarray(d[k], dtype=float) for k in ("p16", "p84", "cov", "tau")}
        extra = {"teff_range": tuple(d.get("teff_range", BINARY_TEFF_RANGE))}
        return cls(**{**d, **arrays, **extra})


def _check(name: str, x: Any, n: int | None) -> np.ndarray:
    """``x`` as a finite 1-D float array of length n; ValueError naming the argument if not."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {x.shape}")
    if n is not None and x.size != n:
        raise ValueError(f"{name} has {x.size} values, teff1 has {n}: one per binary expected")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} has {int(np.sum(~np.isfinite(x)))} non-finite values")
    return x


def _least_squares(x: np.ndarray, delta: np.ndarray, err: np.ndarray) -> tuple[np.ndarray, Any]:
    """Weighted least-squares (a, b, c) of Eq. 28 and its covariance."""
    w = 1.0 / err**2
    normal = x.T @ (w[:, None] * x)
    try:
        cov = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        raise DegeneratePairs(
            "teff1, teff2: the pairs' temperatures cannot separate a, b and c "
            "(too few distinct pairs)"
        ) from None
    return cov @ (x.T @ (w * delta)), cov


def _log_prob(
    theta: np.ndarray,
    x: np.ndarray,
    delta: np.ndarray,
    err: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """Log posterior of walkers ``theta`` (nw, 3): Gaussian likelihood of Eq. 28, flat box."""
    chi2 = np.sum(((delta[:, None] - x @ theta.T) / err[:, None]) ** 2, axis=0)
    inside = np.all((theta > lo) & (theta < hi), axis=1)
    return np.where(inside, -0.5 * chi2, -np.inf)


def fit_teff_trend(
    teff1: Any,
    teff2: Any,
    delta: Any,
    delta_err: Any,
    seed: int = 0,
    *,
    nwalkers: int = 32,
    nsteps: int = 3000,
    burn: int = 500,
    bounds: tuple[tuple[float, float], ...] = PRIOR_BOUNDS,
    scale_errors: bool = True,
) -> TeffTrend:
    """Fit Eq. 28 to wide binaries: Teff of the two stars (K), Δ[X/Fe] = star 1 − star 2 (dex)
    and its error (dex, > 0). See the module docstring for the error scaling, priors, start and
    convergence."""
    teff1 = _check("teff1", teff1, None)
    teff2, delta = _check("teff2", teff2, teff1.size), _check("delta", delta, teff1.size)
    delta_err = _check("delta_err", delta_err, teff1.size)
    if np.any(delta_err <= 0):
        raise ValueError(
            f"delta_err has {int(np.sum(delta_err <= 0))} values <= 0; errors must be > 0"
        )
    if teff1.size < 3:
        raise ValueError(f"teff1: {teff1.size} binaries cannot constrain three coefficients")
    if not 0 <= burn < nsteps:
        raise ValueError(f"burn must be in [0, nsteps={nsteps}), got {burn}")
    x = design(teff1, teff2)
    lo, hi = np.array(bounds, dtype=float).T
    start, cov = _least_squares(x, delta, delta_err)
    scale = 1.0
    if scale_errors and teff1.size > 3:
        chi2_r = float(np.sum(((delta - x @ start) / delta_err) ** 2)) / (teff1.size - 3)
        scale = max(1.0, float(np.sqrt(chi2_r)))
        delta_err, cov = delta_err * scale, cov * scale**2
    if np.any(start <= lo) or np.any(start >= hi):
        raise ValueError(
            f"the least-squares (a, b, c) = {start} lies outside the prior box {bounds}"
        )
    rng = np.random.default_rng(seed)
    ball = rng.multivariate_normal(start, 1e-4 * cov, size=nwalkers, method="cholesky")
    ball = np.clip(ball, lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
    sampler = emcee.EnsembleSampler(
        nwalkers, 3, _log_prob, args=(x, delta, delta_err, lo, hi), vectorize=True
    )
    state = emcee.State(ball, random_state=np.random.RandomState(seed).get_state())
    sampler.run_mcmc(state, nsteps, progress=False)
    trend = _summary(sampler, burn, nsteps, teff1.size, seed)
    trend.error_scale = scale
    return trend


def _summary(
    sampler: emcee.EnsembleSampler, burn: int, nsteps: int, n: int, seed: int
) -> TeffTrend:
    """The :class:`TeffTrend` of a finished chain."""
    flat = sampler.get_chain(discard=burn, flat=True)
    tau = np.asarray(sampler.get_autocorr_time(discard=burn, tol=0))
    p16, p50, p84 = np.percentile(flat, [16, 50, 84], axis=0)
    return TeffTrend(
        *map(float, p50), p16=p16, p84=p84, cov=np.cov(flat.T), tau=tau,
        converged=bool((nsteps - burn) > TAU_FACTOR * np.max(tau)),
        acceptance=float(np.mean(sampler.acceptance_fraction)), nwalkers=sampler.nwalkers,
        nsteps=nsteps, burn=burn, n_pairs=n, seed=seed, samples=flat,
    )  # fmt: skip
