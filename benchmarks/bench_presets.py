"""Train variants of the quick presets on one grid and print each one's validation-set σ:
how the quick profile's learning rate, batch and gradient-term sizes were chosen.

    .venv/bin/python benchmarks/bench_presets.py                 # plain twin: paper lr vs preset
    .venv/bin/python benchmarks/bench_presets.py \\
        --variant lr3_b16 '{"lr": 0.003, "batch_size": 16}' \\
        --variant phdl '{"plain": false}' --variant mlp '{"mlp": true}'

A variant is a name and a JSON object of :class:`phdl.train.TrainConfig` changes on top of the
quick Transformer preset, plus two switches: "plain" (default true: the plain twin, which trains
2.5x faster than PhDLspec) and "mlp" (the Payne MLP preset instead). Checkpoints go to --out-dir
(finished ones are reused, so a sweep can be interrupted and rerun). σ is that of emulated minus
ab initio flux over every pixel of the model's validation stars (chapter 2's table uses the test
stars, which no sweep may read), "σ hot" over the stars with Teff > 4500 K; the gradient error
is the median over labels of the relative RMS error of the gradient spectra
(``phdl.evaluate.gradient_errors``); "train s" is 0 where a finished checkpoint was reused."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DEFAULT = [("paper_lr", '{"lr": 0.001, "batch_size": 32}'), ("preset", "{}")]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default="runs/quick/grid.h5", help="grid file (with gradients)")
    p.add_argument("--out-dir", default="runs/bench_presets", help="where checkpoints go")
    p.add_argument("--test-fraction", type=float, default=0.2, help="held-out test share")
    p.add_argument("--val-fraction", type=float, default=0.1, help="validation share")
    p.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"))
    args = p.parse_args(argv)
    if not Path(args.grid).exists():
        raise SystemExit(f"{args.grid} does not exist: make it with `make book` or `phdl grid`")

    from phdl.emulator import load
    from phdl.evaluate import gradient_errors, residuals, sigma
    from phdl.grid import read_grid
    from phdl.labels import index
    from phdl.train import preset, train

    grid = read_grid(args.grid)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"grid {args.grid} ({len(grid)} spectra); scored on the validation stars "
          f"({args.val_fraction}), never on the test stars ({args.test_fraction})\n")  # fmt: skip
    print("| variant | changes | σ | σ hot | gradient error | train s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, text in args.variant or DEFAULT:
        changes = json.loads(text)
        plain, mlp = changes.pop("plain", True), changes.pop("mlp", False)
        fractions = {"test_fraction": args.test_fraction, "val_fraction": args.val_fraction}
        cfg = preset("quick", mlp=mlp, plain=plain, **fractions, **changes)
        t0 = time.perf_counter()
        path = train(args.grid, out_dir / f"{name}.pt", cfg, progress=False, replace=True)
        dt = time.perf_counter() - t0
        model = load(path)
        rows = np.sort(model.val_indices)  # a sweep chooses: validation stars only
        res = residuals(model, grid, rows)
        hot = np.asarray(grid.labels)[rows, index("Teff")] > 4500
        err = np.nanmedian(gradient_errors(model, grid, rows))
        print(
            f"| {name} | `{text}` | {sigma(res):.4f} | {sigma(res[hot]):.4f} | {err:.3f} | "
            f"{dt:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
