"""Fitting throughput: emulator evaluations per star, stars per second at batch 1 and 64 (two-stage
and full), and the cost of the quality-flag χ² scans and the Jacobian errors.

    .venv/bin/python benchmarks/bench_fit.py                       # the analytic toy emulator
    .venv/bin/python benchmarks/bench_fit.py --model runs/quick/phdlspec.pt --grid GRID

(GRID: the model's training grid, e.g. runs/quick/grid.h5.)

The spectra are the model's own (flux = model.predict(truth) + Gaussian noise at --snr, the
unfitted labels held at their true values), so what is measured is the optimizer, not the
emulator's accuracy: the last column, χ² of the fit minus χ² of the truth (total, not
reduced), is about -k (k fitted labels) at convergence and positive if the fit stopped short.
Truth: the model's held-out test rows of --grid if given, else phdl.grid.sample_labels.
Nothing is trained or written. Prints markdown rows.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from phdl.fit import ToyModel, add_noise, chi2, fit_spectra
from phdl.grid import sample_labels
from phdl.uncertainty import add_uncertainties


def _truth(model, grid_path: str | None, n: int) -> np.ndarray:
    if grid_path:
        from phdl.grid import read_grid

        grid = read_grid(grid_path)
        rows = getattr(model, "test_indices", np.arange(0))
        rows = rows if len(rows) else np.arange(len(grid))
        return np.asarray(grid.labels)[np.sort(rows)[:n]]
    return sample_labels(n, 2024)


def _row(name, strategy, batch, table, seconds, chi_truth, n_pix) -> str:
    n = len(table)
    dchi = np.median((np.asarray(table["Chisq"]) - chi_truth[:n]) * n_pix)
    return (
        f"| {name} | {strategy} | {batch} | {n} | {np.mean(table['n_eval']):.0f} | "
        f"{np.mean(table['n_iter']):.0f} | {seconds / n:.2f} | {n / seconds:.3f} | {dchi:+.1f} |"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="trained checkpoint (default: the analytic ToyModel)")
    p.add_argument("--grid", help="grid file for the truth labels (the model's test rows)")
    p.add_argument("--n", type=int, default=16, help="stars at batch 64 (default 16)")
    p.add_argument("--n-single", type=int, default=4, help="stars at batch 1 (default 4)")
    p.add_argument("--n-flags", type=int, default=4, help="stars for the flag scans (default 4)")
    p.add_argument("--snr", type=float, default=100.0)
    p.add_argument("--strategies", default="two-stage,full")
    args = p.parse_args(argv)

    if args.model:
        from phdl.emulator import load

        model, name = load(args.model), os.path.basename(args.model)
    else:
        model, name = ToyModel(n_pix=3800, seed=0), "toy (3800 px)"
    import torch

    truth = _truth(model, args.grid, args.n)
    clean_flux = model.predict(truth)
    flux, ivar = add_noise(clean_flux, args.snr, seed=1)
    chi_truth = chi2(clean_flux, flux, ivar)
    n_pix = flux.shape[1]
    print(
        f"model: {name}; {len(truth)} stars, S/N {args.snr:g}; torch threads "
        f"{torch.get_num_threads()}, {os.cpu_count()} CPUs\n"
    )
    print(
        "| model | strategy | batch | stars | evals/star | generations/star | s/star | "
        "stars/s | median Δχ² fit − truth (total) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    tables = {}
    for strategy in args.strategies.split(","):
        for batch, n in ((64, len(truth)), (1, min(args.n_single, len(truth)))):
            t0 = time.perf_counter()
            table = fit_spectra(
                model, model.wavelength, flux[:n], ivar[:n], strategy=strategy,
                held=truth[:n], batch_size=batch, progress=False,
            )  # fmt: skip
            dt = time.perf_counter() - t0
            tables.setdefault(strategy, table)
            print(_row(name, strategy, min(batch, n), table, dt, chi_truth, n_pix), flush=True)

    n = min(args.n_flags, len(truth))
    table = next(iter(tables.values()))[:n]
    flux_f, ivar_f = flux[:n], ivar[:n]
    t0 = time.perf_counter()
    add_uncertainties(table, model, flux_f, ivar_f, flags=False)
    t_err = time.perf_counter() - t0
    t0 = time.perf_counter()
    add_uncertainties(table, model, flux_f, ivar_f, flags=True)
    t_all = time.perf_counter() - t0
    per = len(table)
    print(
        f"\n| model | stars | errors (Jacobian + covariance) s/star | flags (28 labels x 50-point "
        f"χ² scans = 1400 spectra) s/star |\n| --- | --- | --- | --- |\n"
        f"| {name} | {per} | {t_err / per:.3f} | {(t_all - t_err) / per:.3f} |"
    )


if __name__ == "__main__":
    main()
