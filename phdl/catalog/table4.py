"""The catalogue's columns: the paper's Table 4 (:data:`phdl.paper.TABLE4_COLUMNS`), in its order,
with units in the FITS header.

The columns are :func:`phdl.paper.table4_names`: RA, DEC (deg, J2000), SOURCEID (Gaia DR3),
SPECID (obsdate-planid-spid-fiberid), UQFLAG (1 unique, > 1 repeat visits), Teff, Teff_err,
logg, logg_err, [Fe/H], [Fe/H]_err, each [X/Fe], each [X/Fe]_err, each [X/Fe]_flag, Chisq, each
[X/Fe]_uncali, for the 25 elements of the catalogue in the paper's order. phdl adds ``reason``
at the end ("ok" for a fitted star; otherwise why it was not fitted: its flags are then -1).

Errors are the χ²-scaled ones (Eq. 21). Until a calibration is applied, [X/Fe] equals
[X/Fe]_uncali; :func:`calibrated` applies one (:mod:`phdl.calibrate`). The units go into the
header as TUNITn (:func:`write_units`): "dex" is not one of the FITS standard's units, so
astropy's own unit writing would drop it.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from phdl.catalog.inputs import ID_COLUMNS
from phdl.labels import UNITS
from phdl.paper import CATALOG_ELEMENTS, table4_names

#: The catalogue's 25 abundance ratios, in the paper's order.
XFE: tuple[str, ...] = tuple(f"[{e}/Fe]" for e in CATALOG_ELEMENTS)
#: Table 4's stellar-parameter labels.
PARAMS: tuple[str, ...] = ("Teff", "logg", "[Fe/H]")


def columns() -> list[str]:
    """Table 4's column names in order (:func:`phdl.paper.table4_names`), then ``reason``."""
    return [*table4_names(), "reason"]


def units() -> dict[str, str]:
    """The unit of each column that has one (FITS TUNITn): deg, K, dex."""
    out = {"RA": "deg", "DEC": "deg"}
    for name in (*PARAMS, *XFE):
        out[name] = out[f"{name}_err"] = UNITS[name]
        if name in XFE:
            out[f"{name}_uncali"] = UNITS[name]
    return out


def _fit_column(fit: Table, name: str) -> np.ndarray:
    """One Table 4 column from a fit table with errors and flags."""
    n = len(fit)
    if name.endswith("_uncali"):
        return np.asarray(fit[name.removesuffix("_uncali")], dtype=np.float64)
    if name.endswith("_err"):
        col = name.removesuffix("_err") + "_err_scaled"
        return np.asarray(fit[col], np.float64) if col in fit.colnames else np.full(n, np.nan)
    if name.endswith("_flag"):
        return np.asarray(fit[name], np.int64) if name in fit.colnames else np.full(n, -1)
    return np.asarray(fit[name], dtype=np.float64)


def table4(fit: Table, ids: dict[str, np.ndarray], reasons: list[str]) -> Table:
    """Table 4 rows from a fit table with errors and flags (:func:`phdl.uncertainty.
    add_uncertainties`), Table 4's identifier columns ``ids`` and per-star ``reasons`` (""
    for a star that was read): a star that was not fitted keeps NaN labels, flags -1, and
    its reason (the read failure or the fit's ``status``); the others have reason "ok"."""
    n = len(fit)
    status = [str(s) for s in fit["status"]] if "status" in fit.colnames else ["ok"] * n
    why = [r or s for r, s in zip(reasons, status, strict=True)]
    bad = np.asarray([w != "ok" for w in why], dtype=bool)
    out = Table()
    for name in columns():
        if name in ID_COLUMNS:
            empty = ID_COLUMNS[name]
            values = ids.get(name, np.full(n, empty))
            out[name] = np.asarray(values, dtype=str if isinstance(empty, str) else None)
        elif name == "reason":
            out[name] = np.asarray(why, dtype=str)
        else:
            out[name] = _fit_column(fit, name)
            if name.endswith("_flag"):
                out[name][bad] = -1
    return out


def calibrated(table: Table, calibration) -> Table:
    """Table 4 rows with a :class:`phdl.calibrate.Calibration` applied: Teff, logg, [Fe/H] and
    every [X/Fe] calibrated, [X/Fe]_uncali the fitted values, columns in Table 4's order."""
    from phdl.calibrate import apply
    from phdl.calibrate.chain import without_uncali

    out = apply(without_uncali(table), calibration)
    return out[[c for c in table.colnames]]


def write_units(path) -> None:
    """Set TUNITn of every Table 4 column with a unit (:func:`units`) in the FITS table at
    ``path``, in place."""
    from astropy.io import fits

    unit = units()
    with fits.open(path, mode="update") as hdul:
        head = hdul[1].header
        for i in range(1, head["TFIELDS"] + 1):
            if head[f"TTYPE{i}"] in unit:
                head[f"TUNIT{i}"] = unit[head[f"TTYPE{i}"]]


def empty() -> Table:
    """A catalogue of no stars: Table 4's columns, in order, with their dtypes and no rows."""
    out = Table()
    for name in columns():
        if name in ID_COLUMNS:
            empty_value = ID_COLUMNS[name]
            dtype = str if isinstance(empty_value, str) else type(empty_value)
        elif name == "reason":
            dtype = str
        else:
            dtype = np.int64 if name.endswith("_flag") else np.float64
        out[name] = np.zeros(0, dtype=dtype)
    return out
