"""Batched CMA-ES (Section 2.2.1): many stars advance together, one emulator call per generation.

Each star has its own ``cma.CMAEvolutionStrategy`` over its fitted labels in scaled units
(Eq. 25, with the model's ``label_min`` / ``label_max``), bounded to [-0.25, 1.25] by pycma's
``BoundTransform`` (as the paper). Every generation the populations of all still-running stars
are stacked into one ``model.predict`` call; each star stops on its own.

Determinism: every star draws its samples from its own generator
``numpy.random.default_rng([seed, star, stage])`` (pycma's global ``numpy.random`` is not used),
so a star's result does not depend on which other stars share its batch.

Stopping, per star (whichever comes first; the reason is reported):
- ``tolchi2``: the reduced-χ² range of the current population and of the best values of the
  last :data:`HISTORY` generations are both below ``tol / n_pix`` — i.e. below ``tol`` in
  total χ² (default 1: the Δχ² that separates labels by one σ along one direction). This is
  pycma's ``tolfun`` test with a 10-generation history instead of 10 + 30 N / λ. When the
  star's best reduced χ² so far, χ²_r, exceeds 1 (model errors, underestimated noise) the
  threshold is ``tol`` · χ²_r: the errors are then scaled by √χ²_r (Eq. 21), and so is the
  Δχ² of one σ, so a star the model cannot match is not driven to a χ² flatness finer than
  its errors resolve (``scale_tol=False`` turns this off).
- any of pycma's own criteria (``maxiter``, ``tolx``, ``tolfun``, ``tolstagnation``, ...).
After stopping, the final distribution mean is evaluated as well (one spectrum per star) and
the better of it and the best sampled point is the result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cma
import numpy as np
import scipy.linalg

from phdl.fit.spectra import chi2
from phdl.labels import scale, unscale

if TYPE_CHECKING:
    from phdl.emulator.protocol import SpectralModel

#: Bounds of the search in scaled label units (Eq. 25), as in the paper.
BOUNDS: tuple[float, float] = (-0.25, 1.25)
#: Generations of best-χ² history for the ``tolchi2`` stop.
HISTORY = 10


@dataclass
class StageResult:
    """Per star: best ``labels`` (m, 34) physical, reduced ``chisq`` (m,), generations
    ``n_iter`` (m,), model evaluations ``n_eval`` (m,), pycma/phdl ``stop`` reasons."""

    labels: np.ndarray
    chisq: np.ndarray
    n_iter: np.ndarray
    n_eval: np.ndarray
    stop: list[str]


def default_popsize(k: int) -> int:
    """pycma's default population 4 + ⌊3 ln k⌋ for k fitted labels (12 for 16, 13 for 28)."""
    return 4 + int(3 * np.log(k))


def set_covariance(es: cma.CMAEvolutionStrategy, cov: np.ndarray) -> None:
    """Give a fresh strategy the initial covariance shape ``cov`` (k, k), normalized to a
    geometric-mean variance of 1 (``es.sigma`` keeps the scale). pycma has no option for a full
    initial C, so this sets its sampler's matrix and eigen-decomposition (pycma >= 3.3)."""
    cov = np.asarray(cov, dtype=np.float64)
    d = np.diag(cov)
    if cov.shape != (es.N, es.N) or not np.all(d > 0) or not np.all(np.isfinite(cov)):
        raise ValueError(f"initial covariance must be ({es.N}, {es.N}) positive definite")
    c = cov / np.exp(np.mean(np.log(d)))
    es.sm.C = 0.5 * (c + c.T)
    es.sm._decompose_C()
    es.dC = np.diag(es.sm.C).copy()
    es.D = es.dC**0.5


@dataclass(frozen=True)
class StageOptions:
    """How one CMA-ES stage runs: at most ``max_iter`` generations; the ``tolchi2`` threshold
    ``tol`` in total χ², multiplied by the best reduced χ² so far where that exceeds 1 if
    ``scale_tol`` (see the module docstring); population ``popsize`` λ (None:
    :func:`default_popsize`)."""

    max_iter: int
    tol: float
    popsize: int | None = None
    scale_tol: bool = True


def new_strategy(
    x0: np.ndarray,
    sigma0: float,
    seed: Sequence[int],
    popsize: int,
    max_iter: int,
    cov0: np.ndarray | None = None,
) -> cma.CMAEvolutionStrategy:
    """A pycma strategy for one star: mean ``x0`` (k,) scaled, step ``sigma0``, bounded to
    :data:`BOUNDS`, sampling from its own generator ``default_rng(seed)``; ``cov0`` (k, k)
    an optional initial covariance shape (:func:`set_covariance`)."""
    rng = np.random.default_rng(list(seed))
    opts = {
        "bounds": list(BOUNDS),
        "BoundaryHandler": cma.BoundTransform,
        "popsize": popsize,
        "maxiter": max_iter,
        "seed": np.nan,  # pycma must not reseed the global numpy RNG
        "randn": lambda *shape: rng.standard_normal(shape),
        "verbose": -9,
        "verb_log": 0,
        "verb_disp": 0,
        # scipy's eigh: numpy's slows down badly after the emulator's multithreaded BLAS work
        "CMA_eigenmethod": scipy.linalg.eigh,
    }
    es = cma.CMAEvolutionStrategy(x0, sigma0, opts)
    if cov0 is not None:
        set_covariance(es, cov0)
    return es


