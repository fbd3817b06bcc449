"""Linearization of the emulator: finite-difference Jacobians (Eq. 20) and a Gauss–Newton start.

CMA-ES needs about N ln(d0 / ε) · const evaluations to shrink its search distribution from a
start at distance d0 to a precision ε in N dimensions, and as many more to learn the shape of
the χ² valley (labels differ in sensitivity by orders of magnitude and Teff, logg, [Fe/H],
C, N, O are strongly correlated). :func:`gauss_newton_start` spends a few Jacobians to give
CMA-ES both: a mean close to the minimum and an initial covariance equal to the inverse of
the local Fisher matrix (Eq. 17), so CMA-ES starts on a nearly spherical problem a few σ from
the optimum. CMA-ES still does the optimization and decides convergence; with ``steps=0`` it
starts from the given labels with an isotropic distribution, as plain pycma.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from phdl.fit.spectra import chi2
from phdl.labels import N_LABELS, scale, unscale

if TYPE_CHECKING:
    from phdl.emulator.protocol import SpectralModel

#: Default finite-difference step, as a fraction of each label's training range
#: (label_max - label_min): 1e-2 = 42 K in Teff, 0.055 dex in logg, 0.035 dex for the widest
#: [X/Fe]. Emulators run in float32, whose flux rounding (~1e-7 to 1e-6) would dominate the
#: derivative of a weak line at much smaller steps; the truncation error of the central
#: difference is O(h²) and small over such steps.
FD_STEP = 1e-2
#: Width (scaled units) of the weak Gaussian term added to the Fisher matrix of the start only,
#: so that labels without sensitivity get no step and a finite initial spread.
START_PRIOR = 0.5


def _which(which: Sequence[int] | None) -> np.ndarray:
    return np.arange(N_LABELS) if which is None else np.asarray(which, dtype=int)


def normal_equations(
    jac: np.ndarray, ivar: np.ndarray, resid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """JᵀWJ (n, k, k) and JᵀW r (n, k) of the linearized χ² (Eq. 15, 17), W = diag(``ivar``),
    from Jacobians ``jac`` (n, k, n_pix) and residuals ``resid`` = flux − model (n, n_pix)."""
    return (
        np.einsum("nip,np,njp->nij", jac, ivar, jac),
        np.einsum("nip,np,np->ni", jac, ivar, resid),
    )


def fd_rows(labels: np.ndarray, which: np.ndarray, h: np.ndarray) -> np.ndarray:
    """(n·2k, 34) rows: for each star, labels + h_j e_j then labels - h_j e_j per label j."""
    n, k = len(labels), len(which)
    rows = np.repeat(labels[:, None, None, :], 2, axis=1).repeat(k, axis=2)  # (n, 2, k, 34)
    rows[:, 0, np.arange(k), which] += h[which]
    rows[:, 1, np.arange(k), which] -= h[which]
    return rows.reshape(n * 2 * k, N_LABELS)


def jacobian_fd(
    model: SpectralModel,
    labels: np.ndarray,
    step: float = FD_STEP,
    which: Sequence[int] | None = None,
    batch_stars: int = 32,
) -> np.ndarray:
    """∂flux/∂label by central differences (Eq. 20): (n, k, n_pix) in physical units (per K,
    per dex, per km/s), for the labels ``which`` (default all 34, in LABELS order).

    The step of label j is ``h_j = step · (label_max - label_min)_j`` (see :data:`FD_STEP`);
    2k spectra per star, ``batch_stars`` stars per ``model.predict`` call.
    """
    x = np.atleast_2d(np.asarray(labels, dtype=np.float64))
    if x.ndim != 2 or x.shape[1] != N_LABELS:
        raise ValueError(f"labels must have shape (n, {N_LABELS}), got {x.shape}")
    if not step > 0:
        raise ValueError(f"step must be > 0 (fraction of each label's range), got {step}")
    which = _which(which)
    h = step * (np.asarray(model.label_max, float) - np.asarray(model.label_min, float))
    k = len(which)
    out = []
    for b in range(0, len(x), batch_stars):
        xb = x[b : b + batch_stars]
        f = np.asarray(model.predict(fd_rows(xb, which, h)), dtype=np.float64)
        f = f.reshape(len(xb), 2, k, -1)
        out.append((f[:, 0] - f[:, 1]) / (2.0 * h[which][None, :, None]))
    return np.concatenate(out)


def gauss_newton_start(
    model: SpectralModel,
    flux: np.ndarray,
    ivar: np.ndarray,
    labels: np.ndarray,
    fit_idx: Sequence[int],
    steps: int = 2,
    step: float = FD_STEP,
    bounds: tuple[float, float] = (-0.2, 1.2),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Damped Gauss–Newton steps on the labels ``fit_idx`` from ``labels`` (m, 34) physical.

    ``flux``, ``ivar`` (m, n_pix) cleaned on the model's grid. Each step: one ``predict`` call
    for the centre and the finite-difference Jacobian (2k + 1 spectra per star), the step
    δ = (JᵀWJ + I/START_PRIOR²)⁻¹ JᵀW r in scaled units, and one call trying the fractions
    1, 1/2, 1/4 of it (kept only where χ² decreases; positions clipped to ``bounds``).
    Returns ``(labels (m, 34), cov (m, k, k) scaled units, evals (m,))``: the Fisher inverse
    from the last Jacobian, for CMA-ES's initial covariance.
    """
    fit_idx = np.asarray(fit_idx, dtype=int)
    lo = np.asarray(model.label_min, dtype=np.float64)
    hi = np.asarray(model.label_max, dtype=np.float64)
    h = step * (hi - lo)
    m, k = len(labels), len(fit_idx)
    x = np.array(labels, dtype=np.float64)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    prior = np.eye(k) / START_PRIOR**2
    evals = np.zeros(m, dtype=np.int64)
    for _ in range(steps):
        rows = np.concatenate([x, fd_rows(x, fit_idx, h)])
        f = np.asarray(model.predict(rows), dtype=np.float64)
        centre, fd = f[:m], f[m:].reshape(m, 2, k, -1)
        jac = (fd[:, 0] - fd[:, 1]) / 2.0 / step  # per scaled unit
        evals += 2 * k + 1
        hess, grad = normal_equations(jac, ivar, flux - centre)
        hess = hess + prior
        delta = np.linalg.solve(hess, grad[..., None])[..., 0]
        s0 = scale(x[:, fit_idx], lo[fit_idx], hi[fit_idx])
        fracs = (1.0, 0.5, 0.25)
        trial = np.repeat(x[None], len(fracs), 0)  # (3, m, 34)
        for t, a in enumerate(fracs):
            trial[t][:, fit_idx] = unscale(
                np.clip(s0 + a * delta, *bounds), lo[fit_idx], hi[fit_idx]
            )
        ft = np.asarray(model.predict(trial.reshape(-1, N_LABELS)), dtype=np.float64)
        chi = chi2(ft.reshape(len(fracs), m, -1), flux, ivar, reduced=False)  # (3, m)
        evals += len(fracs)
        best = np.argmin(chi, axis=0)
        better = chi[best, np.arange(m)] < chi2(centre, flux, ivar, reduced=False)
        x[better] = trial[best[better], np.flatnonzero(better)]
    cov = np.linalg.inv(hess)
    return x, 0.5 * (cov + np.swapaxes(cov, 1, 2)), evals
