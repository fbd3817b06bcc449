"""One group of lines that share a window half width W: the static geometry of their internal
bins, the binned opacity they add (:meth:`LineGroup.add`) and its exact derivative with respect
to the labels (:meth:`LineGroup.tangent`). Used by :class:`phdl.synth.lines.LineOpacity`; the
profiles and the core bins' escape-weighted opacity are :mod:`phdl.synth.profiles`.
"""

from __future__ import annotations

import numpy as np
import torch

from .profiles import CORE_HALF, bin_average, bin_average_partials, core_opacity

_CHUNK = 128  # lines per block of the core-bin quadrature (keeps its arrays small)


def _chunks(n: int) -> list[slice]:
    return [slice(a, min(a + _CHUNK, n)) for a in range(0, n, _CHUNK)]


class LineGroup:
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
        J = min(CORE_HALF, W)
        self.core = slice(W - J, W + J + 1)  # the core bins (module docstring of profiles)
        self.c_lo, self.c_hi = self.x_lo[:, self.core], self.x_hi[:, self.core]
        self.c_valid = torch.as_tensor(valid[:, self.core])

    def set_sets(self, sp: np.ndarray) -> None:
        """Group the lines by species for the chain rule."""
        self.sp_sets = [(int(k), torch.as_tensor(np.flatnonzero(sp == k))) for k in np.unique(sp)]

    def _geometry(self, per_depth: bool):
        if per_depth:
            return (
                self.x_lo[None, :, :, None],
                self.x_hi[None, :, :, None],
                self.width[None, :, :, None],
            )
        return self.x_lo[None], self.x_hi[None], self.width[None]

    def _fe(self, f, eta, ref_depth):
        if self.per_depth:
            return f[:, :, None, :], eta[:, :, None, :]
        return f[:, :, ref_depth, None], eta[:, :, ref_depth, None]

    def _core_fe(self, f, eta, ref_depth):
        """Profile parameters of the core sub-points: per depth, or of the reference depth for
        narrow-window lines (as their bin averages), (B, L, 1, D or 1)."""
        if self.per_depth:
            return f[:, :, None, :], eta[:, :, None, :]
        return f[:, :, None, ref_depth, None], eta[:, :, None, ref_depth, None]

    def _core(self, A, f, eta, rt, dlnt, ref_depth):
        """Escape-weighted opacity of the core bins (B, L, C, D), in chunks of lines."""
        fc, ec = self._core_fe(f, eta, ref_depth)
        return torch.cat([
            core_opacity(A[:, j, None, :], fc[:, j], ec[:, j], self.c_lo[j], self.c_hi[j],
                         self.c_valid[j], rt, dlnt)
            for j in _chunks(A.shape[1])
        ], dim=1)  # fmt: skip

    def add(self, kappa, A, f, eta, rt, dlnt, ref_depth):
        fe = self._fe(f, eta, ref_depth)
        prof = bin_average(*self._geometry(self.per_depth), *fe)
        src = prof * A[:, :, None, :] if self.per_depth else prof[..., None] * A[:, :, None, :]
        core = self._core(A, f, eta, rt[:, None, None, :], dlnt, ref_depth)
        c = self.core
        src = torch.cat([src[:, :, : c.start], core, src[:, :, c.stop :]], dim=2)
        B, L, W, D = src.shape
        return kappa.index_add(1, self.index, src.reshape(B, L * W, D))

    def tangent(self, out, H, A, f, eta, pa, pf, pe, d_depth, d_vmic, d_nsp, ref_depth, rt,
                d_rt, dlnt):  # fmt: skip
        """Add this group's sum_d H dkappa/dlabel to ``out`` (B, n_int, M): the binned profiles'
        terms, the core bins' terms (:meth:`_core_z`), then the chain rule (:meth:`_chain`)."""
        B, L, D = A.shape
        h = H[:, self.index].view(B, L, self.n_w, D)
        e_ref = torch.zeros(D, dtype=H.dtype)
        e_ref[ref_depth] = 1.0
        Z = self._bin_z(h, A, f, eta, pa, pf, pe, ref_depth, e_ref)
        Z, g_rt = self._core_z(Z, h, A, f, eta, pa, pf, pe, ref_depth, e_ref, rt, dlnt)
        t = self._chain(Z, d_depth, d_vmic, d_nsp)
        c = self.core
        t_core = torch.bmm(g_rt.reshape(B, L * (c.stop - c.start), D), d_rt).view(
            B, L, -1, t.shape[-1]
        )
        t = torch.cat([t[:, :, : c.start], t[:, :, c] + t_core, t[:, :, c.stop :]], dim=2)
        return out.index_add(1, self.index, t.reshape(B, L * self.n_w, -1))

    def _bin_z(self, h, A, f, eta, pa, pf, pe, ref_depth, e_ref) -> list:
        """Per local input k (5): H times d(binned opacity)/d input, (B, L, W, D) each."""
        fe = self._fe(f, eta, ref_depth)
        phi, p_f, p_e = bin_average_partials(*self._geometry(self.per_depth), *fe)
        Z = []
        if self.per_depth:
            hphi = h * phi
            hA = h * A[:, :, None, :]
            a_f, a_e = hA * p_f, hA * p_e
            for k in range(len(pa)):
                z = hphi * pa[k][:, :, None, :]
                if k < 4:
                    z = z + a_f * pf[k][:, :, None, :] + a_e * pe[k][:, :, None, :]
                Z.append(z)
            return Z
        hphi = h * phi[..., None]
        hA = (h * A[:, :, None, :]).sum(-1)  # (B, L, W)
        for k in range(len(pa)):
            z = hphi * pa[k][:, :, None, :]
            if k < 4:
                fe_k = p_f * pf[k][:, :, None, ref_depth] + p_e * pe[k][:, :, None, ref_depth]
                z = z + (hA * fe_k)[..., None] * e_ref
            Z.append(z)
        return Z

    def _core_z(self, Z, h, A, f, eta, pa, pf, pe, ref_depth, e_ref, rt, dlnt):
        """``Z`` with the core bins' entries replaced by the H-weighted derivatives of the
        escape-weighted opacity (one reverse pass per block of lines; per core bin, since each
        bin has its own H), and those with respect to rt = tau / kappa_5000, (B, L, C, D)."""
        B, L, D = A.shape
        c = self.core
        C = c.stop - c.start
        fc, ec = self._core_fe(f, eta, ref_depth)
        grads = []
        for j in _chunks(L):
            with torch.enable_grad():
                n_j = len(range(L)[j])
                leaves = [v[:, j].detach().expand(B, n_j, C, v.shape[-1]).clone()
                          .requires_grad_(True) for v in (A[:, :, None, :], fc, ec)]  # fmt: skip
                rtl = rt[:, None, None, :].detach().expand(B, n_j, C, D).clone()
                rtl.requires_grad_(True)
                core = core_opacity(*leaves, self.c_lo[j], self.c_hi[j], self.c_valid[j], rtl,
                                    dlnt)  # fmt: skip
                grads.append(torch.autograd.grad((h[:, j, c] * core).sum(), (*leaves, rtl)))
        g_a, g_f, g_e, g_rt = (torch.cat(g, dim=1) for g in zip(*grads, strict=True))
        for k in range(len(pa)):
            z = g_a * pa[k][:, :, None, :]
            if k < 4 and self.per_depth:
                z = z + g_f * pf[k][:, :, None, :] + g_e * pe[k][:, :, None, :]
            elif k < 4:
                zr = g_f[..., 0] * pf[k][:, :, None, ref_depth]
                z = z + (zr + g_e[..., 0] * pe[k][:, :, None, ref_depth])[..., None] * e_ref
            Z[k] = torch.cat([Z[k][:, :, : c.start], z, Z[k][:, :, c.stop :]], dim=2)
        return Z, g_rt

    def _chain(self, Z, d_depth, d_vmic, d_nsp) -> torch.Tensor:
        """The chain rule from the five local inputs to the labels: (B, L, W, M)."""
        B, L, W, D = Z[0].shape
        M = d_depth.shape[-1]
        zd = torch.stack(Z[:3], dim=3).reshape(B, L * W, 3 * D)
        t = torch.bmm(zd, d_depth).view(B, L, W, M)
        t = t + Z[3].sum(-1)[..., None] * d_vmic[:, None, None, :]
        for k, rows in self.sp_sets:  # species density: shared by the lines of a species
            z = Z[4][:, rows].reshape(B, -1, D)
            t.index_add_(1, rows, torch.bmm(z, d_nsp[:, k]).view(B, len(rows), W, M))
        return t
