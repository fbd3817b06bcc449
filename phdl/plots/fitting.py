"""Figures of the fitting chapters: Figure 4 (gradient spectra, ab initio vs emulators),
Figure 5 (one-to-one recovery) and Figure 6 (correlation matrices); conventions in
:mod:`phdl.plots`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from phdl.labels import UNITS

_COLORS = ("k", "tab:red", "tab:blue", "tab:green", "tab:purple")


def fig4_gradients(
    wavelength: np.ndarray,
    gradients: Mapping[str, np.ndarray],
    labels_to_show: Sequence[str],
    label_names: Sequence[str],
    star_names: Sequence[str],
    wl_range: tuple[float, float] = (3750.0, 4400.0),
) -> Figure:
    """Figure 4: gradient spectra of a few labels for a few stars, from several sources.

    ``gradients`` maps a source name ("ab initio", "PhDLspec", "plain Transformer", ...; the
    first is the reference) to an array (n_stars, n_labels, n_pix) of ∂f/∂label per physical
    unit, rows named by ``label_names``. One column per star, two rows per label: the gradient
    spectra, and below them each other source minus the reference. Only ``wl_range`` (Å) is
    drawn.
    """
    wl = np.asarray(wavelength, dtype=float)
    names = list(label_names)
    sources = list(gradients)
    if not sources:
        raise ValueError("gradients is empty")
    arrays = {s: np.asarray(g, dtype=float) for s, g in gradients.items()}
    shape = (len(star_names), len(names), wl.size)
    for s, g in arrays.items():
        if g.shape != shape:
            raise ValueError(f"gradients[{s!r}] must have shape {shape}; got {g.shape}")
    missing = [lab for lab in labels_to_show if lab not in names]
    if missing or not labels_to_show:
        raise ValueError(f"labels_to_show must be non-empty and in label_names; missing {missing}")
    m = (wl >= wl_range[0]) & (wl <= wl_range[1])
    if not m.any():
        raise ValueError(f"no pixel inside wl_range {wl_range}")
    n_rows, n_cols = 2 * len(labels_to_show), len(star_names)
    ratios = [2.0, 1.0] * len(labels_to_show)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.6 * n_cols, 1.6 * n_rows + 0.8),
                             sharex=True, squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": ratios})  # fmt: skip
    ref = sources[0]
    for j, star in enumerate(star_names):
        for i, lab in enumerate(labels_to_show):
            k = names.index(lab)
            top, bottom = axes[2 * i, j], axes[2 * i + 1, j]
            for c, s in enumerate(sources):
                g = arrays[s][j, k, m]
                top.plot(wl[m], g, lw=0.8, color=_COLORS[c % len(_COLORS)], label=s,
                         alpha=1.0 if c == 0 else 0.8)  # fmt: skip
                if c:
                    bottom.plot(wl[m], g - arrays[ref][j, k, m], lw=0.7,
                                color=_COLORS[c % len(_COLORS)])  # fmt: skip
            bottom.axhline(0.0, color="0.6", lw=0.5)
            if j == 0:
                unit = UNITS.get(lab, "dex")
                top.set_ylabel(f"∂f/∂{lab}\n[per {unit}]", fontsize=8)
                bottom.set_ylabel("minus\nab initio", fontsize=8)
            if i == 0:
                top.set_title(star, fontsize=9)
            for ax in (top, bottom):
                ax.tick_params(labelsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("vacuum wavelength [Å]")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    return fig


def fig5_one_to_one(
    truth: np.ndarray,
    fitted: np.ndarray,
    names: Sequence[str],
    feh: np.ndarray,
    ncols: int = 6,
) -> Figure:
    """Figure 5: fitted against true labels, one panel per label, coloured by true [Fe/H].

    ``truth`` and ``fitted`` are (n_stars, k) in physical units for the labels ``names``;
    ``feh`` (n_stars,) dex. Each panel gives the bias (mean fitted − true) and σ (standard
    deviation of fitted − true) of the finite pairs.
    """
    truth, fitted = np.asarray(truth, dtype=float), np.asarray(fitted, dtype=float)
    names = list(names)
    if truth.shape != fitted.shape or truth.ndim != 2 or truth.shape[1] != len(names):
        raise ValueError(f"truth and fitted must both be (n, {len(names)}); got "
                         f"{truth.shape} and {fitted.shape}")  # fmt: skip
    feh = np.asarray(feh, dtype=float)
    if feh.shape != (truth.shape[0],):
        raise ValueError(f"feh must be ({truth.shape[0]},); got {feh.shape}")
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.5 * nrows),
                             squeeze=False, layout="constrained")  # fmt: skip
    sc = None
    for ax, (k, name) in zip(axes.flat, enumerate(names), strict=False):
        t, f = truth[:, k], fitted[:, k]
        ok = np.isfinite(t) & np.isfinite(f)
        sc = ax.scatter(t[ok], f[ok], c=feh[ok], s=8, cmap="viridis", vmin=-4.0, vmax=0.5,
                        edgecolors="none")  # fmt: skip
        if ok.any():
            lo, hi = float(min(t[ok].min(), f[ok].min())), float(max(t[ok].max(), f[ok].max()))
            ax.plot([lo, hi], [lo, hi], color="0.4", lw=0.8)
            d = f[ok] - t[ok]
            unit = UNITS.get(name, "dex")
            fmt = ".0f" if unit == "K" else ".3f"
            ax.text(0.04, 0.96, f"bias {d.mean():{fmt}}\nσ {d.std():{fmt}} {unit}",
                    transform=ax.transAxes, va="top", fontsize=7)  # fmt: skip
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    if sc is not None:
        fig.colorbar(sc, ax=axes, label="true [Fe/H] [dex]", shrink=0.6)
    fig.supxlabel("true (ab initio) label")
    fig.supylabel("fitted label")
    return fig


def fig6_correlations(matrices: Mapping[str, np.ndarray], names: Sequence[str]) -> Figure:
    """Figure 6: labelled heatmaps of correlation matrices side by side (colour range −1..1).

    ``matrices`` maps a title to a (k, k) matrix over the labels ``names``.
    """
    names = list(names)
    k = len(names)
    if not matrices:
        raise ValueError("matrices is empty")
    for title, mat in matrices.items():
        if np.shape(mat) != (k, k):
            raise ValueError(f"matrix {title!r} must be ({k}, {k}); got {np.shape(mat)}")
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(7.2 * n, 6.6), squeeze=False, layout="constrained")
    im = None
    for ax, (title, mat) in zip(axes[0], matrices.items(), strict=True):
        im = ax.imshow(np.asarray(mat, dtype=float), cmap="RdBu_r", vmin=-1.0, vmax=1.0)
        ax.set_xticks(range(k), names, rotation=90, fontsize=7)
        ax.set_yticks(range(k), names, fontsize=7)
        ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=axes, shrink=0.8, label="Pearson correlation")
    return fig
