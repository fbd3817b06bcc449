"""Figures of the validation chapters (§4.3-4.4): Figure 10 (M67's [X/Fe] against logg),
Figure 11 (M67's star-to-star scatter, ours against a reference survey), the M67 scatter budget
(measured, intrinsic and error parts against the paper's bands), Figures 12-14 (one-to-one
comparisons with a survey) and the differences to a survey against Teff. Conventions in
:mod:`phdl.plots`.

These functions only draw: the statistics (means, σ, scatter budgets) come in as astropy Tables
(or DataFrames) computed elsewhere, in phdl column names (``source_id``, ``Teff``, ``logg``,
``[Fe/H]``, ``[Mg/Fe]``, ...). Rows with NaN are left out panel by panel; a panel left without
data says "no data".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from astropy.table import Table
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from phdl.calibrate.catalogs import (
    DEFAULT_ID,
    as_table,
    crossmatch,
    native,
    require,
    symbol,
    values,
    xfe,
)
from phdl.calibrate.smooth import robust_std
from phdl.labels import UNITS
from phdl.plots.calibration import MIN_PER_BIN, N_BINS, _columns, _corner
from phdl.sky.score import binned_medians

#: Colour map of Teff (K) in the scatter panels.
TEFF_CMAP: str = "viridis"


# ----------------------------------------------------------------------------------- helpers
def _grid(n: int, ncols: int, *, sharex: bool, size: float = 2.4) -> tuple[Figure, list[Axes]]:
    """``n`` panels in rows of ``ncols`` (fewer if n is smaller); extra cells hidden."""
    if n < 1:
        raise ValueError("nothing to draw: the list of elements (labels) is empty")
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 1.4, 0.9 * size * nrows + 0.8),
                             sharex=sharex, squeeze=False, layout="constrained")  # fmt: skip
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes.flat[:n]:
        ax.tick_params(labelsize=7)
    return fig, list(axes.flat[:n])


def _no_data(ax: Axes) -> None:
    """Mark ``ax`` as empty with a centred "no data"."""
    ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center",
            color="0.4", gid="no data")  # fmt: skip


def _label(name: str) -> str:
    """The column of label ``name``: a bare element symbol ("Mg") becomes "[Mg/Fe]"."""
    return xfe(name) if re.fullmatch(r"[A-Z][a-z]?", name) else name


def _finite(*arrays: np.ndarray) -> np.ndarray:
    """Rows where every one of ``arrays`` is finite."""
    return np.logical_and.reduce([np.isfinite(a) for a in arrays])


def _norm(v: np.ndarray) -> Normalize:
    """A colour scale over the finite values of ``v`` (Teff: 4000-7000 K when there are none)."""
    v = v[np.isfinite(v)]
    return Normalize(float(v.min()), float(v.max())) if v.size else Normalize(4000.0, 7000.0)


def _fmt(name: str) -> tuple[str, str]:
    """(number format, unit) of label ``name``: K without decimals, dex with three."""
    unit = UNITS.get(name, "dex")
    return (".0f" if unit == "K" else ".3f"), unit


def _rows(stats: Table, names: Sequence[str], what: str) -> list[int]:
    """Row of ``stats`` (column ``element``, "Mg" or "[Mg/Fe]") for each element of ``names``;
    ValueError naming an element without one."""
    have = [symbol(str(e)) for e in np.asarray(stats["element"])]
    missing = [symbol(n) for n in names if symbol(n) not in have]
    if missing:
        raise ValueError(f"{what!r} has no row for element {missing[0]!r} (column 'element')")
    return [have.index(symbol(n)) for n in names]


# ------------------------------------------------------------------------------- Figure 10
def _m67_panel(ax: Axes, name: str, cols: dict, mean: float, sigma: float, nsigma: float,
               norm: Normalize) -> None:  # fmt: skip
    """[X/Fe] of one element against logg coloured by Teff; outliers hollow; μ and σ."""
    _corner(ax, name)
    logg, x, teff = cols["logg"], cols[name], cols["Teff"]
    ok = _finite(logg, x, teff)
    if not ok.any():
        _no_data(ax)
        return
    out = ok & (np.abs(x - mean) > nsigma * sigma)  # NaN mean or σ: no outliers
    keep = ok & ~out
    ax.scatter(logg[keep], x[keep], c=teff[keep], cmap=TEFF_CMAP, norm=norm, s=9,
               edgecolors="none", gid="members")  # fmt: skip
    edges = plt.get_cmap(TEFF_CMAP)(norm(teff[out]))
    ax.scatter(logg[out], x[out], s=14, facecolors="none", edgecolors=edges, linewidths=0.8,
               gid="outliers")  # fmt: skip
    if np.isfinite(mean):
        ax.axhline(mean, color="k", lw=0.8, gid="mean")
    ax.text(0.96, 0.05, f"μ = {mean:.3f}, σ = {sigma:.3f}", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=7, gid="mu sigma")  # fmt: skip


def fig10_m67(
    members: Any, stats: Any, elements: Sequence[str], *, nsigma: float = 3.0, ncols: int = 5
) -> Figure:
    """Figure 10: [X/Fe] (dex) of M67's members against logg (dex, increasing to the right), one
    panel per element ("Mg" or "[Mg/Fe]"), points coloured by Teff (K; one colour bar).

    ``members`` holds Teff, logg and the [X/Fe] of ``elements``; ``stats`` one row per element
    (``element``, ``mean``, ``sigma``, dex). A star farther than ``nsigma`` × sigma from the mean
    is an outlier, drawn hollow; the line is the mean, and "μ = …, σ = …" sits bottom right.
    """
    names = [xfe(e) for e in elements]
    cols = _columns(members, ["Teff", "logg", *names], "members")
    stats = as_table(stats, "stats")
    require(stats, ["element", "mean", "sigma"], "stats")
    rows = _rows(stats, names, "stats")
    mean, sigma = values(stats, "mean")[rows], values(stats, "sigma")[rows]
    fig, axes = _grid(len(names), ncols, sharex=True)
    norm = _norm(cols["Teff"])
    for k, (ax, name) in enumerate(zip(axes, names, strict=True)):
        _m67_panel(ax, name, cols, mean[k], sigma[k], nsigma, norm)
    fig.colorbar(ScalarMappable(norm, TEFF_CMAP), ax=axes, label="Teff [K]", shrink=0.6)
    fig.supxlabel("logg [dex] (increasing to the right)")
    fig.supylabel("[X/Fe] [dex]")
    fig.suptitle(f"M67 members (hollow: more than {nsigma:g}σ from the mean)")
    return fig


# ------------------------------------------------------------------------------- Figure 11
def _bands(ax: Axes, element: np.ndarray, y: np.ndarray, bands: Mapping[str, Any]) -> float:
    """The paper's range of σ_ours for each element, a horizontal bar at its σ_reference;
    returns the largest σ a bar reaches (0 if none is drawn)."""
    reach, label = 0.0, "paper's range of σ, ours (§4.3)"
    for e, yk in zip(element, y, strict=True):
        band = bands.get(symbol(e), bands.get(xfe(e)))
        if band is not None:
            ax.plot(band, [yk, yk], color="tab:orange", lw=3, alpha=0.5, label=label, gid="band")
            reach, label = max(reach, float(np.max(band))), "_nolegend_"
    return reach


def fig11_scatter(comparison: Any, *, bands: Mapping[str, Any] | None = None) -> Figure:
    """Figure 11: the star-to-star scatter of [X/Fe] (dex) in M67, ours (x) against the
    reference's (y), one point per element, labelled with its symbol, and the 1:1 line.

    ``comparison``: ``element``, ``sigma_ours``, ``sigma_reference``, ``n_common`` (members in
    common, given in the title). ``bands`` (element → (lo, hi), dex; e.g.
    :data:`phdl.paper.M67_SCATTER_BANDS`), where given, draws the paper's range of our σ as a
    faint horizontal bar through each element's point.
    """
    comparison = as_table(comparison, "comparison")
    require(comparison, ["element", "sigma_ours", "sigma_reference", "n_common"], "comparison")
    x, y = values(comparison, "sigma_ours"), values(comparison, "sigma_reference")
    ok = _finite(x, y)
    element = np.asarray([symbol(str(e)) for e in comparison["element"]])[ok]
    x, y = x[ok], y[ok]
    fig, ax = plt.subplots(figsize=(5.5, 5.0), layout="constrained")
    n = sorted({int(v) for v in values(comparison, "n_common") if np.isfinite(v)})
    common = "?" if not n else str(n[0]) if len(n) == 1 else f"{n[0]}–{n[-1]}"
    ax.set_title(f"M67 star-to-star scatter, n = {common} common members", fontsize=10)
    ax.set_xlabel("σ[X/Fe], ours (PhDLspec) [dex]")
    ax.set_ylabel("σ[X/Fe], reference [dex]")
    if not ok.any():
        _no_data(ax)
        return fig
    reach = _bands(ax, element, y, bands) if bands else 0.0
    ax.scatter(x, y, s=18, color="k", zorder=3, gid="elements")
    for e, xk, yk in zip(element, x, y, strict=True):
        ax.annotate(e, (xk, yk), xytext=(3, 3), textcoords="offset points", fontsize=8)
    hi = 1.1 * float(max(x.max(), y.max(), reach))
    ax.plot([0.0, hi], [0.0, hi], ls="--", color="0.4", lw=0.8, label="1:1", gid="1:1")
    ax.set_xlim(0.0, hi)
    ax.set_ylim(0.0, hi)
    ax.legend(fontsize=8, loc="upper left")
    return fig


# ------------------------------------------------------------------------- scatter budget
_BUDGET = (
    ("sigma", "o", "k", "measured σ (outliers removed)"),
    ("sigma_true", "^", "tab:blue", "intrinsic scatter of the truth"),
    ("sigma_measurement", "x", "tab:red", "measurement-error part"),
)


def m67_scatter_budget(stats: Any) -> Figure:
    """The scatter budget of M67's [X/Fe] (dex), per element in the rows' order: the measured σ
    (``sigma``), the truth's intrinsic scatter (``sigma_true``), the measurement-error part
    (``sigma_measurement``), and the paper's band ``band_lo``..``band_hi`` (§4.3) as a shaded bar.
    """
    stats = as_table(stats, "stats")
    require(stats, ["element", "band_lo", "band_hi", *[c for c, *_ in _BUDGET]], "stats")
    element = [symbol(str(e)) for e in stats["element"]]
    x = np.arange(len(element), dtype=float)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.4 * len(element) + 2.0), 4.0),
                           layout="constrained")  # fmt: skip
    ax.set_ylabel("σ[X/Fe] in M67 [dex]")
    if not len(element):
        _no_data(ax)
        return fig
    lo, hi = values(stats, "band_lo"), values(stats, "band_hi")
    ok = _finite(lo, hi)
    ax.bar(x[ok], (hi - lo)[ok], bottom=lo[ok], width=0.6, color="0.85",
           label="paper's band (§4.3)", gid="band")  # fmt: skip
    for column, marker, color, text in _BUDGET:
        v = values(stats, column)
        fin = np.isfinite(v)
        ax.plot(x[fin], v[fin], ls="none", marker=marker, color=color, ms=6, label=text,
                gid=column)  # fmt: skip
    ax.set_xticks(x, element, fontsize=8)
    ax.set_ylim(bottom=0.0)
    ax.legend(fontsize=8, loc="upper left")
    return fig


# ------------------------------------------------------------------------ Figures 12-14
def _matched(ours: Any, reference: Any, names: Sequence[str], extra: str) -> tuple[Table, Table]:
    """Rows of ``ours`` and ``reference`` sharing a source_id (:func:`crossmatch`), aligned;
    ValueError naming a missing column (``extra`` is needed in ours only). No star in common
    gives empty tables (the panels then say "no data")."""
    ours, reference = as_table(ours, "ours"), as_table(reference, "reference")
    require(ours, [DEFAULT_ID, *names, extra], "ours")
    require(reference, [DEFAULT_ID, *names], "reference")
    if not np.isin(native(ours[DEFAULT_ID]), native(reference[DEFAULT_ID])).any():
        return ours[:0], reference[:0]
    return crossmatch(ours, reference, names)


def _one_to_one(ax: Axes, x: np.ndarray, y: np.ndarray, c: np.ndarray, norm: Normalize,
                name: str) -> None:  # fmt: skip
    """Ours (x) against the reference (y) coloured by c; 1:1 line; Δ median and robust σ."""
    ok = _finite(x, y, c)
    if not ok.any():
        _no_data(ax)
        return
    x, y, c = x[ok], y[ok], c[ok]
    ax.scatter(x, y, c=c, cmap=TEFF_CMAP, norm=norm, s=6, edgecolors="none", gid="stars")
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    pad = 0.05 * (hi - lo) or 0.05 * max(abs(hi), 1.0)
    lo, hi = lo - pad, hi + pad
    ax.plot([lo, hi], [lo, hi], ls="--", color="0.3", lw=0.8, gid="1:1")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    fmt, unit = _fmt(name)
    d = x - y
    note = f"Δ median = {np.median(d):{fmt}} {unit}\nσ = {robust_std(d):{fmt}} {unit}"
    ax.text(0.96, 0.05, f"{note}\nN = {d.size}", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=7, gid="delta sigma")  # fmt: skip


def survey_comparison(
    ours: Any,
    reference: Any,
    labels: Sequence[str],
    *,
    survey: str,
    color: str = "Teff",
    ncols: int = 4,
) -> Figure:
    """Figures 12-14: one-to-one panels of each label ("Teff", "logg", "[Fe/H]", "Mg" or
    "[Mg/Fe]"), ours (PhDLspec, x) against ``survey``'s (y), for the stars the two catalogues
    share by source_id, coloured by our ``color`` column (one colour bar), with the dashed 1:1
    line. Each panel gives the median and robust σ (1.4826 MAD) of Δ = ours − survey, and N.
    """
    names = [_label(n) for n in labels]
    mine, theirs = _matched(ours, reference, names, color)
    fig, axes = _grid(len(names), ncols, sharex=False, size=2.8)
    c = values(mine, color)
    norm = _norm(c)
    for ax, name in zip(axes, names, strict=True):
        _one_to_one(ax, values(mine, name), values(theirs, name), c, norm, name)
        unit = _fmt(name)[1]
        ax.set_xlabel(f"{name}, PhDLspec [{unit}]", fontsize=8)
        ax.set_ylabel(f"{name}, {survey} [{unit}]", fontsize=8)
    fig.colorbar(ScalarMappable(norm, TEFF_CMAP), ax=axes, label=f"{color} (PhDLspec)", shrink=0.6)
    fig.suptitle(f"PhDLspec against {survey}: {len(mine)} stars in common")
    return fig


def _delta_panel(ax: Axes, teff: np.ndarray, d: np.ndarray, name: str) -> None:
    """Δ against Teff with its binned median (N_BINS equal-width Teff bins) and robust σ."""
    ok = _finite(teff, d)
    if not ok.any():
        _no_data(ax)
        return
    teff, d = teff[ok], d[ok]
    ax.scatter(teff, d, s=4, color="0.5", edgecolors="none", gid="delta")
    ax.axhline(0.0, color="0.3", lw=0.6)
    edges = np.linspace(teff.min(), np.nextafter(teff.max(), np.inf), N_BINS + 1)
    xb, yb = binned_medians(teff, d, edges, MIN_PER_BIN)
    ax.plot(xb, yb, color="k", lw=1.2, gid="binned median")
    fmt, unit = _fmt(name)
    _corner(ax, f"σ = {robust_std(d):{fmt}} {unit}", right=True)


def delta_vs_teff(
    ours: Any,
    reference: Any,
    labels: Sequence[str],
    *,
    survey: str,
    hot_teff: float | None = None,
) -> Figure:
    """Δ = ours − ``survey`` of each label (K or dex) against our Teff (K), one panel per label,
    for the stars shared by source_id: grey points, the median in N_BINS equal-width Teff bins
    (bins with fewer than MIN_PER_BIN stars left out; black line) and, if ``hot_teff`` is given
    (e.g. :data:`phdl.paper.VALIDATION_HOT_TEFF`), a dotted vertical line there.
    """
    names = [_label(n) for n in labels]
    mine, theirs = _matched(ours, reference, names, "Teff")
    fig, axes = _grid(len(names), 3, sharex=True, size=3.0)
    teff = values(mine, "Teff")
    for ax, name in zip(axes, names, strict=True):
        _delta_panel(ax, teff, values(mine, name) - values(theirs, name), name)
        if hot_teff is not None:
            ax.axvline(hot_teff, ls=":", color="tab:red", lw=1.0, gid="hot_teff")
        ax.set_ylabel(f"Δ{name} (PhDLspec − {survey}) [{_fmt(name)[1]}]", fontsize=7)
    fig.supxlabel("Teff (PhDLspec) [K]")
    fig.suptitle(f"PhDLspec − {survey} against Teff: {len(mine)} stars in common")
    return fig
