"""M67 (§4.3): the star-to-star scatter of [X/Fe] within one cluster, and against GALAH DR3.

The members of an open cluster share one composition, so the scatter of their [X/Fe] measures
the precision of the abundances (plus a small intrinsic scatter). The paper quotes "the standard
deviation after eliminating outliers": :func:`clipped_stats` clips iteratively at ``nsigma``
standard deviations about the median, then takes the mean and the standard deviation (ddof=1)
of the stars kept. :func:`member_stats` tabulates it per element with the slope of [X/Fe] on
logg (flat for all but N, §4.3) and, on the simulated sky, splits the scatter into its intrinsic
and measurement parts with the truth. :func:`scatter_comparison` compares the scatter of ours
and of a reference survey on the members in common (77 with GALAH DR3, Figure 11).

All scatters are in dex; slopes in dex per dex of logg.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from astropy.table import Table

from phdl import paper
from phdl.calibrate.catalogs import DEFAULT_ID, as_table, crossmatch, require, symbol, xfe
from phdl.validate.common import column, finite_std

__all__ = ["clipped_stats", "logg_slope", "member_stats", "scatter_comparison"]


def clipped_stats(
    values: np.ndarray, nsigma: float = 3.0, max_iter: int = 10
) -> tuple[float, float, np.ndarray]:
    """(mean, standard deviation (ddof=1), kept mask) of ``values`` after iterative clipping of
    those more than ``nsigma`` standard deviations from the median of the kept values.

    Clipping only removes (a star once clipped stays out); it stops when nothing more is clipped,
    after ``max_iter`` rounds, or before it would keep fewer than 3. NaNs are never kept. Fewer
    than 3 finite values give (NaN, NaN, mask of the finite values) without error. Units are
    those of ``values``.
    """
    x = np.asarray(values, dtype=float)
    keep = np.isfinite(x)
    if keep.sum() < 3:
        return float("nan"), float("nan"), keep
    for _ in range(max_iter):
        centre, spread = np.median(x[keep]), np.std(x[keep], ddof=1)
        inside = keep & (np.abs(x - centre) <= nsigma * spread)
        if inside.sum() == keep.sum() or inside.sum() < 3:
            break
        keep = inside
    return float(np.mean(x[keep])), float(np.std(x[keep], ddof=1)), keep


def logg_slope(logg: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(slope, its standard error) of the least-squares line y = a + b·logg over the stars with
    both finite (units of y per dex of logg); NaN for fewer than 3 stars or no spread in logg."""
    g, y = np.asarray(logg, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(g) & np.isfinite(y)
    g, y = g[ok], y[ok]
    sxx = np.sum((g - g.mean()) ** 2) if g.size else 0.0
    if g.size < 3 or sxx == 0:
        return float("nan"), float("nan")
    slope = np.sum((g - g.mean()) * (y - y.mean())) / sxx
    resid = y - y.mean() - slope * (g - g.mean())
    return float(slope), float(np.sqrt(np.sum(resid**2) / (g.size - 2) / sxx))


def _truth_rows(members: Table, truth, columns: list[str]) -> tuple[np.ndarray, Table]:
    """(row numbers in ``members``, aligned rows of ``truth``) of the members in the truth."""
    rows = Table({DEFAULT_ID: members[DEFAULT_ID], "_row": np.arange(len(members))})
    ours, true = crossmatch(rows, as_table(truth, "truth"), [], catalogs=("members", "truth"))
    require(true, columns, "truth")
    return np.asarray(ours["_row"]), true


def _truth_columns(x, keep, rows, true, name) -> dict[str, float]:
    kept = keep[rows]
    true_x = column(true, name, "truth")[kept]
    return {
        "sigma_true": finite_std(true_x),
        "sigma_error": finite_std(x[rows][kept] - true_x),
    }


def member_stats(members, elements: Sequence[str], *, truth=None, nsigma: float = 3.0) -> Table:
    """One row per element of the cluster ``members`` (columns ``logg`` and each "[X/Fe]"):

    ``element`` (symbol), ``n`` (finite [X/Fe]), ``n_kept``, ``n_outliers``, ``mean`` and
    ``sigma`` (:func:`clipped_stats`, dex), ``logg_slope`` and ``logg_slope_err`` (least squares
    of [X/Fe] on logg over the kept stars, dex per dex), ``band_lo`` and ``band_hi`` (the paper's
    scatter band, :data:`phdl.paper.M67_SCATTER_BANDS`, NaN if it quotes none). With ``truth``
    (``source_id`` and the true [X/Fe], matched by ``source_id``), over the kept members found in
    it: ``sigma_true`` (the intrinsic scatter), ``sigma_error`` (std of fitted − true), and
    ``sigma_measurement`` = sqrt(max(sigma² − sigma_true², 0)), all in dex.

    ValueError for an empty ``members`` or one naming a missing column.
    """
    members = as_table(members, "members")
    if len(elements) == 0:
        raise ValueError("member_stats needs at least one element")
    if len(members) == 0:
        raise ValueError("catalogue 'members' is empty: no M67 member to measure")
    names = [xfe(e) for e in elements]
    require(members, ["logg", *names], "members")
    logg = column(members, "logg", "members")
    if truth is not None:
        require(members, [DEFAULT_ID], "members")
        rows, true = _truth_rows(members, truth, names)
    out = []
    for element, name in zip(elements, names, strict=True):
        x = column(members, name, "members")
        mean, sigma, keep = clipped_stats(x, nsigma)
        n, n_kept = int(np.isfinite(x).sum()), int(keep.sum())
        slope, slope_err = logg_slope(logg[keep], x[keep])
        lo, hi = paper.M67_SCATTER_BANDS.get(symbol(element), (np.nan, np.nan))
        row = {"element": symbol(element), "n": n, "n_kept": n_kept, "n_outliers": n - n_kept}
        row |= {"mean": mean, "sigma": sigma, "logg_slope": slope}
        row |= {"logg_slope_err": slope_err, "band_lo": lo, "band_hi": hi}
        if truth is not None:
            row |= _truth_columns(x, keep, rows, true, name)
            row["sigma_measurement"] = float(np.sqrt(max(sigma**2 - row["sigma_true"] ** 2, 0)))
        out.append(row)
    return Table(rows=out, names=list(out[0]))


def scatter_comparison(ours, reference, elements: Sequence[str], *, nsigma: float = 3.0) -> Table:
    """Per element, the clipped scatter of ours and of ``reference`` on the members in common
    (cross-matched by ``source_id``): ``element`` (symbol), ``n_common`` (members with both
    [X/Fe] finite), ``sigma_ours``, ``sigma_reference`` (:func:`clipped_stats`' std, dex).

    ValueError naming a missing column, or when no member of ours is in the reference.
    """
    ours, reference = as_table(ours, "ours"), as_table(reference, "reference")
    names = [xfe(e) for e in elements]
    for table, what in ((ours, "ours"), (reference, "reference")):
        require(table, [DEFAULT_ID, *names], what)
    if not np.isin(np.asarray(ours[DEFAULT_ID]), np.asarray(reference[DEFAULT_ID])).any():
        raise ValueError(
            f"no M67 member of ours is in the reference catalogue (matched on {DEFAULT_ID!r})"
        )
    ours, reference = crossmatch(ours, reference, names)
    out = []
    for element, name in zip(elements, names, strict=True):
        a, b = column(ours, name, "ours"), column(reference, name, "reference")
        both = np.isfinite(a) & np.isfinite(b)
        sigma_a, sigma_b = clipped_stats(a[both], nsigma)[1], clipped_stats(b[both], nsigma)[1]
        out.append((symbol(element), int(both.sum()), sigma_a, sigma_b))
    return Table(rows=out, names=("element", "n_common", "sigma_ours", "sigma_reference"))
