"""The ab initio engine: labels -> normalized spectra and exact gradient spectra.

Pipeline per batch of stars (all float64 torch): abundances (solar mixture + [Fe/H] + [X/Fe])
-> LTE atmosphere (grey, or ATLAS9's T(tau): ``Physics.atmosphere``) with Saha electron
pressure and hydrostatics -> molecular equilibrium ->
continuous opacity on 25 Å nodes -> atomic, Balmer and molecular line opacity on the internal
bins -> LTE radiative transfer -> Gaussian line spread and LAMOST pixels -> Eq. 22-24
normalization. Gradient spectra d flux / d label for all 34 labels are exact derivatives of the
computed spectrum: forward-mode automatic differentiation (torch.func.jvp, vectorized over the
34 label directions with vmap) through the small depth-level steps (abundances, atmosphere,
equilibria, continuum), then the chain rule through the large opacity and transfer stage, with
analytic partials of the line strengths, widths and binned profiles and one reverse pass of
the transfer (:meth:`Synthesizer.forward_with_jacobian`); the instrument is forward mode again.
:meth:`Synthesizer.forward_with_jacobian_reference` is forward mode through every step, the
tests' reference.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from .. import labels as L
from . import atmosphere, molecules, transfer, vald
from .atoms import ATOMS
from .compiled import MaybeCompiled, compile_default
from .continuum import Continuum, kappa5000_fn
from .instrument import Instrument, lsf_half_width
from .lines import LineOpacity, assemble
from .physics import Physics
from .wavegrid import WaveGrid

_LOG_TAU_PROFILE = -1.0  # depth whose profile shape narrow lines use
_HALF_WIDTHS = (2, 6, 20, 60, 150)  # window half widths [internal bins at oversample 4]
_BALMER_HALF_WIDTH = 300
_WING_LEVEL = 0.03  # a window ends where the wing opacity falls to this fraction of continuum


class Synthesizer:
    """Differentiable LTE synthesis of normalized LAMOST-like spectra.

    ``syn(labels)`` -> flux (n, n_pix); ``syn(labels, with_gradients=True)`` -> (flux,
    gradients (n, 34, n_pix)), labels (n, 34) in physical units (K, dex, km/s), flux
    normalized (Eq. 22-24), gradients per unit of each label.
    """

    def __init__(self, physics: Physics | None = None, compile: bool | None = None):
        from .linelist import read_csv, read_linelist

        self.physics = physics or Physics()
        self.compiled = compile_default() if compile is None else bool(compile)
        self._flux_from = MaybeCompiled(transfer.flux_from, self.compiled)
        p = self.physics
        self.grid = WaveGrid(p, margin=lsf_half_width(p) + 8)
        self.wavelength = self.grid.pixels.copy()
        self.wl_int = torch.as_tensor(self.grid.wl)
        self.continuum = Continuum(self.grid.nodes)
        self.kappa5000 = kappa5000_fn()
        self.instrument = Instrument(p, self.grid)
        lo, hi = self.grid.edges[0], self.grid.edges[-1]
        if p.linelist == vald.NAME:  # the VALD selection: its molecules replace the band model
            atomic, bands = vald.lines(lo, hi)
        else:
            atomic = read_linelist(p.linelist) if p.linelist else read_csv()
            bands = molecules.band_lines(lo, hi)
        self.lines = assemble(atomic, bands, p, lo, hi)
        log_tau = np.linspace(*p.log_tau_range, p.n_depth)
        self.ref_depth = int(np.argmin(np.abs(log_tau - _LOG_TAU_PROFILE)))
        self._bin_t = (torch.as_tensor(self.grid.bin_i0), torch.as_tensor(self.grid.bin_w))
        i0 = self.grid.bin_i0
        cuts = np.flatnonzero(np.diff(i0)) + 1
        starts, ends = np.r_[0, cuts], np.r_[cuts, i0.size]
        self._node_spans = [(int(i0[a]), int(a), int(b)) for a, b in zip(starts, ends, strict=True)]
        self.tau = torch.logspace(*p.log_tau_range, p.n_depth, dtype=torch.float64)
        self._dlnt = float(
            np.log(10.0) * (p.log_tau_range[1] - p.log_tau_range[0]) / (p.n_depth - 1)
        )
        # label -> abundance map
        self._sun = torch.as_tensor(ATOMS.log_eps_sun)
        metal = np.array([s not in ("H", "He") for s in ATOMS.symbols], dtype=float)
        self._metal = torch.as_tensor(metal)
        xmap = np.zeros((len(L.ELEMENTS), len(ATOMS.symbols)))
        for i, el in enumerate(L.ELEMENTS):
            xmap[i, ATOMS.index(el)] = 1.0
        self._xmap = torch.as_tensor(xmap)
        self.lineop = LineOpacity(
            self.lines, self.grid, p, np.full(len(self.lines), 2), self.ref_depth
        )
        self.lineop = LineOpacity(self.lines, self.grid, p, self._window_widths(), self.ref_depth)

    # ------------------------------------------------------------------ set-up helpers
    def _window_widths(self) -> np.ndarray:
        """Half width (bins) of each line's window, from its wing extent in reference stars."""
        refs = np.array([L.solar(), L.solar(4000.0, 1.0, 2.0), L.solar(8000.0, 4.0, 2.0)])
        refs[:, 3] = 0.5
        refs[:, 4:] = L.UPPER[4:]
        d = int(
            np.argmin(np.abs(np.linspace(*self.physics.log_tau_range, self.physics.n_depth) + 2))
        )
        with torch.no_grad():
            T, _, n_e, n_hi, vmic, kc_nodes, nsp = self._stage_a(torch.as_tensor(refs))
            loc = self.lineop.local(T, n_e, n_hi, vmic, nsp)
            S, dopp, hwhm = (q[:, :, d] for q in self.lineop.strengths(*loc))
            eta0 = S / (np.sqrt(np.pi) * dopp * self.lineop.continuum_at_lines(kc_nodes)[:, :, d])
            a = hwhm / dopp
            reach = torch.sqrt(eta0 * a / (np.sqrt(np.pi) * _WING_LEVEL)) * dopp  # Å
            reach = torch.maximum(reach, 4.0 * (dopp + hwhm)).amax(0).numpy()
        bins = reach / self.grid.bin_width_at(self.lines.wl)
        # the windows' reach in Å does not shrink on a finer grid: above oversample 4 the
        # half widths (in bins) grow with it, so only the resolution changes with K
        scale = max(1.0, self.grid.K / 4.0)
        widths = sorted({*_HALF_WIDTHS, *(int(round(h * scale)) for h in _HALF_WIDTHS)})
        w = np.full(bins.shape, widths[-1])
        for hw in reversed(widths):
            w[bins <= hw] = hw
        w[self.lines.kind == 2] = _HALF_WIDTHS[0]  # molecular pseudo-lines: no damping wings
        hk = (self.lines.kind == 0) & (self.lines.el == ATOMS.index("Ca")) & (self.lines.stage == 1)
        w[(self.lines.kind == 1) | (hk & (self.lines.wl < 4000.0))] = int(
            round(_BALMER_HALF_WIDTH * scale)
        )  # Balmer, Ca II H & K
        return w

    # ------------------------------------------------------------------ physics
    def _abundances(self, x: torch.Tensor) -> torch.Tensor:
        log_eps = self._sun[None] + self._metal[None] * x[:, 3:4] + x[:, 4:] @ self._xmap
        return 10.0 ** (log_eps - 12.0)

    def _depth_state(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Depth-level quantities (small arrays): T, kappa_5000, n_e, n_HI, Pe (B, D),
        vmic (B,) and species densities n/U (B, S, D)."""
        teff, logg, vmic = x[:, 0], x[:, 1], x[:, 2]
        atm = atmosphere.build(teff, logg, self._abundances(x), self.physics, self.kappa5000)
        n_mol, q_mol, free = molecules.equilibrium(atm.T, atm.n_nuc, atm.alpha, atm.frac, atm.U)
        n_e, n_hi, nsp = self.lineop.drivers(atm, n_mol, q_mol, free)
        return atm.T, atm.kappa_ref, n_e, n_hi, atm.Pe, vmic, nsp

    def _stage_a(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """:meth:`_depth_state` without Pe, plus the continuum opacity on the nodes
        (B, D, n_nodes): T, kappa_5000, n_e, n_HI, vmic, kc_nodes, n/U."""
        T, kref, n_e, n_hi, Pe, vmic, nsp = self._depth_state(x)
        return T, kref, n_e, n_hi, vmic, self.continuum(T, Pe, n_hi, n_e), nsp

    def _stage_a_with_tangents(self, x: torch.Tensor) -> tuple[tuple, tuple]:
        """:meth:`_stage_a` and its derivatives along the 34 labels (trailing axis).

        Forward mode (vmap over the 34 directions) runs through the small depth-level arrays
        only; the continuum on the nodes, elementwise in depth, is differentiated with respect
        to its four inputs (T, Pe, n_HI, n_e) and combined by the chain rule, which avoids
        carrying 34 tangents of the (B, D, n_nodes) array through every operation."""
        (T, kref, n_e, n_hi, Pe, vmic, nsp), tans = self._jvp_all(self._depth_state, x)
        dT, dkref, dne, dnhi, dPe, dvmic, dnsp = tans
        inputs = (T, Pe, n_hi, n_e)
        kc, dkc = None, 0.0
        for k, d_in in enumerate((dT, dPe, dnhi, dne)):
            tang = tuple(torch.ones_like(v) if i == k else torch.zeros_like(v)
                         for i, v in enumerate(inputs))  # fmt: skip
            kc, partial = torch.func.jvp(self.continuum, inputs, tang)
            dkc = dkc + partial[..., None] * d_in[:, :, None, :]
        return (T, kref, n_e, n_hi, vmic, kc, nsp), (dT, dkref, dne, dnhi, dvmic, dkc, dnsp)

    def _kappa(self, kc_nodes, kappa_ref, A, f, eta) -> torch.Tensor:
        """Total opacity on the internal bins (B, n_int, D) [cm^-1]."""
        kc = kc_nodes.transpose(1, 2)
        i0, w = self._bin_t
        kappa = kc[:, i0] * (1.0 - w)[None, :, None] + kc[:, i0 + 1] * w[None, :, None]
        return self.lineop.add(kappa, A, f, eta, self.tau / kappa_ref)

    def _stage_b(self, T, kappa_ref, n_e, n_hi, vmic, kc_nodes, nsp) -> torch.Tensor:
        """Internal-bin flux (B, n_int) from the stage-A quantities."""
        A, f, eta = self.lineop.line_fn(*self.lineop.local(T, n_e, n_hi, vmic, nsp))
        kappa = self._kappa(kc_nodes, kappa_ref, A, f, eta)
        r = transfer.depth_ratio(kappa, kappa_ref, self.tau)
        return self._flux_from(r, transfer.planck(self.wl_int, T), self._dlnt, self.physics.n_mu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized flux (B, n_pix) for physical labels x (B, 34), float64 torch."""
        return self.instrument(self._stage_b(*self._stage_a(x)))

    def unnormalized(self, labels: np.ndarray) -> np.ndarray:
        """Flux (n, n_pix) for physical labels (n, 34) after the line spread and pixel sampling
        but before the Eq. 22-24 normalization (``self.instrument.normalize`` of it is what
        ``self(labels)`` returns)."""
        x = torch.as_tensor(L.validate(np.atleast_2d(labels)))
        with torch.no_grad():
            return self.instrument.sample(self._stage_b(*self._stage_a(x))).numpy()

    def _jvp_all(self, fn, primal: torch.Tensor) -> tuple:
        """Primal outputs of ``fn(primal)`` and their derivatives along each of the 34 label
        directions, moved to a trailing axis of size 34 (forward mode, vmap over directions)."""
        basis = torch.eye(L.N_LABELS, dtype=primal.dtype)[:, None, :].expand(
            -1, primal.shape[0], -1
        )
        out, tan = torch.func.vmap(lambda t: torch.func.jvp(fn, (primal,), (t,)))(
            basis.contiguous()
        )
        return tuple(o[0] for o in out), tuple(t.movedim(0, -1) for t in tan)

    def forward_with_jacobian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(flux (B, n_pix), d flux / d label (B, 34, n_pix)), exact.

        Forward-mode autodiff gives the derivatives of the small stage-A quantities; the large
        opacity/transfer stage is differentiated by the chain rule with one reverse pass of the
        transfer (each wavelength's flux depends only on its own column, so the reverse pass of
        the summed flux gives every d F(lambda) / d kappa(lambda, d) at once) and the analytic
        partials of the binned profiles; the instrument is again forward mode.
        """
        (T, kref, n_e, n_hi, vmic, kc, nsp), tangents = self._stage_a_with_tangents(x)
        dT, dkref, dne, dnhi, dvmic, dkc, dnsp = tangents
        lo = self.lineop
        inputs = lo.local(T, n_e, n_hi, vmic, nsp)
        outs, parts = lo.partials(inputs)
        A, f, eta = outs
        d_depth = torch.cat([dT, dne, dnhi], dim=1)  # (B, 3D, M)
        with torch.enable_grad():
            kappa = self._kappa(kc, kref, A, f, eta)
            r = transfer.depth_ratio(kappa, kref, self.tau).detach().requires_grad_(True)
            S = transfer.planck(self.wl_int, T).detach().requires_grad_(True)
            F = self._flux_from(r, S, self._dlnt, self.physics.n_mu)
            g_r, g_s = torch.autograd.grad(F.sum(), (r, S))
        F = F.detach()
        H = g_r * self.tau / kref[:, None, :]
        dF = torch.einsum("bnd,bdm->bnm", g_s * transfer.planck_dT(self.wl_int, T), dT)
        dF = dF - torch.einsum("bnd,bdm->bnm", g_r * r.detach() / kref[:, None, :], dkref)
        dF = dF + self._continuum_tangent(H, dkc)
        rt = self.tau / kref
        d_rt = -(rt / kref)[..., None] * dkref
        dF = dF + lo.tangent(H, outs, parts, d_depth, dvmic, dnsp, self.grid.n, rt, d_rt)
        return self.instrument.with_tangent(F, dF)

    def _continuum_tangent(self, H: torch.Tensor, dkc: torch.Tensor) -> torch.Tensor:
        """sum_d H(lambda, d) d kappa_cont(lambda, d) / d label -> (B, n, M); dkc (B, D, N, M)."""
        i0, w = self._bin_t
        p0 = H * (1.0 - w)[None, :, None]
        p1 = H * w[None, :, None]
        out = torch.empty(H.shape[0], H.shape[1], dkc.shape[-1], dtype=H.dtype)
        for j, a, b in self._node_spans:
            out[:, a:b] = p0[:, a:b] @ dkc[:, :, j] + p1[:, a:b] @ dkc[:, :, j + 1]
        return out

    def forward_with_jacobian_reference(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The same Jacobian by plain forward mode through everything (slow; for tests)."""
        self.instrument.dense = self.instrument.norm_matrix.to_dense()
        try:
            (flux,), (jac,) = self._jvp_all(lambda y: (self.forward(y),), x)
        finally:
            self.instrument.dense = None
        return flux, jac.movedim(-1, 1)

    # ------------------------------------------------------------------ public API
    def __call__(
        self,
        labels: np.ndarray,
        with_gradients: bool = False,
        batch_size: int | None = None,
        progress: bool = False,
    ):
        """Synthesize spectra for physical labels (n, 34) [K, dex, km/s, dex...].

        Returns flux (n, n_pix) float64 or, with ``with_gradients``, (flux, gradients
        (n, 34, n_pix)) where gradients[i, m] = d flux_i / d label_m in physical units.
        ``batch_size``: stars per engine call (default 4: on 2 cores, batches of 16 spectra ran
        3.4x slower than batches of 4, and with gradients batches of 8 1.5x slower on one thread;
        BENCHMARKS.md, engine).
        """
        x = L.validate(labels)
        bs = min(batch_size or 4, len(x))
        fluxes, grads = [], []
        starts = range(0, len(x), bs)
        for s in tqdm(starts, desc="synth", unit="batch", disable=not progress):
            chunk = x[s : s + bs]
            n = len(chunk)
            if self.compiled and n < bs:  # pad to the compiled batch shape (no recompilation)
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], bs - n, axis=0)])
            xt = torch.as_tensor(chunk)
            if with_gradients:
                f, g = self.forward_with_jacobian(xt)
                grads.append(g[:n].numpy())
            else:
                with torch.no_grad():
                    f = self.forward(xt)
            fluxes.append(f[:n].detach().numpy())
        flux = np.concatenate(fluxes)
        if not np.all(np.isfinite(flux)):
            bad = int(np.argwhere(~np.isfinite(flux))[0, 0])
            raise FloatingPointError(
                f"non-finite flux for star {bad} with labels {x[bad].tolist()}"
            )
        return (flux, np.concatenate(grads)) if with_gradients else flux

    def describe(self) -> dict:
        """Attributes for a grid file: source, resolution, normalization, physics hash."""
        from .. import __version__

        p = self.physics
        atm = {"grey": "grey", "atlas9": "ATLAS9"}[p.atmosphere]
        pf = "" if p.partition_functions == "two-level" else f", {p.partition_functions} U(T)"
        return {
            "source": f"phdl.synth {__version__} (LTE, {atm} atmosphere{pf}; "
            f"{len(self.lines)} lines)",
            "resolution": float(p.resolution),
            "normalization": f"gaussian running mean L={p.norm_length:g} A (Eq. 22-24)",
            "physics_hash": p.hash(),
        }
