"""ATLAS9 model atmospheres (Castelli & Kurucz 2003) on the engine's depth scale, interpolated
differentiably in Teff, logg and [M/H].

Data: ``phdl/data/atlas9.npz`` (made by ``data/make_atlas9.py`` from the pymoog 0.0.3 wheel; see
``data/ATLAS9.md``): the solar-scaled ODFNEW grids, Teff 3500-8000 K (250 K), logg 0-5 (0.5),
[M/H] -5.0 ... +0.5 (18 values), 72 layers each of RHOX, T, P_gas, P_e and tau_Ross.

Depth scale (:func:`log_tau5000`). The engine's depth variable is tau_5000, the optical depth of
*its own* continuum at 5000 Å (``kappa5000``: H-, H I, Thomson, Rayleigh), and its transfer
scales every wavelength's opacity to that reference. So each ATLAS model is put on the same
scale: tau_5000 = integral of kappa5000 / rho d(RHOX), with kappa5000 evaluated by the engine
on the model's T, P_e and n(H I) (Saha for hydrogen with the model's own P_e; N(H):N(He) =
0.911:0.089 as in the ATLAS header, metals scaled by [M/H]; molecules left out, as in the
engine's own reference opacity). A model then has the same mass column at a given tau_5000 in
ATLAS and in the engine, so the engine's hydrostatics on T(tau_5000) gives back the ATLAS
pressures (to a few per cent; tested). tau_Ross is not used: in cool giants the two scales
differ by up to 2 dex at the top (tau_5000 >> tau_Ross where Rayleigh scattering dominates at
5000 Å and molecules dominate the Rosseland mean).

Resampling (:func:`tables`): T, log P_gas and log P_e of every model are interpolated linearly in
log tau_5000 onto the engine's depth grid. Above a model's top layer T is held constant
(isothermal) and log P_gas, log P_e continue with slopes 1 and 1/2 in log tau (constant opacity
per gram; P_e ~ P_gas^1/2); below its bottom all three continue linearly.

Gaps (:func:`fill_gaps`): 251 of the 3762 grid points are absent from the source (hot low-gravity
models beyond the grid's radiation-pressure limit; cool metal-poor dwarfs) and 2 are rejected by
the script. A gap at (Teff, g, Z) takes the nearest available gravity g0 at the same Teff and Z,
and borrows the change from g0 to g from the nearest metallicity Z' that has both:
X(g, Z) = X(g0, Z) + X(g, Z') - X(g0, Z'); failing that, from the nearest Teff within 500 K
that has both; failing that, X(g0, Z) is copied. Leave-one-out on the models at the edge of
the grid (predicting each edge model from its neighbours) gave a median rms T error of 12-25 K
over log tau_5000 = -4 ... 0.5 with this rule, against 43-124 K for copying the nearest gravity.

Interpolation (:func:`structure`): multilinear in (Teff, logg, [M/H]) as a sum of piecewise-linear
basis weights, so it is exact at grid nodes and differentiable (forward-mode jvp) everywhere off
them. Beyond the grid it extrapolates linearly by at most one cell (logg up to 5.5, Teff down to
3250 K, [M/H] from -5.5 to +0.7), and is clamped (zero derivative) further out. A few cool
metal-poor dwarf models of ATLAS9 have step-like deep layers (log tau_5000 > 0.5); the logg
extrapolation above 5 carries their steps along (data/ATLAS9.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from . import constants as c
from .atoms import ATOMS

DATA: Path = Path(__file__).resolve().parents[1] / "data" / "atlas9.npz"
_COLUMNS = ("log_rhox", "T", "log_pg", "log_pe", "log_tau_ross")
_X_H, _X_HE = 0.911, 0.089  # number fractions of H and He in the ATLAS9 models (file header)
OK, ABSENT, REJECTED = 0, 1, 2  # status codes of the data file
_TEFF_DONOR_MAX = 500.0  # K: farthest Teff a gap may borrow its gravity trend from


@dataclass(frozen=True)
class Atlas9Grid:
    """The data file: axes, per-model layers (nT, nG, nZ, 72) with NaN at gaps, provenance."""

    teff: np.ndarray
    logg: np.ndarray
    mh: np.ndarray
    status: np.ndarray  # (nT, nG, nZ) int8: OK, ABSENT or REJECTED
    log_rhox: np.ndarray
    T: np.ndarray
    log_pg: np.ndarray
    log_pe: np.ndarray
    log_tau_ross: np.ndarray
    provenance: dict
    sha256: str


@lru_cache(maxsize=4)
def load(path: str | Path = DATA) -> Atlas9Grid:
    """Read and check the ATLAS9 data file; FileNotFoundError / ValueError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"ATLAS9 grid {path} not found; rebuild it with python data/make_atlas9.py"
        )
    raw = path.read_bytes()
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
        raise ValueError(f"{path}: not a readable npz file ({exc})") from None
    need = ("teff", "logg", "mh", "status", "provenance") + _COLUMNS
    missing = [k for k in need if k not in d]
    if missing:
        raise ValueError(f"{path}: missing arrays {', '.join(missing)}")
    shape = (d["teff"].size, d["logg"].size, d["mh"].size)
    if d["status"].shape != shape:
        raise ValueError(f"{path}: status has shape {d['status'].shape}, expected {shape}")
    ok = d["status"] == OK
    for k in _COLUMNS:
        if d[k].shape[:3] != shape or d[k].ndim != 4:
            raise ValueError(f"{path}: {k} has shape {d[k].shape}, expected {shape} + (layers,)")
        if not np.all(np.isfinite(d[k][ok])):
            raise ValueError(f"{path}: {k} is not finite for every model with status ok")
    for k in ("teff", "logg", "mh"):
        if not np.all(np.diff(d[k]) > 0):
            raise ValueError(f"{path}: axis {k} is not strictly increasing")
    return Atlas9Grid(
        **{k: d[k].astype(np.float64) for k in ("teff", "logg", "mh") + _COLUMNS},
        status=d["status"],
        provenance=json.loads(str(d["provenance"])),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def log_tau5000(grid: Atlas9Grid) -> np.ndarray:
    """log10 tau_5000 of every layer (nT, nG, nZ, L), on the engine's continuum (see module doc)."""
    from .continuum import kappa5000_fn

    T = grid.T
    kT = c.K_B * T
    pe = 10.0**grid.log_pe
    n_nuc = (10.0**grid.log_pg - pe) / kT
    # hydrogen ionization: n_II / n_I = Phi / P_e with U(H I) = 2, U(H II) = 1
    chi_h = ATOMS.chi[ATOMS.index("H"), 0]
    phi = c.SAHA_CONST * T**1.5 * kT * np.exp(-chi_h / (c.K_B_EV * T))
    n_hi = n_nuc * _X_H * pe / (pe + phi)
    metals = np.array([s not in ("H", "He") for s in ATOMS.symbols])
    ratio = 10.0 ** (ATOMS.log_eps_sun[metals] - 12.0)  # N_X / N_H, solar
    scale = 10.0 ** grid.mh[None, None, :, None]
    mass_per_h = ATOMS.mass[0] + _X_HE / _X_H * ATOMS.mass[1] + scale * (ratio @ ATOMS.mass[metals])
    nuclei_per_h = 1.0 + _X_HE / _X_H + scale * ratio.sum()
    rho = n_nuc * mass_per_h / nuclei_per_h * c.AMU
    k5 = kappa5000_fn()
    flat = [torch.as_tensor(np.nan_to_num(a, nan=1.0).reshape(-1, T.shape[-1]))
            for a in (T, pe, n_hi, pe / kT)]  # fmt: skip
    with torch.no_grad():
        kappa = k5(*flat).numpy().reshape(T.shape)
    f = kappa / rho * 10.0**grid.log_rhox  # d tau / d ln RHOX
    steps = 0.5 * (f[..., 1:] + f[..., :-1]) * np.diff(grid.log_rhox, axis=-1) * np.log(10.0)
    tau = np.concatenate([f[..., :1], f[..., :1] + np.cumsum(steps, axis=-1)], axis=-1)
    return np.where(grid.status[..., None] == OK, np.log10(tau), np.nan)


def _resample(x: np.ndarray, y: np.ndarray, xn: np.ndarray, top_slope: float | None) -> np.ndarray:
    """y(x) at xn, linear; above x[0] constant (top_slope None) or with slope top_slope; below
    x[-1] linear continuation of the last segment."""
    out = np.interp(xn, x, y)
    above, below = xn < x[0], xn > x[-1]
    if top_slope is not None:
        out[above] = y[0] + top_slope * (xn[above] - x[0])
    out[below] = y[-1] + (y[-1] - y[-2]) / (x[-1] - x[-2]) * (xn[below] - x[-1])
    return out


def fill_gaps(status: np.ndarray, teff: np.ndarray, logg: np.ndarray, mh: np.ndarray,
              arrays: list[np.ndarray]) -> dict[str, int]:  # fmt: skip
    """Fill every grid point whose status is not OK, in place, by the rule of the module doc
    (only models with status OK are used). Returns how many gaps each rule filled."""
    ok = status == OK
    counts = {"metallicity": 0, "teff": 0, "copy": 0}
    for i, j, k in zip(*np.nonzero(~ok), strict=True):
        have = np.flatnonzero(ok[i, :, k])
        if have.size == 0:
            raise ValueError(f"ATLAS9 grid: no model at all at Teff {teff[i]:g}, [M/H] {mh[k]:g}")
        j0 = have[np.argmin(np.abs(logg[have] - logg[j]))]
        donors = np.flatnonzero(ok[i, j, :] & ok[i, j0, :])
        if donors.size:
            k2 = donors[np.argmin(np.abs(mh[donors] - mh[k]))]
            for a in arrays:
                a[i, j, k] = a[i, j0, k] + a[i, j, k2] - a[i, j0, k2]
            counts["metallicity"] += 1
            continue
        donors = np.flatnonzero(ok[:, j, k] & ok[:, j0, k])
        donors = donors[np.abs(teff[donors] - teff[i]) <= _TEFF_DONOR_MAX]
        if donors.size:
            i2 = donors[np.argmin(np.abs(teff[donors] - teff[i]))]
            for a in arrays:
                a[i, j, k] = a[i, j0, k] + a[i2, j, k] - a[i2, j0, k]
            counts["teff"] += 1
            continue
        for a in arrays:
            a[i, j, k] = a[i, j0, k]
        counts["copy"] += 1
    return counts


@dataclass(frozen=True)
class Tables:
    """The grid on the engine's depth grid, gaps filled: axes and values (3, nT, nG, nZ, D) of
    T [K], log10 P_gas and log10 P_e [dyn cm^-2] (float64 torch)."""

    teff: torch.Tensor
    logg: torch.Tensor
    mh: torch.Tensor
    values: torch.Tensor
    filled: dict


@lru_cache(maxsize=8)
def tables(log_tau_range: tuple[float, float], n_depth: int, path: str | Path = DATA) -> Tables:
    """:class:`Tables` for the depth grid ``logspace(*log_tau_range, n_depth)`` (cached)."""
    grid = load(path)
    lt = log_tau5000(grid)
    xn = np.linspace(log_tau_range[0], log_tau_range[1], n_depth)
    shape = grid.status.shape + (n_depth,)
    T, lpg, lpe = (np.full(shape, np.nan) for _ in range(3))
    for i, j, k in zip(*np.nonzero(grid.status == OK), strict=True):
        x = lt[i, j, k]
        T[i, j, k] = _resample(x, grid.T[i, j, k], xn, None)
        lpg[i, j, k] = _resample(x, grid.log_pg[i, j, k], xn, 1.0)
        lpe[i, j, k] = _resample(x, grid.log_pe[i, j, k], xn, 0.5)
    filled = fill_gaps(grid.status, grid.teff, grid.logg, grid.mh, [T, lpg, lpe])
    return Tables(
        teff=torch.as_tensor(grid.teff),
        logg=torch.as_tensor(grid.logg),
        mh=torch.as_tensor(grid.mh),
        values=torch.as_tensor(np.stack([T, lpg, lpe])),
        filled=filled,
    )


def basis_weights(x: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation weights (B, n) of points x (B,) on increasing ``nodes``
    (n,): the weights of the two nodes around x sum to 1; exact one-hot at a node; linear
    extrapolation by at most one cell beyond either end."""
    lo = nodes[0] - (nodes[1] - nodes[0])
    hi = nodes[-1] + (nodes[-1] - nodes[-2])
    x = x.clamp(float(lo), float(hi))
    cell = (x[:, None] >= nodes[None, 1:-1]).sum(1)  # (B,) in 0 .. n-2
    onehot = (cell[:, None] == torch.arange(nodes.numel() - 1)).to(x.dtype)
    u = (x[:, None] - nodes[None, :-1]) / (nodes[1:] - nodes[:-1])[None, :]
    left = torch.nn.functional.pad(onehot * (1.0 - u), (0, 1))
    right = torch.nn.functional.pad(onehot * u, (1, 0))
    return left + right


def structure(
    teff: torch.Tensor,
    logg: torch.Tensor,
    mh: torch.Tensor,
    log_tau_range: tuple[float, float],
    n_depth: int,
    path: str | Path = DATA,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """T [K], P_gas and P_e [dyn cm^-2] (each (B, D)) of ATLAS9 interpolated to (Teff, logg,
    [M/H]) (each (B,)) on the depth grid tau_5000 = logspace(*log_tau_range, n_depth)."""
    tab = tables(tuple(float(v) for v in log_tau_range), int(n_depth), path)
    wt = basis_weights(teff, tab.teff)
    wg = basis_weights(logg, tab.logg)
    wz = basis_weights(mh, tab.mh)
    v = torch.einsum("bk,qijkd->bqijd", wz, tab.values)
    v = torch.einsum("bj,bqijd->bqid", wg, v)
    T, lpg, lpe = torch.einsum("bi,bqid->qbd", wt, v)
    return T, 10.0**lpg, 10.0**lpe
