"""The engine's wavelength grids: the output (LAMOST) pixels and the oversampled internal bins.

Output: ``n_pix`` pixels uniform in log10(lambda) with step ``log_step`` from ``wl_start``
(LAMOST: 1e-4 from 3750 Å, 3800 pixels to ~8996 Å), vacuum. Internal: ``oversample`` bins per
output pixel on the same log grid, extended by a margin of ``margin`` output pixels on both
sides for the line spread function and the line wings at the ends. Continuum opacity is smooth
in wavelength: it is computed on ~25 Å nodes (split exactly at the Paschen edge, 8205.9 Å) and
interpolated linearly onto the bins.
"""

from __future__ import annotations

import numpy as np

PASCHEN_EDGE = 911.7535 * 9  # Å, vacuum
NODE_STEP = 25.0  # Å


class WaveGrid:
    """Output pixels and internal bins (all wavelengths in Å, vacuum)."""

    def __init__(self, physics, margin: int):
        K = physics.oversample
        self.K = K
        self.margin = margin
        self.delta = physics.log_step / K
        self.n_pix = physics.n_pix
        self.pixels = physics.wl_start * 10.0 ** (physics.log_step * np.arange(physics.n_pix))
        self.n = K * (physics.n_pix + 2 * margin)
        k = np.arange(self.n) - K * margin
        logw = np.log10(physics.wl_start) + k * self.delta
        self.wl = 10.0**logw
        self.edges = 10.0 ** (
            np.log10(physics.wl_start) + (np.arange(self.n + 1) - K * margin - 0.5) * self.delta
        )
        lo, hi = self.edges[0] - 1.0, self.edges[-1] + 1.0
        segs = [(lo, min(hi, PASCHEN_EDGE - 1e-6))]
        if hi > PASCHEN_EDGE:
            segs.append((PASCHEN_EDGE + 1e-6, hi))
        self.nodes = np.concatenate(
            [
                np.linspace(a, b, max(2, int(np.ceil((b - a) / NODE_STEP)) + 1))
                for a, b in segs
                if b > a
            ]
        )
        self.bin_i0, self.bin_w = self.node_weights(self.wl)

    def node_weights(self, wl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Left node index and linear weight of the right node for wavelengths ``wl``."""
        i0 = np.clip(np.searchsorted(self.nodes, wl) - 1, 0, self.nodes.size - 2)
        w = (wl - self.nodes[i0]) / (self.nodes[i0 + 1] - self.nodes[i0])
        return i0, np.clip(w, 0.0, 1.0)

    def nearest(self, wl: np.ndarray) -> np.ndarray:
        """Index of the internal bin containing each wavelength (clipped to the grid)."""
        k = np.searchsorted(self.edges, wl) - 1
        return np.clip(k, 0, self.n - 1)

    def bin_width_at(self, wl: np.ndarray) -> np.ndarray:
        """Width [Å] of the internal bins at wavelengths ``wl``."""
        return wl * (10.0 ** (self.delta / 2) - 10.0 ** (-self.delta / 2))
