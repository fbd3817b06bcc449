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
  Δχ² of one σ. Without this a star that the emulator cannot match (χ²_r ~ 10) was driven to
  a 10× finer χ² flatness than its errors resolve.
- any of pycma's own criteria (``maxiter``, ``tolx``, ``tolfun``, ``tolstagnation``, ...).
After stopping, the final distribution mean is evaluated as well (one spectrum per star) and
the better of it and the best sampled point is the result.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cma
import numpy as np
import scipy.linalg

from phdl.fit.spectra import chi2
from phdl.labels import scale, unscale

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


def run_stage(
    model,
    flux: np.ndarray,
    ivar: np.ndarray,
    start: np.ndarray,
    fit_idx: Sequence[int],
    seeds: Sequence[Sequence[int]],
    *,
    sigma0: float | np.ndarray,
    cov0: np.ndarray | None = None,
    popsize: int | None,
    max_iter: int,
    tol: float,
    scale_tol: bool = True,
    on_generation=None,
) -> StageResult:
    """Fit labels ``fit_idx`` of m stars together, the others held at ``start``.

    ``flux``, ``ivar`` (m, n_pix) cleaned, on the model's grid, each star with >= 1 unmasked
    pixel; ``start`` (m, 34) physical: the initial mean and the held values; ``seeds`` one
    int sequence per star; ``sigma0`` the initial step size (scaled units), a scalar or (m,);
    ``cov0`` (m, k, k) optional initial covariance shapes (scaled units, see
    :func:`set_covariance`; the scale is ``sigma0``); ``popsize`` λ (None:
    :func:`default_popsize`); ``max_iter`` generations at most; ``tol`` the ``tolchi2``
    threshold in total χ², multiplied by the best reduced χ² so far when that exceeds 1 and
    ``scale_tol`` (see the module docstring). ``on_generation(n_active)`` is called after each
    generation.
    """
    fit_idx = np.asarray(fit_idx, dtype=int)
    k = len(fit_idx)
    m = len(flux)
    lo = np.asarray(model.label_min, dtype=np.float64)[fit_idx]
    hi = np.asarray(model.label_max, dtype=np.float64)[fit_idx]
    start = np.array(start, dtype=np.float64)
    n_good = (ivar > 0).sum(1).astype(np.float64)
    ftol = tol / n_good
    lam = popsize or default_popsize(k)
    eps = 1e-6 * (BOUNDS[1] - BOUNDS[0])
    sigma0 = np.broadcast_to(np.asarray(sigma0, dtype=np.float64), (m,))

    strategies = []
    for i in range(m):
        rng = np.random.default_rng(list(seeds[i]))
        x0 = np.clip(scale(start[i, fit_idx], lo, hi), BOUNDS[0] + eps, BOUNDS[1] - eps)
        opts = {
            "bounds": list(BOUNDS),
            "BoundaryHandler": cma.BoundTransform,
            "popsize": lam,
            "maxiter": max_iter,
            "seed": np.nan,  # pycma must not reseed the global numpy RNG
            "randn": lambda *shape, rng=rng: rng.standard_normal(shape),
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            # numpy's eigh of a 28 x 28 matrix takes ~40 ms instead of ~0.4 ms when it follows
            # large multithreaded BLAS work (the emulator's) on a loaded CPU; scipy's does not
            "CMA_eigenmethod": scipy.linalg.eigh,
        }
        es = cma.CMAEvolutionStrategy(x0, float(sigma0[i]), opts)
        if cov0 is not None:
            set_covariance(es, cov0[i])
        strategies.append(es)

    best_f = np.full(m, np.inf)
    best_x = np.array([np.asarray(es.mean, dtype=np.float64) for es in strategies])
    hist = [deque(maxlen=HISTORY) for _ in range(m)]
    stops = [""] * m
    active = list(range(m))

    def rows_for(stars: list[int], points: list[np.ndarray]) -> np.ndarray:
        counts = [len(p) for p in points]
        rows = np.repeat(start[stars], counts, axis=0)
        rows[:, fit_idx] = unscale(np.concatenate(points), lo, hi)
        return rows

    while active:
        points = [np.asarray(strategies[i].ask(), dtype=np.float64) for i in active]
        counts = [len(p) for p in points]
        star_of = np.repeat(active, counts)
        model_flux = model.predict(rows_for(active, points))  # ONE call for the whole batch
        f_all = chi2(model_flux, flux[star_of], ivar[star_of])
        still = []
        for i, x, f in zip(active, points, np.split(f_all, np.cumsum(counts)[:-1]), strict=True):
            es = strategies[i]
            es.tell(list(x), f.tolist())
            j = int(np.argmin(f))
            if f[j] < best_f[i]:
                best_f[i], best_x[i] = f[j], x[j]
            hist[i].append(float(f[j]))
            reason = dict(es.stop())
            tol_i = ftol[i] * max(1.0, best_f[i]) if scale_tol else ftol[i]
            if (
                not reason
                and len(hist[i]) == HISTORY
                and np.ptp(f) < tol_i
                and max(hist[i]) - min(hist[i]) < tol_i
            ):
                reason = {"tolchi2": tol_i}
            if reason:
                stops[i] = ",".join(sorted(reason))
            else:
                still.append(i)
        active = still
        if on_generation is not None:
            on_generation(len(active))

    # the final mean (phenotype, inside the bounds) is often better than any sample
    means = [
        np.clip(np.asarray(es.result.xfavorite, dtype=np.float64), *BOUNDS)[None]
        for es in strategies
    ]
    f_mean = chi2(model.predict(rows_for(list(range(m)), means)), flux, ivar)
    use_mean = f_mean < best_f
    best_x[use_mean] = np.concatenate(means)[use_mean]
    best_f = np.where(use_mean, f_mean, best_f)

    labels = start.copy()
    labels[:, fit_idx] = unscale(best_x, lo, hi)
    return StageResult(
        labels=labels,
        chisq=best_f,
        n_iter=np.array([es.countiter for es in strategies]),
        n_eval=np.array([es.countevals + 1 for es in strategies]),
        stop=stops,
    )
