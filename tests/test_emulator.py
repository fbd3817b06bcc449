"""phdl.emulator: shapes, wavelength subsets, Jacobians (vs finite differences), loading."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from phdl.emulator import (
    Emulator,
    MLPConfig,
    TransformerConfig,
    build_network,
    encode_wavelength,
    flux_and_jacobian,
    load,
    split_segments,
)
from phdl.grid import sample_labels
from phdl.labels import LOWER, N_LABELS, UPPER

TINY = TransformerConfig(d_model=16, n_blocks=2, n_heads=2, n_tokens=4, ffn_dim=24, head_dim=24)
N_PIX = 90
WL = 10 ** (np.log10(5100.0) + 1e-4 * np.arange(N_PIX))  # the LAMOST-like 1e-4 dex step


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _emulator(config, n_segments: int = 1, seed: int = 0) -> Emulator:
    """An untrained emulator (random weights) over WL; enough for structural tests."""
    segments = split_segments(N_PIX, n_segments)
    torch.manual_seed(seed)
    nets = nn.ModuleList(build_network(config, b - a) for a, b in segments)
    return Emulator(config, nets, WL, segments, tuple(f"l{i}" for i in range(34)), LOWER, UPPER)


@pytest.fixture(scope="module")
def labels():
    return sample_labels(5, 3)


@pytest.fixture(scope="module", params=["transformer", "transformer-3seg", "mlp", "mlp-2seg"])
def emu(request):
    kind = request.param
    config = TINY if kind.startswith("transformer") else MLPConfig(hidden=20)
    n_seg = {"transformer-3seg": 3, "mlp-2seg": 2}.get(kind, 1)
    return _emulator(config, n_seg)


def test_shapes(emu, labels):
    assert emu.predict(labels).shape == (5, N_PIX)
    assert emu.predict(labels[0]).shape == (1, N_PIX)  # one star (34,)
    jac = emu.jacobian(labels)
    assert jac.shape == (5, N_LABELS, N_PIX) and jac.dtype == np.float32
    assert np.all(np.isfinite(jac)) and np.abs(jac).max() > 0


def test_wavelength_subset_equals_subset_of_full(emu, labels):
    full, jac = emu.predict(labels), emu.jacobian(labels)
    idx = np.array([70, 3, 44, 45, 89, 0, 31])  # unsorted, across segments
    sub = emu.predict(labels, wavelength=WL[idx])
    np.testing.assert_allclose(sub, full[:, idx], rtol=0, atol=2e-6)
    np.testing.assert_allclose(emu.jacobian(labels, wavelength=WL[idx]), jac[:, :, idx], atol=1e-7)
    # batching does not change the answer
    np.testing.assert_allclose(emu.predict(labels, batch_size=2), full, rtol=0, atol=2e-6)


def test_transformer_between_pixels_and_outside_range(labels):
    emu = _emulator(TINY, 3)
    mid = np.sqrt(WL[:-1] * WL[1:])[::7]  # wavelengths between pixels: fine for the Transformer
    assert emu.predict(labels, wavelength=mid).shape == (5, len(mid))
    with pytest.raises(ValueError, match="outside the trained range"):
        emu.predict(labels, wavelength=[WL[0] - 5.0])
    mlp = _emulator(MLPConfig(hidden=8))
    with pytest.raises(ValueError, match="only evaluates the 90 pixels"):
        mlp.predict(labels, wavelength=mid)


@pytest.mark.parametrize("config", [TINY, MLPConfig(hidden=20)], ids=["transformer", "mlp"])
def test_jacobian_matches_central_differences(config, labels):
    """∂f/∂p in physical units, float64 copy: forward mode equals (f(p+h)-f(p-h)) / 2h."""
    emu = _emulator(config, 2).double()
    x = labels[:2]
    jac = emu.jacobian(x)
    assert jac.dtype == np.float64
    for m in (0, 1, 3, 19, 28, 33):  # Teff (K), logg, [Fe/H], [Co/Fe], [La/Fe], [Eu/Fe]
        h = 1e-5 * (UPPER[m] - LOWER[m])
        up, dn = x.copy(), x.copy()
        up[:, m] += h
        dn[:, m] -= h
        fd = (emu.predict(up) - emu.predict(dn)) / (2 * h)
        scale = np.abs(fd).max()
        assert scale > 0
        np.testing.assert_allclose(jac[:, m], fd, rtol=0, atol=1e-6 * scale)


@pytest.mark.parametrize("config", [TINY, MLPConfig(hidden=20)], ids=["transformer", "mlp"])
def test_predict_and_jacobian_for_some_labels(config, labels):
    """One pass gives predict's flux and the chosen columns of jacobian, in their order."""
    emu = _emulator(config, 2).double()
    which = [28, 0, 3]
    flux, jac = emu.predict_and_jacobian(labels, which)
    np.testing.assert_allclose(flux, emu.predict(labels), rtol=0, atol=1e-12)
    np.testing.assert_allclose(jac, emu.jacobian(labels)[:, which], rtol=0, atol=1e-12)
    assert jac.shape == (len(labels), 3, N_PIX)


