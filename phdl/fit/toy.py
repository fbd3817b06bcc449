"""An analytic toy :class:`~phdl.emulator.SpectralModel`, in place of a trained emulator.

Used by the tests and by ``benchmarks/bench_fit.py`` when no trained checkpoint is given: it
is cheap, smooth in all 34 labels, has exact Jacobians, and its truth is known.
"""

from __future__ import annotations

import numpy as np

from phdl.labels import GROUP_I, GROUP_II, LABELS, LOWER, N_LABELS, UPPER, scale, validate


def default_strength() -> np.ndarray:
    """Per-label sensitivity of the toy (34,): 1 for Teff, logg, [Fe/H]; 0.5 for the other
    Group I labels; 0.25 for Group II; 0.1 for the six unfitted labels (weak, as in spectra)."""
    out = np.full(N_LABELS, 0.1)
    for j, name in enumerate(LABELS):
        if name in ("Teff", "logg", "[Fe/H]"):
            out[j] = 1.0
        elif name in GROUP_I:
            out[j] = 0.5
        elif name in GROUP_II:
            out[j] = 0.25
    return out


class ToyModel:
    """flux = 1 - depth (1 + tanh(s W + b)) / 2, s = scaled labels (Eq. 25), per pixel.

    ``linear=True`` gives flux = 1 + 0.1 (s - 0.5) W instead (a linear model: its χ² is exactly
    quadratic, so the covariance of Eq. 17 is exact). ``W`` (34, n_pix) is Gaussian times the
    per-label ``strength`` (default :func:`default_strength`); ``b`` Gaussian. A
    :class:`~phdl.emulator.SpectralModel` whose training range is Table 1
    (:data:`phdl.labels.RANGES`); it counts its ``calls`` and the ``rows`` (spectra) of each
    ``predict`` call.
    """

    def __init__(
        self,
        n_pix: int = 200,
        seed: int = 0,
        *,
        linear: bool = False,
        depth: float = 0.3,
        strength: np.ndarray | None = None,
    ):
        rng = np.random.default_rng(seed)
        self.wavelength = np.geomspace(3750.0, 8996.0, n_pix)
        self.label_names = LABELS
        self.label_min = LOWER.copy()
        self.label_max = UPPER.copy()
        strength = default_strength() if strength is None else np.asarray(strength, float)
        self.W = rng.normal(0.0, 1.0, size=(N_LABELS, n_pix)) * strength[:, None]
        self.b = rng.normal(0.0, 0.5, size=n_pix)
        self.linear = linear
        self.depth = depth
        self.calls = 0
        self.rows: list[int] = []

    def _scaled(self, labels: np.ndarray) -> np.ndarray:
        x = validate(labels, check_range=False)
        return scale(x, self.label_min, self.label_max)

    def _check(self, wavelength: np.ndarray | None) -> None:
        if wavelength is not None and not np.array_equal(wavelength, self.wavelength):
            raise ValueError("ToyModel only evaluates its own wavelength grid")

    def predict(self, labels: np.ndarray, wavelength: np.ndarray | None = None) -> np.ndarray:
        """Flux (n, n_pix) float64 for physical labels (n, 34)."""
        self._check(wavelength)
        s = self._scaled(labels)
        self.calls += 1
        self.rows.append(len(s))
        if self.linear:
            return 1.0 + 0.1 * self._dot(s - 0.5)
        return 1.0 - 0.5 * self.depth * (1.0 + np.tanh(self._dot(s) + self.b))

    def _dot(self, s: np.ndarray) -> np.ndarray:
        """s @ W row by row in a fixed order (einsum, not BLAS, whose kernels differ between
        one row and many): a star's flux does not depend on the other rows of the call."""
        return np.einsum("nk,kp->np", s, self.W)

    def jacobian(self, labels: np.ndarray, wavelength: np.ndarray | None = None) -> np.ndarray:
        """∂flux/∂label (n, 34, n_pix) in physical units (per K, per dex, per km/s)."""
        self._check(wavelength)
        s = self._scaled(labels)
        span = (self.label_max - self.label_min)[:, None]
        if self.linear:
            return np.broadcast_to(0.1 * self.W / span, (len(s), *self.W.shape)).copy()
        t = np.tanh(self._dot(s) + self.b)
        d = -0.5 * self.depth * (1.0 - t**2)
        return d[:, None, :] * (self.W / span)[None]
