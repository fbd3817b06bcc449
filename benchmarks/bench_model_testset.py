"""A trained emulator on its own grid's held-out test stars: flux σ and gradient errors.

    .venv/bin/python benchmarks/bench_model_testset.py --model runs/full/phdlspec.pt \\
        --grid runs/full/grid.h5 --compare quick=runs/quick/phdlspec.pt:runs/quick/grid.h5

Reads the test rows recorded in the checkpoint (never its training or validation rows) and
prints markdown (issue 15 item 4):

1. flux residual σ (normalized flux) over every test star, Teff > 4500 K (the paper's two
   numbers), the paper's core bin (4500–7000 K, [Fe/H] > −1) and Teff < 4500 K, beside the
   paper's 0.77 % / 0.46 %;
2. per label, the relative RMS error of the gradient spectra (:func:`phdl.evaluate.gradient_errors`)
   over every pixel and over the pixels where the ab initio gradient matters
   (|∂f| > --matters × its maximum), and the medians over Teff, logg, [Fe/H] and the Group I
   [X/Fe] (issue 15's target labels).

``--compare NAME=CHECKPOINT:GRID`` (repeatable; GRID is that model's training grid) scores other
checkpoints on the same rows, less any row the other model trained on or chose its weights with
(the quick grid is the full grid's first 320 rows: the quick model would otherwise be scored on
its own training stars). Every model is scored on the same remaining rows; the number left out
is printed.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _parse_compare(items: list[str]) -> dict[str, tuple[str, str]]:
    out = {}
    for item in items:
        name, sep, paths = item.partition("=")
        ckpt, colon, grid = paths.rpartition(":")
        if not (sep and colon and name and ckpt and grid):
            raise SystemExit(f"--compare wants NAME=CHECKPOINT:GRID, got {item!r}")
        for path in (ckpt, grid):
            if not os.path.exists(path):
                raise SystemExit(f"--compare {name}: {path} does not exist")
        out[name] = (ckpt, grid)
    return out


def _seen_rows(other, grid_labels: np.ndarray, other_grid) -> np.ndarray:
    """Rows of this grid whose labels equal one of ``other``'s training or validation stars."""
    seen = np.concatenate([other.train_indices, other.val_indices])
    theirs = np.asarray(other_grid.labels[np.sort(seen)], dtype=np.float64)
    keys = {row.tobytes() for row in theirs}
    return np.array([r.tobytes() in keys for r in np.asarray(grid_labels, dtype=np.float64)])


def _flux_rows(models: dict, grid, rows: np.ndarray) -> list[str]:
    from phdl.evaluate import residuals, sigma
    from phdl.labels import index
    from phdl.paper import EMULATION_SIGMA, RECOVERY_BIN
    from phdl.recovery import paper_bins

    labels = grid.labels[rows]
    teff = labels[:, index("Teff")]
    masks = {
        "all": np.ones(len(rows), bool),
        "Teff > 4500 K": teff > 4500.0,
        RECOVERY_BIN: paper_bins(labels)[RECOVERY_BIN],
        "Teff < 4500 K": teff < 4500.0,
    }
    head = "| model | " + " | ".join(f"σ {k} ({m.sum()})" for k, m in masks.items()) + " |"
    lines = [head, "|" + " --- |" * (len(masks) + 1)]
    for name, model in models.items():
        res = residuals(model, grid, rows)
        cells = [f"{100 * sigma(res[m]):.2f} %" if m.any() else "—" for m in masks.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    paper = [
        f"{100 * EMULATION_SIGMA['all']:.2f} %",
        f"{100 * EMULATION_SIGMA['Teff > 4500 K']:.2f} %",
    ]
    lines.append("| paper (PhDLspec, Kurucz) | " + " | ".join(paper + ["—", "—"]) + " |")
    return lines


def _gradient_rows(models: dict, grid, rows: np.ndarray, matters: float) -> list[str]:
    from phdl.evaluate import GRADIENT_TARGET_LABELS, gradient_error_table

    table = gradient_error_table(models, grid, rows, matters)
    cols = table.colnames[1:]
    lines = ["| label | " + " | ".join(cols) + " |", "|" + " --- |" * (len(cols) + 1)]
    for row in table:
        lines.append(f"| {row['label']} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    target = np.array([str(n) in GRADIENT_TARGET_LABELS for n in table["label"]])
    med = [float(np.nanmedian(np.asarray(table[c], dtype=float)[target])) for c in cols]
    lines.append("| **median, target labels** | " + " | ".join(f"**{m:.3f}**" for m in med) + " |")
    return lines


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="runs/full/phdlspec.pt", help="emulator checkpoint")
    p.add_argument("--grid", default="runs/full/grid.h5", help="its training grid (HDF5)")
    p.add_argument("--compare", action="append", default=[], metavar="NAME=CHECKPOINT:GRID",
                   help="another checkpoint scored on the same rows (repeatable)")  # fmt: skip
    p.add_argument("--matters", type=float, default=0.1,
                   help="'lines' columns: pixels where |∂f| > this × its maximum")  # fmt: skip
    args = p.parse_args(argv)

    from phdl.emulator import load
    from phdl.grid import grid_hash, read_grid

    for path in (args.model, args.grid):
        if not os.path.exists(path):
            raise SystemExit(f"{path} does not exist")
    model = load(args.model)
    if grid_hash(args.grid) != model.grid_hash:
        raise SystemExit(
            f"{args.model} was not trained on {args.grid}: its test rows are not there"
        )
    grid = read_grid(args.grid)
    rows = np.sort(model.test_indices)
    models = {os.path.basename(args.model): model}
    keep = np.ones(len(rows), bool)
    for name, (path, other_path) in _parse_compare(args.compare).items():
        other = load(path)
        if grid_hash(other_path) != other.grid_hash:
            raise SystemExit(f"--compare {name}: {path} was not trained on {other_path}")
        other_grid = read_grid(other_path, gradients=False)
        keep &= ~_seen_rows(other, grid.labels[rows], other_grid)
        models[name] = other
    rows = rows[keep]
    t0 = time.perf_counter()
    print(f"model {args.model}, grid {args.grid}: {len(rows)} test stars "
          f"({(~keep).sum()} left out: seen by a compared model)\n")  # fmt: skip
    print("\n".join(_flux_rows(models, grid, rows)) + "\n")
    print("\n".join(_gradient_rows(models, grid, rows, args.matters)))
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
