"""The escape-weighted opacity of line cores: the narrow-line form and its closed-form
derivatives equal the general form and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from phdl import labels as lab
from phdl.synth import Physics, Synthesizer
from phdl.synth.profiles import (
    core_opacity,
    core_opacity_grads,
    core_opacity_narrow,
    core_opacity_narrow_grads,
    core_points,
    depth_integral,
    depth_integral_adjoint,
)

B, L, C, D = 2, 5, 3, 12
DLNT = 0.35


def _lines(seed: int = 0):
    """Random narrow-window lines, weak to saturated; the last core bin of line 0 off-grid."""
    g = torch.Generator().manual_seed(seed)
    rand = lambda *s: torch.rand(*s, generator=g, dtype=torch.float64)  # noqa: E731
    S = 10.0 ** (rand(B, L, D) * 6.0 - 3.0) * torch.linspace(0.2, 2.0, D, dtype=torch.float64)
    f = 0.05 + 0.4 * rand(B, L)
    eta = rand(B, L)
    centre = 0.3 * (rand(L) - 0.5)  # the centre's place in its bin [Å]
    edges = torch.tensor([-0.45, -0.15, 0.15, 0.45], dtype=torch.float64)
    x_lo, x_hi = edges[None, :-1] - centre[:, None], edges[None, 1:] - centre[:, None]
    valid = torch.ones(L, C, dtype=torch.bool)
    valid[0, -1] = False
    rt = 10.0 ** (rand(B, D) * 2.0 - 1.0)
    h = rand(B, L, C, D) - 0.5
    return S, f, eta, x_lo, x_hi, valid, rt, h


def test_narrow_core_equals_the_general_form():
    S, f, eta, x_lo, x_hi, valid, rt, _ = _lines()
    narrow = core_opacity_narrow(S, f, eta, core_points(x_lo, x_hi), valid, rt, DLNT)
    general = core_opacity(S[:, :, None, :], f[:, :, None, None], eta[:, :, None, None], x_lo,
                           x_hi, valid, rt[:, None, None, :], DLNT)  # fmt: skip
    assert narrow.shape == (B, L, C, D)
    assert torch.allclose(narrow, general, rtol=1e-12, atol=0)
    assert (narrow[:, 0, -1] == 0).all() and (narrow[:, 1:] > 0).all()


@pytest.mark.parametrize("n_depth, dim", [(D, -1), (2, -1), (D, -2), (3, 0)])
def test_depth_integral_adjoint_is_the_transpose(n_depth, dim):
    g = torch.Generator().manual_seed(3)
    shape = [4, 3]
    shape.insert(dim % 3, n_depth)
    r = torch.rand(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.rand(*shape, generator=g, dtype=torch.float64)
    (grad,) = torch.autograd.grad((depth_integral(r, DLNT, dim=dim) * w).sum(), r)
    adj = depth_integral_adjoint(w, DLNT, dim=dim)
    assert torch.allclose(adj, grad, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("seed", [0, 1])
def test_narrow_core_grads_equal_autograd(seed):
    """Per core bin (each has its own weight h), against autograd of the general form with
    leaves expanded per bin, as the engine's reverse pass had them."""
    S, f, eta, x_lo, x_hi, valid, rt, h = _lines(seed)
    leaves = [v.expand(B, L, C, v.shape[-1]).clone().requires_grad_(True)
              for v in (S[:, :, None, :], f[:, :, None, None], eta[:, :, None, None])]  # fmt: skip
    rtl = rt[:, None, None, :].expand(B, L, C, D).clone().requires_grad_(True)
    core = core_opacity(*leaves, x_lo, x_hi, valid, rtl, DLNT)
    ref = torch.autograd.grad((h * core).sum(), (*leaves, rtl))
    got = core_opacity_narrow_grads(h, S, f, eta, core_points(x_lo, x_hi), valid, rt, DLNT)
    names = ("S", "f", "eta", "rt")
    for name, g, r in zip(names, got, ref, strict=True):
        r = r[..., 0] if name in ("f", "eta") else r
        assert g.shape == r.shape, name
        scale = r.abs().amax()
        assert ((g - r).abs() / scale).max() < 1e-11, name


@pytest.mark.parametrize("seed", [0, 1])
def test_per_depth_core_grads_equal_autograd(seed):
    """The same for lines with a profile per depth (f and eta vary with depth)."""
    S, f, eta, x_lo, x_hi, valid, rt, h = _lines(seed)
    g = torch.Generator().manual_seed(seed + 10)
    f = f[..., None] * (0.5 + torch.rand(B, L, D, generator=g, dtype=torch.float64))
    eta = eta[..., None] * torch.rand(B, L, D, generator=g, dtype=torch.float64)
    leaves = [v[:, :, None, :].expand(B, L, C, D).clone().requires_grad_(True)
              for v in (S, f, eta)]  # fmt: skip
    rtl = rt[:, None, None, :].expand(B, L, C, D).clone().requires_grad_(True)
    core = core_opacity(*leaves, x_lo, x_hi, valid, rtl, DLNT)
    ref = torch.autograd.grad((h * core).sum(), (*leaves, rtl))
    got = core_opacity_grads(h, S, f, eta, core_points(x_lo, x_hi), valid, rt, DLNT)
    for name, gv, r in zip(("S", "f", "eta", "rt"), got, ref, strict=True):
        assert gv.shape == r.shape, name
        assert ((gv - r).abs() / r.abs().amax()).max() < 1e-11, name


def test_line_partials_equal_forward_mode():
    """The analytic partials of (A, f, eta) with respect to the five local inputs equal forward
    mode through LineOpacity.line_fn, for a real line list (atoms, Balmer, molecules) at the
    depths of two stars."""
    syn = Synthesizer(Physics(wl_start=4300.0, n_pix=400), compile=False)
    stars = [lab.solar(5000.0, 2.5, 1.4, -0.4), lab.solar(6300.0, 4.3, 1.0, 0.2)]
    x = torch.as_tensor(np.array(stars))
    (T, _, n_e, n_hi, vmic, _, nsp), _ = syn._stage_a_with_tangents(x)
    lo = syn.lineop
    assert lo.is_balmer.any() and lo.is_mol.any()  # the Stark term and molecules are checked
    inputs = lo.local(T, n_e, n_hi, vmic, nsp)
    outs, parts = lo.partials(inputs)
    ref_outs = lo.line_fn(*inputs)
    for k in range(len(inputs)):
        tang = tuple(torch.ones_like(v) if i == k else torch.zeros_like(v)
                     for i, v in enumerate(inputs))  # fmt: skip
        _, ref = torch.func.jvp(lo.line_fn, inputs, tang)
        for name, p, r in zip(("A", "f", "eta"), parts, ref, strict=True):
            r = r.expand_as(p[k])
            scale = r.abs().amax(-1, keepdim=True).clamp_min(1e-300)
            assert ((p[k] - r).abs() / scale).max() < 1e-12, (name, k)
    for o, r in zip(outs, ref_outs, strict=True):
        assert torch.equal(o, r)
