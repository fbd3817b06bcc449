"""The whole calibration of Section 4.1-4.2 in order, from fitted samples and references.

1. §4.1: :func:`~phdl.calibrate.atm.fit_atm_splines` of our Teff, logg, [Fe/H] against the
   LAMOST reference (DD-Payne) on the survey-common stars;
2. §4.2.1: :func:`~phdl.calibrate.teff_trend.fit_teff_trend` per element on the wide binaries
   that pass the paper's cuts (:func:`~phdl.calibrate.binaries.binary_cuts`, on our
   uncalibrated labels);
3. §4.2.2: :func:`~phdl.calibrate.logg_trend.fit_logg_trends` of the combined sample (binaries,
   common stars, M67, solar giants) after step 2, against the Hypatia-like reference, vs our
   uncalibrated logg (the paper's reading);
4. :func:`~phdl.calibrate.zero_points.zero_points` of the combined sample after steps 1-3,
   against Hypatia's solar twins, GALAH's where Hypatia is thin.

The corrections are functions of our labels as fitted (uncalibrated Teff and logg, as
:func:`~phdl.calibrate.correct.apply` evaluates them); each abundance step sees the abundance
steps before it applied, and the zero points select our solar twins on calibrated labels.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from astropy.table import Table

from phdl.calibrate.atm import fit_atm_splines
from phdl.calibrate.binaries import binary_cuts, pair_deltas, pair_table
from phdl.calibrate.calibration import Calibration
from phdl.calibrate.catalogs import symbol
from phdl.calibrate.correct import apply
from phdl.calibrate.logg_trend import fit_logg_trends
from phdl.calibrate.teff_trend import DegeneratePairs, fit_teff_trend
from phdl.calibrate.zero_points import zero_points
from phdl.paper import ATM_MIN_SNR, CATALOG_ELEMENTS

__all__ = [
    "STAGES", "applied", "calibration_stages", "fit_calibration", "snr_cut", "teff_trends",
    "without_uncali",
]  # fmt: skip

#: The four points at which chapter 06 scores a calibration: stage name -> steps applied.
STAGES: dict[str, tuple[str, ...]] = {
    "before": (),
    "after Teff step": ("atm", "teff"),
    "after logg step": ("atm", "teff", "logg"),
    "after zero points": ("atm", "teff", "logg", "zero"),
}


def teff_trends(
    binaries: Any, pairs: Any, survey: Any, elements: Iterable[str], *, seed: int = 0, **kw: Any
) -> tuple[dict, Table]:
    """Step 2: Eq. 28 per element on the pairs of ``pairs`` (El-Badry-like) that pass the
    paper's cuts, with our labels ``binaries`` and the survey's S/N and V_los ``survey``
    (columns ``snr_g``, ``vlos``). Returns (element -> TeffTrend, the kept pairs table). An
    element whose pairs cannot constrain Eq. 28 (fewer than 4 with finite values) gets no
    trend, and so does one whose pairs' temperatures cannot separate a, b and c
    (:class:`~phdl.calibrate.teff_trend.DegeneratePairs`); one warning names them all."""
    kept = binary_cuts(pair_table(binaries, pairs, survey))
    trends, skipped = {}, []
    for k, el in enumerate(elements):
        data = pair_deltas(kept, el)
        if len(data[0]) < 4:
            skipped.append(f"{symbol(el)} ({len(data[0])} pairs)")
            continue
        try:
            trends[symbol(el)] = fit_teff_trend(*data, seed=seed + k, **kw)
        except DegeneratePairs:
            skipped.append(f"{symbol(el)} ({len(data[0])} pairs, degenerate temperatures)")
    if skipped:
        warnings.warn(f"no Teff trend for {', '.join(skipped)}", stacklevel=2)
    return trends, kept


def fit_calibration(
    *,
    common: Any,
    lamost_reference: Any,
    binaries: Any,
    pairs: Any,
    survey: Any,
    logg_sample: Any,
    hypatia: Any,
    galah: Any = None,
    elements: Iterable[str] = CATALOG_ELEMENTS,
    seed: int = 0,
) -> Calibration:
    """The four steps (module docstring) as one :class:`Calibration`.

    ``common``: our labels of the survey-common stars; ``lamost_reference``: their reference
    labels (phdl names, e.g. :func:`phdl.io.surveys.standardize` of DD-Payne); ``binaries``,
    ``pairs``, ``survey``: as :func:`teff_trends`; ``logg_sample``: our labels of the
    combined sample; ``hypatia``, ``galah``: references in phdl names. All tables carry
    ``source_id``; ``seed``: emcee's.
    """
    elements = [symbol(e) for e in elements]
    cal = Calibration(atm=fit_atm_splines(common, lamost_reference))
    cal.teff, _ = teff_trends(binaries, pairs, survey, elements, seed=seed)
    after_teff = applied(logg_sample, cal, ("teff",), elements)  # logg as fitted (§4.2.2)
    cal.logg = fit_logg_trends(after_teff, hypatia, elements)
    after_logg = applied(logg_sample, cal, ("atm", "teff", "logg"), elements)
    cal.zero = zero_points(after_logg, hypatia, galah, elements=elements)
    return cal


def snr_cut(table: Any, minimums: dict[str, float] = ATM_MIN_SNR) -> Table:
    """The rows of ``table`` above every S/N minimum whose column it has (§4.1: S/N_g > 40,
    GALAH snr_c1_iraf > 40 and snr_c3_iraf > 60); ValueError if it has none of them."""
    from phdl.calibrate.catalogs import as_table, values

    table = as_table(table, "table")
    present = [c for c in minimums if c in table.colnames]
    if not present:
        raise ValueError(f"table has none of the S/N columns {list(minimums)}")
    keep = np.ones(len(table), dtype=bool)
    for col in present:
        keep &= values(table, col) > minimums[col]
    return table[keep]


def applied(
    table: Any,
    calibration: Calibration,
    steps: tuple[str, ...],
    elements: Iterable[str] | None = None,
) -> Table:
    """:func:`~phdl.calibrate.correct.apply` of ``steps`` to the labels the calibration
    covers: the [X/Fe] columns of elements it has no step for (e.g. the [S/Fe], [K/Fe], ...
    the fit holds fixed), or of elements not in ``elements`` when given, are dropped first,
    and the ``_uncali`` copies after. Of ``steps``, those the calibration holds are applied
    (one that lacks a step, e.g. a sky too small for any Teff trend, leaves it out)."""
    from phdl.calibrate.catalogs import as_table

    table = as_table(table, "table")
    if elements is not None:
        covered = {symbol(e) for e in elements}
    else:
        covered = set(calibration.teff) | set(calibration.logg)
        covered |= set(calibration.zero.d) if calibration.zero is not None else set()
    drop = []
    for name in table.colnames:
        el = symbol(name.split("_")[0]) if name.startswith("[") else None
        if el is not None and name.split("_")[0] != "[Fe/H]" and el not in covered:
            drop.append(name)
    out = table.copy(copy_data=False)
    out.remove_columns(drop)
    steps = tuple(s for s in steps if s in calibration.steps)  # those it holds
    return without_uncali(apply(out, calibration, steps=steps)) if steps else out


def calibration_stages(table: Any, calibration: Calibration) -> dict[str, Table]:
    """``table`` at each of :data:`STAGES` (name -> :func:`applied` with those steps)."""
    return {name: applied(table, calibration, steps) for name, steps in STAGES.items()}


def without_uncali(table: Table) -> Table:
    """``table`` without its ``_uncali`` columns (the next step reads the corrected values)."""
    out = table.copy(copy_data=False)
    out.remove_columns([c for c in out.colnames if c.endswith("_uncali")])
    return out
