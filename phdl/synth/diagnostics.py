"""Diagnostics of gradient spectra: where, and how strongly, each element shapes the spectrum.

Units: wavelengths in Å (vacuum); gradients ∂(normalized flux)/∂[X/Fe] per dex, as returned by
``Synthesizer(labels, with_gradients=True)`` and stored in a grid file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from astropy.table import Table

from phdl.labels import ELEMENTS, LABELS


def _check(wavelength: np.ndarray, gradients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    wavelength = np.asarray(wavelength, dtype=float)
    grads = np.asarray(gradients, dtype=float)
    if grads.ndim == 3 and grads.shape[0] == 1:
        grads = grads[0]
    if wavelength.ndim != 1 or grads.shape != (len(LABELS), wavelength.shape[0]):
        raise ValueError(
            f"gradients must have shape ({len(LABELS)}, n_pix) for one star, labels in the order "
            f"of phdl.labels.LABELS, with n_pix = len(wavelength) = {wavelength.shape}; "
            f"got {grads.shape}"
        )
    return wavelength, grads


def _peaks(a: np.ndarray, top: int) -> np.ndarray:
    """Indices of the ``top`` largest local maxima of ``a`` (plateaus count once), largest first."""
    left = np.r_[-np.inf, a[:-1]]
    right = np.r_[a[1:], -np.inf]
    cand = np.flatnonzero((a > left) & (a >= right))
    if cand.size == 0:
        cand = np.array([int(np.argmax(a))])
    return cand[np.argsort(a[cand], kind="stable")[::-1][:top]]


def strongest_gradients(
    wavelength: np.ndarray, gradients: np.ndarray, top: int = 1
) -> list[dict[str, Any]]:
    """For each of the 30 elements: the strongest response of the spectrum to its [X/Fe].

    ``wavelength`` (n_pix,) vacuum Å; ``gradients`` (34, n_pix) of one star (or (1, 34, n_pix)).
    Returns one dict per element of :data:`phdl.labels.ELEMENTS`, in that order, with
    ``element``, ``label`` ("[X/Fe]"), ``max_abs`` (max over pixels of |∂f/∂[X/Fe]|, per dex),
    ``wavelength`` (Å where it occurs), ``median_abs`` (median over pixels of |∂f/∂[X/Fe]|,
    per dex), and ``peak_wavelengths`` / ``peak_values`` (Å / per dex, signed): the ``top``
    strongest local maxima of |∂f/∂[X/Fe]|, largest first.
    """
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    wavelength, grads = _check(wavelength, gradients)
    out = []
    for element in ELEMENTS:
        label = f"[{element}/Fe]"
        g = grads[LABELS.index(label)]
        a = np.abs(g)
        k = int(np.argmax(a))
        peaks = _peaks(a, int(top))
        out.append({
            "element": element,
            "label": label,
            "max_abs": float(a[k]),
            "wavelength": float(wavelength[k]),
            "median_abs": float(np.median(a)),
            "peak_wavelengths": [float(wavelength[i]) for i in peaks],
            "peak_values": [float(g[i]) for i in peaks],
        })  # fmt: skip
    return out


def gradient_table(wavelength: np.ndarray, gradients: Mapping[str, np.ndarray]) -> Table:
    """Table of the strongest [X/Fe] gradient per element for several stars.

    ``gradients`` maps a star's name to its (34, n_pix) gradient spectra. One row per element;
    columns ``element`` and, per star, ``max |df/d[X/Fe]| <star>`` (per dex),
    ``at Å <star>`` (vacuum Å) and ``median |df/d[X/Fe]| <star>`` (per dex).
    """
    if not gradients:
        raise ValueError("gradients is empty: give at least one star")
    table = Table({"element": list(ELEMENTS)})
    for star, grads in gradients.items():
        rows = strongest_gradients(wavelength, grads)
        table[f"max |df/d[X/Fe]| {star}"] = [r["max_abs"] for r in rows]
        table[f"at Å {star}"] = [r["wavelength"] for r in rows]
        table[f"median |df/d[X/Fe]| {star}"] = [r["median_abs"] for r in rows]
        table[f"max |df/d[X/Fe]| {star}"].format = ".4f"
        table[f"at Å {star}"].format = ".1f"
        table[f"median |df/d[X/Fe]| {star}"].format = ".2e"
    return table


def sensitivity_table(syn: Any, stars: Mapping[str, np.ndarray]) -> Table:
    """Synthesize ``stars`` (name -> (34,) physical labels) with gradients; :func:`gradient_table`.

    ``syn`` is a :class:`phdl.synth.Synthesizer` (or anything with its interface); all stars
    are synthesized in one batch.
    """
    if not stars:
        raise ValueError("stars is empty: give at least one name -> (34,) label vector")
    labels = np.stack([np.asarray(v, dtype=float).reshape(len(LABELS)) for v in stars.values()])
    _, grads = syn(labels, with_gradients=True)
    grads = np.asarray(grads)
    return gradient_table(syn.wavelength, dict(zip(stars, grads, strict=True)))


def weakest_elements(table: Table, n: int = 5) -> list[tuple[str, float]]:
    """The ``n`` elements whose strongest gradient, over all stars of ``table``, is smallest.

    Returns (element, max over stars of max |∂f/∂[X/Fe]| per dex), weakest first.
    """
    cols = [c for c in table.colnames if c.startswith("max |df/d[X/Fe]| ")]
    if not cols:
        raise ValueError("table has no 'max |df/d[X/Fe]| <star>' column")
    best = np.max(np.stack([np.asarray(table[c], dtype=float) for c in cols]), axis=0)
    order = np.argsort(best, kind="stable")[:n]
    return [(str(table["element"][i]), float(best[i])) for i in order]
