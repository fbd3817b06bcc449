"""Training configuration (Section 3.2) and the tiny / quick / full presets.

:class:`TrainConfig` defaults are the paper's schedule with the paper's architecture: 11 wavelength
segments, up to 3000 epochs each, Adam, cosine annealing from 1e-3, batch 256, early stopping
after 500 epochs without improvement on the validation stars, the full gradient term. The
presets scale this down for a CPU (see :data:`PRESETS`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from phdl.emulator.config import MLPConfig, ModelConfig, TransformerConfig, config_for, kind_of
from phdl.labels import N_LABELS


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (saved in the checkpoint).

    - ``model``: architecture (:class:`TransformerConfig` or :class:`MLPConfig`).
    - ``plain``: True = L_grad off (the "ordinary Transformer" of Figure 4), same schedule.
    - ``epochs``: maximum epochs per segment; also the period T_max of the cosine annealing.
    - ``patience``: stop a segment after this many epochs without a lower validation loss;
      the weights of the lowest validation loss are kept. The test stars play no part.
    - ``batch_size``, ``lr`` (initial), ``lr_min`` (end of the cosine).
    - ``segments``: the spectrum is cut into this many contiguous pixel ranges, and one network
      per segment is trained after the other, each with its own full schedule (our reading of
      "trained the model segment by segment, each segment for 3000 epochs"); 1 = one network
      for the whole spectrum. Memory per step scales with the segment's pixels.
    - ``pixels_per_step``: 0 = every pixel of the segment in every step; n > 0 = a fresh random
      subset of n pixels per step (the same for the batch). An unbiased estimate of the same
      loss, n_pix / n times cheaper per step; the Transformer evaluates any wavelengths, so
      this is how a CPU affords it.
    - ``grad_labels``: 34 = the full gradient term (Eq. 10); k < 34 = a random subset of k
      labels per step, reweighted by 34 / k (unbiased), about 34 / k times cheaper.
    - ``grad_directions``: False = the gradient spectra of ``grad_labels`` random labels per
      step; True = instead the derivatives along ``grad_labels`` random directions u = w ∘ z,
      z ~ N(0, 1), each moving all 34 labels at once (:mod:`phdl.train.loss`): with
      ``grad_norm`` "l2" an unbiased estimate of the full squared term from k forward-mode
      passes.
    - ``grad_batch``: 0 = L_grad over every spectrum of the batch; g > 0 = over the first g
      spectra of each (shuffled) batch only, L_spec still over all: unbiased, cheaper.
    - ``grad_weight``: factor on L_grad (the paper: 1, L = L_spec + L_grad).
    - ``grad_warmup``: the first ``grad_warmup`` epochs of each segment take their training
      steps on L_spec alone; from then on the steps add L_grad. The validation loss includes
      L_grad from the first epoch, so the best weights and the patience of early stopping count
      from the end of the warm-up only. 0 = L_grad from the start (the paper; every preset).
      Ignored for plain models.
    - ``grad_norm``: "l1" (Eq. 10, the paper) or "l2": Σ_m w_m² (∂f/∂θ_m - ∂f̂/∂θ_m)².
    - ``label_init``: "default" (PyTorch's init) or "sensitivity": with L_grad on, the weights
      of the layer that takes the scaled labels are multiplied, per label m, by
      s_m / max(s), s_m = σ_m (p_max - p_min) the typical flux change per unit of scaled label
      (from the training gradient spectra), so that the initial network's sensitivity to each
      label follows that of the gradient spectra. Ignored for plain models.
    - ``micro_batch``: 0 = whole batch at once; m > 0 = accumulate the batch's gradient over
      chunks of m spectra (bounds memory of the gradient term; same update up to rounding).
    - ``eval_pixels``: 0 = validation loss over every pixel of the segment; n > 0 = over a
      fixed seeded subset of n pixels (cheaper; the same subset every epoch).
    - ``eval_every``: evaluate the validation loss every this many epochs (and at the last one); the
      best model and early stopping only see those epochs (paper: 1).
    - ``monitor_grad``: also record the validation gradient error of a plain model (if the grid
      has gradients), for the training curves.
    - ``test_fraction`` (paper 0.1, rounded up: 623 of 6222): the held-out test stars, read
      only after training, for the reported numbers. ``val_fraction``: the validation stars,
      taken from the rest, that choose the early stop and the kept weights (the paper names
      no validation set; we take 0.1 of the grid, so the paper's grid trains on 4,976).
      ``split_seed`` (the split, :func:`phdl.train.split_indices`), ``seed``
      (initialization, shuffling, pixel and label subsets).
    """

    model: ModelConfig = field(default_factory=TransformerConfig)
    plain: bool = False
    epochs: int = 3000
    patience: int = 500
    batch_size: int = 256
    lr: float = 1e-3
    lr_min: float = 0.0
    segments: int = 11
    pixels_per_step: int = 0
    grad_labels: int = N_LABELS
    grad_directions: bool = False
    grad_batch: int = 0
    grad_weight: float = 1.0
    grad_warmup: int = 0
    grad_norm: str = "l1"
    label_init: str = "sensitivity"
    micro_batch: int = 0
    eval_pixels: int = 0
    eval_every: int = 1
    monitor_grad: bool = True
    test_fraction: float = 0.1
    val_fraction: float = 0.1
    split_seed: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        kind_of(self.model)  # ValueError if not a model config
        for name in ("epochs", "patience", "batch_size", "segments", "eval_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in (
            "pixels_per_step",
            "grad_batch",
            "micro_batch",
            "eval_pixels",
            "split_seed",
            "seed",
            "grad_warmup",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if not (isinstance(self.grad_labels, int) and 1 <= self.grad_labels <= N_LABELS):
            raise ValueError(f"grad_labels must be in 1..{N_LABELS}, got {self.grad_labels!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")
        if not 0.0 < self.val_fraction < 1.0 - self.test_fraction:
            raise ValueError(
                f"val_fraction must be in (0, 1 - test_fraction) = "
                f"(0, {1 - self.test_fraction:g}), got {self.val_fraction}"
            )
        if not self.lr > 0 or not 0 <= self.lr_min <= self.lr:
            raise ValueError(f"need lr > 0 and 0 <= lr_min <= lr, got {self.lr}, {self.lr_min}")
        if self.label_init not in ("default", "sensitivity"):
            raise ValueError(
                f"label_init must be 'default' or 'sensitivity', got {self.label_init!r}"
            )
        if self.grad_norm not in ("l1", "l2"):
            raise ValueError(f"grad_norm must be 'l1' or 'l2', got {self.grad_norm!r}")
        if not self.grad_weight >= 0:
            raise ValueError(f"grad_weight must be >= 0, got {self.grad_weight}")

    @property
    def kind(self) -> str:
        """'transformer' or 'mlp'."""
        return kind_of(self.model)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (``kind`` + model fields nested), as saved in a checkpoint."""
        d = dataclasses.asdict(self)
        d["kind"] = self.kind
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        model = config_for(d.pop("kind", "transformer"), d.pop("model", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}")
        return cls(model=model, **d)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with ``changes`` (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


#: Architecture and schedule per profile and kind.
#:
#: - "full": the paper (Section 3.2): d = 128, 4 blocks, 4 heads, 11 segments, 3000 epochs,
#:   patience 500, batch 256, the full gradient term with w_m = 1/σ_m and weight 1. A GPU is
#:   expected.
#: - "quick": a 2-core CPU and the quick profile's 320-spectrum grid. Transformer d = 64,
#:   2 blocks, 16 tokens, 600 epochs (patience 200), 128 random pixels per step, batch 16,
#:   Adam from 3e-3; the gradient term from 4 random labels on 4 spectra of each batch
#:   (unbiased), weight 1e-4; the validation loss every 10 epochs on 256 fixed pixels. The MLP
#:   is the Payne: flux only, early stopping, lr 3e-3, batch 16. The sweeps that chose these values
#:   are in BENCHMARKS.md.
#: - "tiny": for tests and the smoke-test book.
PRESETS: dict[str, dict[str, TrainConfig]] = {
    "full": {
        "transformer": TrainConfig(),
        "mlp": TrainConfig(model=MLPConfig(hidden=300), plain=True, segments=1),
    },
    "quick": {
        "transformer": TrainConfig(
            model=TransformerConfig(
                d_model=64, n_blocks=2, n_heads=4, n_tokens=16, ffn_dim=128, head_dim=128
            ),
            epochs=600,
            patience=200,
            batch_size=16,
            lr=3e-3,
            segments=1,
            pixels_per_step=128,
            grad_labels=4,
            grad_batch=4,
            grad_weight=1e-4,
            eval_pixels=256,
            eval_every=10,
        ),
        "mlp": TrainConfig(
            model=MLPConfig(hidden=300),
            plain=True,
            epochs=150,
            patience=50,
            batch_size=16,
            lr=3e-3,
            segments=1,
            grad_labels=8,
            grad_weight=0.01,
        ),
    },
    "tiny": {
        "transformer": TrainConfig(
            model=TransformerConfig(
                d_model=16, n_blocks=1, n_heads=2, n_tokens=4, ffn_dim=32, head_dim=32
            ),
            epochs=20,
            patience=20,
            batch_size=16,
            segments=1,
            pixels_per_step=64,
            grad_labels=4,
            eval_pixels=128,
        ),
        "mlp": TrainConfig(
            model=MLPConfig(hidden=32),
            plain=True,
            epochs=40,
            patience=40,
            batch_size=16,
            segments=1,
            grad_labels=4,
        ),
    },
}


def preset(
    profile: str, *, mlp: bool = False, plain: bool | None = None, **changes: Any
) -> TrainConfig:
    """The :class:`TrainConfig` of ``profile`` ('tiny', 'quick', 'full') for the Transformer
    (or the MLP baseline with ``mlp=True``), with ``changes``.

    ``plain``: None = the preset's choice: PhDLspec (L_grad on) for the Transformer, flux only
    for the MLP (the Payne is trained on spectra alone); True / False forces it.
    """
    if profile not in PRESETS:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(PRESETS)}")
    cfg = PRESETS[profile]["mlp" if mlp else "transformer"]
    if plain is not None:
        changes["plain"] = plain
    return cfg.replace(**changes)
