"""The sky's chemistry: parametric [X/Fe]([Fe/H]) trends per element and population.

Every trend is a piecewise-linear curve through a few nodes ([Fe/H], [X/Fe]) in dex, flat
beyond its first and last node, plus Gaussian intrinsic scatter σ_X that grows below
[Fe/H] = -1 as ``σ_X · (1 + max(0, -1 - [Fe/H]))`` (the paper's Figure 15: large scatter below
-1). Values are clipped into :data:`phdl.labels.RANGES`. Three populations (:data:`POPULATIONS`):

- ``"low-alpha"`` (thin disc): α-like elements on a plateau below a knee at [Fe/H] ≈ -1,
  falling to 0 at solar;
- ``"high-alpha"`` (thick disc): a higher plateau with the knee at ≈ -0.5, still enhanced at
  solar;
- ``"halo"``: the high-α curves (an in-situ halo; no accreted low-α halo is modelled).

Shapes, not fits, after: α elements (O, Mg, Si, S, Ca, Ti) Bensby et al. (2014) and
Adibekyan et al. (2012); odd-Z Na, Al Adibekyan et al. (2012); iron peak (Sc, V, Cr, Mn, Co,
Ni, Cu, Zn) Battistini & Bensby (2015) — [Mn/Fe] rises from -0.3 at [Fe/H] = -1 to 0 at solar;
neutron-capture (Sr ... Sm, Eu) Battistini & Bensby (2016) and Delgado Mena et al. (2017) —
s-process flat and slightly declining above solar, Eu (and the r-process Au) α-like; C, N and K
near 0 with large scatter. No mixing on the giant branch (C, N are the birth values).
"""

from __future__ import annotations

import numpy as np

from phdl.labels import ELEMENTS, RANGES

__all__ = ["POPULATIONS", "TRENDS", "abundance_pattern", "mean_xfe", "xfe"]

#: The chemical populations of the sky (names used in every truth table's ``population``).
POPULATIONS: tuple[str, ...] = ("low-alpha", "high-alpha", "halo")

_Nodes = tuple[tuple[float, float], ...]


def _alpha(plateau: float, high: float) -> tuple[_Nodes, _Nodes]:
    """α-like nodes: low-α plateau to a knee at -1, 0 at solar; high-α knee at -0.5."""
    return ((-1.0, plateau), (0.0, 0.0), (0.5, -0.05)), ((-0.5, high), (0.3, high / 3))


def _flat(value: float = 0.0) -> tuple[_Nodes, _Nodes]:
    return ((0.0, value),), ((0.0, value),)


_S_LOW: _Nodes = ((-1.0, 0.0), (-0.3, 0.05), (0.0, 0.0), (0.5, -0.15))
_S_HIGH: _Nodes = ((-1.0, 0.0), (0.3, -0.15))
_RS_LOW: _Nodes = ((-1.0, 0.2), (0.0, 0.0), (0.5, -0.1))  # mixed s/r (Zr, Nd)
_RS_HIGH: _Nodes = ((-1.0, 0.25), (0.3, 0.05))

