"""What chapters 07 (M67) and 08 (survey validation) compare: our calibrated labels, the
reference catalogues in phdl names, and the truth, from the simulated sky or from real files.

- :func:`m67_data`: the sky's M67 members (a draw of their own, not chapter 6's calibration
  members), observed, fitted with errors and calibrated with chapter 6's calibration, and the
  GALAH-like catalogue of the members GALAH observed; or, with ``labels_path``, a real
  catalogue of ours restricted to a real membership list and a real GALAH DR3 file.
- :func:`common_data`: chapter 6's survey-common stars (the same sky: its spectra and fits are
  reused from ``sky_dir``), calibrated, with the APOGEE-, GALAH- and DD-Payne-like catalogues;
  or real files.

Our labels come back in phdl names (``source_id``, ``Teff``, ``[Mg/Fe]``, ``[Mg/Fe]_err``, ...)
whichever the source: a Table 4 catalogue's ``SOURCEID`` is renamed, and its χ²-scaled
``_err`` columns kept. Real data have no truth (``truth`` None).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.table import Table

__all__ = ["ValidationData", "common_data", "m67_data", "read_labels"]

#: The references of chapter 08, by phdl.io.surveys name.
SURVEYS: tuple[str, ...] = ("apogee", "galah", "dd_payne")


@dataclass
class ValidationData:
    """``ours`` (calibrated, phdl names), ``references`` ({survey: standardized Table}) and
    ``truth`` (the sky's truth of the same stars, or None for real data)."""

    ours: Table
    references: dict[str, Table] = field(default_factory=dict)
    truth: Table | None = None


def read_labels(path: str | os.PathLike[str]) -> Table:
    """A table of our labels (``phdl fit`` output or a ``phdl catalog`` Table 4 file) in phdl
    names: ``SOURCEID`` becomes ``source_id``. ValueError when it has neither."""
    table = Table.read(path)
    if "source_id" not in table.colnames:
        if "SOURCEID" not in table.colnames:
            raise ValueError(f"{path}: no SOURCEID or source_id column to match stars by")
        table.rename_column("SOURCEID", "source_id")
    return table


def _calibrated(fitted: Table, calibration_path: str | os.PathLike[str] | None) -> Table:
    from phdl.calibrate import Calibration, apply

    if not calibration_path:
        return fitted
    return apply(fitted, Calibration.load(calibration_path))


def m67_data(
    *,
    n_members: int = 0,
    seed: int = 0,
    physics: Any = None,
    model_path: str | os.PathLike[str] = "",
    sky_dir: str | os.PathLike[str] = "",
    calibration_path: str | os.PathLike[str] | None = None,
    start_model_path: str | os.PathLike[str] | None = None,
    labels_path: str | os.PathLike[str] = "",
    members_path: str | os.PathLike[str] = "",
    galah_path: str | os.PathLike[str] = "",
    cluster: str | None = None,
    progress: bool = True,
) -> ValidationData:
    """Chapter 07's members (module docstring). Real data when ``labels_path`` is given (then
    ``members_path`` and ``galah_path`` are required; ``cluster``: M67's name in a list of many
    clusters, e.g. "NGC_2682", see :func:`phdl.io.read_members`); otherwise ``n_members`` sky
    members observed through ``physics`` (a :class:`~phdl.synth.Physics`)."""
    from phdl.io.surveys import standardize

    if labels_path:
        from phdl.io.members import read_members

        if not members_path or not galah_path:
            raise ValueError("real M67 data need members_path and galah_path with labels_path")
        ours = read_labels(labels_path)
        members = read_members(members_path, cluster=cluster or None)
        keep = np.isin(np.asarray(ours["source_id"]), np.asarray(members["source_id"]))
        if not keep.any():
            raise ValueError(f"no star of {labels_path} is in the membership list {members_path}")
        return ValidationData(ours[keep], {"galah": standardize(galah_path, "galah")})
    from phdl.sky.references import galah_m67
    from phdl.sky.samples import sample
    from phdl.sky.survey import fit_stars

    truth = sample("m67", n_members, seed)
    fitted = fit_stars(truth, physics, model_path, sky_dir, start_model_path=start_model_path,
                       seed=seed, progress=progress)  # fmt: skip
    galah = standardize(galah_m67(truth, seed), "galah")
    return ValidationData(_calibrated(fitted, calibration_path), {"galah": galah}, truth)


def common_data(
    *,
    sizes: dict[str, int] | None = None,
    seed: int = 0,
    physics: Any = None,
    model_path: str | os.PathLike[str] = "",
    sky_dir: str | os.PathLike[str] = "",
    calibration_path: str | os.PathLike[str] | None = None,
    start_model_path: str | os.PathLike[str] | None = None,
    labels_path: str | os.PathLike[str] = "",
    paths: dict[str, str] | None = None,
    progress: bool = True,
) -> ValidationData:
    """Chapter 08's common stars (module docstring). Real data when ``labels_path`` is given:
    ``paths`` {survey: file} for the surveys of :data:`SURVEYS` at hand (at least one).
    Otherwise the sky of chapter 6 with its ``sizes`` (:func:`phdl.sky.survey.make_sky`)."""
    from phdl.io.surveys import standardize

    if labels_path:
        given = {s: p for s, p in (paths or {}).items() if p}
        unknown = sorted(set(given) - set(SURVEYS))
        if unknown or not given:
            raise ValueError(f"paths needs files for some of {SURVEYS}; got {sorted(given)}")
        refs = {s: standardize(p, s) for s, p in given.items()}
        return ValidationData(read_labels(labels_path), refs)
    from phdl.sky.survey import fit_sky, make_sky

    sky = make_sky(sizes or {}, seed)
    fitted = fit_sky(sky, physics, model_path, sky_dir, start_model_path=start_model_path,
                     seed=seed, progress=progress)  # fmt: skip
    common = fitted[np.asarray(fitted["sample"]) == "common"]
    refs = {s: standardize(sky.catalogs[s], s) for s in SURVEYS}
    return ValidationData(_calibrated(common, calibration_path), refs, sky.truth["common"])
