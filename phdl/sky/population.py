"""The sky's field populations and the shared machinery of every truth table.

A truth table (astropy Table, one row per star) has ``source_id`` (int64, Gaia-DR3-like
19-digit ids: ``code · 10¹⁸ + k`` with a per-sample ``code`` of :data:`SAMPLE_CODES`, so ids
never collide between samples), ``population`` (a name of
:data:`phdl.sky.abundances.POPULATIONS`, or ``"M67"``), ``branch`` ("MS", "SGB", "RGB"),
``age`` (Gyr), the 34 :data:`phdl.labels.LABELS` (physical units, float64, inside
:data:`phdl.labels.RANGES`), ``snr_g`` and each sample's own columns.

``snr_g`` is LAMOST's S/N in the g band, drawn log-normal with median 60 and σ(ln S/N) = 0.6,
truncated to [10, 500] (:func:`draw_snr`; a sample with an S/N cut truncates at the cut).

Field stars (:func:`field_stars`) mix three populations with fractions
:data:`POPULATION_FRACTIONS` (0.75 low-α disc, 0.20 high-α disc, 0.05 metal-poor halo), [Fe/H]
from truncated normals :data:`FEH_DISTRIBUTIONS` (N(-0.1, 0.25), N(-0.5, 0.3), N(-1.5, 0.5),
cut to [-4, 0.5]) and log-uniform ages :data:`AGE_RANGES` (0.5-10, 8-12, 10-13 Gyr). They sit on
the analytic isochrone (:mod:`phdl.sky.isochrone`) with the grid's branch fractions
(:data:`phdl.grid.BRANCH_FRACTIONS`): dwarfs uniform in Teff from 4000 K to the turn-off,
subgiants uniform along the SGB, giants uniform in logg from the base to the tip with 30 % in a
red-clump-like overdensity at logg N(2.45, 0.1) on the RGB line; then Gaussian scatter of
50 K in Teff and 0.05 dex in logg. vmic from :func:`phdl.sky.isochrone.vmic`.

The other samples here: :func:`survey_common` (the LAMOST-APOGEE-GALAH stars of §4.1),
:func:`solar_giants` (§4.2.2) and :func:`hypatia_stars` (the Hypatia-like sample's truth; its
catalogue is :func:`phdl.sky.references.hypatia_catalog`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.table import Table
from scipy.special import ndtr, ndtri

from phdl.grid import BRANCH_FRACTIONS
from phdl.labels import LABELS, RANGES
from phdl.paper import SOLAR_GIANT_FEH_MAX, SOLAR_GIANT_LOGG_MAX, SOLAR_GIANT_MIN_SNR
from phdl.sky import isochrone as iso
from phdl.sky.abundances import abundance_pattern

__all__ = [
    "AGE_RANGES",
    "FEH_DISTRIBUTIONS",
    "HYPATIA_KINDS",
    "POPULATION_FRACTIONS",
    "SAMPLE_CODES",
    "SNR_G",
    "check_n",
    "draw_populations",
    "draw_snr",
    "field_eep",
    "field_stars",
    "galah_snr",
    "hypatia_stars",
    "solar_giants",
    "source_ids",
    "streams",
    "survey_common",
    "truncated_normal",
    "truth_table",
]

#: Per-sample code: the leading digit of its source ids and its branch of the seed's streams.
SAMPLE_CODES: dict[str, int] = {
    "field": 1, "common": 2, "giants": 3, "binaries": 4, "m67": 5, "hypatia": 6, "subgiants": 7,
}  # fmt: skip
POPULATION_FRACTIONS: dict[str, float] = {"low-alpha": 0.75, "high-alpha": 0.20, "halo": 0.05}
#: Mean and σ (dex) of the normal [Fe/H] of each population, truncated to RANGES["[Fe/H]"].
FEH_DISTRIBUTIONS: dict[str, tuple[float, float]] = {
    "low-alpha": (-0.1, 0.25), "high-alpha": (-0.5, 0.3), "halo": (-1.5, 0.5),
}  # fmt: skip
#: Log-uniform age range (Gyr) of each population.
AGE_RANGES: dict[str, tuple[float, float]] = {
    "low-alpha": (0.5, 10.0), "high-alpha": (8.0, 12.0), "halo": (10.0, 13.0),
}  # fmt: skip
#: LAMOST S/N_g: median, σ of ln(S/N), and the truncation range.
SNR_G: dict[str, Any] = {"median": 60.0, "sigma_ln": 0.6, "range": (10.0, 500.0)}
#: Field giants in the red-clump-like overdensity, its logg mean and σ (dex).
CLUMP_FRACTION, CLUMP_LOGG = 0.3, (2.45, 0.1)
#: Scatter of the field about the isochrone: Teff (K), logg (dex).
FIELD_SCATTER: tuple[float, float] = (50.0, 0.05)
_IDS_PER_CODE = 10**18


def check_n(n: Any, name: str = "n") -> int:
    """``n`` as a positive int; ValueError naming ``name`` otherwise."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def streams(seed: Any, code: int, k: int) -> list[np.random.Generator]:
    """``k`` independent generators for stream ``code`` of ``seed``:
    ``SeedSequence(seed).spawn(32)[code].spawn(k)``. ValueError for a bad seed."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    child = np.random.SeedSequence(int(seed)).spawn(32)[code]
    return [np.random.default_rng(s) for s in child.spawn(k)]


def source_ids(sample: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct 19-digit int64 ids ``code · 10¹⁸ + k`` of ``sample`` (random order)."""
    code = SAMPLE_CODES[sample]
    stride = _IDS_PER_CODE // n
    k = np.arange(n, dtype=np.int64) * stride + rng.integers(0, stride, size=n)
    return rng.permutation(code * _IDS_PER_CODE + k)


