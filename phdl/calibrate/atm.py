"""§4.1, Figure 7: Teff, logg and [Fe/H] put on a reference's scale by median-difference splines.

For each label, the difference ours − reference of the cross-matched stars is smoothed against
OUR uncalibrated Teff (:mod:`phdl.calibrate.smooth`: a natural cubic spline through binned
medians), separately for giants (Teff < GIANT_TEFF_MAX and logg < GIANT_LOGG_MAX, our values)
and dwarfs (everyone else). The correction is then subtracted from our labels.

Boundary rules (the paper's): a giant cooler than GIANT_TEFF_FLOOR takes the correction at
GIANT_TEFF_FLOOR; a dwarf outside DWARF_TEFF_RANGE takes the correction at the nearer end. Beyond
the data, a spline is never extrapolated: a giant hotter than the hottest giant knot (or any star
beyond its group's knots) takes the value at the nearest knot.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from phdl.calibrate.catalogs import DEFAULT_ID, as_table, crossmatch, require, values
from phdl.calibrate.smooth import (
    MAX_KNOTS,
    MIN_PER_KNOT,
    MedianSpline,
    fit_median_spline,
    robust_std,
)
from phdl.paper import DWARF_TEFF_RANGE, GIANT_LOGG_MAX, GIANT_TEFF_FLOOR, GIANT_TEFF_MAX

#: The labels calibrated in §4.1.
ATM_LABELS: tuple[str, ...] = ("Teff", "logg", "[Fe/H]")
#: The two groups of stars with their own spline.
GROUPS: tuple[str, str] = ("dwarf", "giant")


def is_giant(teff: np.ndarray, logg: np.ndarray) -> np.ndarray:
    """Giants of §4.1: Teff < GIANT_TEFF_MAX (K) and logg < GIANT_LOGG_MAX (dex), both strict."""
    return (np.asarray(teff) < GIANT_TEFF_MAX) & (np.asarray(logg) < GIANT_LOGG_MAX)


def spline_teff(teff: np.ndarray, giant: np.ndarray) -> np.ndarray:
    """The Teff (K) at which each star's correction is read, after the paper's boundary rules:
    giants no cooler than GIANT_TEFF_FLOOR, dwarfs within DWARF_TEFF_RANGE."""
    teff = np.asarray(teff, dtype=float)
    return np.where(giant, np.maximum(teff, GIANT_TEFF_FLOOR), np.clip(teff, *DWARF_TEFF_RANGE))


@dataclass(eq=False)
class AtmSplines:
    """The §4.1 corrections: ``splines[label][group]`` is the median of ours − reference (K for
    Teff, dex otherwise) against our uncalibrated Teff, for group "dwarf" or "giant".

    ``sigma_after[label]``: robust σ (1.4826 MAD) of ours − correction − reference over the stars
    used; ``n_used[label]``: stars used; ``n_dropped[label]``: cross-matched stars dropped for a
    NaN (ours or reference, the label or our Teff/logg).
    """

    splines: dict[str, dict[str, MedianSpline]]
    sigma_after: dict[str, float] = field(default_factory=dict)
    n_used: dict[str, int] = field(default_factory=dict)
    n_dropped: dict[str, int] = field(default_factory=dict)

    def __call__(self, teff: np.ndarray, logg: np.ndarray) -> dict[str, np.ndarray]:
        """Per label, the correction to SUBTRACT from our labels, for stars of uncalibrated Teff
        (K) and logg (dex)."""
        teff, logg = np.asarray(teff, dtype=float), np.asarray(logg, dtype=float)
        giant = is_giant(teff, logg)
        at = spline_teff(teff, giant)
        return {
            name: np.where(giant, groups["giant"](at), groups["dwarf"](at))
            for name, groups in self.splines.items()
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, for JSON."""
        return {
            "splines": {
                n: {g: s.to_dict() for g, s in groups.items()} for n, groups in self.splines.items()
            },
            "sigma_after": dict(self.sigma_after),
            "n_used": dict(self.n_used),
            "n_dropped": dict(self.n_dropped),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AtmSplines:
        """The inverse of :meth:`to_dict`."""
        splines = {
            n: {g: MedianSpline.from_dict(s) for g, s in groups.items()}
            for n, groups in d["splines"].items()
        }
        return cls(splines, dict(d["sigma_after"]), dict(d["n_used"]), dict(d["n_dropped"]))


def fit_atm_splines(
    ours: Any,
    reference: Any,
    *,
    names: Sequence[str] = ATM_LABELS,
    on: str = DEFAULT_ID,
    catalogs: tuple[str, str] = ("ours", "reference"),
    min_per_knot: int = MIN_PER_KNOT,
    max_knots: int = MAX_KNOTS,
) -> AtmSplines:
    """Fit the §4.1 splines of ours − reference (per label in ``names``) against our Teff.

    ``ours`` and ``reference`` (astropy Tables or pandas DataFrames) are cross-matched on the id
    column ``on``; ours must hold Teff and logg (uncalibrated), both must hold ``names``.
    ``catalogs`` names the two in error messages. Each group's spline has knots of at least
    ``min_per_knot`` stars, at most ``max_knots`` of them (a group smaller than ``min_per_knot``
    gets one constant: its median). A group with no star gets a zero correction and a warning
    naming it (a sample of dwarfs only calibrates no giant).
    """
    ours, reference = as_table(ours, catalogs[0]), as_table(reference, catalogs[1])
    require(ours, ["Teff", "logg"], catalogs[0])
    mine, theirs = crossmatch(ours, reference, list(names), on=on, catalogs=catalogs)
    teff, logg = values(mine, "Teff"), values(mine, "logg")
    result = AtmSplines({})
    empty: set[str] = set()
    for name in names:
        diff = values(mine, name) - values(theirs, name)
        ok = np.isfinite(diff) & np.isfinite(teff) & np.isfinite(logg)
        giant = is_giant(teff, logg)
        result.splines[name] = {}
        for group in GROUPS:
            sel = ok & (giant == (group == "giant"))
            if not sel.any():  # e.g. a sample of dwarfs only: that group is left as it is
                empty.add(group)
                result.splines[name][group] = MedianSpline.constant(0.0)
                continue
            result.splines[name][group] = fit_median_spline(
                teff[sel], diff[sel], min_per_knot=min_per_knot, max_knots=max_knots,
                what=f"the {group}s of the cross-match of {catalogs[0]!r} and {catalogs[1]!r}",
            )  # fmt: skip
        corrected = diff[ok] - result(teff[ok], logg[ok])[name]
        result.sigma_after[name] = robust_std(corrected)
        result.n_used[name] = int(ok.sum())
        result.n_dropped[name] = int((~ok).sum())
    if empty:
        warnings.warn(f"no {' or '.join(sorted(empty))} in the cross-match of {catalogs[0]!r} "
                      f"and {catalogs[1]!r}: their correction is 0", stacklevel=2)  # fmt: skip
    return result
