"""Emulator throughput vs the engine, and the cost and effect of the gradient loss.

Usage: .venv/bin/python benchmarks/bench_emulator.py [--grid runs/quick/grid.h5]
       [--epochs-transformer 20] [--epochs-mlp 100] [--skip-training]

Prints markdown table rows (for BENCHMARKS.md):
1. spectra/s and Jacobians/s (34 gradient spectra each) of the emulators at batch 1, 64 and
   1024 (Transformer quick and full configs, MLP), untrained weights (the cost does not depend
   on them), 3800 pixels; and the engine's spectra/s (``Synthesizer(compile=False)``) in the
   same run;
2. seconds per training epoch on the grid (default runs/quick/grid.h5, 320 spectra) with the
   quick presets, for each model and way of computing the gradient term:
   plain (no L_grad), hand-written forward mode with all 34 labels ("manual, k=34"), with a
   random subset of k labels ("manual, k=8 / k=4"), and torch.func (vmap of jvp, k=34);
3. the effect: after the same number of epochs from the same initialization, the validation-set
   flux residual σ and the relative RMS error of the 34 gradient spectra,
   ||J - G|| / ||G|| (median over labels), for plain vs the subset and full gradient terms.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from phdl.emulator import MLPConfig, build_network, load
from phdl.emulator.model import Emulator, split_segments
from phdl.grid import read_grid, sample_labels
from phdl.labels import LABELS, LOWER, UPPER
from phdl.train import PRESETS, train


def _emulator(config, wavelength: np.ndarray, n_segments: int = 1) -> Emulator:
    segments = split_segments(len(wavelength), n_segments)
    torch.manual_seed(0)
    nets = nn.ModuleList(build_network(config, b - a) for a, b in segments)
    return Emulator(config, nets, wavelength, segments, LABELS, LOWER, UPPER)


def _rate(fn, n: int, min_time: float = 1.0, warm=None) -> float:
    (warm or fn)()  # warm-up
    done, t0 = 0, time.perf_counter()
    while True:
        fn()
        done += n
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return done / dt


def throughput(wavelength: np.ndarray) -> None:
    print("\n| model | batch | spectra/s | Jacobians/s (34 × n_pix) |")
    print("| --- | --- | --- | --- |")
    models = {
        "Transformer quick": _emulator(PRESETS["quick"]["transformer"].model, wavelength),
        "Transformer full (paper, 11 segments)": _emulator(
            PRESETS["full"]["transformer"].model, wavelength, 11
        ),
        "MLP (Payne, 300)": _emulator(MLPConfig(hidden=300), wavelength),
    }
    # the paper-size Transformer costs ~3 GMAC per spectrum (3800 pixels): on a 2-core CPU its
    # batch-1024 spectra and batch >= 64 Jacobians take minutes per call and are left out
    # (and so do the quick Transformer's batch-1024 Jacobians; the Transformers' Jacobians run
    # in blocks of one spectrum at a time whatever the batch, so their rate does not change)
    skip = {
        "Transformer full (paper, 11 segments)": ({1024}, {64, 1024}),
        "Transformer quick": (set(), {1024}),
    }
    for name, emu in models.items():
        no_flux, no_jac = skip.get(name, (set(), set()))
        for batch in (1, 64, 1024):
            labels = sample_labels(batch, 7)
            cells = []
            # (method, skipped batches, warm-up size, digits): spectra/s, then Jacobians/s
            for fn, skipped, n_warm, digits in (
                (emu.predict, no_flux, 2, 1),
                (emu.jacobian, no_jac, 1, 2),
            ):
                if batch in skipped:
                    cells.append("—")
                    continue
                rate = _rate(partial(fn, labels), batch, warm=partial(fn, labels[:n_warm]))
                cells.append(f"{rate:,.{digits}f}")
            print(f"| {name} | {batch} | {cells[0]} | {cells[1]} |")


def engine_rate() -> float:
    from phdl.synth import Synthesizer

    syn = Synthesizer(compile=False)
    x = sample_labels(8, 11)
    syn(x[:2])  # warm-up
    t0 = time.perf_counter()
    syn(x)
    return len(x) / (time.perf_counter() - t0)


def _errors(path: Path, grid) -> tuple[float, float, float]:
    emu = load(path)
    te = emu.val_indices  # the sweep chooses grad_labels: validation stars, never test stars
    resid = emu.predict(grid.labels[te]) - grid.flux[te]
    jac = emu.jacobian(grid.labels[te[:16]]).astype(np.float64)
    true = grid.gradients[te[:16]].astype(np.float64)
    rel = np.sqrt(((jac - true) ** 2).sum(axis=(0, 2)) / (true**2).sum(axis=(0, 2)))
    return float(resid.std()), float(np.median(rel)), float(rel[0])


def epochs(grid_path: Path, n_epochs: dict[str, int]) -> None:
    grid = read_grid(grid_path)
    print(f"\n# training: {grid_path} ({len(grid)} spectra × {len(grid.wavelength)} pixels), "
          f"quick presets, epochs {n_epochs}, same seed and split")  # fmt: skip
    print("| model | gradient term | s/epoch | val σ | grad rel. RMS (median) | Teff |")
    print("| --- | --- | --- | --- | --- | --- |")
    variants = [
        ("plain", {"plain": True}),
        ("manual, k=4", {"plain": False, "grad_labels": 4}),
        ("manual, k=8", {"plain": False, "grad_labels": 8}),
        ("manual, k=34 (full)", {"plain": False, "grad_labels": 34}),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("transformer", "mlp"):
            n = n_epochs[kind]
            base = PRESETS["quick"][kind].replace(epochs=n, patience=n, eval_every=n)
            for v, (label, change) in enumerate(variants):
                cfg = dataclasses.replace(base, **change)
                out = Path(tmp) / f"{kind}-{v}.pt"
                t0 = time.perf_counter()
                train(grid_path, out, cfg, progress=False)
                hist = load(out).history[0]
                per_epoch = float(np.median(hist["seconds"]))  # the last epoch also evaluates
                sigma, rel, rel_teff = _errors(out, grid)
                name = f"{kind} quick, {n} ep"
                print(
                    f"| {name} | {label} | {per_epoch:.2f} | {sigma:.4f} | {rel:.3f} | "
                    f"{rel_teff:.3f} |  <!-- {time.perf_counter() - t0:.0f} s -->"
                )
        # torch.func: timing of one training step only (its weight gradients through
        # LayerNorm are wrong in torch 2.13, see phdl.emulator.flux_and_jacobian)
        step_time(grid)


def step_time(grid) -> None:
    from phdl.train.data import TrainData, gradient_sigma, label_scaling
    from phdl.train.loss import batch_loss

    idx = np.arange(len(grid))
    lo, hi = label_scaling(grid.labels)
    data = TrainData.build(grid, idx, idx, lo, hi, gradient_sigma(grid.gradients, idx))
    cfg = PRESETS["quick"]["transformer"]
    print("\n| one training step (Transformer quick, batch 8, 128 pixels) | s/step |")
    print("| --- | --- |")
    net = build_network(cfg.model, len(grid.wavelength))
    enc = net.query(torch.as_tensor(grid.wavelength)).float()
    rows, pix = torch.arange(8), torch.arange(0, len(grid.wavelength), 30)[:128]
    for label, which, method in [
        ("plain", None, "manual"),
        ("manual, k=34", torch.arange(34), "manual"),
        ("torch.func vmap(jvp), k=34", torch.arange(34), "torch.func"),
    ]:

        def step(which=which, method=method):
            loss = batch_loss(net, data, rows, pix, enc[pix], which, method=method)[0]
            loss.backward()

        print(f"| {label} | {1.0 / _rate(step, 1, 2.0):.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", type=Path, default=Path("runs/quick/grid.h5"))
    ap.add_argument("--epochs-transformer", type=int, default=20, help="epochs per variant")
    ap.add_argument("--epochs-mlp", type=int, default=100, help="epochs per variant")
    ap.add_argument("--skip-training", action="store_true")
    args = ap.parse_args()
    cpu = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    print(f"# {platform.node()} {cpu}, {threads} threads, torch {torch.__version__}")
    if args.grid.exists():
        wavelength = read_grid(args.grid, gradients=False).wavelength
    else:
        wavelength = 10 ** (np.log10(3750.0) + 1e-4 * np.arange(3800))
    eng = engine_rate()
    print(f"\nengine (phdl.synth, compile=False): {eng:.2f} spectra/s, batch 8")
    throughput(wavelength)
    if not args.skip_training:
        if not args.grid.exists():
            raise SystemExit(f"{args.grid} not found: make it with phdl grid, or --skip-training")
        epochs(args.grid, {"transformer": args.epochs_transformer, "mlp": args.epochs_mlp})


if __name__ == "__main__":
    main()
