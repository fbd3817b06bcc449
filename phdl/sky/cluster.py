"""M67 (truth): one age, one composition, stars from the main sequence to the red giant branch.

The cluster is one isochrone (:func:`phdl.sky.isochrone.isochrone`) at :data:`AGE_GYR` = 4 Gyr
and [Fe/H] = :data:`FEH` = 0.0 dex. Its abundance pattern is drawn once per seed from the
low-α trends at [Fe/H] = 0 (:func:`phdl.sky.abundances.abundance_pattern`); each member then
gets Gaussian intrinsic scatter of :data:`INTRINSIC_SCATTER` = 0.01 dex in [Fe/H] and in every
[X/Fe] (clipped at 2σ, so never above 0.02 dex from the cluster value). Members
(:data:`BRANCH_FRACTIONS`): 60 % main sequence from 4600 K to the turn-off, 15 % subgiants,
25 % giants (uniform in mass along each branch).

Atomic diffusion (``diffusion=True``; off by default): near the turn-off gravitational settling
lowers the surface abundances of the metals (Souto et al. 2019; Liu et al. 2019 for M67). We
lower surface [Fe/H] by d = :data:`DIFFUSION_MAX_DEX` · exp(-½ ((Teff - T_TO + 150 K)/300 K)²)
on the main sequence and the subgiant branch (0 on the RGB: the convective envelope has mixed
it back), with d up to 0.1 dex. Heavier elements sink like iron ([X/Fe] unchanged); the lighter
C, N, O, Na sink less: [X/Fe] rises by d (1 - k_X) with k_X = :data:`DIFFUSION_FACTOR`.
The applied d (dex) is the column ``diffusion``.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from phdl.labels import ELEMENTS, RANGES
from phdl.sky import isochrone as iso
from phdl.sky.abundances import abundance_pattern
from phdl.sky.population import SAMPLE_CODES, check_n, draw_snr, streams, truth_table

__all__ = [
    "AGE_GYR",
    "BRANCH_FRACTIONS",
    "DIFFUSION_FACTOR",
    "DIFFUSION_MAX_DEX",
    "FEH",
    "INTRINSIC_SCATTER",
    "diffusion_depletion",
    "m67",
]

#: The cluster's age (Gyr) and [Fe/H] (dex).
AGE_GYR, FEH = 4.0, 0.0
#: σ (dex) of the star-to-star scatter in [Fe/H] and each [X/Fe] (clipped at ±2σ).
INTRINSIC_SCATTER: float = 0.01
#: Fractions of members on the main sequence, the subgiant branch and the RGB.
BRANCH_FRACTIONS: tuple[float, float, float] = (0.60, 0.15, 0.25)
#: Coolest main-sequence member (K).
TEFF_MS_MIN: float = 4600.0
#: Largest surface depletion of the metals by diffusion (dex), near the turn-off.
DIFFUSION_MAX_DEX: float = 0.1
#: Depletion of each element relative to iron (1: like iron); elements not listed: 1.
DIFFUSION_FACTOR: dict[str, float] = {"C": 0.6, "N": 0.6, "O": 0.7, "Na": 0.8}


def _masses(rng: np.random.Generator, n: int) -> np.ndarray:
    """Member masses (M☉): per branch uniform in mass along it (:data:`BRANCH_FRACTIONS`)."""
    m_to = iso.turnoff_mass(AGE_GYR)
    t_to = iso.turnoff_teff(AGE_GYR, FEH)
    m_lo = m_to * (TEFF_MS_MIN / t_to) ** (1.0 / iso.MASS_TEFF_EXPONENT)
    branch = rng.choice(3, size=n, p=BRANCH_FRACTIONS)
    s_sgb = iso.POST_MS_SPAN * iso.SGB_SHARE
    lo = np.array([m_lo, m_to * (1.0 + 1e-9), m_to * (1.0 + s_sgb)])[branch]
    hi = np.array([m_to * (1.0 - 1e-9), m_to * (1.0 + s_sgb), m_to * (1.0 + iso.POST_MS_SPAN)])
    return lo + (hi[branch] - lo) * rng.uniform(size=n)


def diffusion_depletion(teff, logg) -> np.ndarray:
    """Surface depletion d (dex, >= 0) of [Fe/H] by atomic diffusion at (Teff K, logg dex) for
    M67's turn-off (module text); 0 on the RGB (logg < 3.8)."""
    t_to = iso.turnoff_teff(AGE_GYR, FEH)
    d = DIFFUSION_MAX_DEX * np.exp(-0.5 * ((np.asarray(teff) - t_to + 150.0) / 300.0) ** 2)
    return np.where(np.asarray(logg) >= iso.LOGG_RGB_BASE, d, 0.0)


def _scatter(rng: np.random.Generator, shape) -> np.ndarray:
    return INTRINSIC_SCATTER * np.clip(rng.standard_normal(shape), -2.0, 2.0)


def m67(n: int, seed: int, diffusion: bool = False) -> Table:
    """``n`` M67 members (truth) on the 4 Gyr solar-metallicity isochrone, one abundance pattern
    with ≤ 0.02 dex intrinsic scatter, optionally with the turn-off diffusion dip (module text).

    Extra columns: ``mass`` (M☉), ``diffusion`` (dex, the applied surface depletion of [Fe/H];
    0 when ``diffusion`` is False). ``population`` is "M67".
    """
    n = check_n(n)
    r_mass, r_pattern, r_scat, r_snr, r_id = streams(seed, SAMPLE_CODES["m67"], 5)
    mass = _masses(r_mass, n)
    teff, logg = iso.isochrone(AGE_GYR, FEH, mass)
    pattern = abundance_pattern([FEH], "low-alpha", r_pattern)[0]
    feh = FEH + _scatter(r_scat, n)
    xfe = pattern + _scatter(r_scat, (n, len(ELEMENTS)))
    d = diffusion_depletion(teff, logg) if diffusion else np.zeros(n)
    feh = np.clip(feh - d, *RANGES["[Fe/H]"])
    k = np.array([DIFFUSION_FACTOR.get(el, 1.0) for el in ELEMENTS])
    xfe = xfe + d[:, None] * (1.0 - k)
    eep = iso.eep_of_mass(mass, AGE_GYR, FEH)
    return truth_table(
        "m67", r_id, teff, logg, feh, xfe, draw_snr(r_snr, n), "M67",
        branch=iso.branch_of(eep), age=np.full(n, AGE_GYR), mass=mass, diffusion=d,
    )  # fmt: skip
