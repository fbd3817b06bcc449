"""Line profiles on the internal wavelength bins, and the escape-weighted opacity of line cores.

Profile: the Voigt function is approximated by the pseudo-Voigt of Thompson, Cox & Hastings
(1987): a weighted sum of a Gaussian and a Lorentzian of common FWHM f, with
f^5 = fG^5 + 2.69269 fG^4 fL + 2.42843 fG^3 fL^2 + 4.47163 fG^2 fL^3 + 0.07842 fG fL^4 + fL^5
and weight eta = 1.36603 r - 0.47719 r^2 + 0.11116 r^3, r = fL / f (accurate to ~1 %).

Pixel-integrated opacities: the internal grid (``Physics.oversample`` = K bins per LAMOST
pixel; K = 4: bins of 0.22-0.52 Å, R ~ 17,000) does not resolve a 1-3 km/s Doppler core
(0.02-0.05 Å), so every line is integrated analytically over each bin (difference of the
pseudo-Voigt's cumulative function, erf and arctan): its integrated opacity, and hence its
weak-line equivalent width, is conserved exactly. The transfer, though, gives the flux of the
bin's *mean* opacity, not the bin's mean flux, and a saturated core that fills a tenth of a bin
comes out far too strong, by an amount that depends on where the line falls in the bin (a line
on a bin edge, split over two bins, saturates later than one at a bin centre): before this
correction solar EWs of 60-300 mÅ lines changed by up to 120 % between K = 4 and 16 and by
up to 60 % when the grid was shifted by a quarter bin.

Core bins (:func:`core_opacity`): in the bin holding a line's centre and CORE_HALF bins either
side, the line's opacity is what makes the bin's flux the mean of the sub-bin fluxes for one
ray. With the line's own cumulative optical depth tau_L(x, d) = int kappa_L(x) / kappa_5000
d tau_5000 down to depth d (the transfer's trapezoid rule in ln tau), at x the CORE_SUB
midpoints of the bin, the bin's mean escape probability <exp(-tau_L / mu)> defines an
effective optical depth, whose depth derivative is the escape-weighted mean opacity

    kappa_core(d) = < kappa_L(x, d) w(x, d) > / < w(x, d) >,   w = exp(-tau_L(x, d) / mu),

(units cm^-1, like kappa_L): the bin mean where the line is optically thin (weak lines and
upper layers: exact conservation of the weak-line EW), and the opacity of the bin's most
transparent part where the core is thick. The continuum's optical depth is common to the
whole bin and drops out. For one ray of angle mu this is exact for an isolated line in LTE;
the flux mixes rays, and the single mu = CORE_MU = 0.7 was calibrated on the 30 lines of
``benchmarks/bench_convergence.py`` (mu = 0.5 leaves saturated lines 16 % too weak on average
at K = 4, 0.8 7 % too strong). Blends are treated line by line (each line's own tau_L). Narrow-
window lines take the sub-bin profile shape of the reference depth, as their bin averages do;
their tau_L then factorises into the profile times a depth integral
(:func:`core_opacity_narrow`). The derivatives of kappa_core with respect to every depth's A,
f, eta and tau_5000 / kappa_5000 enter the engine's exact gradient spectra in closed form
(:func:`core_opacity_grads`, :func:`core_opacity_narrow_grads`; ``phdl.synth.line_bins``).

Measured (2026-12-02, benchmarks/bench_convergence.py, 30 lines of 20-3000 mÅ, Sun, a 4500 K
giant, a [Fe/H] = -1.5 giant; tables in BENCHMARKS.md, "Converged line transfer"): largest
|EW(K) - EW(4K)| / EW(4K) over the 60-300 mÅ lines 6.0 / 4.6 / 6.3 % for K = 4 (all lines
6.0 / 5.0 / 6.3 %), 10 / 9 / 7 % for K = 8, 3.5-4.8 % for K = 16 (the old curve-of-growth
factor: 121 / 142 / 72 % for K = 4). Part of the remainder is the reference-depth profile of
narrow-window lines (a line changes from narrow to per-depth window as K grows), not the
grid. Cost: 1.3-1.5x the engine time of the curve-of-growth factor at K = 4.
"""

from __future__ import annotations

import math

import torch

SQRT_PI = math.sqrt(math.pi)
SQRT_LN2 = math.sqrt(math.log(2.0))


