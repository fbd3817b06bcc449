"""Line opacity: atomic lines, hydrogen Balmer lines and molecular pseudo-lines on the internal bins.

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
strength in a solar dwarf and a cool giant at the most enhanced abundance (2 bins for weak
lines, 40 for strong, 160 for the strongest, 300 for Balmer lines). Narrow-window lines use the
profile shape of the depth tau_5000 = 0.1 (their bin distribution barely changes with depth);
wide-window lines use a profile per depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import constants as c
from .atoms import ATOMS
from .molecules import MOL_NAMES, MOLECULES
from .profiles import bin_average, bin_average_partials, pseudo_voigt, saturation_factor

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
    names = np.array([f"{ATOMS.symbols[e]} {'I' * (s + 1)}" for e, s in zip(el, ll.ion[keep])])
    for species, off in physics.loggf_offsets.items():
        loggf[names == species] += off
    wl = ll.wavelength[keep].astype(float)
    stage = ll.ion[keep].astype(int)
    n = wl.size
    grad = np.where(np.isfinite(ll.log_gamma_rad[keep]), 10.0 ** ll.log_gamma_rad[keep], 2.223e15 / wl**2)
    gsta = np.where(np.isfinite(ll.log_gamma_stark[keep]), 10.0 ** ll.log_gamma_stark[keep], 1e-6)
    vdw_default = np.where(stage == 0, 10.0**-7.6, 10.0**-8.0)
    gvdw = np.where(np.isfinite(ll.log_gamma_vdw[keep]) & (ll.log_gamma_vdw[keep] < 0),
                    10.0 ** np.minimum(ll.log_gamma_vdw[keep], 0.0), vdw_default)  # fmt: skip
    atomic = LineData(
        wl=wl, kind=np.zeros(n, int), el=el, stage=stage, mol=np.full(n, -1), chi=ll.excitation[keep],
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
        mass = np.array([sum(ATOMS.mass[ATOMS.index(a)] for a in MOLECULES[MOL_NAMES[i]][:2]) for i in m])
        parts.append(LineData(
            wl=bands["wavelength"], kind=np.full(nm, 2), el=np.full(nm, -1), stage=np.zeros(nm, int),
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
        self.gf = t(10.0 ** lines.loggf)
        self.chi = t(lines.chi)
        self.mass = t(lines.mass)
        self.g_rad = t(lines.gamma_rad * physics.rad_factor)
        self.g_sta = t(lines.gamma_stark * physics.stark_factor)
        self.g_vdw = t(lines.gamma_vdw * physics.vdw_factor)
        self.is_mol = lines.kind == 2
        self.is_balmer = t(lines.kind == 1)
        self.stark_h = t(np.where(lines.kind == 1, (lines.n_upper**2 - 4) / 12.0, 0.0)
                         * (lines.wl / 4862.7) ** 2 * 24.0 * physics.stark_factor)  # fmt: skip
        self.atom_idx = torch.as_tensor(np.where(self.is_mol, 0, lines.el))
        self.stage_idx = torch.as_tensor(lines.stage)
        self.mol_idx = torch.as_tensor(np.where(self.is_mol, lines.mol, 0))
        self.mol_mask = t(self.is_mol)
        self.ref_depth = ref_depth
        # continuum interpolation at line centres
        i0, w = grid.node_weights(lines.wl)
        self.c_i0, self.c_w = torch.as_tensor(i0), torch.as_tensor(w)
        self.bin_width = torch.as_tensor(grid.bin_width_at(lines.wl))[None, :, None]
        self.groups = []
        for w in np.unique(half_widths):
            sel = np.nonzero(half_widths == w)[0]
            self.groups.append(_Group(sel, lines.wl[sel], int(w), grid, per_depth=w > 2))

    def strengths(self, atm, n_mol, q_mol, free, vmic):
        """Integrated opacity S [cm^-1 Å], Doppler width and Lorentz HWHM [Å]: (B, L, D)."""
        T = atm.T[:, None, :]
        a, s = self.atom_idx, self.stage_idx
        n_el = atm.n_nuc[:, None, :] * atm.alpha[:, a, None] * free[:, a, :]
        n_at = n_el * atm.frac[:, a, s, :]
        u_at = atm.U[:, a, s, :]
        n_m, u_m = n_mol[:, self.mol_idx, :], q_mol[:, self.mol_idx, :]
        mm = self.mol_mask[None, :, None]
        n_sp = mm * n_m + (1.0 - mm) * n_at
        u_sp = mm * u_m + (1.0 - mm) * u_at
        wl = self.wl[None, :, None]
        stim = 1.0 - torch.exp(-c.HC_K_AA / (wl * T))
        S = K_LINE * wl**2 * self.gf[None, :, None] * n_sp / u_sp
        S = S * torch.exp(-self.chi[None, :, None] / (c.K_B_EV * T)) * stim
        v2 = 2.0 * c.K_B * T / self.mass[None, :, None] / 1e10 + vmic[:, None, None] ** 2
        dopp = wl / c.C_KMS * torch.sqrt(v2)
        h = 0  # hydrogen row
        n_hi = atm.n_nuc * atm.alpha[:, h, None] * atm.frac[:, h, 0] * free[:, h]
        t4 = (atm.T / 1e4)[:, None, :]
        gam = (self.g_rad[None, :, None] + self.g_sta[None, :, None] * atm.n_e[:, None, :] * t4 ** (1 / 6)
               + self.g_vdw[None, :, None] * n_hi[:, None, :] * t4**0.3)  # fmt: skip
        hwhm = gam * wl**2 / (4.0 * np.pi * c.C_AA)
        stark = self.stark_h[None, :, None] * (atm.n_e[:, None, :] / 1e17) ** (2.0 / 3.0)
        return S, dopp, hwhm + stark

    def params(self, atm, n_mol, q_mol, free, vmic, kc_nodes):
        """Line-level quantities for the opacity: saturation-corrected strength A [cm^-1 Å],
        pseudo-Voigt FWHM f [Å] and Lorentz weight eta, each (B, L, D)."""
        S, dopp, hwhm = self.strengths(atm, n_mol, q_mol, free, vmic)
        kc = kc_nodes[:, :, self.c_i0] * (1 - self.c_w) + kc_nodes[:, :, self.c_i0 + 1] * self.c_w
        A = S * saturation_factor(S, kc.transpose(1, 2), dopp, hwhm, self.bin_width)
        f, eta = pseudo_voigt(dopp, hwhm)
        return A, f, eta

    def add(self, kappa, A, f, eta):
        """Add the binned line opacity to ``kappa`` (B, n_int, D)."""
        for g in self.groups:
            kappa = g.add(kappa, A[:, g.sel], f[:, g.sel], eta[:, g.sel], self.ref_depth)
        return kappa

    def tangent(self, H, A, f, eta, dA, df, deta, n: int):
        """sum_d H(lambda, d) d kappa_lines(lambda, d) / d label_m -> (B, n, M).

        H (B, n, D) is d flux / d kappa; dA, df, deta (B, L, D, M) the label derivatives.
        """
        out = torch.zeros(H.shape[0], n, dA.shape[-1], dtype=H.dtype)
        for g in self.groups:
            s = g.sel
            out = g.tangent(out, H, A[:, s], f[:, s], eta[:, s], dA[:, s], df[:, s], deta[:, s],
                            self.ref_depth)  # fmt: skip
        return out


class _Group:
    """Lines sharing a window half width W: static bin geometry and the scatter index."""

    def __init__(self, sel, wl0, W: int, grid, per_depth: bool):
        self.sel = torch.as_tensor(sel)
        centre = grid.nearest(wl0)
        off = np.arange(-W, W + 1)
        idx = centre[:, None] + off[None, :]
        valid = (idx >= 0) & (idx < grid.n)
        idx = np.clip(idx, 0, grid.n - 1)
        self.x_lo = torch.as_tensor(grid.edges[idx] - wl0[:, None])
        self.x_hi = torch.as_tensor(grid.edges[idx + 1] - wl0[:, None])
        self.width = torch.as_tensor(np.where(valid, grid.edges[idx + 1] - grid.edges[idx], np.inf))
        self.index = torch.as_tensor(idx.reshape(-1))
        self.per_depth = per_depth
        self.n_w = 2 * W + 1

    def _geometry(self, per_depth: bool):
        if per_depth:
            return self.x_lo[None, :, :, None], self.x_hi[None, :, :, None], self.width[None, :, :, None]
        return self.x_lo[None], self.x_hi[None], self.width[None]

    def _fe(self, f, eta, ref_depth):
        if self.per_depth:
            return f[:, :, None, :], eta[:, :, None, :]
        return f[:, :, ref_depth, None], eta[:, :, ref_depth, None]

    def add(self, kappa, A, f, eta, ref_depth):
        fe = self._fe(f, eta, ref_depth)
        prof = bin_average(*self._geometry(self.per_depth), *fe)
        src = prof * A[:, :, None, :] if self.per_depth else prof[..., None] * A[:, :, None, :]
        B, L, W, D = src.shape
        return kappa.index_add(1, self.index, src.reshape(B, L * W, D))

    def tangent(self, out, H, A, f, eta, dA, df, deta, ref_depth):
        B, L = A.shape[:2]
        h = H[:, self.index].view(B, L, self.n_w, -1)  # (B, L, W, D)
        fe = self._fe(f, eta, ref_depth)
        phi, p_f, p_e = bin_average_partials(*self._geometry(self.per_depth), *fe)
        if self.per_depth:
            hA = h * A[:, :, None, :]
            t = torch.einsum("blwd,bldm->blwm", h * phi, dA)
            t = t + torch.einsum("blwd,bldm->blwm", hA * p_f, df)
            t = t + torch.einsum("blwd,bldm->blwm", hA * p_e, deta)
        else:
            t = torch.einsum("blwd,bldm->blwm", h, dA) * phi[..., None]
            hA = (h * A[:, :, None, :]).sum(-1)  # (B, L, W)
            t = t + hA[..., None] * (p_f[..., None] * df[:, :, None, ref_depth]
                                     + p_e[..., None] * deta[:, :, None, ref_depth])  # fmt: skip
        return out.index_add(1, self.index, t.reshape(B, L * self.n_w, -1))
