"""The engine's throughput against its batch size, on one label set for every batch size.

Usage: .venv/bin/python benchmarks/bench_engine_batch.py [--n 32] [--gradients]
       [--batches 1,4,8,16,32] [--threads T] [--linelist vald] [--atmosphere atlas9]
       [--partition-functions bc2016]
Prints one markdown row per batch size: spectra/s (or spectra with 34 gradients/s) for the same
``sample_labels(n, 123)`` stars, after one warm-up call per batch size.
"""

from __future__ import annotations

import argparse
import time

import torch

from phdl.grid import sample_labels
from phdl.synth import Physics, Synthesizer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=32, help="stars per timed call")
    ap.add_argument("--gradients", action="store_true", help="with the 34 gradient spectra")
    ap.add_argument("--batches", default="1,4,8,16,32", help="comma-separated batch sizes")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--linelist", default=None, help="Physics.linelist (a path, or vald)")
    ap.add_argument("--atmosphere", default="grey", help="Physics.atmosphere")
    ap.add_argument("--partition-functions", default="two-level", help="Physics option")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    physics = Physics(linelist=args.linelist, atmosphere=args.atmosphere,
                      partition_functions=args.partition_functions)  # fmt: skip
    syn = Synthesizer(physics)
    x = sample_labels(args.n, 123)
    kind = "spectra + 34 gradients" if args.gradients else "spectra"
    print(
        f"# {torch.get_num_threads()} threads, {args.n} stars, {kind}, line list "
        f"{args.linelist or 'built-in'}, {args.atmosphere}, {args.partition_functions}"
    )
    for bs in (int(b) for b in args.batches.split(",")):
        syn(x[:bs], with_gradients=args.gradients, batch_size=bs)  # warm-up, compilation
        t0 = time.perf_counter()
        syn(x, with_gradients=args.gradients, batch_size=bs)
        print(f"| {kind} | batch {bs} | {args.n / (time.perf_counter() - t0):.2f} /s |")


if __name__ == "__main__":
    main()