def truncated_normal(rng, mean, sigma, lo: float, hi: float, size: int) -> np.ndarray:
    """Normal(mean, sigma) draws truncated to [lo, hi], by inverse CDF (no pile-up)."""
    a, b = ndtr((lo - np.asarray(mean)) / sigma), ndtr((hi - np.asarray(mean)) / sigma)
    u = a + (b - a) * rng.uniform(size=size)
    return np.clip(mean + sigma * ndtri(u), lo, hi)


def draw_snr(
    rng: np.random.Generator, n: int, lo: float | None = None, median: float | None = None
):
    """LAMOST-like S/N_g: log-normal (:data:`SNR_G`), truncated to [lo, 500] (lo default 10)."""
    lo = SNR_G["range"][0] if lo is None else lo
    mu = np.log(SNR_G["median"] if median is None else median)
    x = truncated_normal(rng, mu, SNR_G["sigma_ln"], np.log(lo), np.log(SNR_G["range"][1]), n)
    return np.maximum(np.exp(x), np.nextafter(lo, np.inf))


def truth_table(
    sample: str, rng: np.random.Generator, teff, logg, feh, xfe, snr_g, population, **extra
) -> Table:
    """Assemble a truth table: ids from ``rng``, vmic from :func:`phdl.sky.isochrone.vmic`,
    every label clipped into RANGES (Teff K, logg dex, [Fe/H] dex, ``xfe`` (n, 30) dex)."""
    n = len(teff)
    teff = np.clip(np.asarray(teff, dtype=np.float64), *RANGES["Teff"])
    logg = np.clip(np.asarray(logg, dtype=np.float64), *RANGES["logg"])
    cols: dict[str, Any] = {"source_id": source_ids(sample, n, rng)}
    cols["population"] = np.broadcast_to(np.asarray(population, dtype=str), (n,)).copy()
    for name in ("branch", "age"):
        if name in extra:
            cols[name] = extra.pop(name)
    values = [teff, logg, iso.vmic(teff, logg), np.asarray(feh, dtype=np.float64)]
    values += list(np.asarray(xfe, dtype=np.float64).T)
    for name, v in zip(LABELS, values, strict=True):
        cols[name] = np.clip(np.broadcast_to(v, (n,)).astype(np.float64), *RANGES[name])
    cols["snr_g"] = np.asarray(snr_g, dtype=np.float64)
    cols.update(extra)
    table = Table(cols)
    units = {"Teff": "K", "vmic": "km/s", "age": "Gyr", "mass": "solMass", "vlos": "km/s"}
    units.update({"vlos_err": "km/s", "sep_AU": "AU"})
    for name, unit in units.items():
        if name in table.colnames:
            table[name].unit = unit
    return table


def draw_populations(rng: np.random.Generator, n: int, fractions=None):
    """(population names, [Fe/H] dex, age Gyr) of ``n`` stars drawn from ``fractions``."""
    fractions = POPULATION_FRACTIONS if fractions is None else fractions
    names = list(fractions)
    pops = np.asarray(names)[rng.choice(len(names), size=n, p=list(fractions.values()))]
    feh, age = np.empty(n), np.empty(n)
    for p in names:
        sel = pops == p
        feh[sel] = truncated_normal(rng, *FEH_DISTRIBUTIONS[p], *RANGES["[Fe/H]"], sel.sum())
        lo, hi = np.log(AGE_RANGES[p])
        age[sel] = np.exp(rng.uniform(lo, hi, sel.sum()))
    return pops, feh, age


