"""The catalogue's columns: the paper's Table 4, in its order and with its units.

RA, DEC (deg, J2000), SOURCEID (Gaia DR3), SPECID (obsdate-planid-spid-fiberid), UQFLAG (1 unique,
> 1 repeat visits), Teff, Teff_err, logg, logg_err, [Fe/H], [Fe/H]_err, then for each of the 25
fitted [X/Fe] (Group I, then Group II, in :data:`phdl.labels.LABELS` order) [X/Fe], [X/Fe]_err,
[X/Fe]_flag; Chisq; and each [X/Fe]_uncali (before calibration). phdl adds ``reason`` at the end
("ok" for a fitted star; otherwise why it was not fitted: its flags are then -1). The units go
into the FITS header as TUNITn (:func:`write_units`): "dex" is not one of the FITS standard's
units, so astropy's own unit writing would drop it.

Errors are the χ²-scaled ones (Eq. 21). Until a calibration is applied, [X/Fe] equals
[X/Fe]_uncali.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from phdl.catalog.inputs import ID_COLUMNS
from phdl.fit import FITTED
from phdl.labels import UNITS

#: The 25 fitted abundance ratios, in Table 4's order.
XFE: tuple[str, ...] = tuple(n for n in FITTED if n.endswith("/Fe]"))
#: Table 4's stellar-parameter labels.
PARAMS: tuple[str, ...] = ("Teff", "logg", "[Fe/H]")
_ID_UNITS = {"RA": "deg", "DEC": "deg"}


def columns() -> list[str]:
    """Table 4's column names in order, then ``reason``."""
    cols = list(ID_COLUMNS)
    for name in PARAMS:
        cols += [name, f"{name}_err"]
    for name in XFE:
        cols += [name, f"{name}_err", f"{name}_flag"]
    return [*cols, "Chisq", *(f"{n}_uncali" for n in XFE), "reason"]


def units() -> dict[str, str]:
    """The unit of each column that has one (FITS TUNITn): deg, K, dex."""
    out = dict(_ID_UNITS)
    for name in (*PARAMS, *XFE):
        unit = UNITS[name]
        out[name] = out[f"{name}_err"] = unit
        if name in XFE:
            out[f"{name}_uncali"] = unit
    return out


def table4(fit: Table, ids: dict[str, np.ndarray], reasons: list[str]) -> Table:
    """Table 4 rows from a fit table with errors and flags (:func:`phdl.uncertainty.
    add_uncertainties`), Table 4's identifier columns ``ids`` and per-star ``reasons`` (""
    for a star that was read): a star that was not fitted keeps NaN labels, flags -1, and
    its reason (the read failure or the fit's ``status``); the others have reason "ok"."""
    n = len(fit)
    status = [str(s) for s in fit["status"]] if "status" in fit.colnames else ["ok"] * n
    why = [r or s for r, s in zip(reasons, status, strict=True)]
    out = Table()
    for name, empty in ID_COLUMNS.items():
        values = ids.get(name, np.full(n, empty))
        out[name] = np.asarray(values, dtype=str if isinstance(empty, str) else None)
    for name in PARAMS:
        out[name] = np.asarray(fit[name], dtype=np.float64)
        out[f"{name}_err"] = _column(fit, f"{name}_err_scaled", np.nan, np.float64)
    for name in XFE:
        out[name] = np.asarray(fit[name], dtype=np.float64)
        out[f"{name}_err"] = _column(fit, f"{name}_err_scaled", np.nan, np.float64)
        out[f"{name}_flag"] = _column(fit, f"{name}_flag", -1, np.int64)
    out["Chisq"] = np.asarray(fit["Chisq"], dtype=np.float64)
    for name in XFE:
        out[f"{name}_uncali"] = np.asarray(fit[name], dtype=np.float64)
    out["reason"] = np.asarray(why, dtype=str)
    bad = np.asarray([w != "ok" for w in why])
    for name in XFE:
        out[f"{name}_flag"][bad] = -1
    return out


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


def _column(fit: Table, name: str, empty, dtype) -> np.ndarray:
    if name in fit.colnames:
        return np.asarray(fit[name], dtype=dtype)
    return np.full(len(fit), empty, dtype=dtype)
