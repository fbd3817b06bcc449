"""Training entry point: a fresh or resumed checkpoint, then each segment in turn.

The epochs of one segment (early stopping, keep-best) are :func:`phdl.train.segment.train_segment`.

One checkpoint file per model (see :data:`phdl.emulator.CHECKPOINT_KEYS`), rewritten atomically
(:func:`phdl.atomic.atomic_path`) at most every ``checkpoint_seconds``, at the end of each
segment, at the end, and on KeyboardInterrupt (with the state of the last finished epoch).
Calling :func:`train` again with the same grid, output and config resumes where it stopped;
every random choice of an epoch is seeded by (seed, segment, epoch), so an interrupted and
resumed run follows the same schedule as an uninterrupted one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from phdl import __version__
from phdl.emulator.config import as_dict
from phdl.emulator.model import (
    FORMAT,
    build_network,
    check_compatible,
    check_format,
    split_segments,
)
from phdl.grid import check_writable, grid_hash, read_grid
from phdl.labels import N_LABELS
from phdl.train.config import TrainConfig, preset
from phdl.train.data import TrainData, gradient_sigma, label_scaling, split_indices
from phdl.train.segment import HISTORY_KEYS, Saver, snapshot, train_segment


def resolve_config(config: TrainConfig | str | None) -> TrainConfig:
    """None -> the paper's :class:`TrainConfig`; a profile name -> its Transformer preset."""
    if config is None:
        return TrainConfig()
    if isinstance(config, str):
        return preset(config)
    if isinstance(config, TrainConfig):
        return config
    raise ValueError(f"config must be a TrainConfig, a profile name or None, got {config!r}")


def _fresh(cfg: TrainConfig, grid: Any, ghash: str, grid_path: Path) -> dict[str, Any]:
    """A new checkpoint dict: split, scaling, σ_m, seeded initial weights.

    The scaling and σ_m come from the training rows alone."""
    segments = split_segments(len(grid.wavelength), cfg.segments)
    train, val, test = split_indices(len(grid), cfg.test_fraction, cfg.split_seed,
                                     cfg.val_fraction)  # fmt: skip
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
    state = snapshot(nets.state_dict())
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
        "best_state": snapshot(state),
        "state": state,
        "optimizer": None,
        "scheduler": None,
        "progress": {
            "segment": 0,
            "epoch": 0,
            "best_val": [float("inf")] * n_seg,
            "best_epoch": [-1] * n_seg,
            "finished": False,
        },
        "history": [{k: [] for k in HISTORY_KEYS} for _ in range(n_seg)],
        "grid_hash": ghash,
        "grid_path": str(grid_path),
        "split": {
            "seed": cfg.split_seed,
            "train": torch.as_tensor(train),
            "val": torch.as_tensor(val),
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
    try:
        check_format(ckpt, f"{out} exists and")
    except ValueError as exc:
        raise CheckpointMismatch(str(exc)) from None
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
        grid, np.asarray(split["train"]), np.asarray(split["val"]), lo, hi,
        np.asarray(ckpt["grad_sigma"]), device,
    )  # fmt: skip
    segments = [tuple(s) for s in ckpt["segments"]]
    nets = nn.ModuleList(build_network(cfg.model, b - a) for a, b in segments)
    nets.load_state_dict(ckpt["state"])
    nets.to(device)
    saver = Saver(out, checkpoint_seconds)
    try:
        for s in range(ckpt["progress"]["segment"], len(segments)):
            train_segment(s, nets, data, grid.wavelength, cfg, ckpt, saver, progress, callback)
    except KeyboardInterrupt:
        saver.save(ckpt)  # the snapshot of the last finished epoch
        raise
    ckpt["progress"]["finished"] = True
    ckpt["optimizer"] = ckpt["scheduler"] = None
    ckpt["state"] = snapshot(ckpt["best_state"])
    saver.save(ckpt)
    return out
