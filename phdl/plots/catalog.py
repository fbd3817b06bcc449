"""Figures of the subgiant catalogue (§5): Figure 15 ([X/Fe] against [Fe/H] as densities with a
reference trend), the two-component (high-/low-α) mixtures of a bimodal [X/Fe] in [Fe/H] bins,
and the normalized differences of repeat visits. Conventions in :mod:`phdl.plots`.

These functions only draw: the trends and fitted mixtures come in computed elsewhere, the
catalogue as an astropy Table (or DataFrame) in phdl column names. Rows with NaN are left out
panel by panel; a panel left without data says "no data".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from phdl.calibrate.catalogs import as_table, require, values, xfe
from phdl.calibrate.smooth import robust_std
from phdl.plots.calibration import _columns, _lookup
from phdl.plots.validation import _finite, _grid, _no_data

#: Columns of the mixtures table of :func:`bimodality_figure`, one row per [Fe/H] bin.
MIXTURE_COLUMNS: tuple[str, ...] = (
    "feh_lo", "feh_hi", "n", "w_high", "mu_low", "mu_high", "sigma_low", "sigma_high",
)  # fmt: skip
#: |z| beyond which :func:`repeat_visits` does not histogram (still counted in the robust σ).
Z_MAX: float = 5.0


def _gauss(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """The normal density N(mu, sigma²) at x."""
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2.0 * np.pi))


# ------------------------------------------------------------------------------- Figure 15
def _edges(v: np.ndarray, bins: int) -> np.ndarray:
    """``bins`` equal-width bins over the finite values of ``v`` (one unit wide if they agree)."""
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, bins + 1)


def _density(feh: np.ndarray, x: np.ndarray, feh_edges: np.ndarray, bins: int) -> tuple | None:
    """(x edges, y edges, counts) of the finite (feh, x) pairs; None when there are none."""
    ok = _finite(feh, x)
    if not ok.any():
        return None
    y_edges = _edges(x[ok], bins)
    counts, _, _ = np.histogram2d(feh[ok], x[ok], bins=[feh_edges, y_edges])
    return feh_edges, y_edges, counts


def fig15_trends(
    catalog: Any,
    elements: Sequence[str],
    *,
    trend: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ncols: int = 5,
    bins: int = 60,
) -> Figure:
    """Figure 15: the density of the catalogue's stars in [X/Fe] against [Fe/H] (dex), one panel
    per element ("Mg" or "[Mg/Fe]"), on a shared logarithmic colour scale (stars per bin; one
    colour bar), ``bins`` bins a side over the finite values. ``trend`` (element, as symbol or
    column → ([Fe/H] centres, median [X/Fe]), e.g. Hypatia's median trend) is drawn as a red line
    where given.
    """
    names = [xfe(e) for e in elements]
    cols = _columns(catalog, ["[Fe/H]", *names], "catalog")
    feh = cols["[Fe/H]"]
    feh_edges = _edges(feh[np.isfinite(feh)], bins) if np.isfinite(feh).any() else None
    hists = [None if feh_edges is None else _density(feh, cols[n], feh_edges, bins) for n in names]
    peak = max([h[2].max() for h in hists if h is not None], default=1.0)
    norm = LogNorm(1.0, max(peak, 2.0))
    fig, axes = _grid(len(names), ncols, sharex=True)
    mesh = None
    for ax, name, hist in zip(axes, names, hists, strict=True):
        ax.text(0.04, 0.94, name, transform=ax.transAxes, va="top", fontsize=7)
        if hist is None:
            _no_data(ax)
            continue
        xe, ye, counts = hist
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_equal(counts.T, 0.0), norm=norm,
                             cmap="viridis", gid="density")  # fmt: skip
        curve = _lookup(trend or {}, name)
        if curve is not None:
            cx, cy = (np.asarray(a, dtype=float) for a in curve)
            ok = _finite(cx, cy)
            ax.plot(cx[ok], cy[ok], color="red", lw=1.3, gid="trend")
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label="stars per bin", shrink=0.6)
    fig.supxlabel("[Fe/H] [dex]")
    fig.supylabel("[X/Fe] [dex]")
    fig.suptitle(f"{len(feh)} stars" + ("; red: reference median trend" if trend else ""))
    return fig


# ----------------------------------------------------------------------------- bimodality
def _mixture_title(row: dict[str, float], truth: float | None) -> str:
    """The panel title: the [Fe/H] bin, n, the fitted (and true) high-α fraction."""
    text = f"{row['feh_lo']:+.2f} ≤ [Fe/H] < {row['feh_hi']:+.2f}, n = {row['n']:.0f}\n"
    text += "no fit" if not np.isfinite(row["w_high"]) else f"f_high = {row['w_high']:.2f}"
    if truth is not None and np.isfinite(truth):
        text += f" (true {truth:.2f})"
    return text


def _mixture_panel(ax: Axes, x: np.ndarray, row: dict[str, float]) -> None:
    """Density histogram of x and, when the fit is finite, its two components and their sum."""
    x = x[np.isfinite(x)]
    if not x.size:
        _no_data(ax)
        return
    ax.hist(x, bins=30, density=True, color="0.75", gid="histogram")
    params = [row[c] for c in MIXTURE_COLUMNS[3:]]
    if not np.isfinite(params).all():
        return
    w, mu_low, mu_high, s_low, s_high = params
    grid = np.linspace(min(x.min(), mu_low - 3 * s_low), max(x.max(), mu_high + 3 * s_high), 300)
    low, high = (1.0 - w) * _gauss(grid, mu_low, s_low), w * _gauss(grid, mu_high, s_high)
    ax.plot(grid, low + high, color="k", lw=1.3, label="sum", gid="sum")
    ax.plot(grid, low, color="tab:blue", lw=1.2, ls="--", label="low-α", gid="low")
    ax.plot(grid, high, color="tab:red", lw=1.2, ls="--", label="high-α", gid="high")


def bimodality_figure(
    catalog: Any,
    element: str,
    mixtures: Any,
    *,
    truth_fraction: Sequence[float] | None = None,
) -> Figure:
    """Density histograms of [X/Fe] (dex) of ``element`` ("Mg" or "[Mg/Fe]") in each [Fe/H] bin
    (``feh_lo`` ≤ [Fe/H] < ``feh_hi``, dex) of ``mixtures``, one panel per row, with the fitted
    low-α (weight 1 − ``w_high``) and high-α (``w_high``) Gaussians and their sum. Each title
    gives the fitted high-α fraction and, if ``truth_fraction`` (one per row) is given, the true
    one. A row whose mixture values are NaN shows the histogram alone ("no fit").
    """
    name = xfe(element)
    cols = _columns(catalog, ["[Fe/H]", name], "catalog")
    mixtures = as_table(mixtures, "mixtures")
    require(mixtures, MIXTURE_COLUMNS, "mixtures")
    truth = None if truth_fraction is None else np.asarray(truth_fraction, dtype=float)
    if truth is not None and truth.shape != (len(mixtures),):
        raise ValueError(f"truth_fraction has {truth.size} values, mixtures {len(mixtures)} rows")
    table = {c: values(mixtures, c) for c in MIXTURE_COLUMNS}
    fig, axes = _grid(len(mixtures), 4, sharex=True, size=2.8)
    feh = cols["[Fe/H]"]
    for k, ax in enumerate(axes):
        row = {c: float(v[k]) for c, v in table.items()}
        inside = (feh >= row["feh_lo"]) & (feh < row["feh_hi"])
        _mixture_panel(ax, cols[name][inside], row)
        ax.set_title(_mixture_title(row, None if truth is None else truth[k]), fontsize=8)
    for ax in axes:  # one legend, from the first panel with a fit
        handles, texts = ax.get_legend_handles_labels()
        if handles:
            fig.legend(handles, texts, loc="outside upper right", fontsize=8)
            break
    fig.supxlabel(f"{name} [dex]")
    fig.supylabel("density [1/dex]")
    return fig


# ---------------------------------------------------------------------------- repeat visits
def _z_panel(ax: Axes, z: np.ndarray, title: str) -> None:
    """Histogram (density) of z within ±Z_MAX, N(0, 1), the robust σ (over all finite z)."""
    ax.set_title(title, fontsize=9)
    z = z[np.isfinite(z)]
    if not z.size:
        _no_data(ax)
        return
    ax.hist(z[np.abs(z) <= Z_MAX], bins=np.linspace(-Z_MAX, Z_MAX, 41), density=True,
            color="0.75", label=f"robust σ = {robust_std(z):.2f} (N = {z.size})",
            gid="histogram")  # fmt: skip
    grid = np.linspace(-Z_MAX, Z_MAX, 301)
    ax.plot(grid, _gauss(grid, 0.0, 1.0), color="tab:red", lw=1.2, label="N(0, 1)", gid="normal")
    ax.legend(fontsize=7, loc="upper right")


def repeat_visits(z: np.ndarray | Mapping[str, np.ndarray], *, label: str) -> Figure:
    """Histograms (density) of normalized differences z of repeat visits (difference of two
    visits over their combined error; unit-normal if the errors are right), with N(0, 1) and the
    robust σ (1.4826 MAD) in the legend. ``z`` is one 1-D array (the panel titled ``label``) or
    a dict panel title → array (``label`` then titles the figure).
    """
    panels = dict(z) if isinstance(z, Mapping) else {label: z}
    fig, axes = _grid(len(panels), 4, sharex=True, size=2.8)
    for ax, (title, zs) in zip(axes, panels.items(), strict=True):
        _z_panel(ax, np.asarray(zs, dtype=float).ravel(), title)
    fig.supxlabel("z = (visit 1 − visit 2) / combined error")
    fig.supylabel("density")
    if isinstance(z, Mapping):
        fig.suptitle(label)
    return fig
