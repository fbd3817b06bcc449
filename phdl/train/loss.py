"""The loss of Eq. 8–10: L = L_spec + L_grad, both L1.

- L_spec = mean over spectra and pixels of |f - f̂| (Eq. 9);
- L_grad = mean over spectra and pixels of Σ_m w_m |∂f/∂θ_m - ∂f̂/∂θ_m| (Eq. 10), with the
  model's derivatives w.r.t. the *physical* labels from forward-mode autodiff
  (:func:`phdl.emulator.flux_and_jacobian`) and w_m = 1/σ_m
  (:func:`phdl.train.data.gradient_sigma`).

With a subset S of k labels per step, Σ_m is estimated by (34 / k) Σ_{m ∈ S}: for S drawn
uniformly without replacement, each label is in S with probability k / 34, so the estimate
is unbiased.

Directional derivatives instead of label subsets: k random directions u = w ∘ z, z ~ N(0, 1)
in the 34 physical labels, each one forward-mode pass that moves every label at once. The
error of the directional derivative, u·(∂f̂ - ∂f), has E_z[(u·Δ)²] = Σ_m w_m² Δ_m², so with
``norm`` "l2" the mean over the k directions is an unbiased estimate of the full squared term;
with "l1", E_z|u·Δ| = sqrt(2/π) (Σ_m w_m² Δ_m²)^½, the root of that sum (not Eq. 10's Σ_m). A
direction's target is a weighted sum of all 34 gradient spectra: dense where any label has a
line, so a network is not pulled toward zero derivatives by the many zeros of one label's
sparse gradient spectrum.
"""

from __future__ import annotations

import torch
from torch import nn

from phdl.emulator.model import CHUNK, flux_and_directional, flux_and_jacobian
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
    query for those pixels; ``which``: label indices (k,) (long) whose gradient spectra are
    matched, or k directions (k, 34) (float, physical units, the weights w_m included) whose
    directional derivatives are matched (see the module docstring);
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
    directional = which.is_floating_point()
    if directional:
        pred, jac = flux_and_directional(net, x[:g], query, data.lo, data.hi, which)
    else:
        pred, jac = flux_and_jacobian(net, x[:g], query, data.lo, data.hi, which, method)
    if g < len(rows):
        pred = torch.cat([pred, net(scale(x[g:], data.lo, data.hi), query)])
    spec = (pred - flux).abs().mean()
    rows = rows[:g]
    if directional:  # (g, k, P): u·∂f per direction, w already inside u
        every = data.gradients[rows[:, None, None], _all_labels(which)[None, :, None], pix]
        diff = jac - torch.einsum("km,bmp->bkp", which, every)
    else:
        true = data.gradients[rows[:, None, None], which[None, :, None], pix[None, None, :]]
        diff = (jac - true) * data.weights[which][None, :, None]
    err = diff.abs() if norm == "l1" else diff**2
    scale_k = 1.0 if directional else N_LABELS
    grad = (scale_k / len(which)) * err.sum(dim=1).mean()
    return spec + grad_weight * grad, spec, grad


def _all_labels(directions: torch.Tensor) -> torch.Tensor:
    """Every label's index (34,), on the directions' device."""
    return torch.arange(directions.shape[1], device=directions.device)


def random_directions(k: int, weights: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """k random directions u = w ∘ z (k, 34), z ~ N(0, 1), for the directional gradient term;
    ``weights``: w_m = 1/σ_m (34,), physical units⁻¹, so u·∂f is unitless."""
    z = torch.randn(k, len(weights), generator=g)
    return z.to(weights.device) * weights[None, :]


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
