"""Survey catalogues in their published column names, read into phdl's names.

The calibration (:mod:`phdl.calibrate`) works on astropy Tables with ``source_id`` (Gaia DR3),
``Teff`` (K), ``logg``, ``[Fe/H]`` and ``[X/Fe]`` (dex). The surveys publish other names,
flags and conventions. :func:`standardize` maps one survey's table (a FITS/CSV file or a Table)
to phdl's names, with its quality flags applied: a flagged value becomes NaN, never a silent
number. The same function reads the real files and the simulated sky's (:mod:`phdl.sky`).

Surveys (:data:`SURVEYS`):

- ``"dd_payne"``: LAMOST DD-Payne: ``gaia_source_id``, ``teff``, ``logg``, ``feh``,
  ``<x>_fe`` (lower case); ``qflag_chi2 != "good"`` masks the whole star.
- ``"apogee"``: APOGEE DR17 allStar: ``GAIAEDR3_SOURCE_ID``, ``TEFF``, ``LOGG``, ``FE_H``,
  ``<X>_FE`` (upper case) with ``<X>_FE_FLAG != 0`` (and ``FE_H_FLAG``) masking that value
  and ``ASPCAPFLAG`` bit 23 (STAR_BAD) the whole star; ``SNR`` kept as ``snr``.
- ``"galah"``: GALAH DR3: ``dr3_source_id``, ``teff``, ``logg``, ``fe_h``, ``<X>_fe``
  (e.g. ``Mg_fe``) with ``flag_<X>_fe != 0`` (and ``flag_fe_h``) masking the value and
  ``flag_sp != 0`` the star; ``snr_c1_iraf``, ``snr_c3_iraf`` kept.
- ``"hypatia"``: Hypatia: ``source_id``, ``Teff``, ``logg``, ``[Fe/H]`` and ``[X/H]`` on the
  catalogue's solar scale; ``solar_offset`` (element -> log ε☉(ours) − log ε☉(catalogue), dex)
  moves every [X/H] and [Fe/H] onto ours, then ``[X/Fe] = [X/H] − [Fe/H]`` is formed.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from astropy.table import Table

from phdl.labels import ELEMENTS

__all__ = ["STAR_BAD", "SURVEYS", "standardize"]

#: APOGEE's ASPCAPFLAG bit for a star whose parameters should not be used.
STAR_BAD: int = 23

#: survey -> (id column, {phdl name: survey column} of the parameters, [X/Fe] column pattern).
SURVEYS: dict[str, tuple[str, dict[str, str], str]] = {
    "dd_payne": ("gaia_source_id", {"Teff": "teff", "logg": "logg", "[Fe/H]": "feh"}, "{x}_fe"),
    "apogee": ("GAIAEDR3_SOURCE_ID", {"Teff": "TEFF", "logg": "LOGG", "[Fe/H]": "FE_H"},
               "{X}_FE"),
    "galah": ("dr3_source_id", {"Teff": "teff", "logg": "logg", "[Fe/H]": "fe_h"}, "{El}_fe"),
    "hypatia": ("source_id", {"Teff": "Teff", "logg": "logg", "[Fe/H]": "[Fe/H]"}, "[{El}/H]"),
}  # fmt: skip

#: Extra columns kept under their own (or a phdl) name, per survey.
_KEEP: dict[str, dict[str, str]] = {
    "dd_payne": {"snr_g": "snr_g"},
    "apogee": {"SNR": "snr"},
    "galah": {"snr_c1_iraf": "snr_c1_iraf", "snr_c3_iraf": "snr_c3_iraf"},
    "hypatia": {},
}


def _read(catalog: Any, survey: str) -> Table:
    if isinstance(catalog, Table):
        return catalog
    if isinstance(catalog, str | os.PathLike):
        if not os.path.isfile(catalog):
            raise FileNotFoundError(f"{survey} catalogue {catalog} not found")
        return Table.read(catalog)
    if hasattr(catalog, "to_numpy"):  # a pandas DataFrame
        return Table.from_pandas(catalog)
    raise TypeError(f"{survey} catalogue: expected a path, a Table or a DataFrame")


def _column(table: Table, name: str, survey: str) -> np.ndarray:
    if name not in table.colnames:
        raise ValueError(f"{survey} catalogue has no column {name!r}")
    return np.asarray(np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan))


def _star_bad(table: Table, survey: str) -> np.ndarray:
    n = len(table)
    if survey == "dd_payne" and "qflag_chi2" in table.colnames:
        return np.char.strip(np.asarray(table["qflag_chi2"], dtype=str)) != "good"
    if survey == "apogee" and "ASPCAPFLAG" in table.colnames:
        return (np.asarray(table["ASPCAPFLAG"], dtype=np.int64) >> STAR_BAD) & 1 == 1
    if survey == "galah" and "flag_sp" in table.colnames:
        return np.asarray(table["flag_sp"]) != 0
    return np.zeros(n, dtype=bool)


def _value_flag(table: Table, survey: str, column: str) -> np.ndarray:
    flag = {"apogee": f"{column}_FLAG", "galah": f"flag_{column}"}.get(survey)
    if flag is None or flag not in table.colnames:
        return np.zeros(len(table), dtype=bool)
    return np.asarray(table[flag]) != 0


def standardize(catalog: Any, survey: str, *, solar_offset: dict | None = None) -> Table:
    """``catalog`` (path, Table or DataFrame) of ``survey`` (:data:`SURVEYS`) as a Table with
    ``source_id``, ``Teff``, ``logg``, ``[Fe/H]``, every ``[X/Fe]`` the survey gives, and its
    S/N columns; flagged values NaN (module docstring). ValueError naming the survey and the
    missing column; ``solar_offset`` only for ``"hypatia"``."""
    if survey not in SURVEYS:
        raise ValueError(f"unknown survey {survey!r}; known: {', '.join(SURVEYS)}")
    if solar_offset is not None and survey != "hypatia":
        raise ValueError(f"solar_offset is for the hypatia catalogue, not {survey!r}")
    table = _read(catalog, survey)
    id_col, params, pattern = SURVEYS[survey]
    if id_col not in table.colnames:
        raise ValueError(f"{survey} catalogue has no id column {id_col!r}")
    bad = _star_bad(table, survey)
    out = Table({"source_id": np.asarray(table[id_col], dtype=np.int64)})
    offset = dict(solar_offset or {})
    for name, col in params.items():
        flagged = bad | (_value_flag(table, survey, col) if name == "[Fe/H]" else False)
        out[name] = np.where(flagged, np.nan, _column(table, col, survey))
    out["[Fe/H]"] -= offset.get("Fe", 0.0)
    for el in ELEMENTS:
        col = pattern.format(x=el.lower(), X=el.upper(), El=el)
        if col not in table.colnames:
            continue
        value = np.where(bad | _value_flag(table, survey, col), np.nan, _column(table, col, survey))
        if survey == "hypatia":  # [X/H] on the catalogue's scale -> [X/Fe] on ours
            value = value - offset.get(el, 0.0) - out["[Fe/H]"]
        out[f"[{el}/Fe]"] = value
    for col, name in _KEEP[survey].items():
        if col in table.colnames:
            out[name] = _column(table, col, survey)
    return out
