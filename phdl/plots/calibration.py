"""Figures of the calibration chapter (§4.1-4.2): Figure 7 (atmospheric parameters against a
reference, with the dwarf and giant splines), Figures 8 and 16 (wide-binary Δ[X/Fe] after and
before the Teff step), Figure 9 (the logg trends of ours and of the reference) and the bias of
each calibration stage against the truth. Conventions in :mod:`phdl.plots`.

These functions only draw: the corrections come in as fitted objects of :mod:`phdl.calibrate`
(read, never refitted), the tables as astropy Tables (or DataFrames) in phdl column names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from astropy.table import Table
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from phdl.calibrate.atm import ATM_LABELS, AtmSplines, is_giant
from phdl.calibrate.binaries import pair_rows
from phdl.calibrate.catalogs import as_table, require, symbol, values, xfe
from phdl.calibrate.logg_trend import LoggTrend
from phdl.calibrate.smooth import robust_std
from phdl.calibrate.teff_trend import TeffTrend
from phdl.labels import UNITS
from phdl.paper import ATM_SIGMA_AFTER, LOGG_TREND_FEH_MIN

#: logg (dex) at which Figure 7 reads the dwarf and the giant spline of :class:`AtmSplines`.
DWARF_LOGG: float = 4.5
GIANT_LOGG: float = 2.5
#: Binned median of the Δ panels: number of equal-width Teff bins, fewest stars drawn in a bin.
N_BINS: int = 8
MIN_PER_BIN: int = 5
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


# ----------------------------------------------------------------------------------- helpers
def _columns(table: Any, names: Sequence[str], what: str) -> dict[str, np.ndarray]:
    """Columns ``names`` of catalogue ``what`` as float arrays (masked → NaN); ValueError
    naming the catalogue and the first missing column."""
    table = as_table(table, what)
    require(table, list(names), what)
    return {name: values(table, name) for name in names}


def _panels(n: int, *, sharey: bool, size: float = 2.3) -> tuple[Figure, list[Axes]]:
    """A near-square grid of ``n`` panels with shared x (5×5 for 25); extra cells hidden."""
    if n < 1:
        raise ValueError("elements is empty: nothing to draw")
    ncols = int(np.ceil(np.sqrt(n)))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols + 1.2, 0.85 * size * nrows + 0.6),
                             sharex=True, sharey=sharey, squeeze=False,
                             layout="constrained")  # fmt: skip
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes.flat[:n]:
        ax.tick_params(labelsize=7)
    return fig, list(axes.flat[:n])


def _lookup(mapping: Mapping[str, Any], name: str) -> Any:
    """``mapping``'s entry for element ``name`` keyed by symbol ("Mg") or column ("[Mg/Fe]")."""
    return mapping.get(symbol(name), mapping.get(xfe(name)))


