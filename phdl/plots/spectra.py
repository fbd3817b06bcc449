"""Figures of spectra: the grid (Figure 2), spectra with their features, gradient spectra and
the per-element sensitivity (conventions in :mod:`phdl.plots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from phdl.labels import LABELS, UNITS, index


class Feature(NamedTuple):
    """A spectral feature: ``kind`` "line" (a tick at each wavelength) or "band" (shade lo-hi)."""

    kind: str
    wavelengths: tuple[float, ...]


#: Main features of FGK spectra at LAMOST resolution, vacuum wavelengths in Å.
FEATURES: dict[str, Feature] = {
    "Ca II K": Feature("line", (3934.78,)),
    "Ca II H": Feature("line", (3969.59,)),
    "Hδ": Feature("line", (4102.89,)),
    "G band (CH)": Feature("band", (4300.0, 4315.0)),
    "Hγ": Feature("line", (4341.68,)),
    "Hβ": Feature("line", (4862.68,)),
    "Mg b": Feature("line", (5168.76, 5174.13, 5185.05)),
    "Na D": Feature("line", (5891.58, 5897.56)),
    "Hα": Feature("line", (6564.61,)),
    "Ca II triplet": Feature("line", (8500.36, 8544.44, 8664.52)),
}


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def fig2_grid(labels: np.ndarray, ax: Axes | None = None) -> Figure:
    """Figure 2: the grid in the Teff-logg plane, coloured by [Fe/H].

    ``labels`` is (n, 34) in physical units (Teff in K, logg in dex cgs, [Fe/H] in dex), columns
    in the order of :data:`phdl.labels.LABELS`. Both axes are inverted as in an HR diagram (hot
    stars left, giants up). Returns the Figure (with the colorbar as a second axes).
    """
    labels = np.atleast_2d(np.asarray(labels, dtype=float))
    if labels.ndim != 2 or labels.shape[1] != len(LABELS):
        raise ValueError(f"labels must have shape (n, {len(LABELS)}); got {labels.shape}")
    fig, ax = _new_axes(ax, (6.0, 5.0))
    teff, logg, feh = (labels[:, index(k)] for k in ("Teff", "logg", "[Fe/H]"))
    size = 30.0 if len(labels) < 200 else 10.0 if len(labels) < 2000 else 4.0
    order = np.argsort(feh)  # metal-rich on top
    sc = ax.scatter(
        teff[order],
        logg[order],
        c=feh[order],
        s=size,
        cmap="viridis",
        vmin=-4.0,
        vmax=0.5,
        edgecolors="none",
        alpha=0.85,
    )
    fig.colorbar(sc, ax=ax, label="[Fe/H] [dex]")
    ax.set_xlabel(r"$T_\mathrm{eff}$ [K]")
    ax.set_ylabel(r"$\log g$ [dex, cgs]")
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    if not ax.yaxis_inverted():
        ax.invert_yaxis()
    ax.set_title(f"Training grid: N = {len(labels):,} spectra")
    ax.grid(alpha=0.3)
    return fig


def _mark_features(ax: Axes, features: Mapping[str, Feature], lo: float, hi: float) -> None:
    """Tick/shade each feature in ``ax`` and label it, staggering labels that would overlap."""
    trans = ax.get_xaxis_transform()  # x in data (Å), y in axes fraction
    fig = ax.figure
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    placed: list[list[tuple[float, float]]] = []  # per level: (x0, x1) of labels, display px
    for name, feat in sorted(features.items(), key=lambda kv: min(kv[1].wavelengths)):
        wl = [w for w in feat.wavelengths if lo <= w <= hi]
        if not wl:
            continue
        color = "tab:orange" if feat.kind == "band" else "tab:red"
        if feat.kind == "band":
            ax.axvspan(min(feat.wavelengths), max(feat.wavelengths), color=color, alpha=0.25, lw=0)
        else:
            for w in wl:
                ax.axvline(w, color=color, lw=0.8, alpha=0.6, ls="--")
        x = float(np.mean(feat.wavelengths))
        for level in range(8):
            y = 0.97 - 0.065 * level
            bbox = {"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5}
            text = ax.text(x, y, name, transform=trans, ha="center", va="top", fontsize=8,
                           color=color, bbox=bbox)  # fmt: skip
            box = text.get_window_extent(renderer)
            if len(placed) <= level:
                placed.append([])
            if all(box.x1 + 2 < a or box.x0 - 2 > b for a, b in placed[level]):
                placed[level].append((box.x0, box.x1))
                break
            text.remove()


def spectrum_with_features(
    wavelength: np.ndarray,
    flux: np.ndarray,
    features: Mapping[str, Feature] | None = None,
    names: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A normalized spectrum with its main features marked and labelled.

    ``wavelength`` (n_pix,) vacuum Å; ``flux`` (n_pix,) normalized flux, or (k, n_pix) for k
    spectra overlaid (``names`` gives their legend entries). ``features`` maps a name to a
    :class:`Feature` (default :data:`FEATURES`; ``{}`` marks nothing). Returns the Figure.
    """
    wavelength = np.asarray(wavelength, dtype=float)
    flux = np.atleast_2d(np.asarray(flux, dtype=float))
    if flux.ndim != 2 or flux.shape[1] != wavelength.shape[0]:
        raise ValueError(
            f"flux must have shape ({wavelength.shape[0]},) or (k, {wavelength.shape[0]}) "
            f"to match wavelength; got {flux.shape}"
        )
    if names is not None and len(names) != len(flux):
        raise ValueError(f"names has {len(names)} entries for {len(flux)} spectra")
    fig, ax = _new_axes(ax, (13.0, 4.2))
    for k, f in enumerate(flux):
        ax.plot(wavelength, f, lw=0.7, label=None if names is None else names[k])
    lo, hi = float(wavelength[0]), float(wavelength[-1])
    ax.set_xlim(lo, hi)
    ymax = max(1.1, float(np.nanmax(flux)) + 0.05)
    ax.set_ylim(min(0.0, float(np.nanmin(flux))) - 0.02, ymax + 0.45)
    ax.set_xlabel("vacuum wavelength [Å]")
    ax.set_ylabel("normalized flux")
    _mark_features(ax, FEATURES if features is None else features, lo, hi)
    if names is not None:
        ax.legend(loc="lower right", fontsize=8)
    return fig


