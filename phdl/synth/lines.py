"""Line opacity: atomic, hydrogen Balmer and molecular pseudo-lines on the internal bins.

Populations: Saha-Boltzmann, n_lower / g_lower = n_species exp(-chi / kT) / U_species, with
n_species = n_nuclei * (element fraction) * (ionization fraction) * (free-atom fraction from the
molecular equilibrium). Integrated opacity per line [cm^-1 Å]:
S = (pi e^2 / m_e c) (lambda^2 / c) gf n_lower/g_lower (1 - exp(-h c / lambda k T)).

Widths: Doppler 1/e half width dD = lambda / c sqrt(2kT/m + vmic^2); Lorentzian half width
gamma lambda^2 / (4 pi c) with gamma = gamma_rad + gamma_Stark n_e (T/1e4)^(1/6) +
gamma_vdW n_HI (T/1e4)^0.3. Missing damping constants: classical radiative damping
2.223e15 / lambda^2, log gamma_Stark = -6.0, log gamma_vdW = -7.6 (neutrals) / -8.0 (ions).

Hydrogen Balmer lines (H-alpha to H12): linear Stark broadening in the Holtsmark field is
approximated by a Lorentzian of FWHM 48 Å (N_e / 1e17 cm^-3)^(2/3) ((n_u^2 - 4) / 12)
(lambda / 4862.7 Å)^2 - scaled from the measured Stark width of H-beta at N_e = 1e17
(Gigosos & Cardenoso 1996); the n_u^2 - n_l^2 scaling is that of the linear Stark effect.
The Lorentzian's 1/x^2 wings are somewhat stronger than the true x^-5/2 Holtsmark wings.

Windows: a line's opacity is spread over +-W internal bins; W is chosen per line from its peak
strength in a solar dwarf and a cool giant at the most enhanced abundance: at oversample 4,
W = 2, 6, 20, 60 or 150 bins (where the wing falls to 3 % of the continuum), 300 for the Balmer
lines and Ca II H & K; above oversample 4 the half widths scale with K / 4, so a window keeps
its reach in Å (``Synthesizer`` chooses them). Narrow-window lines (W = 2) use the profile
shape of the depth tau_5000 = 0.1 (their bin distribution barely changes with depth); the
others use a profile per depth. The core bins of every line (the centre bin and its
neighbours) take the escape-weighted opacity of :func:`phdl.synth.profiles.core_opacity`,
which makes saturated lines' equivalent widths nearly independent of the grid (4.6-6.3 %
between oversample 4 and 16; module docstring there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import constants as c
from .atoms import ATOMS
from .damping import UNSOLD_EXPONENT
from .line_bins import LineGroup
from .molecules import MOL_NAMES, MOLECULES
from .profiles import pseudo_voigt, pseudo_voigt_partials

K_LINE = c.PI_E2_MC * 1e-8 / c.C_LIGHT  # cm^-1 Å per (gf n / U) per Å^2 of lambda^2
CHI_H2 = 10.19881  # eV, excitation of H n=2

# n_upper, vacuum wavelength [Å], log gf (NIST)
BALMER = (
    (3, 6564.61, 0.710), (4, 4862.68, -0.020), (5, 4341.68, -0.447), (6, 4102.89, -0.753),
    (7, 3971.20, -0.993), (8, 3890.16, -1.192), (9, 3836.47, -1.362), (10, 3798.98, -1.511),
    (11, 3771.70, -1.645), (12, 3751.22, -1.766),
)  # fmt: skip


@dataclass
class LineData:
    """Static per-line data (numpy), atomic, Balmer and molecular lines together."""

    wl: np.ndarray  # Å vacuum
    kind: np.ndarray  # 0 atomic, 1 Balmer, 2 molecular
    el: np.ndarray  # ATOMS row (atomic/Balmer), -1 for molecules
    stage: np.ndarray  # 0, 1, 2
    mol: np.ndarray  # MOL_NAMES index or -1
    chi: np.ndarray  # eV
    loggf: np.ndarray
    mass: np.ndarray  # g
    gamma_rad: np.ndarray  # s^-1
    gamma_stark: np.ndarray  # s^-1 cm^3 per electron at 1e4 K
    gamma_vdw: np.ndarray  # s^-1 cm^3 per H atom at 1e4 K
    n_upper: np.ndarray  # Balmer upper level, 0 otherwise

    def __len__(self) -> int:
        return len(self.wl)

    def subset(self, mask: np.ndarray) -> LineData:
        return LineData(**{k: v[mask] for k, v in self.__dict__.items()})


def assemble(linelist, bands: dict, physics, wl_min: float, wl_max: float) -> LineData:
    """Combine an atomic line list, the Balmer lines and molecular pseudo-lines in range."""
    rng = np.random.default_rng(physics.seed)
    ll = linelist
    keep = (ll.wavelength >= wl_min) & (ll.wavelength <= wl_max) & (ll.ion <= 2) & (ll.Z > 1)
    known = np.isin(ll.Z, ATOMS.Z)
    keep &= known
    if physics.missing_line_fraction > 0:
        keep &= rng.random(len(ll.wavelength)) >= physics.missing_line_fraction
    el = np.array([ATOMS.index_of_z(int(z)) for z in ll.Z[keep]], dtype=int)
    loggf = ll.loggf[keep].astype(float).copy()
    if physics.loggf_scatter > 0:
        loggf += rng.normal(0.0, physics.loggf_scatter, loggf.size)
    names = np.array(
        [f"{ATOMS.symbols[e]} {'I' * (s + 1)}" for e, s in zip(el, ll.ion[keep], strict=True)]
    )
    for species, off in physics.loggf_offsets.items():
        loggf[names == species] += off
    wl = ll.wavelength[keep].astype(float)
    stage = ll.ion[keep].astype(int)
    n = wl.size
    grad = np.where(
        np.isfinite(ll.log_gamma_rad[keep]), 10.0 ** ll.log_gamma_rad[keep], 2.223e15 / wl**2
    )
    gsta = np.where(np.isfinite(ll.log_gamma_stark[keep]), 10.0 ** ll.log_gamma_stark[keep], 1e-6)
    vdw_default = np.where(stage == 0, 10.0**-7.6, 10.0**-8.0)
    gvdw = np.where(np.isfinite(ll.log_gamma_vdw[keep]) & (ll.log_gamma_vdw[keep] < 0),
                    10.0 ** np.minimum(ll.log_gamma_vdw[keep], 0.0), vdw_default)  # fmt: skip
    atomic = LineData(
        wl=wl, kind=np.zeros(n, int), el=el, stage=stage, mol=np.full(n, -1),
        chi=ll.excitation[keep],
        loggf=loggf, mass=ATOMS.mass[el] * c.AMU, gamma_rad=grad, gamma_stark=gsta, gamma_vdw=gvdw,
        n_upper=np.zeros(n, int),
    )  # fmt: skip
    parts = [atomic]
    if physics.balmer:
        bal = [b for b in BALMER if wl_min <= b[1] <= wl_max]
        nb = len(bal)
        h = ATOMS.index("H")
        parts.append(LineData(
            wl=np.array([b[1] for b in bal]), kind=np.ones(nb, int), el=np.full(nb, h),
            stage=np.zeros(nb, int), mol=np.full(nb, -1), chi=np.full(nb, CHI_H2),
            loggf=np.array([b[2] for b in bal]), mass=np.full(nb, ATOMS.mass[h] * c.AMU),
            gamma_rad=np.array([4.4e8] * nb), gamma_stark=np.zeros(nb), gamma_vdw=np.zeros(nb),
            n_upper=np.array([b[0] for b in bal]),
        ))  # fmt: skip
    if physics.molecules and len(bands["wavelength"]):
        m = bands["mol"]
        nm = m.size
        mass = np.array(
            [sum(ATOMS.mass[ATOMS.index(a)] for a in MOLECULES[MOL_NAMES[i]][:2]) for i in m]
        )
        parts.append(LineData(
            wl=bands["wavelength"], kind=np.full(nm, 2), el=np.full(nm, -1),
            stage=np.zeros(nm, int),
            mol=m, chi=bands["excitation"], loggf=bands["loggf"], mass=mass * c.AMU,
            gamma_rad=2.223e15 / bands["wavelength"] ** 2, gamma_stark=np.zeros(nm),
            gamma_vdw=np.zeros(nm), n_upper=np.zeros(nm, int),
        ))  # fmt: skip
    return LineData(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in atomic.__dict__})


class LineOpacity:
    """Per-star line strengths and widths, and their binned opacity on the internal grid."""

    def __init__(self, lines: LineData, grid, physics, half_widths: np.ndarray, ref_depth: int):
        self.lines = lines
        self.physics = physics
        t = lambda a, dt=torch.float64: torch.as_tensor(np.asarray(a), dtype=dt)  # noqa: E731
        self.wl = t(lines.wl)
        self.chi = t(lines.chi)
        self.mass = t(lines.mass)
        self.g_rad = t(lines.gamma_rad * physics.rad_factor)
        self.g_sta = t(lines.gamma_stark * physics.stark_factor)
        self.g_vdw = t(lines.gamma_vdw * physics.vdw_factor)
        self.is_mol = lines.kind == 2
        self.is_balmer = t(lines.kind == 1)
        self.stark_h = t(np.where(lines.kind == 1, (lines.n_upper**2 - 4) / 12.0, 0.0)
                         * (lines.wl / 4862.7) ** 2 * 24.0 * physics.stark_factor)  # fmt: skip
        n_el = len(ATOMS.symbols)
        self.sp_idx = torch.as_tensor(
            np.where(self.is_mol, 3 * n_el + lines.mol, 3 * lines.el + lines.stage)
        )
        self.log_k = t(np.log(K_LINE * lines.wl**2) + lines.loggf * np.log(10.0))
        self.lor_k = t(lines.wl**2 / (4.0 * np.pi * c.C_AA))
        self.ref_depth = ref_depth
        lt = physics.log_tau_range
        self.dlnt = float(np.log(10.0) * (lt[1] - lt[0]) / (physics.n_depth - 1))
        # continuum interpolation at line centres
        i0, w_node = grid.node_weights(lines.wl)
        self.c_i0, self.c_w = torch.as_tensor(i0), torch.as_tensor(w_node)
        self.groups = []
        for w in np.unique(half_widths):
            sel = np.nonzero(half_widths == w)[0]
            grp = LineGroup(sel, lines.wl[sel], int(w), grid, per_depth=w > 2)
            grp.set_sets(self.sp_idx.numpy()[sel])
            self.groups.append(grp)

    def drivers(self, atm, n_mol, q_mol, free) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Depth-level inputs of the line opacity: n_e and n_HI (B, D) [cm^-3] and the density
        per partition function n/U of every species (B, 3 E + M, D): atoms I, II, III, then
        molecules."""
        n_el = atm.n_nuc[:, None, :] * atm.alpha[:, :, None] * free  # (B, E, D)
        n_at = (n_el[:, :, None, :] * atm.frac / atm.U).flatten(1, 2)  # (B, 3E, D)
        n_hi = n_el[:, 0] * atm.frac[:, 0, 0]
        return atm.n_e, n_hi, torch.cat([n_at, n_mol / q_mol], dim=1)

    def local(self, T, n_e, n_hi, vmic, nsp) -> tuple[torch.Tensor, ...]:
        """The five inputs each line sees at each depth, broadcastable to (B, L, D): T, n_e,
        n_HI, vmic and n/U of its species."""
        return (T[:, None, :], n_e[:, None, :], n_hi[:, None, :], vmic[:, None, None],
                nsp[:, self.sp_idx, :])  # fmt: skip

    def continuum_at_lines(self, kc_nodes) -> torch.Tensor:
        """The continuum opacity at each line's centre (B, L, D) [cm^-1], linear between the
        continuum nodes (B, D, n_nodes)."""
        kc = kc_nodes[:, :, self.c_i0] * (1 - self.c_w) + kc_nodes[:, :, self.c_i0 + 1] * self.c_w
        return kc.transpose(1, 2)

    def strengths(self, T, n_e, n_hi, vmic, nsp_l):
        """Integrated opacity S [cm^-1 Å], Doppler width and Lorentz HWHM [Å]: (B, L, D)."""
        return self._strengths(T, n_e, n_hi, vmic, nsp_l)[0]

    def _strengths(self, T, n_e, n_hi, vmic, nsp_l):
        """:meth:`strengths` (S, dopp, hwhm) and the intermediate values its partials need."""
        wl = self.wl[None, :, None]
        boltz = torch.exp(-self.chi[None, :, None] / (c.K_B_EV * T) + self.log_k[None, :, None])
        x = c.HC_K_AA / (wl * T)  # h c / lambda k T
        e_x = torch.exp(-x)
        S = nsp_l * boltz * (1.0 - e_x)
        v2 = 2e-10 * c.K_B * T / self.mass[None, :, None] + vmic**2
        dopp = wl / c.C_KMS * torch.sqrt(v2)
        t4 = T / 1e4
        t_sta, t_vdw = t4 ** (1 / 6), t4**UNSOLD_EXPONENT
        sta = self.g_sta[None, :, None] * n_e * t_sta
        vdw = self.g_vdw[None, :, None] * n_hi * t_vdw
        gam = self.g_rad[None, :, None] + sta + vdw
        stark = self.stark_h[None, :, None] * (n_e / 1e17) ** (2.0 / 3.0)
        values = (S, dopp, gam * self.lor_k[None, :, None] + stark)
        return values, (boltz, x, e_x, v2, sta, vdw, t_sta, t_vdw, stark)

    def _strength_partials(self, T, n_e, n_hi, vmic, nsp_l):
        """:meth:`strengths` and the partials of S, dopp and hwhm with respect to the five local
        inputs, analytic (lists of five, None where zero; broadcastable to (B, L, D))."""
        (S, dopp, hwhm), (boltz, x, e_x, v2, sta, vdw, t_sta, t_vdw, stark) = self._strengths(
            T, n_e, n_hi, vmic, nsp_l
        )
        lor_k = self.lor_k[None, :, None]
        s_t = S * self.chi[None, :, None] / (c.K_B_EV * T * T) - nsp_l * boltz * e_x * x / T
        s_n = boltz * (1.0 - e_x)
        d_t = dopp * (1e-10 * c.K_B / self.mass[None, :, None]) / v2
        d_v = dopp * vmic / v2
        h_t = lor_k * (sta / 6.0 + vdw * UNSOLD_EXPONENT) / T
        balmer = self.stark_h[None, :, None] > 0  # the Stark term (n_e > 0 in any atmosphere)
        h_e = lor_k * self.g_sta[None, :, None] * t_sta
        h_e = h_e + torch.where(balmer, stark * (2.0 / 3.0) / n_e, torch.zeros_like(stark))
        h_h = lor_k * self.g_vdw[None, :, None] * t_vdw
        return (S, dopp, hwhm), [s_t, None, None, None, s_n], [d_t, None, None, d_v, None], [
            h_t, h_e, h_h, None, None]  # fmt: skip

    def line_fn(self, T, n_e, n_hi, vmic, nsp_l):
        """Integrated opacity A [cm^-1 Å], pseudo-Voigt FWHM f [Å] and Lorentz weight eta, each
        (B, L, D), from the per-line inputs of :meth:`local` (elementwise)."""
        S, dopp, hwhm = self.strengths(T, n_e, n_hi, vmic, nsp_l)
        f, eta = pseudo_voigt(dopp, hwhm)
        return S, f, eta

    def partials(self, inputs):
        """(A, f, eta) and their partial derivatives with respect to each of the five local
        inputs of :meth:`local` (analytic, chain rule through :func:`pseudo_voigt_partials`;
        checked against forward mode in the tests): three tensors (5, B, L, D)."""
        (S, dopp, hwhm), p_s, p_d, p_h = self._strength_partials(*inputs)
        f, eta, f_d, f_h, e_d, e_h = pseudo_voigt_partials(dopp, hwhm)
        zero = torch.zeros_like(S)

        def chain(a, b, pa, pb):
            out = zero if pa is None else a * pa
            return out if pb is None else out + b * pb

        pa = [zero if p is None else p.expand_as(S) for p in p_s]
        pf = [chain(f_d, f_h, d, h).expand_as(S) for d, h in zip(p_d, p_h, strict=True)]
        pe = [chain(e_d, e_h, d, h).expand_as(S) for d, h in zip(p_d, p_h, strict=True)]
        return (S, f, eta), (torch.stack(pa), torch.stack(pf), torch.stack(pe))

    def add(self, kappa, A, f, eta, rt):
        """Add the binned line opacity to ``kappa`` (B, n_int, D) [cm^-1], in place, and return
        it; ``rt`` (B, D) is tau_5000 / kappa_5000 [cm] (for the core bins' escape weights)."""
        for g in self.groups:
            s = g.sel
            kappa = g.add(kappa, A[:, s], f[:, s], eta[:, s], rt, self.dlnt, self.ref_depth)
        return kappa

    def tangent(self, H, outs, parts, d_depth, d_vmic, d_nsp, n: int, rt, d_rt):
        """sum_d H(lambda, d) d kappa_lines(lambda, d) / d label_m -> (B, n, M).

        H (B, n, D) is d flux / d kappa; ``outs`` = (A, f, eta) and ``parts`` their partials
        (5, B, L, D) from :meth:`partials`; the label derivatives of the local inputs are
        ``d_depth`` (B, 3 D, M) for T, n_e, n_HI, ``d_vmic`` (B, M) and ``d_nsp`` (B, S, D, M)
        for the species densities; ``rt`` (B, D) is tau_5000 / kappa_5000 and ``d_rt``
        (B, D, M) its label derivatives (the continuum enters the lines through rt alone).
        """
        out = torch.zeros(H.shape[0], n, d_depth.shape[-1], dtype=H.dtype)
        for g in self.groups:
            s = g.sel
            out = g.tangent(out, H, *(o[:, s] for o in outs), *(p[:, :, s] for p in parts),
                            d_depth, d_vmic, d_nsp, self.ref_depth, rt, d_rt,
                            self.dlnt)  # fmt: skip
        return out
