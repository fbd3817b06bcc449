"""The training grid: sample labels, run the engine, write / read / validate the grid file.

The grid file itself (contract, reader, hash) is :mod:`phdl.gridfile`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from phdl import __version__
from phdl.gridfile import Grid, _attr, _open, grid_hash, partial_path, read_grid
from phdl.labels import LABELS, N_LABELS, RANGES, index, validate

__all__ = [
    "BRANCH_FRACTIONS",
    "Grid",
    "check_writable",
    "grid_hash",
    "make_grid",
    "partial_path",
    "read_grid",
    "sample_labels",
]

#: Rows drawn per independent random block; makes sample_labels(k, s) a prefix of (n, s).
_BLOCK = 256
#: Branch fractions of the sampled grid: main sequence, subgiant branch, red giant branch.
BRANCH_FRACTIONS: tuple[float, float, float] = (0.45, 0.20, 0.35)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _sample_block(rng: np.random.Generator, m: int) -> np.ndarray:
    """``m`` rows of physical labels from one generator (see :func:`sample_labels`)."""
    out = np.empty((m, N_LABELS))
    for j, name in enumerate(LABELS):
        out[:, j] = rng.uniform(*RANGES[name], size=m)
    feh = np.round(rng.integers(-40, 6, size=m) * 0.1, 1)
    branch = rng.choice(3, size=m, p=BRANCH_FRACTIONS)
    u = rng.uniform(size=m)
    t_to = rng.uniform(5500.0, 6500.0, size=m) - 150.0 * feh
    # main sequence: Teff uniform, logg linear from 4.9 (3800 K) to 4.0 (8000 K)
    t_ms = 3800.0 + 4200.0 * u
    g_ms = 4.9 - 0.9 * u
    # subgiant branch: from the turn-off (logg 4.1) towards 5000 K (logg 3.8)
    t_sgb = t_to - (t_to - 5000.0) * u
    g_sgb = 4.1 - 0.3 * u
    # red giant branch: logg uniform in [0.5, 3.5], Teff from 3900 K (tip) to 5100 K (base),
    # hotter by 150 K per dex below solar metallicity
    g_rgb = 0.5 + 3.0 * u
    t_rgb = 3900.0 + 400.0 * (g_rgb - 0.5) - 150.0 * feh
    teff = np.choose(branch, [t_ms, t_sgb, t_rgb]) + rng.normal(0.0, 60.0, size=m)
    logg = np.choose(branch, [g_ms, g_sgb, g_rgb]) + rng.normal(0.0, 0.15, size=m)
    out[:, index("Teff")] = np.clip(teff, *RANGES["Teff"])
    out[:, index("logg")] = np.clip(logg, *RANGES["logg"])
    out[:, index("[Fe/H]")] = feh
    return out


def sample_labels(n: int, seed: int) -> np.ndarray:
    """Draw ``n`` physical label vectors (n, 34) for the training grid, as in Section 3.1.

    The paper samples Teff and logg from MIST isochrones; we use an analytic stand-in of three
    loci with branch fractions :data:`BRANCH_FRACTIONS` (0.45 / 0.20 / 0.35), a parameter
    ``u ~ U(0, 1)`` along each locus and Gaussian scatter of 60 K in Teff and 0.15 dex in logg:

    - main sequence: Teff = 3800 + 4200 u K, logg = 4.9 - 0.9 u dex;
    - subgiant branch: from the turn-off T_TO ~ U(5500, 6500) K - 150 K·[Fe/H] at logg 4.1
      towards 5000 K at logg 3.8: Teff = T_TO - (T_TO - 5000) u, logg = 4.1 - 0.3 u;
    - red giant branch: logg = 0.5 + 3 u, Teff = 3900 + 400 (logg - 0.5) - 150·[Fe/H] K
      (3900 K at the tip, 5100 K at the base for solar metallicity; metal-poor giants hotter).

    Teff and logg are then clipped into :data:`phdl.labels.RANGES`. [Fe/H] is uniform on the
    46 values -4.0, -3.9, ..., 0.5 dex (the paper: "uniformly sampled at intervals of 0.1 dex");
    vmic and every [X/Fe] are uniform in their ranges (Table 1).

    Deterministic in ``(n, seed)``; rows are drawn in blocks of 256 with independent generators
    ``default_rng([seed, block])``, so ``sample_labels(k, s)`` equals the first k rows of
    ``sample_labels(n, s)`` for every k <= n.
    """
    n, seed = _positive_int(n, "n"), _seed(seed)
    n_blocks = -(-n // _BLOCK)
    blocks = [_sample_block(np.random.default_rng([seed, b]), _BLOCK) for b in range(n_blocks)]
    return np.concatenate(blocks)[:n]


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Make sure a grid can be written at ``path`` (creating its directory); ValueError if not."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"output path {path} is a directory; give a file name such as grid.h5")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot create directory {path.parent} for {path}: {exc}") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"directory {path.parent} is not writable; cannot write {path}")
    return path


def _default_synthesizer(physics: Any = None) -> Any:
    from phdl.synth import Synthesizer  # lazy: the engine is heavy

    return Synthesizer(physics=physics)


def _expected_attrs(seed: int, n: int, with_gradients: bool, desc: dict) -> dict[str, Any]:
    return {
        "seed": seed,
        "n_spectra": n,
        "label_names": list(LABELS),
        "physics_hash": str(desc.get("physics_hash", "")),
        "with_gradients": bool(with_gradients),
    }


def _check_same(f: h5py.File, file: Path, expected: dict, labels: np.ndarray, wl: np.ndarray):
    """ValueError naming the first attribute of ``f`` that differs from the request."""
    hint = f"delete {file} to start over, or choose another output path"
    for key, want in expected.items():
        have = _attr(f.attrs.get(key))
        if have != want:
            raise ValueError(f"{file} was made with {key}={have!r}, requested {want!r}; {hint}")
    for key, want in (("wavelength", wl), ("labels", labels)):
        if key not in f or f[key].shape != want.shape or not np.array_equal(f[key][()], want):
            raise ValueError(f"{file} has a different {key} dataset than requested; {hint}")


def _create(file: Path, labels: np.ndarray, wl: np.ndarray, attrs: dict, desc: dict) -> None:
    n, n_pix = len(labels), len(wl)
    with h5py.File(file, "w") as f:
        f.create_dataset("wavelength", data=wl)
        f.create_dataset("labels", data=labels)
        f.create_dataset("flux", shape=(n, n_pix), dtype="f8")
        if attrs["with_gradients"]:
            f.create_dataset("gradients", shape=(n, N_LABELS, n_pix), dtype="f4")
        f.create_dataset("done", data=np.zeros(n, dtype=bool))
        for key, value in desc.items():  # engine description: str / float attributes
            ok = isinstance(value, (str, int, float, bool, np.generic))
            f.attrs[key] = value if ok else str(value)
        f.attrs.update(attrs)
        f.attrs.setdefault("source", "phdl.synth")
        f.attrs["phdl_version"] = __version__


def _synthesize(syn: Any, labels: np.ndarray, n_pix: int, with_gradients: bool, first: int):
    """Run the engine on one chunk and check what it returns (shape, finiteness)."""
    out = syn(labels, with_gradients=True) if with_gradients else (syn(labels), None)
    return _checked(out[0], out[1], labels, n_pix, with_gradients, first)


def _checked(flux, grads, labels: np.ndarray, n_pix: int, with_gradients: bool, first: int):
    """The engine's output for one chunk, checked (shape, finiteness)."""
    flux = np.asarray(flux, dtype=np.float64)
    if flux.shape != (len(labels), n_pix):
        raise ValueError(
            f"synthesizer returned flux of shape {flux.shape}, expected {(len(labels), n_pix)}"
        )
    checks = [("flux", flux)]
    if with_gradients:
        grads = np.asarray(grads, dtype=np.float64)
        if grads.shape != (len(labels), N_LABELS, n_pix):
            raise ValueError(
                f"synthesizer returned gradients of shape {grads.shape}, "
                f"expected {(len(labels), N_LABELS, n_pix)}"
            )
        checks.append(("gradients", grads))
    for name, arr in checks:
        bad = ~np.isfinite(arr.reshape(len(labels), -1)).all(axis=1)
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueError(
                f"synthesizer returned non-finite {name} for grid row {first + k} "
                f"(Teff={labels[k, 0]:g}, logg={labels[k, 1]:g}, "
                f"[Fe/H]={labels[k, 3]:g})"
            )
    return flux, grads


