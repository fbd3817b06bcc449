"""What ``phdl catalog`` fits: spectra from an HDF5 file, a folder or a manifest, cut in shards.

``--spectra`` takes one of:

- an HDF5 spectra file (:func:`phdl.fit.read_spectra`'s layout: ``wavelength``, ``flux``,
  ``ivar``), optionally with per-star datasets named as Table 4's identifier columns
  (``RA``, ``DEC``, ``SOURCEID``, ``SPECID``, ``UQFLAG``);
- a LAMOST FITS file, or a folder of them (``*.fits``, ``*.fit``, ``*.fits.gz``, sorted by
  name): RA, DEC and SPECID (obsdate-planid-spid-fiberid) come from each header;
- a manifest: a table (``.csv``, ``.ecsv``, ``.txt``; astropy's ascii reader) with a ``path``
  column of LAMOST FITS files (relative paths are relative to the manifest's folder) and
  optionally any of the identifier columns, which override the headers.

A shard is a run of consecutive stars (:class:`Shard`); reading it never fails as a whole:
a star that cannot be read gets an all-masked spectrum and its reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Table 4's identifier columns, in order, with their empty values.
ID_COLUMNS: dict[str, object] = {"RA": np.nan, "DEC": np.nan, "SOURCEID": -1, "SPECID": "",
                                 "UQFLAG": -1}  # fmt: skip
FITS_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz")
MANIFEST_SUFFIXES = (".csv", ".ecsv", ".txt")


@dataclass(frozen=True)
class Inputs:
    """The stars to fit: ``kind`` "hdf5" (rows of ``source``) or "fits" (the ``files``), and
    ``ids``: Table 4's identifier columns per star (missing values as in :data:`ID_COLUMNS`).
    Paths are absolute. ``key``: SHA-256 of what the inputs are (kind, paths, star count, and
    each file's size and modification time), so that shards of changed spectra are not
    reused."""

    kind: str
    source: str
    files: tuple[str, ...] = ()
    ids: dict[str, np.ndarray] = field(default_factory=dict)
    n: int = 0
    key: str = ""


def _key(kind: str, source: str, files: tuple[str, ...], n: int) -> str:
    stats = []
    for p in files or (source,):
        st = os.stat(p) if os.path.exists(p) else None
        stats.append((p,) if st is None else (p, st.st_size, st.st_mtime_ns))
    blob = json.dumps([kind, source, n, stats])
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Shard:
    """Stars ``start`` to ``stop`` (exclusive) of the inputs: the unit of work of a task."""

    index: int
    start: int
    stop: int


def _is_fits(path: Path) -> bool:
    return path.name.lower().endswith(FITS_SUFFIXES)


def _empty_ids(n: int) -> dict[str, np.ndarray]:
    return {
        name: np.full(n, value, dtype=object if isinstance(value, str) else type(value))
        for name, value in ID_COLUMNS.items()
    }


def _hdf5(path: Path) -> Inputs:
    from phdl.fit.spectra import open_spectra_file

    with open_spectra_file(path) as h5:
        shapes = [h5[k].shape for k in ("wavelength", "flux", "ivar")]
        flat = len(shapes[0]) != 1 or len(shapes[1]) not in (1, 2)
        if flat or shapes[1] != shapes[2] or shapes[1][-1:] != shapes[0]:
            raise ValueError(
                f"{path}: wavelength {shapes[0]}, flux {shapes[1]} and ivar {shapes[2]} do not "
                "match; expected (n_pix,), (n, n_pix), (n, n_pix)"
            )
        n = h5["flux"].shape[0] if h5["flux"].ndim == 2 else 1
        ids = _empty_ids(n)
        for name in ID_COLUMNS:
            if name in h5:
                values = np.asarray(h5[name][()])
                if values.shape != (n,):
                    raise ValueError(f"{path}: dataset {name} has shape {values.shape}, not ({n},)")
                ids[name] = values.astype(str) if name == "SPECID" else values
    return Inputs("hdf5", str(path), ids=ids, n=n, key=_key("hdf5", str(path), (), n))


def _fits(files: list[Path], ids: dict[str, np.ndarray] | None = None) -> Inputs:
    n = len(files)
    out = _empty_ids(n)
    header = [header_ids(f) for f in files]
    for name in ("RA", "DEC", "SPECID"):
        out[name] = np.array([h[name] for h in header], dtype=out[name].dtype)
    for name, column in (ids or {}).items():  # a manifest's: an empty cell keeps the header's
        values = np.ma.getdata(column)
        values = values.astype(str) if name == "SPECID" else values
        out[name] = np.where(np.ma.getmaskarray(column), out[name], values).astype(out[name].dtype)
    names = tuple(map(str, files))
    source = str(files[0].parent if n else "")
    return Inputs("fits", source, names, out, n, _key("fits", source, names, n))


def _manifest(path: Path) -> Inputs:
    from astropy.table import Table

    try:
        table = Table.read(path, format="ascii")
    except Exception as exc:  # astropy raises many kinds for unreadable text tables
        raise ValueError(f"manifest {path} cannot be read as a table: {exc}") from None
    if "path" not in table.colnames:
        raise ValueError(f"manifest {path} has no 'path' column (columns: {table.colnames})")
    files = [Path(p) if Path(p).is_absolute() else path.parent / p for p in table["path"]]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(
            f"manifest {path} names {len(missing)} missing file(s), the first {missing[0]}"
        )
    ids = {name: table[name] for name in ID_COLUMNS if name in table.colnames}
    return _fits(files, ids)


def resolve(spectra: str | os.PathLike[str]) -> Inputs:
    """The stars named by ``--spectra`` (module docstring), with absolute paths. FileNotFoundError
    if it does not exist; ValueError naming the file if it is of no known kind or a folder
    without FITS."""
    path = Path(spectra).resolve()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _is_fits(p))
        if not files:
            kinds = ", ".join(FITS_SUFFIXES)
            raise ValueError(f"folder {path} holds no LAMOST FITS files ({kinds})")
        return _fits(files)
    if not path.is_file():
        raise FileNotFoundError(f"spectra {path} not found")
    if _is_fits(path):
        return _fits([path])
    if path.name.lower().endswith(MANIFEST_SUFFIXES):
        return _manifest(path)
    return _hdf5(path)


def shards(n: int, size: int) -> list[Shard]:
    """Consecutive shards of ``size`` stars (the last one shorter) covering ``n`` stars."""
    if size < 1:
        raise ValueError(f"shard size must be a positive integer, got {size}")
    return [Shard(i, a, min(a + size, n)) for i, a in enumerate(range(0, n, size))]


def header_ids(path: Path) -> dict[str, object]:
    """RA, DEC (deg) and SPECID (obsdate-planid-spid-fiberid,
    :func:`phdl.io.lamost_catalog.specid`) from a LAMOST header; missing keywords give the
    empty values of :data:`ID_COLUMNS`."""
    from astropy.io import fits

    from phdl.io.lamost_catalog import specid

    try:
        head = fits.getheader(path, 0)
    except OSError:
        return {"RA": np.nan, "DEC": np.nan, "SPECID": ""}  # the shard reports the bad file
    parts = [head.get(k) for k in ("OBSDATE", "PLANID", "SPID", "FIBERID")]
    try:
        spec = specid(*parts)
    except ValueError:  # a keyword missing or empty
        spec = ""
    ra, dec = head.get("RA"), head.get("DEC")
    return {
        "RA": float(ra) if isinstance(ra, int | float) else np.nan,
        "DEC": float(dec) if isinstance(dec, int | float) else np.nan,
        "SPECID": spec,
    }


def _hdf5_rows(path: str, start: int, stop: int) -> tuple[np.ndarray, ...]:
    """wavelength, and flux and ivar rows ``start:stop`` of an HDF5 spectra file (only those
    rows are read: a shard never loads the whole file)."""
    from phdl.fit.spectra import open_spectra_file

    with open_spectra_file(path) as h5:
        wl = np.asarray(h5["wavelength"][()], dtype=np.float64)
        rows = [np.atleast_2d(np.asarray(h5[k][start:stop] if h5[k].ndim == 2 else h5[k][()],
                                         dtype=np.float64)) for k in ("flux", "ivar")]  # fmt: skip
    return wl, rows[0], rows[1]


def read_shard(
    inputs: Inputs, shard: Shard, wavelength: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The shard's spectra on the model's ``wavelength`` (Å): ``(flux, ivar)`` (m, n_pix) and
    one reason per star ("" if it was read; else why not, and its spectrum is all masked)."""
    import warnings

    from phdl.fit import ResampleWarning, on_model_grid
    from phdl.io import LamostWarning, read_lamost

    m = shard.stop - shard.start
    flux = np.zeros((m, len(wavelength)))
    ivar = np.zeros_like(flux)
    reasons = [""] * m
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResampleWarning)
        warnings.simplefilter("ignore", LamostWarning)
        if inputs.kind == "hdf5":
            wl, f, w = _hdf5_rows(inputs.source, shard.start, shard.stop)
            try:
                flux[:], ivar[:] = on_model_grid(wavelength, wl, f, w)
            except ValueError:  # a malformed star: one at a time, so only its row is lost
                for i in range(m):
                    try:
                        one = on_model_grid(wavelength, wl, f[i : i + 1], w[i : i + 1])
                        flux[i], ivar[i] = one
                    except ValueError as exc:
                        reasons[i] = f"unreadable: star {shard.start + i}: {exc}"
            return flux, ivar, reasons
        for i, path in enumerate(inputs.files[shard.start : shard.stop]):
            try:
                s = read_lamost([path], wavelength)
                flux[i], ivar[i] = s.flux[0], s.ivar[0]
            except (OSError, ValueError) as exc:
                reasons[i] = f"unreadable: {exc}"
    return flux, ivar, reasons
