"""Calibrated labels against the surveys (§4.4): APOGEE DR17, GALAH DR3, LAMOST DD-Payne.

:func:`compare` gives, per label, the offset and dispersion of Δ = ours − reference over the
stars in common (Figures 12–14). The paper quotes plain standard deviations (73 K, 0.12 dex and
0.07 dex against APOGEE DR17, :data:`phdl.paper.APOGEE_DISPERSION`), so ``sigma`` is the plain
std (ddof=1); ``robust_sigma`` (1.4826 × MAD, :func:`phdl.calibrate.smooth.robust_std`) is the
same spread without the outliers. Split at a Teff (:data:`phdl.paper.VALIDATION_HOT_TEFF`,
ours' Teff), it shows where the hot stars differ (APOGEE's Teff runs low above 6000 K).

:func:`dispersion_budget` needs the truth, which the simulated sky has: it splits the
dispersion of Δ into ours' and the reference's errors. It uses robust_std throughout, so that a
few outliers do not decide whose error dominates; then sigma_delta ≈ sigma_quadrature when the
two catalogues' errors are independent.

Teff is in K, every other label in dex. Labels are column names ("Teff", "[Fe/H]") or element
symbols ("Mg" for "[Mg/Fe]"); tables are matched by ``source_id``
(:func:`phdl.calibrate.catalogs.crossmatch`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

from phdl.calibrate.catalogs import as_table, crossmatch, require
from phdl.calibrate.smooth import robust_std
from phdl.validate.common import column, finite_std, label_column

__all__ = ["compare", "dispersion_budget", "survey_labels"]

_ROW = "_validate_row"
_BUDGET = ("label", "n", "sigma_delta", "sigma_ours", "sigma_reference", "sigma_quadrature",
           "share_ours")  # fmt: skip


def _median(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else float("nan")


def _split(delta: np.ndarray, teff: np.ndarray, teff_split: float) -> dict[str, float]:
    cool, hot = teff < teff_split, teff >= teff_split
    return {
        "n_cool": int(cool.sum()), "n_hot": int(hot.sum()),
        "median_cool": _median(delta[cool]), "median_hot": _median(delta[hot]),
        "sigma_cool": finite_std(delta[cool]), "sigma_hot": finite_std(delta[hot]),
    }  # fmt: skip


def compare(ours, reference, labels: Sequence[str], *, teff_split: float | None = None) -> Table:
    """Per label, Δ = ours − reference over the stars in common (by ``source_id``):

    ``label`` (the column name), ``n`` (stars with both finite), ``median_delta``, ``sigma``
    (std, ddof=1), ``robust_sigma`` (robust_std of Δ). With ``teff_split`` (K; ours' Teff
    decides), also ``n_cool``, ``n_hot``, ``median_cool``, ``median_hot``, ``sigma_cool`` and
    ``sigma_hot`` (plain std) for the stars below and at-or-above it. K for Teff, dex otherwise.

    ValueError naming a missing column, or when the catalogues share no star.
    """
    ours, reference = as_table(ours, "ours"), as_table(reference, "reference")
    names = [label_column(label) for label in labels]
    if teff_split is not None:
        require(ours, ["Teff"], "ours")
    ours, reference = crossmatch(ours, reference, names)
    teff = column(ours, "Teff", "ours") if teff_split is not None else None
    rows = []
    for name in names:
        delta = column(ours, name, "ours") - column(reference, name, "reference")
        delta[~np.isfinite(delta)] = np.nan
        row = {"label": name, "n": int(np.isfinite(delta).sum()), "median_delta": _median(delta)}
        row |= {"sigma": finite_std(delta), "robust_sigma": robust_std(delta)}
        if teff is not None:
            row |= _split(delta, teff, teff_split)
        rows.append(row)
    return Table(rows=rows, names=list(rows[0])) if rows else Table()


def dispersion_budget(ours, reference, truth, labels: Sequence[str]) -> Table:
    """Per label, whose errors make the dispersion of ours − reference (all three tables
    matched by ``source_id``; robust_std throughout, over the stars with all three finite):

    ``label``, ``n``, ``sigma_delta`` (of ours − reference), ``sigma_ours`` (of ours − truth),
    ``sigma_reference`` (of reference − truth), ``sigma_quadrature`` = hypot(sigma_ours,
    sigma_reference), ``share_ours`` = sigma_ours² / (sigma_ours² + sigma_reference²).
    K for Teff, dex otherwise; ValueError naming a missing column or an empty match.
    """
    names = [label_column(label) for label in labels]
    ours, reference = crossmatch(as_table(ours, "ours"), as_table(reference, "reference"), names)
    ours[_ROW] = np.arange(len(ours))  # ours is a fresh slice: where each star is in reference
    ours, truth = crossmatch(ours, as_table(truth, "truth"), names, catalogs=("ours", "truth"))
    reference = reference[np.asarray(ours[_ROW])]
    rows = []
    for name in names:
        a, b = column(ours, name, "ours"), column(reference, name, "reference")
        t = column(truth, name, "truth")
        ok = np.isfinite(a) & np.isfinite(b) & np.isfinite(t)
        s_ours, s_ref = robust_std(a[ok] - t[ok]), robust_std(b[ok] - t[ok])
        total = s_ours**2 + s_ref**2
        share = s_ours**2 / total if total > 0 else np.nan
        s_delta, s_quad = robust_std(a[ok] - b[ok]), float(np.hypot(s_ours, s_ref))
        rows.append((name, int(ok.sum()), s_delta, s_ours, s_ref, s_quad, share))
    return Table(rows=rows, names=_BUDGET)


def survey_labels(reference: Table, k: int | None = None) -> list[str]:
    """Teff, logg, [Fe/H] and the first ``k`` (all when None) of the catalogue's 25 [X/Fe]
    (:data:`phdl.paper.CATALOG_ELEMENTS`, in the paper's order) that ``reference`` has."""
    from phdl.paper import CATALOG_ELEMENTS

    have = [f"[{e}/Fe]" for e in CATALOG_ELEMENTS if f"[{e}/Fe]" in reference.colnames]
    return ["Teff", "logg", "[Fe/H]", *have[:k]]
