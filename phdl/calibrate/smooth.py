"""The one smoother of the calibration: a cubic spline through binned medians (§4.1, §4.2.2).

Both the atmospheric-parameter splines (Figure 7) and the logg trends of [X/Fe] (Figure 9) are
"a cubic spline of the median" of a quantity y against x. Here that is:

1. sort the stars by x and cut them into equal-count bins, as many as give at least
   ``min_per_knot`` stars a bin, and no more than ``max_knots``;
2. in each bin, a knot at (median x, median y);
3. a natural cubic spline (:class:`scipy.interpolate.CubicSpline`, ``bc_type="natural"``)
   through the knots: it passes through every binned median (the paper's "cubic spline
   interpolation"), and is linear at its ends. Two knots give a line, one a constant (the overall
   median, which is what a sample too small for two bins gets).

Outside the knots the spline is never extrapolated: x is clipped to the first and last knot, so
a star beyond the data takes the value at the nearest knot.

The knots (x, median, count) are all a spline needs to be rebuilt, so a :class:`MedianSpline`
saves as three lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

#: Default smallest number of stars behind one knot, and most knots of one spline.
MIN_PER_KNOT: int = 20
MAX_KNOTS: int = 8


def robust_std(x: np.ndarray) -> float:
    """1.4826 × the median absolute deviation of the finite values of ``x`` (same unit as x)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def binned_medians(
    x: np.ndarray, y: np.ndarray, n_bins: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median x, median y, count) of ``n_bins`` equal-count bins of the stars sorted by x.

    Bins whose median x coincide (ties in x) are merged into one knot, so knots strictly increase.
    """
    order = np.argsort(x, kind="stable")
    bin_x = np.empty_like(x)
    for members in np.array_split(order, n_bins):
        bin_x[members] = np.median(x[members])
    knots, which, counts = np.unique(bin_x, return_inverse=True, return_counts=True)
    medians = np.array([np.median(y[which == k]) for k in range(len(knots))])
    return knots, medians, counts


@dataclass(frozen=True, eq=False)
class MedianSpline:
    """A natural cubic spline through binned medians, flat beyond its first and last knot.

    ``knots`` (x of each knot, increasing), ``values`` (median y there) and ``counts`` (stars in
    the bin), in the units of x and y.
    """

    knots: np.ndarray
    values: np.ndarray
    counts: np.ndarray

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        """The spline at ``x`` clipped to [first knot, last knot]; NaN where x is NaN."""
        x = np.clip(np.asarray(x, dtype=float), self.knots[0], self.knots[-1])
        if len(self.knots) == 1:
            return np.where(np.isnan(x), np.nan, self.values[0])
        return CubicSpline(self.knots, self.values, bc_type="natural")(x)

    @property
    def n(self) -> int:
        """Stars behind the spline."""
        return int(np.sum(self.counts))

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, for JSON."""
        return {
            "knots": [float(v) for v in self.knots],
            "values": [float(v) for v in self.values],
            "counts": [int(v) for v in self.counts],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MedianSpline:
        """The inverse of :meth:`to_dict`."""
        return cls(
            np.asarray(d["knots"], dtype=float),
            np.asarray(d["values"], dtype=float),
            np.asarray(d["counts"], dtype=int),
        )

    @classmethod
    def constant(cls, value: float = 0.0) -> MedianSpline:
        """A spline equal to ``value`` everywhere (one knot, no stars)."""
        return cls(np.array([0.0]), np.array([float(value)]), np.array([0]))


def fit_median_spline(
    x: np.ndarray,
    y: np.ndarray,
    *,
    min_per_knot: int = MIN_PER_KNOT,
    max_knots: int = MAX_KNOTS,
    what: str = "the sample",
) -> MedianSpline:
    """The :class:`MedianSpline` of y against x (module docstring), from the stars where both are
    finite. No such star is a ValueError naming ``what``."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size == 0:
        raise ValueError(f"no star with finite values in {what}: nothing to fit a spline to")
    if min_per_knot < 1 or max_knots < 1:
        raise ValueError(
            f"min_per_knot and max_knots must be >= 1, got {min_per_knot}, {max_knots}"
        )
    n_bins = int(np.clip(x.size // min_per_knot, 1, max_knots))
    return MedianSpline(*binned_medians(x, y, n_bins))
