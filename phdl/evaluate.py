"""How well an emulator reproduces the ab initio grid: flux residuals and gradient errors.

Units: fluxes are normalized (Eq. 22-24), so a residual of 0.01 is 1 % of the continuum;
gradient spectra are ∂(normalized flux)/∂label per physical unit (K, dex, km/s). ``model`` is
anything with the :class:`phdl.emulator.Emulator` interface (``predict``, ``jacobian``,
``wavelength``); ``grid`` is a :class:`phdl.grid.Grid`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.table import Table

from phdl.labels import LABELS, index
from phdl.paper import EMULATION_SIGMA, EXAMPLE_STAR, TEST_SPECTRA


def _rows(grid: Any, rows: np.ndarray | None) -> np.ndarray:
    n = len(grid.labels)
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.ndim != 1 or rows.size == 0:
        raise ValueError("rows must be a non-empty 1-D array of grid row indices")
    if rows.min() < 0 or rows.max() >= n:
        raise ValueError(f"rows must index the grid's {n} spectra; got {rows.min()}..{rows.max()}")
    return rows


def check_same_pixels(model: Any, grid: Any) -> None:
    """ValueError unless the model's wavelength grid is the grid file's (same pixels, Å)."""
    a, b = np.asarray(model.wavelength), np.asarray(grid.wavelength)
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=0):
        raise ValueError(
            f"the model's wavelength grid ({a.size} pixels, {a[0]:.2f}-{a[-1]:.2f} Å) is not the "
            f"grid file's ({b.size} pixels, {b[0]:.2f}-{b[-1]:.2f} Å)"
        )


def residuals(model: Any, grid: Any, rows: np.ndarray | None = None) -> np.ndarray:
    """Emulated minus ab initio normalized flux, (len(rows), n_pix), for grid ``rows``."""
    check_same_pixels(model, grid)
    rows = _rows(grid, rows)
    return np.asarray(model.predict(grid.labels[rows]), dtype=np.float64) - grid.flux[rows]


def sigma(res: np.ndarray) -> float:
    """Standard deviation of all residuals of ``res`` (any shape), ignoring NaN."""
    res = np.asarray(res, dtype=float)
    if not np.isfinite(res).any():
        raise ValueError("no finite residuals")
    return float(np.nanstd(res))


def gradient_errors(model: Any, grid: Any, rows: np.ndarray | None = None) -> np.ndarray:
    """Relative RMS error of the emulator's gradient spectra, per label, (34,).

    e_m = sqrt(mean (J_emu - J_ab)²) / sqrt(mean J_ab²) over the stars ``rows`` and all pixels,
    for label m (unitless: 0 is perfect, 1 is as large as the gradient itself; a model that
    predicts zero gradients scores 1). Labels whose ab initio gradient is zero give NaN.
    """
    if grid.gradients is None:
        raise ValueError("the grid has no 'gradients': gradient errors need ab initio gradients")
    check_same_pixels(model, grid)
    rows = _rows(grid, rows)
    truth = np.asarray(grid.gradients[rows], dtype=np.float64)
    emu = np.asarray(model.jacobian(grid.labels[rows]), dtype=np.float64)
    num = np.sqrt(np.mean((emu - truth) ** 2, axis=(0, 2)))
    den = np.sqrt(np.mean(truth**2, axis=(0, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def nearest_star(labels: np.ndarray, rows: np.ndarray, teff: float, logg: float, feh: float) -> int:
    """The row of ``rows`` whose (Teff, logg, [Fe/H]) is nearest the target, distances scaled
    by 100 K, 0.1 dex and 0.1 dex. ``labels`` (n, 34) physical."""
    rows = np.asarray(rows, dtype=np.int64)
    lab = np.asarray(labels)[rows]
    d = (
        ((lab[:, index("Teff")] - teff) / 100.0) ** 2
        + ((lab[:, index("logg")] - logg) / 0.1) ** 2
        + ((lab[:, index("[Fe/H]")] - feh) / 0.1) ** 2
    )
    return int(rows[int(np.argmin(d))])


def example_star(labels: np.ndarray, rows: np.ndarray) -> int:
    """The row of ``rows`` nearest the example star of the paper's Figure 3
    (:data:`phdl.paper.EXAMPLE_STAR`), as :func:`nearest_star` measures it."""
    e = EXAMPLE_STAR
    return nearest_star(labels, rows, e["Teff"], e["logg"], e["[Fe/H]"])


def emulation_summary(models: dict[str, Any], grid: Any, rows: np.ndarray) -> Table:
    """One row per model: residual σ over all ``rows`` and over those with Teff > 4500 K
    (normalized flux), and the median over labels of :func:`gradient_errors` (or NaN when
    the grid has no gradients), beside the paper's σ."""
    rows = _rows(grid, rows)
    hot = grid.labels[rows, index("Teff")] > 4500.0
    out: dict[str, list] = {"model": [], "σ all": [], "σ Teff > 4500 K": [],
                            "median gradient error": []}  # fmt: skip
    for name, model in models.items():
        res = residuals(model, grid, rows)
        out["model"].append(name)
        out["σ all"].append(sigma(res))
        out["σ Teff > 4500 K"].append(sigma(res[hot]) if hot.any() else np.nan)
        errs = gradient_errors(model, grid, rows) if grid.gradients is not None else [np.nan]
        out["median gradient error"].append(float(np.nanmedian(errs)))
    out["model"].append(f"paper (PhDLspec, {TEST_SPECTRA} Kurucz test spectra)")
    out["σ all"].append(EMULATION_SIGMA["all"])
    out["σ Teff > 4500 K"].append(EMULATION_SIGMA["Teff > 4500 K"])
    out["median gradient error"].append(np.nan)
    table = Table(out)
    for col in ("σ all", "σ Teff > 4500 K"):
        table[col].format = ".4f"
    table["median gradient error"].format = ".3f"
    return table


def gradient_error_table(models: dict[str, Any], grid: Any, rows: np.ndarray) -> Table:
    """Per label (rows) and model (columns): :func:`gradient_errors` on the grid ``rows``."""
    table = Table({"label": list(LABELS)})
    for name, model in models.items():
        table[name] = gradient_errors(model, grid, rows)
        table[name].format = ".3f"
    return table
