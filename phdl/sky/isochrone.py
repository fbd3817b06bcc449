"""An analytic isochrone, a stand-in for MIST: (age, [Fe/H], mass) -> (Teff, logg), and vmic.

The paper draws Teff and logg from MIST isochrones; we have none, so the sky uses the same
family of analytic loci as the training grid (:func:`phdl.grid.sample_labels`), joined into one
continuous curve per (age, [Fe/H]) and parametrized by a phase coordinate ``eep`` in [0, 3]
(after MIST's "equivalent evolutionary points"):

- main sequence, ``eep`` in [0, 1]: Teff = 3800 + (T_TO - 3800)·x K on the grid's line
  logg = 4.9 - 0.9 (Teff - 3800)/4200, bending up to logg 4.1 at the turn-off as
  ``- (logg_MS(T_TO) - 4.1)·x⁴`` (evolved stars near the turn-off), x = eep;
- subgiant branch, ``eep`` in [1, 2]: from (T_TO, 4.1) to the base of the RGB at logg 3.8,
  linear in u = eep - 1 (the grid's SGB ends at 5000 K; ours ends on the RGB line, so the curve
  is continuous);
- red giant branch, ``eep`` in [2, 3]: logg = 3.8 - 3.3 u from the base to the tip (0.5),
  Teff = 3900 + 400 (logg - 0.5) - 150 [Fe/H] K (the grid's RGB line).

The turn-off temperature :func:`turnoff_teff` is T_TO = clip(6100 - 800 log10(age / 4 Gyr),
5500, 7000) - 150 [Fe/H] K: 6100 K at 4 Gyr and solar metallicity, ~5800 K at 10 Gyr, ~6600 K at
1 Gyr, hotter when metal-poor (the grid's turn-offs are U(5500, 6500) - 150 [Fe/H] K).

Masses (:func:`isochrone`): the turn-off mass is M_TO = (age / 10 Gyr)^(-1/2.5) M☉ (main-sequence
lifetime 10 Gyr · M^-2.5). On the main sequence Teff = T_TO (M / M_TO)^0.6, so the lower mass is
the cooler star; masses below the 3800 K one sit at 3800 K (Table 1's floor). Past the turn-off
the post-main-sequence life spans 10 % of M_TO in mass: the first 40 % of it is the subgiant
branch, the rest the RGB up to the tip; a heavier mass has left the isochrone (a remnant).
"""

from __future__ import annotations

import numpy as np

from phdl.labels import RANGES

__all__ = [
    "BRANCHES",
    "branch_of",
    "eep_of_mass",
    "isochrone",
    "locus",
    "ms_logg",
    "rgb_teff",
    "turnoff_mass",
    "turnoff_teff",
    "vmic",
]

#: Branch names, by ``floor(eep)``: main sequence, subgiant branch, red giant branch.
BRANCHES: tuple[str, str, str] = ("MS", "SGB", "RGB")
#: logg (dex) at the turn-off, at the base of the RGB and at its tip.
LOGG_TURNOFF, LOGG_RGB_BASE, LOGG_TIP = 4.1, 3.8, 0.5
#: Teff (K) of the cool end of the main sequence (Table 1's lower bound).
TEFF_MS_MIN: float = RANGES["Teff"][0]
#: Main sequence Teff ∝ M^MASS_TEFF_EXPONENT.
MASS_TEFF_EXPONENT: float = 0.6
#: Post-main-sequence mass span (fraction of M_TO) and the subgiant branch's share of it.
POST_MS_SPAN, SGB_SHARE = 0.10, 0.4


def turnoff_teff(age_gyr, feh) -> np.ndarray:
    """Turn-off Teff (K) at ``age_gyr`` (Gyr, > 0) and ``feh`` (dex); see the module text."""
    age = np.asarray(age_gyr, dtype=np.float64)
    if np.any(~(age > 0)):
        raise ValueError(f"age_gyr must be > 0 Gyr, got {np.min(age)!r}")
    base = np.clip(6100.0 - 800.0 * np.log10(age / 4.0), 5500.0, 7000.0)
    return np.minimum(base - 150.0 * np.asarray(feh, dtype=np.float64), RANGES["Teff"][1])


def turnoff_mass(age_gyr) -> np.ndarray:
    """Turn-off mass (M☉) at ``age_gyr`` (Gyr): (age / 10 Gyr)^(-1/2.5)."""
    age = np.asarray(age_gyr, dtype=np.float64)
    if np.any(~(age > 0)):
        raise ValueError(f"age_gyr must be > 0 Gyr, got {np.min(age)!r}")
    return (age / 10.0) ** (-1.0 / 2.5)


def ms_logg(teff) -> np.ndarray:
    """logg (dex) of the grid's main-sequence line at ``teff`` (K): 4.9 - 0.9 (Teff - 3800)/4200."""
    return 4.9 - 0.9 * (np.asarray(teff, dtype=np.float64) - 3800.0) / 4200.0


