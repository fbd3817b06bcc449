"""`phdl catalog` throughput: stars per second per strategy and number of Dask workers, and the
paper's 116,611 stars projected from them (an extrapolation, labelled so).

    .venv/bin/python benchmarks/bench_catalog.py --grid runs/quick/grid.h5 \
        --model runs/quick/phdlspec.pt --start-model runs/quick/mlp.pt --n 64 \
        --workers 1,2 --strategies fast,two-stage

The spectra are the model's training stars of --grid observed at --snr (chapter 3's
:func:`phdl.observe.observe`), written to an HDF5 file in a temporary folder; each run fits,
adds errors and screened flags, and writes the catalogue there (a fresh shard folder each
time). The wall time includes the LocalCluster's start (workers import torch and load the
model); ``--shard-size`` defaults to n / (2 × workers), so every worker gets work. Prints
markdown rows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from phdl.catalog import make_job, run_catalog
from phdl.emulator import load
from phdl.fit import write_spectra
from phdl.grid import read_grid
from phdl.observe import observe
from phdl.paper import CATALOG_STARS


def _spectra(grid_path: str, model_path: str, n: int, snr: float, out: Path) -> Path:
    grid = read_grid(grid_path)
    rows = np.sort(load(model_path).train_indices)[:n]
    flux, ivar, _ = observe(grid.flux[rows], snr, 0.15, 0)
    return write_spectra(out, grid.wavelength, flux, ivar)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--snr", type=float, default=100.0)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--strategies", default="fast,two-stage")
    p.add_argument("--shard-size", type=int, default=0)
    p.add_argument("--no-flags", action="store_true")
    p.add_argument("--start-model", default=None, help="the fast strategy's start model")
    args = p.parse_args()
    print("| strategy | workers | stars | shard size | wall (s) | stars / s | "
          f"{CATALOG_STARS:,} stars, this machine | per machine of N |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        spectra = _spectra(args.grid, args.model, args.n, args.snr, Path(tmp) / "spectra.h5")
        for strategy in args.strategies.split(","):
            for workers in map(int, args.workers.split(",")):
                out = Path(tmp) / f"cat-{strategy}-{workers}.fits"
                size = args.shard_size or max(1, args.n // (2 * workers))
                start = args.start_model if strategy == "fast" else None
                job = make_job(args.model, spectra, out, strategy=strategy,
                               flags=not args.no_flags, start_model=start)  # fmt: skip
                t0 = time.perf_counter()
                run = run_catalog(job, out, shard_size=size, workers=workers, progress=False)
                wall = time.perf_counter() - t0
                assert run.path is not None, run.failed
                rate = args.n / wall
                hours = CATALOG_STARS / rate / 3600
                print(f"| {strategy} | {workers} | {args.n} | {size} | {wall:.1f} | "
                      f"{rate:.3f} | {hours:.1f} h (extrapolated) | "
                      f"{hours:.1f} h / N (extrapolated) |")  # fmt: skip


if __name__ == "__main__":
    main()