#: element -> (σ_X dex, low-α nodes, high-α nodes); nodes are ([Fe/H], [X/Fe]) in dex.
TRENDS: dict[str, tuple[float, _Nodes, _Nodes]] = {
    "C": (0.10, ((-1.0, 0.1), (0.0, 0.0), (0.5, -0.1)), ((-1.0, 0.15), (0.3, 0.05))),
    "N": (0.15, ((-1.0, 0.0), (0.5, 0.05)), ((-1.0, 0.05), (0.3, 0.05))),
    "O": (0.08, *_alpha(0.5, 0.6)),
    "Na": (0.07, ((-1.0, -0.05), (0.0, 0.0), (0.5, 0.15)), ((-1.0, 0.0), (0.3, 0.1))),
    "Mg": (0.04, *_alpha(0.30, 0.35)),
    "Al": (0.06, *_alpha(0.20, 0.30)),
    "Si": (0.04, *_alpha(0.25, 0.30)),
    "S": (0.07, *_alpha(0.30, 0.35)),
    "K": (0.08, *_flat()),
    "Ca": (0.04, *_alpha(0.25, 0.30)),
    "Sc": (0.06, *_alpha(0.15, 0.20)),
    "Ti": (0.05, *_alpha(0.25, 0.30)),
    "V": (0.07, *_alpha(0.10, 0.12)),
    "Cr": (0.04, *_flat()),
    "Mn": (0.05, ((-1.0, -0.3), (0.0, 0.0), (0.5, 0.1)), ((-1.0, -0.35), (0.3, 0.0))),
    "Co": (0.06, *_alpha(0.10, 0.15)),
    "Ni": (0.04, ((-1.0, -0.02), (0.0, 0.0), (0.5, 0.05)), ((-1.0, 0.0), (0.3, 0.05))),
    "Cu": (0.08, ((-1.0, -0.25), (0.0, 0.0), (0.5, 0.1)), ((-1.0, -0.2), (0.3, 0.05))),
    "Zn": (0.07, *_alpha(0.15, 0.20)),
    "Sr": (0.10, _S_LOW, _S_HIGH),
    "Y": (0.08, _S_LOW, _S_HIGH),
    "Zr": (0.10, _RS_LOW, _RS_HIGH),
    "Ba": (0.08, _S_LOW, _S_HIGH),
    "Au": (0.15, *_alpha(0.30, 0.35)),
    "La": (0.08, _S_LOW, _S_HIGH),
    "Ce": (0.08, _S_LOW, _S_HIGH),
    "Pr": (0.10, ((-1.0, 0.25), (0.0, 0.0), (0.5, -0.05)), ((-1.0, 0.3), (0.3, 0.1))),
    "Nd": (0.08, _RS_LOW, _RS_HIGH),
    "Sm": (0.08, ((-1.0, 0.3), (0.0, 0.0), (0.5, -0.05)), ((-1.0, 0.35), (0.3, 0.15))),
    "Eu": (0.08, *_alpha(0.40, 0.45)),
}


def _check_element(element: str) -> str:
    el = element[1:-4] if element.startswith("[") and element.endswith("/Fe]") else element
    if el not in TRENDS:
        raise ValueError(f"unknown element {element!r}; expected one of {', '.join(ELEMENTS)}")
    return el


def _populations(population, shape: tuple[int, ...]) -> np.ndarray:
    pops = np.broadcast_to(np.asarray(population, dtype=str), shape)
    for p in np.unique(pops):
        if p not in POPULATIONS:
            raise ValueError(
                f"unknown population {str(p)!r}; expected one of {', '.join(POPULATIONS)}"
            )
    return pops


def _interp(nodes: _Nodes, feh: np.ndarray) -> np.ndarray:
    x, y = zip(*nodes, strict=True)
    return np.interp(feh, x, y)


def mean_xfe(element: str, feh, population) -> np.ndarray:
    """The mean trend [X/Fe] (dex) of ``element`` ("Mg" or "[Mg/Fe]") at ``feh`` (dex) for
    ``population`` (one name of :data:`POPULATIONS` or an array of them, one per star)."""
    el = _check_element(element)
    feh = np.asarray(feh, dtype=np.float64)
    pops = _populations(population, feh.shape)
    _, low, high = TRENDS[el]
    return np.where(pops == "low-alpha", _interp(low, feh), _interp(high, feh))


def xfe(element: str, feh, population, rng: np.random.Generator) -> np.ndarray:
    """[X/Fe] (dex) of ``element`` for stars at ``feh`` (dex): the mean trend of ``population``
    (:func:`mean_xfe`) plus intrinsic scatter from ``rng``, clipped into Table 1's range."""
    el = _check_element(element)
    feh = np.asarray(feh, dtype=np.float64)
    sigma = TRENDS[el][0] * (1.0 + np.maximum(0.0, -1.0 - feh))
    value = mean_xfe(el, feh, population) + sigma * rng.standard_normal(feh.shape)
    return np.clip(value, *RANGES[f"[{el}/Fe]"])


def abundance_pattern(feh, population, rng: np.random.Generator) -> np.ndarray:
    """All 30 [X/Fe] (dex) at once: (n, 30) in the order of :data:`phdl.labels.ELEMENTS`,
    one :func:`xfe` draw per element from ``rng`` (in that order)."""
    feh = np.atleast_1d(np.asarray(feh, dtype=np.float64))
    return np.column_stack([xfe(el, feh, population, rng) for el in ELEMENTS])