#: Thompson, Cox & Hastings (1987): the FWHM polynomial's mixed coefficients (fG^4 fL ...
#: fG fL^4) and the Lorentz weight's coefficients of r, r^2, r^3 (module docstring).
_TCH_F = (2.69269, 2.42843, 4.47163, 0.07842)
_TCH_ETA = (1.36603, -0.47719, 0.11116)


def pseudo_voigt(dopp: torch.Tensor, hwhm_l: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FWHM f [Å] and Lorentz weight eta of the pseudo-Voigt for Doppler width ``dopp``
    (1/e half width, Å) and Lorentzian half width ``hwhm_l`` (Å)."""
    fg = 2.0 * SQRT_LN2 * dopp
    fl = 2.0 * hwhm_l
    c1, c2, c3, c4 = _TCH_F
    f = (fg**5 + c1 * fg**4 * fl + c2 * fg**3 * fl**2 + c3 * fg**2 * fl**3 + c4 * fg * fl**4
         + fl**5) ** 0.2  # fmt: skip
    r = fl / f
    e1, e2, e3 = _TCH_ETA
    eta = e1 * r + e2 * r**2 + e3 * r**3
    return f, eta


def pseudo_voigt_partials(dopp: torch.Tensor, hwhm_l: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """:func:`pseudo_voigt`'s f [Å] and eta, and their partial derivatives with respect to
    ``dopp`` and ``hwhm_l``: (f, eta, df/d dopp, df/d hwhm_l, d eta/d dopp [Å^-1], d eta/d
    hwhm_l [Å^-1]); df/dx = (dP/dx) / (5 f^4) with P = f^5 the polynomial above."""
    f, eta = pseudo_voigt(dopp, hwhm_l)
    fg = 2.0 * SQRT_LN2 * dopp
    fl = 2.0 * hwhm_l
    c1, c2, c3, c4 = _TCH_F
    dp_g = (5.0 * fg**4 + 4.0 * c1 * fg**3 * fl + 3.0 * c2 * fg**2 * fl**2
            + 2.0 * c3 * fg * fl**3 + c4 * fl**4)  # fmt: skip
    dp_l = (c1 * fg**4 + 2.0 * c2 * fg**3 * fl + 3.0 * c3 * fg**2 * fl**2
            + 4.0 * c4 * fg * fl**3 + 5.0 * fl**4)  # fmt: skip
    five_f4 = 5.0 * f**4
    f_g, f_l = dp_g / five_f4, dp_l / five_f4  # per unit fg, fl
    r = fl / f
    e1, e2, e3 = _TCH_ETA
    de_dr = e1 + 2.0 * e2 * r + 3.0 * e3 * r**2
    e_g = de_dr * (-r / f) * f_g
    e_l = de_dr * (1.0 - r * f_l) / f
    k = 2.0 * SQRT_LN2
    return f, eta, k * f_g, 2.0 * f_l, k * e_g, 2.0 * e_l


def _diffs(x_lo, x_hi, f):
    """Lorentzian and Gaussian CDF differences over [x_lo, x_hi], free of cancellation in
    the wings: atan(a) - atan(b) = atan((a - b) / (1 + a b)) for bins on one side of the
    centre, and erfc differences there instead of erf differences."""
    u_lo, u_hi = 2.0 * x_lo / f, 2.0 * x_hi / f
    side = (x_lo * x_hi) > 0
    lor = (
        torch.where(
            side,
            torch.atan((u_hi - u_lo) / (1.0 + u_hi * u_lo)),
            torch.atan(u_hi) - torch.atan(u_lo),
        )
        / math.pi
    )
    v_lo, v_hi = SQRT_LN2 * u_lo, SQRT_LN2 * u_hi
    near, far = torch.minimum(v_lo.abs(), v_hi.abs()), torch.maximum(v_lo.abs(), v_hi.abs())
    gau = 0.5 * torch.where(
        side, torch.erfc(near) - torch.erfc(far), torch.erf(v_hi) - torch.erf(v_lo)
    )
    return lor, gau


def bin_average(x_lo, x_hi, width, f, eta) -> torch.Tensor:
    """Mean of the unit-area profile over bins [x_lo, x_hi] of the given width [Å^-1]."""
    lor, gau = _diffs(x_lo, x_hi, f)
    return (eta * lor + (1.0 - eta) * gau) / width


def _wing_diffs(d_near, d_far, f):
    """The one-sided branch of :func:`_diffs` alone, for a bin whose edges lie at distances
    0 <= d_near <= d_far [Å] on one side of the centre. Operation for operation the branch
    :func:`_diffs` keeps (negation is exact), so the values are the same floats."""
    u_n, u_f = 2.0 * d_near / f, 2.0 * d_far / f
    lor = torch.atan((u_f - u_n) / (1.0 + u_f * u_n)) / math.pi
    gau = 0.5 * (torch.erfc(SQRT_LN2 * u_n) - torch.erfc(SQRT_LN2 * u_f))
    return lor, gau


def bin_average_wing(d_near, d_far, width, f, eta) -> torch.Tensor:
    """:func:`bin_average` of a one-sided bin (not holding the centre) [Å^-1], from the
    distances of its near and far edges to the centre [Å]; equal to it bit for bit, at half
    the transcendental calls (the engine's wing bins, :mod:`phdl.synth.line_bins`)."""
    lor, gau = _wing_diffs(d_near, d_far, f)
    return (eta * lor + (1.0 - eta) * gau) / width


def _lor_gau(x, f):
    """The unit-area Lorentzian and Gaussian of FWHM f at offsets x [Å^-1], and u = 2 x / f."""
    u = 2.0 * x / f
    lor = 2.0 / (math.pi * f) / (1.0 + u * u)
    gau = 2.0 * SQRT_LN2 / (SQRT_PI * f) * torch.exp(-((SQRT_LN2 * u) ** 2))
    return lor, gau, u


def point_profile(x, f, eta) -> torch.Tensor:
    """The unit-area pseudo-Voigt at offsets ``x`` [Å] from the centre [Å^-1]."""
    lor, gau, _ = _lor_gau(x, f)
    return eta * lor + (1.0 - eta) * gau


#: Core bins: the bin holding the line centre and CORE_HALF bins either side.
CORE_HALF = 1
#: Sub-points (midpoints) per core bin.
CORE_SUB = 16
#: The single angle mu of the escape weights (calibrated, module docstring).
CORE_MU = 0.7


def core_points(x_lo, x_hi, n_sub: int = CORE_SUB) -> torch.Tensor:
    """The n_sub midpoints of each core bin [x_lo, x_hi] (offsets from the centre, Å): (...,
    n_sub), the points of the escape-weighted mean."""
    t = (torch.arange(n_sub, dtype=x_lo.dtype) + 0.5) / n_sub
    return x_lo[..., None] + (x_hi - x_lo)[..., None] * t


def depth_integral(r, dlnt: float, dim: int = -1) -> torch.Tensor:
    """The line's own optical depth at each depth (axis ``dim``, D >= 2) from its r = kappa_L /
    kappa_5000 * tau_5000: r at the top, then the trapezoid rule in ln tau_5000 (step ``dlnt``):
    T(0) = r_0, T(d) = r_0 + dlnt (r_0 / 2 + r_1 + ... + r_(d-1) + r_d / 2)."""
    top, D = r.narrow(dim, 0, 1), r.shape[dim]
    inc = 0.5 * (r.narrow(dim, 1, D - 1) + r.narrow(dim, 0, D - 1)) * dlnt
    return torch.cat([top, top + torch.cumsum(inc, dim=dim)], dim=dim)


def depth_integral_adjoint(g, dlnt: float, dim: int = -1) -> torch.Tensor:
    """The adjoint of :func:`depth_integral`: sum_d g(d) dT(d)/dr(k) for every k (axis
    ``dim``)."""
    rev = torch.flip(torch.cumsum(torch.flip(g, (dim,)), dim=dim), (dim,))  # sum over d >= k
    out = dlnt * (rev - 0.5 * g)
    out.narrow(dim, 0, 1).copy_(rev.narrow(dim, 0, 1) + 0.5 * dlnt * rev.narrow(dim, 1, 1))
    return out


def core_opacity(S, f, eta, x_lo, x_hi, valid, rt, dlnt: float, n_sub: int = CORE_SUB,
                 mu: float = CORE_MU) -> torch.Tensor:  # fmt: skip
    """Escape-weighted line opacity of the core bins (module docstring) [cm^-1].

    S, f, eta: integrated opacity [cm^-1 Å], pseudo-Voigt FWHM [Å] and Lorentz weight, each
    broadcastable to (B, L, C, D); x_lo, x_hi (L, C): bin edges relative to the line centre
    [Å]; valid (L, C): bins inside the grid; rt (B, 1 or L, 1 or C, D): tau_5000 / kappa_5000
    [cm] at each depth; ``dlnt`` the depth step in ln tau_5000. Returns (B, L, C, D).
    """
    x = core_points(x_lo, x_hi, n_sub)[None, :, :, None, :]  # (1, L, C, 1, n)
    kl = S[..., None] * point_profile(x, f[..., None], eta[..., None])  # (B, L, C, D, n)
    tl = depth_integral(kl * rt[..., None], dlnt, dim=-2)
    w = torch.exp(-(tl - tl.detach().amin(-1, keepdim=True)) / mu)  # shift: no underflow
    out = (kl * w).sum(-1) / w.sum(-1)
    return torch.where(valid[None, :, :, None], out, torch.zeros_like(out))


def core_opacity_grads(h, S, f, eta, x, valid, rt, dlnt: float, mu: float = CORE_MU):
    """The derivatives of sum_d h(d) kappa_core(d) for each core bin (h (B, L, C, D)), for
    :func:`core_opacity` with a profile per depth, in closed form (checked against autograd in
    the tests): with respect to S, f, eta and rt, each (B, L, C, D), each core bin apart.

    S (B, L, D) [cm^-1 Å], f [Å], eta (B, L, D); x (L, C, n) the :func:`core_points` [Å];
    valid (L, C); rt (B, D) [cm]. With kl = S phi the sub-point opacity, p the escape weights
    and kappa_core = <kl>_p: d kappa_core / d kl_n = p_n and d kappa_core / d tau_L,n =
    -p_n (kl_n - kappa_core) / mu, with tau_L's adjoint :func:`depth_integral_adjoint`.
    """
    phi, dphi_f, dphi_e = point_profile_partials(x[None, :, :, None, :], f[:, :, None, :, None],
                                                 eta[:, :, None, :, None])  # fmt: skip
    s5 = S[:, :, None, :, None]
    kl = s5 * phi  # (B, L, C, D, n)
    rt5 = rt[:, None, None, :, None]
    tl = depth_integral(kl * rt5, dlnt, dim=-2)
    w = torch.exp(-(tl - tl.amin(-1, keepdim=True)) / mu)
    p = w / w.sum(-1, keepdim=True)
    core = (kl * p).sum(-1, keepdim=True)
    hp = torch.where(valid[None, :, :, None], h, torch.zeros_like(h))[..., None] * p
    g_r = depth_integral_adjoint(hp * (kl - core) * (-1.0 / mu), dlnt, dim=-2)
    g_kl = hp + g_r * rt5
    g_phi = g_kl * s5
    return ((g_kl * phi).sum(-1), (g_phi * dphi_f).sum(-1), (g_phi * dphi_e).sum(-1),
            (g_r * kl).sum(-1))  # fmt: skip


def _dparts(x, f):
    """d/d f of the Lorentzian and Gaussian cumulative functions at offset ``x`` [Å^-1]."""
    u = 2.0 * x / f
    v = SQRT_LN2 * u
    return -u / f / (math.pi * (1.0 + u * u)), -v / f * torch.exp(-v * v) / SQRT_PI


def bin_average_partials(x_lo, x_hi, width, f, eta):
    """Bin-averaged profile and its partial derivatives with respect to f and eta.

    Same arguments as :func:`bin_average`; returns (phi, d phi / d f, d phi / d eta), used by
    the engine's chain rule for gradient spectra (checked against autograd in the tests).
    """
    lor, gau = _diffs(x_lo, x_hi, f)
    dl_hi, dg_hi = _dparts(x_hi, f)
    dl_lo, dg_lo = _dparts(x_lo, f)
    d_f = eta * (dl_hi - dl_lo) + (1.0 - eta) * (dg_hi - dg_lo)
    return (eta * lor + (1.0 - eta) * gau) / width, d_f / width, (lor - gau) / width


def bin_average_wing_partials(d_near, d_far, width, f, eta):
    """:func:`bin_average_partials` of a one-sided bin, from the distances of its edges to the
    centre [Å] (as :func:`bin_average_wing`): the same floats, since the partials are odd in
    the offset; returns (phi [Å^-1], d phi / d f [Å^-2], d phi / d eta [Å^-1])."""
    lor, gau = _wing_diffs(d_near, d_far, f)
    dl_far, dg_far = _dparts(d_far, f)
    dl_near, dg_near = _dparts(d_near, f)
    d_f = eta * (dl_far - dl_near) + (1.0 - eta) * (dg_far - dg_near)
    return (eta * lor + (1.0 - eta) * gau) / width, d_f / width, (lor - gau) / width


def point_profile_partials(x, f, eta):
    """:func:`point_profile` and its partial derivatives with respect to f and eta: (phi
    [Å^-1], d phi / d f [Å^-2], d phi / d eta [Å^-1])."""
    lor, gau, u = _lor_gau(x, f)
    d_lor = lor * (u * u - 1.0) / (f * (1.0 + u * u))
    d_gau = gau * (2.0 * (SQRT_LN2 * u) ** 2 - 1.0) / f
    return eta * lor + (1.0 - eta) * gau, eta * d_lor + (1.0 - eta) * d_gau, lor - gau


def _escape_mean(phi, T, mu: float):
    """Escape weights p (B, L, C, D, n), normalised over the n sub-points, of a line whose
    optical depth factorises as phi(x) T(d) (phi (B, L, C, n), T (B, L, D)); and the weighted
    mean G of phi (B, L, C, D). The shift by phi's minimum keeps exp from underflowing and
    cancels in the ratio (T >= 0)."""
    shifted = phi - phi.detach().amin(-1, keepdim=True)
    w = torch.exp(shifted[:, :, :, None, :] * T[:, :, None, :, None] * (-1.0 / mu))
    p = w / w.sum(-1, keepdim=True)
    return p, (p * phi[:, :, :, None, :]).sum(-1)


def core_opacity_narrow(S, f, eta, x, valid, rt, dlnt: float,
                        mu: float = CORE_MU) -> torch.Tensor:  # fmt: skip
    """:func:`core_opacity` of lines whose sub-bin profile is one depth's (the engine's narrow-
    window lines) [cm^-1]: their optical depth factorises, tau_L(x, d) = phi(x) T(d) with T the
    :func:`depth_integral` of S rt, so the cumulative sum runs over depth alone. Equal to
    :func:`core_opacity` with f and eta of that depth, up to round-off.

    S (B, L, D) [cm^-1 Å]; f [Å], eta (B, L): the profile's depth; x (L, C, n): the
    :func:`core_points` [Å]; valid (L, C); rt (B, D) tau_5000 / kappa_5000 [cm]. Returns (B,
    L, C, D).
    """
    phi = point_profile(x[None], f[:, :, None, None], eta[:, :, None, None])  # (B, L, C, n)
    _, G = _escape_mean(phi, depth_integral(S * rt[:, None, :], dlnt), mu)
    out = S[:, :, None, :] * G
    return torch.where(valid[None, :, :, None], out, torch.zeros_like(out))


def core_opacity_narrow_grads(h, S, f, eta, x, valid, rt, dlnt: float, mu: float = CORE_MU):
    """The derivatives of sum_d h(d) kappa_core(d) for each core bin (h (B, L, C, D), the
    bin's weight per depth), for :func:`core_opacity_narrow`'s arguments, in closed form
    (checked against autograd in the tests): with respect to S (B, L, C, D), f and eta (B, L,
    C) and rt (B, L, C, D), each core bin apart.

    With p the escape weights, G = <phi>_p and V = <(phi - G)^2>_p: dG/dT = -V / mu and
    dG/dphi_n = p_n (1 - T (phi_n - G) / mu); T's adjoint is :func:`depth_integral_adjoint`.
    """
    phi, dphi_f, dphi_e = point_profile_partials(x[None], f[:, :, None, None],
                                                 eta[:, :, None, None])  # fmt: skip
    T = depth_integral(S * rt[:, None, :], dlnt)  # (B, L, D)
    p, G = _escape_mean(phi, T, mu)
    V = (p * (phi[:, :, :, None, :] - G[..., None]) ** 2).sum(-1)  # no <phi^2> - G^2 cancellation
    a = torch.where(valid[None, :, :, None], h, torch.zeros_like(h)) * S[:, :, None, :]
    g_r = depth_integral_adjoint(a * V * (-1.0 / mu), dlnt)  # d/d(S rt) (B, L, C, D)
    g_s = torch.where(valid[None, :, :, None], h * G, torch.zeros_like(G))
    g_s = g_s + g_r * rt[:, None, None, :]
    q = a[..., None] * p  # (B, L, C, D, n)
    tg = (T[:, :, None, :] / mu)[..., None]
    g_phi = (q * (1.0 - tg * (phi[:, :, :, None, :] - G[..., None]))).sum(-2)  # (B, L, C, n)
    return g_s, (g_phi * dphi_f).sum(-1), (g_phi * dphi_e).sum(-1), g_r * S[:, :, None, :]
