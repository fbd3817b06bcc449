"""Atomic data for the engine: solar mixture, masses, ionization energies, partition functions.

Solar mixture: Asplund, Grevesse, Sauval & Scott (2009, ARA&A 47, 481), photospheric log eps
(log N_X/N_H + 12). Ionization energies: NIST ASD ground-state values (eV). Masses: IUPAC
standard atomic weights (amu).

Partition functions: by default (``Physics.partition_functions="two-level"``) the engine uses the
two-level approximation below; ``"bc2016"`` uses Barklem & Collet (2016, A&A 588, A96), Table 8,
interpolated by :mod:`phdl.synth.partition` (exact at the table's temperatures; H III, which
Table 8 lacks, keeps the form below, U = 1):

    U(T) = g0 + g1 exp(-E1 / kT),   E1 = 1 eV,

where g0 is the statistical weight of the ground term and g1 is set so that U(5040 K) equals
``u5040`` (read from Gray 2005, *The Observation and Analysis of Stellar Photospheres*, Appendix
D, to ~10 %; for species absent there, the ground-term weight with a rough allowance for low-lying
terms). Against Table 8 it is off by up to a factor 3 between 3,000 and 10,000 K (Sm III x3.0,
Sm II x2.0, Ce I x0.37, Ba II x0.51; see tests/test_partition.py): the table is the better
choice, and becomes the default when the engine's defaults switch together (issue 14).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# symbol: Z, mass, log eps_sun, chi_I, chi_II (eV), (g0, u5040) for I, II, III
_TABLE: dict[str, tuple] = {
    "H": (1, 1.008, 12.00, 13.598, 0.0, (2, 2.0), (1, 1.0), (1, 1.0)),
    "He": (2, 4.0026, 10.93, 24.587, 54.418, (1, 1.0), (2, 2.0), (1, 1.0)),
    "C": (6, 12.011, 8.43, 11.260, 24.383, (9, 9.3), (6, 5.9), (1, 1.0)),
    "N": (7, 14.007, 7.83, 14.534, 29.601, (4, 4.1), (9, 8.9), (6, 6.0)),
    "O": (8, 15.999, 8.69, 13.618, 35.121, (9, 8.8), (4, 4.0), (9, 9.0)),
    "Na": (11, 22.990, 6.24, 5.139, 47.286, (2, 2.0), (1, 1.0), (6, 6.0)),
    "Mg": (12, 24.305, 7.60, 7.646, 15.035, (1, 1.0), (2, 2.0), (1, 1.0)),
    "Al": (13, 26.982, 6.45, 5.986, 18.829, (6, 5.8), (1, 1.0), (2, 2.0)),
    "Si": (14, 28.086, 7.51, 8.152, 16.346, (9, 9.5), (6, 5.7), (1, 1.0)),
    "S": (16, 32.06, 7.12, 10.360, 23.338, (9, 8.5), (4, 4.0), (9, 9.0)),
    "K": (19, 39.098, 5.03, 4.341, 31.63, (2, 2.1), (1, 1.0), (6, 6.0)),
    "Ca": (20, 40.078, 6.34, 6.113, 11.872, (1, 1.1), (2, 2.2), (1, 1.0)),
    "Sc": (21, 44.956, 3.15, 6.561, 12.80, (10, 12.0), (15, 23.0), (10, 10.0)),
    "Ti": (22, 47.867, 4.95, 6.828, 13.576, (21, 30.0), (28, 56.0), (21, 21.0)),
    "V": (23, 50.942, 3.93, 6.746, 14.62, (28, 42.0), (25, 37.0), (28, 28.0)),
    "Cr": (24, 51.996, 5.64, 6.767, 16.486, (7, 10.0), (6, 7.0), (25, 25.0)),
    "Mn": (25, 54.938, 5.43, 7.434, 15.640, (6, 6.3), (7, 7.6), (6, 6.0)),
    "Fe": (26, 55.845, 7.50, 7.902, 16.199, (25, 27.0), (30, 43.0), (25, 25.0)),
    "Co": (27, 58.933, 4.99, 7.881, 17.084, (28, 33.0), (21, 29.0), (28, 28.0)),
    "Ni": (28, 58.693, 6.22, 7.640, 18.169, (21, 29.0), (10, 10.5), (21, 21.0)),
    "Cu": (29, 63.546, 4.19, 7.726, 20.292, (2, 2.3), (1, 1.1), (10, 10.0)),
    "Zn": (30, 65.38, 4.56, 9.394, 17.964, (1, 1.0), (2, 2.0), (1, 1.0)),
    "Sr": (38, 87.62, 2.87, 5.695, 11.030, (1, 1.2), (2, 2.1), (1, 1.0)),
    "Y": (39, 88.906, 2.21, 6.217, 12.224, (10, 12.0), (1, 13.0), (10, 10.0)),
    "Zr": (40, 91.224, 2.58, 6.634, 13.13, (21, 30.0), (28, 45.0), (21, 21.0)),
    "Ba": (56, 137.327, 2.18, 5.212, 10.004, (1, 1.5), (2, 2.5), (1, 1.0)),
    "Au": (79, 196.967, 0.92, 9.226, 20.20, (2, 2.0), (1, 1.0), (10, 10.0)),
    "La": (57, 138.905, 1.10, 5.577, 11.185, (10, 30.0), (21, 25.0), (10, 10.0)),
    "Ce": (58, 140.116, 1.58, 5.539, 10.85, (9, 100.0), (8, 160.0), (9, 60.0)),
    "Pr": (59, 140.908, 0.72, 5.473, 10.55, (10, 70.0), (9, 120.0), (10, 50.0)),
    "Nd": (60, 144.242, 1.42, 5.525, 10.73, (9, 80.0), (8, 110.0), (9, 50.0)),
    "Sm": (62, 150.36, 0.96, 5.644, 11.07, (1, 40.0), (2, 100.0), (1, 40.0)),
    "Eu": (63, 151.964, 0.52, 5.670, 11.241, (8, 8.5), (9, 11.0), (8, 8.0)),
}

E1_EV = 1.0  # energy of the effective excited level of the partition-function approximation
_KT5040 = 8.617333262e-5 * 5040.0


@dataclass(frozen=True)
class AtomicData:
    """Arrays over the engine's elements, in the order of :data:`SYMBOLS`."""

    symbols: tuple[str, ...]
    Z: np.ndarray  # (n_el,) atomic number
    mass: np.ndarray  # (n_el,) amu
    log_eps_sun: np.ndarray  # (n_el,) log N_X / N_H + 12
    chi: np.ndarray  # (n_el, 2) first and second ionization energies, eV
    g0: np.ndarray  # (n_el, 3) ground-term weights of I, II, III
    g1: np.ndarray  # (n_el, 3) effective excited weights (see module docstring)

    def index(self, symbol: str) -> int:
        """Row of ``symbol`` in the arrays; ValueError if the engine does not know it."""
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise ValueError(f"element {symbol!r} is not in the engine's atomic data") from None

    def index_of_z(self, z: int) -> int:
        """Row of atomic number ``z``; ValueError if unknown."""
        hits = np.nonzero(self.Z == z)[0]
        if hits.size == 0:
            raise ValueError(f"atomic number {z} is not in the engine's atomic data")
        return int(hits[0])


def _build() -> AtomicData:
    syms = tuple(_TABLE)
    rows = [_TABLE[s] for s in syms]
    g0 = np.array([[r[5][0], r[6][0], r[7][0]] for r in rows], dtype=float)
    u = np.array([[r[5][1], r[6][1], r[7][1]] for r in rows], dtype=float)
    g1 = np.maximum(u - g0, 0.0) * np.exp(E1_EV / _KT5040)
    return AtomicData(
        symbols=syms,
        Z=np.array([r[0] for r in rows]),
        mass=np.array([r[1] for r in rows], dtype=float),
        log_eps_sun=np.array([r[2] for r in rows], dtype=float),
        chi=np.array([[r[3], r[4]] for r in rows], dtype=float),
        g0=g0,
        g1=g1,
    )


ATOMS: AtomicData = _build()
SYMBOLS: tuple[str, ...] = ATOMS.symbols
