"""Training data: the seeded train / validation / test split, the label scaling (Eq. 25), the
gradient weights σ_m."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from phdl.labels import LABELS, LOWER, UPPER


class Split(NamedTuple):
    """Sorted row indices of the three disjoint sets of a grid."""

    train: np.ndarray  # fitted by the optimizer
    val: np.ndarray  # early stopping, best weights, every preset sweep
    test: np.ndarray  # read once, for the reported numbers


def split_indices(n: int, test_fraction: float, seed: int, val_fraction: float = 0.0) -> Split:
    """Seeded split of ``n`` grid rows into (train, val, test) sorted index arrays.

    The test set has ceil(test_fraction · n) rows (the paper: 623 of 6,222 at 0.1), the
    validation set ceil(val_fraction · n) (0 rows at 0.0), the training set the rest. The test
    rows depend on ``n``, ``test_fraction`` and ``seed`` only: adding a validation set takes it
    from the training rows and leaves the test stars as they were.
    """
    if n < 2 + (val_fraction > 0):
        raise ValueError(
            f"the grid has {n} spectra; at least {2 + (val_fraction > 0)} are needed for a "
            f"{'train/validation/test' if val_fraction > 0 else 'train/test'} split"
        )
    n_test = min(max(1, math.ceil(test_fraction * n - 1e-9)), n - 1)
    n_val = 0 if val_fraction <= 0 else max(1, math.ceil(val_fraction * n - 1e-9))
    if n_test + n_val > n - 1:
        raise ValueError(
            f"a grid of {n} spectra leaves no training spectra with {n_test} test and {n_val} "
            "validation spectra; lower test_fraction or val_fraction"
        )
    perm = np.random.default_rng(seed).permutation(n)
    val = perm[n_test : n_test + n_val]
    return Split(np.sort(perm[n_test + n_val :]), np.sort(val), np.sort(perm[:n_test]))


def label_scaling(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p_min, p_max (34,) of Eq. 25: min and max of the training labels, per label.

    A label that does not vary in the training set (max = min) falls back to its allowed
    range in :data:`phdl.labels.RANGES` so that the scaling stays finite.
    """
    lo, hi = labels.min(axis=0).astype(np.float64), labels.max(axis=0).astype(np.float64)
    flat = hi - lo <= 1e-9 * np.maximum(1.0, np.abs(lo))
    return np.where(flat, LOWER, lo), np.where(flat, UPPER, hi)


def gradient_sigma(gradients: np.ndarray, rows: np.ndarray, chunk: int = 64) -> np.ndarray:
    """σ_m (34,) for the weights w_m = 1/σ_m of Eq. 10, physical units (per K, per dex...).

    The paper: "the standard deviation of the gradient spectrum of label m" over wavelength.
    We take the standard deviation over wavelength of each training spectrum's gradient
    spectrum and combine the spectra in quadrature, σ_m² = mean_i Var_λ(∂f_i/∂θ_m): one
    weight per label for the whole set. (A per-spectrum σ would blow up the weight of a
    label in the stars where it leaves no trace, e.g. weak lines in hot stars.)
    """
    acc = np.zeros(gradients.shape[1])
    for i in range(0, len(rows), chunk):
        g = np.asarray(gradients[rows[i : i + chunk]], dtype=np.float64)
        acc += g.var(axis=2).sum(axis=0)
    return np.sqrt(acc / len(rows))


def gradient_weights(sigma: np.ndarray) -> np.ndarray:
    """w_m = 1/σ_m, and 0 for a label with σ_m = 0 (no gradient signal to match)."""
    sigma = np.asarray(sigma, dtype=np.float64)
    w = np.zeros_like(sigma)
    np.divide(1.0, sigma, out=w, where=sigma > 0)
    return w


@dataclass
class TrainData:
    """Grid arrays as float32 tensors plus split and scaling (physical labels throughout)."""

    labels: torch.Tensor  # (n, 34) physical
    flux: torch.Tensor  # (n, n_pix)
    gradients: torch.Tensor | None  # (n, 34, n_pix) per physical unit
    train: torch.Tensor  # (n_train,) long: the rows the optimizer fits
    val: torch.Tensor  # (n_val,) long: the rows of early stopping and best-weight selection
    lo: torch.Tensor  # (34,) p_min of Eq. 25
    hi: torch.Tensor  # (34,) p_max of Eq. 25
    weights: torch.Tensor  # (34,) w_m

    @classmethod
    def build(
        cls,
        grid,
        train: np.ndarray,
        val: np.ndarray,
        label_min: np.ndarray,
        label_max: np.ndarray,
        sigma: np.ndarray,
        device: str | torch.device = "cpu",
    ) -> TrainData:
        """From a :class:`phdl.grid.Grid` and the split / scaling stored in a checkpoint.

        The test rows are not an argument: the arrays hold every grid row, but training
        indexes only ``train`` and ``val``.
        """
        if tuple(grid.label_names) != LABELS:
            raise ValueError(f"{grid.path}: label_names differ from phdl.labels.LABELS")
        f32 = torch.float32
        grads = grid.gradients
        return cls(
            labels=torch.as_tensor(grid.labels, dtype=f32, device=device),
            flux=torch.as_tensor(grid.flux, dtype=f32, device=device),
            gradients=None if grads is None else torch.as_tensor(grads, dtype=f32, device=device),
            train=torch.as_tensor(train, dtype=torch.long, device=device),
            val=torch.as_tensor(val, dtype=torch.long, device=device),
            lo=torch.as_tensor(label_min, dtype=f32, device=device),
            hi=torch.as_tensor(label_max, dtype=f32, device=device),
            weights=torch.as_tensor(gradient_weights(sigma), dtype=f32, device=device),
        )
