"""Fitting strategies side by side on the engine's own spectra: σ, bias, χ² and seconds per star.

    .venv/bin/python benchmarks/bench_strategies.py --grid runs/quick/grid.h5 \
        --model runs/quick/phdlspec.pt --stars val --n 64 --strategies fast,two-stage

The stars are rows of the grid (``--stars val``, the default: the model's validation rows, for
choosing settings such as the fast strategy's fallback threshold; ``--stars train``: its
training rows; ``--stars test``: its held-out test rows, for reporting only). Their ab initio
spectra are observed as in chapter 3 (:func:`phdl.observe.observe` at ``--snr`` with 0.15 dex
scatter, ``--seed``), the six unfitted labels held at the truth. ``--fallback X`` sets the fast
strategy's fallback_chi2 (default inf: Levenberg–Marquardt alone); ``--start-model MLP.pt`` its
start model; ``--lm-iter 3,30`` fits the fast strategy once per value (named "fast/3",
"fast/30"). ``--flags K`` also times errors + flags of the first K stars per strategy. Prints
markdown tables; ``--save PATH.npz`` keeps per-star χ² and labels."""

from __future__ import annotations

import argparse
import time

import numpy as np

from phdl.emulator import load
from phdl.fit import FITTED, fit_spectra
from phdl.grid import read_grid
from phdl.labels import GROUP_I
from phdl.observe import observe
from phdl.strategies import accuracy_verdict, cost_table, side_by_side
from phdl.uncertainty import add_uncertainties


def _markdown(table) -> str:
    cols = table.colnames
    lines = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for row in table:
        cells = []
        for c in cols:
            v = row[c]
            cells.append(f"{v:.3f}" if isinstance(v, float | np.floating) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--stars", choices=["train", "val", "test"], default="val",
                   help="whose spectra: tune on val (or train), report on test")  # fmt: skip
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--snr", type=float, default=100.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strategies", default="fast,two-stage")
    p.add_argument("--fallback", type=float, default=None)
    p.add_argument("--start-model", default=None)
    p.add_argument("--lm-iter", default="")
    p.add_argument("--flags", type=int, default=0)
    p.add_argument("--save", default=None)
    args = p.parse_args()

    grid = read_grid(args.grid)
    model = load(args.model)
    rows = {"train": model.train_indices, "val": model.val_indices, "test": model.test_indices}
    rows = rows[args.stars]
    rows = np.sort(rows)[: args.n]
    truth = grid.labels[rows]
    flux, ivar, _ = observe(grid.flux[rows], args.snr, 0.15, args.seed)
    tables, seconds, flag_s = {}, {}, {}
    fast = {}
    if args.fallback:
        fast["fallback_chi2"] = args.fallback
    if args.start_model:
        fast["start_model"] = load(args.start_model)
    runs = []
    for strategy in args.strategies.split(","):
        if strategy == "fast" and args.lm_iter:
            runs += [(f"fast/{k}", "fast", {**fast, "lm_iter": int(k)})
                     for k in args.lm_iter.split(",")]  # fmt: skip
        else:
            runs.append((strategy, strategy, fast if strategy == "fast" else {}))
    for strategy, kind, kw in runs:
        t0 = time.perf_counter()
        tables[strategy] = fit_spectra(model, grid.wavelength, flux, ivar, strategy=kind,
                                       held=truth, seed=args.seed, progress=False,
                                       **kw)  # fmt: skip
        seconds[strategy] = time.perf_counter() - t0
        if args.flags:
            k = args.flags
            t0 = time.perf_counter()
            add_uncertainties(tables[strategy][:k], model, flux[:k], ivar[:k], flags=True)
            flag_s[strategy] = (time.perf_counter() - t0) / k
    names = list(FITTED)
    cols = [grid.label_names.index(n) for n in names]
    side = side_by_side(truth[:, cols], tables, names)
    print(f"{len(rows)} {args.stars} stars, S/N {args.snr:g}, seed {args.seed}\n")
    print(_markdown(cost_table(tables, seconds)), "\n")
    print(_markdown(side), "\n")
    core = [n for n in names if n in GROUP_I]
    for name in tables:
        if name.startswith("fast") and "two-stage" in tables:
            verdict = accuracy_verdict(side, core, name)
            missed = [n for n, ok in verdict.items() if not ok]
            print(f"{name} within 10 % of two-stage σ: {len(verdict) - len(missed)} of "
                  f"{len(verdict)}; missed: {missed}")  # fmt: skip
    for s, t in flag_s.items():
        print(f"errors + flags, {s}: {t:.2f} s/star")
    if args.save:
        np.savez(args.save, rows=rows, **{f"chisq_{s}": np.asarray(t["Chisq"])
                                          for s, t in tables.items()})  # fmt: skip


if __name__ == "__main__":
    main()
