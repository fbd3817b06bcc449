"""Throughput of the ab initio engine: spectra/s and spectra-with-34-gradients/s.

Usage: .venv/bin/python benchmarks/bench_engine.py [--grid N] [--workers W] [--chunk-size C]
       [--compile 0|1] [--threads T] [--skip-rates] [--atmosphere grey|atlas9]
       [--partition-functions two-level|bc2016] [--linelist PATH|vald]
Prints one markdown table row per measurement (for BENCHMARKS.md). With --grid N it also times
`phdl.grid.make_grid` for N spectra with gradients (the quick profile uses 320) and extrapolates
linearly to the paper's 6,222 spectra; ``--workers W`` runs the grid on W engine processes of one
thread each (0: one per core, the default of ``phdl grid``), ``--skip-rates`` times the grid only.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from phdl.grid import make_grid, sample_labels
from phdl.synth import Physics, Synthesizer


def _rate(syn, x, grads: bool, batch: int, repeat: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        syn(x, with_gradients=grads, batch_size=batch)
    return repeat * len(x) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", type=int, default=0, help="also time make_grid for N spectra")
    ap.add_argument("--compile", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--workers", type=int, default=1, help="make_grid engine processes")
    ap.add_argument("--chunk-size", type=int, default=16, help="make_grid chunk size")
    ap.add_argument("--skip-rates", action="store_true", help="only time make_grid")
    ap.add_argument("--atmosphere", default="grey", help="Physics.atmosphere")
    ap.add_argument("--partition-functions", default="two-level", help="Physics option")
    ap.add_argument("--linelist", default=None, help="Physics.linelist (a path, or vald)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = platform.processor() or platform.machine()
    print(
        f"# {platform.node()} {cpu}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, compile={args.compile}, atmosphere={args.atmosphere}, "
        f"partition functions={args.partition_functions}"
        + (f", line list={args.linelist}" if args.linelist else "")
    )
    t0 = time.perf_counter()
    physics = Physics(atmosphere=args.atmosphere, partition_functions=args.partition_functions,
                      linelist=args.linelist)  # fmt: skip
    syn = Synthesizer(physics, compile=bool(args.compile))
    print(f"engine set-up: {time.perf_counter() - t0:.1f} s ({len(syn.lines)} lines)")
    x = sample_labels(64, 123)
    for grads in () if args.skip_rates else (False, True):
        for batch in (1, 8, 32):
            n = batch if grads else max(batch, 8)
            _rate(syn, x[:n], grads, batch, 1)  # warm-up (and compilation for this shape)
            r = _rate(syn, x[:n], grads, batch, 1 if grads else 2)
            kind = "spectra + 34 gradients" if grads else "spectra"
            print(f"| engine | {kind} | batch {batch} | {r:.2f} spectra/s |")
    if args.grid:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            make_grid(args.grid, 42, Path(tmp) / "g.h5", synthesizer=syn, progress=False,
                      workers=args.workers, chunk_size=args.chunk_size)  # fmt: skip
            dt = time.perf_counter() - t0
        print(
            f"| make_grid, workers={args.workers}, chunks of {args.chunk_size} | "
            f"{args.grid} spectra with gradients | "
            f"{dt:.0f} s | "
            f"{dt / args.grid:.2f} s/spectrum; "
            f"6,222 extrapolated: {dt / args.grid * 6222 / 60:.0f} min |"
        )


if __name__ == "__main__":
    main()
