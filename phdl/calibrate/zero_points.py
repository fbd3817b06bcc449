"""§4.2.2, Table 3: the zero points d of Eq. 26, from solar twins.

The reference zero point of an element is the median [X/Fe] of the solar twins of a
high-resolution catalogue (5700 < Teff < 5900 K, 4 < logg < 5, |[Fe/H]| < 0.1: TWIN_*):
Hypatia's where it has at least ``min_twins`` twins with that element, GALAH DR3's where Hypatia
has fewer and GALAH enough, and zero (source "none") where neither does. A missing column or a
NaN counts as not covered.

Then d = median of OUR [X/Fe] over OUR solar twins − the reference zero point, with our [X/Fe]
already freed of f(Teff) and f(logg). Subtracting d puts our twins on the reference's scale; it
also absorbs any constant left in the Teff and logg terms (Eq. 27 has none of its own).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

from phdl.calibrate.catalogs import as_table, require, symbol, values, xfe
from phdl.paper import CATALOG_ELEMENTS, TWIN_FEH_MAX, TWIN_LOGG_RANGE, TWIN_TEFF_RANGE

#: The names of the reference catalogues, as in Table 3's ``source`` column.
HYPATIA, GALAH, NONE = "Hypatia", "GALAH DR3", "none"


def solar_twins(table: Table, what: str) -> np.ndarray:
    """Mask of the solar twins of ``table`` (catalogue ``what``): TWIN_TEFF_RANGE (K) and
    TWIN_LOGG_RANGE (dex), both open, and |[Fe/H]| < TWIN_FEH_MAX (dex)."""
    require(table, ["Teff", "logg", "[Fe/H]"], what)
    teff, logg, feh = values(table, "Teff"), values(table, "logg"), values(table, "[Fe/H]")
    return (
        (TWIN_TEFF_RANGE[0] < teff)
        & (teff < TWIN_TEFF_RANGE[1])
        & (TWIN_LOGG_RANGE[0] < logg)
        & (logg < TWIN_LOGG_RANGE[1])
        & (np.abs(feh) < TWIN_FEH_MAX)
    )


def twin_values(table: Table, element: str, what: str) -> np.ndarray:
    """The finite [X/Fe] (dex) of the solar twins of ``table``; none when it lacks the column."""
    twins = solar_twins(table, what)
    if xfe(element) not in table.colnames:
        return np.array([])
    x = values(table, xfe(element))[twins]
    return x[np.isfinite(x)]


@dataclass(eq=False)
class ZeroPoints:
    """Per element (symbol): ``reference`` zero point (dex), its ``source`` ("Hypatia",
    "GALAH DR3", "none"), ``n_twins`` (reference twins behind it; 0 for "none"), ``d`` (dex, to
    SUBTRACT from our [X/Fe]) and ``n_ours`` (our twins behind d)."""

    reference: dict[str, float] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)
    n_twins: dict[str, int] = field(default_factory=dict)
    d: dict[str, float] = field(default_factory=dict)
    n_ours: dict[str, int] = field(default_factory=dict)

    def table(self) -> Table:
        """Table 3 and more: element, zero_point, source, n_twins, d, n_ours."""
        els = list(self.d)
        return Table(
            {
                "element": els,
                "zero_point": [self.reference[e] for e in els],
                "source": [self.source[e] for e in els],
                "n_twins": [self.n_twins[e] for e in els],
                "d": [self.d[e] for e in els],
                "n_ours": [self.n_ours[e] for e in els],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts, for JSON."""
        return {
            k: dict(getattr(self, k)) for k in ("reference", "source", "n_twins", "d", "n_ours")
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ZeroPoints:
        """The inverse of :meth:`to_dict`."""
        return cls(**{k: dict(v) for k, v in d.items()})


def reference_zero_point(
    element: str, catalogs: list[tuple[str, Table]], min_twins: int
) -> tuple[float, str, int]:
    """(zero point, source, twins) from the first catalogue with >= min_twins twins with
    ``element``; (0, "none", 0) if none has."""
    for source, table in catalogs:
        x = twin_values(table, element, source)
        if x.size >= min_twins:
            return float(np.median(x)), source, int(x.size)
    return 0.0, NONE, 0


def zero_points(
    ours: Any,
    hypatia: Any,
    galah: Any = None,
    *,
    elements: Iterable[str] = CATALOG_ELEMENTS,
    min_twins: int = 5,
) -> ZeroPoints:
    """The zero points of ``elements`` (module docstring).

    ``ours``: our catalogue, Teff, logg, [Fe/H] (calibrated by the §4.1 splines) and [X/Fe] with
    f(Teff) and f(logg) already subtracted. ``hypatia``, ``galah`` (optional): Teff, logg,
    [Fe/H] and [X/Fe] columns (Hypatia's [X/Fe]: :func:`phdl.io.surveys.standardize`). An
    element of ours without any solar twin with a finite value gets d = 0 (``n_ours`` 0) and a
    warning naming it, as the paper sets a zero point to 0 without a reliable reference; fewer
    than ``min_twins`` is a warning.
    """
    ours = as_table(ours, "ours")
    refs = [(HYPATIA, as_table(hypatia, HYPATIA))]
    if galah is not None:
        refs.append((GALAH, as_table(galah, GALAH)))
    result = ZeroPoints()
    few: list[str] = []
    for element in map(symbol, elements):
        require(ours, [xfe(element)], "ours")
        mine = twin_values(ours, element, "ours")
        if mine.size < min_twins:
            few.append(f"{xfe(element)} ({mine.size})")
        ref, source, n = reference_zero_point(element, refs, min_twins)
        result.reference[element], result.source[element], result.n_twins[element] = ref, source, n
        result.d[element] = float(np.median(mine)) - ref if mine.size else 0.0
        result.n_ours[element] = int(mine.size)
    if few:
        warnings.warn(f"fewer than {min_twins} solar twins of ours with {', '.join(few)}",
                      stacklevel=2)  # fmt: skip
    return result
