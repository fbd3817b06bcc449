"""The χ²-scaled CMA-ES stop against the plain Δχ² = 1 stop, on the book's own problem: validation
ab initio spectra (noise at S/N 100; a choice, so never the test stars) fitted with a trained
emulator, two-stage.

Usage: .venv/bin/python benchmarks/bench_fit_tolerance.py [--model runs/quick/phdlspec.pt]
       [--grid runs/quick/grid.h5] [--n 8]

Prints, for ``scale_tol`` off and on: wall time, median evaluations per star, median reduced χ²
and the RMS error against the truth of Teff, logg, [Fe/H], [Mg/Fe], [Ca/Fe].
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from phdl.emulator import load
from phdl.fit import add_noise, fit_spectra
from phdl.grid import read_grid
from phdl.labels import LABELS

SHOWN = ("Teff", "logg", "[Fe/H]", "[Mg/Fe]", "[Ca/Fe]")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="runs/quick/phdlspec.pt")
    p.add_argument("--grid", default="runs/quick/grid.h5")
    p.add_argument("--n", type=int, default=8, help="validation stars (default 8)")
    args = p.parse_args()
    grid, model = read_grid(args.grid), load(args.model)
    test = model.val_indices[: args.n]  # it chooses a tolerance: validation stars only
    truth = grid.labels[test]
    flux, ivar = add_noise(grid.flux[test], 100.0, 0)
    idx = [LABELS.index(n) for n in SHOWN]
    print(f"| scale_tol | s/star | median evals/star | median χ²_r | RMS {', '.join(SHOWN)} |")
    print("| --- | --- | --- | --- | --- |")
    for scale in (False, True):
        t0 = time.perf_counter()
        table = fit_spectra(
            model, grid.wavelength, flux, ivar, held=truth, seed=0, scale_tol=scale,
            progress=False,
        )  # fmt: skip
        dt = (time.perf_counter() - t0) / len(test)
        fit = np.stack([np.asarray(table[n], dtype=float) for n in LABELS], 1)
        rms = np.sqrt(np.mean((fit - truth)[:, idx] ** 2, 0))
        print(
            f"| {scale} | {dt:.1f} | {np.median(table['n_eval']):.0f} | "
            f"{np.median(table['Chisq']):.2f} | {', '.join(f'{r:.3g}' for r in rms)} |"
        )


if __name__ == "__main__":
    main()
