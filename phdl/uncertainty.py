"""Label uncertainties (Section 2.2.2, Eq. 16–21) and quality flags from χ² scans (Section 2.3).

Conventions: ``model`` is a :class:`~phdl.emulator.SpectralModel`; labels physical (K, dex,
km/s); Jacobians ∂flux/∂label (n, 34, n_pix) per physical unit; ``ivar`` = 1/σ² per pixel (0,
or a non-finite flux or ivar, masks a pixel, which then drops out of every sum). The "fitted
labels" default to the 28 of Group I + Group II in :data:`phdl.labels.LABELS` order
(:data:`phdl.fit.FITTED`).

Choices where the paper is silent or garbled (documented here, used everywhere):

- Jacobian by central differences (Eq. 20) with a step of 1 % of each label's training range
  (:data:`phdl.fit.linear.FD_STEP`); :func:`jacobian_autograd` gives the model's own
  (``model.jacobian``; the emulator's is exact, by autodiff).
- Eq. 21 is read as the weight 1 / (σ² χ²): the formal error times sqrt(χ²). By default
  :func:`scaled_errors` does not shrink errors when χ² < 1 (``floor=1``); ``floor=0`` is the
  literal reading.
- The χ² scan (50 points over the label's training range [0, 1] scaled, others at the best fit)
  takes as its minimum the lowest grid point, refined by the vertex of the parabola through it
  and its two neighbours (so that strong labels such as Teff, whose σ is far below the grid
  spacing of 1/49 of the range, are not flagged by the grid's coarseness alone).
- F4 (|CMA − scan| ≥ 0.3 dex) applies to the labels in dex (logg, [Fe/H], [X/Fe]); it is never
  set for Teff (K) or vmic (km/s), for which "0.3 dex" has no meaning.
- A star whose covariance is singular gets NaN errors, and F3 set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from phdl.fit.fitting import FITTED
from phdl.fit.linear import FD_STEP
from phdl.fit.linear import jacobian_fd as _jacobian_fd
from phdl.fit.spectra import chi2, clean, on_model_grid
from phdl.labels import LABELS, N_LABELS, UNITS, index, scale, unscale

if TYPE_CHECKING:
    from phdl.emulator.protocol import SpectralModel

#: Points of the χ² scan per label (the paper's 50).
N_SCAN = 50
#: F4 threshold, dex.
F4_DEX = 0.3
#: Flag bits.
F1, F2, F3, F4 = 1, 2, 4, 8


def _fitted(labels_fitted: Sequence[str] | None) -> list[int]:
    return [index(n) for n in (FITTED if labels_fitted is None else labels_fitted)]


def jacobian_fd(model: SpectralModel, labels: np.ndarray, step: float = FD_STEP) -> np.ndarray:
    """∂flux/∂label (n, 34, n_pix) by central differences (Eq. 20), physical units; the step of
    label j is ``step`` × its training range (default 1 %, :data:`phdl.fit.linear.FD_STEP`)."""
    return _jacobian_fd(model, labels, step=step)


def jacobian_autograd(model: SpectralModel, labels: np.ndarray) -> np.ndarray:
    """The model's own Jacobian (n, 34, n_pix) (``model.jacobian``; the emulator's by
    autodiff), float64."""
    return np.asarray(model.jacobian(np.atleast_2d(labels)), dtype=np.float64)


def covariance(
    jacobian: np.ndarray, ivar: np.ndarray, labels_fitted: Sequence[str] | None = None
) -> np.ndarray:
    """Cov = (Jᵀ W J)⁻¹ (Eq. 17–19), W = diag(ivar), over the fitted labels: (n, k, k).

    ``jacobian`` (n, 34, n_pix) physical units, ``ivar`` (n, n_pix) (masked pixels drop out).
    The matrix is inverted after scaling to unit diagonal (labels differ by orders of magnitude
    in sensitivity); a singular one (e.g. a label without any usable pixel) gives NaN.
    """
    jac = np.asarray(jacobian, dtype=np.float64)
    w = np.asarray(ivar, dtype=np.float64)
    if jac.ndim == 2:
        jac = jac[None]
    w = np.atleast_2d(w)
    if jac.ndim != 3 or jac.shape[1] != N_LABELS or w.shape != (len(jac), jac.shape[2]):
        raise ValueError(
            f"jacobian must be (n, {N_LABELS}, n_pix) and ivar (n, n_pix); got {jac.shape} "
            f"and {w.shape}"
        )
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    j = jac[:, _fitted(labels_fitted)]
    fisher = np.einsum("nip,np,njp->nij", j, w, j)
    out = np.full_like(fisher, np.nan)
    d = np.sqrt(np.diagonal(fisher, axis1=1, axis2=2))
    for i in range(len(fisher)):
        if not np.all(d[i] > 0):
            continue
        scaled = fisher[i] / np.outer(d[i], d[i])
        if np.linalg.cond(scaled) > 1e12:
            continue
        out[i] = np.linalg.inv(scaled) / np.outer(d[i], d[i])
    return 0.5 * (out + np.swapaxes(out, 1, 2))


def formal_errors(cov: np.ndarray) -> np.ndarray:
    """σ(θ_j) = sqrt(Cov_jj) (Eq. 16): (n, k) from (n, k, k)."""
    return np.sqrt(np.diagonal(np.asarray(cov, dtype=np.float64), axis1=-2, axis2=-1))


def scaled_errors(errors: np.ndarray, chisq: np.ndarray, floor: float = 1.0) -> np.ndarray:
    """Eq. 21: errors (n, k) × sqrt(max(χ², floor)) per star (χ² reduced, (n,))."""
    c = np.asarray(chisq, dtype=np.float64).reshape(-1, *([1] * (np.ndim(errors) - 1)))
    return np.asarray(errors, dtype=np.float64) * np.sqrt(np.maximum(c, floor))


def correlation(cov: np.ndarray) -> np.ndarray:
    """Pearson correlation matrices (n, k, k) from covariances (n, k, k)."""
    c = np.asarray(cov, dtype=np.float64)
    s = formal_errors(c)
    return c / (s[..., :, None] * s[..., None, :])


def cramer_rao(
    jacobian: np.ndarray, ivar: np.ndarray, labels_fitted: Sequence[str] | None = None
) -> np.ndarray:
    """The Cramér–Rao bound σ = sqrt(diag((JᵀWJ)⁻¹)) (n, k) for an exact (e.g. the engine's)
    Jacobian and the noise ``ivar``: the smallest σ an unbiased fit can reach."""
    return formal_errors(covariance(jacobian, ivar, labels_fitted))


def chi2_scan(
    model: SpectralModel,
    flux: np.ndarray,
    ivar: np.ndarray,
    best_labels: np.ndarray,
    label: str,
    n_points: int = N_SCAN,
    batch_stars: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Reduced χ² along one label over its training range, others fixed at ``best_labels``.

    ``flux``, ``ivar`` (n, n_pix) on the model's grid; ``best_labels`` (n, 34) physical.
    Returns ``(values (n, n_points) physical, chi2 (n, n_points))``: the points are equally
    spaced over the label's normalized range [0, 1] (Eq. 25 with the model's scaling);
    one ``predict`` call per ``batch_stars`` stars.
    """
    j = index(label)
    f, w = clean(np.atleast_2d(flux), np.atleast_2d(ivar))
    best = np.atleast_2d(np.asarray(best_labels, dtype=np.float64))
    if best.shape != (len(f), N_LABELS):
        raise ValueError(f"best_labels must be ({len(f)}, {N_LABELS}), got {best.shape}")
    lo, hi = float(model.label_min[j]), float(model.label_max[j])
    values = np.broadcast_to(unscale(np.linspace(0.0, 1.0, n_points), lo, hi), (len(f), n_points))
    return values.copy(), chi2_along(model, f, w, best, j, values, batch_stars)


def chi2_along(
    model: SpectralModel,
    flux: np.ndarray,
    ivar: np.ndarray,
    best: np.ndarray,
    column: int,
    values: np.ndarray,
    batch_stars: int = 32,
) -> np.ndarray:
    """Reduced χ² (n, k) of each star at the k ``values`` (n, k) physical of label ``column``,
    the other labels at ``best`` (n, 34); ``flux``, ``ivar`` (n, n_pix) cleaned. One
    ``predict`` call per ``batch_stars`` stars."""
    n, k = values.shape
    chi = np.empty((n, k))
    for b in range(0, n, batch_stars):
        sl = slice(b, b + batch_stars)
        rows = np.repeat(best[sl], k, axis=0)
        rows[:, column] = values[sl].ravel()
        pred = np.asarray(model.predict(rows), dtype=np.float64).reshape(len(rows) // k, k, -1)
        chi[sl] = chi2(pred, flux[sl, None, :], ivar[sl, None, :])
    return chi


def scan_minimum(values: np.ndarray, chi2: np.ndarray, refine: bool = True):
    """The scan's minimum per star: ``(value (n,), on_edge (n,) bool)``; with ``refine`` the
    lowest point is moved to the vertex of the parabola through it and its neighbours."""
    v, c = np.atleast_2d(values), np.atleast_2d(chi2)
    n, k = c.shape
    i = np.argmin(np.where(np.isfinite(c), c, np.inf), axis=1)
    rows = np.arange(n)
    best = v[rows, i].copy()
    edge = (i == 0) | (i == k - 1)
    if refine:
        inner = ~edge
        im = np.clip(i - 1, 0, k - 1)
        ip = np.clip(i + 1, 0, k - 1)
        c0, cm, cp = c[rows, i], c[rows, im], c[rows, ip]
        curv = cm - 2.0 * c0 + cp
        ok = inner & (curv > 0) & np.isfinite(cm) & np.isfinite(cp)  # +inf: a failed spectrum
        shift = np.where(ok, 0.5 * (cm - cp) / np.where(ok, curv, 1.0), 0.0)
        step = v[rows, ip] - v[rows, i]
        best = best + np.clip(shift, -0.5, 0.5) * step
    return best, edge


def flags(
    model: SpectralModel,
    flux: np.ndarray,
    ivar: np.ndarray,
    best_labels: np.ndarray,
    errors: np.ndarray,
    labels_fitted: Sequence[str] | None = None,
    n_points: int = N_SCAN,
    refine: bool = True,
) -> np.ndarray:
    """The four-bit quality flag of Section 2.3 per star and fitted label: (n, k) int.

    Bit 0 (F1, value 1): the CMA-ES value is at or beyond the edge of the training range
    (scaled ≤ 0 or ≥ 1, to within 1e-9 for rounding). Bit 1 (F2, 2): the χ² scan's minimum
    is at an end of the range. Bit 2 (F3, 4): |CMA − scan| > 3σ (``errors`` (n, k) physical;
    a non-finite σ sets it).
    Bit 3 (F4, 8): |CMA − scan| ≥ 0.3 dex (dex labels only; never for Teff, vmic).
    0 = all good. ``flux``, ``ivar`` (n, n_pix) on the model's grid.
    """
    names = list(FITTED if labels_fitted is None else labels_fitted)
    best = np.atleast_2d(np.asarray(best_labels, dtype=np.float64))
    err = np.atleast_2d(np.asarray(errors, dtype=np.float64))
    if err.shape != (len(best), len(names)):
        raise ValueError(f"errors must be ({len(best)}, {len(names)}), got {err.shape}")
    lo = np.asarray(model.label_min, dtype=np.float64)
    hi = np.asarray(model.label_max, dtype=np.float64)
    out = np.zeros((len(best), len(names)), dtype=np.int64)
    for c, name in enumerate(names):
        j = index(name)
        values, chi = chi2_scan(model, flux, ivar, best, name, n_points)
        ref, edge = scan_minimum(values, chi, refine)
        s = scale(best[:, j], lo[j], hi[j])
        out[:, c] = flag_bits(name, s, edge, np.abs(best[:, j] - ref), err[:, c])
    return out


def flag_bits(
    name: str, scaled: np.ndarray, edge: np.ndarray, diff: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    """The four bits of :func:`flags` for one label ``name`` over n stars: ``scaled`` (n,) the
    fitted value in scaled units (Eq. 25), ``edge`` (n,) whether the scan's minimum is at an
    end of the range, ``diff`` (n,) |fit − scan minimum| and ``sigma`` (n,) the error, both
    in the label's physical unit."""
    out = np.where((scaled <= 1e-9) | (scaled >= 1.0 - 1e-9), F1, 0)
    out |= np.where(edge, F2, 0)
    out |= np.where(~np.isfinite(sigma) | (diff > 3.0 * sigma), F3, 0)
    if UNITS[name] == "dex":
        out |= np.where(diff >= F4_DEX, F4, 0)
    return out.astype(np.int64)


_quality_flags = flags  # add_uncertainties has a parameter named ``flags``


def good_fractions(flag_array: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Per label, the fraction of stars with flag 0 (all four bits clear) among flagged stars
    (flag >= 0; -1 marks a star that was not fitted)."""
    fl = np.atleast_2d(np.asarray(flag_array))
    if fl.shape[1] != len(names):
        raise ValueError(f"flag_array has {fl.shape[1]} columns but {len(names)} names")
    out = {}
    for c, name in enumerate(names):
        valid = fl[:, c] >= 0
        out[name] = float(np.mean(fl[valid, c] == 0)) if valid.any() else float("nan")
    return out


def add_uncertainties(
    table,
    model: SpectralModel,
    flux: np.ndarray,
    ivar: np.ndarray,
    flags: bool | str = True,
    *,
    wavelength: np.ndarray | None = None,
    labels_fitted: Sequence[str] | None = None,
    jacobian: str = "auto",
    batch_stars: int = 32,
    screen_model: SpectralModel | None = None,
):
    """Add ``<label>_err`` (formal, Eq. 16), ``<label>_err_scaled`` (Eq. 21) and, if ``flags``,
    ``<label>_flag`` (Section 2.3) after each fitted label's column of a
    :func:`phdl.fit.fit_spectra` table; returns the table (modified in place).

    ``flux``, ``ivar`` (n, n_pix) as fitted (on ``wavelength`` if given, else the model's grid).
    ``jacobian``: "autograd" (``model.jacobian``), "fd" (:func:`jacobian_fd`) or "auto" (the
    model's own if it has one). ``flags``: True or "full" (the paper's 50-point scans,
    :func:`flags`), "screen" (fine scans only where a coarse one needs them,
    :func:`phdl.screen.screened_flags`, with its coarse scans on ``screen_model`` if given) or
    False (no flags); recorded as ``FLAGSCAN`` in the table's meta. Stars whose ``status`` is
    not "ok" get NaN errors, flag -1.
    """
    mode = {True: "full", "full": "full", "screen": "screen", False: None}.get(flags, "bad")
    if mode == "bad":
        raise ValueError(f"flags must be True, False, 'full' or 'screen', got {flags!r}")
    names = list(FITTED if labels_fitted is None else labels_fitted)
    if wavelength is not None:
        flux, ivar = on_model_grid(model.wavelength, wavelength, flux, ivar)
    f, w = clean(np.atleast_2d(flux), np.atleast_2d(ivar))
    n = len(table)
    if len(f) != n:
        raise ValueError(f"table has {n} rows but flux has {len(f)} spectra")
    best = np.stack([np.asarray(table[name], dtype=np.float64) for name in LABELS], 1)
    ok = np.all(np.isfinite(best), 1)
    if "status" in table.colnames:
        ok &= np.asarray(table["status"]) == "ok"
    if jacobian not in ("auto", "autograd", "fd"):
        raise ValueError(f"jacobian must be 'auto', 'autograd' or 'fd', got {jacobian!r}")
    use_autograd = jacobian == "autograd" or (jacobian == "auto" and hasattr(model, "jacobian"))
    err = np.full((n, len(names)), np.nan)
    flag = np.full((n, len(names)), -1, dtype=np.int64)
    idx = np.flatnonzero(ok)
    for b in range(0, len(idx), batch_stars):
        stars = idx[b : b + batch_stars]
        jac = (
            jacobian_autograd(model, best[stars])
            if use_autograd
            else jacobian_fd(model, best[stars])
        )
        err[stars] = formal_errors(covariance(jac, w[stars], names))
        if mode == "screen":
            from phdl.screen import screened_flags

            jac_k = jac[:, [index(name) for name in names]]
            flag[stars] = screened_flags(model, f[stars], w[stars], best[stars], err[stars],
                                         jac_k, names, screen_model)[0]  # fmt: skip
    chisq = np.asarray(table["Chisq"], dtype=np.float64)
    err_scaled = scaled_errors(err, chisq)
    if mode == "full" and len(idx):
        flag[idx] = _quality_flags(model, f[idx], w[idx], best[idx], err[idx], names)
    if mode:
        table.meta["FLAGSCAN"] = mode
    for c, name in enumerate(names):
        cols = [(f"{name}_err", err[:, c]), (f"{name}_err_scaled", err_scaled[:, c])]
        if mode:
            cols.append((f"{name}_flag", flag[:, c]))
        at = table.index_column(name) + 1
        for k, (col, values) in enumerate(cols):
            if col in table.colnames:
                table[col] = values
            else:
                table.add_column(values, name=col, index=at + k)
    return table
