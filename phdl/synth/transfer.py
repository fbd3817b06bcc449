"""LTE radiative transfer: emergent flux of a plane-parallel atmosphere.

For every internal wavelength bin the monochromatic optical depth is integrated on the
atmosphere's depth grid, d tau_lambda = (kappa_lambda / kappa_5000) d tau_5000 (trapezoid in
ln tau), the source function is the Planck function (LTE, scattering as absorption), and the
emergent intensity is the exact formal solution for a source function linear in tau_lambda
between depth points, with the diffusion approximation below the last point. The flux is the
Gauss-Legendre quadrature of mu I(mu) over ``n_mu`` angles (3 by default). Units: the flux is
returned up to a constant factor (B_lambda without 2hc^2), since the spectrum is normalized.
"""

from __future__ import annotations

import numpy as np
import torch

from .constants import HC_K_AA


def planck(wl: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """B_lambda / (2 h c^2) for wl (n,) [Å] and T (B, D) [K] -> (B, n, D), scaled by 1e20."""
    x = HC_K_AA / (wl[None, :, None] * T[:, None, :])
    return 1e20 / (wl[None, :, None] ** 5 * torch.expm1(x))


def planck_dT(wl: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """d planck / d T [per K], same shape and scaling as :func:`planck`."""
    x = HC_K_AA / (wl[None, :, None] * T[:, None, :])
    em1 = torch.expm1(x)
    return 1e20 / wl[None, :, None] ** 5 * x * (em1 + 1.0) / (em1**2 * T[:, None, :])


def depth_ratio(kappa, kappa_ref, tau) -> torch.Tensor:
    """r = tau kappa_lambda / kappa_5000 (B, n, D): the integrand of tau_lambda in ln tau."""
    return kappa / kappa_ref[:, None, :] * tau


def flux(kappa, kappa_ref, tau, T, wl, n_mu: int) -> torch.Tensor:
    """Emergent flux (B, n) from opacity kappa (B, n, D) [cm^-1], kappa_ref (B, D) [cm^-1],
    depth grid tau (D,) [tau_5000], temperatures T (B, D) [K] and wavelengths wl (n,) [Å]."""
    dlnt = float(np.log(tau[1].item() / tau[0].item()))
    return flux_from(depth_ratio(kappa, kappa_ref, tau), planck(wl, T), dlnt, n_mu)


def flux_from(r: torch.Tensor, S: torch.Tensor, dlnt: float, n_mu: int) -> torch.Tensor:
    """Emergent flux (B, n) from r = tau kappa_lambda / kappa_5000 and the source function S,
    both (B, n, D), on a depth grid uniform in ln tau with step ``dlnt``. Each wavelength's
    flux depends only on its own column, which the engine's chain rule relies on."""
    dtau = 0.5 * (r[..., 1:] + r[..., :-1]) * dlnt
    t_lam = torch.cat([r[..., :1], r[..., :1] + torch.cumsum(dtau, dim=-1)], dim=-1)
    dS = S[..., 1:] - S[..., :-1]
    mu, w = np.polynomial.legendre.leggauss(n_mu)
    mu, w = 0.5 * (mu + 1.0), 0.5 * w
    total = torch.zeros(r.shape[:2], dtype=r.dtype)
    for m, wm in zip(mu, w, strict=True):
        x = (t_lam / m).clamp_max(300.0)
        E = torch.exp(-x)
        d = x[..., 1:] - x[..., :-1]
        small = d < 1e-2  # series below, to avoid cancellation (error < 1e-15 either way)
        d_safe = torch.where(small, torch.ones_like(d), d)
        first = -torch.expm1(-d)  # 1 - exp(-d), exact
        lin = torch.where(
            small,
            d * (0.5 - d * (1.0 / 3.0 - d * (0.125 - d * (1.0 / 30.0 - d / 144.0)))),
            first / d_safe - (1.0 - first),
        )  # (1 - (1 + d) exp(-d)) / d
        inten = (E[..., :-1] * (S[..., :-1] * first + dS * lin)).sum(-1)
        grad_b = dS[..., -1] / (t_lam[..., -1] - t_lam[..., -2]).clamp_min(1e-30)
        inten = inten + E[..., -1] * (S[..., -1] + m * grad_b)
        total = total + wm * m * inten
    return total
