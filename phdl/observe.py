"""Simulated observations of model spectra: a S/N per star, scattered around a median, and
Gaussian noise at that S/N (chapter 3's noisy test set, the fitting benchmarks).

Fluxes are normalized (Eq. 22-24), so a S/N of 100 is a noise σ of 0.01 per pixel. The star's
S/N is ``snr × 10**N(0, scatter)``: ``scatter`` is the standard deviation of log10 S/N in dex,
and ``snr`` the median over stars. Two independent random streams are spawned from
``numpy.random.SeedSequence(seed)``, the first for the S/N scatter, the second for the noise,
so the S/N draws and the noise draws never share random numbers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from phdl.fit import add_noise


class Observation(NamedTuple):
    """Noisy spectra: ``flux`` and ``ivar`` (n, n_pix) float64, ``ivar = snr²`` per star, and
    ``snr`` (n,) the S/N per pixel of each star."""

    flux: np.ndarray
    ivar: np.ndarray
    snr: np.ndarray


def observe(flux: np.ndarray, snr: float, scatter: float = 0.0, seed: int = 0) -> Observation:
    """Observe normalized model spectra ``flux`` (n, n_pix) at median S/N ``snr`` per pixel
    with a star-to-star scatter of ``scatter`` dex in log10 S/N; reproducible in ``seed``.

    Returns an :class:`Observation` ``(flux, ivar, snr)``; unpack it as
    ``flux, ivar, snr_star = observe(...)``.
    """
    f = np.asarray(flux, dtype=np.float64)
    if f.ndim != 2 or f.size == 0:
        raise ValueError(f"flux must be a non-empty (n, n_pix) array of spectra, got {f.shape}")
    if not (np.isfinite(snr) and snr > 0):
        raise ValueError(f"snr must be a finite median S/N > 0, got {snr!r}")
    if not (np.isfinite(scatter) and scatter >= 0):
        raise ValueError(f"scatter must be finite and >= 0 dex, got {scatter!r}")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    snr_stream, noise_stream = np.random.SeedSequence(int(seed)).spawn(2)
    snr_star = float(snr) * 10 ** np.random.default_rng(snr_stream).normal(0.0, scatter, len(f))
    noisy, ivar = add_noise(f, snr_star, noise_stream)
    return Observation(noisy, ivar, snr_star)
