"""The loss of Eq. 8–10: L = L_spec + L_grad, both L1.

- L_spec = mean over spectra and pixels of |f - f̂| (Eq. 9);
- L_grad = mean over spectra and pixels of Σ_m w_m |∂f/∂θ_m - ∂f̂/∂θ_m| (Eq. 10), with the
  model's derivatives w.r.t. the *physical* labels from forward-mode autodiff
  (:func:`phdl.emulator.flux_and_jacobian`) and w_m = 1/σ_m
  (:func:`phdl.train.data.gradient_sigma`).

With a subset S of k labels per step, Σ_m is estimated by (34 / k) Σ_{m ∈ S}: for S drawn
uniformly without replacement, each label is in S with probability k / 34, so the estimate
is unbiased.
"""

from __future__ import annotations

import torch
from torch import nn

from phdl.emulator.model import CHUNK, flux_and_jacobian
from phdl.labels import N_LABELS, scale
from phdl.train.data import TrainData


def batch_loss(
    net: nn.Module,
    data: TrainData,
    rows: torch.Tensor,
    pix: torch.Tensor,
    query: torch.Tensor | None,
    which: torch.Tensor | None,
    grad_weight: float = 1.0,
    method: str = "manual",
    norm: str = "l1",
    grad_rows: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(L, L_spec, L_grad) of one batch; ``which`` None = no gradient term (plain).

    ``rows``: grid rows (B,); ``pix``: grid pixel indices (P,); ``query``: the network's
    query for those pixels; ``which``: label indices (k,) whose gradient spectra are matched;
    ``method``: how the model's derivatives are computed (see
    :func:`phdl.emulator.flux_and_jacobian`); ``norm``: "l1" (Eq. 10) or "l2" (squared
    weighted errors, Σ_m w_m² (∂f/∂θ_m - ∂f̂/∂θ_m)²); ``grad_rows`` > 0: L_grad from the first
    ``grad_rows`` spectra of the batch only (an unbiased estimate when the batch is shuffled),
    L_spec from all of them.
    """
    x = data.labels[rows]
    flux = data.flux[rows[:, None], pix[None, :]]
    if which is None:
        pred = net(scale(x, data.lo, data.hi), query)
        spec = (pred - flux).abs().mean()
        return spec, spec, None
    if data.gradients is None:
        raise ValueError("the gradient loss needs a grid with gradients")
    g = len(rows) if grad_rows <= 0 else min(grad_rows, len(rows))
    pred, jac = flux_and_jacobian(net, x[:g], query, data.lo, data.hi, which, method)
    if g < len(rows):
        pred = torch.cat([pred, net(scale(x[g:], data.lo, data.hi), query)])
    spec = (pred - flux).abs().mean()
    rows = rows[:g]
    true = data.gradients[rows[:, None, None], which[None, :, None], pix[None, None, :]]
    w = data.weights[which][None, :, None]
    err = ((jac - true) * w).abs() if norm == "l1" else ((jac - true) * w) ** 2
    grad = (N_LABELS / len(which)) * err.sum(dim=1).mean()
    return spec + grad_weight * grad, spec, grad


def evaluate(
    net: nn.Module,
    data: TrainData,
    rows: torch.Tensor,
    pix: torch.Tensor,
    query: torch.Tensor | None,
    *,
    with_grad: bool,
    batch_size: int | None = None,
    norm: str = "l1",
) -> tuple[float, float]:
    """(L_spec, L_grad) averaged over ``rows`` at pixels ``pix``, the full gradient term
    (all 34 labels; NaN when ``with_grad`` is False). No weight update."""
    which = torch.arange(N_LABELS, device=rows.device) if with_grad else None
    if batch_size is None:  # cache-sized blocks (see phdl.emulator.model.CHUNK)
        batch_size = max(1, CHUNK // ((N_LABELS if with_grad else 1) * len(pix)))
    spec_sum, grad_sum = 0.0, 0.0
    with torch.no_grad():
        for b in range(0, len(rows), batch_size):
            r = rows[b : b + batch_size]
            _, spec, grad = batch_loss(net, data, r, pix, query, which, norm=norm)
            spec_sum += spec.item() * len(r)
            grad_sum += grad.item() * len(r) if grad is not None else 0.0
    n = len(rows)
    return spec_sum / n, (grad_sum / n if with_grad else float("nan"))
