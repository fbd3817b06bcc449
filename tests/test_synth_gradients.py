"""Gradient spectra of the engine are exact: they match central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phdl import labels as L
from phdl.synth import Physics, Synthesizer, line_bins
from phdl.synth.profiles import (
    bin_average,
    bin_average_partials,
    bin_average_wing,
    bin_average_wing_partials,
)

# finite-difference steps: K for Teff, dex for logg, km/s for vmic, dex for abundances
STEPS = np.array([0.05, 1e-4, 1e-4] + [1e-4] * 31)


def _star(teff, logg, vmic, feh):
    x = L.solar(teff, logg, vmic, feh)
    x[4:] = 0.05  # off the solar-scaled point, so nothing is special
    return x


@pytest.mark.parametrize(
    "star", [_star(5772.0, 4.44, 1.0, 0.0), _star(4500.0, 2.0, 1.5, -0.5)], ids=["dwarf", "giant"]
)
def test_gradients_match_finite_differences(syn, star):
    _, grads = syn(star[None], with_gradients=True)
    g = grads[0]
    plus = syn(star + np.diag(STEPS), batch_size=34)
    minus = syn(star - np.diag(STEPS), batch_size=34)
    fd = (plus - minus) / (2.0 * STEPS[:, None])
    for m, name in enumerate(L.LABELS):
        big = np.abs(g[m]) > 1e-3 * np.abs(g[m]).max()
        assert big.any(), f"{name}: gradient spectrum is zero everywhere"
        rel = np.abs(g[m][big] - fd[m][big]) / np.abs(g[m][big])
        assert rel.max() < 1e-4, f"{name}: max relative difference {rel.max():.2e}"


def test_chain_rule_equals_plain_forward_mode():
    """The fast Jacobian (forward mode + one reverse pass) equals forward mode everywhere."""
    syn = Synthesizer(Physics(wl_start=5100.0, n_pix=300), compile=False)
    x = torch.as_tensor(np.array([_star(5000.0, 3.0, 1.2, -0.3), _star(6200.0, 4.3, 1.0, 0.2)]))
    f1, j1 = syn.forward_with_jacobian(x)
    f2, j2 = syn.forward_with_jacobian_reference(x)
    assert torch.allclose(f1, f2, rtol=1e-12, atol=0)
    scale = j2.abs().amax(-1, keepdim=True)
    assert ((j1 - j2).abs() / scale).max() < 1e-9


def test_profile_partials_match_autograd():
    torch.manual_seed(0)
    x_lo = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]
    x_hi = x_lo + 0.1
    f = torch.tensor([[0.05, 0.3, 2.0]], dtype=torch.float64, requires_grad=True)
    eta = torch.tensor([[0.1, 0.5, 0.9]], dtype=torch.float64, requires_grad=True)
    phi, p_f, p_e = bin_average_partials(x_lo, x_hi, 0.1, f, eta)
    ref = bin_average(x_lo, x_hi, 0.1, f, eta)
    assert torch.allclose(phi, ref, rtol=1e-13, atol=1e-15)
    gf, ge = torch.autograd.grad(ref.sum(), (f, eta))
    assert torch.allclose(p_f.sum(0), gf[0], rtol=1e-10)
    assert torch.allclose(p_e.sum(0), ge[0], rtol=1e-10)


def test_wing_profiles_equal_the_general_ones_bit_for_bit():
    """On bins to one side of the centre (the engine's wing bins) the one-branch profiles give
    the very floats of bin_average and bin_average_partials, left and right of the centre."""
    torch.manual_seed(1)
    d = torch.rand(7, 40, dtype=torch.float64).mul(60.0).add(1e-3).sort(-1).values
    near, far = d[:, :-1], d[:, 1:]
    width = far - near
    width[0, :5] = torch.inf  # off-grid bins
    f = torch.rand(3, 7, 1, 5, dtype=torch.float64).mul(4.0).pow(3).add(1e-3)
    eta = torch.rand(3, 7, 1, 5, dtype=torch.float64)
    geo = [g[None, :, :, None] for g in (near, far, width)]
    wing = bin_average_wing_partials(*geo, f, eta)
    assert torch.equal(bin_average_wing(*geo, f, eta), wing[0])
    for x_lo, x_hi in ((near, far), (-far, -near)):  # right of the centre, then left
        general = bin_average_partials(x_lo[None, :, :, None], x_hi[None, :, :, None], geo[2],
                                       f, eta)  # fmt: skip
        for w, g in zip(wing, general, strict=True):
            assert torch.equal(w, g)


def test_line_blocks_change_nothing(monkeypatch):
    """The line groups work in blocks of lines; spectra and gradients do not depend on the
    block sizes, to the last bit (one line per block against the defaults)."""
    syn = Synthesizer(Physics(wl_start=5100.0, n_pix=300), compile=False)
    x = torch.as_tensor(np.array([_star(4200.0, 1.5, 1.5, 0.3), _star(6200.0, 4.3, 1.0, -1.0)]))
    f1, j1 = syn.forward_with_jacobian(x)
    monkeypatch.setattr(line_bins, "_BLOCK", 1)
    monkeypatch.setattr(line_bins, "_CHUNK", 1)
    f2, j2 = syn.forward_with_jacobian(x)
    assert torch.equal(f1, f2) and torch.equal(j1, j2)


def test_binned_profile_conserves_area():
    """A line's binned opacity integrates to 1 whatever its width (equivalent width kept)."""
    edges = torch.linspace(-20, 20, 801, dtype=torch.float64)
    width = edges[1] - edges[0]
    for f, eta in [(0.01, 0.0), (0.01, 0.3), (0.5, 0.9)]:
        ft = torch.tensor(f, dtype=torch.float64)
        et = torch.tensor(eta, dtype=torch.float64)
        area = (bin_average(edges[:-1], edges[1:], width, ft, et) * width).sum()
        lorentz_tail = eta * 2 * np.arctan(f / 40) / np.pi  # beyond +-20
        assert abs(area.item() - (1 - lorentz_tail)) < 1e-9


def test_gradients_match_finite_differences_on_a_finer_internal_grid():
    """Above oversample 4 the line windows scale with K (phdl.synth.line_bins); the gradient
    spectra stay exact there too (a giant, whose saturated lines have the widest windows)."""
    syn8 = Synthesizer(Physics(wl_start=5150.0, n_pix=240, oversample=8), compile=False)
    star = _star(4500.0, 2.0, 1.5, -0.5)
    _, grads = syn8(star[None], with_gradients=True)
    names = ("Teff", "logg", "vmic", "[Fe/H]", "[Mg/Fe]", "[Cr/Fe]", "[Ni/Fe]")
    for name in names:
        m = L.LABELS.index(name)
        step = np.zeros(L.N_LABELS)
        step[m] = STEPS[m]
        fd = (syn8((star + step)[None])[0] - syn8((star - step)[None])[0]) / (2.0 * STEPS[m])
        g = grads[0, m]
        big = np.abs(g) > 1e-3 * np.abs(g).max()
        assert big.any(), f"{name}: gradient spectrum is zero everywhere"
        rel = np.abs(g[big] - fd[big]) / np.abs(g[big])
        assert rel.max() < 1e-4, f"{name}: max relative difference {rel.max():.2e}"
