"""Command line: ``phdl grid | train | fit | catalog | book``.

Every subcommand is a pair in :data:`COMMANDS`: a function adding its arguments to an argparse
subparser, and a handler ``(args) -> int``. Errors from the library (ValueError,
FileNotFoundError, PermissionError, ConnectionError) are printed as one line
``phdl: error: <message>`` on stderr with exit status 2, like argparse's own usage errors; an
interrupt (Ctrl-C) exits 130 and leaves resumable work in place. SIGTERM, which batch schedulers
and ``kill`` send, stops a run the same way (work saved, exit status 143), so a job stopped on a
cluster resumes like one stopped by hand.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phdl import __version__


def _synthesizer() -> Any:
    """The engine used by ``phdl grid`` (a function so that tests can replace it)."""
    from phdl.synth import Synthesizer

    return Synthesizer()


# ---------------------------------------------------------------- phdl grid
def _grid_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, required=True, help="number of spectra to synthesize")
    p.add_argument("--seed", type=int, default=0, help="random seed of the labels (default 0)")
    p.add_argument("--out", type=Path, required=True, help="output HDF5 grid file")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=16,
        help="spectra per chunk; the file is flushed after each (default 16)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="engine processes of one thread each (default 0: one per core)",
    )
    p.add_argument("--no-gradients", action="store_true", help="do not store gradient spectra")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _grid(args: argparse.Namespace) -> int:
    from phdl import grid

    if args.n <= 0:
        raise ValueError(f"--n must be a positive number of spectra, got {args.n}")
    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.chunk_size <= 0:
        raise ValueError(f"--chunk-size must be positive, got {args.chunk_size}")
    if args.workers < 0:
        raise ValueError(f"--workers must be >= 0 (0 = one per core), got {args.workers}")
    grid.check_writable(args.out)  # before building the engine or synthesizing anything
    out = grid.make_grid(
        args.n,
        args.seed,
        args.out,
        synthesizer=_synthesizer(),
        chunk_size=args.chunk_size,
        with_gradients=not args.no_gradients,
        progress=not args.quiet,
        workers=args.workers,
    )
    print(out)
    return 0


# ---------------------------------------------------------------- phdl train
def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grid", type=Path, required=True, help="training grid (HDF5)")
    p.add_argument("--out", type=Path, required=True, help="model checkpoint to write / resume")
    p.add_argument("--plain", action="store_true", help="no gradient loss (plain Transformer)")
    p.add_argument(
        "--mlp", action="store_true", help="the Payne-style MLP baseline (flux only, as the Payne)"
    )
    p.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: profile's)")
    p.add_argument(
        "--profile",
        default="quick",
        help="preset sizes and schedule: tiny, quick (default, a 2-core CPU) or full (the paper)",
    )
    p.add_argument(
        "--grad-labels",
        type=int,
        default=None,
        help="labels per step in the gradient loss (34 = full term; default: profile's)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _train(args: argparse.Namespace) -> int:
    from phdl.grid import check_writable
    from phdl.train import PRESETS, preset, train

    if args.profile not in PRESETS:
        raise ValueError(f"--profile must be one of {sorted(PRESETS)}, got {args.profile!r}")
    changes = {}
    if args.epochs is not None:
        if args.epochs <= 0:
            raise ValueError(f"--epochs must be a positive integer, got {args.epochs}")
        changes["epochs"] = args.epochs
    if args.grad_labels is not None:
        if not 1 <= args.grad_labels <= 34:
            raise ValueError(f"--grad-labels must be between 1 and 34, got {args.grad_labels}")
        changes["grad_labels"] = args.grad_labels
    if not args.grid.is_file():
        raise FileNotFoundError(f"--grid: grid file {args.grid} not found")
    check_writable(args.out)
    config = preset(args.profile, mlp=args.mlp, plain=True if args.plain else None, **changes)
    print(train(args.grid, args.out, config, progress=not args.quiet))
    return 0


# ---------------------------------------------------------------- phdl fit
def _load_model(path: Path) -> Any:
    """The emulator used by ``phdl fit`` (a function so that tests can replace it)."""
    from phdl.emulator import load

    return load(path)


def _fit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, help="emulator checkpoint (phdl train)")
    p.add_argument(
        "--spectra",
        type=Path,
        nargs="+",
        required=True,
        help="one HDF5 file with datasets wavelength (n_pix,) vacuum Å, flux (n, n_pix) "
        "normalized, ivar (n, n_pix) = 1/sigma^2 (0 masks a pixel); or LAMOST FITS files, one "
        "per star (DR1-7 or DR8+ format; shifted by the header Z, normalized as the model "
        "spectra). Either is resampled onto the model's grid if needed, saying so",
    )
    p.add_argument("--out", type=Path, required=True, help="output label table (FITS)")
    p.add_argument(
        "--strategy",
        choices=["two-stage", "full", "fast"],
        default="two-stage",
        help="two-stage (CMA-ES on Group I, then Group II; default, the paper's), full (CMA-ES "
        "on 28 labels at once) or fast (Levenberg-Marquardt on the emulator's Jacobian, with "
        "two-stage CMA-ES for the stars it leaves unconverged or above the fallback chi2)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of CMA-ES (default 0)")
    _start_model_arg(p)
    p.add_argument("--batch-size", type=int, default=64, help="stars fitted together (default 64)")
    p.add_argument("--errors", action="store_true", help="add formal and chi2-scaled errors")
    p.add_argument(
        "--flags",
        action="store_true",
        help="add errors and the four-bit quality flags (50-point chi2 scans per label; "
        "costs about as much as the fit)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _start_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--start-model",
        type=Path,
        default=None,
        help="fast strategy: a cheap model of the same grid (the Payne MLP of phdl train --mlp) "
        "fitted first, its result the start of the fit with --model",
    )


def _fit(args: argparse.Namespace) -> int:
    """Fit; finished batches go to ``<out>.partial.npz``, so an interrupted run resumes."""
    import warnings

    from phdl.fit import ResampleWarning, fit_spectra, read_spectra, write_table
    from phdl.grid import check_writable
    from phdl.io import LamostWarning, is_fits, read_lamost

    if args.seed < 0:
        raise ValueError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.batch_size <= 0:
        raise ValueError(f"--batch-size must be positive, got {args.batch_size}")
    check_writable(args.out)
    fits_files = [p for p in args.spectra if is_fits(p)]
    if fits_files and len(fits_files) != len(args.spectra):
        raise ValueError("--spectra takes one HDF5 file or LAMOST FITS files, not a mixture")
    if not fits_files and len(args.spectra) > 1:
        raise ValueError(f"--spectra takes one HDF5 file, got {len(args.spectra)}")
    if not fits_files:
        spectra = read_spectra(args.spectra[0])
    else:
        for p in fits_files:  # fail on a missing file before loading the model
            if not p.is_file():
                raise FileNotFoundError(f"LAMOST spectrum {p} not found")
    model = _load_model(args.model)
    fast = {}
    if args.start_model is not None:
        if args.strategy != "fast":
            raise ValueError("--start-model is for --strategy fast")
        fast["start_model"] = _load_model(args.start_model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResampleWarning)
        warnings.simplefilter("always", LamostWarning)
        if fits_files:
            spectra = read_lamost(fits_files, model.wavelength)
        table = fit_spectra(
            model,
            spectra.wavelength,
            spectra.flux,
            spectra.ivar,
            strategy=args.strategy,
            seed=args.seed,
            batch_size=args.batch_size,
            progress=not args.quiet,
            checkpoint=args.out.with_name(args.out.name + ".partial.npz"),
            **fast,
        )
        if args.errors or args.flags:
            from phdl.uncertainty import add_uncertainties

            add_uncertainties(
                table,
                model,
                spectra.flux,
                spectra.ivar,
                flags=args.flags,
                wavelength=spectra.wavelength,
            )
    for w in caught:
        if issubclass(w.category, ResampleWarning | LamostWarning):
            print(f"phdl: note: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    bad = [i for i, s in enumerate(table["status"]) if s != "ok"]
    if bad:
        print(
            f"phdl: {len(bad)} of {len(table)} stars not fitted (see column status)",
            file=sys.stderr,
        )
    print(write_table(table, args.out))
    return 0


# ---------------------------------------------------------------- phdl catalog
def _catalog_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, required=True, help="emulator checkpoint (phdl train)")
    p.add_argument(
        "--spectra",
        type=Path,
        required=True,
        help="an HDF5 spectra file (as phdl fit; optional datasets RA, DEC, SOURCEID, SPECID, "
        "UQFLAG), a LAMOST FITS file or a folder of them, or a manifest (.csv/.ecsv/.txt) with "
        "a 'path' column of FITS files and optional identifier columns",
    )
    p.add_argument("--out", type=Path, required=True, help="the catalogue (FITS, Table 4)")
    p.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (tcp://HOST:8786); default: a LocalCluster",
    )
    p.add_argument(
        "--workers", type=int, default=0, help="LocalCluster workers (default 0: one per core)"
    )
    p.add_argument(
        "--shard-size", type=int, default=64, help="spectra per task, written as one shard"
    )
    p.add_argument(
        "--strategy",
        choices=["fast", "two-stage", "full"],
        default="fast",
        help="fast (default: Levenberg-Marquardt, CMA-ES where it fails) or the paper's "
        "two-stage CMA-ES (see phdl fit)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of CMA-ES (default 0)")
    _start_model_arg(p)
    p.add_argument("--no-flags", action="store_true", help="errors only, no chi2-scan flags")
    p.add_argument(
        "--calibration",
        type=Path,
        default=None,
        help="a calibration file (phdl.calibrate.Calibration.save) applied to the merged "
        "catalogue; the fitted shards are reused when only this changes",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _catalog(args: argparse.Namespace) -> int:
    from phdl.catalog import make_job, run_catalog
    from phdl.grid import check_writable

    for name in ("workers", "seed"):
        if getattr(args, name) < 0:
            raise ValueError(f"--{name} must be a non-negative integer, got {getattr(args, name)}")
    if args.shard_size <= 0:
        raise ValueError(f"--shard-size must be positive, got {args.shard_size}")
    check_writable(args.out)
    if args.start_model is not None and args.strategy != "fast":
        raise ValueError("--start-model is for --strategy fast")
    job = make_job(args.model, args.spectra, args.out, strategy=args.strategy, seed=args.seed,
                   flags=not args.no_flags, start_model=args.start_model,
                   calibration=args.calibration)  # fmt: skip
    run = run_catalog(job, args.out, shard_size=args.shard_size, scheduler=args.scheduler,
                      workers=args.workers or None, progress=not args.quiet)  # fmt: skip
    print(f"phdl: {run.fitted} shards fitted, {run.skipped} already done", file=sys.stderr)
    if run.failed:
        first = min(run.failed)
        print(
            f"phdl: {len(run.failed)} shard(s) failed, e.g. shard {first}: {run.failed[first]}; "
            "the finished shards are kept, rerun the same command to retry",
            file=sys.stderr,
        )
        return 1
    print(run.path)
    return 0


# ---------------------------------------------------------------- phdl sky (phdl.sky.cli)
def _sky_args(p: argparse.ArgumentParser) -> None:
    from phdl.sky.cli import add_arguments

    add_arguments(p)


def _sky(args: argparse.Namespace) -> int:
    from phdl.sky.cli import run

    return run(args)


# ---------------------------------------------------------------- phdl book
def _book_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile", default="quick", help="parameter profile: tiny, quick (default) or full"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="run every chapter, even those unchanged since their last run (see phdl.cache)",
    )


def _book(args: argparse.Namespace) -> int:
    from phdl.runner import ChapterError, build_book

    try:
        print(build_book(args.profile, force=args.force))
    except ChapterError as exc:  # keep the failing cell's traceback readable, exit 1
        print(f"phdl: chapter {exc.chapter} failed:\n{exc}", file=sys.stderr)
        return 1
    return 0


#: subcommand -> (help, add_arguments, handler)
COMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {
    "grid": ("synthesize a training grid (resumable)", _grid_args, _grid),
    "train": ("train an emulator on a grid (resumable)", _train_args, _train),
    "fit": ("fit spectra with an emulator (CMA-ES, batched)", _fit_args, _fit),
    "catalog": ("fit, errors and flags of many spectra on Dask", _catalog_args, _catalog),
    "sky": ("write a sample of the simulated sky: truth, catalogues, spectra", _sky_args, _sky),
    "book": ("execute the notebooks and build the book", _book_args, _book),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``phdl`` argument parser with one subparser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="phdl", description="PhDLspec companion: grid, train, fit, catalog, sky, book"
    )
    parser.add_argument("--version", action="version", version=f"phdl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_, add_args, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt so that every handler saving work on Ctrl-C saves it."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Run ``phdl`` with ``argv`` (default: sys.argv[1:]); return the exit status.

    0 on success, 2 on a usage or input error, 130 on Ctrl-C and 143 on SIGTERM (work saved
    as far as the subcommand saves it; rerun the same command to resume).
    """
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return int(args.handler(args))
    except (ValueError, FileNotFoundError, PermissionError, ConnectionError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"phdl: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"phdl: {what}; rerun the same command to resume", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
