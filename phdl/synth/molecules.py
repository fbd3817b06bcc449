"""Molecular equilibrium and molecular band models (CH, CN, C2, MgH, TiO; H2, CO, N2, OH as sinks).

Dissociation equilibrium: for every molecule AB, n_A n_B / n_AB = K(T) with
K = (2 pi mu k T / h^2)^{3/2} (U_A U_B / Q_AB) exp(-D0 / kT), Q_AB = g_el Q_rot Q_vib,
Q_rot = kT / (sigma h c B), Q_vib = 1 / (1 - exp(-h c omega / kT)) (rigid rotor, harmonic
oscillator; D0 from the ground vibrational level). Atoms enter with their neutral fraction from
the Saha solution. The free fraction u_X of each of H, C, N, O, Mg, Ti follows from particle
conservation, u_X = 1 / (1 + sum_m nu_Xm n_m / (u_X N_X)), solved by a damped fixed point. CO
locks up the less abundant of C and O, and CN/N2 tie N to C: this couples C, N and O exactly as in
cool real stars (the paper's Figure 6).

Bands: each electronic-vibrational band is a set of pseudo-lines, one per rotational level J''
and branch (P, R and, for Pi-involving transitions, Q) of a rigid rotor with upper and lower
rotational constants B', B'': nu_R = nu0 + B'(J+1)(J+2) - B''J(J+1), nu_P = nu0 + B'(J-1)J -
B''J(J+1), nu_Q = nu0 + (B' - B'')J(J+1). Each carries gf = f_band g_el (2J+1) x (Honl-London
share) and the lower-level energy E_low + h c B'' J(J+1); dense ladders are thinned to <= 30
levels per branch with the strength of the skipped levels folded in. Band origins and
oscillator strengths are rounded literature values (Huber & Herzberg 1979 constants; band f
values of order 1e-3 to 1e-1) - a band model, not a line list; a user's real molecular line list
can replace it later.
"""

from __future__ import annotations

import numpy as np
import torch

from . import constants as c
from .atoms import ATOMS

# name: (atom A, atom B, D0 [eV], B [cm^-1], omega [cm^-1], sigma, g_el, extra (g, E eV) or None)
MOLECULES: dict[str, tuple] = {
    "H2": ("H", "H", 4.478, 60.85, 4401.0, 2, 1, None),
    "CO": ("C", "O", 11.09, 1.931, 2170.0, 1, 1, None),
    "CH": ("C", "H", 3.465, 14.46, 2858.0, 1, 4, None),
    "CN": ("C", "N", 7.72, 1.90, 2069.0, 1, 2, None),
    "C2": ("C", "C", 6.21, 1.82, 1855.0, 2, 1, (6.0, 0.089)),
    "N2": ("N", "N", 9.76, 2.00, 2359.0, 2, 1, None),
    "OH": ("O", "H", 4.39, 18.9, 3738.0, 1, 4, None),
    "MgH": ("Mg", "H", 1.34, 5.83, 1495.0, 1, 2, None),
    "TiO": ("Ti", "O", 6.87, 0.535, 1009.0, 1, 6, None),
}
MOL_NAMES = tuple(MOLECULES)
FREE_ELEMENTS = ("H", "C", "N", "O", "Mg", "Ti")

# molecule, nu0 [cm^-1], B', B'', f_band, E_low [eV], g_el of lower state, branches
BANDS: tuple[tuple, ...] = (
    ("CH", 23218.0, 14.58, 14.19, 5.0e-3, 0.0, 4, "PQR"),  # A-X 0-0, G band 4300 Å
    ("CH", 25700.0, 12.60, 14.19, 1.5e-3, 0.0, 4, "PQR"),  # B-X 0-0, 3890 Å
    ("CN", 25800.0, 1.96, 1.89, 3.4e-2, 0.0, 2, "PR"),  # B-X 0-0, 3883 Å head
    ("CN", 23760.0, 1.94, 1.87, 3.7e-3, 0.2535, 2, "PR"),  # B-X 0-1, 4216 Å head
    ("CN", 14440.0, 1.70, 1.89, 5.0e-4, 0.0, 2, "PQR"),  # A-X 3-0, red system ~6930 Å
    ("CN", 12700.0, 1.72, 1.89, 1.5e-3, 0.0, 2, "PQR"),  # A-X 2-0, ~7875 Å
    ("C2", 19378.0, 1.75, 1.63, 3.3e-2, 0.089, 6, "PR"),  # Swan 0-0, 5165 Å head
    ("C2", 21131.0, 1.73, 1.63, 1.1e-2, 0.089, 6, "PR"),  # Swan 1-0, 4737 Å head
    ("C2", 17760.0, 1.75, 1.61, 1.0e-2, 0.290, 6, "PR"),  # Swan 0-1, 5636 Å head
    ("MgH", 19278.0, 6.19, 5.73, 1.7e-3, 0.0, 2, "PQR"),  # A-X 0-0, 5200 Å
    ("TiO", 14170.0, 0.50, 0.535, 9.0e-2, 0.0, 6, "PQR"),  # gamma 0-0, 7055 Å
    ("TiO", 15030.0, 0.49, 0.535, 5.0e-2, 0.0, 6, "PQR"),  # gamma 1-0, 6651 Å
    ("TiO", 13160.0, 0.50, 0.532, 4.0e-2, 0.125, 6, "PQR"),  # gamma 0-1, 7589 Å
    ("TiO", 16230.0, 0.51, 0.535, 7.0e-2, 0.0, 6, "PQR"),  # gamma' 0-0, 6159 Å
    ("TiO", 19340.0, 0.49, 0.535, 1.3e-1, 0.0, 6, "PQR"),  # alpha 0-0, 5167 Å
    ("TiO", 20200.0, 0.48, 0.535, 7.0e-2, 0.0, 6, "PQR"),  # alpha 1-0, 4955 Å
)

