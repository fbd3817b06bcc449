"""Fit spectra with an emulator: the full 28-label fit and the paper's two-stage strategy.

Labels (Section 2.2.1): the 28 labels of Group I + Group II are fitted; the six of
:data:`phdl.labels.NOT_FITTED` are held at fixed values:

- default (``init=None``): vmic at the middle of the model's training range (1.75 km/s for
  [0.5, 3.0]), the unfitted [X/Fe] at 0 (solar-scaled; the middle of the range if 0 is outside);
- ``init`` (n, 34) physical: the held values and the starting point, per star.

Start (``init=None``): the fitted [X/Fe] start at 0 (solar-scaled) and Teff, logg, [Fe/H] at the
best of a coarse bank of model spectra — a regular 8 × 6 × 6 grid of cell centres over the
model's Teff, logg and [Fe/H] ranges (:data:`BANK_SHAPE`, 288 spectra evaluated once per call,
shared by all stars). Two-stage: stage I fits Group I with Group II at its start; stage II fits
Group II with Group I fixed at the stage I result.

Each stage then (defaults; see :mod:`phdl.fit.linear` and :mod:`phdl.fit.cmaes`):

1. :data:`GN_STEPS` = 2 damped Gauss–Newton steps from the start (finite-difference Jacobians,
   2k + 4 spectra per step and star), which give CMA-ES its initial mean and, from the Fisher
   matrix, its initial covariance, with a step of :data:`START_SIGMAS` = 1 σ (capped at
   ``sigma0`` = :data:`SIGMA0` = 0.1 scaled units). ``gn_steps=0`` starts CMA-ES from the
   start itself, isotropic with step ``sigma0``. (CMA-ES needs of order k ln(d0/ε)
   evaluations to close a distance d0 and as many again to learn the valley's shape.)
2. CMA-ES (pycma, ``BoundTransform`` on [-0.25, 1.25] scaled) with population :data:`POPSIZE`
   = 8 (``popsize=None``: pycma's default 4 + ⌊3 ln k⌋, which is 12, 11 and 13 for Group I,
   Group II and the full fit), at most :data:`MAX_ITER` generations, stopping when χ² is flat
   to ``tol`` = :data:`TOL` = 1 in total χ² (the Δχ² = 1 of one σ along one direction), times
   the reduced χ² when that exceeds 1 (Eq. 21; ``scale_tol``).

The measurements behind these defaults are in BENCHMARKS.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
from astropy.table import Table

from phdl.fit.cmaes import StageOptions, run_stage
from phdl.fit.fast import LM_ITER, LM_ITER_AFTER_START, levenberg_marquardt
from phdl.fit.linear import gauss_newton_start
from phdl.fit.resume import Checkpoint, input_key
from phdl.fit.spectra import chi2, on_model_grid
from phdl.labels import GROUP_I, GROUP_II, LABELS, N_LABELS, NOT_FITTED, index, unscale

if TYPE_CHECKING:
    from phdl.emulator.protocol import SpectralModel

#: The 28 fitted labels, in :data:`phdl.labels.LABELS` order.
FITTED: tuple[str, ...] = tuple(n for n in LABELS if n in GROUP_I or n in GROUP_II)
#: The label groups fitted in turn by each strategy ("fast": Levenberg–Marquardt on all 28,
#: with the two-stage CMA-ES for the stars it leaves above :data:`FALLBACK_CHI2`).
STRATEGIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "two-stage": (GROUP_I, GROUP_II),
    "full": (FITTED,),
    "fast": (FITTED,),
}
#: Fast strategy: stars whose reduced χ² after Levenberg–Marquardt exceeds this are refitted
#: with the two-stage CMA-ES, from the Levenberg–Marquardt result. Off by default (inf): a
#: fixed threshold would send every high-S/N star to CMA-ES, whose χ²_r grows as (S/N)² times
#: the emulator's errors; how often CMA-ES finds a lower χ² on training stars (never test
#: stars) is in BENCHMARKS.md. Set it for data the model may not fit at all.
FALLBACK_CHI2 = np.inf
#: Starting-bank grid: cells in Teff, logg, [Fe/H].
BANK_SHAPE: tuple[int, int, int] = (8, 6, 6)
#: Residuals (stars × bank spectra × pixels) held in memory at once by :func:`bank_start`.
BANK_BLOCK = 1 << 22
SIGMA0 = 0.1
#: Gauss–Newton steps that set CMA-ES's initial mean and covariance (see phdl.fit.linear).
GN_STEPS = 2
#: With a Gauss–Newton start, the initial step is this many (geometric-mean) σ of the Fisher
#: covariance, capped at ``sigma0``.
START_SIGMAS = 1.0
MAX_ITER = 400
TOL = 1.0
POPSIZE = 8


def stage_columns(strategy: str) -> list[list[int]]:
    """The label columns fitted in each stage of ``strategy``, in LABELS order."""
    return [[index(name) for name in LABELS if name in group] for group in STRATEGIES[strategy]]


def default_labels(model) -> np.ndarray:
    """(34,) physical: the middle of the model's training range, with every [X/Fe] at 0 where
    0 is inside its range (solar-scaled). The held values of the unfitted labels by default."""
    lo = np.asarray(model.label_min, dtype=np.float64)
    hi = np.asarray(model.label_max, dtype=np.float64)
    out = unscale(0.5, lo, hi)  # the middle of the training range
    for j, name in enumerate(LABELS):
        if name.endswith("/Fe]") and lo[j] <= 0.0 <= hi[j]:
            out[j] = 0.0
    return out


def bank_start(
    model: SpectralModel, flux: np.ndarray, ivar: np.ndarray, base: np.ndarray
) -> np.ndarray:
    """Starting labels (n, 34): ``base`` (34,) with Teff, logg, [Fe/H] replaced by those of the
    lowest-χ² spectrum of the :data:`BANK_SHAPE` bank (one ``predict`` call of 288 spectra).
    ``flux``, ``ivar`` cleaned (n, n_pix) on the model's grid."""
    lo = np.asarray(model.label_min, dtype=np.float64)
    hi = np.asarray(model.label_max, dtype=np.float64)
    idx = [index("Teff"), index("logg"), index("[Fe/H]")]
    axes = [(np.arange(k) + 0.5) / k for k in BANK_SHAPE]
    cells = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    bank = np.repeat(np.asarray(base, dtype=np.float64)[None], len(cells), 0)
    bank[:, idx] = unscale(cells, lo[idx], hi[idx])
    model_flux = np.asarray(model.predict(bank), dtype=np.float64)
    # χ² of every star (rows) against every bank spectrum (columns), a few stars at a time
    step = max(1, BANK_BLOCK // model_flux.size)
    chi = np.concatenate(
        [
            chi2(model_flux, flux[i : i + step, None], ivar[i : i + step, None], reduced=False)
            for i in range(0, len(flux), step)
        ]
    )
    out = np.repeat(bank[:1], len(flux), 0)
    out[:, idx] = bank[np.argmin(chi, axis=1)][:, idx]
    return out


def _labels_arg(value, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape == (N_LABELS,):
        arr = np.repeat(arr[None], n, 0)
    if arr.shape != (n, N_LABELS):
        raise ValueError(f"{name} must have shape ({n}, {N_LABELS}) physical, got {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        star, col = np.argwhere(bad)[0]
        raise ValueError(f"{name} of star {star} has a non-finite {LABELS[col]}")
    return arr


def _start(model: SpectralModel, flux, ivar, ok, init, held) -> np.ndarray:
    """Starting labels (n, 34): ``init`` or the bank start, with the held values applied."""
    n = len(flux)
    base = default_labels(model)
    if init is None:
        start = np.repeat(base[None], n, 0)
        if len(ok):
            start[ok] = bank_start(model, flux[ok], ivar[ok], base)
    else:
        start = _labels_arg(init, n, "init")
    if held is not None:
        cols = [index(name) for name in NOT_FITTED]
        start[:, cols] = _labels_arg(held, n, "held")[:, cols]
    return start


def _check_options(strategy: str, popsize, max_iter, tol, batch_size, sigma0) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {strategy!r}")
    if popsize is not None and (not isinstance(popsize, int | np.integer) or popsize < 2):
        raise ValueError(f"popsize must be an integer >= 2 or None, got {popsize!r}")
    if not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0 (total χ²), got {tol!r}")
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not 0 < sigma0 <= 1:
        raise ValueError(f"sigma0 must be in (0, 1] (scaled label units), got {sigma0!r}")


@dataclass(frozen=True)
class FitOptions:
    """What decides a fit besides the spectra and the start (see :func:`fit_spectra`): saved
    in the table header and in the resume key."""

    strategy: str
    seed: int
    stage: StageOptions
    sigma0: float
    gn_steps: int
    start_sigmas: float = START_SIGMAS
    fallback_chi2: float = FALLBACK_CHI2
    lm_iter: int = LM_ITER
    start_model: str = ""


def fit_spectra(
    model: SpectralModel,
    wavelength: np.ndarray,
    flux: np.ndarray,
    ivar: np.ndarray,
    *,
    strategy: str = "two-stage",
    init: np.ndarray | None = None,
    held: np.ndarray | None = None,
    seed: int = 0,
    popsize: int | None = POPSIZE,
    max_iter: int | None = None,
    tol: float = TOL,
    scale_tol: bool = True,
    sigma0: float = SIGMA0,
    gn_steps: int = GN_STEPS,
    fallback_chi2: float = FALLBACK_CHI2,
    start_model: SpectralModel | None = None,
    lm_iter: int | None = None,
    star_index: np.ndarray | None = None,
    batch_size: int = 64,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
) -> Table:
    """Fit spectra with CMA-ES through ``model`` (a :class:`~phdl.emulator.SpectralModel`),
    batched over stars.

    ``wavelength`` (n_pix,) Å; ``flux``, ``ivar`` (n, n_pix) normalized flux and 1/σ² (0 or a
    non-finite flux masks a pixel). Spectra on another wavelength grid are resampled onto the
    model's (linear interpolation, with a :class:`~phdl.fit.spectra.ResampleWarning`).
    ``strategy``: "two-stage" (Group I, then Group II), "full" (28 labels at once) or "fast"
    (Levenberg–Marquardt on the model's Jacobian, :mod:`phdl.fit.fast`: to convergence on
    ``start_model`` if given, e.g. the cheap Payne MLP of the same grid, then at most
    ``lm_iter`` iterations on ``model`` (None: :data:`~phdl.fit.fast.LM_ITER_AFTER_START` = 2
    after a start model, else :data:`~phdl.fit.fast.LM_ITER` = 30); stars left with a reduced
    χ² above ``fallback_chi2`` are refitted two-stage);
    ``init`` (n, 34) physical: start and held values (see the module docstring);
    ``held`` (n, 34) or (34,) physical: values of the six unfitted labels only (other columns
    ignored), overriding the default or ``init`` for them;
    ``seed``: all randomness; ``popsize``: λ per stage (None: pycma's default 4 + ⌊3 ln k⌋);
    ``max_iter``: generations per stage (None: :data:`MAX_ITER`); ``tol``: stop when χ² is flat
    to ``tol`` in total χ² (with ``scale_tol``, to ``tol`` times the star's reduced χ² where that
    exceeds 1: see :mod:`phdl.fit.cmaes`); ``sigma0``: initial step (scaled units; with a
    Gauss–Newton start the cap on it); ``gn_steps``: Gauss–Newton steps setting CMA-ES's
    initial mean and covariance per stage (0: isotropic start at ``sigma0``); ``star_index``
    (n,) int: the stars' numbers in their random streams (default 0 … n-1; a part of a larger
    set passes its rows' numbers, so that each star draws what it would in one call);
    ``batch_size``: stars advancing together (their populations are evaluated in one
    ``predict`` call);
    ``checkpoint``: an .npz path where finished batches are saved, so that an interrupted fit
    resumes where it stopped (:mod:`phdl.fit.resume`; removed when the fit completes).

    Returns an astropy Table, one row per star: the 34 labels (physical; NaN if not fitted),
    ``Chisq`` (reduced, Eq. 15), ``n_iter`` (generations, all stages), ``n_eval`` (model
    spectra evaluated for this star, excluding the shared starting bank), ``stop`` (the stop
    reason of each stage, " | "-separated) and ``status`` ("ok" or what was wrong with the star).
    """
    max_iter = MAX_ITER if max_iter is None else max_iter
    _check_options(strategy, popsize, max_iter, tol, batch_size, sigma0)
    if not fallback_chi2 > 0:
        raise ValueError(f"fallback_chi2 must be > 0 (reduced χ²; inf: never): {fallback_chi2!r}")
    stage = StageOptions(max_iter=max_iter, tol=tol, popsize=popsize, scale_tol=bool(scale_tol))
    if lm_iter is None:
        lm_iter = LM_ITER if start_model is None else LM_ITER_AFTER_START
    if not isinstance(lm_iter, int | np.integer) or lm_iter < 1:
        raise ValueError(f"lm_iter must be a positive integer, got {lm_iter!r}")
    options = FitOptions(strategy, seed, stage, sigma0=sigma0, gn_steps=gn_steps,
                         fallback_chi2=fallback_chi2, lm_iter=int(lm_iter),
                         start_model=_model_name(start_model))  # fmt: skip
    flux, ivar = on_model_grid(model.wavelength, wavelength, flux, ivar)
    n = len(flux)
    ids = np.arange(n) if star_index is None else np.asarray(star_index, dtype=np.int64)
    if ids.shape != (n,):
        raise ValueError(f"star_index must have shape ({n},), got {ids.shape}")
    stages = stage_columns(strategy)
    n_fit = sum(len(s) for s in stages)

    n_good = (ivar > 0).sum(1)
    status = np.array(["ok"] * n, dtype=object)
    status[n_good == 0] = "no usable pixels: every pixel is masked (ivar 0 or non-finite flux)"
    few = (n_good > 0) & (n_good < n_fit)
    status[few] = [f"only {k} usable pixels for {n_fit} fitted labels" for k in n_good[few]]
    ok = np.flatnonzero(status == "ok")

    start = _start(model, flux, ivar, ok, init, held)

    key = (
        ""
        if checkpoint is None
        else input_key(model, flux[ok], ivar[ok], start[ok], asdict(options))
    )
    ckpt = Checkpoint(checkpoint, key, n)
    todo = ok[~ckpt.done[ok]]

    from tqdm import tqdm  # plain bar: widget bars do not survive papermill execution

    desc = f"fit ({strategy})"
    with tqdm(total=len(ok), initial=len(ok) - len(todo), unit="star", disable=not progress,
              desc=desc) as bar:  # fmt: skip
        for b in range(0, len(todo), batch_size):
            stars = todo[b : b + batch_size]

            def show(active: int, stage: int, n_b: int = len(stars)) -> None:
                bar.set_postfix(stage=stage + 1, running=f"{active}/{n_b}", refresh=False)

            args = (flux[stars], ivar[stars], start[stars], ids[stars], stages, options, show)
            if strategy == "fast":
                out = _fit_batch_fast(model, start_model, *args)
            else:
                out = _fit_batch(model, *args)
            ckpt.save(stars, *out)
            bar.update(len(stars))
    ckpt.remove()
    return _table(ckpt, status, options)


def _fit_batch(model: SpectralModel, flux, ivar, start, stars, stages, options: FitOptions, show):
    """Fit one batch of stars through all stages: (labels, chisq, n_iter, n_eval, stop)."""
    current = start
    m = len(stars)
    n_iter = np.zeros(m, dtype=np.int64)
    n_eval = np.zeros(m, dtype=np.int64)
    reasons: list[list[str]] = [[] for _ in stars]
    for s, fit_idx in enumerate(stages):
        cov0, step0 = None, options.sigma0
        if options.gn_steps > 0:
            current, cov0, step0, ev = _gauss_newton(model, flux, ivar, current, fit_idx, options)
            n_eval += ev
        seeds = [(options.seed, int(i), s) for i in stars]
        res = run_stage(model, flux, ivar, current, fit_idx, seeds, options.stage,
                        sigma0=step0, cov0=cov0,
                        on_generation=lambda n, s=s: show(n, s))  # fmt: skip
        current = res.labels
        n_iter += res.n_iter
        n_eval += res.n_eval
        for r, why in zip(reasons, res.stop, strict=True):
            r.append(why)
    return current, res.chisq, n_iter, n_eval, [" | ".join(r) for r in reasons]


def _fit_batch_fast(model, start_model, flux, ivar, start, stars, stages, options, show):
    """The fast strategy for one batch (:mod:`phdl.fit.fast`): Levenberg–Marquardt on
    ``start_model`` (if any) to convergence, then at most ``lm_iter`` iterations on ``model``;
    the two-stage CMA-ES for the stars above ``fallback_chi2`` (started at the Levenberg–
    Marquardt result, which is kept where CMA-ES ends no lower). Returns (labels, chisq,
    n_iter, n_eval, stop); ``n_iter`` and ``n_eval`` count ``model``'s work only."""
    show(len(stars), 0)
    tol = options.stage.tol
    if start_model is not None:
        start = levenberg_marquardt(start_model, flux, ivar, start, stages[0], tol=tol).labels
    res = levenberg_marquardt(model, flux, ivar, start, stages[0], tol=tol,
                              max_iter=options.lm_iter)  # fmt: skip
    stop = [f"lm:{why}" for why in res.stop]
    redo = np.flatnonzero(res.chisq > options.fallback_chi2)
    if len(redo):
        cma = _fit_batch(model, flux[redo], ivar[redo], res.labels[redo], stars[redo],
                         stage_columns("two-stage"), options,
                         lambda n, s: show(n, s + 1))  # fmt: skip
        better = cma[1] < res.chisq[redo]  # CMA-ES keeps its best sample, not its start
        res.labels[redo[better]], res.chisq[redo[better]] = cma[0][better], cma[1][better]
        res.n_iter[redo] += cma[2]
        res.n_eval[redo] += cma[3]
        for i, why, b in zip(redo, cma[4], better, strict=True):
            stop[i] += f" | fallback: {why}" + ("" if b else " (kept lm)")
    return res.labels, res.chisq, res.n_iter, res.n_eval, stop


def _model_name(model) -> str:
    """A start model's kind ("mlp", "transformer") or class name; "" for none."""
    return "" if model is None else str(getattr(model, "kind", type(model).__name__))


def _fast_meta(options: FitOptions) -> dict:
    """The fast strategy's settings for the table header."""
    return {
        "FALLBACK": str(options.fallback_chi2),
        "LMITER": int(options.lm_iter),
        "STARTMOD": options.start_model or "none",
    }


def _gauss_newton(model: SpectralModel, flux, ivar, labels, fit_idx, options: FitOptions):
    """CMA-ES's start from :func:`gauss_newton_start`: (labels, cov0, step0, evaluations); the
    step is ``start_sigmas`` geometric-mean σ of the covariance, capped at ``sigma0``."""
    labels, cov0, evals = gauss_newton_start(
        model, flux, ivar, labels, fit_idx, steps=options.gn_steps
    )
    geo = np.exp(np.mean(np.log(np.diagonal(cov0, axis1=1, axis2=2)), axis=1))
    step0 = np.minimum(options.start_sigmas * np.sqrt(geo), options.sigma0)
    return labels, cov0, step0, evals


def _table(ckpt: Checkpoint, status: np.ndarray, options: FitOptions) -> Table:
    """The label table (see :func:`fit_spectra`); the options go into ``meta`` (FITS header)."""
    cols: dict[str, Sequence] = {name: ckpt.labels[:, j] for j, name in enumerate(LABELS)}
    cols.update(
        Chisq=ckpt.chisq,
        n_iter=ckpt.n_iter,
        n_eval=ckpt.n_eval,
        stop=np.array([str(s) for s in ckpt.stop], dtype=str),
        status=np.array([str(s) for s in status], dtype=str),
    )
    table = Table(cols)
    stage = options.stage
    table.meta.update(
        {
            "STRATEGY": options.strategy,
            "SEED": int(options.seed),
            "POPSIZE": "pycma default" if stage.popsize is None else int(stage.popsize),
            "MAXITER": int(stage.max_iter),
            "TOL": float(stage.tol),
            "SCALETOL": bool(stage.scale_tol),
            "SIGMA0": float(options.sigma0),
            "GNSTEPS": int(options.gn_steps),
            **(_fast_meta(options) if options.strategy == "fast" else {}),
        }
    )
    return table
