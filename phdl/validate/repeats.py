"""Repeat visits: do the catalogue's quoted errors tell the truth?

A star observed twice (same ``SOURCEID``, Table 4's UQFLAG > 1) gives two independent fits.
Their difference Δ has the spread √2 × the per-visit error, so ``sigma_visit`` = robust std of
Δ/√2 is the precision actually achieved, and z = Δ / sqrt(e₁² + e₂²) with the quoted (χ²-scaled)
errors ``<label>_err`` should have unit spread: z ≈ 1 means the errors tell the truth, z ≈ 2 that
they are half the true ones. Rows with SOURCEID −1 (no Gaia id) are never paired.

Teff is in K, every other label in dex; z is dimensionless.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

from phdl.calibrate.catalogs import as_table, require
from phdl.calibrate.smooth import robust_std
from phdl.validate.common import column, finite_std, label_column

__all__ = ["normalized_differences", "repeat_scatter", "visit_pairs"]

#: The id that means "no id": never paired.
NO_ID: int = -1
_COLUMNS = ("label", "n_pairs", "sigma_visit", "median_err", "z_sigma", "z_std")


def visit_pairs(ids) -> tuple[np.ndarray, np.ndarray]:
    """(i, j): the row numbers of every pair of rows sharing an id (all pairs within a group),
    i < j, sorted by i then j; ids equal to −1 (or masked) are ignored."""
    ids = np.ma.asarray(ids)
    ids = np.ma.filled(ids, NO_ID) if ids.dtype.kind in "iuf" else np.asarray(ids)
    rows = np.flatnonzero(ids != NO_ID)
    rows = rows[np.argsort(ids[rows], kind="stable")]
    _, starts, sizes = np.unique(ids[rows], return_index=True, return_counts=True)
    first, second = [], []
    for size in np.unique(sizes[sizes > 1]):
        group = starts[sizes == size]
        for a in range(size):
            for b in range(a + 1, size):
                first.append(rows[group + a])
                second.append(rows[group + b])
    if not first:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    i, j = np.concatenate(first), np.concatenate(second)
    i, j = np.minimum(i, j), np.maximum(i, j)
    order = np.lexsort((j, i))
    return i[order], j[order]


def _pairs(catalog: Table, id_col: str) -> tuple[np.ndarray, np.ndarray]:
    require(catalog, [id_col], "catalog")
    i, j = visit_pairs(catalog[id_col])
    if i.size == 0:
        raise ValueError(f"no repeat visits in catalogue 'catalog' (no id of {id_col!r} repeats)")
    return i, j


def _deltas(catalog: Table, name: str, i, j) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Δ, quoted error of Δ, mask of the usable pairs) of label column ``name``."""
    require(catalog, [name, f"{name}_err"], "catalog")
    x, err = column(catalog, name, "catalog"), column(catalog, f"{name}_err", "catalog")
    delta, sigma = x[i] - x[j], np.hypot(err[i], err[j])
    ok = np.isfinite(delta) & np.isfinite(sigma) & (sigma > 0)
    return delta, sigma, ok


def repeat_scatter(catalog, labels: Sequence[str], *, id_col: str = "SOURCEID") -> Table:
    """Per label, over the pairs of visits of one star: ``label`` (column name), ``n_pairs``
    (pairs with both values and errors finite), ``sigma_visit`` (robust std of Δ/√2: the
    per-visit scatter), ``median_err`` (median quoted ``<label>_err`` of the paired rows),
    ``z_sigma`` (robust std of Δ/sqrt(e₁² + e₂²); 1 when the errors are right) and ``z_std``
    (its plain std, ddof=1). K for Teff, dex otherwise.

    ValueError naming a missing column (the label, its ``_err`` or ``id_col``), or "no repeat
    visits" when no id repeats.
    """
    catalog = as_table(catalog, "catalog")
    names = [label_column(label) for label in labels]
    require(catalog, [id_col, *(c for name in names for c in (name, f"{name}_err"))], "catalog")
    i, j = _pairs(catalog, id_col)
    rows = []
    for name in names:
        delta, sigma, ok = _deltas(catalog, name, i, j)
        paired = np.unique(np.concatenate([i[ok], j[ok]]))
        err = column(catalog, f"{name}_err", "catalog")[paired]
        z = delta[ok] / sigma[ok]
        median_err = float(np.median(err)) if err.size else np.nan
        visit = robust_std(delta[ok] / np.sqrt(2))
        rows.append((name, int(ok.sum()), visit, median_err, robust_std(z), finite_std(z)))
    return Table(rows=rows, names=_COLUMNS)


def normalized_differences(catalog, label: str, *, id_col: str = "SOURCEID") -> np.ndarray:
    """z = Δ / sqrt(e₁² + e₂²) of every usable pair of visits (dimensionless; for a histogram
    against the unit normal). ValueError as :func:`repeat_scatter`."""
    catalog = as_table(catalog, "catalog")
    i, j = _pairs(catalog, id_col)
    delta, sigma, ok = _deltas(catalog, label_column(label), i, j)
    return delta[ok] / sigma[ok]
