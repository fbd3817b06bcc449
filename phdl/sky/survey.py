"""Chapter 06's sky: the calibration samples with their catalogues, observed and fitted.

:func:`make_sky` draws the samples of §4.1-4.2 (:data:`SAMPLE_ORDER`: survey-common stars,
wide binaries, M67 members, solar-metallicity giants) and the Hypatia-like stars, with the
reference catalogues as the surveys publish them. :func:`fit_sky` observes every star of the
samples through a physics (:func:`phdl.sky.spectra.observe_sky`) and fits them with the fast
strategy, adding formal and χ²-scaled errors (Eq. 16, 21); the fitted table is cached beside
the spectra, keyed by the spectra and the model's SHA-256, so a rerun with the same sky,
physics and model costs nothing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table, vstack

from phdl.labels import LABELS
from phdl.sky.samples import references_for, sample

__all__ = [
    "SAMPLE_ORDER", "Sky", "SkyCalibration", "calibrate_sky", "fit_sky", "fit_stars", "make_sky",
]  # fmt: skip

#: The samples of the calibration, in the order their stars are stacked.
SAMPLE_ORDER: tuple[str, ...] = ("common", "binaries", "m67", "giants")


@dataclass
class Sky:
    """The samples' truth tables (``truth[name]``, each with its own columns), the raw
    reference catalogues (``catalogs``: dd_payne, apogee, galah, el_badry, hypatia, with the
    surveys' column names) and the Hypatia-like stars' truth (``hypatia_truth``)."""

    truth: dict[str, Table]
    catalogs: dict[str, Table] = field(default_factory=dict)
    hypatia_truth: Table | None = None

    def stars(self) -> Table:
        """Every star of the samples, in :data:`SAMPLE_ORDER`: ``source_id``, ``sample``,
        the 34 labels and ``snr_g`` (the columns all samples share)."""
        cols = ["source_id", *LABELS, "snr_g"]
        parts = []
        for name in SAMPLE_ORDER:
            part = self.truth[name][cols]
            part.add_column([name] * len(part), name="sample", index=1)
            parts.append(part)
        return vstack(parts)


def make_sky(sizes: dict[str, int], seed: int = 0, *, observable: bool = True) -> Sky:
    """The calibration samples with ``sizes[name]`` stars (pairs for "binaries") for each name
    of :data:`SAMPLE_ORDER` and ``sizes["hypatia"]`` Hypatia-like stars, all from ``seed``.

    ``observable`` (default): the common stars are those that pass the §4.1 S/N cuts and the
    binaries those that pass the §4.2.1 cuts on their *true* labels, drawn from a larger sample,
    as the paper's 440 stars and 1,168 pairs are what its cuts left (the cuts are applied
    again to the fitted labels, which lose a few more). Otherwise the samples are as drawn,
    and most of a small sample fails the cuts. ValueError naming a missing size."""
    missing = [n for n in (*SAMPLE_ORDER, "hypatia") if n not in sizes]
    if missing:
        raise ValueError(f"sizes lacks sample(s) {missing}")
    truth = {name: sample(name, int(sizes[name]), seed) for name in SAMPLE_ORDER}
    if observable:
        truth["common"] = _passing_common(int(sizes["common"]), seed)
        truth["binaries"] = _passing_pairs(int(sizes["binaries"]), seed)
    catalogs: dict[str, Table] = {}
    for name in SAMPLE_ORDER:
        catalogs.update(references_for(name, truth[name], seed))
    catalogs.pop("apogee", None)  # the giants' APOGEE would replace the common stars'
    catalogs["apogee"] = references_for("common", truth["common"], seed)["apogee"]
    hyp = sample("hypatia", int(sizes["hypatia"]), seed)
    catalogs.update(references_for("hypatia", hyp, seed))
    return Sky(truth, catalogs, hyp)


def _passing_common(n: int, seed: int) -> Table:
    """The first ``n`` survey-common stars of a larger draw that pass the §4.1 S/N cuts."""
    from phdl.calibrate.chain import snr_cut

    for factor in (8, 32):
        kept = snr_cut(sample("common", factor * n, seed))
        if len(kept) >= n:
            return kept[:n]
    raise ValueError(f"cannot draw {n} common stars passing the S/N cuts")


def _passing_pairs(n: int, seed: int) -> Table:
    """The first ``n`` wide binaries of a larger draw that pass the §4.2.1 cuts on their true
    labels (both stars; V_los as measured)."""
    from phdl.calibrate.binaries import binary_cuts

    for factor in (6, 24):
        drawn = sample("binaries", factor * n, seed)
        kept = binary_cuts(drawn)
        pairs = np.unique(np.asarray(kept["pair_id"]))[:n]
        if len(pairs) == n:
            return kept[np.isin(np.asarray(kept["pair_id"]), pairs)]
    raise ValueError(f"cannot draw {n} wide binaries passing the cuts")


def fit_sky(
    sky: Sky,
    physics: Any,
    model_path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    *,
    start_model_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Table:
    """Observe every star of ``sky`` (:meth:`Sky.stars`) through ``physics`` and fit it with
    the fast strategy of the model at ``model_path`` (``start_model_path``: its start model);
    returns the fitted labels with ``source_id``, ``sample``, ``<label>_err`` and
    ``<label>_err_scaled`` (errors for the binaries only). Cached in ``cache_dir`` by the
    spectra and the models (SHA-256 of their files)."""
    stars = sky.stars()
    rows = np.asarray(stars["sample"]) == "binaries"
    return _fit_cached(stars, physics, model_path, cache_dir, start_model_path, seed, progress,
                       rows, tag="")  # fmt: skip


def fit_stars(
    stars: Table,
    physics: Any,
    model_path: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    *,
    start_model_path: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Table:
    """As :func:`fit_sky` for any truth table ``stars`` of :mod:`phdl.sky` (the 34 labels,
    ``source_id``, ``snr_g``; e.g. ``sample("m67", n, seed)``), with formal and χ²-scaled
    errors (Eq. 16, 21) for every star; ``sample`` is copied when ``stars`` has it."""
    rows = np.ones(len(stars), dtype=bool)
    return _fit_cached(stars, physics, model_path, cache_dir, start_model_path, seed, progress,
                       rows, tag="errors:all")  # fmt: skip


def _fit_cached(stars, physics, model_path, cache_dir, start_model_path, seed, progress, rows,
                tag: str) -> Table:  # fmt: skip
    """Observe, fit (fast strategy) and add errors for ``rows``; cached under a key of the
    spectra, the models' SHA-256 and ``tag`` (what else distinguishes the result)."""
    import h5py

    from phdl.cache import sha256_file
    from phdl.emulator import load
    from phdl.fit import fit_spectra, read_table, write_table
    from phdl.sky.spectra import observe_sky

    spectra = observe_sky(stars, physics, cache_dir, seed=seed, progress=progress)
    shas = [sha256_file(Path(p)) for p in (model_path, start_model_path) if p]
    parts = [spectra.name, *shas] + ([tag] if tag else [])
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    out = Path(cache_dir) / f"fit-{key}.fits"
    if out.is_file():
        cached = read_table(out)
        if "sample" in cached.colnames:
            cached["sample"] = np.char.decode(np.asarray(cached["sample"]).astype(bytes), "ascii")
        return cached
    model = load(model_path)
    start_model = load(start_model_path) if start_model_path else None
    with h5py.File(spectra, "r") as h5:
        wl, flux, ivar = h5["wavelength"][()], h5["flux"][()], h5["ivar"][()]
    fit = fit_spectra(model, wl, flux, ivar, strategy="fast", start_model=start_model,
                      seed=seed, progress=progress)  # fmt: skip
    fit = _errors_for(fit, model, flux, ivar, wl, rows)
    fit.add_column(np.asarray(stars["source_id"]), name="source_id", index=0)
    if "sample" in stars.colnames:
        fit.add_column(np.asarray(stars["sample"]), name="sample", index=1)
    write_table(fit, out)
    return fit


