"""The sky's observed spectra: the engine with the sky's physics, LAMOST-like noise, caching.

:func:`observe_sky` turns a truth table (any sample of :mod:`phdl.sky`) into a spectra file in
the contract :func:`phdl.fit.read_spectra` and ``phdl catalog`` read (``wavelength``, ``flux``,
``ivar``, plus the per-star ``SOURCEID`` so the fitted table cross-matches the truth and the
reference catalogues by Gaia id). Steps:

1. noise-free spectra of the true labels, synthesized by :func:`phdl.grid.make_grid` with the
   sky's :class:`~phdl.synth.Physics` (:func:`phdl.sky.physics.sky_physics`) and no gradients:
   chunked, resumable after an interruption, and reused when the same stars and physics ask
   again;
2. Gaussian noise at each star's S/N (the truth's ``snr_g`` column: LAMOST's S/N per pixel in
   the g band, used as the S/N of every pixel), from its own seeded stream.

Both files live in ``cache_dir`` under names keyed by a hash of the labels, the S/N, the
physics and the seed, so a changed population, physics or seed never reuses a stale file.
:func:`write_lamost_files` writes a few of the observed spectra as LAMOST DR8+ FITS files so
the real loader path (:func:`phdl.io.read_lamost`) runs end to end.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from phdl.atomic import atomic_path
from phdl.labels import LABELS

if TYPE_CHECKING:  # the engine (torch) loads only when spectra are made
    from phdl.synth.physics import Physics

__all__ = ["observe_sky", "sky_key", "truth_labels", "write_lamost_files"]


def truth_labels(truth) -> np.ndarray:
    """The (n, 34) physical labels of a truth table, in :data:`phdl.labels.LABELS` order;
    ValueError naming the first missing label column or the first non-finite one."""
    missing = [n for n in LABELS if n not in truth.colnames]
    if missing:
        raise ValueError(f"truth table lacks label column(s) {missing[:3]}")
    x = np.column_stack([np.asarray(truth[n], dtype=np.float64) for n in LABELS])
    bad = ~np.isfinite(x).all(axis=0)
    if bad.any():
        raise ValueError(f"truth table column {LABELS[int(np.argmax(bad))]!r} has NaN/inf values")
    return x


def _snr(truth, snr_col: str) -> np.ndarray:
    if snr_col not in truth.colnames:
        raise ValueError(f"truth table lacks the S/N column {snr_col!r}")
    snr = np.asarray(truth[snr_col], dtype=np.float64)
    if not np.all(np.isfinite(snr) & (snr > 0)):
        raise ValueError(f"truth column {snr_col!r} must be finite and > 0")
    return snr


def sky_key(labels: np.ndarray, snr: np.ndarray, physics: Physics, seed: int) -> str:
    """16 hex digits of SHA-256 over the labels, the S/N, the physics and the noise seed."""
    h = hashlib.sha256(np.ascontiguousarray(labels, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(snr, dtype=np.float64).tobytes())
    h.update(physics.hash().encode())
    h.update(str(int(seed)).encode())
    return h.hexdigest()[:16]


def _source_ids(truth) -> np.ndarray:
    if "source_id" in truth.colnames:
        return np.asarray(truth["source_id"], dtype=np.int64)
    return np.full(len(truth), -1, dtype=np.int64)


def _catalog_ids(truth) -> dict[str, np.ndarray]:
    """The Table 4 identifiers besides SOURCEID that the truth carries (RA, DEC, SPECID,
    UQFLAG), as ``phdl catalog`` reads them from a spectra file."""
    out = {}
    for name, dtype in (("RA", np.float64), ("DEC", np.float64), ("UQFLAG", np.int64)):
        if name in truth.colnames:
            out[name] = np.asarray(truth[name], dtype=dtype)
    if "SPECID" in truth.colnames:
        out["SPECID"] = np.char.encode(np.asarray(truth["SPECID"], dtype=str), "ascii")
    return out


def observe_sky(
    truth,
    physics: Physics,
    cache_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    snr_col: str = "snr_g",
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Observed spectra of the stars of ``truth`` (astropy Table with the 34 label columns, the
    S/N column ``snr_col`` and optionally ``source_id``) under ``physics``; returns the path of
    the spectra file (HDF5: ``wavelength`` Å vacuum, ``flux`` normalized, ``ivar``,
    ``SOURCEID``, ``truth`` (n, 34) physical labels, and RA, DEC, SPECID, UQFLAG when the
    truth has them). Cached in ``cache_dir``; the
    noise-free spectra sit beside it as ``sky-<key>-noiseless.h5`` (a grid file without
    gradients). ``workers``: engine processes (see :func:`phdl.grid.make_grid`).
    """
    import h5py

    from phdl.fit import add_noise
    from phdl.grid import make_grid, read_grid
    from phdl.synth import Synthesizer

    labels, snr = truth_labels(truth), _snr(truth, snr_col)
    key = sky_key(labels, snr, physics, seed)
    cache = Path(cache_dir)
    out = cache / f"sky-{key}.h5"
    if out.is_file():
        return out
    noiseless = cache / f"sky-{key}-noiseless.h5"
    syn = Synthesizer(physics)
    make_grid(len(labels), 0, noiseless, synthesizer=syn, labels=labels, with_gradients=False,
              progress=progress, workers=workers)  # fmt: skip
    clean = read_grid(noiseless, gradients=False)
    noise_stream = np.random.SeedSequence([int(seed), 7]).spawn(1)[0]
    flux, ivar = add_noise(clean.flux, snr, noise_stream)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as h5:
        h5["wavelength"] = clean.wavelength
        h5["flux"] = flux
        h5["ivar"] = ivar
        h5["SOURCEID"] = _source_ids(truth)
        for name, values in _catalog_ids(truth).items():
            h5[name] = values
        h5["truth"] = labels
        h5.attrs["physics"] = str(physics.to_dict())
        h5.attrs["physics_hash"] = physics.hash()
        h5.attrs["seed"] = int(seed)
    return out


