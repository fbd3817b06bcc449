"""The loss of Eq. 8–10 on a case small enough to work out by hand.

Two spectra, three pixels, two labels with gradient signal (``A`` and ``B`` below; the other 32
have zero model and zero true gradients, so they add nothing). The network is linear in the
scaled labels, flux = c + s A (s = (p - p_min) / (p_max - p_min), Eq. 25), so its derivatives
with respect to the physical labels are exact: A / (p_max - p_min).

Eq. 8: L = L_spec + L_grad. Eq. 9: L_spec = mean |f - f̂| over spectra and pixels.
Eq. 10: L_grad = mean over spectra and pixels of Σ_m w_m |∂f/∂θ_m - ∂f̂/∂θ_m|, both L1,
w_m = 1/σ_m with σ_m² = mean over spectra of the variance over wavelength of the true gradient
spectrum (the choice documented in :func:`phdl.train.gradient_sigma`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from phdl.labels import N_LABELS
from phdl.train import PRESETS, TrainConfig, batch_loss, evaluate, gradient_sigma, gradient_weights
from phdl.train.data import TrainData

A, B = 0, 5  # the two labels with gradient signal (Teff and [N/Fe]; any two would do)
SPAN = 2.0  # p_max - p_min of every label (p_min 0)
F64 = torch.float64


class LinearNet(nn.Module):
    """flux = c + s @ W over the queried pixels (``query``: pixel indices or None for all)."""

    def __init__(self, w: torch.Tensor, c: torch.Tensor):
        super().__init__()
        self.w, self.c = w, c

    def forward(self, s: torch.Tensor, query: torch.Tensor | None) -> torch.Tensor:
        w = self.w if query is None else self.w[:, query]
        c = self.c if query is None else self.c[query]
        return c + s @ w

    def forward_jvp(self, s, query, ds):
        w = self.w if query is None else self.w[:, query]
        return self.forward(s, query), ds @ w


def _case(weights: np.ndarray) -> tuple[LinearNet, TrainData]:
    w = torch.zeros(N_LABELS, 3, dtype=F64)
    w[A] = torch.tensor([2.0, 0.0, -2.0])  # ∂f̂/∂p_A = w[A] / SPAN = [1, 0, -1]
    w[B] = torch.tensor([4.0, 2.0, 0.0])  # ∂f̂/∂p_B = [2, 1, 0]
    net = LinearNet(w, torch.ones(3, dtype=F64))
    labels = torch.zeros(2, N_LABELS, dtype=F64)
    labels[0, A] = 1.0  # s_A = 0.5: f̂_0 = 1 + 0.5 [2, 0, -2] = [2, 1, 0]
    labels[1, B] = 1.0  # s_B = 0.5: f̂_1 = 1 + 0.5 [4, 2, 0] = [3, 2, 1]
    flux = torch.tensor([[2.5, 1.0, -1.0], [3.0, 1.5, 1.25]], dtype=F64)
    grads = torch.zeros(2, N_LABELS, 3, dtype=F64)
    grads[0, A] = torch.tensor([1.0, 0.5, -2.0])
    grads[0, B] = torch.tensor([2.0, 3.0, 0.0])
    grads[1, A] = torch.tensor([0.0, 0.0, 0.0])
    grads[1, B] = torch.tensor([2.5, 1.0, -0.5])
    data = TrainData(
        labels=labels,
        flux=flux,
        gradients=grads,
        train=torch.arange(2),
        val=torch.arange(2),
        lo=torch.zeros(N_LABELS, dtype=F64),
        hi=torch.full((N_LABELS,), SPAN, dtype=F64),
        weights=torch.as_tensor(weights, dtype=F64),
    )
    return net, data


def _weights(w_a: float, w_b: float) -> np.ndarray:
    w = np.zeros(N_LABELS)
    w[A], w[B] = w_a, w_b
    return w


# |f - f̂|: spectrum 0 [0.5, 0, 1], spectrum 1 [0, 0.5, 0.25]
L_SPEC = (0.5 + 0.0 + 1.0 + 0.0 + 0.5 + 0.25) / 6
# |∂f/∂θ - ∂f̂/∂θ| per (spectrum, label):
#   0, A: |[1, .5, -2] - [1, 0, -1]| = [0, .5, 1]    0, B: |[2, 3, 0] - [2, 1, 0]| = [0, 2, 0]
#   1, A: |[0, 0, 0] - [1, 0, -1]|   = [1, 0, 1]     1, B: |[2.5, 1, -.5] - [2, 1, 0]| = [.5, 0, .5]
# with w_A = 2, w_B = 0.5: spectrum 0: 2 (1.5) + 0.5 (2) = 4; spectrum 1: 2 (2) + 0.5 (1) = 4.5
L_GRAD = (4.0 + 4.5) / 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_loss_by_hand_eq8_to_10():
    net, data = _case(_weights(2.0, 0.5))
    rows, pix = torch.arange(2), torch.arange(3)
    loss, spec, grad = batch_loss(net, data, rows, pix, pix, torch.arange(N_LABELS))
    assert spec.item() == pytest.approx(L_SPEC, rel=1e-12)
    assert grad.item() == pytest.approx(L_GRAD, rel=1e-12)
    assert loss.item() == pytest.approx(L_SPEC + L_GRAD, rel=1e-12)
    # the same numbers through evaluate (the test-loss path), in blocks of one spectrum
    assert evaluate(net, data, rows, pix, pix, with_grad=True, batch_size=1) == pytest.approx(
        (L_SPEC, L_GRAD), rel=1e-12
    )


def test_loss_on_a_pixel_subset_and_plain():
    net, data = _case(_weights(2.0, 0.5))
    rows, pix = torch.arange(2), torch.tensor([0, 2])  # pixels 0 and 2 only
    _, spec, grad = batch_loss(net, data, rows, pix, pix, torch.arange(N_LABELS))
    assert spec.item() == pytest.approx((0.5 + 1.0 + 0.0 + 0.25) / 4, rel=1e-12)
    # spectrum 0: 2 (0 + 1) + 0.5 (0 + 0) = 2; spectrum 1: 2 (1 + 1) + 0.5 (.5 + .5) = 4.5
    assert grad.item() == pytest.approx((2.0 + 4.5) / 4, rel=1e-12)
    loss, spec, grad = batch_loss(net, data, rows, pix, pix, None)  # plain Transformer
    assert grad is None and loss.item() == spec.item() == pytest.approx(1.75 / 4, rel=1e-12)


def test_label_subset_is_scaled_by_34_over_k():
    """A step matching k of the 34 labels estimates Σ_m by (34 / k) Σ_{m in S} (loss.py)."""
    net, data = _case(_weights(2.0, 0.5))
    rows, pix = torch.arange(2), torch.arange(3)
    _, _, grad = batch_loss(net, data, rows, pix, pix, torch.tensor([A, B]))
    assert grad.item() == pytest.approx(N_LABELS / 2 * L_GRAD, rel=1e-12)
    _, _, grad = batch_loss(net, data, rows, pix, pix, torch.tensor([A]))
    assert grad.item() == pytest.approx(N_LABELS * (2.0 * (1.5 + 2.0)) / 6, rel=1e-12)


def test_gradient_weights_are_one_over_sigma_by_hand():
    _, data = _case(_weights(1.0, 1.0))
    g = data.gradients.numpy()
    # Var_λ of [1, .5, -2] = 31/18, of [0, 0, 0] = 0  ->  σ_A² = 31/36
    # Var_λ of [2, 3, 0] = 14/9, of [2.5, 1, -.5] = 3/2  ->  σ_B² = 55/36
    sigma = gradient_sigma(g, np.arange(2))
    assert sigma[A] == pytest.approx(math.sqrt(31) / 6, rel=1e-12)
    assert sigma[B] == pytest.approx(math.sqrt(55) / 6, rel=1e-12)
    assert np.all(np.delete(sigma, [A, B]) == 0.0)
    w = gradient_weights(sigma)
    assert w[A] == pytest.approx(6 / math.sqrt(31), rel=1e-12)
    assert w[B] == pytest.approx(6 / math.sqrt(55), rel=1e-12)
    assert np.all(np.delete(w, [A, B]) == 0.0)  # no signal: no weight (not inf)
    # and through the loss: spectrum 0: w_A 1.5 + w_B 2; spectrum 1: w_A 2 + w_B 1
    net, data = _case(w)
    rows, pix = torch.arange(2), torch.arange(3)
    _, _, grad = batch_loss(net, data, rows, pix, pix, torch.arange(N_LABELS))
    assert grad.item() == pytest.approx((w[A] * 3.5 + w[B] * 3.0) / 6, rel=1e-12)


def test_l2_option_by_hand_and_every_preset_uses_l1():
    """``norm="l2"`` is Σ_m w_m² (∂f/∂θ_m - ∂f̂/∂θ_m)² (an option); Eq. 10 is L1, and so is the
    loss of every preset."""
    net, data = _case(_weights(2.0, 0.5))
    rows, pix = torch.arange(2), torch.arange(3)
    _, _, grad = batch_loss(net, data, rows, pix, pix, torch.arange(N_LABELS), norm="l2")
    # spectrum 0: 4 (.25 + 1) + .25 (4) = 6; spectrum 1: 4 (1 + 1) + .25 (.25 + .25) = 8.125
    assert grad.item() == pytest.approx((6.0 + 8.125) / 6, rel=1e-12)
    for profile, configs in PRESETS.items():
        for kind, cfg in configs.items():
            assert cfg.grad_norm == "l1", (profile, kind)
    assert TrainConfig().grad_norm == "l1"


# The tests below were added to kill mutants that survived `python benchmarks/mutants.py loss`.


def test_gradient_loss_without_gradients_is_refused():
    net, data = _case(_weights(2.0, 0.5))
    data.gradients = None
    rows, pix = torch.arange(2), torch.arange(3)
    with pytest.raises(ValueError, match="^the gradient loss needs a grid with gradients$"):
        batch_loss(net, data, rows, pix, pix, torch.arange(N_LABELS))
    loss, spec, grad = batch_loss(net, data, rows, pix, pix, None)  # the plain loss needs none
    assert grad is None and spec.item() == pytest.approx(L_SPEC, rel=1e-12)


def test_grad_rows_l_grad_from_the_first_spectra_l_spec_from_all():
    """``grad_rows`` (TrainConfig.grad_batch): L_grad of the first rows only, L_spec of all.
    On pixels 0 and 2 (so that the rows without gradients go through ``query`` too):
    L_spec = 1.75 / 4; L_grad of spectrum 0 alone = 2 (0 + 1) + 0.5 (0 + 0) = 2 over 2 pixels."""
    net, data = _case(_weights(2.0, 0.5))
    rows, pix = torch.arange(2), torch.tensor([0, 2])
    which = torch.arange(N_LABELS)
    loss, spec, grad = batch_loss(net, data, rows, pix, pix, which, grad_rows=1)
    assert spec.item() == pytest.approx(1.75 / 4, rel=1e-12)
    assert grad.item() == pytest.approx(2.0 / 2, rel=1e-12)
    assert loss.item() == pytest.approx(1.75 / 4 + 1.0, rel=1e-12)
    for all_rows in (0, 2, 5):  # 0 (default) or at least the batch: every spectrum
        _, spec, grad = batch_loss(net, data, rows, pix, pix, which, grad_rows=all_rows)
        assert spec.item() == pytest.approx(1.75 / 4, rel=1e-12)
        assert grad.item() == pytest.approx((2.0 + 4.5) / 4, rel=1e-12)


def test_jvp_method_is_passed_on():
    """Method "torch.func" gives the same loss as the hand-written tangents; an unknown one is
    refused, not replaced by the default."""
    net, data = _case(_weights(2.0, 0.5))
    rows, pix, which = torch.arange(2), torch.arange(3), torch.arange(N_LABELS)
    _, spec, grad = batch_loss(net, data, rows, pix, pix, which, method="torch.func")
    assert (spec.item(), grad.item()) == pytest.approx((L_SPEC, L_GRAD), rel=1e-12)
    with pytest.raises(ValueError, match="unknown jvp method"):
        batch_loss(net, data, rows, pix, pix, which, method="finite differences")


def test_evaluate_weights_blocks_by_their_size_and_passes_norm():
    net, data = _case(_weights(2.0, 0.5))
    rows, pix = torch.arange(2), torch.arange(3)
    # the default block holds both spectra; a block of 2 (of 2) and blocks of 1 agree with it
    for batch_size in (None, 2, 1):
        got = evaluate(net, data, rows, pix, pix, with_grad=True, batch_size=batch_size)
        assert got == pytest.approx((L_SPEC, L_GRAD), rel=1e-12)
    # three rows (spectrum 1 twice) in blocks of 2 and 1: a mean over rows, not over blocks
    rows3 = torch.tensor([0, 1, 1])
    spec3 = (0.5 + 0.0 + 1.0 + 2 * (0.0 + 0.5 + 0.25)) / 9
    grad3 = (4.0 + 2 * 4.5) / 9
    got = evaluate(net, data, rows3, pix, pix, with_grad=True, batch_size=2)
    assert got == pytest.approx((spec3, grad3), rel=1e-12)
    spec, grad = evaluate(net, data, rows, pix, pix, with_grad=False)
    assert spec == pytest.approx(L_SPEC, rel=1e-12) and math.isnan(grad)
    got = evaluate(net, data, rows, pix, pix, with_grad=True, norm="l2")
    assert got == pytest.approx((L_SPEC, (6.0 + 8.125) / 6), rel=1e-12)