def _errors_for(fit: Table, model: Any, flux, ivar, wl, rows: np.ndarray) -> Table:
    """``fit`` with the error columns of :func:`phdl.uncertainty.add_uncertainties` computed
    for ``rows`` only (NaN elsewhere), in the column order it gives."""
    from phdl.uncertainty import add_uncertainties

    part = fit[rows]
    add_uncertainties(part, model, flux[rows], ivar[rows], flags=False, wavelength=wl)
    out = Table(meta=fit.meta)
    for name in part.colnames:
        if name in fit.colnames:
            out[name] = fit[name]
        else:
            out[name] = np.full(len(fit), np.nan)
            out[name][rows] = np.asarray(part[name], float)
    return out


@dataclass
class SkyCalibration:
    """A sky's calibration and what each step was fitted on: ``atm_ours`` and
    ``atm_reference`` (the §4.1 sample, cross-matched row by row), ``pairs`` (the wide
    binaries that pass the cuts, uncalibrated), ``hypatia`` and ``galah`` (phdl names)."""

    calibration: Any
    atm_ours: Table
    atm_reference: Table
    pairs: Table
    hypatia: Table
    galah: Table


def calibrate_sky(sky: Sky, fitted: Table, *, seed: int = 0, elements=None) -> SkyCalibration:
    """Run :func:`phdl.calibrate.fit_calibration` on a fitted sky as a user would on the real
    catalogues: the references read with :func:`phdl.io.surveys.standardize` (Hypatia moved to
    the sky's solar scale), the §4.1 S/N cuts, the binaries' S/N and V_los from the survey
    (the truth table's ``snr_g`` and measured ``vlos``), every fitted star in the logg sample."""
    from phdl.calibrate import binary_cuts, fit_calibration, pair_table
    from phdl.calibrate.catalogs import crossmatch
    from phdl.calibrate.chain import snr_cut
    from phdl.io.surveys import standardize
    from phdl.paper import CATALOG_ELEMENTS
    from phdl.sky.references import hypatia_solar_offset

    elements = CATALOG_ELEMENTS if elements is None else elements
    dd = standardize(sky.catalogs["dd_payne"], "dd_payne")
    hyp = standardize(sky.catalogs["hypatia"], "hypatia", solar_offset=hypatia_solar_offset())
    galah = standardize(sky.catalogs["galah"], "galah")
    t = sky.truth["common"]
    snr = Table({c: t[c] for c in ("source_id", "snr_g", "snr_c1_iraf", "snr_c3_iraf")})
    common = fitted[np.asarray(fitted["sample"]) == "common"]
    ours, theirs = crossmatch(common, snr, [], catalogs=("ours", "survey S/N"))
    atm_sample = _with_columns(ours, theirs, ("snr_g", "snr_c1_iraf", "snr_c3_iraf"))
    atm_sample = snr_cut(atm_sample)
    b = sky.truth["binaries"]
    survey = Table({"source_id": b["source_id"], "snr_g": b["snr_g"], "vlos": b["vlos"]})
    binaries = fitted[np.asarray(fitted["sample"]) == "binaries"]
    cal = fit_calibration(common=atm_sample, lamost_reference=dd, binaries=binaries,
                          pairs=sky.catalogs["el_badry"], survey=survey, logg_sample=fitted,
                          hypatia=hyp, galah=galah, elements=elements, seed=seed)  # fmt: skip
    names = ["Teff", "logg", "[Fe/H]"]
    atm_ours, atm_ref = crossmatch(atm_sample, dd, names, catalogs=("ours", "dd_payne"))
    pairs = binary_cuts(pair_table(binaries, sky.catalogs["el_badry"], survey))
    return SkyCalibration(cal, atm_ours, atm_ref, pairs, hyp, galah)


def _with_columns(ours: Table, other: Table, columns) -> Table:
    """``ours`` with ``columns`` of ``other`` (same rows, same order) added."""
    out = ours.copy()
    for c in columns:
        out[c] = np.asarray(other[c])
    return out