def _binned_median(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bin centres, medians of y) in N_BINS equal-width bins of x; bins with fewer than
    MIN_PER_BIN stars are left out."""
    if x.size < MIN_PER_BIN:
        return np.empty(0), np.empty(0)
    edges = np.linspace(x.min(), x.max(), N_BINS + 1)
    which = np.clip(np.digitize(x, edges) - 1, 0, N_BINS - 1)
    full = [k for k in range(N_BINS) if np.sum(which == k) >= MIN_PER_BIN]
    centres = 0.5 * (edges[:-1] + edges[1:])
    return centres[full], np.array([np.median(y[which == k]) for k in full])


def _corner(ax: Axes, text: str, right: bool = False, size: float = 7) -> None:
    """``text`` in the upper left (or right) corner of ``ax``, on a faint white box."""
    ax.text(0.96 if right else 0.04, 0.94, text, transform=ax.transAxes, va="top", zorder=5,
            ha="right" if right else "left", fontsize=size,
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1.0})  # fmt: skip


# -------------------------------------------------------------------------------- Figure 7
def _aligned(ours: Any, reference: Any) -> None:
    """ValueError unless the two tables are cross-matched row by row (length, source_id)."""
    if len(ours) != len(reference):
        raise ValueError(
            f"ours has {len(ours)} rows, reference {len(reference)}: "
            "pass the cross-matched rows, one per star, in the same order"
        )
    cols = set(ours.colnames) & set(reference.colnames)
    same = "source_id" in cols and np.array_equal(ours["source_id"], reference["source_id"])
    if "source_id" in cols and not same:
        raise ValueError("column 'source_id' differs between ours and reference row by row")


def _fig7_splines(
    ax: Axes, splines: AtmSplines, name: str, teff: np.ndarray, giant: np.ndarray
) -> None:
    """The dwarf (red) and giant (blue) spline over each group's Teff range."""
    for group, sel, logg, color in (("dwarf", ~giant, DWARF_LOGG, "tab:red"),
                                    ("giant", giant, GIANT_LOGG, "tab:blue")):  # fmt: skip
        sel = sel & np.isfinite(teff)
        if sel.any():
            grid = np.linspace(teff[sel].min(), teff[sel].max(), 200)
            y = splines(grid, np.full(grid.shape, logg))[name]
            ax.plot(grid, y, ls="--", lw=1.4, color=color, label=f"{group} spline",
                    gid=f"{group} spline")  # fmt: skip


def _fig7_panel(
    ax: Axes,
    name: str,
    teff: np.ndarray,
    logg: np.ndarray,
    giant: np.ndarray,
    resid: np.ndarray,
    correction: np.ndarray,
    norm: Normalize,
    paper: Mapping[str, float],
) -> PathCollection:
    """Residuals of one label: dwarfs ▲ and giants ● coloured by logg, corrected ones black."""
    ok = np.isfinite(resid) & np.isfinite(teff) & np.isfinite(correction)
    for group, sel, marker in (("dwarfs", ~giant, "^"), ("giants", giant, "o")):
        sel = ok & sel
        sc = ax.scatter(teff[sel], resid[sel], c=logg[sel], norm=norm, cmap="viridis", s=14,
                        marker=marker, alpha=0.8, edgecolors="none", label=group,
                        gid=group)  # fmt: skip
    after = resid[ok] - correction[ok]
    ax.scatter(teff[ok], after, s=3, color="k", label="after correction", gid="after")
    ax.axhline(0.0, color="0.5", lw=0.6)
    unit = UNITS.get(name, "dex")
    fmt = ".1f" if unit == "K" else ".3f"
    note = f"σ after = {robust_std(after):{fmt}} {unit}"
    if name in paper:
        note += f" (paper: {paper[name]:g} {unit})"
    _corner(ax, note, size=9)
    ax.set_ylabel(f"Δ{name} (ours − ref.) [{unit}]")
    return sc


def fig7_atm_residuals(
    ours: Any,
    reference: Any,
    splines: AtmSplines,
    *,
    paper_sigma: Mapping[str, float] = ATM_SIGMA_AFTER,
) -> Figure:
    """Figure 7: ours − reference of Teff (K), logg and [Fe/H] (dex) against our Teff (K).

    ``ours`` and ``reference`` are already cross-matched row by row (same length and order);
    both hold Teff, logg, [Fe/H], ours uncalibrated. Dwarfs are triangles and giants
    (:func:`phdl.calibrate.atm.is_giant`) circles, coloured by our logg; the dashed lines are
    ``splines``' dwarf (red) and giant (blue) corrections over each group's Teff range (read at
    logg DWARF_LOGG and GIANT_LOGG); black dots are the residuals after subtracting the
    correction, whose robust σ (1.4826 MAD) each panel gives beside ``paper_sigma``.
    """
    mine = _columns(ours, ATM_LABELS, "ours")
    theirs = _columns(reference, ATM_LABELS, "reference")
    _aligned(as_table(ours, "ours"), as_table(reference, "reference"))
    for name in ATM_LABELS:
        if name not in splines.splines:
            raise ValueError(f"splines have no correction for {name!r}")
    teff, logg = mine["Teff"], mine["logg"]
    giant, corrections = is_giant(teff, logg), splines(teff, logg)
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 9.0), sharex=True, layout="constrained")
    norm = Normalize(np.nanmin(logg), np.nanmax(logg))
    for ax, name in zip(axes, ATM_LABELS, strict=True):
        resid = mine[name] - theirs[name]
        sc = _fig7_panel(ax, name, teff, logg, giant, resid, corrections[name], norm, paper_sigma)
        _fig7_splines(ax, splines, name, teff, giant)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=5,
               fontsize=8)  # fmt: skip
    axes[-1].set_xlabel("Teff (PhDLspec, uncalibrated) [K]")
    fig.colorbar(sc, ax=axes, label="logg (PhDLspec) [dex]", shrink=0.6)
    return fig


