"""The 34 stellar labels of PhDLspec: names, allowed ranges, scaling and fitting groups.

Labels outside the networks are physical: Teff in K, logg in dex (cgs), vmic in km/s,
[Fe/H] and [X/Fe] in dex. Inside the networks they are scaled by Eq. 25 (:func:`scale`),
``p' = (p - p_min) / (p_max - p_min)`` with ``p_min, p_max`` the minimum and maximum of the
training set (:func:`phdl.train.label_scaling`; a model keeps them as ``label_min`` /
``label_max``).

:data:`RANGES` is Table 1 of the paper: the range the training grid is drawn from. The vmic
range is not stated in the paper; we use [0.5, 3.0] km/s. The logg range spans the
isochrone-like loci of :func:`phdl.grid.sample_labels`: [0, 5.5] dex.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# a numpy array or a torch tensor (scale and unscale work on both)
_Array = Any

#: The 30 elements with an [X/Fe] label, in the paper's order (Table 1).
ELEMENTS: tuple[str, ...] = (
    "C", "N", "O", "Na", "Mg", "Al", "Si", "S", "K", "Ca",
    "Sc", "Ti", "V", "Cr", "Mn", "Co", "Ni", "Cu", "Zn", "Sr",
    "Y", "Zr", "Ba", "Au", "La", "Ce", "Pr", "Nd", "Sm", "Eu",
)  # fmt: skip

#: All 34 label names, in the order of every label array in phdl.
LABELS: tuple[str, ...] = ("Teff", "logg", "vmic", "[Fe/H]") + tuple(f"[{e}/Fe]" for e in ELEMENTS)

_XFE_RANGES: dict[tuple[str, ...], tuple[float, float]] = {
    ("C", "N"): (-1.5, 1.5),
    ("O",): (-0.5, 1.0),
    ("Na", "Al", "K"): (-1.0, 1.0),
    ("Mg", "Si", "S", "Ca", "Ti"): (-0.4, 0.6),
    ("Sc", "V", "Cr", "Mn", "Co", "Ni", "Cu", "Zn"): (-0.8, 0.8),
    ("Sr", "Y", "Zr", "Ba", "Au", "La", "Ce", "Pr", "Nd", "Sm", "Eu"): (-1.5, 2.0),
}

#: Allowed range (min, max) of every label, physical units.
RANGES: dict[str, tuple[float, float]] = {
    "Teff": (3800.0, 8000.0),
    "logg": (0.0, 5.5),
    "vmic": (0.5, 3.0),
    "[Fe/H]": (-4.0, 0.5),
}
for _els, _rng in _XFE_RANGES.items():
    for _el in _els:
        RANGES[f"[{_el}/Fe]"] = _rng

#: Units of every label, for axis labels and tables.
UNITS: dict[str, str] = {"Teff": "K", "logg": "dex", "vmic": "km/s"}
UNITS.update({name: "dex" for name in LABELS[3:]})

#: Group I: strong features, fitted first (Section 2.2.1).
GROUP_I: tuple[str, ...] = (
    "Teff", "logg", "[Fe/H]", "[C/Fe]", "[N/Fe]", "[O/Fe]", "[Na/Fe]", "[Mg/Fe]", "[Al/Fe]",
    "[Ca/Fe]", "[Ti/Fe]", "[V/Fe]", "[Cr/Fe]", "[Mn/Fe]", "[Co/Fe]", "[Ni/Fe]",
)  # fmt: skip
#: Group II: fitted second with Group I held at its result.
GROUP_II: tuple[str, ...] = (
    "[Si/Fe]", "[Sc/Fe]", "[Sr/Fe]", "[Y/Fe]", "[Zr/Fe]", "[Ba/Fe]", "[La/Fe]", "[Ce/Fe]",
    "[Pr/Fe]", "[Nd/Fe]", "[Sm/Fe]", "[Eu/Fe]",
)  # fmt: skip
#: The [X/Fe] of Group I (Group I without Teff, logg and [Fe/H]).
GROUP_I_XFE: tuple[str, ...] = tuple(n for n in GROUP_I if n.startswith("[") and n != "[Fe/H]")
#: The six labels that are not fitted and stay at their initial values.
NOT_FITTED: tuple[str, ...] = ("vmic", "[S/Fe]", "[K/Fe]", "[Cu/Fe]", "[Zn/Fe]", "[Au/Fe]")

N_LABELS = len(LABELS)
LOWER = np.array([RANGES[n][0] for n in LABELS])
UPPER = np.array([RANGES[n][1] for n in LABELS])


def index(name: str) -> int:
    """Position of label ``name`` in :data:`LABELS`; ValueError naming the label if unknown."""
    try:
        return LABELS.index(name)
    except ValueError:
        raise ValueError(f"unknown label {name!r}; expected one of {', '.join(LABELS)}") from None


def validate(labels: np.ndarray, *, check_range: bool = True, tol: float = 1e-9) -> np.ndarray:
    """Check a label array and return it as float64 of shape (n, 34).

    A single star of shape (34,) is promoted to (1, 34). Raises ValueError naming the label
    (and its allowed range) on a wrong shape, a non-finite value or, if ``check_range``, a value
    outside :data:`RANGES`.
    """
    arr = np.asarray(labels, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != N_LABELS:
        raise ValueError(
            f"labels must have shape (n, {N_LABELS}) in the order of phdl.labels.LABELS; "
            f"got shape {tuple(np.shape(labels))}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        star, col = np.argwhere(bad)[0]
        raise ValueError(f"label {LABELS[col]} of star {star} is {arr[star, col]}, not finite")
    if check_range:
        lo = arr < LOWER - tol
        hi = arr > UPPER + tol
        out = lo | hi
        if out.any():
            star, col = np.argwhere(out)[0]
            name = LABELS[col]
            raise ValueError(
                f"label {name} of star {star} is {arr[star, col]:g}, outside its allowed range "
                f"[{RANGES[name][0]:g}, {RANGES[name][1]:g}] {UNITS[name]}"
            )
    return arr


def scale(labels: _Array, lo: _Array, hi: _Array) -> _Array:
    """Eq. 25: physical labels -> scaled labels, ``(labels - lo) / (hi - lo)`` per label.

    ``labels`` (..., k) physical (K, dex, km/s); ``lo``, ``hi`` (k,) the training set's
    minimum and maximum of each label (physical; a model's ``label_min`` / ``label_max``).
    Returns unitless scaled labels, 0 at ``lo`` and 1 at ``hi``. numpy arrays or torch
    tensors (the arithmetic is the caller's type's); no checks, so it is cheap inside loops.
    """
    return (labels - lo) / (hi - lo)


def unscale(scaled: _Array, lo: _Array, hi: _Array) -> _Array:
    """Inverse of :func:`scale` (Eq. 25): scaled labels (..., k) -> physical units,
    ``lo + scaled · (hi - lo)``; ``lo``, ``hi`` (k,) physical as for :func:`scale`."""
    return lo + scaled * (hi - lo)


def solar(
    teff: float = 5772.0, logg: float = 4.44, vmic: float = 1.0, feh: float = 0.0
) -> np.ndarray:
    """A (34,) label vector with the given atmosphere and all [X/Fe] = 0 (physical units)."""
    out = np.zeros(N_LABELS)
    out[:4] = teff, logg, vmic, feh
    return out


def coverage_table(labels: np.ndarray):
    """Table 1 beside a label set: per label, the allowed range and the range actually covered.

    ``labels`` (n, 34) physical. Returns an astropy Table with columns ``label``, ``unit``,
    ``min (Table 1)``, ``max (Table 1)``, ``min (grid)``, ``max (grid)``, ``median (grid)``.
    """
    from astropy.table import Table

    arr = validate(labels, check_range=False)
    table = Table(
        {
            "label": list(LABELS),
            "unit": [UNITS[n] for n in LABELS],
            "min (Table 1)": LOWER,
            "max (Table 1)": UPPER,
            "min (grid)": arr.min(0),
            "max (grid)": arr.max(0),
            "median (grid)": np.median(arr, 0),
        }
    )
    for col in table.colnames[2:]:
        table[col].format = ".2f"
    return table
