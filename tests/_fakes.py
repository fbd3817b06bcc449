"""A cheap stand-in for phdl.synth.Synthesizer: analytic flux with exact analytic gradients."""

from __future__ import annotations

import numpy as np

from phdl.labels import LOWER, N_LABELS, UPPER, scale


class FakeSynthesizer:
    """flux = 1 - 0.3 (1 + tanh(s @ W + b)) / 2 over a few pixels, s = scaled labels.

    Counts its calls in ``calls`` (and the rows in ``rows``); raises KeyboardInterrupt on call
    number ``fail_on_call`` (1-based) to imitate an interrupted run.
    """

    def __init__(self, n_pix: int = 40, physics_hash: str = "fake-v1", fail_on_call: int = 0):
        rng = np.random.default_rng(1234)
        self.wavelength = np.geomspace(3750.0, 8996.0, n_pix)
        self.W = rng.normal(0.0, 1.0, size=(N_LABELS, n_pix))
        self.b = rng.normal(0.0, 0.5, size=n_pix)
        self.physics_hash = physics_hash
        self.fail_on_call = fail_on_call
        self.calls = 0
        self.rows: list[int] = []

    def describe(self) -> dict:
        return {
            "source": "fake",
            "resolution": 1800.0,
            "normalization": "none",
            "physics_hash": self.physics_hash,
        }

    def __call__(self, labels, with_gradients: bool = False):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt
        labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
        self.rows.append(len(labels))
        s = scale(labels, LOWER, UPPER)
        t = np.tanh(s @ self.W + self.b)
        flux = 1.0 - 0.15 * (1.0 + t)
        if not with_gradients:
            return flux
        dflux_ds = -0.15 * (1.0 - t**2)  # (n, n_pix)
        grads = dflux_ds[:, None, :] * (self.W / (UPPER - LOWER)[:, None])[None]
        return flux, grads


def fake_grid_file(tmp_path_factory, n_spec: int, n_pix: int, seed: int = 1):
    """A grid file of ``n_spec`` FakeSynthesizer spectra of ``n_pix`` pixels (with gradients)
    in a fresh temporary folder; returns its path."""
    from phdl.grid import make_grid

    path = tmp_path_factory.mktemp("grid") / "g.h5"
    return make_grid(n_spec, seed, path, synthesizer=FakeSynthesizer(n_pix=n_pix), progress=False)
