"""LAMOST low-resolution spectra (FITS files, one star each) → normalized spectra to fit.

Formats read (detected per file):

- **DR8 and later**: extension 1 is a binary table of one row with the array columns ``FLUX``,
  ``IVAR``, ``WAVELENGTH`` and (optional) ``ANDMASK``, ``ORMASK``;
- **DR1–DR7**: the primary image has shape (5, n_pix), rows flux, inverse variance, wavelength,
  and-mask, or-mask.

Column names are matched case-insensitively. LAMOST wavelengths are vacuum Å in the
heliocentric frame; the pipeline redshift ``Z`` of the primary header (``z = RV / c``) moves
them to the star's rest frame, λ_rest = λ / (1 + z). A file without a usable ``Z`` (absent,
non-finite, or LAMOST's -9999) is read unshifted, with a :class:`LamostWarning`; ``z=`` overrides
the header for every file.

Pixels are masked (ivar 0) where the and-mask is non-zero (bad in every exposure), where ivar ≤ 0
and where flux or ivar is not finite. Then, in this order:

1. the flux and ivar are interpolated linearly onto the target grid (the model's; see
   :func:`phdl.fit.spectra.resample`: a target pixel next to a masked or outside pixel is masked);
2. the flux is normalized as the engine normalizes its spectra (Eq. 22–24, the Gaussian kernel
   of width L = 50 Å truncated at 4 L, :func:`phdl.synth.instrument.masked_running_mean`), with the
   masked pixels left out of the running mean: f̃_i = Σ_j w_ij m_j f_j / Σ_j w_ij m_j; then
   f_n = f / f̃ and ivar_n = ivar · f̃². Normalizing on the target grid keeps the kernel's edge
   truncation identical to the model spectra's. A pixel whose window holds less than 10 % of
   the kernel's weight in good pixels is masked (its running mean would be extrapolated).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from phdl.fit.spectra import ResampleWarning, Spectra, clean, resample
from phdl.synth.instrument import masked_running_mean
from phdl.synth.physics import Physics

#: Width L of the normalization kernel (Eq. 22–24), Å: the engine's default Physics.
NORM_LENGTH: float = Physics.norm_length
#: Minimum fraction of a pixel's kernel weight that must fall on good pixels.
MIN_WEIGHT = 0.1
_COLUMNS = ("FLUX", "IVAR", "WAVELENGTH")


class LamostWarning(UserWarning):
    """A LAMOST file was read with an assumption (no redshift in its header)."""


def _header_z(header) -> float | None:
    z = header.get("Z")
    try:
        z = float(z)
    except (TypeError, ValueError):
        return None
    if not np.isfinite(z) or z <= -1.0 or z == -9999.0:
        return None
    return z


def read_lamost_file(
    path: str | os.PathLike[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float | None]:
    """One LAMOST file: (wavelength (n_pix,) vacuum Å heliocentric, flux (n_pix,) as stored but
    0 at masked pixels, ivar (n_pix,) with the and-mask and bad pixels set to 0, header
    redshift z or None). DR1–7 images have 3 to 5 rows (flux, ivar, wavelength, and-mask,
    or-mask); the masks, like DR8+'s ANDMASK and ORMASK columns, are optional.

    FileNotFoundError if missing; ValueError naming the file and the missing column or the
    wrong shape.
    """
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LAMOST spectrum {path} not found")
    try:
        hdul = fits.open(path, memmap=False)
    except OSError as exc:
        raise ValueError(f"{path} cannot be read as FITS: {exc}") from None
    with hdul:
        z = _header_z(hdul[0].header)
        table = next(
            (h for h in hdul[1:] if isinstance(h, fits.BinTableHDU) and h.data is not None),
            None,
        )
        if table is not None:
            names = {n.upper(): n for n in table.columns.names}
            missing = [c for c in _COLUMNS if c not in names]
            if missing:
                raise ValueError(
                    f"{path}: table extension {table.name!r} lacks column(s) {missing}; a LAMOST "
                    f"DR8+ spectrum has {list(_COLUMNS) + ['ANDMASK', 'ORMASK']}"
                )
            row = table.data[0]
            flux, ivar, wl = (np.asarray(row[names[c]], dtype=np.float64) for c in _COLUMNS)
            andmask = (
                np.asarray(row[names["ANDMASK"]]) if "ANDMASK" in names else np.zeros(wl.shape)
            )
        else:
            data = hdul[0].data
            if data is None or data.ndim != 2 or data.shape[0] < 3:
                shape = None if data is None else data.shape
                raise ValueError(
                    f"{path}: neither a DR8+ table extension (FLUX, IVAR, WAVELENGTH) nor a "
                    f"DR1–7 primary image of shape (5, n_pix); the primary image is {shape}"
                )
            flux, ivar, wl = (np.asarray(data[k], dtype=np.float64) for k in range(3))
            andmask = data[3] if data.shape[0] > 3 else np.zeros(wl.shape)
    if not (flux.shape == ivar.shape == wl.shape) or wl.ndim != 1 or wl.size < 2:
        raise ValueError(
            f"{path}: flux {flux.shape}, ivar {ivar.shape} and wavelength {wl.shape} must be "
            "1-D arrays of one length"
        )
    if not (np.all(np.isfinite(wl)) and np.all(np.diff(wl) > 0)):
        raise ValueError(f"{path}: the wavelength array is not finite and increasing")
    bad = (np.asarray(andmask) != 0) | ~np.isfinite(flux) | ~np.isfinite(ivar) | (ivar <= 0)
    ivar = np.where(bad, 0.0, ivar)
    flux = np.where(bad, 0.0, flux)
    return wl, flux, ivar, z


def normalize(
    wavelength: np.ndarray, flux: np.ndarray, ivar: np.ndarray, length: float = NORM_LENGTH
) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 22–24 on observed spectra (n, n_pix) on ``wavelength`` (n_pix,) Å (log-uniform),
    leaving out masked pixels (ivar 0): returns (f / f̃, ivar · f̃²), masked where the window
    holds < :data:`MIN_WEIGHT` of the kernel's weight in good pixels or f̃ ≤ 0."""
    f, w = clean(np.atleast_2d(flux), np.atleast_2d(ivar))
    good = w > 0
    cont, frac = masked_running_mean(wavelength, f, good, length)
    ok = good & (frac >= MIN_WEIGHT) & (cont > 0)
    out_f = np.where(ok, f / np.where(ok, cont, 1.0), 0.0)
    out_w = np.where(ok, w * cont**2, 0.0)
    return out_f, out_w


