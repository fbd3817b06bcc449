"""Van der Waals damping from ABO cross-sections (Anstee & O'Mara 1995; Barklem & O'Mara 1997;
Barklem, O'Mara & Ross 1998; Barklem, Piskunov & O'Mara 2000), as VALD and VALD-derived MOOG
lists give them: a positive number sigma.alpha, sigma the broadening cross-section in units of
the Bohr radius squared at v0 = 10^4 m/s, alpha the velocity exponent of sigma(v) ~ v^-alpha.

The full width at half maximum per H atom is (Anstee & O'Mara 1995; the factor 2 turns
their half width into a full one)

    gamma(T) = 2 (4/pi)^(alpha/2) Gamma((4 - alpha)/2) v0 sigma (vbar/v0)^(1 - alpha),
    vbar = sqrt(8 k T / (pi mu)),  mu the reduced mass of the atom and H,

so gamma ~ T^((1 - alpha)/2). The engine scales every gamma_vdW as (T/10^4 K)^0.3 (the Unsold
exponent, :mod:`phdl.synth.lines`), so an ABO line is given the gamma_vdW at 10^4 K that
reproduces its ABO width exactly at :data:`T_MATCH` = 5,000 K, where the wings of strong lines
in FGK photospheres form; for the usual alpha = 0.2-0.4 the width is then within 3.5 % of ABO's
at 4,000-7,000 K.
"""

from __future__ import annotations

import math

BOHR_CM = 0.529177210903e-8  # Bohr radius [cm] (CODATA 2018)
K_V = 2.1175e8  # 8 k / (pi amu) [cm^2 s^-2 K^-1 amu]: mean relative speed^2 = K_V T / mu
H_MASS = 1.008  # amu
V0 = 1.0e6  # cm/s, the speed at which sigma is tabulated
T_MATCH = 5000.0  # K, where the engine's T^0.3 width equals ABO's
UNSOLD_EXPONENT = 0.3  # the engine's temperature scaling of gamma_vdW (phdl.synth.lines uses it)
# smallest packed sigma.alpha read as ABO: real sigma are ~100-2000 a0^2, while MOOG's other
# positive damping values (factors on Unsold's C6) are ~1-10
ABO_MIN = 20.0


def is_abo(packed: float) -> bool:
    """True for a packed ABO sigma.alpha: a finite number >= :data:`ABO_MIN`."""
    return math.isfinite(packed) and packed >= ABO_MIN


def gamma_abo(packed: float, mass_amu: float, temperature: float) -> float:
    """FWHM van der Waals width per H atom [s^-1 cm^3] at ``temperature`` [K] of a line of an
    atom (or ion) of mass ``mass_amu`` [amu] with ABO data ``packed`` = sigma.alpha."""
    if not is_abo(packed):
        raise ValueError(f"not a packed ABO sigma.alpha (a number >= {ABO_MIN:g}): {packed!r}")
    sigma, alpha = math.floor(packed), packed - math.floor(packed)
    vbar = math.sqrt(K_V * temperature * (1.0 / mass_amu + 1.0 / H_MASS))
    shape = (4.0 / math.pi) ** (alpha / 2.0) * math.gamma((4.0 - alpha) / 2.0)
    return 2.0 * shape * V0 * sigma * BOHR_CM**2 * (vbar / V0) ** (1.0 - alpha)


def log_gamma_vdw_from_abo(packed: float, mass_amu: float) -> float:
    """log10 of the engine's gamma_vdW per H atom at 10^4 K [s^-1 cm^3] for ABO data ``packed``:
    the ABO width at :data:`T_MATCH`, carried to 10^4 K with the engine's T^0.3 scaling."""
    g = gamma_abo(packed, mass_amu, T_MATCH) * (1.0e4 / T_MATCH) ** UNSOLD_EXPONENT
    return math.log10(g)