# ------------------------------------------------------------------------ Figures 8 and 16
def _delta_panel(
    ax: Axes,
    name: str,
    t1: np.ndarray,
    delta: np.ndarray,
    dteff: np.ndarray,
    norm: Normalize,
) -> PathCollection:
    """Δ of one element against the primary's Teff, coloured by ΔTeff, with the binned median."""
    ok = np.isfinite(delta) & np.isfinite(t1) & np.isfinite(dteff)
    sc = ax.scatter(t1[ok], delta[ok], c=dteff[ok], norm=norm, cmap="coolwarm", s=5,
                    edgecolors="none", zorder=2, gid="delta")  # fmt: skip
    ax.axhline(0.0, color="0.4", lw=0.6, zorder=1)
    xb, yb = _binned_median(t1[ok], delta[ok])
    ax.plot(xb, yb, color="k", lw=0.9, zorder=3, gid="binned median")
    _corner(ax, name)
    _corner(ax, f"σ = {robust_std(delta[ok]):.3f}", right=True)
    return sc


def fig16_binary_deltas(
    pairs: Any,
    elements: Sequence[str],
    *,
    trends: Mapping[str, TeffTrend] | None = None,
    title: str = "",
    ylim: float | None = None,
) -> Figure:
    """Figures 16 (uncalibrated pairs) and 8 (calibrated pairs): Δ[X/Fe] = [X/Fe]_1 − [X/Fe]_2
    (dex) of wide binaries against the primary's (component 1) Teff (K), one panel per element.

    ``pairs``: two rows per pair (``pair_id``; ``component`` 1, 2) with Teff and the [X/Fe] of
    ``elements`` ("Mg" or "[Mg/Fe]"). Points are coloured by ΔTeff = Teff_1 − Teff_2 (K, one
    colour bar); the thin black line is the median in N_BINS Teff bins, σ the robust scatter
    (1.4826 MAD, dex) of Δ. ``trends`` (element symbol → TeffTrend), where given, adds the
    predicted Δ = f(Teff_1) − f(Teff_2) of each pair as small grey dots (elements without a trend
    get none). Shared axes: y from −``ylim`` to ``ylim`` (dex), by default 1.2 × the 99th
    percentile of all |Δ|; the colour scale is symmetric about ΔTeff = 0.
    """
    pairs = as_table(pairs, "pairs")
    names = [xfe(e) for e in elements]
    cols = _columns(pairs, ["pair_id", "component", "Teff", *names], "pairs")
    i1, i2 = pair_rows(pairs, "pair_id", "component")
    t1, t2 = cols["Teff"][i1], cols["Teff"][i2]
    dteff = t1 - t2
    fig, axes = _panels(len(names), sharey=True)
    span = float(np.nanmax(np.abs(dteff))) if np.isfinite(dteff).any() else 1.0
    norm = Normalize(-span, span)
    deltas = [cols[name][i1] - cols[name][i2] for name in names]
    for ax, name, delta in zip(axes, names, deltas, strict=True):
        sc = _delta_panel(ax, name, t1, delta, dteff, norm)
        trend = _lookup(trends or {}, name)
        if trend is not None:
            ax.scatter(t1, trend(t1) - trend(t2), s=1.5, color="0.6", zorder=1.5, gid="predicted")
    every = np.abs(np.concatenate(deltas))
    if ylim is None and np.isfinite(every).any():
        ylim = max(0.05, 1.2 * float(np.nanquantile(every, 0.99)))
    if ylim is not None:
        axes[0].set_ylim(-ylim, ylim)
    fig.colorbar(sc, ax=axes, label="ΔTeff = Teff₁ − Teff₂ [K]", shrink=0.6)
    fig.supxlabel("Teff of the primary (component 1) [K]")
    fig.supylabel("Δ[X/Fe] = [X/Fe]₁ − [X/Fe]₂ [dex]")
    if title:
        fig.suptitle(title)
    return fig


