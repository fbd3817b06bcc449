"""Wide binaries (truth) and the paper's wide-binary cuts (§4.2.1).

:func:`wide_binaries` draws pairs as in El-Badry et al. (2021): two stars born together, so one
age, one [Fe/H] and one abundance pattern (every [X/Fe] identical to the last bit), at two
masses on one isochrone (:func:`phdl.sky.isochrone.isochrone`). A fraction
:data:`CHANCE_FRACTION` (5 %) are chance alignments: the second star is an unrelated field star
(its own population, [Fe/H], age, abundances) with a different line-of-sight velocity.

:func:`binary_cuts` (:mod:`phdl.calibrate.binaries`, re-exported here) applies the paper's
cuts to any table of pairs (truth or fitted labels).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.table import Table

from phdl.calibrate.binaries import binary_cuts, pair_rows
from phdl.sky import isochrone as iso
from phdl.sky.abundances import abundance_pattern
from phdl.sky.population import (
    SAMPLE_CODES,
    SNR_G,
    check_n,
    draw_populations,
    draw_snr,
    streams,
    truth_table,
)

__all__ = ["CHANCE_FRACTION", "VLOS_ERR", "binary_cuts", "delta_vlos", "pair_rows", "wide_binaries"]

#: Fraction of pairs that are chance alignments (El-Badry et al. 2021: contamination of a few
#: per cent at wide separations).
CHANCE_FRACTION: float = 0.05
#: LAMOST-like line-of-sight velocity error: hypot(floor, scale / S/N_g) km/s.
VLOS_ERR: dict[str, float] = {"floor": 4.0, "scale": 150.0}
#: Systemic velocity σ and the chance-alignment velocity difference σ (km/s).
VLOS_SIGMA, CHANCE_DV_SIGMA = 40.0, 30.0
#: Age range of the pairs (Gyr, uniform) and projected separations (log10 AU, uniform).
AGE_RANGE: tuple[float, float] = (1.0, 10.0)
LOG_SEP_AU: tuple[float, float] = (1.7, 4.7)
_GM_SUN_AU = 29.78  # km/s: circular speed at 1 AU around 1 M☉


def _masses(rng: np.random.Generator, n: int, age: np.ndarray, feh: np.ndarray):
    """Primary and secondary masses (M☉): primary U(0.6, 1.03) M_TO (dwarfs mostly, a few
    subgiants), secondary uniform between max(0.5 M1, the 3900 K mass) and M1."""
    m_to = iso.turnoff_mass(age)
    m1 = m_to * rng.uniform(0.6, 1.03, n)
    m_cool = m_to * (3900.0 / iso.turnoff_teff(age, feh)) ** (1.0 / iso.MASS_TEFF_EXPONENT)
    m_low = np.minimum(np.maximum(0.5 * m1, m_cool), m1)
    return m1, m1 - (m1 - m_low) * rng.uniform(size=n)


def _velocities(rng, m1, m2, sep_au, chance, snr1, snr2):
    """True and measured line-of-sight velocities (km/s) of both components, and the errors."""
    n = len(m1)
    v_sys = rng.normal(0.0, VLOS_SIGMA, n)
    v_orb = _GM_SUN_AU * np.sqrt((m1 + m2) / sep_au) * rng.standard_normal(n) / np.sqrt(3.0)
    dv = np.where(chance, rng.normal(0.0, CHANCE_DV_SIGMA, n), v_orb)
    v1, v2 = v_sys + dv * m2 / (m1 + m2), v_sys - dv * m1 / (m1 + m2)
    err1, err2 = (np.hypot(VLOS_ERR["floor"], VLOS_ERR["scale"] / s) for s in (snr1, snr2))
    return v1 + err1 * rng.standard_normal(n), v2 + err2 * rng.standard_normal(n), err1, err2


def wide_binaries(n_pairs: int, seed: int) -> Table:
    """``n_pairs`` wide binaries (truth), two rows per pair, pair after pair.

    Per pair: population, [Fe/H] as the field (:func:`phdl.sky.population.draw_populations`),
    age U(1, 10) Gyr, masses from :func:`_masses`, separation log-uniform 50-50,000 AU. S/N_g
    of the primary LAMOST-like (:func:`phdl.sky.population.draw_snr`), of the secondary
    S/N_1 (M2/M1)² (flux ∝ M⁴ on the main sequence), clipped to [10, 500]. Measured V_los =
    true + N(0, vlos_err); bound pairs differ by their projected orbital speed
    29.78 sqrt(M_tot / sep_AU) N(0, 1/3) km/s, chance alignments by N(0, 30) km/s.

    Extra columns: ``pair_id`` (0 ... n_pairs-1), ``component`` (1, 2), ``mass`` (M☉),
    ``sep_AU`` (AU), ``bound`` (False for chance alignments), ``vlos`` and ``vlos_err`` (km/s).
    """
    n = check_n(n_pairs, "n_pairs")
    r_pop, r_mass, r_ab, r_snr, r_v, r_id, r_chance = streams(seed, SAMPLE_CODES["binaries"], 7)
    pops, feh, _ = draw_populations(r_pop, n)
    age = r_pop.uniform(*AGE_RANGE, n)
    m1, m2 = _masses(r_mass, n, age, feh)
    xfe = abundance_pattern(feh, pops, r_ab)
    chance = r_chance.uniform(size=n) < CHANCE_FRACTION
    pops2, feh2, age2 = draw_populations(r_chance, n)
    xfe2 = abundance_pattern(feh2, pops2, r_chance)
    m2_chance = _masses(r_chance, n, age2, feh2)[0]
    pops2, feh2, age2 = (
        np.where(chance, b, a) for a, b in ((pops, pops2), (feh, feh2), (age, age2))
    )
    xfe2 = np.where(chance[:, None], xfe2, xfe)
    m2 = np.where(chance, m2_chance, m2)
    sep = 10.0 ** r_v.uniform(*LOG_SEP_AU, n)
    snr1 = draw_snr(r_snr, n)
    snr2 = np.clip(snr1 * (m2 / m1) ** 2, *SNR_G["range"])
    v1, v2, e1, e2 = _velocities(r_v, m1, m2, sep, chance, snr1, snr2)

    def both(a, b):  # interleave: pair 0 star 1, pair 0 star 2, pair 1 star 1, ...
        return np.stack([np.asarray(a), np.asarray(b)], axis=1).reshape(2 * n, *np.shape(a)[1:])

    teff1, logg1 = iso.isochrone(age, feh, m1)
    teff2, logg2 = iso.isochrone(age2, feh2, m2)
    eep = both(iso.eep_of_mass(m1, age, feh), iso.eep_of_mass(m2, age2, feh2))
    return truth_table(
        "binaries", r_id, both(teff1, teff2), both(logg1, logg2), both(feh, feh2),
        both(xfe, xfe2), both(snr1, snr2), both(pops, pops2),
        branch=iso.branch_of(eep), age=both(age, age2),
        pair_id=np.repeat(np.arange(n, dtype=np.int64), 2),
        component=np.tile(np.array([1, 2], dtype=np.int64), n),
        mass=both(m1, m2), sep_AU=np.repeat(sep, 2), bound=np.repeat(~chance, 2),
        vlos=both(v1, v2), vlos_err=both(e1, e2),
    )  # fmt: skip


def delta_vlos(table: Any, vlos_col: str = "vlos", pair_col: str = "pair_id",
               component_col: str = "component") -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(pair ids, ΔV_los = V_los,1 - V_los,2 km/s) of every pair of ``table``."""
    i1, i2 = pair_rows(table, pair_col, component_col)
    v = np.asarray(table[vlos_col], dtype=np.float64)
    return np.asarray(table[pair_col])[i1], v[i1] - v[i2]
