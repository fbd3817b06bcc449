"""The sky's samples by name, and the reference catalogues that come with each (for the CLI).

| name       | truth function                            | n counts | catalogues               |
| ---------- | ----------------------------------------- | -------- | ------------------------ |
| "field"    | :func:`phdl.sky.population.field_stars`   | stars    | none                     |
| "common"   | :func:`phdl.sky.population.survey_common` | stars    | dd_payne, apogee, galah  |
| "giants"   | :func:`phdl.sky.population.solar_giants`  | stars    | apogee                   |
| "binaries" | :func:`phdl.sky.binaries.wide_binaries`   | pairs    | el_badry                 |
| "m67"      | :func:`phdl.sky.cluster.m67`              | stars    | galah_m67                |
| "hypatia"  | :func:`phdl.sky.population.hypatia_stars` | stars    | hypatia (its own sample) |
| "subgiants"| :func:`phdl.sky.subgiants.subgiants`      | stars    | none (rows: visits)      |
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from astropy.table import Table

from phdl.sky import references as ref
from phdl.sky.binaries import wide_binaries
from phdl.sky.cluster import m67
from phdl.sky.population import field_stars, hypatia_stars, solar_giants, survey_common
from phdl.sky.subgiants import subgiants

__all__ = ["CATALOGS", "SAMPLES", "references_for", "sample"]

#: Sample name -> truth function ``f(n, seed, **kw) -> Table``.
SAMPLES: dict[str, Callable[..., Table]] = {
    "field": field_stars,
    "common": survey_common,
    "giants": solar_giants,
    "binaries": wide_binaries,
    "m67": m67,
    "hypatia": hypatia_stars,
    "subgiants": subgiants,
}

#: Sample name -> {catalogue name: f(truth, seed) -> Table}.
CATALOGS: dict[str, dict[str, Callable[[Any, int], Table]]] = {
    "field": {},
    "common": {"dd_payne": ref.dd_payne, "apogee": ref.apogee_dr17, "galah": ref.galah_dr3},
    "giants": {"apogee": ref.apogee_dr17},
    "binaries": {"el_badry": ref.el_badry},
    "m67": {"galah_m67": ref.galah_m67},
    "hypatia": {"hypatia": ref.hypatia_catalog},
    "subgiants": {},
}


def _check(name: str) -> str:
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; expected one of {', '.join(SAMPLES)}")
    return name


def sample(name: str, n: int, seed: int, **kw: Any) -> Table:
    """The truth table of sample ``name`` with ``n`` stars (pairs for "binaries") and ``seed``;
    ``kw`` go to the sample's function (e.g. ``diffusion=True`` for "m67")."""
    make = SAMPLES[_check(name)]
    try:
        inspect.signature(make).bind(n, seed, **kw)
    except TypeError:
        raise ValueError(f"sample {name!r} takes no option(s) {', '.join(map(repr, kw))}") from None
    return make(n, seed, **kw)


def references_for(name: str, truth: Any, seed: int) -> dict[str, Table]:
    """The reference catalogues of sample ``name``, made from its ``truth`` table and ``seed``:
    {catalogue name: Table} (empty for a sample without catalogues)."""
    return {cat: make(truth, seed) for cat, make in CATALOGS[_check(name)].items()}
