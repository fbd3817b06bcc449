"""The grid file: contract, reader with validation, and content hash.

Grid file contract (HDF5):

- ``wavelength`` (n_pix,) float64, vacuum Å, strictly increasing;
- ``labels`` (n_spec, 34) float64, physical units, columns in the order of ``label_names``;
- ``flux`` (n_spec, n_pix) float64, normalized flux;
- ``gradients`` (n_spec, 34, n_pix) float32, ∂flux/∂label per physical unit (optional);
- ``done`` (n_spec,) bool, the rows already synthesized (optional; absent means complete);
- attributes ``label_names``, ``source``, ``resolution``, ``normalization`` and, for grids made
  here, ``seed``, ``n_spectra``, ``with_gradients``, ``physics_hash``, ``phdl_version``.

Gradients are stored as float32 (half the disk of float64: 3.2 GB instead of 6.4 GB at the
paper's scale); the emulator trains in float32 anyway. Flux keeps the engine's float64.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from phdl.labels import LABELS

_REQUIRED = ("wavelength", "labels", "flux")


def partial_path(path: str | os.PathLike[str]) -> Path:
    """The temporary file ``<path>.partial`` a grid is written to before being renamed."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def _attr(value: Any) -> Any:
    """An HDF5 attribute as a plain Python value."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_attr(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class Grid:
    """A grid file in memory: wavelength (Å), labels (physical), flux, gradients (or None)."""

    wavelength: np.ndarray
    labels: np.ndarray
    flux: np.ndarray
    gradients: np.ndarray | None
    label_names: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.labels)


def _open(path: Path) -> h5py.File:
    if not path.exists():
        hint = ""
        if partial_path(path).exists():
            hint = (
                f"; only the incomplete {partial_path(path)} exists: rerun make_grid / "
                "phdl grid with the same arguments to resume it"
            )
        raise FileNotFoundError(f"grid file {path} not found{hint}")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file (truncated or wrong format?)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path} cannot be read as HDF5: {exc}") from None


def _first_bad_row(ds: h5py.Dataset, step: int = 256) -> int | None:
    """Index of the first row of ``ds`` with a non-finite value, or None (read in slabs)."""
    for i in range(0, ds.shape[0], step):
        block = ds[i : i + step].reshape(min(step, ds.shape[0] - i), -1)
        bad = ~np.isfinite(block).all(axis=1)
        if bad.any():
            return i + int(np.argmax(bad))
    return None


def _check_names(names: list[str], path: Path) -> None:
    if names == list(LABELS):
        return
    missing = [x for x in LABELS if x not in names]
    extra = [x for x in names if x not in LABELS]
    repeated = sorted({x for x in names if names.count(x) > 1})
    if missing or extra:
        why = f"missing {missing}, unexpected {extra}"
    elif repeated:
        why = f"repeated {repeated}"
    else:
        k = next(i for i, (a, b) in enumerate(zip(names, LABELS, strict=True)) if a != b)
        why = f"same labels in another order (position {k}: {names[k]!r}, expected {LABELS[k]!r})"
    raise ValueError(f"{path}: label_names differ from phdl.labels.LABELS: {why}")


def read_grid(path: str | os.PathLike[str], *, gradients: bool = True) -> Grid:
    """Read and validate a grid file; errors name the file and the field that is wrong.

    ``gradients=False`` skips loading the (large) gradient dataset; ``Grid.gradients`` is then
    None, as it is for a file without one.
    """
    path = Path(path)
    with _open(path) as f:
        for key in _REQUIRED:
            if key not in f or not isinstance(f[key], h5py.Dataset):
                raise ValueError(f"{path}: missing dataset {key!r} (required: {_REQUIRED})")
        attrs = {key: _attr(value) for key, value in f.attrs.items()}
        if "label_names" not in attrs:
            raise ValueError(f"{path}: missing attribute 'label_names'")
        names = [str(x) for x in np.atleast_1d(attrs["label_names"])]
        _check_names(names, path)
        if "done" in f and not np.all(f["done"][()]):
            n_done = int(np.sum(f["done"][()]))
            raise ValueError(
                f"{path} is incomplete ({n_done} of {f['done'].shape[0]} spectra "
                "done); rerun make_grid / phdl grid with the same arguments to resume"
            )
        wl_ds, lab_ds, flux_ds = f["wavelength"], f["labels"], f["flux"]
        grad_ds = f["gradients"] if "gradients" in f else None
        for key, ds in (
            ("wavelength", wl_ds),
            ("labels", lab_ds),
            ("flux", flux_ds),
            ("gradients", grad_ds),
        ):
            if ds is not None and not np.issubdtype(ds.dtype, np.floating):
                raise ValueError(f"{path}: dataset {key!r} has dtype {ds.dtype}, expected float")
        if wl_ds.ndim != 1:
            raise ValueError(f"{path}: wavelength has shape {wl_ds.shape}, expected (n_pix,)")
        n_pix = wl_ds.shape[0]
        if lab_ds.ndim != 2 or lab_ds.shape[1] != len(names):
            raise ValueError(
                f"{path}: labels has shape {lab_ds.shape}, "
                f"expected (n_spec, {len(names)}) for {len(names)} label_names"
            )
        n_spec = lab_ds.shape[0]
        if n_spec == 0 or n_pix == 0:
            raise ValueError(f"{path}: empty grid ({n_spec} spectra, {n_pix} pixels)")
        if flux_ds.shape != (n_spec, n_pix):
            raise ValueError(
                f"{path}: flux has shape {flux_ds.shape} but labels has {n_spec} "
                f"rows and wavelength {n_pix} pixels: expected {(n_spec, n_pix)}"
            )
        if grad_ds is not None and grad_ds.shape != (n_spec, len(names), n_pix):
            raise ValueError(
                f"{path}: gradients has shape {grad_ds.shape}, "
                f"expected {(n_spec, len(names), n_pix)} from labels and wavelength"
            )
        checks = [("wavelength", wl_ds), ("labels", lab_ds), ("flux", flux_ds)]
        if gradients and grad_ds is not None:
            checks.append(("gradients", grad_ds))
        for key, ds in checks:
            row = _first_bad_row(ds) if ds.ndim > 1 else _first_bad_row(ds, step=ds.shape[0])
            if row is not None:
                raise ValueError(
                    f"{path}: dataset {key!r} has non-finite values (first at row {row})"
                )
        wl = wl_ds[()].astype(np.float64)
        if np.any(np.diff(wl) <= 0) or wl[0] <= 0:
            raise ValueError(f"{path}: wavelength must be positive and strictly increasing (Å)")
        return Grid(
            wavelength=wl,
            labels=lab_ds[()].astype(np.float64),
            flux=flux_ds[()].astype(np.float64),
            gradients=grad_ds[()] if (gradients and grad_ds is not None) else None,
            label_names=tuple(names),
            attrs=attrs,
            path=path,
        )


def grid_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a grid's content: label_names, wavelength, labels and flux as float64.

    Independent of HDF5 layout and attributes; gradients are not hashed (they follow from the
    same engine). Used to tie a model checkpoint to the grid it was trained on.
    """
    path = Path(path)
    h = hashlib.sha256()
    with _open(path) as f:
        for key in _REQUIRED:
            if key not in f:
                raise ValueError(f"{path}: missing dataset {key!r}")
        names = np.atleast_1d(_attr(f.attrs.get("label_names", [])))
        h.update("\n".join(str(x) for x in names).encode())
        for key in _REQUIRED:
            ds = f[key]
            h.update(f"{key}{ds.shape}".encode())
            step = max(1, 2**22 // max(1, int(np.prod(ds.shape[1:], dtype=np.int64))))
            for i in range(0, ds.shape[0], step):
                h.update(np.ascontiguousarray(ds[i : i + step], dtype="<f8").tobytes())
    return h.hexdigest()
