"""Chapter 6's calibration against the sky's truth, per sky: the four stages and the targets.

    python benchmarks/bench_calibration.py --sky-dir runs/quick/sky \\
        --model runs/quick/phdlspec.pt --start-model runs/quick/mlp.pt

Uses the quick profile's sky sizes by default and the fits chapter 6 cached in ``--sky-dir``
(observing and fitting again where they are missing). Prints, per sky, the Group I [X/Fe]
median |bias| and Teff spread at each stage, each element's at every stage with the targets
(|median| ≤ 0.03 and Teff spread ≤ 0.03 dex) after the last, and how far the calibration moves
each element.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="runs/quick/phdlspec.pt")
    p.add_argument("--start-model", default="runs/quick/mlp.pt")
    p.add_argument("--sky-dir", default="runs/quick/sky")
    p.add_argument("--sizes", default="80,70,20,20,300", help="common,pairs,m67,giants,hypatia")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--presets", default="perturbed,sky-equals-model", help="skies, in order")
    args = p.parse_args()
    warnings.simplefilter("ignore")

    from phdl import paper
    from phdl.calibrate.chain import calibration_stages
    from phdl.labels import GROUP_I_XFE
    from phdl.sky import sky_physics
    from phdl.sky.score import score_stages, shifts, verdicts
    from phdl.sky.survey import calibrate_sky, fit_sky, make_sky

    n = [int(v) for v in args.sizes.split(",")]
    sky = make_sky(dict(zip(("common", "binaries", "m67", "giants", "hypatia"), n, strict=True)),
                   args.seed)  # fmt: skip
    names = ["Teff", "logg", "[Fe/H]"] + [f"[{e}/Fe]" for e in paper.CATALOG_ELEMENTS]
    group_i = GROUP_I_XFE
    for preset in args.presets.split(","):
        start = time.perf_counter()
        fit = fit_sky(sky, sky_physics(preset), args.model, args.sky_dir,
                      start_model_path=args.start_model or None, seed=args.seed,
                      progress=False)  # fmt: skip
        result = calibrate_sky(sky, fit, seed=args.seed)
        stages = calibration_stages(fit, result.calibration)
        scores = score_stages(stages, sky.stars(), names)
        print(
            f"== {preset} sky: {len(fit)} stars, observed, fitted and calibrated in "
            f"{time.perf_counter() - start:.0f} s (fits cached in --sky-dir are reused)"
        )
        for stage in stages:
            g = scores[(scores["stage"] == stage) & np.isin(scores["label"], group_i)]
            print(f"{stage:18s} Group I median |bias| {np.median(np.abs(g['median'])):.3f}, "
                  f"median Teff spread {np.median(g['teff_spread']):.3f} dex")  # fmt: skip
        print("  label: median bias (Teff spread) at each stage, dex; 'met' after zero points")
        after = verdicts(scores[scores["stage"] == "after zero points"], group_i)
        for a in after:
            rows = [scores[(scores["stage"] == s) & (scores["label"] == a["label"])][0]
                    for s in stages]  # fmt: skip
            cells = "  ".join(f"{r['median']:+.3f} ({r['teff_spread']:.3f})" for r in rows)
            print(f"  {a['label']:8s} {cells} {'met' if a['met'] else ''}")
        moved = shifts(stages["before"], stages["after zero points"], names)[3:]
        print(
            f"  [X/Fe] moved by <= 0.02 dex: {int(np.sum(np.abs(moved['median_shift']) <= 0.02))}"
            f" of {len(moved)}; median |shift| {np.median(np.abs(moved['median_shift'])):.3f}"
        )
        print(f"  atm sigma after: {result.calibration.atm.sigma_after}")


if __name__ == "__main__":
    main()