def gradient_spectra(
    wavelength: np.ndarray,
    gradients: np.ndarray,
    labels_to_show: Sequence[str],
    names: Sequence[str] = LABELS,
    star_names: Sequence[str] | None = None,
) -> Figure:
    """Stacked panels of gradient spectra ∂f/∂label, one panel per label, shared wavelength axis.

    ``wavelength`` (n_pix,) vacuum Å; ``gradients`` (n_labels, n_pix) for one star or
    (k, n_labels, n_pix) for k stars overlaid, ∂(normalized flux)/∂label per physical unit, rows
    named by ``names`` (default :data:`phdl.labels.LABELS`). Teff is shown per 100 K (the
    gradient times 100), vmic per km/s, every other label per dex. Returns the Figure.
    """
    wavelength = np.asarray(wavelength, dtype=float)
    grads = np.asarray(gradients, dtype=float)
    if grads.ndim == 2:
        grads = grads[None]
    names = list(names)
    if grads.ndim != 3 or grads.shape[1:] != (len(names), wavelength.shape[0]):
        raise ValueError(
            f"gradients must have shape ({len(names)}, {wavelength.shape[0]}) or "
            f"(k, {len(names)}, {wavelength.shape[0]}) for {len(names)} names; got {grads.shape}"
        )
    if star_names is not None and len(star_names) != len(grads):
        raise ValueError(f"star_names has {len(star_names)} entries for {len(grads)} stars")
    unknown = [label for label in labels_to_show if label not in names]
    if unknown or not labels_to_show:
        raise ValueError(f"labels_to_show must be a non-empty subset of names; unknown: {unknown}")
    n = len(labels_to_show)
    fig, axes = plt.subplots(
        n, 1, figsize=(13.0, 1.45 * n + 0.8), sharex=True, layout="constrained", squeeze=False
    )
    for ax, label in zip(axes[:, 0], labels_to_show, strict=True):
        factor, unit = (100.0, "100 K") if label == "Teff" else (1.0, UNITS.get(label, "dex"))
        for k, g in enumerate(grads[:, names.index(label)]):
            ax.plot(
                wavelength, factor * g, lw=0.7, label=None if star_names is None else star_names[k]
            )
        ax.axhline(0.0, color="0.6", lw=0.5)
        ax.set_ylabel(f"∂f/∂{label}\n[per {unit}]", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0, 0].set_xlim(wavelength[0], wavelength[-1])
    axes[-1, 0].set_xlabel("vacuum wavelength [Å]")
    if star_names is not None:
        axes[0, 0].legend(loc="lower right", fontsize=8, ncol=len(star_names))
    return fig


def element_sensitivity(table, ax: Axes | None = None) -> Figure:
    """Bar chart of the strongest |∂f/∂[X/Fe]| of every element, one bar group per star.

    ``table`` is the output of :func:`phdl.synth.diagnostics.gradient_table`: a row per element
    and, per star, a column ``max |df/d[X/Fe]| <star>`` (normalized flux per dex). The y axis
    is logarithmic, with the 1 % (S/N 100 per pixel) level drawn for reference.
    """
    cols = [c for c in table.colnames if c.startswith("max |df/d[X/Fe]| ")]
    if not cols:
        raise ValueError("table has no 'max |df/d[X/Fe]| <star>' column")
    elements = [str(e) for e in table["element"]]
    fig, ax = _new_axes(ax, (13.0, 3.8))
    x = np.arange(len(elements))
    width = 0.8 / len(cols)
    for k, col in enumerate(cols):
        values = np.asarray(table[col], dtype=float)
        ax.bar(x + (k - (len(cols) - 1) / 2) * width, np.maximum(values, 1e-7), width,
               label=col.removeprefix("max |df/d[X/Fe]| "))  # fmt: skip
    ax.axhline(0.01, color="0.3", ls=":", lw=1.0, label="1 % (noise at S/N 100)")
    ax.set_yscale("log")
    ax.set_xticks(x, [f"[{e}/Fe]" for e in elements], rotation=60, fontsize=8)
    ax.set_ylabel("max |∂f/∂[X/Fe]| [per dex]")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return fig
