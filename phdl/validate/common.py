"""What the validation modules share: a column by label name, a plain standard deviation.

The robust spread is :func:`phdl.calibrate.smooth.robust_std` and the cross-match is
:func:`phdl.calibrate.catalogs.crossmatch`; they are imported, never rewritten here.
"""

from __future__ import annotations

import re

import numpy as np
from astropy.table import Table

from phdl.calibrate.catalogs import require, values, xfe


def label_column(name: str) -> str:
    """The column of label ``name``: a bare element symbol ("Mg") means "[Mg/Fe]"; any other
    name ("Teff", "logg", "[Fe/H]", "[Mg/Fe]") is the column itself."""
    return xfe(name) if re.fullmatch(r"[A-Z][a-z]?", name) else name


def column(table: Table, name: str, what: str) -> np.ndarray:
    """Column ``name`` of catalogue ``what`` as float64 (masked → NaN); ValueError naming the
    column when it is missing."""
    require(table, [name], what)
    return values(table, name)


def finite_std(x: np.ndarray) -> float:
    """Standard deviation (ddof=1, same unit as ``x``) of the finite values of ``x``; NaN for
    fewer than two."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.std(x, ddof=1)) if x.size >= 2 else float("nan")
