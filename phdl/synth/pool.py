"""The engine in worker processes: chunks of labels synthesized in parallel.

One synthesis is a long chain of small tensor operations that two threads barely share (on the
2-core development machine one thread did 0.87 spectra/s with gradients at batch 8, two threads
in one process about 0.63/s). Independent processes with one thread each scale instead. Each
worker builds its own :class:`~phdl.synth.Synthesizer` from the same :class:`Physics` (a few
seconds, plus compilation when ``torch.compile`` is on) and then takes chunks; results come
back in completion order, each with its chunk's row indices, so the caller can write them as
they arrive (:func:`phdl.grid.make_grid` keeps its per-chunk resume).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

import numpy as np

_ENGINE = None


def _init(physics, compiled: bool, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    from phdl.synth import Synthesizer

    global _ENGINE
    _ENGINE = Synthesizer(physics=physics, compile=compiled)


def _run(labels: np.ndarray, with_gradients: bool):
    assert _ENGINE is not None, "worker not initialized"
    if with_gradients:
        flux, grads = _ENGINE(labels, with_gradients=True)
        return np.asarray(flux, dtype=np.float64), np.asarray(grads, dtype=np.float32)
    return np.asarray(_ENGINE(labels), dtype=np.float64), None


def _cores() -> int:
    """CPU cores available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int) -> int:
    """``workers`` ≥ 1 as given; 0 means one per CPU core available to this process."""
    if workers < 0:
        raise ValueError(f"workers must be >= 0 (0 = one per core), got {workers}")
    return workers or _cores()


def synthesize_chunks(
    physics,
    compiled: bool,
    labels: np.ndarray,
    chunks: Sequence[np.ndarray],
    workers: int,
    with_gradients: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """Yield ``(rows, flux (k, n_pix) float64, gradients (k, 34, n_pix) float32 or None)`` for
    each array of row indices in ``chunks`` (of ``labels`` (n, 34) physical), computed by
    ``workers`` processes of one thread each (``spawn``: safe with torch's thread pools), in
    completion order. At most two chunks per worker are in flight (memory stays bounded). A
    worker's exception is raised here; leaving the loop early cancels the rest."""
    threads = max(1, _cores() // workers)
    ctx = multiprocessing.get_context("spawn")
    pending: dict[Future, np.ndarray] = {}
    todo = list(chunks)
    with ProcessPoolExecutor(workers, ctx, initializer=_init,
                             initargs=(physics, compiled, threads)) as pool:  # fmt: skip
        try:
            while todo or pending:
                while todo and len(pending) < 2 * workers:
                    rows = todo.pop(0)
                    pending[pool.submit(_run, labels[rows], with_gradients)] = rows
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: int(pending[f][0])):
                    rows = pending.pop(fut)
                    flux, grads = fut.result()
                    yield rows, flux, grads
        finally:
            for fut in pending:
                fut.cancel()