class _Stage:
    """The strategies of m stars fitting the labels ``fit_idx``, and each star's best point.

    CMA-ES works in scaled labels (Eq. 25) of the fitted labels; the model sees physical
    labels, the others held at ``start``.
    """

    def __init__(self, model: SpectralModel, flux, ivar, start, fit_idx, options: StageOptions):
        self.model, self.flux, self.ivar, self.options = model, flux, ivar, options
        self.start = np.array(start, dtype=np.float64)
        self.fit_idx = np.asarray(fit_idx, dtype=int)
        self.lo = np.asarray(model.label_min, dtype=np.float64)[self.fit_idx]
        self.hi = np.asarray(model.label_max, dtype=np.float64)[self.fit_idx]
        self.tol = options.tol / (ivar > 0).sum(1)  # (m,) in reduced χ²
        m = len(flux)
        self.best_f = np.full(m, np.inf)
        self.hist = [deque(maxlen=HISTORY) for _ in range(m)]
        self.stops = [""] * m

    def begin(self, seeds, sigma0: np.ndarray, cov0: np.ndarray | None) -> None:
        """One strategy per star, its mean the scaled ``start``, moved inside the bounds by 1e-6
        of their width where it lies on or beyond one (pycma needs a strictly interior start)."""
        eps = 1e-6 * (BOUNDS[1] - BOUNDS[0])
        x0 = scale(self.start[:, self.fit_idx], self.lo, self.hi)
        x0 = np.clip(x0, BOUNDS[0] + eps, BOUNDS[1] - eps)
        lam = self.options.popsize or default_popsize(len(self.fit_idx))
        self.strategies = [
            new_strategy(x, float(sigma0[i]), seeds[i], lam, self.options.max_iter,
                         None if cov0 is None else cov0[i])
            for i, x in enumerate(x0)
        ]  # fmt: skip
        self.best_x = np.array([np.asarray(es.mean, dtype=np.float64) for es in self.strategies])

    def chi2(self, stars: Sequence[int], points: list[np.ndarray]) -> list[np.ndarray]:
        """Reduced χ² of each star's scaled ``points`` (λ, k): ONE predict call for all."""
        counts = [len(p) for p in points]
        rows = np.repeat(self.start[stars], counts, axis=0)
        rows[:, self.fit_idx] = unscale(np.concatenate(points), self.lo, self.hi)
        star_of = np.repeat(stars, counts)
        f = chi2(self.model.predict(rows), self.flux[star_of], self.ivar[star_of])
        return np.split(f, np.cumsum(counts)[:-1])

    def generation(self, active: list[int]) -> list[int]:
        """Ask, evaluate and tell once for every active star; the stars still running."""
        points = [np.asarray(self.strategies[i].ask(), dtype=np.float64) for i in active]
        still = []
        for i, x, f in zip(active, points, self.chi2(active, points), strict=True):
            self.strategies[i].tell(list(x), f.tolist())
            j = int(np.argmin(f))
            if f[j] < self.best_f[i]:
                self.best_f[i], self.best_x[i] = f[j], x[j]
            self.hist[i].append(float(f[j]))
            self.stops[i] = self.stop_reason(i, f)
            if not self.stops[i]:
                still.append(i)
        return still

    def stop_reason(self, i: int, f: np.ndarray) -> str:
        """pycma's stop criteria, else ``tolchi2`` (see the module docstring), else ""."""
        reason = dict(self.strategies[i].stop())
        tol = self.tol[i] * max(1.0, self.best_f[i]) if self.options.scale_tol else self.tol[i]
        hist = self.hist[i]
        flat = len(hist) == HISTORY and np.ptp(f) < tol and max(hist) - min(hist) < tol
        if not reason and flat:
            reason = {"tolchi2": tol}
        return ",".join(sorted(reason))

    def try_means(self) -> None:
        """Evaluate each final mean (inside the bounds); keep it where it beats every sample."""
        means = [
            np.clip(np.asarray(es.result.xfavorite, dtype=np.float64), *BOUNDS)[None]
            for es in self.strategies
        ]
        f_mean = np.concatenate(self.chi2(list(range(len(means))), means))
        use_mean = f_mean < self.best_f
        self.best_x[use_mean] = np.concatenate(means)[use_mean]
        self.best_f = np.where(use_mean, f_mean, self.best_f)

    def result(self) -> StageResult:
        labels = self.start.copy()
        labels[:, self.fit_idx] = unscale(self.best_x, self.lo, self.hi)
        return StageResult(
            labels=labels,
            chisq=self.best_f,
            n_iter=np.array([es.countiter for es in self.strategies]),
            n_eval=np.array([es.countevals + 1 for es in self.strategies]),
            stop=self.stops,
        )


def run_stage(
    model: SpectralModel,
    flux: np.ndarray,
    ivar: np.ndarray,
    start: np.ndarray,
    fit_idx: Sequence[int],
    seeds: Sequence[Sequence[int]],
    options: StageOptions,
    *,
    sigma0: float | np.ndarray,
    cov0: np.ndarray | None = None,
    on_generation: Callable[[int], None] | None = None,
) -> StageResult:
    """Fit labels ``fit_idx`` of m stars together, the others held at ``start``.

    ``flux``, ``ivar`` (m, n_pix) cleaned, on the model's grid, each star with >= 1 unmasked
    pixel; ``start`` (m, 34) physical: the initial mean and the held values; ``seeds`` one
    int sequence per star; ``options`` how the stage runs (:class:`StageOptions`); ``sigma0``
    the initial step size (scaled units), a scalar or (m,); ``cov0`` (m, k, k) optional
    initial covariance shapes (scaled units, see :func:`set_covariance`; the scale is
    ``sigma0``). ``on_generation(n_active)`` is called after each generation.
    """
    stage = _Stage(model, flux, ivar, start, fit_idx, options)
    m = len(flux)
    stage.begin(seeds, np.broadcast_to(np.asarray(sigma0, dtype=np.float64), (m,)), cov0)
    active = list(range(m))
    while active:
        active = stage.generation(active)
        if on_generation is not None:
            on_generation(len(active))
    stage.try_means()
    return stage.result()
