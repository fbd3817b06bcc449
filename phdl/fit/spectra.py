"""Spectra to fit: noise, the reduced χ² (Eq. 15), masking, resampling, the HDF5 spectra file.

Conventions: flux is continuum-normalized (unitless), ``ivar`` = 1/σ² per pixel (1/flux²);
``ivar = 0`` masks a pixel, and so does a non-finite flux or ivar (it is never propagated:
the pixel's ivar becomes 0 and its flux 0). Wavelengths are vacuum Å.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phdl.atomic import atomic_path


class ResampleWarning(UserWarning):
    """Spectra were linearly interpolated onto the model's wavelength grid."""


def add_noise(
    flux: np.ndarray, snr: float | np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian noise of σ = 1/snr per pixel of normalized flux.

    ``flux`` (n, n_pix) or (n_pix,); ``snr`` a scalar or (n,) per star (> 0).
    Returns ``(noisy_flux, ivar)``, both float64 (n, n_pix), ``ivar = snr²``.
    Deterministic in ``seed``.
    """
    f = np.atleast_2d(np.asarray(flux, dtype=np.float64))
    s = np.asarray(snr, dtype=np.float64)
    if s.ndim == 0:
        s = np.full(len(f), float(s))
    if s.shape != (len(f),):
        raise ValueError(f"snr must be a scalar or have shape ({len(f)},), got {s.shape}")
    if not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"snr must be finite and > 0, got min {np.nanmin(s):g}")
    rng = np.random.default_rng(seed)
    noisy = f + rng.standard_normal(f.shape) / s[:, None]
    ivar = np.broadcast_to((s**2)[:, None], f.shape).copy()
    return noisy, ivar


def clean(flux: np.ndarray, ivar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 copies with masked pixels (ivar <= 0, non-finite flux or ivar) set to flux 0,
    ivar 0. ValueError if an ivar is negative (a malformed input, not a mask)."""
    f = np.asarray(flux, dtype=np.float64)
    w = np.asarray(ivar, dtype=np.float64)
    if f.shape != w.shape:
        raise ValueError(f"flux {f.shape} and ivar {w.shape} must have the same shape")
    neg = w < 0
    if neg.any():
        star = np.argwhere(neg)[0]
        raise ValueError(
            f"ivar of star {star[0]} is negative at pixel {star[-1]} ({w[tuple(star)]:g}); "
            "ivar must be >= 0 (0 masks a pixel)"
        )
    good = np.isfinite(f) & np.isfinite(w) & (w > 0)
    return np.where(good, f, 0.0), np.where(good, w, 0.0)


def chi2(
    model_flux: np.ndarray, flux: np.ndarray, ivar: np.ndarray, *, reduced: bool = True
) -> np.ndarray:
    """χ² of Eq. 15 per spectrum, summed over the last axis (pixels).

    ``reduced`` (default): (1/n) Σ ivar (flux - model)² over the n unmasked pixels; otherwise
    the total Σ ivar (flux - model)². ``flux`` and ``ivar`` have the same shape, (n, n_pix) or
    (n_pix,); ``model_flux`` broadcasts against them (e.g. (n, k, n_pix) models against
    (n, 1, n_pix) spectra). A pixel is masked where ivar <= 0 or the observed flux or ivar is
    not finite (:func:`clean`). A non-finite model spectrum gets +inf (ranked last by every
    minimizer); with ``reduced``, a spectrum without unmasked pixels gets NaN.
    """
    m = np.atleast_2d(np.asarray(model_flux, dtype=np.float64))
    f, w = clean(np.atleast_2d(flux), np.atleast_2d(ivar))
    try:
        np.broadcast_shapes(m.shape, f.shape)
    except ValueError:
        raise ValueError(f"model_flux {m.shape} does not match flux {f.shape}") from None
    r = m - f
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.einsum("...p,...p->...", w, r * r)
    total = np.where(np.isfinite(total), total, np.inf)
    if not reduced:
        return total
    n_good = (w > 0).sum(-1)
    return np.where(n_good > 0, total / np.maximum(n_good, 1), np.nan)


def resample(
    wavelength: np.ndarray, flux: np.ndarray, ivar: np.ndarray, new_wavelength: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of (n, n_pix) spectra from ``wavelength`` onto ``new_wavelength`` (Å).

    A new pixel is usable only if both observed pixels around it are (masked neighbours mask
    it) and it lies inside the observed range; otherwise its ivar is 0. The ivar is
    interpolated the same way (an approximation: interpolation correlates neighbouring pixels
    and lowers their noise somewhat).
    """
    wl = np.asarray(wavelength, dtype=np.float64)
    new = np.asarray(new_wavelength, dtype=np.float64)
    f, w = clean(flux, ivar)
    good = (w > 0).astype(np.float64)
    out_f = np.zeros((len(f), len(new)))
    out_w = np.zeros((len(f), len(new)))
    inside = (new >= wl[0]) & (new <= wl[-1])
    for i in range(len(f)):
        g = np.interp(new, wl, good[i])
        ok = inside & (g > 1.0 - 1e-9)
        out_f[i] = np.where(ok, np.interp(new, wl, f[i]), 0.0)
        out_w[i] = np.where(ok, np.interp(new, wl, w[i]), 0.0)
    return out_f, out_w


def _check_wavelength(wl: np.ndarray, name: str) -> None:
    if wl.ndim != 1 or len(wl) < 2 or not np.all(np.isfinite(wl)):
        raise ValueError(f"{name} must be a 1-D array of >= 2 finite values (Å), got {wl.shape}")
    if not np.all(np.diff(wl) > 0):
        raise ValueError(f"{name} must be strictly increasing (Å)")


def on_model_grid(
    model_wavelength: np.ndarray, wavelength: np.ndarray, flux: np.ndarray, ivar: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validate spectra and put them on the model's wavelength grid.

    ``wavelength`` (n_pix,) Å, ``flux`` and ``ivar`` (n, n_pix) (or (n_pix,)). Returns cleaned
    float64 ``(flux, ivar)`` (n, n_model_pix) (see :func:`clean`). If ``wavelength`` differs
    from ``model_wavelength`` the spectra are resampled (:func:`resample`) with a
    :class:`ResampleWarning`. ValueError naming the arrays and their shapes on a mismatch.
    """
    wl = np.asarray(wavelength, dtype=np.float64)
    f = np.asarray(flux, dtype=np.float64)
    w = np.asarray(ivar, dtype=np.float64)
    if f.ndim == 1:
        f = f[None]
    if w.ndim == 1:
        w = w[None]
    if f.ndim != 2 or w.ndim != 2:
        raise ValueError(f"flux and ivar must be (n, n_pix), got {f.shape} and {w.shape}")
    if f.shape != w.shape:
        raise ValueError(f"flux has shape {f.shape} but ivar has shape {w.shape}; they must match")
    if wl.ndim != 1 or len(wl) != f.shape[1]:
        raise ValueError(
            f"wavelength has shape {wl.shape} but flux has shape {f.shape}: "
            f"need wavelength of length n_pix = {f.shape[1]}"
        )
    _check_wavelength(wl, "wavelength")
    mwl = np.asarray(model_wavelength, dtype=np.float64)
    if wl.shape == mwl.shape and np.allclose(wl, mwl, rtol=1e-9, atol=0.0):
        return clean(f, w)
    outside = int(((mwl < wl[0]) | (mwl > wl[-1])).sum())
    warnings.warn(
        f"spectra are on a wavelength grid of {len(wl)} pixels ({wl[0]:.2f}–{wl[-1]:.2f} Å), "
        f"the model's has {len(mwl)} ({mwl[0]:.2f}–{mwl[-1]:.2f} Å): resampling by linear "
        f"interpolation onto the model's grid; {outside} model pixels outside the observed "
        "range get ivar 0",
        ResampleWarning,
        stacklevel=3,
    )
    return resample(wl, f, w, mwl)


@dataclass
class Spectra:
    """Spectra read from a file: ``wavelength`` (n_pix,) Å, ``flux`` / ``ivar`` (n, n_pix)."""

    wavelength: np.ndarray
    flux: np.ndarray
    ivar: np.ndarray
    path: str = ""


def open_spectra_file(path: str | os.PathLike[str]):
    """An open ``h5py.File`` of spectra (read-only) holding the datasets ``wavelength``, ``flux``
    and ``ivar``; ValueError naming the file if it is not HDF5 or lacks one of them."""
    import h5py

    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path} cannot be read as HDF5 spectra: {exc}") from None
    missing = [k for k in ("wavelength", "flux", "ivar") if k not in h5]
    if missing:
        h5.close()
        raise ValueError(
            f"{path} lacks dataset(s) {missing}; expected wavelength (n_pix,), "
            "flux (n, n_pix), ivar (n, n_pix)"
        )
    return h5


def read_spectra(path: str | os.PathLike[str]) -> Spectra:
    """Read spectra to fit from an HDF5 file with datasets ``wavelength`` (n_pix,) vacuum Å,
    ``flux`` (n, n_pix) continuum-normalized and ``ivar`` (n, n_pix) = 1/σ² (0 masks a pixel).

    FileNotFoundError if missing; ValueError naming the dataset if one is absent or of the
    wrong shape. LAMOST FITS files are read by :func:`phdl.io.read_lamost`, which needs the
    model's wavelength grid (``phdl fit`` picks the reader by the file suffix).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"spectra file {path} not found")
    if path.suffix.lower() in (".fits", ".fit", ".fz"):
        raise ValueError(
            f"{path}: a FITS file; read LAMOST spectra with phdl.io.read_lamost(paths, "
            "model.wavelength), or convert to HDF5 with datasets wavelength (n_pix,), "
            "flux (n, n_pix), ivar (n, n_pix)"
        )
    with open_spectra_file(path) as h5:
        wl, flux, ivar = (
            np.asarray(h5[k][()], dtype=np.float64) for k in ("wavelength", "flux", "ivar")
        )
    flux = flux[None] if flux.ndim == 1 else flux
    ivar = ivar[None] if ivar.ndim == 1 else ivar
    for name, arr in (("flux", flux), ("ivar", ivar)):
        if arr.ndim != 2 or arr.shape[1] != len(wl):
            raise ValueError(
                f"{path}: dataset {name} has shape {arr.shape}, expected (n, {len(wl)}) to match "
                f"wavelength {wl.shape}"
            )
    if flux.shape != ivar.shape:
        raise ValueError(f"{path}: flux {flux.shape} and ivar {ivar.shape} differ in shape")
    return Spectra(wl, flux, ivar, str(path))


def write_spectra(path: str | os.PathLike[str], wavelength, flux, ivar) -> Path:
    """Write spectra in the layout :func:`read_spectra` reads (atomically: temp + rename)."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5["wavelength"] = np.asarray(wavelength, dtype=np.float64)
        h5["flux"] = np.atleast_2d(np.asarray(flux, dtype=np.float64))
        h5["ivar"] = np.atleast_2d(np.asarray(ivar, dtype=np.float64))
    return path
