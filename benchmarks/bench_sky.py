"""The simulated sky's cost and its uncalibrated biases, per physics preset.

    python benchmarks/bench_sky.py --model runs/quick/phdlspec.pt --start-model runs/quick/mlp.pt \
        --n 80 --preset perturbed --preset sky-equals-model

For each preset: synthesize ``n`` survey-common stars with the sky's physics (timed), fit them
with the fast strategy (timed), and print per label the median bias against the truth and its
spread across Teff bins (:func:`phdl.sky.score.score`). This is how the "perturbed" preset was
sized against the paper's Figure 16 (trends of 0.05-0.3 dex across 4500-7000 K).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--start-model", default=None)
    p.add_argument("--n", type=int, default=80)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample", default="common")
    p.add_argument("--preset", action="append", default=None)
    p.add_argument("--cache", default=None, help="spectra cache (default: a temporary folder)")
    args = p.parse_args()

    import h5py

    from phdl.emulator import load
    from phdl.fit import fit_spectra
    from phdl.paper import CATALOG_ELEMENTS
    from phdl.sky import observe_sky, sample, score, sky_physics

    model = load(args.model)
    start = load(args.start_model) if args.start_model else None
    truth = sample(args.sample, args.n, args.seed)
    names = ["Teff", "logg", "[Fe/H]"] + [f"[{e}/Fe]" for e in CATALOG_ELEMENTS]
    cache = args.cache or tempfile.mkdtemp(prefix="phdl-sky-")
    for preset in args.preset or ["perturbed"]:
        t0 = time.perf_counter()
        path = observe_sky(truth, sky_physics(preset), cache, seed=args.seed, progress=False)
        t1 = time.perf_counter()
        with h5py.File(path) as h5:
            wl, flux, ivar = h5["wavelength"][()], h5["flux"][()], h5["ivar"][()]
        fit = fit_spectra(model, wl, flux, ivar, strategy="fast", start_model=start,
                          progress=False)  # fmt: skip
        t2 = time.perf_counter()
        fit["source_id"] = truth["source_id"]
        s = score(fit, truth, names, min_per_bin=max(3, args.n // 20))
        print(f"\n## preset {preset}: {args.n} stars; synthesis {t1 - t0:.1f} s "
              f"({(t1 - t0) / args.n:.3f} s/star, cached runs are free), fast fit "
              f"{t2 - t1:.1f} s ({(t2 - t1) / args.n:.3f} s/star)")  # fmt: skip
        print(f"{'label':>8} {'median':>8} {'teff_sd':>8} {'teff_rng':>8} {'logg_sd':>8}")
        for row in s:
            print(f"{row['label']:>8} {row['median']:8.3f} {row['teff_spread']:8.3f} "
                  f"{row['teff_range']:8.3f} {row['logg_spread']:8.3f}")  # fmt: skip
        xfe = s[3:]
        print(
            f"[X/Fe]: median |median bias| {np.nanmedian(np.abs(xfe['median'])):.3f} dex, "
            f"median Teff range {np.nanmedian(xfe['teff_range']):.3f} dex"
        )


if __name__ == "__main__":
    main()
