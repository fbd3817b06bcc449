"""The subgiant catalogue's sample (paper §5): field subgiants with LAMOST S/N_g above
:data:`phdl.paper.CATALOG_MIN_SNR`, some observed more than once, with Table 4's identifiers.

The stars are the field population of :mod:`phdl.sky.population` (low-α, high-α and halo, the
same abundance trends) placed on the subgiant branch only, so the catalogue's [X/Fe]–[Fe/H]
planes and its high/low-α bimodality come from a known truth (``population``). Drawn as the
paper's sample was selected: a larger draw, of which the stars with S/N_g > 50 are kept.

Repeat visits: a fraction :data:`REPEAT_FRACTION` of the stars is observed a second time, with
its own S/N (drawn again above the cut), its own noise (each row of the spectra file has its
own) and its own SPECID. Rows of one star share ``source_id``; ``UQFLAG`` is the number of the
star's visits (Table 4: 1 unique, > 1 repeat visits).

Identifiers: RA uniform in 0-360° and DEC uniform in sin δ over :data:`DEC_RANGE` (LAMOST's
northern sky), SPECID obsdate-planid-spid-fiberid with an observing date in
:data:`OBS_YEARS`, a plan name, a spectrograph 1-16 and a fiber 1-250
(:func:`phdl.io.lamost_catalog.specid`).
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table, vstack

from phdl.paper import CATALOG_MIN_SNR
from phdl.sky.population import _field, check_n, draw_snr

__all__ = ["DEC_RANGE", "OBS_YEARS", "REPEAT_FRACTION", "subgiants"]

#: Fraction of the stars observed twice.
REPEAT_FRACTION: float = 0.1
#: Declination range of the simulated footprint (deg).
DEC_RANGE: tuple[float, float] = (-10.0, 60.0)
#: Observing seasons (first and last year) of the simulated SPECIDs.
OBS_YEARS: tuple[int, int] = (2011, 2019)
_SGB_ONLY = (0.0, 1.0, 0.0)  # fractions of dwarfs, subgiants, giants


def _kept(n: int, seed: int) -> tuple[Table, np.random.Generator]:
    """The first ``n`` field subgiants of a larger draw with S/N_g above the cut."""
    for factor in (4, 16):
        table, rng = _field("subgiants", factor * n, seed, branches=_SGB_ONLY)
        table = table[np.asarray(table["snr_g"]) > CATALOG_MIN_SNR]
        if len(table) >= n:
            return table[:n], rng
    raise ValueError(f"cannot draw {n} subgiants with S/N_g > {CATALOG_MIN_SNR:g}")


def _positions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """RA (deg) uniform, DEC (deg) uniform in sin δ over :data:`DEC_RANGE`."""
    lo, hi = np.sin(np.radians(DEC_RANGE))
    return rng.uniform(0.0, 360.0, n), np.degrees(np.arcsin(rng.uniform(lo, hi, n)))


def _specids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct LAMOST-like SPECIDs (obsdate-planid-spid-fiberid): rows fill the 4,000
    fibers (16 spectrographs × 250) of one plan after another, each plan on its own date, and
    then are shuffled, so a star's repeat visit lies on another plan."""
    from phdl.io.lamost_catalog import specid

    k = rng.permutation(n)
    plan = k // 4000
    start = np.datetime64(f"{OBS_YEARS[0]}-10-01")
    days = (np.datetime64(f"{OBS_YEARS[1]}-06-30") - start).astype(int)
    dates = start + rng.integers(0, days, plan.max() + 1)
    return np.asarray(
        [
            specid(str(dates[p]), f"SKY{p:05d}", int(1 + (i // 250) % 16), int(1 + i % 250))
            for p, i in zip(plan, k, strict=True)
        ]
    )


def subgiants(n: int, seed: int, repeat_fraction: float = REPEAT_FRACTION) -> Table:
    """``n`` field subgiants with S/N_g > 50 (truth; the columns of every sky sample, plus
    ``RA``, ``DEC`` (deg), ``SPECID``, ``UQFLAG``, ``visit`` (1, 2)), of which
    ``round(repeat_fraction · n)`` have a second row: a repeat visit with its own S/N_g and
    SPECID. ValueError for a bad ``n`` or ``repeat_fraction`` outside [0, 1]."""
    n = check_n(n)
    if not 0.0 <= float(repeat_fraction) <= 1.0:
        raise ValueError(f"repeat_fraction must lie in [0, 1], got {repeat_fraction!r}")
    stars, rng = _kept(n, seed)
    stars["RA"], stars["DEC"] = _positions(rng, n)
    stars["visit"] = np.ones(n, dtype=np.int64)
    again = np.sort(rng.choice(n, size=int(round(repeat_fraction * n)), replace=False))
    second = stars[again]
    second["snr_g"] = draw_snr(rng, len(again), lo=CATALOG_MIN_SNR)
    second["visit"] = 2
    out = vstack([stars, second])
    out["UQFLAG"] = np.ones(len(out), dtype=np.int64)
    out["UQFLAG"][np.isin(np.asarray(out["source_id"]), np.asarray(second["source_id"]))] = 2
    out["SPECID"] = _specids(rng, len(out))
    out["RA"].unit = out["DEC"].unit = "deg"
    return out