def make_grid(
    n: int,
    seed: int,
    path: str | os.PathLike[str],
    *,
    synthesizer: Any = None,
    physics: Any = None,
    chunk_size: int = 16,
    with_gradients: bool = True,
    progress: bool = True,
    labels: np.ndarray | None = None,
    workers: int = 1,
) -> Path:
    """Synthesize ``n`` spectra at :func:`sample_labels` ``(n, seed)`` and write the grid file.

    The file is written to ``<path>.partial``, flushed after every chunk of ``chunk_size``
    spectra with their rows marked in ``done``, and renamed to ``path`` when complete. An
    interrupted run is resumed by calling again with the same arguments: finished rows are kept.
    If ``path`` already holds a complete grid of the same request it is returned at once (cache).
    A leftover file of a different request (seed, n, labels, physics...) raises ValueError.

    ``synthesizer`` is any object with the :class:`phdl.synth.Synthesizer` interface (default:
    ``Synthesizer(physics)``); ``labels`` (n, 34, physical) replaces the sampled labels.
    ``workers`` > 1 runs the engine in that many processes of one thread each (0: one per
    core; :mod:`phdl.synth.pool`), with the physics of ``synthesizer`` when it is a
    :class:`phdl.synth.Synthesizer`; another synthesizer object always runs in this process.
    The workers are started with ``spawn``: from a script, call this under
    ``if __name__ == "__main__":`` (notebooks and ``phdl grid`` need nothing).
    """
    from phdl.synth.pool import resolve_workers

    n, seed = _positive_int(n, "n"), _seed(seed)
    chunk_size = _positive_int(chunk_size, "chunk_size")
    workers = resolve_workers(int(workers))
    path = check_writable(path)
    partial = partial_path(path)
    if labels is None:
        labels = sample_labels(n, seed)
    else:
        labels = validate(labels)
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} rows but n={n}")
    if synthesizer is not None and physics is not None:
        raise ValueError("give either synthesizer or physics, not both")
    syn = synthesizer if synthesizer is not None else _default_synthesizer(physics)
    desc = dict(syn.describe())
    wl = np.asarray(syn.wavelength, dtype=np.float64)
    expected = _expected_attrs(seed, n, with_gradients, desc)

    if path.exists():  # cache hit, or a conflict
        with _open(path) as f:
            _check_same(f, path, expected, labels, wl)
        read_grid(path, gradients=False)  # complete and valid, else a clear error
        return path
    if partial.exists():
        try:
            f = h5py.File(partial, "r")
        except OSError as exc:
            if "lock" in str(exc):
                raise ValueError(f"{partial} is in use by another process: {exc}") from None
            msg = f"{partial} is unreadable (killed mid-write?); starting over"
            warnings.warn(msg, stacklevel=2)
            partial.unlink()
        else:
            with f:
                _check_same(f, partial, expected, labels, wl)
    if not partial.exists():
        _create(partial, labels, wl, expected, desc)

    from tqdm import tqdm  # plain bar: widget bars do not survive papermill execution

    with h5py.File(partial, "r+") as f:
        todo = np.flatnonzero(~f["done"][()])
        bar = tqdm(total=n, initial=n - len(todo), desc="grid", unit="spec", disable=not progress)
        chunks = [todo[a : a + chunk_size] for a in range(0, len(todo), chunk_size)]
        with bar:
            for rows, flux, grads in _chunks(syn, labels, chunks, len(wl), with_gradients, workers):
                sel = slice(rows[0], rows[-1] + 1) if rows[-1] - rows[0] + 1 == len(rows) else rows
                f["flux"][sel] = flux
                if with_gradients:
                    f["gradients"][sel] = grads.astype(np.float32)
                f.flush()
                f["done"][sel] = True
                f.flush()
                bar.update(len(rows))
    os.replace(partial, path)
    return path


def _chunks(syn, labels, chunks, n_pix: int, with_gradients: bool, workers: int):
    """(rows, flux, gradients) per chunk, checked: in this process, or from worker processes
    when ``workers`` > 1, there are several chunks and ``syn`` is the phdl engine."""
    from phdl.synth import Synthesizer

    if workers > 1 and len(chunks) > 1 and isinstance(syn, Synthesizer):
        from phdl.synth.pool import synthesize_chunks

        for rows, flux, grads in synthesize_chunks(
            syn.physics, syn.compiled, labels, chunks, min(workers, len(chunks)), with_gradients
        ):
            yield rows, *_checked(flux, grads, labels[rows], n_pix, with_gradients, int(rows[0]))
        return
    for rows in chunks:
        yield rows, *_synthesize(syn, labels[rows], n_pix, with_gradients, int(rows[0]))