@pytest.mark.parametrize("config", [TINY, MLPConfig(hidden=12)], ids=["transformer", "mlp"])
def test_manual_forward_mode_matches_torch_func(config):
    torch.manual_seed(1)
    net = build_network(config, 30).double()
    q = net.query(torch.as_tensor(WL[:30])) if hasattr(net, "query") else None
    x = torch.as_tensor(sample_labels(3, 5))
    lo, hi = torch.as_tensor(LOWER), torch.as_tensor(UPPER)
    which = torch.tensor([0, 2, 3, 30])
    f1, j1 = flux_and_jacobian(net, x, q, lo, hi, which, "manual")
    f2, j2 = flux_and_jacobian(net, x, q, lo, hi, which, "torch.func")
    torch.testing.assert_close(f1, f2, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(j1, j2, rtol=1e-9, atol=1e-15)
    with pytest.raises(ValueError, match="unknown jvp method"):
        flux_and_jacobian(net, x, q, lo, hi, which, "reverse")


def test_weight_gradient_of_jacobian_loss_matches_finite_differences():
    """The gradient loss backpropagates through the hand-written tangents correctly."""
    torch.manual_seed(2)
    net = build_network(TINY, 20).double()
    q = net.query(torch.as_tensor(WL[:20]))
    x = torch.as_tensor(sample_labels(2, 7))
    lo, hi = torch.as_tensor(LOWER), torch.as_tensor(UPPER)
    which = torch.tensor([0, 3, 12])

    def loss() -> torch.Tensor:
        f, j = flux_and_jacobian(net, x, q, lo, hi, which)
        return (j * (hi - lo)[which][:, None]).pow(2).sum() + f.sum()

    loss().backward()
    for name in ("embed.weight", "blocks.0.norm1.weight", "blocks.1.v.weight", "head1.bias"):
        p = dict(net.named_parameters())[name]
        flat, grad = p.data.view(-1), p.grad.view(-1)
        i = int(grad.abs().argmax())
        old, h = flat[i].item(), 1e-6
        with torch.no_grad():
            flat[i] = old + h
            up = loss().item()
            flat[i] = old - h
            dn = loss().item()
            flat[i] = old
        assert grad[i].item() == pytest.approx((up - dn) / (2 * h), rel=1e-5), name


def test_wavelength_encoding_resolves_pixels():
    enc = encode_wavelength(torch.as_tensor(WL), 32, 1e-6, 10.0).numpy()
    assert enc.shape == (N_PIX, 32) and np.all(np.abs(enc) <= 1.0)
    steps = np.linalg.norm(np.diff(enc, axis=0), axis=1)
    assert steps.min() > 0.5  # neighbouring 1e-4 dex pixels are far apart in the encoding
    # float64 phase: the same wavelength gives the same code, a 1e-3 Å shift a different one
    again = encode_wavelength(torch.as_tensor(WL + 1e-3), 32, 1e-6, 10.0).numpy()
    assert np.abs(again - enc).max() > 1e-3


def test_config_validation():
    with pytest.raises(ValueError, match="divisible by n_heads"):
        TransformerConfig(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="n_blocks"):
        TransformerConfig(n_blocks=0)
    with pytest.raises(ValueError, match="hidden"):
        MLPConfig(hidden=-1)
    with pytest.raises(ValueError, match="segments"):
        split_segments(10, 11)
    assert split_segments(10, 3) == [(0, 4), (4, 7), (7, 10)]


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load(bad)
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a phdl model checkpoint"):
        load(tmp_path / "other.pt")
