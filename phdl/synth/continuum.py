"""Continuous opacity: H- bound-free and free-free, H I bound-free and free-free, Thomson and
Rayleigh scattering (scattering treated as true absorption, i.e. S = B; documented LTE choice).

Formulas (Gray 2005, *The Observation and Analysis of Stellar Photospheres*, ch. 8):
- H- bound-free: John (1988) polynomial for the cross section, kappa = 4.158e-10 alpha_bf Pe
  theta^2.5 10^(0.754 theta) per neutral H atom (Gray Eq. 8.12), times stimulated emission.
- H- free-free: Bell & Berrington (1987) fit as given by Gray (Eq. 8.13).
- H I bound-free: hydrogenic cross sections (Kramers, Gaunt factor 1) from levels n = 1..7 plus
  Gray's integral for all higher levels (Eq. 8.8); H I free-free with Gaunt factor 1 (Eq. 8.10).
- Thomson: sigma_T n_e. Rayleigh by H I: Dalgarno's series (Gray Eq. 8.14).
All opacities are returned per cm (linear absorption coefficient).
"""

from __future__ import annotations

import numpy as np
import torch

from . import constants as c

_HMBF = (1.99654, -1.18267e-5, 2.64243e-6, -4.40524e-10, 3.23992e-14, -1.39568e-18, 2.78701e-23)
_I_H = 13.598  # eV
_THETA_K = 5040.0  # theta = 5040 / T


def _hminus_bf_cross(wl: np.ndarray) -> np.ndarray:
    """H- bound-free cross section [cm^2] at wavelengths wl [Å] (zero beyond 16,300 Å)."""
    a = sum(coef * wl**k for k, coef in enumerate(_HMBF)) * 1e-18
    return np.where(wl < 16300.0, np.maximum(a, 0.0), 0.0)


def _hminus_ff_coeffs(wl: np.ndarray) -> np.ndarray:
    """f0, f1, f2 of Gray Eq. 8.13 at wl [Å]: (3, n)."""
    x = np.log10(wl)
    f0 = -2.2763 - 1.6850 * x + 0.76661 * x**2 - 0.053346 * x**3
    f1 = 15.2827 - 9.2846 * x + 1.99381 * x**2 - 0.142631 * x**3
    f2 = -197.789 + 190.266 * x - 67.9775 * x**2 + 10.6913 * x**3 - 0.625151 * x**4
    return np.stack([f0, f1, f2])


class Continuum:
    """Continuous opacity evaluated at a fixed set of wavelengths ``wl`` [Å, vacuum]."""

    def __init__(self, wl: np.ndarray):
        wl = np.asarray(wl, dtype=np.float64)
        self.wl = torch.as_tensor(wl)
        self.hm_bf = torch.as_tensor(_hminus_bf_cross(wl))
        self.hm_ff = torch.as_tensor(_hminus_ff_coeffs(wl))
        self.chi_lambda = torch.as_tensor(12398.42 / wl)  # photon energy, eV
        # hydrogenic bound-free: alpha0 = 1.0449e-26 lambda^3 (cm^2 per H atom, lambda in Å)
        self.alpha0 = torch.as_tensor(1.0449e-26 * wl**3)
        levels = np.arange(1, 8)
        edges = 911.7535 * levels**2  # Å, vacuum
        self.bf_mask = torch.as_tensor((wl[None, :] <= edges[:, None]).astype(np.float64))
        self.chi_n = torch.as_tensor(_I_H * (1.0 - 1.0 / levels**2))
        self.inv_n3 = torch.as_tensor(1.0 / levels.astype(float) ** 3)
        inv = 1.0 / wl
        self.rayleigh = torch.as_tensor(5.799e-13 * inv**4 + 1.422e-6 * inv**6 + 2.784 * inv**8)

    def __call__(
        self, T: torch.Tensor, Pe: torch.Tensor, n_hi: torch.Tensor, n_e: torch.Tensor
    ) -> torch.Tensor:
        """Continuum opacity [cm^-1] for atmosphere arrays (B, D) -> (B, D, n_wl)."""
        T_ = T[..., None]
        theta = _THETA_K / T_
        kT_ev = c.K_B_EV * T_
        stim = 1.0 - torch.exp(-self.chi_lambda / kT_ev)
        pe = Pe[..., None]
        hm_bf = 4.158e-10 * self.hm_bf * pe * theta**2.5 * 10.0 ** (0.754 * theta) * stim
        lt = torch.log10(theta)
        f0, f1, f2 = self.hm_ff
        hm_ff = 1e-26 * pe * 10.0 ** (f0 + f1 * lt + f2 * lt**2)
        boltz = torch.exp(-self.chi_n[:, None, None, None] / kT_ev[None])  # (7, B, D, 1)
        levels = (self.inv_n3[:, None] * self.bf_mask)[:, None, None, :]  # (7, 1, 1, W)
        h_bf = self.alpha0 * ((levels * boltz).sum(0))
        high = (
            kT_ev / (2.0 * _I_H) * (torch.exp(-self.chi_n[-1] / kT_ev) - torch.exp(-_I_H / kT_ev))
        )
        h_bf = (h_bf + self.alpha0 * high) * stim
        h_ff = self.alpha0 * kT_ev / (2.0 * _I_H) * torch.exp(-_I_H / kT_ev) * stim
        per_h = hm_bf + hm_ff + h_bf + h_ff + self.rayleigh
        return n_hi[..., None] * per_h + n_e[..., None] * c.SIGMA_THOMSON


def kappa5000_fn():
    """A callable (T, Pe, n_HI, n_e) -> continuum opacity at 5000 Å [cm^-1], shape (B, D)."""
    cont = Continuum(np.array([5000.0]))

    def kappa(T, Pe, n_hi, n_e):
        return cont(T, Pe, n_hi, n_e)[..., 0]

    return kappa