# -------------------------------------------------------------------------------- Figure 9
def _logg_panel(
    ax: Axes,
    name: str,
    ours: tuple[np.ndarray, np.ndarray],
    reference: tuple[np.ndarray, np.ndarray],
    trend: LoggTrend | None,
) -> None:
    """Our and the reference's [X/Fe] against logg, with both spline trends (none drawn, and
    a note, where the calibration has no trend for the element)."""
    ax.scatter(*ours, s=3, color="0.55", edgecolors="none", label="ours", gid="ours")
    ax.scatter(*reference, s=3, color="tab:orange", edgecolors="none", label="reference",
               gid="reference")  # fmt: skip
    logg = np.concatenate([ours[0], reference[0]])
    logg = logg[np.isfinite(logg)]
    if trend is None:
        _corner(ax, "no trend fitted", right=True)
    elif trend.skipped:
        _corner(ax, "no logg correction", right=True)
    elif logg.size:
        grid = np.linspace(logg.min(), logg.max(), 200)
        ax.plot(grid, trend.ours(grid), color="k", lw=1.2, label="ours, spline", gid="ours trend")
        ax.plot(grid, trend.reference(grid), color="tab:red", lw=1.2, ls="--",
                label="reference, spline", gid="reference trend")  # fmt: skip
    _corner(ax, name)


def fig9_logg_trends(
    ours: Any,
    reference: Any,
    trends: Mapping[str, LoggTrend],
    elements: Sequence[str],
    *,
    feh_min: Mapping[str, float] = LOGG_TREND_FEH_MIN,
) -> Figure:
    """Figure 9: [X/Fe] (dex) against logg (dex), ours (grey; after the Teff step, against our
    uncalibrated logg) and the reference's (orange; e.g. Hypatia, against its own logg), one panel
    per element, with the two spline trends each :class:`LoggTrend` stores (``ours``, black;
    ``reference``, red dashed; the correction is their difference). Only stars with [Fe/H]
    above ``feh_min`` ("ours" −0.5, "reference" −0.2 dex: the paper's cuts) are drawn. ``trends``
    is keyed by element symbol (as :func:`phdl.calibrate.fit_logg_trends` gives it); elements the
    calibration skips (C, N) get no lines, and so do elements without a trend (a note says so).
    """
    names = [xfe(e) for e in elements]
    mine = _columns(ours, ["logg", "[Fe/H]", *names], "ours")
    theirs = _columns(reference, ["logg", "[Fe/H]", *names], "reference")
    keep_o, keep_r = mine["[Fe/H]"] > feh_min["ours"], theirs["[Fe/H]"] > feh_min["reference"]
    fig, axes = _panels(len(names), sharey=False)
    for ax, name in zip(axes, names, strict=True):
        _logg_panel(ax, name, (mine["logg"][keep_o], mine[name][keep_o]),
                    (theirs["logg"][keep_r], theirs[name][keep_r]),
                    _lookup(trends, name))  # fmt: skip
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=4,
               fontsize=8, markerscale=3)  # fmt: skip
    fig.supxlabel("logg [dex] (ours uncalibrated; reference its own)")
    fig.supylabel("[X/Fe] [dex]")
    return fig


