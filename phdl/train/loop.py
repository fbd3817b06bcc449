"""The training loop: segments, epochs, early stopping, keep-best, checkpoints and resume.

One checkpoint file per model (see :data:`phdl.emulator.CHECKPOINT_KEYS`), rewritten atomically
(:func:`phdl.atomic.atomic_path`) at most every ``checkpoint_seconds``, at the end of each
segment, at the end, and on KeyboardInterrupt (with the state of the last finished epoch).
Calling :func:`train` again with the same grid, output and config resumes where it stopped;
every random choice of an epoch is seeded by (seed, segment, epoch), so an interrupted and
resumed run follows the same schedule as an uninterrupted one.
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from phdl import __version__
from phdl.atomic import atomic_path
from phdl.emulator.config import as_dict
from phdl.emulator.model import FORMAT, build_network, check_compatible, split_segments
from phdl.grid import check_writable, grid_hash, read_grid
from phdl.labels import N_LABELS
from phdl.train.config import TrainConfig, preset
from phdl.train.data import TrainData, gradient_sigma, label_scaling, split_indices
from phdl.train.loss import batch_loss, evaluate

HISTORY_KEYS = (
    "epoch", "lr", "train_loss", "train_spec", "train_grad",
    "test_loss", "test_spec", "test_grad", "seconds",
)  # fmt: skip


def resolve_config(config: TrainConfig | str | None) -> TrainConfig:
    """None -> the paper's :class:`TrainConfig`; a profile name -> its Transformer preset."""
    if config is None:
        return TrainConfig()
    if isinstance(config, str):
        return preset(config)
    if isinstance(config, TrainConfig):
        return config
    raise ValueError(f"config must be a TrainConfig, a profile name or None, got {config!r}")


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def _cpu(obj: Any) -> Any:
    """Deep copy with every tensor detached and on the CPU (a snapshot for the checkpoint)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return copy.deepcopy(obj)


def _seg_state(net: nn.Module, s: int) -> dict[str, torch.Tensor]:
    return {f"{s}.{k}": v for k, v in _cpu(net.state_dict()).items()}


def _fresh(cfg: TrainConfig, grid: Any, ghash: str, grid_path: Path) -> dict[str, Any]:
    """A new checkpoint dict: split, scaling, σ_m, seeded initial weights."""
    segments = split_segments(len(grid.wavelength), cfg.segments)
    train, test = split_indices(len(grid), cfg.test_fraction, cfg.split_seed)
    lo, hi = label_scaling(grid.labels[train])
    if grid.gradients is not None:
        sigma = gradient_sigma(grid.gradients, train)
    else:
        sigma = np.full(N_LABELS, np.nan)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        nets = nn.ModuleList(build_network(cfg.model, b - a) for a, b in segments)
    if not cfg.plain and cfg.label_init == "sensitivity":
        sens = np.nan_to_num(sigma * (hi - lo))
        factor = torch.as_tensor(sens / sens.max(), dtype=torch.float32)
        with torch.no_grad():
            for net in nets:
                net.input_layer().weight.mul_(factor[None, :])
    state = _cpu(nets.state_dict())
    n_seg = len(segments)
    return {
        "format": FORMAT,
        "kind": cfg.kind,
        "model_config": as_dict(cfg.model),
        "train_config": cfg.to_dict(),
        "label_names": list(grid.label_names),
        "label_min": torch.as_tensor(lo),
        "label_max": torch.as_tensor(hi),
        "wavelength": torch.as_tensor(grid.wavelength),
        "segments": [list(s) for s in segments],
        "best_state": _cpu(state),
        "state": state,
        "optimizer": None,
        "scheduler": None,
        "progress": {
            "segment": 0,
            "epoch": 0,
            "best_test": [float("inf")] * n_seg,
            "best_epoch": [-1] * n_seg,
            "finished": False,
        },
        "history": [{k: [] for k in HISTORY_KEYS} for _ in range(n_seg)],
        "grid_hash": ghash,
        "grid_path": str(grid_path),
        "split": {
            "seed": cfg.split_seed,
            "train": torch.as_tensor(train),
            "test": torch.as_tensor(test),
        },
        "grad_sigma": torch.as_tensor(sigma),
        "phdl_version": __version__,
    }


def _first_difference(old: dict, new: dict, prefix: str = "") -> str | None:
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = _first_difference(a, b, f"{prefix}{key}.")
            if found:
                return found
        elif a != b:
            return f"{prefix}{key}={a!r}, requested {b!r}"
    return None


class CheckpointMismatch(ValueError):
    """``out_path`` holds something other than a checkpoint of this very run; ``reason`` says
    what differs (the message adds what to do about it)."""

    def __init__(self, reason: str, hint: str = "delete it or choose another output path"):
        super().__init__(f"{reason}; {hint}")
        self.reason = reason


def _existing(out: Path, cfg: TrainConfig, grid: Any, ghash: str) -> dict[str, Any] | None:
    """The checkpoint at ``out`` if it continues this very run; None if there is none.
    :class:`CheckpointMismatch` if it belongs to another run or is not a checkpoint."""
    if not out.exists():
        return None
    try:
        ckpt = torch.load(out, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure means: not our checkpoint
        ckpt = None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointMismatch(f"{out} exists and is not a phdl model checkpoint")
    try:
        check_compatible(ckpt["label_names"], np.asarray(ckpt["wavelength"]), grid,
                         f"checkpoint {out}")  # fmt: skip
    except ValueError as exc:
        raise CheckpointMismatch(str(exc)) from exc
    if ckpt["grid_hash"] != ghash:
        raise CheckpointMismatch(
            f"checkpoint {out} was trained on another grid ({ckpt['grid_path']}): the grid hash "
            f"{ckpt['grid_hash'][:12]} differs from {grid.path}'s {ghash[:12]}"
        )
    diff = _first_difference(ckpt["train_config"], cfg.to_dict())
    if diff:
        raise CheckpointMismatch(f"checkpoint {out} was made with {diff}")
    return ckpt


def train(
    grid_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    config: TrainConfig | str | None = None,
    *,
    progress: bool = True,
    callback: Callable[[dict[str, Any]], None] | None = None,
    checkpoint_seconds: float = 60.0,
    device: str | torch.device = "cpu",
    replace: bool = False,
) -> Path:
    """Train an emulator on the grid file ``grid_path``; write the checkpoint ``out_path``.

    ``config``: a :class:`TrainConfig` (default: the paper's), or a profile name of
    :func:`phdl.train.preset`. If ``out_path`` holds a finished checkpoint of the same grid and
    config it is returned at once; an unfinished one is resumed; any other file is an error,
    unless ``replace`` is True: then it is retrained from scratch (with a warning naming what
    differed) and overwritten when the first new checkpoint is saved (the book uses this, so
    that changed code or parameters retrain instead of stopping the chapter).
    ``callback(record)`` is called after every epoch with that epoch's history record (plus
    ``segment``). Returns ``out_path``; load it with :func:`phdl.emulator.load`.
    """
    cfg = resolve_config(config)
    grid_path, out = Path(grid_path), check_writable(out_path)
    grid = read_grid(grid_path)
    if not cfg.plain and grid.gradients is None:
        raise ValueError(
            f"{grid_path} has no 'gradients' dataset, which the gradient loss L_grad needs; "
            "train the plain model (plain=True, --plain) or make the grid with gradients"
        )
    ghash = grid_hash(grid_path)
    try:
        ckpt = _existing(out, cfg, grid, ghash)
    except CheckpointMismatch as exc:
        if not replace:
            raise
        warnings.warn(f"{exc.reason}; retraining from scratch (replace=True)", stacklevel=2)
        ckpt = None
    if ckpt is not None and ckpt["progress"]["finished"]:
        return out
    if ckpt is None:
        ckpt = _fresh(cfg, grid, ghash, grid_path)
    if cfg.plain and not cfg.monitor_grad:
        grid.gradients = None  # not needed: spare the memory
    split = ckpt["split"]
    lo, hi = np.asarray(ckpt["label_min"]), np.asarray(ckpt["label_max"])
    data = TrainData.build(
        grid, np.asarray(split["train"]), np.asarray(split["test"]), lo, hi,
        np.asarray(ckpt["grad_sigma"]), device,
    )  # fmt: skip
    segments = [tuple(s) for s in ckpt["segments"]]
    nets = nn.ModuleList(build_network(cfg.model, b - a) for a, b in segments)
    nets.load_state_dict(ckpt["state"])
    nets.to(device)
    saver = _Saver(out, checkpoint_seconds)
    try:
        for s in range(ckpt["progress"]["segment"], len(segments)):
            _train_segment(s, nets, data, grid.wavelength, cfg, ckpt, saver, progress, callback)
    except KeyboardInterrupt:
        saver.save(ckpt)  # the snapshot of the last finished epoch
        raise
    ckpt["progress"]["finished"] = True
    ckpt["optimizer"] = ckpt["scheduler"] = None
    ckpt["state"] = _cpu(ckpt["best_state"])
    saver.save(ckpt)
    return out


class _Saver:
    """Atomic checkpoint writes, at most every ``every`` seconds unless forced."""

    def __init__(self, path: Path, every: float):
        self.path, self.every, self.last = path, every, time.monotonic()

    def save(self, ckpt: dict[str, Any]) -> None:
        with atomic_path(self.path) as tmp:
            torch.save(ckpt, tmp)
        self.last = time.monotonic()

    def maybe(self, ckpt: dict[str, Any]) -> None:
        if time.monotonic() - self.last >= self.every:
            self.save(ckpt)


def _train_segment(
    s: int,
    nets: nn.ModuleList,
    data: TrainData,
    wavelength: np.ndarray,
    cfg: TrainConfig,
    ckpt: dict[str, Any],
    saver: _Saver,
    progress: bool,
    callback: Callable[[dict[str, Any]], None] | None,
) -> None:
    """Train network ``s`` on its pixel range until ``cfg.epochs`` or early stopping."""
    from tqdm import tqdm  # plain bar: widget bars do not survive papermill execution

    a, b = ckpt["segments"][s]
    n_seg, net, prog, hist = b - a, nets[s], ckpt["progress"], ckpt["history"][s]
    dev = data.flux.device
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=cfg.lr_min)
    if prog["epoch"] > 0 and ckpt["optimizer"] is not None:
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
    enc = None
    if cfg.kind == "transformer":
        enc = net.query(torch.as_tensor(wavelength[a:b])).to(torch.float32).to(dev)

    def query(pix: torch.Tensor) -> torch.Tensor | None:
        if enc is not None:
            return enc[pix - a]
        return None if len(pix) == n_seg else pix - a

    seg_pix = torch.arange(a, b, device=dev)
    eval_pix = seg_pix
    if 0 < cfg.eval_pixels < n_seg:
        pick = np.random.default_rng([cfg.seed, s, 1]).choice(n_seg, cfg.eval_pixels, replace=False)
        eval_pix = torch.as_tensor(np.sort(pick) + a, device=dev)
    test_grad = data.gradients is not None and (not cfg.plain or cfg.monitor_grad)
    pps, k, n_train = cfg.pixels_per_step, cfg.grad_labels, len(data.train)
    label = f"{cfg.kind}{' plain' if cfg.plain else ''}"
    if len(ckpt["segments"]) > 1:
        label += f" seg {s + 1}/{len(ckpt['segments'])}"
    bar = tqdm(total=cfg.epochs, initial=prog["epoch"], desc=label, unit="ep", disable=not progress)
    last_test = float("nan")
    with bar:
        for epoch in range(prog["epoch"], cfg.epochs):
            if epoch > 0 and epoch - 1 - prog["best_epoch"][s] >= cfg.patience:
                break  # early stopping: no better test loss for `patience` epochs
            t0 = time.perf_counter()
            g = torch.Generator().manual_seed(_seed(cfg.seed, s, epoch))
            order = data.train[torch.randperm(n_train, generator=g).to(dev)]
            lr = opt.param_groups[0]["lr"]
            sums = np.zeros(3)
            for i in range(0, n_train, cfg.batch_size):
                rows = order[i : i + cfg.batch_size]
                pix = seg_pix
                if 0 < pps < n_seg:
                    pix = (torch.randperm(n_seg, generator=g)[:pps].sort().values + a).to(dev)
                which = None
                if not cfg.plain and epoch >= cfg.grad_warmup:
                    which = (
                        torch.arange(N_LABELS)
                        if k == N_LABELS
                        else torch.randperm(N_LABELS, generator=g)[:k].sort().values
                    )
                    which = which.to(dev)
                q = query(pix)
                opt.zero_grad(set_to_none=True)
                mb = cfg.micro_batch or len(rows)
                for j in range(0, len(rows), mb):
                    r = rows[j : j + mb]
                    loss, spec, grad = batch_loss(
                        net,
                        data,
                        r,
                        pix,
                        q,
                        which,
                        cfg.grad_weight,
                        norm=cfg.grad_norm,
                        grad_rows=cfg.grad_batch,
                    )
                    (loss * (len(r) / len(rows))).backward()
                    gval = grad.item() if grad is not None else float("nan")
                    sums += np.array([loss.item(), spec.item(), gval]) * len(r)
                opt.step()
            sched.step()
            t_spec = t_grad = t_loss = float("nan")
            if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
                t_spec, t_grad = evaluate(
                    net,
                    data,
                    data.test,
                    eval_pix,
                    query(eval_pix),
                    with_grad=test_grad,
                    norm=cfg.grad_norm,
                )
                t_loss = t_spec + (0.0 if cfg.plain else cfg.grad_weight * t_grad)
                last_test = t_loss
            tr = sums / n_train
            rec = dict(
                zip(
                    HISTORY_KEYS,
                    [epoch + 1, lr, *map(float, tr), t_loss, t_spec, t_grad],
                    strict=False,
                )
            )
            rec["seconds"] = time.perf_counter() - t0
            for key in HISTORY_KEYS:
                hist[key].append(rec[key])
            if t_loss < prog["best_test"][s]:
                prog["best_test"][s], prog["best_epoch"][s] = t_loss, epoch
                ckpt["best_state"].update(_seg_state(net, s))
            prog["epoch"] = epoch + 1
            ckpt["state"].update(_seg_state(net, s))
            ckpt["optimizer"], ckpt["scheduler"] = _cpu(opt.state_dict()), sched.state_dict()
            saver.maybe(ckpt)
            bar.update(1)
            bar.set_postfix(
                loss=f"{tr[0]:.4g}",
                spec=f"{tr[1]:.4g}",
                grad=f"{tr[2]:.4g}",
                test=f"{last_test:.4g}",
                best=f"{prog['best_test'][s]:.4g}",
            )
            if callback is not None:
                callback({**rec, "segment": s})
    best = {k[len(f"{s}.") :]: v for k, v in ckpt["best_state"].items() if k.startswith(f"{s}.")}
    net.load_state_dict(best)
    ckpt["state"].update(_seg_state(net, s))
    prog["segment"], prog["epoch"] = s + 1, 0
    ckpt["optimizer"] = ckpt["scheduler"] = None
    saver.save(ckpt)
