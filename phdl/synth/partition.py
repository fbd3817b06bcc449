"""Atomic partition functions U(T) of I, II and III for every element of the engine.

Source: Barklem & Collet (2016, A&A 588, A96), Table 8: U(T) of 284 atoms and ions computed from
the NIST ASD energy levels, tabulated at 42 temperatures up to 10,000 K (Na I as corrected by the
authors' erratum of Nov 2022). ``phdl/data/partition_bc2016.csv`` holds ln U at the 20 of those
temperatures from 100 K to 10,000 K for the engine's species; ``data/make_partition.py`` makes it
and ``data/PARTITION.md`` records where it comes from.

Interpolation: ln U is a piecewise cubic Hermite function of ln T through the tabulated nodes,
with the monotone (PCHIP, Fritsch & Carlson 1980) node slopes, so U is positive, continuous with
a continuous first derivative, exact at the nodes and non-decreasing wherever the table is.
Below 100 K ln U is held at its 100 K value; above 10,000 K it continues linearly in ln T with the
last node's slope (a documented extrapolation: only the deep layers of the hottest models reach
there, where the metals are ionized). Every step is a plain torch operation, so forward- and
reverse-mode autodiff give the exact derivative of this interpolant with respect to T.

Species that Table 8 lacks (only H III, which does not exist) keep the two-level approximation of
:mod:`phdl.synth.atoms`, sampled at the same nodes and interpolated alike (exact for H III: U = 1).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from . import constants as c
from .atoms import ATOMS, E1_EV, SYMBOLS

TABLE_CSV = Path(__file__).resolve().parents[1] / "data" / "partition_bc2016.csv"
STAGES = ("I", "II", "III")


def read_table(path: str | Path = TABLE_CSV) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Temperatures (K) and ``{"Fe I": ln U at them}`` from the shipped table (or ``path``)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"partition-function table not found: {p}")
    with p.open(newline="") as fh:
        rows = list(csv.reader(line for line in fh if not line.startswith("#")))
    header, body = rows[0], rows[1:]
    if header[0] != "species":
        raise ValueError(f"{p}: first column must be 'species', got {header[0]!r}")
    temps = np.array([float(t) for t in header[1:]])
    table = {}
    for k, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{p}: row {k} ({row[0]!r}) has {len(row)} fields, expected {len(header)}"
            )
        table[row[0]] = np.array([float(v) for v in row[1:]])
    return temps, table


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Monotone node slopes dy/dx (Fritsch-Carlson, scipy's PCHIP): y (..., n) on nodes x (n,)."""
    from scipy.interpolate import PchipInterpolator

    return PchipInterpolator(x, y, axis=-1)(x, nu=1)


def _segments(x: np.ndarray, y: np.ndarray, m: np.ndarray):
    """Power-basis cubics a0 + a1 t + a2 t^2 + a3 t^3 per segment, t = (x - x_ref) / h.

    Segment 0 lies below the first node (constant), 1..n-1 between nodes (Hermite), n above the
    last node (linear with the last slope). Returns x_ref (n+1,), 1/h (n+1,), a (n+1, ..., 4).
    """
    n = x.size
    h = np.diff(x)
    y0, y1, m0, m1 = y[..., :-1], y[..., 1:], m[..., :-1] * h, m[..., 1:] * h
    inner = np.stack([y0, m0, 3.0 * (y1 - y0) - 2.0 * m0 - m1, 2.0 * (y0 - y1) + m0 + m1], -1)
    zero = np.zeros_like(y[..., 0])
    below = np.stack([y[..., 0], zero, zero, zero], -1)[..., None, :]
    above = np.stack([y[..., -1], m[..., -1], zero, zero], -1)[..., None, :]
    a = np.concatenate([below, inner, above], axis=-2)  # (..., n+1, 4)
    x_ref = np.concatenate([[x[0]], x[:-1], [x[-1]]])
    inv_h = np.concatenate([[1.0], 1.0 / h, [1.0]])
    assert a.shape[-2] == n + 1
    return x_ref, inv_h, np.moveaxis(a, -2, 0)


def _build():
    temps, table = read_table()
    x = np.log(temps)
    # species that Table 8 lacks: the two-level approximation of atoms.py sampled at the nodes
    boltz = np.exp(-E1_EV / (c.K_B_EV * temps))
    y = np.log(ATOMS.g0[..., None] + ATOMS.g1[..., None] * boltz)  # (E, 3, n)
    missing = []
    for e, sym in enumerate(SYMBOLS):
        for s, roman in enumerate(STAGES):
            row = table.get(f"{sym} {roman}")
            if row is None:
                missing.append(f"{sym} {roman}")
            else:
                y[e, s] = row
    x_ref, inv_h, a = _segments(x, y, pchip_slopes(x, y))
    a = np.ascontiguousarray(np.moveaxis(a, -1, 1)).reshape(len(x_ref), 4, -1)  # (seg, power, E*3)
    t = torch.as_tensor
    return t(x), t(x_ref), t(inv_h), t(a), tuple(missing)


_X, _XREF, _INVH, _COEF, MISSING = _build()
"""MISSING: the engine's species that Table 8 lacks (they keep the two-level approximation)."""
_SHAPE = (len(SYMBOLS), len(STAGES))


def ln_partition_table(lnT: torch.Tensor) -> torch.Tensor:
    """ln U interpolated in the table at ln T: (B, D) -> (B, E, 3, D)."""
    seg = (lnT[..., None] >= _X).sum(-1)  # (B, D): which segment each T falls in
    t = (lnT - _XREF[seg]) * _INVH[seg]
    a = _COEF[seg]  # (B, D, 4, E * 3): the segment's cubic in t for every species
    t = t[..., None]
    ln_u = a[:, :, 0] + t * (a[:, :, 1] + t * (a[:, :, 2] + t * a[:, :, 3]))
    return ln_u.reshape(*lnT.shape, *_SHAPE).permute(0, 2, 3, 1)


def partition_functions(T: torch.Tensor) -> torch.Tensor:
    """U of I, II, III for every element: T (B, D) [K] -> (B, E, 3, D), Barklem & Collet 2016."""
    return torch.exp(ln_partition_table(torch.log(T)))
