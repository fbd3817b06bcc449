"""The quality flags of Section 2.3 at catalogue cost: scan in full only where a cheap test says
the scan could find something other than the fit's own minimum.

The paper's flags (:func:`phdl.uncertainty.flags`) scan χ² at 50 points along each fitted label,
the others held at the fit: 28 × 50 = 1,400 model spectra per star, more than the fast fit
itself. Most of those spectra only confirm that the scan's minimum is the fit's own, which the
fit's Jacobian already locates. :func:`screened_flags` therefore, per star and label:

1. takes the 1-D minimum near the fit from its Jacobian J (the one the errors use): one Newton
   step along the label, value + Σ w J r / Σ w J², r = flux − model at the fit;
2. scans χ² at :data:`N_COARSE` = 8 points over the training range, every 7th point of the
   paper's 50 (so the ends and the coarse shape are the paper's own), with the model itself
   or, given a ``screen_model`` (the cheap Payne MLP of the same grid), with that model;
3. evaluates the paper's scan finely only where the coarse scan's lowest point is not one of
   the two that bracket the fitted value, is at an end of the range, or the fitted value is
   less than one coarse step from an end (there the local minimum may lie on the edge), and there
   only at the :data:`WINDOW` = 15 of its 50 points within one coarse step of the coarse
   minimum (:func:`window_scan`: the paper's scan wherever its lowest point lies there);
4. sets the four bits exactly as the paper's flags do (:func:`phdl.uncertainty.flag_bits`),
   with the scan minimum from step 3 where it ran, else from step 1 (F2 is then clear: the
   minimum is interior).

Cost on the model: 8 (0 with a screen model) + (15 where scanned finely) spectra per label,
plus one spectrum per star. BENCHMARKS.md gives the measured agreement with the paper's flags
and the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from phdl.fit.spectra import clean
from phdl.labels import index, scale, unscale
from phdl.uncertainty import N_SCAN, chi2_along, chi2_scan, flag_bits, scan_minimum

if TYPE_CHECKING:
    from phdl.emulator.protocol import SpectralModel

#: Points of the coarse scan: every 7th of the paper's 50 (0, 7, …, 49).
N_COARSE = 8
#: Points of the paper's scan evaluated around the coarse minimum: ±1 coarse step.
WINDOW = 15


def local_minimum(
    model_flux: np.ndarray, flux: np.ndarray, ivar: np.ndarray, best: np.ndarray,
    jacobian: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """The 1-D χ² minimum near the fit along each label (n, k) physical: ``best`` (n, k) plus
    the Newton step Σ w J r / Σ w J² (``jacobian`` (n, k, n_pix) per physical unit, r = flux −
    ``model_flux``); a label without sensitivity (Σ w J² = 0) stays at ``best``."""
    resid = flux - model_flux
    grad = np.einsum("nkp,np,np->nk", jacobian, ivar, resid)
    curv = np.einsum("nkp,np,nkp->nk", jacobian, ivar, jacobian)
    step = np.divide(grad, curv, out=np.zeros_like(grad), where=curv > 0)
    return best + step


def needs_full_scan(coarse_chi2: np.ndarray, s_best: np.ndarray) -> np.ndarray:
    """(n,) bool: whether the paper's full scan must run, from the coarse scan's reduced χ²
    (n, :data:`N_COARSE`) and the fitted value in scaled units ``s_best`` (n,) (module
    docstring, step 3)."""
    k = coarse_chi2.shape[1] - 1
    low = np.argmin(np.where(np.isfinite(coarse_chi2), coarse_chi2, np.inf), axis=1)
    pos = np.clip(s_best, 0.0, 1.0) * k
    bracket = (low == np.floor(pos)) | (low == np.ceil(pos))
    at_end = (low == 0) | (low == k)
    near_end = (pos < 1.0) | (pos > k - 1.0)
    return ~bracket | at_end | near_end


def window_scan(
    model: SpectralModel, flux, ivar, best, label: str, centre: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's 50-point scan of ``label`` restricted to :data:`WINDOW` consecutive points
    around the coarse point ``centre`` (n,) (index 0 … N_COARSE-1), per star: the scan's
    ``(value (n,), on_edge (n,))`` as :func:`phdl.uncertainty.scan_minimum` gives them for the
    whole scan whenever its lowest point lies in the window (on_edge: at point 0 or 49)."""
    j = index(label)
    step = (N_SCAN - 1) // (N_COARSE - 1)
    first = np.clip(np.asarray(centre) * step - step, 0, N_SCAN - WINDOW)
    idx = first[:, None] + np.arange(WINDOW)  # (n, WINDOW) fine indices
    lo, hi = float(model.label_min[j]), float(model.label_max[j])
    values = unscale(idx / (N_SCAN - 1), lo, hi)
    chi = chi2_along(model, flux, ivar, np.asarray(best, dtype=np.float64), j, values,
                     batch_stars=len(best) or 1)  # fmt: skip
    ref, _ = scan_minimum(values, chi)
    low = idx[np.arange(len(best)), np.argmin(np.where(np.isfinite(chi), chi, np.inf), axis=1)]
    return ref, (low == 0) | (low == N_SCAN - 1)


def screened_flags(
    model: SpectralModel,
    flux: np.ndarray,
    ivar: np.ndarray,
    best_labels: np.ndarray,
    errors: np.ndarray,
    jacobian: np.ndarray,
    labels_fitted: Sequence[str],
    screen_model: SpectralModel | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The four-bit flags (n, k) of :func:`phdl.uncertainty.flags`, scanning finely only where
    needed (module docstring), and which (star, label) pairs were (n, k) bool.

    ``flux``, ``ivar`` (n, n_pix) on the model's grid; ``best_labels`` (n, 34) physical;
    ``errors`` (n, k) physical σ; ``jacobian`` (n, k, n_pix) ∂flux/∂label per physical unit at
    the fit, for the labels ``labels_fitted`` (k). ``screen_model``: a cheap model of the same
    grid (the Payne MLP) for the coarse scans, instead of ``model``.
    """
    f, w = clean(np.atleast_2d(flux), np.atleast_2d(ivar))
    best = np.atleast_2d(np.asarray(best_labels, dtype=np.float64))
    names = list(labels_fitted)
    cols = [index(n) for n in names]
    lo = np.asarray(model.label_min, dtype=np.float64)[cols]
    hi = np.asarray(model.label_max, dtype=np.float64)[cols]
    model_flux = np.asarray(model.predict(best), dtype=np.float64)
    local = np.clip(local_minimum(model_flux, f, w, best[:, cols], jacobian), lo, hi)
    out = np.zeros((len(best), len(names)), dtype=np.int64)
    fine = np.zeros_like(out, dtype=bool)
    coarse_model = model if screen_model is None else screen_model
    for c, name in enumerate(names):
        _, coarse = chi2_scan(coarse_model, f, w, best, name, N_COARSE)
        s = scale(best[:, cols[c]], lo[c], hi[c])
        fine[:, c] = needs_full_scan(coarse, s)
        ref, edge = local[:, c].copy(), np.zeros(len(best), dtype=bool)
        rows = np.flatnonzero(fine[:, c])
        if len(rows):
            centre = np.argmin(np.where(np.isfinite(coarse[rows]), coarse[rows], np.inf), axis=1)
            ref[rows], edge[rows] = window_scan(model, f[rows], w[rows], best[rows], name, centre)
        out[:, c] = flag_bits(name, s, edge, np.abs(best[:, cols[c]] - ref), errors[:, c])
    return out, fine