def _continuum(wavelength: np.ndarray, teff: float) -> np.ndarray:
    """A smooth, un-normalized continuum in counts: a Planck curve at ``teff`` [K] times a
    broad throughput bump, scaled to a few thousand counts (what a LAMOST file stores)."""
    lam_cm = wavelength * 1e-8
    planck = 1.0 / (lam_cm**5 * np.expm1(1.4388 / (lam_cm * teff)))
    throughput = np.exp(-0.5 * ((wavelength - 5500.0) / 1500.0) ** 2)
    c = planck * throughput
    return 3000.0 * c / c.max()


def write_lamost_files(
    spectra_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    rows: np.ndarray | list[int],
    *,
    obsdate: str = "2026-12-01",
) -> list[Path]:
    """Write stars ``rows`` of a sky spectra file as LAMOST DR8+ FITS files (one per star:
    a binary table with FLUX, IVAR, WAVELENGTH, ANDMASK, ORMASK; header RA, DEC, OBSDATE,
    PLANID, SPID, FIBERID and Z = 0), in ``out_dir``; returns their paths.

    The stored flux is the normalized flux times a smooth continuum in counts
    (:func:`_continuum`). The reader's own normalization (Eq. 22-24, same L) then returns the
    normalized flux divided by its own running mean, which is not exactly 1 where lines are
    dense: the spectrum comes back to about 1-3 % (measured by
    ``tests/test_sky_spectra.py``), not exactly. The files exercise the loader end to end; fit
    the HDF5 spectra (exact) when the numbers matter. An exact file would need the engine's
    flux before normalization, which the grid file does not keep.
    """
    import h5py
    from astropy.io import fits

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with h5py.File(spectra_path, "r") as h5:
        wl = h5["wavelength"][()]
        flux, ivar = h5["flux"][()], h5["ivar"][()]
        ids, truth = h5["SOURCEID"][()], h5["truth"][()]
    paths = []
    for k, i in enumerate(np.asarray(rows, dtype=int)):
        c = _continuum(wl, float(truth[i, 0]))
        cols = [
            fits.Column(name="FLUX", format=f"{wl.size}E", array=[flux[i] * c]),
            fits.Column(name="IVAR", format=f"{wl.size}E", array=[ivar[i] / c**2]),
            fits.Column(name="WAVELENGTH", format=f"{wl.size}D", array=[wl]),
            fits.Column(name="ANDMASK", format=f"{wl.size}J", array=[np.zeros(wl.size)]),
            fits.Column(name="ORMASK", format=f"{wl.size}J", array=[np.zeros(wl.size)]),
        ]
        head = fits.Header()
        head.update(RA=float(10.0 + 0.01 * i), DEC=float(40.0 - 0.01 * i), OBSDATE=obsdate,
                    PLANID="SKY", SPID=1 + k // 250, FIBERID=1 + k % 250, Z=0.0,
                    SOURCEID=int(ids[i]))  # fmt: skip
        hdul = fits.HDUList([fits.PrimaryHDU(header=head), fits.BinTableHDU.from_columns(cols)])
        path = out / f"sky-{int(ids[i])}.fits"
        with atomic_path(path) as tmp:
            hdul.writeto(tmp)
        paths.append(path)
    return paths
