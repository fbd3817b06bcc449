"""One shard of ``phdl catalog``: read, fit, errors, flags, Table 4 rows, written atomically.

:func:`run_shard` is the task a Dask worker runs. Its output is two files in the shard folder:
``shard-NNNNNN.fits`` (Table 4 rows, :mod:`phdl.catalog.table4`) and, written after it,
``shard-NNNNNN.json``, the sidecar: the model's SHA-256, the options, the inputs' key, the
shard's star range and the phdl version. A shard counts as finished only when both exist and
the sidecar matches the run (:func:`finished`); a shard made by another model, other options or
other inputs is refused (:class:`ShardMismatch`), never silently mixed in.

The model is loaded once per worker process (:func:`worker_model`), not once per task.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phdl.atomic import atomic_path
from phdl.catalog.inputs import Inputs, Shard, read_shard
from phdl.catalog.table4 import table4

_MODELS: dict[tuple[str, str], object] = {}


class ShardMismatch(ValueError):
    """A finished shard in the shard folder was made by another model, options or inputs."""


@dataclass(frozen=True)
class Job:
    """Everything a worker needs for any shard of one catalogue run (picklable)."""

    model_path: str
    model_sha256: str
    inputs: Inputs
    shard_dir: str
    strategy: str = "fast"
    seed: int = 0
    flags: bool = True
    batch_size: int = 64
    start_model_path: str = ""
    start_model_sha256: str = ""
    #: applied when the shards are merged (not in :meth:`options`: a new calibration reuses
    #: the fitted shards)
    calibration_path: str = ""
    calibration_sha256: str = ""

    def options(self) -> dict:
        """What decides a shard's rows besides the model and the inputs (in the sidecar)."""
        flags = "screen" if self.flags else "none"  # phdl.screen: full scans where needed
        return {"strategy": self.strategy, "seed": int(self.seed), "flags": flags,
                "start_model": self.start_model_sha256}  # fmt: skip

    def inputs_key(self) -> str:
        """What the inputs are (:attr:`phdl.catalog.inputs.Inputs.key`, computed once by the
        client: paths, star count, file sizes and times)."""
        return self.inputs.key


def shard_paths(shard_dir: str | os.PathLike[str], index: int) -> tuple[Path, Path]:
    """(table, sidecar) paths of shard ``index``."""
    base = Path(shard_dir) / f"shard-{index:06d}"
    return base.with_suffix(".fits"), base.with_suffix(".json")


def sidecar(job: Job, shard: Shard) -> dict:
    """The sidecar of ``shard`` in ``job`` (module docstring)."""
    from phdl import __version__

    return {
        "model_sha256": job.model_sha256,
        "options": job.options(),
        "inputs": job.inputs_key(),
        "stars": [shard.start, shard.stop],
        "phdl_version": __version__,
    }


def finished(job: Job, shard: Shard) -> bool:
    """Whether ``shard`` is already done for ``job``. ShardMismatch, naming the file and what
    differs, if its sidecar is from another model, options, inputs or star range."""
    table, side = shard_paths(job.shard_dir, shard.index)
    if not (table.is_file() and side.is_file()):
        return False
    try:
        found = json.loads(side.read_text())
    except (OSError, ValueError):
        return False  # a torn sidecar: refit the shard
    want = sidecar(job, shard)
    what = {"model_sha256": "model", "options": "options", "inputs": "inputs", "stars": "stars"}
    for key, name in what.items():
        if found.get(key) != want[key]:
            raise ShardMismatch(
                f"{side} was made with another {name} ({found.get(key)!r}, this run "
                f"{want[key]!r}); use another --out, or delete {Path(job.shard_dir)} to refit"
            )
    return True


#: glibc malloc settings for a worker (mallopt): Dask's nanny starts workers with
#: MALLOC_TRIM_THRESHOLD_=65536, which also fixes the mmap threshold at 128 KiB, so every large
#: temporary array is mapped and unmapped anew; measured 3.5× slower fits (BENCHMARKS.md).
MALLOC_OPTIONS = {-3: 64 << 20, -1: 128 << 20}  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD (bytes)


def tune_malloc() -> bool:
    """Set :data:`MALLOC_OPTIONS` with glibc's mallopt; False where there is no glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return all(libc.mallopt(k, v) == 1 for k, v in MALLOC_OPTIONS.items())
    except (OSError, AttributeError):
        return False


def worker_model(path: str, sha256: str):
    """The model at ``path`` (SHA-256 ``sha256``), loaded once per process; torch uses one
    thread (a worker is one core), and malloc is tuned (:func:`tune_malloc`) on first use."""
    key = (path, sha256)
    if key not in _MODELS:
        import torch

        from phdl.emulator import load

        if not _MODELS:
            tune_malloc()
        torch.set_num_threads(1)
        _MODELS[key] = load(path)
    return _MODELS[key]


def fit_rows(job: Job, model, shard: Shard):
    """Table 4 rows (astropy Table) of ``shard``: fit, errors and flags of the stars that were
    read, a row with flags -1 and the reason for the others."""
    from phdl.fit import fit_spectra
    from phdl.uncertainty import add_uncertainties

    flux, ivar, reasons = read_shard(job.inputs, shard, model.wavelength)
    start = {}
    if job.start_model_path:
        start["start_model"] = worker_model(job.start_model_path, job.start_model_sha256)
    unread = np.array([bool(r) for r in reasons])
    ivar[unread] = 0.0  # masked: the fit gives them status "no usable pixels"
    fit = fit_spectra(model, model.wavelength, flux, ivar, strategy=job.strategy, seed=job.seed,
                      star_index=np.arange(shard.start, shard.stop), batch_size=job.batch_size,
                      progress=False, **start)  # fmt: skip
    add_uncertainties(fit, model, flux, ivar, flags="screen" if job.flags else False,
                      screen_model=start.get("start_model"))  # fmt: skip
    ids = {name: values[shard.start : shard.stop] for name, values in job.inputs.ids.items()}
    return table4(fit, ids, reasons)


def run_shard(job: Job, shard: Shard) -> str:
    """Fit ``shard`` (the Dask task) and write its table, then its sidecar, atomically; returns
    the table's path. A shard already finished for this job is not refitted."""
    from phdl.fit import write_table

    table_path, side = shard_paths(job.shard_dir, shard.index)
    if finished(job, shard):
        return str(table_path)
    table_path.parent.mkdir(parents=True, exist_ok=True)
    model = worker_model(job.model_path, job.model_sha256)
    rows = fit_rows(job, model, shard)
    rows.meta.update({"SHARD": shard.index, "FIRST": shard.start})
    write_table(rows, table_path)
    with atomic_path(side) as tmp:
        Path(tmp).write_text(json.dumps(sidecar(job, shard), indent=1))
    return str(table_path)
