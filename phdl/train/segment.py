"""Training one network on its wavelength segment: epochs, early stopping, keep-best.

An epoch shuffles the training spectra and takes one Adam step per batch (a random subset of
pixels and of gradient labels per step, if the config asks), then, every ``eval_every``
epochs, evaluates the loss of the validation stars; the weights with the lowest validation loss
are kept, and a segment stops early when it has not improved for ``patience`` epochs.
:class:`~phdl.train.data.TrainData` holds no test indices: training indexes only the training
and validation rows. Every random
choice of an epoch is seeded by (seed, segment, epoch), so a resumed run follows the same
schedule as an uninterrupted one. The checkpoint dict is updated after every epoch and saved
through a :class:`Saver` (atomically, at most every few seconds).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from phdl.atomic import atomic_path
from phdl.labels import N_LABELS
from phdl.train.config import TrainConfig
from phdl.train.data import TrainData
from phdl.train.loss import batch_loss, evaluate, random_directions

HISTORY_KEYS = (
    "epoch", "lr", "train_loss", "train_spec", "train_grad",
    "val_loss", "val_spec", "val_grad", "seconds",
)  # fmt: skip


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def snapshot(obj: Any) -> Any:
    """Deep copy with every tensor detached and on the CPU (a snapshot for the checkpoint)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: snapshot(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(snapshot(v) for v in obj)
    return copy.deepcopy(obj)


def _seg_state(net: nn.Module, s: int) -> dict[str, torch.Tensor]:
    return {f"{s}.{k}": v for k, v in snapshot(net.state_dict()).items()}


class Saver:
    """Atomic checkpoint writes (:func:`phdl.atomic.atomic_path`), at most every ``every``
    seconds unless forced."""

    def __init__(self, path: Path, every: float):
        self.path, self.every, self.last = path, every, time.monotonic()

    def save(self, ckpt: dict[str, Any]) -> None:
        with atomic_path(self.path) as tmp:
            torch.save(ckpt, tmp)
        self.last = time.monotonic()

    def maybe(self, ckpt: dict[str, Any]) -> None:
        if time.monotonic() - self.last >= self.every:
            self.save(ckpt)


@dataclass
class _Segment:
    """Network ``s`` and its pixels [a, b): the wavelength query, the validation pixels."""

    s: int
    a: int
    b: int
    net: nn.Module
    enc: torch.Tensor | None  # the Transformer's query for every pixel of the segment
    pixels: torch.Tensor  # (b - a,) grid pixel indices
    eval_pixels: torch.Tensor  # the pixels of the validation loss

    @classmethod
    def build(cls, s: int, net: nn.Module, wavelength, cfg: TrainConfig, ckpt, dev) -> _Segment:
        a, b = ckpt["segments"][s]
        enc = None
        if cfg.kind == "transformer":
            enc = net.query(torch.as_tensor(wavelength[a:b])).to(torch.float32).to(dev)
        pixels = torch.arange(a, b, device=dev)
        eval_pixels = pixels
        if 0 < cfg.eval_pixels < b - a:
            rng = np.random.default_rng([cfg.seed, s, 1])
            pick = rng.choice(b - a, cfg.eval_pixels, replace=False)
            eval_pixels = torch.as_tensor(np.sort(pick) + a, device=dev)
        return cls(s, a, b, net, enc, pixels, eval_pixels)

    def query(self, pix: torch.Tensor) -> torch.Tensor | None:
        """The network's query for grid pixels ``pix`` (the MLP: None for all its pixels)."""
        if self.enc is not None:
            return self.enc[pix - self.a]
        return None if len(pix) == self.b - self.a else pix - self.a


def _optimizer(net: nn.Module, cfg: TrainConfig, ckpt: dict[str, Any]):
    """Adam with cosine annealing, restored from the checkpoint mid-segment."""
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr_min)
    if ckpt["progress"]["epoch"] > 0 and ckpt["optimizer"] is not None:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
    return opt, sched


def _grad_labels(
    cfg: TrainConfig, epoch: int, g: torch.Generator, weights: torch.Tensor
) -> torch.Tensor | None:
    """The labels whose gradient spectra this step matches, or the directions (k, 34) whose
    derivatives it matches (None: L_spec alone)."""
    if cfg.plain or epoch < cfg.grad_warmup:
        return None
    if cfg.grad_directions:
        return random_directions(cfg.grad_labels, weights.cpu(), g)
    if cfg.grad_labels == N_LABELS:
        return torch.arange(N_LABELS)
    return torch.randperm(N_LABELS, generator=g)[: cfg.grad_labels].sort().values


def _train_epoch(seg: _Segment, data: TrainData, cfg: TrainConfig, opt, epoch: int) -> np.ndarray:
    """One pass over the training spectra; the mean (L, L_spec, L_grad) per spectrum."""
    dev, n_seg, n_train = data.flux.device, seg.b - seg.a, len(data.train)
    g = torch.Generator().manual_seed(_seed(cfg.seed, seg.s, epoch))
    order = data.train[torch.randperm(n_train, generator=g).to(dev)]
    sums = np.zeros(3)
    for i in range(0, n_train, cfg.batch_size):
        pix = seg.pixels
        if 0 < cfg.pixels_per_step < n_seg:
            pick = torch.randperm(n_seg, generator=g)[: cfg.pixels_per_step]
            pix = (pick.sort().values + seg.a).to(dev)
        which = _grad_labels(cfg, epoch, g, data.weights)
        which = None if which is None else which.to(dev)
        sums += _step(seg, data, cfg, opt, order[i : i + cfg.batch_size], pix, which)
    return sums / n_train