_HC = c.H_PLANCK * c.C_LIGHT  # erg cm
_KT_MAX_CM = 8000.0 * 0.6950348  # kT at 8000 K in cm^-1
MAX_LEVELS = 30


def band_lines(wl_min: float, wl_max: float) -> dict[str, np.ndarray]:
    """Pseudo-lines of all bands between wl_min and wl_max [Å, vacuum].

    Returns arrays: wavelength [Å], mol (index in MOL_NAMES), excitation [eV], loggf.
    """
    out: dict[str, list] = {"wavelength": [], "mol": [], "excitation": [], "loggf": []}
    for mol, nu0, bu, bl, f, e_low, g_el, branches in BANDS:
        j_max = int(min(3.0 * np.sqrt(_KT_MAX_CM / (2.0 * bl)), 200))
        step = max(1, int(np.ceil(j_max / MAX_LEVELS)))
        J = np.arange(0, j_max + 1, step, dtype=float)
        share = 1.0 / len(branches)
        for br in branches:
            if br == "R":
                nu = nu0 + bu * (J + 1) * (J + 2) - bl * J * (J + 1)
                hl = (J + 1) / (2 * J + 1)
            elif br == "P":
                nu = nu0 + bu * (J - 1) * J - bl * J * (J + 1)
                hl = J / (2 * J + 1)
            else:
                nu = nu0 + (bu - bl) * J * (J + 1)
                hl = np.ones_like(J)
            keep = (hl > 0) & (J >= (1 if br != "R" else 0))
            gf = f * g_el * (2 * J + 1) * hl * share * step * (2.0 if len(branches) == 2 else 1.5)
            wl = 1e8 / nu
            keep &= (wl >= wl_min) & (wl <= wl_max)
            out["wavelength"].append(wl[keep])
            out["mol"].append(np.full(keep.sum(), MOL_NAMES.index(mol)))
            out["excitation"].append(e_low + bl * J[keep] * (J[keep] + 1) * _HC / c.EV)
            out["loggf"].append(np.log10(gf[keep]))
    return {k: np.concatenate(v) for k, v in out.items()}


_EL = {s: ATOMS.index(s) for s in FREE_ELEMENTS}


def _mol_partition(T: torch.Tensor, name: str) -> torch.Tensor:
    _, _, _, B, omega, sigma, g_el, extra = MOLECULES[name]
    kT_cm = T / 1.4387769  # kT in cm^-1
    q = g_el * kT_cm / (sigma * B) / (1.0 - torch.exp(-omega / kT_cm))
    if extra is not None:
        q = q * (1.0 + extra[0] / g_el * torch.exp(-extra[1] / (c.K_B_EV * T)))
    return q


def equilibrium(T, n_nuc, alpha, frac, U, n_iter: int = 30):
    """Molecular number densities and free-atom fractions.

    Args: T, n_nuc (B, D); alpha (B, E); frac, U (B, E, 3, D) from the atmosphere.
    Returns: (n_mol (B, M, D) [cm^-3] in the order of MOL_NAMES, Q_mol (B, M, D),
    free (B, E, D) fraction of each element in atomic form, ones for elements without molecules).
    """
    N = {s: n_nuc * alpha[:, i, None] for s, i in _EL.items()}
    f0 = {s: frac[:, i, 0] for s, i in _EL.items()}
    K, Q = {}, {}
    for name, (a, b, d0, *_rest) in MOLECULES.items():
        mu = ATOMS.mass[_EL[a]] * ATOMS.mass[_EL[b]] / (ATOMS.mass[_EL[a]] + ATOMS.mass[_EL[b]])
        trans = c.SAHA_CONST * (mu * c.AMU / c.M_E) ** 1.5 * T**1.5
        Q[name] = _mol_partition(T, name)
        K[name] = (
            trans * U[:, _EL[a], 0] * U[:, _EL[b], 0] / Q[name] * torch.exp(-d0 / (c.K_B_EV * T))
        )
    u = {s: torch.ones_like(T) for s in FREE_ELEMENTS}
    for _ in range(n_iter):
        n0 = {s: f0[s] * u[s] * N[s] for s in FREE_ELEMENTS}
        new = {}
        for s in FREE_ELEMENTS:
            load = torch.zeros_like(T)
            for name, (a, b, *_r) in MOLECULES.items():
                if a == s and b == s:
                    load = load + 2.0 * f0[s] * n0[s] / K[name]
                elif a == s:
                    load = load + f0[s] * n0[b] / K[name]
                elif b == s:
                    load = load + f0[s] * n0[a] / K[name]
            new[s] = 1.0 / (1.0 + load)
        u = {s: torch.sqrt(u[s] * new[s]) for s in FREE_ELEMENTS}
    n0 = {s: f0[s] * u[s] * N[s] for s in FREE_ELEMENTS}
    n_mol = torch.stack([n0[a] * n0[b] / K[m] for m, (a, b, *_r) in MOLECULES.items()], dim=1)
    q_mol = torch.stack([Q[m] for m in MOL_NAMES], dim=1)
    free = torch.ones(T.shape[0], alpha.shape[1], T.shape[1], dtype=T.dtype)
    idx = torch.tensor([_EL[s] for s in FREE_ELEMENTS])
    free = free.index_copy(1, idx, torch.stack([u[s] for s in FREE_ELEMENTS], dim=1))
    return n_mol, q_mol, free
