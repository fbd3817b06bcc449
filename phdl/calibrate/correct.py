"""Eq. 26 applied: a label table calibrated, step by step, into a new table.

``apply(table, calibration, steps)`` runs the chosen steps of :data:`STEPS` on a table of
UNCALIBRATED labels (the fit's output):

- "atm": Teff, logg, [Fe/H] minus the §4.1 spline corrections;
- "teff", "logg", "zero": every [X/Fe] minus f(Teff) (Eq. 27) taken relative to its value at
  :data:`~phdl.calibrate.teff_trend.REFERENCE_TEFF`, minus f(logg), minus d:

      [X/Fe] = [X/Fe]_uncali − (f(T) − f(T_ref)) − f(logg) − d

Every correction is evaluated at the UNCALIBRATED Teff and logg of the input, whatever steps
run: that is how each was measured (the splines and trends against our uncalibrated values, d
after the two trends were removed). The paper leaves Eq. 27's constant to the zero point ("the
constant term ... will be fixed during the zero-point calibration"); taking f(T_ref) off in the
Teff step moves that constant into d (and into f(logg)'s level), so the final [X/Fe] are the
same, and the table after the Teff step alone is on a readable scale (a cubic fitted at
4500-7000 K can be tens of dex at T = 0 or at its own T_ref-free level).

The input [X/Fe] is kept as ``[X/Fe]_uncali`` (Table 4) whenever an abundance step runs. An
element the calibration lacks for a step is left without that step, with a warning naming it.
Other columns (``*_err``, ``*_flag``, Chisq, ids, ...) pass through unchanged. Running only some
steps gives the stages of the calibration chapter (before, after Teff, after logg, after zero
points).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from astropy.table import Column, Table

from phdl.calibrate.calibration import STEPS, Calibration
from phdl.calibrate.catalogs import as_table, require, values, xfe

_XFE = re.compile(r"^\[([A-Z][a-z]?)/Fe\]$")


def _replace(table: Table, name: str, data: np.ndarray) -> None:
    """Put ``data`` in column ``name`` of ``table``, keeping its unit, description and format."""
    old = table[name]
    new = Column(data, name=name, unit=old.unit, description=old.description, format=old.format)
    table.replace_column(name, new)


def _steps(calibration: Calibration, steps: Sequence[str] | None) -> tuple[str, ...]:
    """The steps to run: all the calibration holds when None; ValueError for an unknown step or
    one the calibration lacks."""
    if steps is None:
        return calibration.steps
    steps = tuple(steps)
    for step in steps:
        if step not in STEPS:
            raise ValueError(f"unknown calibration step {step!r}; expected some of {STEPS}")
        if step not in calibration.steps:
            raise ValueError(f"the calibration has no {step!r} step (it has {calibration.steps})")
    return tuple(s for s in STEPS if s in steps)


def _term(
    calibration: Calibration, step: str, element: str, teff: np.ndarray, logg: np.ndarray
) -> np.ndarray | None:
    """The correction (dex) of one abundance step for ``element``; None if the calibration
    lacks it."""
    if step == "teff":
        trend = calibration.teff.get(element)
        return None if trend is None else trend.shape(teff)
    if step == "logg":
        trend = calibration.logg.get(element)
        return None if trend is None else trend(logg)
    zero = calibration.zero
    return None if zero is None or element not in zero.d else np.full_like(teff, zero.d[element])


def apply(table: Any, calibration: Calibration, steps: Sequence[str] | None = None) -> Table:
    """A NEW astropy Table: ``table`` (uncalibrated labels) with the calibration's ``steps``
    applied (module docstring); ``steps`` None runs every step the calibration holds.

    A table that already has ``[X/Fe]_uncali`` columns is a ValueError (calibrating twice).
    """
    table = as_table(table, "table")
    steps = _steps(calibration, steps)
    require(table, ["Teff", "logg"], "table")
    done = [c for c in table.colnames if c.endswith("_uncali")]
    if done:
        raise ValueError(f"the table is already calibrated (it has {done[0]!r})")
    out = table.copy()
    teff, logg = values(table, "Teff"), values(table, "logg")
    if "atm" in steps:
        for name, correction in calibration.atm(teff, logg).items():
            if name in table.colnames:
                _replace(out, name, values(table, name) - correction)
    abundance_steps = [s for s in steps if s != "atm"]
    if abundance_steps:
        _abundances(table, out, calibration, abundance_steps, teff, logg)
    return out


def _abundances(
    table: Table,
    out: Table,
    calibration: Calibration,
    steps: list[str],
    teff: np.ndarray,
    logg: np.ndarray,
) -> None:
    """Apply the abundance ``steps`` to every [X/Fe] column of ``table`` into ``out``."""
    lacking: dict[str, list[str]] = {}
    for name in table.colnames:
        match = _XFE.match(name)
        if not match:
            continue
        element = match.group(1)
        corrected = values(table, name)
        for step in steps:
            term = _term(calibration, step, element, teff, logg)
            if term is None:
                lacking.setdefault(element, []).append(step)
            else:
                corrected = corrected - term
        out[f"{xfe(element)}_uncali"] = table[name].copy()
        _replace(out, name, corrected)
    if lacking:
        which = "; ".join(f"{e} (no {', '.join(s)})" for e, s in lacking.items())
        warnings.warn(f"the calibration lacks steps for {which}: left without them", stacklevel=3)
