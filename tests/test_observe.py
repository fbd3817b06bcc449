"""phdl.observe: per-star S/N with a scatter in dex, Gaussian noise that matches ivar."""

from __future__ import annotations

import numpy as np
import pytest

from phdl.observe import observe


@pytest.fixture
def flux():
    return np.ones((2000, 300)) * np.linspace(0.5, 1.0, 300)


def test_shapes_and_ivar(flux):
    obs = observe(flux, 50.0, 0.1, seed=3)
    assert obs.flux.shape == obs.ivar.shape == flux.shape and obs.snr.shape == (len(flux),)
    np.testing.assert_allclose(obs.ivar, np.broadcast_to(obs.snr[:, None] ** 2, flux.shape))
    noisy, ivar, snr = obs  # unpacks as (flux, ivar, snr)
    assert noisy is obs.flux and ivar is obs.ivar and snr is obs.snr


def test_reproducible_with_a_seed(flux):
    a, b, c = observe(flux, 50.0, 0.1, 7), observe(flux, 50.0, 0.1, 7), observe(flux, 50.0, 0.1, 8)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.flux, c.flux) and not np.array_equal(a.snr, c.snr)


def test_snr_scatter_is_in_dex(flux):
    snr = observe(flux, 100.0, 0.15, seed=1).snr
    assert np.std(np.log10(snr)) == pytest.approx(0.15, rel=0.05)
    assert np.median(snr) == pytest.approx(100.0, rel=0.03)
    assert np.all(observe(flux, 100.0, 0.0, seed=1).snr == 100.0)


def test_noise_level_matches_ivar(flux):
    obs = observe(flux, 40.0, 0.2, seed=2)
    pulls = (obs.flux - flux) * np.sqrt(obs.ivar)  # noise in units of its own σ
    assert np.mean(pulls) == pytest.approx(0.0, abs=0.01)
    assert np.std(pulls) == pytest.approx(1.0, rel=0.01)
    per_star = np.std(pulls, axis=1)
    assert np.corrcoef(per_star, obs.snr)[0, 1] == pytest.approx(0.0, abs=0.1)


def test_noise_stream_does_not_depend_on_the_scatter(flux):
    """Independent streams: the scatter changes the S/N, not the noise pattern."""
    a, b = observe(flux, 50.0, 0.0, seed=5), observe(flux, 50.0, 0.3, seed=5)
    np.testing.assert_allclose((a.flux - flux) * a.snr[:, None], (b.flux - flux) * b.snr[:, None])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"snr": 0.0}, "snr"),
        ({"snr": np.nan}, "snr"),
        ({"scatter": -0.1}, "scatter"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_input(flux, kwargs, match):
    args = {"snr": 50.0, "scatter": 0.1, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        observe(flux, **args)
    with pytest.raises(ValueError, match="flux"):
        observe(flux[0], 50.0)
