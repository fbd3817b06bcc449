"""``phdl sky``: write one sample of the simulated sky: truth, reference catalogues, spectra.

    phdl sky --sample binaries --n 200 --seed 1 --physics perturbed --out runs/sky/binaries

writes into ``--out``:

- ``truth.fits``: the true labels and the sample's own columns (:mod:`phdl.sky.samples`);
- ``<catalogue>.fits``: each reference catalogue that comes with the sample, with the surveys'
  own column names (:func:`phdl.sky.samples.references_for`);
- ``spectra.h5``: the observed spectra (:func:`phdl.sky.spectra.observe_sky`; skipped with
  ``--no-spectra`` and for the Hypatia-like sample, which has no LAMOST spectra), and
  ``lamost/``: the first ``--lamost`` of them as LAMOST FITS files.

The noise-free and noisy spectra are cached in ``--cache`` (default: ``<out>/cache``) by a
hash of labels, S/N, physics and seed; an interrupted synthesis resumes there.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``phdl sky``."""
    from phdl.sky.physics import DEFAULT_PRESET, PRESETS
    from phdl.sky.samples import SAMPLES

    p.add_argument("--sample", required=True, choices=sorted(SAMPLES), help="which sample")
    p.add_argument("--n", type=int, required=True, help="stars (pairs for binaries)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--physics",
        default=DEFAULT_PRESET,
        choices=sorted(PRESETS),
        help=f"the sky's physics preset (default {DEFAULT_PRESET}; sky-equals-model: control)",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--cache", type=Path, default=None, help="spectra cache (default OUT/cache)")
    p.add_argument("--no-spectra", action="store_true", help="truth and catalogues only")
    p.add_argument("--lamost", type=int, default=5, help="spectra also written as LAMOST FITS")
    p.add_argument("--workers", type=int, default=1, help="engine processes (0: one per core)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _write_table(table, path: Path) -> None:
    from phdl.atomic import atomic_path

    with atomic_path(path) as tmp:
        table.write(tmp, format="fits")


def run(args: argparse.Namespace) -> int:
    """Write the sample; print the output folder. Errors as ValueError (the CLI exits 2)."""
    from phdl.atomic import atomic_path
    from phdl.sky.physics import sky_physics
    from phdl.sky.samples import references_for, sample
    from phdl.sky.spectra import observe_sky, write_lamost_files

    if args.n <= 0:
        raise ValueError(f"--n must be a positive integer, got {args.n}")
    if args.seed < 0 or args.lamost < 0 or args.workers < 0:
        raise ValueError("--seed, --lamost and --workers must be non-negative")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    truth = sample(args.sample, args.n, args.seed)
    _write_table(truth, out / "truth.fits")
    for name, table in references_for(args.sample, truth, args.seed).items():
        _write_table(table, out / f"{name}.fits")
    if not args.no_spectra and args.sample != "hypatia":
        physics = sky_physics(args.physics)
        cached = observe_sky(truth, physics, args.cache or out / "cache", seed=args.seed,
                             workers=args.workers, progress=not args.quiet)  # fmt: skip
        with atomic_path(out / "spectra.h5") as tmp:
            shutil.copyfile(cached, tmp)
        if args.lamost:
            write_lamost_files(cached, out / "lamost", range(min(args.lamost, len(truth))))
    print(f"phdl: sky sample {args.sample!r}: {len(truth)} stars", file=sys.stderr)
    print(out)
    return 0
