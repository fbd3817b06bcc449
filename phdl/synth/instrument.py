"""Instrument: Gaussian line spread at resolving power R, sampling onto the output pixels, and
the Eq. 22-24 normalization by a Gaussian-weighted running mean of width L.

The internal grid is uniform in log lambda, so a line spread of constant R is one fixed kernel
in internal bins: f_pix(i) = sum_k LSF(k) f_int(K i + k) (a strided 1-D convolution; the LSF is
a Gaussian of FWHM lambda / R, i.e. log10(e) / R in log10 lambda, normalized to unit sum).
Normalization (Eq. 22-24): f_n(lambda_i) = f(lambda_i) / f~(lambda_i), f~ = sum_j w_ij f_j /
sum_j w_ij, w_ij = exp(-(lambda_j - lambda_i)^2 / (2 L^2)) over the output pixels, truncated at
4 L (weights below 3e-4 of the peak).
"""

from __future__ import annotations

import numpy as np
import torch


def lsf_half_width(physics) -> int:
    """Half width of the line spread kernel in output pixels (5 sigma)."""
    sigma_px = np.log10(np.e) / physics.resolution / physics.log_step / 2.3548200450309493
    return int(np.ceil(5.0 * sigma_px))


class Instrument:
    """Line spread, pixel sampling and normalization for a :class:`WaveGrid`."""

    def __init__(self, physics, grid):
        K = grid.K
        hp = lsf_half_width(physics)
        sigma = np.log10(np.e) / physics.resolution / grid.delta / 2.3548200450309493
        k = np.arange(-hp * K, hp * K + 1)
        kern = np.exp(-0.5 * (k / sigma) ** 2)
        self.kernel = torch.as_tensor(kern / kern.sum()).view(1, 1, -1)
        self.K = K
        self.first = (grid.margin - hp) * K  # internal index where the first kernel starts
        self.n_pix = grid.n_pix
        wl = grid.pixels
        half = int(np.ceil(4.0 * physics.norm_length / (wl[0] * (10**physics.log_step - 1))))
        j = np.arange(-half, half + 1)
        idx = np.arange(wl.size)[:, None] + j[None, :]
        valid = (idx >= 0) & (idx < wl.size)
        idx_c = np.clip(idx, 0, wl.size - 1)
        w = np.exp(-0.5 * ((wl[idx_c] - wl[:, None]) / physics.norm_length) ** 2) * valid
        self.norm_idx = torch.as_tensor(idx_c.reshape(-1))
        self.norm_w = torch.as_tensor(w / w.sum(1, keepdims=True))
        self.norm_shape = idx.shape

    def __call__(self, f_int: torch.Tensor) -> torch.Tensor:
        """Internal flux (B, n_int) -> normalized flux on the output pixels (B, n_pix)."""
        x = f_int[:, self.first : self.first + self.K * (self.n_pix - 1) + self.kernel.shape[-1]]
        f = torch.nn.functional.conv1d(x[:, None, :], self.kernel, stride=self.K)[:, 0, :]
        f = f[:, : self.n_pix]
        return f / self.running_mean(f)

    def running_mean(self, f: torch.Tensor) -> torch.Tensor:
        """Gaussian-weighted running mean f~ of Eq. 23 on the output pixels, (B, n_pix)."""
        win = f[:, self.norm_idx].view(f.shape[0], *self.norm_shape)
        return (win * self.norm_w).sum(-1)
