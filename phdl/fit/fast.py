"""The fast strategy: Levenberg–Marquardt on the model's own Jacobian, batched over stars.

CMA-ES (:mod:`phdl.fit.cmaes`) spends hundreds of model spectra per star to find a minimum that,
for a smooth emulator started close to it, a few Newton steps reach. :func:`levenberg_marquardt`
takes those steps for all the stars of a batch at once, in the scaled labels of Eq. 25:

- each iteration evaluates, for every star still running, the flux and its Jacobian at the
  current point in one call (the emulator's forward-mode autodiff,
  :meth:`phdl.emulator.Emulator.predict_and_jacobian`; a model without it gives ``predict`` and
  ``jacobian``), and solves

      (JᵀWJ + μ diag(JᵀWJ) + I / PRIOR²) δ = JᵀW (flux - model),

  W = diag(ivar): the Gauss–Newton step of Eq. 15's χ², damped by Marquardt's μ; the small
  ``I / PRIOR²`` keeps labels without sensitivity in place;
- the trial point ``clip(x + δ, BOUNDS)`` costs one spectrum; it is kept if its χ² is lower
  (μ shrinks 3×, a new Jacobian is needed) or refused (μ grows 4×, the same Jacobian is reused);
- a star stops when a kept step lowers its total χ² by less than ``tol`` (times its reduced
  χ² where that exceeds 1, as CMA-ES's ``tolchi2``, Eq. 21): ``converged``; when μ exceeds
  :data:`MU_MAX` (no step along the Jacobian lowers χ²: also a minimum, to the float32
  precision of the model): ``stalled``; or after ``max_iter`` iterations: ``maxiter``.

``n_eval`` counts spectra: each Jacobian call as k + 1 (its k tangents cost about one spectrum
each), each trial as 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from phdl.fit.cmaes import BOUNDS
from phdl.fit.linear import normal_equations
from phdl.fit.spectra import chi2
from phdl.labels import scale, unscale

if TYPE_CHECKING:
    from phdl.emulator.protocol import SpectralModel

#: Initial Marquardt damping μ (a fraction of the curvature JᵀWJ's diagonal).
MU0 = 1e-2
#: μ above which a star is "stalled": no damped step lowers its χ².
MU_MAX = 1e6
#: Width (scaled units) of the weak term I / PRIOR² added to JᵀWJ.
PRIOR = 1.0
#: Iterations (kept or refused steps) per star: without a start model, ...
LM_ITER = 30
#: ... and on the emulator after a start model's fit (chosen on training stars: BENCHMARKS.md).
LM_ITER_AFTER_START = 2


@dataclass
class LMResult:
    """Per star: ``labels`` (m, 34) physical, reduced ``chisq`` (m,), iterations ``n_iter``,
    model spectra ``n_eval`` (Jacobians as k + 1), ``stop`` ("converged", "stalled",
    "maxiter")."""

    labels: np.ndarray
    chisq: np.ndarray
    n_iter: np.ndarray
    n_eval: np.ndarray
    stop: list[str]


def predict_and_jacobian(
    model: SpectralModel, labels: np.ndarray, which: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """float64 flux (n, n_pix) and ∂flux/∂label (n, k, n_pix) per physical unit for the label
    columns ``which``: the model's ``predict_and_jacobian`` if it has one (one pass), else its
    ``predict`` and ``jacobian``."""
    which = np.asarray(which, dtype=int)
    if hasattr(model, "predict_and_jacobian"):
        f, jac = model.predict_and_jacobian(labels, which)
    else:
        f, jac = model.predict(labels), np.asarray(model.jacobian(labels))[:, which]
    return np.asarray(f, dtype=np.float64), np.asarray(jac, dtype=np.float64)


def lm_step(jac: np.ndarray, ivar: np.ndarray, resid: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """The damped Gauss–Newton step δ (m, k) (module docstring) from the Jacobian ``jac``
    (m, k, n_pix) in scaled units, ``ivar`` and ``resid`` = flux - model (m, n_pix), ``mu``
    (m,)."""
    hess, grad = normal_equations(jac, ivar, resid)
    diag = np.diagonal(hess, axis1=1, axis2=2)
    k = hess.shape[1]
    hess = hess + (mu[:, None] * diag)[:, :, None] * np.eye(k) + np.eye(k) / PRIOR**2
    return np.linalg.solve(hess, grad[..., None])[..., 0]


class _LM:
    """The state of m stars' Levenberg–Marquardt fits of the labels ``fit_idx``."""

    def __init__(self, model: SpectralModel, flux, ivar, start, fit_idx, tol: float):
        self.model, self.flux, self.ivar = model, flux, ivar
        self.labels = np.array(start, dtype=np.float64)
        self.fit_idx = np.asarray(fit_idx, dtype=int)
        lo = np.asarray(model.label_min, dtype=np.float64)
        hi = np.asarray(model.label_max, dtype=np.float64)
        self.lo, self.hi = lo[self.fit_idx], hi[self.fit_idx]
        eps = 1e-6 * (BOUNDS[1] - BOUNDS[0])
        x = scale(self.labels[:, self.fit_idx], self.lo, self.hi)
        self.labels[:, self.fit_idx] = unscale(
            np.clip(x, BOUNDS[0] + eps, BOUNDS[1] - eps), self.lo, self.hi
        )
        m = len(flux)
        self.n_good = np.maximum((ivar > 0).sum(1), 1)
        self.tol = tol
        self.mu = np.full(m, MU0)
        self.chi = np.full(m, np.inf)  # total χ² at the current labels
        self.model_flux = np.zeros_like(flux)
        self.jac = np.zeros((m, len(self.fit_idx), flux.shape[1]))
        self.n_iter = np.zeros(m, dtype=np.int64)
        self.n_eval = np.zeros(m, dtype=np.int64)
        self.stop = [""] * m

    def linearize(self, stars: np.ndarray) -> None:
        """Flux, χ² and the Jacobian (scaled units) at the current labels of ``stars``."""
        if len(stars) == 0:
            return
        f, jac = predict_and_jacobian(self.model, self.labels[stars], self.fit_idx)
        self.model_flux[stars] = f
        self.jac[stars] = jac * (self.hi - self.lo)[None, :, None]
        self.chi[stars] = chi2(f, self.flux[stars], self.ivar[stars], reduced=False)
        self.n_eval[stars] += len(self.fit_idx) + 1

    def iterate(self, stars: np.ndarray) -> np.ndarray:
        """One trial step for each of ``stars``; returns those whose step was kept and who go
        on (they need a new Jacobian). Sets ``stop`` of those that end."""
        resid = self.flux[stars] - self.model_flux[stars]
        delta = lm_step(self.jac[stars], self.ivar[stars], resid, self.mu[stars])
        x = scale(self.labels[stars][:, self.fit_idx], self.lo, self.hi)
        trial = self.labels[stars].copy()
        trial[:, self.fit_idx] = unscale(np.clip(x + delta, *BOUNDS), self.lo, self.hi)
        chi_t = chi2(self.model.predict(trial), self.flux[stars], self.ivar[stars], reduced=False)
        self.n_eval[stars] += 1
        self.n_iter[stars] += 1
        gain = self.chi[stars] - chi_t
        kept = gain > 0
        reduced = np.minimum(self.chi[stars], chi_t) / self.n_good[stars]
        flat = gain < self.tol * np.maximum(1.0, reduced)
        self.labels[stars[kept]] = trial[kept]
        self.chi[stars[kept]] = chi_t[kept]
        self.mu[stars] = np.where(kept, self.mu[stars] / 3.0, self.mu[stars] * 4.0)
        for i in stars[kept & flat]:
            self.stop[i] = "converged"
        for i in stars[~kept & (self.mu[stars] > MU_MAX)]:
            self.stop[i] = "stalled"
        return stars[kept & ~flat]


def levenberg_marquardt(
    model: SpectralModel,
    flux: np.ndarray,
    ivar: np.ndarray,
    start: np.ndarray,
    fit_idx: Sequence[int],
    *,
    tol: float = 1.0,
    max_iter: int = LM_ITER,
) -> LMResult:
    """Fit the labels ``fit_idx`` of m stars together from ``start`` (m, 34) physical (the
    others held there), by Levenberg–Marquardt on the model's Jacobian (module docstring).

    ``flux``, ``ivar`` (m, n_pix) cleaned on the model's grid; ``tol`` the total-χ² gain below
    which a kept step ends a star's fit (scaled by its reduced χ² where that exceeds 1);
    ``max_iter`` steps per star.
    """
    lm = _LM(model, flux, ivar, start, fit_idx, tol)
    stars = np.arange(len(flux))
    lm.linearize(stars)
    running = stars
    for _ in range(max_iter):
        if len(running) == 0:
            break
        moved = lm.iterate(running)
        lm.linearize(moved)
        running = np.array([i for i in running if not lm.stop[i]], dtype=int)
    for i in running:
        lm.stop[i] = "maxiter"
    return LMResult(lm.labels, lm.chi / lm.n_good, lm.n_iter, lm.n_eval, lm.stop)