def read_lamost(
    paths: Sequence[str | os.PathLike[str]],
    wavelength: np.ndarray,
    *,
    z: float | None = None,
    length: float = NORM_LENGTH,
) -> Spectra:
    """LAMOST spectra (one FITS file per star, DR1–7 or DR8+ format) in the rest frame, on
    ``wavelength`` (n_pix,) vacuum Å (the model's grid), normalized as the model spectra.

    ``z``: redshift applied to every file instead of each header's ``Z``. Warns with a
    :class:`ResampleWarning` saying the spectra were resampled (always: LAMOST pixels are not the
    model's) and a :class:`LamostWarning` for each file read without a redshift. Errors name
    the file (see :func:`read_lamost_file`).
    """
    target = np.asarray(wavelength, dtype=np.float64)
    if not paths:
        raise ValueError("no LAMOST files given")
    flux = np.zeros((len(paths), len(target)))
    ivar = np.zeros_like(flux)
    sizes = []
    for i, p in enumerate(paths):
        wl, f, w, z_head = read_lamost_file(p)
        zi = z if z is not None else z_head
        if zi is None:
            warnings.warn(
                f"{p}: no usable redshift Z in the header; read in the observed frame",
                LamostWarning,
                stacklevel=2,
            )
            zi = 0.0
        rf, rw = resample(wl / (1.0 + zi), f[None], w[None], target)
        flux[i], ivar[i] = rf[0], rw[0]
        sizes.append(len(wl))
    warnings.warn(
        f"{len(paths)} LAMOST spectra ({min(sizes)}–{max(sizes)} pixels each) shifted to the "
        f"rest frame, interpolated onto the model's {len(target)} pixels "
        f"({target[0]:.2f}–{target[-1]:.2f} Å) and normalized (Eq. 22–24, L = {length:g} Å)",
        ResampleWarning,
        stacklevel=2,
    )
    nf, nw = normalize(target, flux, ivar, length)
    return Spectra(target, nf, nw, ", ".join(str(p) for p in paths))


def is_fits(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a FITS file by its suffix (.fits, .fit, .fts, optionally .gz)."""
    name = Path(path).name.lower()
    return name.endswith((".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz"))
