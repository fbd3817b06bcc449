"""Time the parameter changes the "Teaching with this book" page suggests for a one-hour class.

Each change executes one chapter with papermill on top of a finished book of the same profile
(its grid and models are reused; every changed run writes its own files under ``--out``), as a
student would after `make book`. Prints one Markdown row per change: chapter, parameters,
wall-clock minutes. Run it on an otherwise idle machine:

    python benchmarks/bench_teaching.py --profile quick --out runs/teach
"""

from __future__ import annotations

import argparse
import time

from phdl.runner import default_kernel_name, load_profile, repo_root


def changes(out: str) -> list[tuple[str, dict]]:
    """The class's changes: (chapter, parameters that differ from the profile)."""
    return [
        ("05_correlation_matrix", {}),
        ("05_correlation_matrix", {"teff": 6000.0, "logg": 4.3, "feh": -1.0}),
        ("05_correlation_matrix", {"snr": 30.0}),
        ("04_gradient_comparison", {"wl_min": 5100.0, "wl_max": 5300.0}),
        ("01_ab_initio_grid", {"n_spectra": 100, "seed": 7, "grid_path": f"{out}/grid100.h5"}),
        (
            "02_grid_training",
            {
                "epochs": 100,
                "model_path": f"{out}/phdlspec100.pt",
                "plain_model_path": f"{out}/plain100.pt",
                "mlp_model_path": f"{out}/mlp100.pt",
            },
        ),
        ("03_test_set_recovery", {"snr": 30.0, "flag_stars": 4, "table_path": f"{out}/fit30.fits"}),
    ]


def main() -> None:
    import papermill as pm

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--out", default="runs/teach", help="folder for the changed runs' files")
    ap.add_argument("--only", type=int, nargs="*", help="indices of the changes to run")
    args = ap.parse_args()
    root = repo_root()
    profile = load_profile(args.profile, root)
    (root / args.out).mkdir(parents=True, exist_ok=True)
    kernel = default_kernel_name()
    print("| # | chapter | change | minutes |\n| --- | --- | --- | --- |")
    for i, (chapter, change) in enumerate(changes(args.out)):
        if args.only and i not in args.only:
            continue
        params = {**profile["chapters"][chapter], **change, "profile": profile["profile"]}
        t0 = time.perf_counter()
        pm.execute_notebook(
            str(root / "notebooks" / f"{chapter}.ipynb"),
            str(root / args.out / f"{i}_{chapter}.ipynb"),
            parameters=params,
            kernel_name=kernel,
            cwd=str(root),
            progress_bar=False,
        )
        minutes = (time.perf_counter() - t0) / 60
        shown = ", ".join(f"{k}={v}" for k, v in change.items() if not k.endswith("path"))
        print(f"| {i} | {chapter} | {shown or '(as in the profile)'} | {minutes:.1f} |", flush=True)


if __name__ == "__main__":
    main()
