"""Plane-parallel LTE model atmosphere: temperature structure, Saha ionization, hydrostatics.

Depth variable: the continuum optical depth at 5000 Å, tau, on ``n_depth`` points uniform in
log10 tau. Temperature, by ``Physics.atmosphere``:
- ``"grey"``: the Hopf relation T^4 = 3/4 Teff^4 (tau + q(tau)) with the usual fit
  q(tau) = 0.7104 - 0.1331 exp(-3.4488 tau);
- ``"atlas9"``: the Castelli & Kurucz (2003) ATLAS9 models, put on the engine's own tau_5000
  scale and interpolated in Teff, logg and [M/H] = the star's [Fe/H] (:mod:`.atlas9`); their
  gas and electron pressures start the iterations below.
Either is optionally tweaked by ``Physics.teff_scale`` (a factor on T) and ``Physics.t_slope``
(a factor 1 + t_slope log10 tau). Electron pressure: Saha ionization (I, II, III) of all 33
elements of the star's own mixture, solved by a damped fixed-point iteration at every depth.
Gas pressure: hydrostatic equilibrium dP/dtau = g / kappa_5000(P, T), integrated in ln tau with
the trapezoidal rule and iterated to consistency with the electron pressure and opacity.
Molecules are not fed back into the structure (documented simplification; they matter only below
~4000 K).

Every step is a fixed number of iterations of smooth torch operations, so forward-mode
autodiff gives the exact derivative of the computed structure with respect to every label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import atlas9
from . import constants as c
from .atoms import ATOMS, E1_EV

N_OUTER = 14  # hydrostatic iterations
N_INNER = 6  # electron-pressure iterations per hydrostatic iteration
N_EOS_FINAL = 12  # electron-pressure iterations on the converged pressure


@dataclass
class Atmosphere:
    """The model atmosphere of a batch of stars; tensors are (B, D) unless noted (cgs)."""

    tau: torch.Tensor  # (D,) tau_5000
    T: torch.Tensor  # K
    Pg: torch.Tensor  # gas pressure, dyn cm^-2
    Pe: torch.Tensor  # electron pressure, dyn cm^-2
    n_nuc: torch.Tensor  # nuclei per cm^3
    n_e: torch.Tensor  # electrons per cm^3
    frac: torch.Tensor  # (B, E, 3, D) ionization fractions of I, II, III
    U: torch.Tensor  # (B, E, 3, D) partition functions
    alpha: torch.Tensor  # (B, E) number fraction of each element among nuclei
    kappa_ref: torch.Tensor  # continuum opacity at 5000 Å, cm^-1
    rho: torch.Tensor  # g cm^-3


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


_G0 = _tensor(ATOMS.g0)
_G1 = _tensor(ATOMS.g1)
_CHI = _tensor(ATOMS.chi)
_MASS = _tensor(ATOMS.mass) * c.AMU
_HAS_III = _tensor((ATOMS.chi[:, 1] > 0).astype(float))


def partition_functions(T: torch.Tensor, source: str = "two-level") -> torch.Tensor:
    """U of I, II, III for every element: T (B, D) [K] -> (B, E, 3, D). ``source``
    (``Physics.partition_functions``): ``"two-level"``, the approximation of
    :mod:`phdl.synth.atoms`, or ``"bc2016"``, Barklem & Collet (2016)'s tables
    (:mod:`phdl.synth.partition`)."""
    if source == "bc2016":
        from . import partition

        return partition.partition_functions(T)
    boltz = torch.exp(-E1_EV / (c.K_B_EV * T))[:, None, None, :]
    return _G0[None, :, :, None] + _G1[None, :, :, None] * boltz


def saha_phi(T: torch.Tensor, U: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Saha factors Phi1 = Pe n_II/n_I and Phi2 = Pe n_III/n_II [dyn cm^-2], each (B, E, D)."""
    kT = c.K_B * T[:, None, :]
    kT_ev = c.K_B_EV * T[:, None, :]
    base = c.SAHA_CONST * T[:, None, :] ** 1.5 * kT
    phi1 = 2.0 * U[:, :, 1] / U[:, :, 0] * base * torch.exp(-_CHI[None, :, 0, None] / kT_ev)
    phi2 = 2.0 * U[:, :, 2] / U[:, :, 1] * base * torch.exp(-_CHI[None, :, 1, None] / kT_ev)
    return phi1, phi2 * _HAS_III[None, :, None]


def _electrons_per_nucleus(phi1, phi2, Pe, alpha):
    x1 = phi1 / Pe[:, None, :]
    x2 = phi2 / Pe[:, None, :]
    nu = (x1 + 2.0 * x1 * x2) / (1.0 + x1 + x1 * x2)
    return (alpha[:, :, None] * nu).sum(1)


def solve_pe(Pg, phi1, phi2, alpha, Pe0, n_iter: int) -> torch.Tensor:
    """Electron pressure from charge conservation Pe = (Pg - Pe) sum_j alpha_j nu_j(Pe).

    Damped fixed point Pe <- sqrt(Pe * rhs(Pe)), which converges for every regime from
    metal-donor-dominated (cool) to hydrogen-ionized (hot) atmospheres.
    """
    Pe = Pe0
    for _ in range(n_iter):
        rhs = (Pg - Pe) * _electrons_per_nucleus(phi1, phi2, Pe, alpha)
        Pe = torch.sqrt(Pe * rhs.clamp_min(1e-30))
        Pe = torch.minimum(Pe, 0.999 * Pg)
    return Pe


