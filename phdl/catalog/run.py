"""``phdl catalog`` on Dask: shards of spectra fitted by workers, then merged into one catalogue.

- The cluster: by default a ``distributed.LocalCluster`` with one single-threaded worker process
  per core (``workers``); with ``scheduler`` ("tcp://host:8786") an existing cluster, where the
  workers must see the same files (model, spectra, output folder) at the same paths.
- The work: one task per shard of ``shard_size`` stars (:func:`phdl.catalog.shard.run_shard`),
  submitted with ``retries``; a worker that dies loses its shard only, which the scheduler
  runs again elsewhere. Finished shards (``<out>.shards/``) are skipped on a rerun; a shard of
  another model, other options or other inputs stops the run (:class:`ShardMismatch`).
- The result: the shards' rows, in input order, in one FITS table with Table 4's columns
  (:mod:`phdl.catalog.table4`) and a header recording the model's SHA-256, the options and
  the phdl version; written atomically.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.table import vstack

from phdl.cache import sha256_file
from phdl.catalog.inputs import Shard, resolve, shards
from phdl.catalog.shard import Job, finished, run_shard, shard_paths
from phdl.catalog.table4 import calibrated, empty, write_units

#: Seconds to wait for an existing scheduler before giving up.
CONNECT_TIMEOUT = 10
#: Retries of a shard whose task raised (a worker's death is retried by the scheduler itself).
RETRIES = 2


class SchedulerUnreachable(ConnectionError):
    """No Dask scheduler answered at the given address."""


@dataclass
class CatalogRun:
    """What :func:`run_catalog` did: the catalogue's ``path``, the shards ``fitted`` now and
    ``skipped`` (finished before), the ``dashboard`` link and the ``failed`` shards' errors."""

    path: Path | None
    fitted: int
    skipped: int
    dashboard: str
    failed: dict[int, str]


@contextmanager
def connect(scheduler: str | None, workers: int | None) -> Iterator:
    """A ``distributed.Client``: to ``scheduler`` if given (SchedulerUnreachable after
    :data:`CONNECT_TIMEOUT` s), else to a new LocalCluster of ``workers`` single-threaded
    worker processes (default: one per core), closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise SchedulerUnreachable(
                f"no Dask scheduler answered at {scheduler} within {CONNECT_TIMEOUT} s ({exc})"
            ) from None
        with client:
            yield client
        return
    n = workers or os.cpu_count() or 1
    with (
        LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                     silence_logs=logging.ERROR) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        yield client


def make_job(
    model, spectra, out, *, strategy="fast", seed=0, flags=True, batch_size=64, start_model=None,
    calibration=None,
) -> Job:  # fmt: skip
    """The :class:`Job` for ``model`` (checkpoint path), ``spectra`` (``--spectra``) and the
    catalogue ``out`` (the shards go to ``<out>.shards/``); ``start_model``: the fast
    strategy's start model (checkpoint path) or None; ``calibration``: a calibration file
    (:meth:`phdl.calibrate.Calibration.save`) applied when the shards are merged, or None."""
    paths = [Path(model)] + ([] if start_model is None else [Path(start_model)])
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"model checkpoint {p} not found")
    out = Path(out)
    shard_dir = out.with_name(out.name + ".shards")
    start = ("", "") if start_model is None else (str(paths[1].resolve()), sha256_file(paths[1]))
    calib = ("", "")
    if calibration is not None:
        from phdl.calibrate import Calibration

        Calibration.load(calibration)  # a missing or broken file fails before any fitting
        calib = (str(Path(calibration).resolve()), sha256_file(Path(calibration)))
    return Job(str(paths[0].resolve()), sha256_file(paths[0]), resolve(spectra),
               str(shard_dir.resolve()), strategy, seed, flags, batch_size, *start,
               *calib)  # fmt: skip


def run_catalog(
    job: Job,
    out: str | os.PathLike[str],
    *,
    shard_size: int = 64,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    task: Callable[[Job, Shard], str] = run_shard,
) -> CatalogRun:
    """Fit every shard of ``job`` not finished yet on a Dask cluster (module docstring), then
    merge all shards into ``out``. Finished shards are checked before any work starts.
    ``task``: what a worker runs per shard (:func:`run_shard`; tests wrap it)."""
    from distributed import as_completed
    from tqdm import tqdm

    todo = shards(job.inputs.n, shard_size)
    Path(job.shard_dir).mkdir(parents=True, exist_ok=True)
    left = [s for s in todo if not finished(job, s)]
    failed: dict[int, str] = {}
    dashboard = ""
    if left:
        with connect(scheduler, workers) as client:
            dashboard = client.dashboard_link or ""
            print(f"phdl: Dask dashboard: {dashboard or 'none'}", file=sys.stderr)
            run_id = _run_id(job)
            futures = {
                client.submit(task, job, s, key=f"phdl-shard-{s.index}-{run_id}",
                              retries=RETRIES, pure=False): s
                for s in left
            }  # fmt: skip
            with tqdm(total=len(todo), initial=len(todo) - len(left), unit="shard",
                      desc="catalog", disable=not progress) as bar:  # fmt: skip
                for future in as_completed(futures):
                    if future.status == "error":
                        failed[futures[future].index] = repr(future.exception())
                    bar.update(1)
    path = None if failed else merge(job, todo, out)
    return CatalogRun(path, len(left) - len(failed), len(todo) - len(left), dashboard, failed)


def _run_id(job: Job) -> str:
    """A short hash of what makes a run's shards (inputs, model, options, output folder): task
    keys on a shared scheduler never collide with another run's."""
    import hashlib
    import json

    blob = json.dumps([job.inputs_key(), job.model_sha256, job.options(), job.shard_dir])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def merge(job: Job, todo: list[Shard], out: str | os.PathLike[str]) -> Path:
    """The catalogue: every shard's rows in input order, one FITS table with the provenance
    header (model, its SHA-256, options, phdl version, the calibration file or "none"); the
    job's calibration, if any, applied (:func:`phdl.catalog.table4.calibrated`)."""
    from phdl import __version__
    from phdl.fit import read_table, write_table

    parts = [read_table(shard_paths(job.shard_dir, s.index)[0]) for s in todo]
    table = vstack(parts, metadata_conflicts="silent") if parts else empty()
    if job.calibration_path and len(table):
        from phdl.calibrate import Calibration

        table = calibrated(table, Calibration.load(job.calibration_path))
    for key in ("SHARD", "FIRST"):
        table.meta.pop(key, None)
    table.meta.update(
        {
            "MODEL": Path(job.model_path).name,
            "MODELSHA": job.model_sha256,
            "STARTMOD": Path(job.start_model_path).name if job.start_model_path else "none",
            "PHDLVER": __version__,
            "STRATEGY": job.strategy,
            "SEED": int(job.seed),
            "FLAGS": bool(job.flags),
            "CALIB": Path(job.calibration_path).name if job.calibration_path else "none",
            "CALIBSHA": job.calibration_sha256 or "none",
            "NSTARS": int(job.inputs.n),
            "NSHARDS": len(todo),
            "SPECTRA": Path(job.inputs.source).name,
        }
    )
    table.meta["NBAD"] = int(np.sum(table["reason"] != "ok")) if len(table) else 0
    path = write_table(table, out)
    write_units(path)
    return path
