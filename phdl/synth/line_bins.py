"""One group of lines that share a window half width W: the static geometry of their internal
bins, the binned opacity they add (:meth:`LineGroup.add`) and its exact derivative with respect
to the labels (:meth:`LineGroup.tangent`). Used by :class:`phdl.synth.lines.LineOpacity`; the
profiles and the core bins' escape-weighted opacity are :mod:`phdl.synth.profiles`.
"""

from __future__ import annotations

import numpy as np
import torch

from .profiles import (
    CORE_HALF,
    bin_average_wing,
    bin_average_wing_partials,
    core_opacity,
    core_opacity_grads,
    core_opacity_narrow,
    core_opacity_narrow_grads,
    core_points,
)

_CHUNK = 128  # lines per block of the core-bin quadrature (keeps its arrays small)
_BLOCK = 2**18  # elements per window array of a block of lines (2 MiB: temporaries in cache)


def _chunks(n: int, size: int | None = None) -> list[slice]:
    size = size or _CHUNK
    return [slice(a, min(a + size, n)) for a in range(0, n, size)]


class LineGroup:
    """Lines sharing a window half width W: static bin geometry and the scatter index.

    Each window is the core bins (the bin holding the centre and CORE_HALF bins either side:
    escape-weighted opacity, :func:`phdl.synth.profiles.core_opacity`) between two wings, whose
    bins all lie on one side of the centre (bin averages by
    :func:`phdl.synth.profiles.bin_average_wing`). Wing arrays run over the left wing's bins,
    then the right wing's: (.., L, n_wing, ..). The work is done in blocks of lines; every
    value, and the order of the sums into the spectrum, is independent of the block size.
    """

    def __init__(self, sel, wl0, W: int, grid, per_depth: bool):
        self.sel = torch.as_tensor(sel)
        centre = grid.nearest(wl0)
        idx = centre[:, None] + np.arange(-W, W + 1)[None, :]
        valid = (idx >= 0) & (idx < grid.n)
        idx = np.clip(idx, 0, grid.n - 1)
        x_lo = grid.edges[idx] - wl0[:, None]  # bin edges relative to the centre [Å]
        x_hi = grid.edges[idx + 1] - wl0[:, None]
        self.per_depth = per_depth
        self.n_w = 2 * W + 1
        J = min(CORE_HALF, W)
        self.core = c = slice(W - J, W + J + 1)  # the core bins (module docstring of profiles)
        self.c_lo, self.c_hi = torch.as_tensor(x_lo[:, c]), torch.as_tensor(x_hi[:, c])
        self.c_valid = torch.as_tensor(valid[:, c])
        self.c_x = core_points(self.c_lo, self.c_hi)  # (L, C, n) sub-points [Å]
        wing = np.r_[0 : c.start, c.stop : self.n_w]
        lo, hi, ok = x_lo[:, wing], x_hi[:, wing], valid[:, wing]
        if not np.all((lo * hi > 0) | ~ok):
            raise ValueError("a wing bin holds a line centre")  # cannot happen: nearest()
        self.w_near = torch.as_tensor(np.minimum(np.abs(lo), np.abs(hi)))  # [Å]
        self.w_far = torch.as_tensor(np.maximum(np.abs(lo), np.abs(hi)))
        width = grid.edges[idx + 1] - grid.edges[idx]
        self.w_width = torch.as_tensor(np.where(ok, width[:, wing], np.inf))  # [Å]; inf: off-grid
        self.index = torch.as_tensor(idx)  # (L, n_w): the internal bin of each window bin
        self.w_index = torch.as_tensor(idx[:, wing])  # (L, n_wing)
        self.c_index = torch.as_tensor(idx[:, c])  # (L, C)

    def set_sets(self, sp: np.ndarray) -> None:
        """Group the lines by species for the chain rule."""
        self.sp_sets = [(int(k), torch.as_tensor(np.flatnonzero(sp == k))) for k in np.unique(sp)]

    def _blocks(self, B: int, L: int, D: int) -> list[slice]:
        """Blocks of at most _CHUNK lines whose (B, l, n_w, D) arrays hold about _BLOCK values."""
        return _chunks(L, max(1, min(_CHUNK, _BLOCK // (B * self.n_w * D))))

    def _wing_args(self, j: slice, f, eta, ref_depth):
        """Arguments of the wing profiles for the lines ``j`` (f, eta: (B, l, D) of those lines):
        geometry (d_near, d_far, width) [Å] and (f, eta), shaped to broadcast to (B, l, n_wing,
        D) for per-depth lines, else to (B, l, n_wing) (the profile of the reference depth)."""
        geo = (self.w_near[j], self.w_far[j], self.w_width[j])
        if self.per_depth:
            return (*(g[None, :, :, None] for g in geo), f[:, :, None, :], eta[:, :, None, :])
        return (*(g[None] for g in geo), f[:, :, ref_depth, None], eta[:, :, ref_depth, None])

    def _put_wing(self, dst, wing) -> None:
        """Write wing values (B, l, n_wing, X) into the wing bins of ``dst`` (B, l, n_w, X)."""
        a, b = self.core.start, self.core.stop
        dst[:, :, :a] = wing[:, :, :a]
        dst[:, :, b:] = wing[:, :, a:]

    def add(self, kappa, A, f, eta, rt, dlnt, ref_depth):
        """Add the group's line opacity to ``kappa`` (B, n_int, D) [cm^-1], in place, and return
        it: A x bin average on the wing bins, the escape-weighted opacity on the core bins (A
        [cm^-1 Å], f [Å], eta: (B, L, D); rt (B, D) = tau_5000 / kappa_5000 [cm]). Summed into
        ``kappa`` line after line, each window in bin order, whatever the blocks."""
        B, L, D = A.shape
        for j in self._blocks(B, L, D):
            prof = bin_average_wing(*self._wing_args(j, f[:, j], eta[:, j], ref_depth))
            a = A[:, j, None, :]
            wing = prof * a if self.per_depth else prof[..., None] * a
            if self.per_depth:
                core = core_opacity(a, f[:, j, None, :], eta[:, j, None, :], self.c_lo[j],
                                    self.c_hi[j], self.c_valid[j], rt[:, None, None, :],
                                    dlnt)  # fmt: skip
            else:
                core = core_opacity_narrow(A[:, j], f[:, j, ref_depth], eta[:, j, ref_depth],
                                           self.c_x[j], self.c_valid[j], rt, dlnt)  # fmt: skip
            c0 = self.core.start  # a cat, not a buffer: this also runs under vmap (tests)
            src = torch.cat([wing[:, :, :c0], core, wing[:, :, c0:]], dim=2)
            kappa.index_add_(1, self.index[j].reshape(-1), src.view(B, -1, D))
        return kappa

    def tangent(self, out, H, A, f, eta, pa, pf, pe, d_depth, d_vmic, d_nsp, ref_depth, rt,
                d_rt, dlnt):  # fmt: skip
        """Add this group's sum_d H dkappa/dlabel to ``out`` (B, n_int, M) in place and return
        it: the five Z = H dkappa/d(local input) (B, L, n_w, D) from the wing bins
        (:meth:`_bin_z`) and the core bins (:meth:`_core_z`), then the chain rule
        (:meth:`_chain`); Z of T, n_e and n_HI share one buffer, the chain rule's matrix."""
        B, L, D = A.shape
        e_ref = torch.zeros(D, dtype=H.dtype)
        e_ref[ref_depth] = 1.0
        zd = torch.empty(B, L, self.n_w, 3, D, dtype=A.dtype)
        Z = [zd[:, :, :, k] for k in range(3)]  # then vmic and the species density:
        Z += [torch.empty(B, L, self.n_w, D, dtype=A.dtype) for _ in range(2)]
        for j in self._blocks(B, L, D):
            self._bin_z(Z, j, H, A, f, eta, pa, pf, pe, ref_depth, e_ref)
        g_rt = self._core_z(Z, H, A, f, eta, pa, pf, pe, ref_depth, e_ref, rt, dlnt)
        t = self._chain(zd, Z[3], Z[4], d_depth, d_vmic, d_nsp)
        C = g_rt.shape[2]
        t[:, :, self.core] += torch.bmm(g_rt.view(B, L * C, D), d_rt).view(B, L, C, -1)
        return out.index_add_(1, self.index.view(-1), t.view(B, L * self.n_w, -1))

    def _bin_z(self, Z, j, H, A, f, eta, pa, pf, pe, ref_depth, e_ref) -> None:
        """Write into the wing bins of the lines ``j`` of each Z[k] (B, L, n_w, D) H times
        d(binned opacity)/d(local input k), for the five local inputs."""
        A, f, eta, pa, pf, pe = A[:, j], f[:, j], eta[:, j], pa[:, :, j], pf[:, :, j], pe[:, :, j]
        B, n_j, D = A.shape
        h = H[:, self.w_index[j].reshape(-1)].view(B, n_j, -1, D)
        phi, p_f, p_e = bin_average_wing_partials(*self._wing_args(j, f, eta, ref_depth))
        if self.per_depth:
            hphi = h * phi
            hA = h * A[:, :, None, :]
            a_f, a_e = hA * p_f, hA * p_e
            for k in range(len(pa)):
                z = hphi * pa[k][:, :, None, :]
                if k < 4:
                    z = z + a_f * pf[k][:, :, None, :] + a_e * pe[k][:, :, None, :]
                self._put_wing(Z[k][:, j], z)
            return
        hphi = h * phi[..., None]
        hA = (h * A[:, :, None, :]).sum(-1)  # (B, l, n_wing)
        for k in range(len(pa)):
            z = hphi * pa[k][:, :, None, :]
            if k < 4:
                fe_k = p_f * pf[k][:, :, None, ref_depth] + p_e * pe[k][:, :, None, ref_depth]
                z = z + (hA * fe_k)[..., None] * e_ref
            self._put_wing(Z[k][:, j], z)

    def _core_z(self, Z, H, A, f, eta, pa, pf, pe, ref_depth, e_ref, rt, dlnt):
        """Write into the core bins of each Z[k] (B, L, n_w, D) the H-weighted derivatives of the
        escape-weighted opacity (per core bin, since each bin has its own H), in blocks of
        lines (:meth:`_core_grads`), and return those with respect to rt = tau / kappa_5000 (B,
        L, C, D)."""
        B, L, D = A.shape
        c = self.core
        h = H[:, self.c_index.reshape(-1)].view(B, L, -1, D)
        g_rts = []
        for j in _chunks(L):
            g_a, g_f, g_e, g_rt = self._core_grads(j, h[:, j], A, f, eta, rt, dlnt, ref_depth)
            for k in range(len(pa)):
                z = g_a * pa[k][:, j, None, :]
                if k < 4 and self.per_depth:
                    z = z + g_f * pf[k][:, j, None, :] + g_e * pe[k][:, j, None, :]
                elif k < 4:
                    zr = g_f * pf[k][:, j, None, ref_depth]
                    z = z + (zr + g_e * pe[k][:, j, None, ref_depth])[..., None] * e_ref
                Z[k][:, j, c] = z
            g_rts.append(g_rt)
        return torch.cat(g_rts, dim=1)

    def _core_grads(self, j, h, A, f, eta, rt, dlnt, ref_depth):
        """d(sum_d h core opacity)/d(A, f, eta, rt) of the lines ``j``, per core bin (h (B, l,
        C, D)), in closed form: f and eta of the reference depth for narrow-window lines ((B,
        l, C)), else per depth ((B, l, C, D))."""
        if self.per_depth:
            return core_opacity_grads(h, A[:, j], f[:, j], eta[:, j], self.c_x[j],
                                      self.c_valid[j], rt, dlnt)  # fmt: skip
        return core_opacity_narrow_grads(h, A[:, j], f[:, j, ref_depth], eta[:, j, ref_depth],
                                         self.c_x[j], self.c_valid[j], rt, dlnt)  # fmt: skip

    def _chain(self, zd, z_vmic, z_nsp, d_depth, d_vmic, d_nsp) -> torch.Tensor:
        """The chain rule from the five local inputs to the labels: (B, L, W, M); ``zd`` (B, L,
        W, 3, D) holds Z of T, n_e and n_HI, ``z_vmic`` and ``z_nsp`` (B, L, W, D) the others."""
        B, L, W, _, D = zd.shape
        M = d_depth.shape[-1]
        t = torch.bmm(zd.view(B, L * W, 3 * D), d_depth).view(B, L, W, M)
        t = t + z_vmic.sum(-1)[..., None] * d_vmic[:, None, None, :]
        for k, rows in self.sp_sets:  # species density: shared by the lines of a species
            z = z_nsp[:, rows].reshape(B, -1, D)
            t.index_add_(1, rows, torch.bmm(z, d_nsp[:, k]).view(B, len(rows), W, M))
        return t
