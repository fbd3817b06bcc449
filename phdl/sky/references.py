"""Reference catalogues "as the surveys publish them", made from a truth table and a seed.

Each has the survey's real column names, its own noise (Gaussian, σ per column stated below),
its own coverage (elements it lacks are absent; values it did not measure are NaN) and its own
faults, and one row per truth row in the truth's order (the ids cross-match back). Noise σ are
typical published precisions, not fits.

``HYPATIA_SOLAR_OFFSET`` (a dict, element -> dex) is read on first use from the engine's solar
mixture, so it is left out of ``__all__`` (importing this module does not load the engine).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from astropy.table import Table

from phdl.labels import ELEMENTS, LABELS
from phdl.paper import TWIN_FEH_MAX, TWIN_LOGG_RANGE, TWIN_TEFF_RANGE, table3
from phdl.sky.binaries import pair_rows
from phdl.sky.population import draw_snr, galah_snr, hypatia_stars, streams

__all__ = [
    "APOGEE_ELEMENTS", "APOGEE_HOT_FAULT", "DD_PAYNE_ELEMENTS", "GALAH_ELEMENTS",
    "GALAH_HOT_FAULT", "HYPATIA_COVERAGE", "HYPATIA_SOLAR_SCALE", "HYPATIA_THIN_TWINS",
    "LODDERS_2009", "apogee_dr17", "dd_payne", "el_badry", "galah_dr3", "hypatia",
    "hypatia_catalog", "hypatia_solar_offset",
]  # fmt: skip

DD_PAYNE_ELEMENTS = ("C", "N", "O", "Na", "Mg", "Al", "Si", "Ca", "Ti", "Cr", "Mn", "Co", "Ni",
                     "Cu", "Ba")  # fmt: skip
APOGEE_ELEMENTS = ("C", "N", "O", "Na", "Mg", "Al", "Si", "S", "K", "Ca", "Ti", "V", "Cr", "Mn",
                   "Co", "Ni", "Cu", "Ce")  # fmt: skip
GALAH_ELEMENTS = tuple(e for e in ELEMENTS if e not in ("N", "S", "Pr", "Au"))
#: Noise σ (dex) of the weak or blended elements in the surveys (others: each survey's default).
_NOISY = {"C": 0.07, "N": 0.1, "Na": 0.1, "S": 0.1, "V": 0.1, "Co": 0.1, "Cu": 0.1, "Ba": 0.1,
          "Ce": 0.1, "Sr": 0.15, "Zr": 0.15, "La": 0.15, "Nd": 0.15, "Sm": 0.15,
          "Eu": 0.12}  # fmt: skip
#: APOGEE's Teff fault: TEFF - slope (Teff - above) for Teff > above (K).
APOGEE_HOT_FAULT: dict[str, float] = {"above": 6000.0, "slope": 0.1}
#: GALAH's fault: this fraction of the catalogue, among stars hotter than teff_min (K), gets
#: fe_h lower by U(dex) (all hot stars when there are fewer).
GALAH_HOT_FAULT: dict[str, Any] = {"teff_min": 6500.0, "fraction": 0.02, "dex": (0.5, 1.0)}
_REF_CODES = {"dd_payne": 20, "apogee": 21, "galah": 22, "hypatia": 23, "el_badry": 24}


def _truth(truth: Any, columns=LABELS + ("source_id",)) -> dict[str, np.ndarray]:
    for name in columns:
        if name not in truth.colnames:
            raise ValueError(f"truth table has no column {name!r}")
    return {name: np.asarray(truth[name]) for name in columns}


def _noisy(rng, x, sigma) -> np.ndarray:
    return np.asarray(x, dtype=np.float64) + sigma * rng.standard_normal(np.shape(x))


def dd_payne(truth: Any, seed: int) -> Table:
    """LAMOST DR DD-Payne-like (Xiang et al. 2019): the §4.1 reference, unbiased but noisy.

    Columns (lower case, our choice for the value-added catalogue's names): ``gaia_source_id``,
    ``teff``/``teff_err`` (σ 50 K), ``logg``/``logg_err`` (0.08), ``feh``/``feh_err`` (0.05),
    ``<x>_fe``/``<x>_fe_err`` for :data:`DD_PAYNE_ELEMENTS` (σ 0.05 dex, 0.07-0.1 for the weak
    or blended), ``snr_g``, ``qflag_chi2`` ("good"/"bad"). Coverage: [X/Fe] NaN above 7000 K.
    Fault: 3 % "bad" fits whose values carry 3× the noise (still given).
    """
    t = _truth(truth, LABELS + ("source_id", "snr_g"))
    rng = streams(seed, _REF_CODES["dd_payne"], 1)[0]
    bad = rng.uniform(size=len(t["Teff"])) < 0.03
    k = np.where(bad, 3.0, 1.0)
    out = Table({"gaia_source_id": t["source_id"].astype(np.int64)})
    for col, label, sigma in (
        ("teff", "Teff", 50.0),
        ("logg", "logg", 0.08),
        ("feh", "[Fe/H]", 0.05),
    ):
        out[col], out[f"{col}_err"] = _noisy(rng, t[label], k * sigma), k * sigma
    for el in DD_PAYNE_ELEMENTS:
        sigma = k * _NOISY.get(el, 0.05)
        value = np.where(t["Teff"] > 7000.0, np.nan, _noisy(rng, t[f"[{el}/Fe]"], sigma))
        out[f"{el.lower()}_fe"], out[f"{el.lower()}_fe_err"] = value, sigma
    out["snr_g"] = t["snr_g"].astype(np.float64)
    out["qflag_chi2"] = np.where(bad, "bad", "good")
    return out


def apogee_dr17(truth: Any, seed: int) -> Table:
    """APOGEE DR17 allStar-like: ``GAIAEDR3_SOURCE_ID``, ``TEFF``/``TEFF_ERR`` (σ 50 K),
    ``LOGG``/``LOGG_ERR`` (0.07), ``FE_H``/``FE_H_ERR`` (0.03), ``<X>_FE``, ``<X>_FE_ERR``,
    ``<X>_FE_FLAG`` for :data:`APOGEE_ELEMENTS` (σ 0.03 dex for Mg Si Ca Ni, 0.05 for most,
    0.07-0.1 for C N Na S V Co Cu Ce), ``ASPCAPFLAG``, ``SNR`` (log-normal, median 150).

    No Sc, Zn, Sr, Y, Zr, Ba, Au, La, Pr, Nd, Sm, Eu. Flags: ``ASPCAPFLAG`` bit 23 (STAR_BAD)
    for stars above 7000 K (the grid's edge) and 2 % at random, all their values NaN;
    ``<X>_FE_FLAG`` bit 2 (value 4) for 3 % per element, the value NaN. Fault: TEFF too low
    above 6000 K, by 0.1 (Teff - 6000) (:data:`APOGEE_HOT_FAULT`).
    """
    t = _truth(truth)
    rng = streams(seed, _REF_CODES["apogee"], 1)[0]
    n = len(t["Teff"])
    star_bad = (t["Teff"] > 7000.0) | (rng.uniform(size=n) < 0.02)
    f = APOGEE_HOT_FAULT
    teff = t["Teff"] - f["slope"] * np.maximum(t["Teff"] - f["above"], 0.0)
    out = Table({"GAIAEDR3_SOURCE_ID": t["source_id"].astype(np.int64)})
    for col, x, sigma in (
        ("TEFF", teff, 50.0),
        ("LOGG", t["logg"], 0.07),
        ("FE_H", t["[Fe/H]"], 0.03),
    ):
        out[col] = np.where(star_bad, np.nan, _noisy(rng, x, sigma))
        out[f"{col}_ERR"] = np.full(n, sigma)
    for el in APOGEE_ELEMENTS:
        sigma = 0.03 if el in ("Mg", "Si", "Ca", "Ni") else _NOISY.get(el, 0.05)
        flag = np.where(rng.uniform(size=n) < 0.03, 4, 0).astype(np.int32)
        value = _noisy(rng, t[f"[{el}/Fe]"], sigma)
        out[f"{el.upper()}_FE"] = np.where(star_bad | (flag > 0), np.nan, value)
        out[f"{el.upper()}_FE_ERR"] = np.full(n, sigma)
        out[f"{el.upper()}_FE_FLAG"] = flag
    out["ASPCAPFLAG"] = np.where(star_bad, np.int64(1) << 23, 0).astype(np.int64)
    out["SNR"] = draw_snr(rng, n, median=150.0) if n else np.zeros(0)
    return out


def galah_dr3(truth: Any, seed: int) -> Table:
    """GALAH DR3-like: ``sobject_id``, ``dr3_source_id``, ``teff``/``e_teff`` (σ 80 K),
    ``logg``/``e_logg`` (0.1), ``fe_h``/``e_fe_h`` (0.06), ``flag_fe_h``, ``flag_sp``,
    ``snr_c1_iraf``, ``snr_c3_iraf`` (the truth's, or drawn from S/N_g), and ``<X>_fe``,
    ``e_<X>_fe``, ``flag_<X>_fe`` (e.g. ``Mg_fe``) for :data:`GALAH_ELEMENTS` (σ 0.06 dex,
    0.07-0.15 for the weak or blended).

    No N, S, Pr or Au. Flags (use ``== 0``): ``flag_X_fe`` 32 = not measured (NaN; weak lines
    of C V Co Cu Zn Sr Zr La Ce Nd Sm Eu above 6000 K, and 5 % at random), 1 = upper limit
    (value given; 3 %); ``flag_sp`` 1 for 2 % (values given). Fault (unflagged): a few hot
    stars with fe_h far too low (:data:`GALAH_HOT_FAULT`: 2 %, above 6500 K, by 0.5-1 dex).
    """
    t = _truth(truth, LABELS + ("source_id", "snr_g"))
    rng = streams(seed, _REF_CODES["galah"], 1)[0]
    n = len(t["Teff"])
    if "snr_c1_iraf" in truth.colnames and "snr_c3_iraf" in truth.colnames:
        c1, c3 = (np.asarray(truth[c], dtype=np.float64) for c in ("snr_c1_iraf", "snr_c3_iraf"))
    else:
        c1, c3 = galah_snr(rng, t["snr_g"])
    out = Table({"sobject_id": 170_000_000_000_000 + rng.choice(10**12, n, replace=False)})
    out["dr3_source_id"] = t["source_id"].astype(np.int64)
    for col, label, sigma in (
        ("teff", "Teff", 80.0),
        ("logg", "logg", 0.1),
        ("fe_h", "[Fe/H]", 0.06),
    ):
        out[col], out[f"e_{col}"] = _noisy(rng, t[label], sigma), np.full(n, sigma)
    f = GALAH_HOT_FAULT
    hot = np.flatnonzero(t["Teff"] > f["teff_min"])
    faulty = rng.permutation(hot)[: min(len(hot), int(round(f["fraction"] * n)))]
    out["fe_h"][faulty] -= rng.uniform(*f["dex"], len(faulty))
    out["flag_fe_h"] = np.zeros(n, dtype=np.int32)
    out["flag_sp"] = np.where(rng.uniform(size=n) < 0.02, 1, 0).astype(np.int32)
    out["snr_c1_iraf"], out["snr_c3_iraf"] = c1, c3
    weak = ("C", "V", "Co", "Cu", "Zn", "Sr", "Zr", "La", "Ce", "Nd", "Sm", "Eu")
    for el in GALAH_ELEMENTS:
        sigma = _NOISY.get(el, 0.06)
        u = rng.uniform(size=n)
        missing = (u < 0.05) | ((t["Teff"] > 6000.0) & (el in weak))
        flag = np.where(missing, 32, np.where(u > 0.97, 1, 0)).astype(np.int32)
        out[f"{el}_fe"] = np.where(missing, np.nan, _noisy(rng, t[f"[{el}/Fe]"], sigma))
        out[f"e_{el}_fe"], out[f"flag_{el}_fe"] = np.where(missing, np.nan, sigma), flag
    return out


def galah_m67(truth: Any, seed: int) -> Table:
    """GALAH DR3-like (:func:`galah_dr3`) for the M67 members GALAH observed: a random
    :data:`phdl.paper.M67_GALAH_COMMON` / :data:`phdl.paper.M67_MEMBERS` of ``truth``'s rows
    (the paper's 77 of 179, §4.3), at least one."""
    from phdl.paper import M67_GALAH_COMMON, M67_MEMBERS

    n = len(truth)
    rng = streams(seed, _REF_CODES["galah"], 2)[1]
    k = min(n, max(1, int(round(n * M67_GALAH_COMMON / M67_MEMBERS))))
    return galah_dr3(truth[np.sort(rng.choice(n, size=k, replace=False))], seed)


#: The Hypatia catalogue's default solar normalization, used by :func:`hypatia_catalog`.
HYPATIA_SOLAR_SCALE: str = "Lodders, Palme & Gail (2009), present-day photosphere"
#: Solar log ε (log N_X/N_H + 12) on that scale, to 0.01 dex as recalled from the source
#: (check them against Lodders et al. 2009 before correcting real Hypatia data with them).
LODDERS_2009: dict[str, float] = {
    "Fe": 7.45, "C": 8.39, "N": 7.86, "O": 8.73, "Na": 6.29, "Mg": 7.54, "Al": 6.46, "Si": 7.53,
    "S": 7.16, "K": 5.12, "Ca": 6.33, "Sc": 3.10, "Ti": 4.90, "V": 4.00, "Cr": 5.64, "Mn": 5.37,
    "Co": 4.92, "Ni": 6.23, "Cu": 4.21, "Zn": 4.62, "Sr": 2.92, "Y": 2.21, "Zr": 2.58, "Ba": 2.18,
    "Au": 0.80, "La": 1.14, "Ce": 1.61, "Pr": 0.76, "Nd": 1.45, "Sm": 1.00, "Eu": 0.52,
}  # fmt: skip
#: Fraction of Hypatia stars with each element measured (Fe, Teff and logg: all).
HYPATIA_COVERAGE: dict[str, float] = {e: 0.9 for e in ELEMENTS}
HYPATIA_COVERAGE.update({"N": 0.4, "S": 0.4, "K": 0.3, "Cu": 0.6, "Zn": 0.6, "Sr": 0.4,
                         "Zr": 0.5, "La": 0.4, "Ce": 0.5, "Pr": 0.1, "Nd": 0.5, "Sm": 0.3,
                         "Eu": 0.5, "Au": 0.02})  # fmt: skip
#: Elements Hypatia measures in at most this many solar twins: those Table 3 takes from GALAH
#: DR3 (Mn Ba La Ce Nd Sm Eu) get HYPATIA_THIN_TWINS, Pr ("none") gets 0.
HYPATIA_THIN_TWINS: int = 4


@functools.cache
def _solar_offset() -> tuple[tuple[str, float], ...]:
    from phdl.synth.atoms import ATOMS  # the engine's solar mixture (loads torch)

    sky = {el: float(ATOMS.log_eps_sun[ATOMS.index(el)]) for el in LODDERS_2009}
    return tuple((el, round(sky[el] - a, 4)) for el, a in LODDERS_2009.items())


def hypatia_solar_offset() -> dict[str, float]:
    """Per element (Fe and the 30), log ε☉(sky) - log ε☉(Lodders 2009) in dex: Hypatia's
    [X/H] = the sky's [X/H] + this offset, so subtract it to return to the sky's scale (the
    engine's Asplund et al. 2009 mixture, :mod:`phdl.synth.atoms`). Also available as the
    module constant ``HYPATIA_SOLAR_OFFSET`` (computed on first use: it loads the engine)."""
    return dict(_solar_offset())


def __getattr__(name: str) -> Any:  # HYPATIA_SOLAR_OFFSET: a constant computed on first use
    if name == "HYPATIA_SOLAR_OFFSET":
        return hypatia_solar_offset()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _near_twin(t: dict[str, np.ndarray]) -> np.ndarray:
    """Stars near the solar-twin box of :mod:`phdl.paper` (widened by 150 K, 0.2, 0.15 dex)."""
    teff, logg, feh = t["Teff"], t["logg"], t["[Fe/H]"]
    ok = (teff > TWIN_TEFF_RANGE[0] - 150) & (teff < TWIN_TEFF_RANGE[1] + 150)
    ok &= (logg > TWIN_LOGG_RANGE[0] - 0.2) & (logg < TWIN_LOGG_RANGE[1] + 0.2)
    return ok & (np.abs(feh) < TWIN_FEH_MAX + 0.15)


def hypatia_catalog(truth: Any, seed: int) -> Table:
    """The Hypatia-like catalogue of the stars of ``truth``: ``source_id``, ``Teff`` (σ 50 K),
    ``logg`` (0.06), ``[Fe/H]`` and ``[X/H]`` for the 30 elements (σ 0.03 dex for Fe Mg Si Ca
    Ti Cr Ni, 0.05 for the rest), on the solar scale :data:`HYPATIA_SOLAR_SCALE`: every
    abundance is shifted by :func:`hypatia_solar_offset` (``HYPATIA_SOLAR_OFFSET``).

    Coverage: each [X/H] measured for a fraction :data:`HYPATIA_COVERAGE` of the stars (NaN
    otherwise); the elements Table 3 takes from GALAH DR3 are measured in at most
    :data:`HYPATIA_THIN_TWINS` stars near the solar-twin box, Pr in none.
    """
    t = _truth(truth)
    rng = streams(seed, _REF_CODES["hypatia"], 1)[0]
    n, off = len(t["Teff"]), hypatia_solar_offset()
    out = Table({"source_id": t["source_id"].astype(np.int64)})
    out["Teff"], out["logg"] = _noisy(rng, t["Teff"], 50.0), _noisy(rng, t["logg"], 0.06)
    out["Teff"].unit = "K"
    out["[Fe/H]"] = _noisy(rng, t["[Fe/H]"], 0.03) + off["Fe"]
    sources = dict(zip(table3()["element"], table3()["source"], strict=True))
    twins = np.flatnonzero(_near_twin(t))
    for el in ELEMENTS:
        sigma = 0.03 if el in ("Mg", "Si", "Ca", "Ti", "Cr", "Ni") else 0.05
        measured = rng.uniform(size=n) < HYPATIA_COVERAGE[el]
        if sources.get(el, "Hypatia") != "Hypatia":
            keep = HYPATIA_THIN_TWINS if sources[el] != "none" else 0
            measured[rng.permutation(twins)[keep:]] = False
        xh = _noisy(rng, t[f"[{el}/Fe]"] + t["[Fe/H]"], sigma) + off[el]
        out[f"[{el}/H]"] = np.where(measured, xh, np.nan)
    return out


def hypatia(n: int, seed: int) -> Table:
    """The Hypatia-like catalogue of its own ``n`` stars: ``hypatia_catalog(hypatia_stars(n,
    seed), seed)`` (:func:`hypatia_stars`, :func:`hypatia_catalog`)."""
    return hypatia_catalog(hypatia_stars(n, seed), seed)


def el_badry(binaries: Any, seed: int) -> Table:
    """El-Badry et al. (2021)-like wide-binary catalogue, one row per pair of ``binaries`` (a
    :func:`phdl.sky.binaries.wide_binaries` table): ``source_id1``, ``source_id2``,
    ``sep_AU`` (the truth's × exp(N(0, 0.05)), parallax errors) and ``R_chance_align``:
    10^N(-3, 0.7) for bound pairs, 10^U(-1.3, 0.3) for chance alignments (so a cut at 0.1
    removes most of them, not all, and a few true pairs)."""
    t = _truth(binaries, ("source_id", "pair_id", "component", "sep_AU"))
    rng = streams(seed, _REF_CODES["el_badry"], 1)[0]
    i1, i2 = pair_rows(binaries, "pair_id", "component")
    bound = np.asarray(binaries["bound"], bool)[i1] if "bound" in binaries.colnames else True
    m = len(i1)
    r = np.where(bound, 10.0 ** rng.normal(-3.0, 0.7, m), 10.0 ** rng.uniform(-1.3, 0.3, m))
    out = Table({"source_id1": t["source_id"][i1].astype(np.int64)})
    out["source_id2"] = t["source_id"][i2].astype(np.int64)
    out["sep_AU"] = t["sep_AU"][i1] * np.exp(rng.normal(0.0, 0.05, m))
    out["sep_AU"].unit = "AU"
    out["R_chance_align"] = r
    return out
