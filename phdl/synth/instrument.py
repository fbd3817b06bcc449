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

import warnings

import numpy as np
import torch


def lsf_half_width(physics) -> int:
    """Half width of the line spread kernel in output pixels (5 sigma)."""
    sigma_px = np.log10(np.e) / physics.resolution / physics.log_step / 2.3548200450309493
    return int(np.ceil(5.0 * sigma_px))


def norm_window(wavelength: np.ndarray, length: float) -> tuple[np.ndarray, np.ndarray]:
    """The Eq. 23 kernel on pixels ``wavelength`` (n,) Å, uniform in log lambda: for pixel i the
    neighbour indices ``idx`` (n, 2h + 1) and unnormalized weights ``w`` = exp(-(lambda_j -
    lambda_i)^2 / (2 L^2)) (0 outside the spectrum), h pixels = 4 L at the bluest pixel step.
    ``length`` L in Å. Shared by the engine and the reader of observed spectra (phdl.io)."""
    wl = np.asarray(wavelength, dtype=np.float64)
    half = int(np.ceil(4.0 * length / (wl[1] - wl[0])))
    j = np.arange(-half, half + 1)
    idx = np.arange(wl.size)[:, None] + j[None, :]
    valid = (idx >= 0) & (idx < wl.size)
    idx_c = np.clip(idx, 0, wl.size - 1)
    w = np.exp(-0.5 * ((wl[idx_c] - wl[:, None]) / length) ** 2) * valid
    return idx_c, w


def masked_running_mean(
    wavelength: np.ndarray, flux: np.ndarray, good: np.ndarray, length: float
) -> tuple[np.ndarray, np.ndarray]:
    """The Eq. 23 running mean f~ of spectra ``flux`` (..., n) on pixels ``wavelength`` (n,) Å
    (log-uniform), leaving out pixels where ``good`` (..., n) is 0: f~_i = sum_j w_ij g_j f_j /
    sum_j w_ij g_j with the kernel of :func:`norm_window` (width ``length`` L, Å). Returns (f~,
    fraction of pixel i's kernel weight that falls on good pixels), both (..., n); f~ is 0
    where that fraction is 0. With every pixel good this is :meth:`Instrument.running_mean`,
    so observed spectra (phdl.io) normalized with it match the engine's model spectra."""
    f = np.asarray(flux, dtype=np.float64)
    g = np.broadcast_to(np.asarray(good, dtype=np.float64), f.shape)
    idx, kern = norm_window(wavelength, length)
    full = kern.sum(1)
    mean = np.zeros(f.shape)
    frac = np.zeros(f.shape)
    for k in np.ndindex(f.shape[:-1]):  # one spectrum at a time: (n, 2h + 1) temporaries
        weight = (kern * g[k][idx]).sum(1)
        mean[k] = (kern * (g[k] * f[k])[idx]).sum(1) / np.where(weight > 0, weight, 1.0)
        frac[k] = weight / full
    return mean, frac


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
        idx_c, w = norm_window(wl, physics.norm_length)
        w = w / w.sum(1, keepdims=True)
        rows = np.repeat(np.arange(wl.size), idx_c.shape[1])
        keep = w.reshape(-1) > 0
        with warnings.catch_warnings():  # torch flags sparse CSR as beta; the use here is basic
            warnings.simplefilter("ignore", UserWarning)
            coo = torch.sparse_coo_tensor(
                np.stack([rows[keep], idx_c.reshape(-1)[keep]]),
                w.reshape(-1)[keep],
                (wl.size, wl.size),
            )
            self.norm_matrix = coo.coalesce().to_sparse_csr()
        self.dense: torch.Tensor | None = None  # dense copy, for use under torch.func transforms

    def sample(self, f_int: torch.Tensor) -> torch.Tensor:
        """Line spread and pixel sampling (linear): internal flux (..., n_int) -> (..., n_pix)."""
        shape = f_int.shape[:-1]
        x = f_int.reshape(-1, f_int.shape[-1])
        x = x[:, self.first : self.first + self.K * (self.n_pix - 1) + self.kernel.shape[-1]]
        f = torch.nn.functional.conv1d(x[:, None, :], self.kernel, stride=self.K)[
            :, 0, : self.n_pix
        ]
        return f.reshape(*shape, self.n_pix)

    def running_mean(self, f: torch.Tensor) -> torch.Tensor:
        """Gaussian-weighted running mean f~ of Eq. 23 on the output pixels, (..., n_pix)."""
        shape = f.shape
        flat = f.reshape(-1, shape[-1])
        if self.dense is not None:
            return (flat @ self.dense.T).reshape(shape)
        return (self.norm_matrix @ flat.T).T.reshape(shape)

    def normalize(self, f: torch.Tensor) -> torch.Tensor:
        """Eq. 22: pixel flux (..., n_pix) divided by its running mean (Eq. 23)."""
        return f / self.running_mean(f)

    def __call__(self, f_int: torch.Tensor) -> torch.Tensor:
        """Internal flux (B, n_int) -> normalized flux on the output pixels (B, n_pix)."""
        return self.normalize(self.sample(f_int))

    def with_tangent(self, f_int: torch.Tensor, d_int: torch.Tensor):
        """Normalized flux (B, n_pix) and its derivative (B, M, n_pix) given the internal flux
        (B, n_int) and its derivative (B, n_int, M): d(f/f~) = df/f~ - f d(f~)/f~^2."""
        f = self.sample(f_int)
        fm = self.running_mean(f)
        df = self.sample(d_int.transpose(1, 2))
        dfm = self.running_mean(df)
        return f / fm, df / fm[:, None] - (f / fm**2)[:, None] * dfm
