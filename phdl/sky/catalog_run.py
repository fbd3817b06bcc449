"""Chapter 09's run: the subgiant catalogue (paper §5, Table 4) made by ``phdl catalog`` on
Dask, from the simulated sky's subgiants or from real LAMOST spectra.

:func:`run_subgiants` draws the subgiants (:func:`phdl.sky.subgiants.subgiants`), observes them
through the sky's physics (:func:`phdl.sky.spectra.observe_sky`, which writes Table 4's
identifiers into the spectra file), and hands that file to :func:`phdl.catalog.run_catalog`:
fit (fast strategy), χ²-scaled errors, flags and chapter 6's calibration, shard by shard, so
an interrupted run resumes. With ``lamost_catalog_path`` it fits real LAMOST files instead
(:func:`phdl.io.read_lamost_catalog` → a manifest in ``spectra_dir``).

The Hypatia-like stars give Figure 15's median trends (:func:`median_trends`).
"""

from __future__ import annotations

import os
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

__all__ = ["SubgiantCatalog", "first_visits", "median_trends", "run_subgiants"]


@dataclass
class SubgiantCatalog:
    """The catalogue as written (``catalog``, at ``path``), the truth of its rows (``truth``,
    one row per catalogue row, None for real data), what ``phdl catalog`` did (``run``: a
    :class:`phdl.catalog.CatalogRun`) and its wall time (``seconds``, this call)."""

    catalog: Table
    path: Path
    truth: Table | None
    run: Any
    seconds: float


def _spectra(truth: Table, physics: Any, sky_dir, seed: int) -> Path:
    from phdl.sky.spectra import observe_sky

    return observe_sky(truth, physics, sky_dir, seed=seed, workers=min(2, os.cpu_count() or 1))


def _real_spectra(lamost_catalog_path, spectra_dir, catalog_path) -> Path:
    """A manifest of the catalogue's spectra with S/N_g above the paper's cut that are in
    ``spectra_dir`` (a file the catalogue names but the folder lacks is left out, with a
    warning), written beside the catalogue (``spectra_dir`` may be read-only)."""
    from phdl.io.lamost_catalog import read_lamost_catalog, write_manifest
    from phdl.paper import CATALOG_MIN_SNR

    if not spectra_dir:
        raise ValueError("real LAMOST data need spectra_dir with lamost_catalog_path")
    out = Path(catalog_path).with_name(Path(catalog_path).stem + "-manifest.csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    stars = read_lamost_catalog(lamost_catalog_path, min_snr=CATALOG_MIN_SNR)
    kept = write_manifest(stars, out, spectra_dir, missing="skip")
    if len(kept) < len(stars):
        warnings.warn(f"{len(stars) - len(kept)} spectra of {lamost_catalog_path} are not in "
                      f"{spectra_dir}; left out", stacklevel=2)  # fmt: skip
    return out


def run_subgiants(
    *,
    n_stars: int = 0,
    seed: int = 0,
    physics: Any = None,
    model_path: str | os.PathLike[str],
    catalog_path: str | os.PathLike[str],
    sky_dir: str | os.PathLike[str] = "",
    calibration_path: str | os.PathLike[str] | None = None,
    start_model_path: str | os.PathLike[str] | None = None,
    repeat_fraction: float = 0.1,
    workers: int | None = None,
    shard_size: int = 32,
    flags: bool = True,
    lamost_catalog_path: str | os.PathLike[str] = "",
    spectra_dir: str | os.PathLike[str] = "",
    progress: bool = True,
) -> SubgiantCatalog:
    """Make the catalogue at ``catalog_path`` (module docstring) and read it back. The sky's
    ``n_stars`` subgiants (plus their repeat visits) unless ``lamost_catalog_path`` is given.
    RuntimeError naming the shards that failed."""
    from phdl.catalog import make_job
    from phdl.sky.samples import sample

    truth = None
    if lamost_catalog_path:
        spectra = _real_spectra(lamost_catalog_path, spectra_dir, catalog_path)
    else:
        truth = sample("subgiants", n_stars, seed, repeat_fraction=repeat_fraction)
        spectra = _spectra(truth, physics, sky_dir, seed)
    job = make_job(model_path, spectra, catalog_path, strategy="fast", seed=seed,
                   flags=flags, start_model=start_model_path or None,
                   calibration=calibration_path or None)  # fmt: skip
    t0 = time.perf_counter()
    run = _run_fresh(job, catalog_path, shard_size=shard_size, workers=workers,
                     progress=progress)  # fmt: skip
    seconds = time.perf_counter() - t0
    if run.failed:
        raise RuntimeError(f"phdl catalog: shards {sorted(run.failed)} failed: {run.failed}")
    from astropy.units import UnitsWarning

    with warnings.catch_warnings():  # "dex" is no FITS unit; write_units keeps it as TUNITn
        warnings.simplefilter("ignore", UnitsWarning)
        catalog = Table.read(run.path)
    return SubgiantCatalog(catalog, Path(run.path), truth, run, seconds)


def _run_fresh(job, catalog_path, **kw):
    """:func:`phdl.catalog.run_catalog`, refitting from scratch (with a warning) when the
    finished shards were made by another model, options or spectra: the chapter owns its
    catalogue, and a retrained model must not stop the book."""
    from phdl.catalog import ShardMismatch, run_catalog

    try:
        return run_catalog(job, catalog_path, **kw)
    except ShardMismatch as exc:
        warnings.warn(f"{exc}; refitting every shard", stacklevel=3)
        shutil.rmtree(job.shard_dir)
        return run_catalog(job, catalog_path, **kw)


def first_visits(table: Table, id_col: str = "SOURCEID") -> Table:
    """One row per star: the first row of each ``id_col`` (rows without an id, -1, all kept)."""
    ids = np.asarray(table[id_col])
    _, first = np.unique(ids, return_index=True)
    keep = np.zeros(len(ids), dtype=bool)
    keep[first] = True
    keep |= ids == -1
    return table[keep]


#: Figure 15's [Fe/H] bins (dex) for the reference's median trend.
TREND_EDGES: np.ndarray = np.arange(-1.5, 0.61, 0.15)


def median_trends(
    reference: Table, elements, edges=TREND_EDGES, min_per_bin: int = 5
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Figure 15's guide lines: per element, the median [X/Fe] of ``reference`` (phdl names,
    e.g. the Hypatia-like catalogue through :func:`phdl.io.surveys.standardize`) in [Fe/H]
    bins of ``edges`` (dex) with at least ``min_per_bin`` values: {element: (centres,
    medians)}; elements the reference lacks are left out."""
    from phdl.sky.score import binned_medians

    feh = np.asarray(reference["[Fe/H]"], float)
    out = {}
    for e in elements:
        col = f"[{e}/Fe]"
        if col in reference.colnames:
            out[e] = binned_medians(feh, np.asarray(reference[col], float), edges, min_per_bin)
    return out