def rgb_teff(logg, feh) -> np.ndarray:
    """Teff (K) of the grid's RGB line: 3900 + 400 (logg - 0.5) - 150 [Fe/H] (logg, [Fe/H] dex)."""
    return 3900.0 + 400.0 * (np.asarray(logg) - 0.5) - 150.0 * np.asarray(feh)


def locus(eep, feh, t_to) -> tuple[np.ndarray, np.ndarray]:
    """(Teff K, logg dex) at phase ``eep`` in [0, 3] (clipped), [Fe/H] ``feh`` (dex) and
    turn-off Teff ``t_to`` (K), on the loci of the module text; arrays broadcast."""
    eep, feh, t_to = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (eep, feh, t_to))
    )
    e = np.clip(eep, 0.0, 3.0)
    x = np.clip(e, 0.0, 1.0)
    t_ms = TEFF_MS_MIN + (t_to - TEFF_MS_MIN) * x
    g_ms = ms_logg(t_ms) - (ms_logg(t_to) - LOGG_TURNOFF) * x**4
    u = np.clip(e - 1.0, 0.0, 1.0)
    t_end = rgb_teff(LOGG_RGB_BASE, feh)
    t_sgb = t_to - (t_to - t_end) * u
    g_sgb = LOGG_TURNOFF - (LOGG_TURNOFF - LOGG_RGB_BASE) * u
    g_rgb = LOGG_RGB_BASE - (LOGG_RGB_BASE - LOGG_TIP) * np.clip(e - 2.0, 0.0, 1.0)
    branch = np.minimum(e.astype(int), 2)
    teff = np.choose(branch, [t_ms, t_sgb, rgb_teff(g_rgb, feh)])
    logg = np.choose(branch, [g_ms, g_sgb, g_rgb])
    return np.clip(teff, *RANGES["Teff"]), np.clip(logg, *RANGES["logg"])


def branch_of(eep) -> np.ndarray:
    """Branch name ("MS", "SGB", "RGB") of each phase ``eep`` (eep = 3, the tip, is "RGB")."""
    idx = np.minimum(np.clip(np.asarray(eep, dtype=np.float64), 0, 3).astype(int), 2)
    return np.asarray(BRANCHES)[idx]


def eep_of_mass(mass, age_gyr, feh) -> np.ndarray:
    """Phase ``eep`` of a star of ``mass`` (M☉) on the isochrone of ``age_gyr`` (Gyr), ``feh``.

    ValueError for a mass <= 0 or beyond the RGB tip (M > 1.1 M_TO: a remnant, not on it).
    """
    mass = np.asarray(mass, dtype=np.float64)
    m_to = turnoff_mass(age_gyr)
    t_to = turnoff_teff(age_gyr, feh)
    s = (mass / m_to - 1.0) / POST_MS_SPAN
    if np.any(~(mass > 0)) or np.any(s > 1.0 + 1e-12):
        bad = mass[~(mass > 0) | (s > 1.0 + 1e-12)].ravel()[0]
        raise ValueError(
            f"mass {bad!r} M☉ is not on the isochrone: expected 0 < mass <= "
            f"{1 + POST_MS_SPAN:g} × the turn-off mass {np.max(m_to):.3f} M☉"
        )
    t_ms = t_to * np.minimum(mass / m_to, 1.0) ** MASS_TEFF_EXPONENT
    x = np.clip((t_ms - TEFF_MS_MIN) / (t_to - TEFF_MS_MIN), 0.0, 1.0)
    post = np.where(
        s < SGB_SHARE,
        1.0 + s / SGB_SHARE,
        2.0 + (s - SGB_SHARE) / (1.0 - SGB_SHARE),
    )
    return np.where(s < 0.0, np.minimum(x, np.nextafter(1.0, 0.0)), np.minimum(post, 3.0))


def isochrone(age_gyr, feh, mass) -> tuple[np.ndarray, np.ndarray]:
    """(Teff K, logg dex) of stars of ``mass`` (M☉) on the isochrone of ``age_gyr`` (Gyr) and
    ``feh`` (dex). Two masses on one isochrone give two stars of one age and composition (a
    wide binary): on the main sequence the lower mass is the cooler one."""
    eep = eep_of_mass(mass, age_gyr, feh)
    return locus(eep, feh, turnoff_teff(age_gyr, feh))


def vmic(teff, logg) -> np.ndarray:
    """Microturbulence (km/s) from Teff (K) and logg (dex), clipped into [0.5, 3.0] km/s.

    Giants follow Holtzman et al. (2015, APOGEE DR12): 2.478 - 0.325 logg; dwarfs (weight
    w = clip(logg - 3, 0, 1)) add 0.0004 (Teff - 5772) km/s/K, the rise of vmic with Teff on the
    main sequence (shape after Bensby et al. 2014). The Sun gets 1.03 km/s.
    """
    teff, logg = np.asarray(teff, dtype=np.float64), np.asarray(logg, dtype=np.float64)
    w = np.clip(logg - 3.0, 0.0, 1.0)
    value = 2.478 - 0.325 * logg + 4e-4 * (teff - 5772.0) * w
    return np.clip(value, *RANGES["vmic"])