def field_eep(rng: np.random.Generator, n: int, t_to, fractions=BRANCH_FRACTIONS) -> np.ndarray:
    """Phase ``eep`` on the isochrone for ``n`` field stars (see the module text)."""
    branch = rng.choice(3, size=n, p=fractions)
    x_min = np.clip((4000.0 - iso.TEFF_MS_MIN) / (t_to - iso.TEFF_MS_MIN), 0.0, 1.0)
    ms = x_min + (1.0 - x_min) * rng.uniform(size=n) * (1.0 - 1e-9)
    sgb = 1.0 + rng.uniform(size=n)
    span = iso.LOGG_RGB_BASE - iso.LOGG_TIP
    clump = np.clip(rng.normal(*CLUMP_LOGG, size=n), iso.LOGG_TIP, iso.LOGG_RGB_BASE)
    logg_rgb = np.where(
        rng.uniform(size=n) < CLUMP_FRACTION, clump, iso.LOGG_TIP + span * rng.uniform(size=n)
    )
    rgb = 2.0 + (iso.LOGG_RGB_BASE - logg_rgb) / span
    return np.choose(branch, [ms, sgb, rgb])


def _field(
    sample: str, n: int, seed: Any, snr_median: float | None = None, branches=BRANCH_FRACTIONS
):
    """The field's stars and a spare stream: (truth table, extra rng); ``branches``: the
    fractions of dwarfs, subgiants and giants."""
    n = check_n(n)
    r_pop, r_eep, r_scat, r_ab, r_snr, r_id, r_extra = streams(seed, SAMPLE_CODES[sample], 7)
    pops, feh, age = draw_populations(r_pop, n)
    t_to = iso.turnoff_teff(age, feh)
    eep = field_eep(r_eep, n, t_to, branches)
    teff, logg = iso.locus(eep, feh, t_to)
    teff = teff + r_scat.normal(0.0, FIELD_SCATTER[0], n)
    logg = logg + r_scat.normal(0.0, FIELD_SCATTER[1], n)
    snr = draw_snr(r_snr, n, median=snr_median)
    xfe = abundance_pattern(feh, pops, r_ab)
    extra = {"branch": iso.branch_of(eep), "age": age}
    return truth_table(sample, r_id, teff, logg, feh, xfe, snr, pops, **extra), r_extra


def field_stars(n: int, seed: int) -> Table:
    """``n`` LAMOST-like field stars (truth): low-α, high-α and halo populations on the
    isochrone loci (dwarfs, subgiants, giants); see the module text for every distribution."""
    return _field("field", n, seed)[0]


#: The common LAMOST-APOGEE-GALAH stars: brighter (S/N_g median 90); GALAH's snr_c3_iraf
#: log-normal with median 35 and σ(ln) 0.6, correlated (ρ = 0.7) with S/N_g, snr_c1_iraf =
#: 0.6 × snr_c3_iraf × LN(0, 0.1). About 13 % pass the §4.1 cuts (paper: 440 of 3,283).
COMMON_SNR: dict[str, float] = {"snr_g_median": 90.0, "c3_median": 35.0, "sigma_ln": 0.6}
COMMON_SNR.update({"rho": 0.7, "c1_ratio": 0.6, "c1_sigma_ln": 0.1})


def survey_common(n: int, seed: int) -> Table:
    """``n`` stars common to LAMOST, APOGEE and GALAH (truth): field-like, brighter, with the
    GALAH S/N columns ``snr_c1_iraf`` and ``snr_c3_iraf`` of :data:`COMMON_SNR`."""
    table, rng = _field("common", n, seed, snr_median=COMMON_SNR["snr_g_median"])
    table["snr_c1_iraf"], table["snr_c3_iraf"] = galah_snr(rng, table["snr_g"])
    return table


def galah_snr(rng: np.random.Generator, snr_g) -> tuple[np.ndarray, np.ndarray]:
    """GALAH's (snr_c1_iraf, snr_c3_iraf) of stars with LAMOST ``snr_g`` (:data:`COMMON_SNR`),
    clipped to [1, 500]."""
    c = COMMON_SNR
    snr_g = np.asarray(snr_g, dtype=np.float64)
    z_g = (np.log(snr_g) - np.log(c["snr_g_median"])) / SNR_G["sigma_ln"]
    z = c["rho"] * z_g + np.sqrt(1.0 - c["rho"] ** 2) * rng.standard_normal(len(snr_g))
    c3 = c["c3_median"] * np.exp(c["sigma_ln"] * z)
    c1 = c["c1_ratio"] * c3 * np.exp(c["c1_sigma_ln"] * rng.standard_normal(len(snr_g)))
    return np.clip(c1, 1.0, 500.0), np.clip(c3, 1.0, 500.0)


