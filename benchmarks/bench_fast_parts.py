"""What one star of the fast strategy costs, part by part, on one thread (as a Dask worker).

    .venv/bin/python benchmarks/bench_fast_parts.py                       # plain process
    MALLOC_TRIM_THRESHOLD_=65536 .venv/bin/python benchmarks/bench_fast_parts.py   # as Dask sets it
    MALLOC_TRIM_THRESHOLD_=65536 .venv/bin/python benchmarks/bench_fast_parts.py --mallopt

The first 8 training stars of runs/quick/grid.h5, observed at S/N 100 (chapter 3's
:func:`phdl.observe.observe`), fitted with runs/quick/phdlspec.pt from the MLP start
(runs/quick/mlp.pt); then their Jacobian errors and one predict of 32 spectra. ``--mallopt``
calls :func:`phdl.catalog.shard.tune_malloc` first, as the catalogue's workers do.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from phdl.catalog.shard import tune_malloc
from phdl.emulator import load
from phdl.fit import fit_spectra
from phdl.grid import read_grid
from phdl.observe import observe
from phdl.uncertainty import add_uncertainties


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mallopt", action="store_true")
    p.add_argument("--run", default="runs/quick")
    args = p.parse_args()
    if args.mallopt:
        tune_malloc()
    torch.set_num_threads(1)
    model, mlp = load(f"{args.run}/phdlspec.pt"), load(f"{args.run}/mlp.pt")
    grid = read_grid(f"{args.run}/grid.h5", gradients=False)
    rows = np.sort(model.train_indices)[:8]
    flux, ivar, _ = observe(grid.flux[rows], 100.0, 0.15, 0)
    t0 = time.perf_counter()
    table = fit_spectra(model, grid.wavelength, flux, ivar, strategy="fast", start_model=mlp,
                        progress=False)  # fmt: skip
    t1 = time.perf_counter()
    add_uncertainties(table, model, flux, ivar, flags=False)
    t2 = time.perf_counter()
    model.predict(np.repeat(grid.labels[rows], 4, 0))
    t3 = time.perf_counter()
    print(f"fit {(t1 - t0) / 8:.2f} s/star; errors {(t2 - t1) / 8:.2f} s/star; "
          f"predict {(t3 - t2) / 32 * 1e3:.1f} ms/spectrum")  # fmt: skip


if __name__ == "__main__":
    main()