def ionization_fractions(phi1, phi2, Pe) -> torch.Tensor:
    """Fractions of I, II, III: (B, E, 3, D)."""
    x1 = phi1 / Pe[:, None, :]
    x2 = phi2 / Pe[:, None, :]
    f1 = 1.0 / (1.0 + x1 + x1 * x2)
    return torch.stack([f1, x1 * f1, x1 * x2 * f1], dim=2)


def temperature(teff: torch.Tensor, tau: torch.Tensor, teff_scale: float, t_slope: float):
    """Hopf grey temperature structure T(tau) [K], (B, D)."""
    q = 0.7104 - 0.1331 * torch.exp(-3.4488 * tau)
    t4 = 0.75 * (tau + q)
    shape = t4**0.25 * (1.0 + t_slope * torch.log10(tau))
    return (teff * teff_scale)[:, None] * shape[None, :]


_FE = ATOMS.index("Fe")


def atlas9_temperature(teff, logg, abund, tau, physics):
    """ATLAS9 T(tau) [K] (B, D) with the Physics tweaks, and its (P_gas, P_e) (each (B, D)) to
    start the hydrostatic iteration. [M/H] of the interpolation = the star's [Fe/H], read back
    from its iron abundance ``abund`` (B, E) = N_X / N_H."""
    feh = torch.log10(abund[:, _FE]) + 12.0 - float(ATOMS.log_eps_sun[_FE])
    T, Pg, Pe = atlas9.structure(teff, logg, feh, physics.log_tau_range, physics.n_depth)
    tweak = physics.teff_scale * (1.0 + physics.t_slope * torch.log10(tau))
    return T * tweak[None, :], (Pg, Pe)


def build(
    teff: torch.Tensor,
    logg: torch.Tensor,
    abund: torch.Tensor,
    physics,
    kappa5000,
) -> Atmosphere:
    """Solve the atmosphere for a batch of stars.

    Args:
        teff, logg: (B,) effective temperature [K] and log10 surface gravity [cgs].
        abund: (B, E) number abundances relative to hydrogen, N_X / N_H.
        physics: a :class:`phdl.synth.Physics`.
        kappa5000: callable (T, Pe, n_HI, n_e) -> continuum opacity at 5000 Å [cm^-1].
    """
    lo, hi = physics.log_tau_range
    tau = torch.logspace(lo, hi, physics.n_depth, dtype=torch.float64)
    dlntau = (hi - lo) / (physics.n_depth - 1) * np.log(10.0)
    start = None
    if physics.atmosphere == "atlas9":
        T, start = atlas9_temperature(teff, logg, abund, tau, physics)
    else:
        T = temperature(teff, tau, physics.teff_scale, physics.t_slope)
    g = 10.0 ** logg[:, None]
    alpha = abund / abund.sum(1, keepdim=True)
    mean_mass = (alpha * _MASS[None, :]).sum(1)[:, None]  # g per nucleus
    U = partition_functions(T, physics.partition_functions)
    phi1, phi2 = saha_phi(T, U)
    kT = c.K_B * T
    h_idx = ATOMS.index("H")

    def opacity_per_gram(Pg, Pe):
        n_nuc = (Pg - Pe) / kT
        f = ionization_fractions(phi1, phi2, Pe)
        n_hi = n_nuc * alpha[:, h_idx, None] * f[:, h_idx, 0]
        return kappa5000(T, Pe, n_hi, Pe / kT) / (n_nuc * mean_mass), n_nuc

    if start is None:  # constant opacity 0.3 cm^2/g scaled with metallicity, Pe from metals
        Pg = g * tau[None, :] / 0.3
        Pe = torch.minimum(torch.sqrt(Pg * (alpha[:, :, None] * phi1).sum(1)), 0.5 * Pg)
    else:  # the ATLAS9 model's own pressures
        Pg, Pe = start
        Pe = torch.minimum(Pe, 0.5 * Pg)
    Pe = Pe.clamp_min(1e-10)
    for _ in range(N_OUTER):
        Pe = solve_pe(Pg, phi1, phi2, alpha, Pe, N_INNER)
        kap, _ = opacity_per_gram(Pg, Pe)
        integrand = tau[None, :] / kap
        top = g * integrand[:, :1]
        steps = 0.5 * (integrand[:, 1:] + integrand[:, :-1]) * dlntau * g
        P_new = torch.cat([top, top + torch.cumsum(steps, dim=1)], dim=1)
        Pg = torch.sqrt(Pg * P_new)
    Pe = solve_pe(Pg, phi1, phi2, alpha, Pe, N_EOS_FINAL)
    n_nuc = (Pg - Pe) / kT
    n_e = Pe / kT
    frac = ionization_fractions(phi1, phi2, Pe)
    n_hi = n_nuc * alpha[:, h_idx, None] * frac[:, h_idx, 0]
    return Atmosphere(
        tau=tau,
        T=T,
        Pg=Pg,
        Pe=Pe,
        n_nuc=n_nuc,
        n_e=n_e,
        frac=frac,
        U=U,
        alpha=alpha,
        kappa_ref=kappa5000(T, Pe, n_hi, n_e),
        rho=n_nuc * mean_mass,
    )