def _step(seg: _Segment, data: TrainData, cfg: TrainConfig, opt, rows, pix, which) -> np.ndarray:
    """One optimizer step on the batch ``rows`` (in micro-batches); the summed losses."""
    q = seg.query(pix)
    opt.zero_grad(set_to_none=True)
    sums = np.zeros(3)
    mb = cfg.micro_batch or len(rows)
    for j in range(0, len(rows), mb):
        r = rows[j : j + mb]
        loss, spec, grad = batch_loss(seg.net, data, r, pix, q, which, cfg.grad_weight,
                                      norm=cfg.grad_norm, grad_rows=cfg.grad_batch)  # fmt: skip
        (loss * (len(r) / len(rows))).backward()
        gval = grad.item() if grad is not None else float("nan")
        sums += np.array([loss.item(), spec.item(), gval]) * len(r)
    opt.step()
    return sums


def _val_loss(seg: _Segment, data: TrainData, cfg: TrainConfig) -> tuple[float, float, float]:
    """(L, L_spec, L_grad) of the validation spectra at the segment's validation pixels."""
    with_grad = data.gradients is not None and (not cfg.plain or cfg.monitor_grad)
    pix = seg.eval_pixels
    spec, grad = evaluate(seg.net, data, data.val, pix, seg.query(pix), with_grad=with_grad,
                          norm=cfg.grad_norm)  # fmt: skip
    return spec + (0.0 if cfg.plain else cfg.grad_weight * grad), spec, grad


def _record(
    ckpt: dict[str, Any], seg: _Segment, rec: dict[str, Any], opt, sched, keep: bool
) -> None:
    """Append the epoch's record; with ``keep``, keep the weights if the validation loss is the
    best so far."""
    prog, s = ckpt["progress"], seg.s
    for key in HISTORY_KEYS:
        ckpt["history"][s][key].append(rec[key])
    if keep and rec["val_loss"] < prog["best_val"][s]:
        prog["best_val"][s], prog["best_epoch"][s] = rec["val_loss"], rec["epoch"] - 1
        ckpt["best_state"].update(_seg_state(seg.net, s))
    prog["epoch"] = rec["epoch"]
    ckpt["state"].update(_seg_state(seg.net, s))
    ckpt["optimizer"], ckpt["scheduler"] = snapshot(opt.state_dict()), sched.state_dict()


def train_segment(
    s: int,
    nets: nn.ModuleList,
    data: TrainData,
    wavelength: np.ndarray,
    cfg: TrainConfig,
    ckpt: dict[str, Any],
    saver: Saver,
    progress: bool,
    callback: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Train network ``s`` on its pixel range until ``cfg.epochs`` or early stopping.

    Best weights and early stopping count from the end of the warm-up (``cfg.grad_warmup``):
    the validation loss includes L_grad, so a warm-up epoch's loss does not compare with a
    later one's (a flat, label-independent early network would otherwise be kept)."""
    seg = _Segment.build(s, nets[s], wavelength, cfg, ckpt, data.flux.device)
    opt, sched = _optimizer(seg.net, cfg, ckpt)
    prog, last_val = ckpt["progress"], float("nan")
    warm = 0 if cfg.plain else min(cfg.grad_warmup, cfg.epochs - 1)
    with _bar(cfg, ckpt, s, progress) as bar:
        for epoch in range(prog["epoch"], cfg.epochs):
            since = max(prog["best_epoch"][s], warm - 1)
            if epoch > 0 and epoch - 1 - since >= cfg.patience:
                break  # early stopping: no better validation loss for `patience` epochs
            t0 = time.perf_counter()
            lr = opt.param_groups[0]["lr"]
            train = _train_epoch(seg, data, cfg, opt, epoch)
            sched.step()
            val = (float("nan"),) * 3
            if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
                val = _val_loss(seg, data, cfg)
                last_val = val[0]
            values = [epoch + 1, lr, *map(float, train), *val, time.perf_counter() - t0]
            rec = dict(zip(HISTORY_KEYS, values, strict=True))
            _record(ckpt, seg, rec, opt, sched, keep=epoch >= warm)
            saver.maybe(ckpt)
            _show(bar, train, last_val, prog["best_val"][s])
            if callback is not None:
                callback({**rec, "segment": s})
    _finish_segment(ckpt, seg, saver)


def _bar(cfg: TrainConfig, ckpt: dict[str, Any], s: int, progress: bool):
    """The segment's progress bar (epochs)."""
    from tqdm import tqdm  # plain bar: widget bars do not survive papermill execution

    label = f"{cfg.kind}{' plain' if cfg.plain else ''}"
    if len(ckpt["segments"]) > 1:
        label += f" seg {s + 1}/{len(ckpt['segments'])}"
    initial = ckpt["progress"]["epoch"]
    return tqdm(total=cfg.epochs, initial=initial, desc=label, unit="ep", disable=not progress)


def _show(bar, train: np.ndarray, val: float, best: float) -> None:
    """Advance the bar by one epoch, showing the losses."""
    bar.update(1)
    bar.set_postfix(loss=f"{train[0]:.4g}", spec=f"{train[1]:.4g}", grad=f"{train[2]:.4g}",
                    val=f"{val:.4g}", best=f"{best:.4g}")  # fmt: skip


def _finish_segment(ckpt: dict[str, Any], seg: _Segment, saver: Saver) -> None:
    """Keep the segment's best weights, move on to the next segment and save."""
    prefix = f"{seg.s}."
    best = {k[len(prefix) :]: v for k, v in ckpt["best_state"].items() if k.startswith(prefix)}
    seg.net.load_state_dict(best)
    ckpt["state"].update(_seg_state(seg.net, seg.s))
    ckpt["progress"]["segment"], ckpt["progress"]["epoch"] = seg.s + 1, 0
    ckpt["optimizer"] = ckpt["scheduler"] = None
    saver.save(ckpt)