def solar_giants(n: int, seed: int) -> Table:
    """``n`` solar-metallicity giants of the logg sample (§4.2.2, truth): low-α disc RGB stars
    with S/N_g > SOLAR_GIANT_MIN_SNR, logg < SOLAR_GIANT_LOGG_MAX and |[Fe/H]| <
    SOLAR_GIANT_FEH_MAX (:mod:`phdl.paper`); [Fe/H] N(0, 0.05) truncated, logg uniform from 1.0
    (30 % in the clump overdensity), Teff on the RGB line + N(0, 50 K)."""
    n = check_n(n)
    r_feh, r_eep, r_scat, r_ab, r_snr, r_id = streams(seed, SAMPLE_CODES["giants"], 6)
    fmax = np.nextafter(SOLAR_GIANT_FEH_MAX, 0.0)
    feh = truncated_normal(r_feh, 0.0, 0.05, -fmax, fmax, n)
    gmax = np.nextafter(SOLAR_GIANT_LOGG_MAX, 0.0)
    clump = np.clip(r_eep.normal(*CLUMP_LOGG, size=n), 1.0, gmax)
    logg = np.where(r_eep.uniform(size=n) < CLUMP_FRACTION, clump, r_eep.uniform(1.0, gmax, n))
    teff = iso.rgb_teff(logg, feh) + r_scat.normal(0.0, FIELD_SCATTER[0], n)
    age = np.exp(r_feh.uniform(*np.log(AGE_RANGES["low-alpha"]), n))
    xfe = abundance_pattern(feh, "low-alpha", r_ab)
    snr = draw_snr(r_snr, n, lo=SOLAR_GIANT_MIN_SNR)
    return truth_table(
        "giants", r_id, teff, logg, feh, xfe, snr, "low-alpha", branch=np.full(n, "RGB"), age=age
    )


#: Hypatia's stars: solar analogues, dwarfs/subgiants flat in logg, giants (fractions).
HYPATIA_KINDS: dict[str, float] = {"analogue": 0.15, "dwarf": 0.77, "giant": 0.08}
_HYPATIA_POPS = {"low-alpha": 0.85, "high-alpha": 0.13, "halo": 0.02}


def _dwarf_eep(logg: np.ndarray, t_to: np.ndarray) -> np.ndarray:
    """Phase on the isochrone where logg (dex) is reached: MS (bisection: logg falls along it),
    SGB or RGB."""
    lo, hi = np.zeros_like(logg), np.full_like(logg, 1.0 - 1e-9)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        above = iso.locus(mid, 0.0, t_to)[1] > logg
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    sgb = 1.0 + (iso.LOGG_TURNOFF - logg) / (iso.LOGG_TURNOFF - iso.LOGG_RGB_BASE)
    rgb = 2.0 + (iso.LOGG_RGB_BASE - logg) / (iso.LOGG_RGB_BASE - iso.LOGG_TIP)
    return np.where(logg >= iso.LOGG_TURNOFF, lo, np.where(logg >= iso.LOGG_RGB_BASE, sgb, rgb))


def hypatia_stars(n: int, seed: int) -> Table:
    """``n`` nearby FGK stars (truth) of the Hypatia-like sample: :data:`HYPATIA_KINDS` —
    solar analogues (low-α, [Fe/H] N(0, 0.07), Teff N(5777, 80) K on the main sequence, ages
    2-8 Gyr), dwarfs and subgiants uniform in logg 3.5-4.7 on the isochrone, giants uniform in
    logg 1.5-3.5 — with the field's populations (85/13/2 %) and scatter (50 K, 0.05 dex)."""
    n = check_n(n)
    r_pop, r_eep, r_ab, r_snr, r_id, r_kind = streams(seed, SAMPLE_CODES["hypatia"], 6)
    kind = r_kind.choice(3, size=n, p=list(HYPATIA_KINDS.values()))
    pops, feh, age = draw_populations(r_pop, n, _HYPATIA_POPS)
    analogue = kind == 0
    pops = np.where(analogue, "low-alpha", pops)
    feh = np.where(analogue, np.clip(r_pop.normal(0.0, 0.07, n), -0.3, 0.3), feh)
    age = np.where(analogue, r_pop.uniform(2.0, 8.0, n), age)
    t_to = iso.turnoff_teff(age, feh)
    x_sun = (r_eep.normal(5777.0, 80.0, n) - iso.TEFF_MS_MIN) / (t_to - iso.TEFF_MS_MIN)
    logg = np.where(kind == 1, r_eep.uniform(3.5, 4.7, n), r_eep.uniform(1.5, 3.5, n))
    eep = np.where(analogue, np.clip(x_sun, 0.0, 1.0 - 1e-9), _dwarf_eep(logg, t_to))
    teff, logg = iso.locus(eep, feh, t_to)
    teff = teff + r_eep.normal(0.0, FIELD_SCATTER[0], n)
    logg = logg + r_eep.normal(0.0, FIELD_SCATTER[1], n)
    xfe = abundance_pattern(feh, pops, r_ab)
    return truth_table("hypatia", r_id, teff, logg, feh, xfe, draw_snr(r_snr, n), pops,
                       branch=iso.branch_of(eep), age=age)  # fmt: skip