# ------------------------------------------------------------------- calibration stages
def _score_label(element: str, present: set[str]) -> str:
    """The label of ``element`` as ``scores`` spells it; ValueError naming it if absent."""
    for candidate in (element, xfe(element), symbol(element)):
        if candidate in present:
            return candidate
    raise ValueError(f"scores has no row with {xfe(element)!r} in column 'label'")


def _stage_values(scores: Table, stage: str, labels: Sequence[str], column: str) -> np.ndarray:
    """``column`` of ``stage`` for each of ``labels``; NaN where the stage lacks a label."""
    out = np.full(len(labels), np.nan)
    at_stage = np.asarray(scores["stage"]).astype(str) == stage
    label = np.asarray(scores["label"]).astype(str)
    col = values(scores, column)
    for k, lab in enumerate(labels):
        rows = np.flatnonzero(at_stage & (label == lab))
        if len(rows) > 1:
            raise ValueError(f"scores has {len(rows)} rows for stage {stage!r}, label {lab!r}")
        if len(rows):
            out[k] = col[rows[0]]
    return out


def calibration_stages_figure(
    scores: Any,
    elements: Sequence[str],
    *,
    target: float = 0.03,
    title: str = "",
) -> Figure:
    """The median bias against the truth (top; a symmetric-log axis when a value exceeds 1 dex)
    and its spread with Teff (bottom) of each
    element's [X/Fe] (dex), one marker and colour per calibration stage, slightly offset.

    ``scores``: columns ``stage`` (drawn in order of first appearance), ``label`` ("[Mg/Fe]"),
    ``median`` and ``teff_spread`` (dex); one row per stage and label at most. ``elements``
    sets the x order ("Mg" or "[Mg/Fe]"). The grey band is ±``target`` (dex), the dashed line
    ``target``.
    """
    scores = as_table(scores, "scores")
    require(scores, ["stage", "label", "median", "teff_spread"], "scores")
    stages = list(dict.fromkeys(np.asarray(scores["stage"]).astype(str)))
    if not stages or not elements:
        raise ValueError("scores and elements must be non-empty")
    present = set(np.asarray(scores["label"]).astype(str))
    labels = [_score_label(e, present) for e in elements]
    x, width = np.arange(len(labels)), 0.6 / len(stages)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 0.42 * len(labels) + 2.0), 6.0),
                                      sharex=True, layout="constrained")  # fmt: skip
    top.axhspan(-target, target, color="0.9", label=f"±{target:g} dex")
    top.axhline(0.0, color="0.5", lw=0.6)
    bottom.axhline(target, color="0.5", lw=0.8, ls="--", label=f"{target:g} dex")
    for k, stage in enumerate(stages):
        dx = (k - (len(stages) - 1) / 2) * width
        style = {"ls": "none", "marker": _MARKERS[k % len(_MARKERS)], "color": f"C{k}", "ms": 5}
        top.plot(x + dx, _stage_values(scores, stage, labels, "median"), label=stage, **style)
        bottom.plot(x + dx, _stage_values(scores, stage, labels, "teff_spread"), **style)
    top.set_ylabel("median bias vs truth [dex]")
    medians = values(scores, "median")
    if np.nanmax(np.abs(medians), initial=0.0) > 1.0:  # e.g. f(Teff) before its zero point
        top.set_yscale("symlog", linthresh=0.1)
        top.set_ylabel("median bias vs truth [dex]\n(linear within ±0.1, log beyond)")
    bottom.set_ylabel("spread of the bias with Teff [dex]")
    bottom.set_xticks(x, labels, rotation=90, fontsize=8)
    bottom.set_ylim(bottom=0.0)
    fig.legend(*top.get_legend_handles_labels(), loc="outside lower center", fontsize=8,
               ncols=min(len(stages) + 1, 5))  # fmt: skip
    if title:
        fig.suptitle(title)
    return fig
