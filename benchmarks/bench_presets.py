"""Train variants of the quick presets on one grid and print each one's validation-set σ:
how the quick profile's learning rate, batch and gradient-term sizes were chosen.

    .venv/bin/python benchmarks/bench_presets.py                 # plain twin: paper lr vs preset
    .venv/bin/python benchmarks/bench_presets.py \\
        --variant lr3_b16 '{"lr": 0.003, "batch_size": 16}' \\
        --variant phdl '{"plain": false}' --variant mlp '{"mlp": true}'

A variant is a name and a JSON object of :class:`phdl.train.TrainConfig` changes on top of the
quick Transformer preset (``"model": {"d_model": 128}`` changes its architecture), plus two
switches: "plain" (default true: the plain twin, which trains
2.5x faster than PhDLspec) and "mlp" (the Payne MLP preset instead). Checkpoints go to --out-dir
(finished ones are reused, so a sweep can be interrupted and rerun). σ is that of emulated minus
ab initio flux over every pixel of the model's validation stars (chapter 2's table uses the test
stars, which no sweep may read), "σ hot" over the stars with Teff > 4500 K; the gradient error
is the median over labels of the relative RMS error of the gradient spectra
(``phdl.evaluate.gradient_errors``); "train s" is 0 where a finished checkpoint was reused.

A larger grid, scored on the quick grid's validation stars (which it never saw: another seed):

    .venv/bin/phdl grid --n 640 --seed 7 --out runs/bench_grid640/grid.h5
    .venv/bin/python benchmarks/bench_presets.py --grid runs/bench_grid640/grid.h5 \\
        --score-grid runs/quick/grid.h5 --out-dir runs/bench_grid640 \\
        --variant g640 '{"plain": false}'

The gradient-weight sweep of issue 15 (the weight of L_grad against flux σ and gradient
error, on validation stars; 0 is the plain twin; ``--base`` adds changes to every run):

    .venv/bin/python benchmarks/bench_presets.py --grad-weights 0 1e-4 1e-3 1e-2 1e-1 1 \\
        --out-dir runs/bench_grad_weight --save runs/bench_grad_weight/sweep.json \\
        --plot runs/bench_grad_weight/sweep.png

Columns: σ over all validation pixels and over Teff > 4500 K; the median relative gradient
error over the 34 labels, over the target labels (Teff, logg, [Fe/H] and the Group I [X/Fe],
``phdl.evaluate.GRADIENT_TARGET_LABELS``), and over those labels where the ab initio gradient
matters (|∂f| > ``--matters`` = 0.1 of its maximum).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

DEFAULT = [("paper_lr", '{"lr": 0.001, "batch_size": 32}'), ("preset", "{}")]


def _variants(args) -> list[tuple[str, str]]:
    """The (name, JSON) variants: ``--variant``s, then one per ``--grad-weights`` value (0 is
    the plain twin), else :data:`DEFAULT`."""
    variants = list(args.variant or [])
    for w in args.grad_weights or ():
        changes = {"plain": True} if w == 0 else {"plain": False, "grad_weight": w}
        variants.append((f"w{w:g}", json.dumps({**changes, **json.loads(args.base)})))
    return variants or DEFAULT


def _score(model, grid, rows, matters: float) -> dict[str, float]:
    """Flux σ (all, Teff > 4500 K) and median gradient errors over ``rows``: over the 34 labels,
    over the target labels (every pixel, and where |∂f| > ``matters`` × its maximum)."""
    from phdl.evaluate import GRADIENT_TARGET_LABELS, gradient_errors, residuals, sigma
    from phdl.labels import LABELS, index

    res = residuals(model, grid, rows)
    hot = np.asarray(grid.labels)[rows, index("Teff")] > 4500
    target = [LABELS.index(n) for n in GRADIENT_TARGET_LABELS]
    err = gradient_errors(model, grid, rows)
    lines = gradient_errors(model, grid, rows, matters=matters)
    return {"sigma": sigma(res), "sigma_hot": sigma(res[hot]),
            "grad_err": float(np.nanmedian(err)),
            "grad_err_target": float(np.nanmedian(err[target])),
            "grad_err_target_lines": float(np.nanmedian(lines[target])),
            "matters": matters}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default="runs/quick/grid.h5", help="grid file (with gradients)")
    p.add_argument("--out-dir", default="runs/bench_presets", help="where checkpoints go")
    p.add_argument("--test-fraction", type=float, default=0.2, help="held-out test share")
    p.add_argument("--val-fraction", type=float, default=0.1, help="validation share")
    p.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "JSON"))
    p.add_argument("--grad-weights", nargs="+", type=float, metavar="W",
                   help="one PhDLspec variant per L_grad weight (0: the plain twin)")  # fmt: skip
    p.add_argument("--base", default="{}", help="JSON changes added to every --grad-weights run")
    p.add_argument("--matters", type=float, default=0.1,
                   help="where the gradient matters: |∂f| > this × its maximum")  # fmt: skip
    p.add_argument(
        "--score-grid",
        help="score on this grid's validation stars (its own split, "
        "split seed 0) instead of the training grid's: compares grids of other sizes",
    )
    p.add_argument("--save", help="write the results as JSON here")
    p.add_argument("--plot", help="save the σ-against-gradient-error figure here (PNG)")
    return p


def _run(name: str, text: str, args, grid) -> dict:
    """Train one variant (a finished checkpoint is reused) and score it on validation stars."""
    from phdl.emulator import load
    from phdl.train import preset, train

    changes = json.loads(text)
    plain, mlp = changes.pop("plain", True), changes.pop("mlp", False)
    arch = changes.pop("model", {})  # changes to the preset's architecture, e.g. {"d_model": 128}
    fractions = {"test_fraction": args.test_fraction, "val_fraction": args.val_fraction}
    cfg = preset("quick", mlp=mlp, plain=plain, **fractions, **changes)
    cfg = cfg.replace(model=dataclasses.replace(cfg.model, **arch)) if arch else cfg
    t0 = time.perf_counter()
    path = train(args.grid, Path(args.out_dir) / f"{name}.pt", cfg, progress=False, replace=True)
    dt = time.perf_counter() - t0
    model = load(path)
    score_grid, rows = grid, np.sort(model.val_indices)  # a sweep chooses: validation stars only
    if args.score_grid:  # the validation stars of another grid (its own split), never trained on
        from phdl.grid import read_grid
        from phdl.train.data import split_indices

        score_grid = read_grid(args.score_grid)
        rows = split_indices(len(score_grid), args.test_fraction, 0, args.val_fraction).val
    return {"name": name, "changes": text, **_score(model, score_grid, rows, args.matters),
            "train_s": dt}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if not Path(args.grid).exists():
        raise SystemExit(f"{args.grid} does not exist: make it with `make book` or `phdl grid`")

    from phdl.grid import read_grid

    grid = read_grid(args.grid)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    scored = f" of {args.score_grid}" if args.score_grid else ""
    print(f"grid {args.grid} ({len(grid)} spectra); scored on the validation stars{scored} "
          f"({args.val_fraction}), never on the test stars ({args.test_fraction})\n")  # fmt: skip
    print("| variant | changes | σ | σ hot | gradient error (34 labels) | target labels | "
          "target labels, lines | train s |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    results = []
    for name, text in _variants(args):
        r = _run(name, text, args, grid)
        results.append(r)
        print(f"| {name} | `{text}` | {r['sigma']:.4f} | {r['sigma_hot']:.4f} | "
              f"{r['grad_err']:.3f} | {r['grad_err_target']:.3f} | "
              f"{r['grad_err_target_lines']:.3f} | {r['train_s']:.0f} |", flush=True)  # fmt: skip
        if args.save:
            Path(args.save).write_text(json.dumps(results, indent=1))
    if args.plot:
        from phdl.plots import gradient_tradeoff

        gradient_tradeoff(results).savefig(args.plot, dpi=120)


if __name__ == "__main__":
    main()
