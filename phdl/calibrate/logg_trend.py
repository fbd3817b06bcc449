"""§4.2.2, Figure 9: the logg trend of [X/Fe] against a high-resolution reference (Hypatia).

Our [X/Fe] (already Teff-corrected) and the reference's are each smoothed against logg with the
one smoother of the calibration (:mod:`phdl.calibrate.smooth`: natural cubic spline through
equal-count binned medians); ours against OUR uncalibrated logg, the reference's against its own.
The correction is our trend minus the reference's:

    f(logg) = S_ours(logg) − S_reference(logg)

The reference is flat in truth for most elements, but it is not forced flat: its own binned
trend is used. A reference with fewer than ``min_per_knot`` stars gets one knot, i.e. its overall
median. Any constant left in f(logg) is harmless: the zero point d is measured after it
(:mod:`phdl.calibrate.zero_points`). Outside our data's logg range the correction is the one at
the nearest end (both splines are read there; each is also flat beyond its own knots).

The comparison keeps stars with [Fe/H] above LOGG_TREND_FEH_MIN (ours -0.5, the reference -0.2);
elements of LOGG_TREND_SKIP (C, N: their surface abundances change with evolution) get a zero
correction.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from phdl.calibrate.catalogs import as_table, require, symbol, values, xfe
from phdl.calibrate.smooth import MAX_KNOTS, MIN_PER_KNOT, MedianSpline, fit_median_spline
from phdl.paper import CATALOG_ELEMENTS, LOGG_TREND_FEH_MIN, LOGG_TREND_SKIP


@dataclass(eq=False)
class LoggTrend:
    """f(logg) of one element: ``ours`` and ``reference`` splines of [X/Fe] (dex) against logg
    (dex); ``element`` (symbol); ``skipped`` when the element gets no correction."""

    element: str
    ours: MedianSpline
    reference: MedianSpline
    skipped: bool = False

    def __call__(self, logg: np.ndarray | float) -> np.ndarray:
        """The correction (dex) to SUBTRACT at uncalibrated ``logg`` (dex), read at the nearest
        end of our data beyond it."""
        logg = np.asarray(logg, dtype=float)
        if self.skipped:
            return np.where(np.isnan(logg), np.nan, 0.0)
        at = np.clip(logg, self.ours.knots[0], self.ours.knots[-1])
        return self.ours(at) - self.reference(at)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, for JSON."""
        return {
            "element": self.element,
            "ours": self.ours.to_dict(),
            "reference": self.reference.to_dict(),
            "skipped": bool(self.skipped),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LoggTrend:
        """The inverse of :meth:`to_dict`."""
        return cls(
            d["element"],
            MedianSpline.from_dict(d["ours"]),
            MedianSpline.from_dict(d["reference"]),
            bool(d["skipped"]),
        )

    @classmethod
    def zero(cls, element: str) -> LoggTrend:
        """No correction for ``element``."""
        return cls(symbol(element), MedianSpline.constant(), MedianSpline.constant(), True)


def _sample(table: Any, column: str, feh_min: float, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(logg, [X/Fe]) of the stars of ``table`` with [Fe/H] > feh_min."""
    table = as_table(table, what)
    require(table, ["logg", "[Fe/H]", column], what)
    keep = values(table, "[Fe/H]") > feh_min
    return values(table, "logg")[keep], values(table, column)[keep]


def fit_logg_trend(
    ours: Any,
    reference: Any,
    element: str,
    *,
    feh_min: dict[str, float] = LOGG_TREND_FEH_MIN,
    min_per_knot: int = MIN_PER_KNOT,
    max_knots: int = MAX_KNOTS,
    catalogs: tuple[str, str] = ("ours", "reference"),
) -> LoggTrend:
    """The :class:`LoggTrend` of ``element`` ("Mg" or "[Mg/Fe]").

    ``ours``: our catalogue with uncalibrated logg, [Fe/H] and Teff-corrected [X/Fe]; ``reference``:
    a high-resolution catalogue with logg, [Fe/H], [X/Fe] (form [X/Fe] from Hypatia's [X/H] with
    :func:`phdl.io.surveys.standardize`). ``feh_min``: the [Fe/H] cuts, keys "ours" and
    "reference". ``catalogs`` names the two in error messages. Stars with NaN are left out.
    """
    if symbol(element) in LOGG_TREND_SKIP:
        return LoggTrend.zero(element)
    column = xfe(element)
    splines = []
    for table, key, what in zip((ours, reference), ("ours", "reference"), catalogs, strict=True):
        logg, abundance = _sample(table, column, feh_min[key], what)
        where = f"{column} of catalogue {what!r} with [Fe/H] > {feh_min[key]}"
        splines.append(
            fit_median_spline(
                logg, abundance, min_per_knot=min_per_knot, max_knots=max_knots, what=where
            )
        )
    return LoggTrend(symbol(element), *splines)


def fit_logg_trends(
    ours: Any, reference: Any, elements: Iterable[str] = CATALOG_ELEMENTS, **kwargs: Any
) -> dict[str, LoggTrend]:
    """:func:`fit_logg_trend` for every element; keys are element symbols. An element with no
    star left in ours or the reference after the [Fe/H] cuts gets no trend, and one warning
    names them all (a missing column is still a ValueError)."""
    what = kwargs.get("catalogs", ("ours", "reference"))
    ours, reference = as_table(ours, what[0]), as_table(reference, what[1])
    trends, skipped = {}, []
    for e in elements:
        try:
            trends[symbol(e)] = fit_logg_trend(ours, reference, e, **kwargs)
        except ValueError as exc:
            if "nothing to fit" not in str(exc):
                raise
            skipped.append(symbol(e))
    if skipped:
        warnings.warn(f"no logg trend for {', '.join(skipped)}: no star left after the [Fe/H] "
                      "cuts", stacklevel=2)  # fmt: skip
    return trends
