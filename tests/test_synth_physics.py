"""Physics of the engine: lines sit where they should and respond to labels as real lines do."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from phdl import labels as L
from phdl.synth import Physics, Synthesizer

VACUUM = {  # strongest component, vacuum Å
    "Ca II K": 3934.777, "H delta": 4102.89, "H beta": 4862.68, "Mg b2": 5174.13,
    "Mg b1": 5185.05, "Na D2": 5891.58, "H alpha": 6564.61, "Ca II 8500": 8500.36,
    "Ca II 8544": 8544.44, "Ca II 8664": 8664.52,
}  # fmt: skip


def _depth(wl, flux, centre, half=3.0):
    m = np.abs(wl - centre) < half
    return 1.0 - flux[m].min()


@pytest.mark.parametrize("name", list(VACUUM))
def test_line_minima_at_vacuum_wavelengths(syn, solar_spectrum, name):
    flux, _ = solar_spectrum
    wl = syn.wavelength
    centre = VACUUM[name]
    m = np.abs(wl - centre) < 3.0
    i = np.argmin(np.where(m, flux, np.inf))
    assert abs(wl[i] - centre) <= 1.5, f"{name}: minimum at {wl[i]:.2f}, expected {centre}"
    assert flux[i] < 0.9, f"{name} is too weak ({flux[i]:.2f})"


@pytest.fixture(scope="module")
def hot_cool(syn):
    return syn(np.array([L.solar(6500.0, 4.5), L.solar(4500.0, 4.5)]))


def test_h_alpha_deeper_in_hotter_star(syn, hot_cool):
    hot, cool = hot_cool
    assert _depth(syn.wavelength, hot, 6564.61) > _depth(syn.wavelength, cool, 6564.61) + 0.1


@pytest.mark.parametrize("centre", [5174.13, 5891.58], ids=["Mg b", "Na D"])
def test_metal_lines_deeper_in_cooler_star(syn, hot_cool, centre):
    hot, cool = hot_cool
    assert _depth(syn.wavelength, cool, centre) > _depth(syn.wavelength, hot, centre) + 0.1


def test_mg_abundance_dominates_mg_b(syn, solar_spectrum):
    """Raising [Mg/Fe] deepens Mg b more than raising any other label (0.2 dex for abundances,
    5 % of the range for Teff, logg and vmic)."""
    _, g = solar_spectrum
    wl = syn.wavelength
    window = np.zeros(wl.size, bool)
    for c in (5168.76, 5174.13, 5185.05):
        window |= np.abs(wl - c) < 1.5
    step = np.array([0.05 * (L.UPPER[i] - L.LOWER[i]) if i < 3 else 0.2 for i in range(34)])
    deepening = -g[:, window].mean(1) * step
    mg = L.index("[Mg/Fe]")
    assert deepening[mg] > 0
    others = np.delete(deepening, mg)
    assert deepening[mg] > others.max(), L.LABELS[int(np.argmax(deepening))]


def test_g_band_deepens_with_carbon(syn, solar_spectrum):
    _, g = solar_spectrum
    band = (syn.wavelength > 4290) & (syn.wavelength < 4320)
    assert g[L.index("[C/Fe]"), band].mean() < -1e-3


def test_normalized_flux_near_one_in_line_poor_windows(syn, solar_spectrum):
    flux, _ = solar_spectrum
    for lo, hi in [(6040.0, 6060.0), (7400.0, 7450.0)]:
        m = (syn.wavelength > lo) & (syn.wavelength < hi)
        assert abs(np.median(flux[m]) - 1.0) < 0.02, (lo, hi, np.median(flux[m]))


IONIZED = {"Sr II": 4078.86, "Ba II": 4555.31, "Ti II": 4502.53, "Fe II": 4925.30}
NEUTRAL = {"Ti I": 4983.12, "Cr I": 4709.34}


@pytest.fixture(scope="module")
def weak_line_engine(tmp_path_factory):
    """An engine with a few well-separated lines, weakened by 2 dex (the weak-line regime)."""
    from phdl.synth.linelist import read_csv  # noqa: F401  (built-in list must load)

    path = tmp_path_factory.mktemp("lines") / "weak.csv"
    pick = {**IONIZED, **NEUTRAL}
    with open(_builtin(), newline="") as fh:
        rows = [
            r
            for r in csv.DictReader(fh)
            if r["species"] in pick and abs(float(r["wavelength"]) - pick[r["species"]]) < 0.05
        ]
    assert len(rows) == len(pick)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([dict(r, loggf=f"{float(r['loggf']) - 2.0:.3f}") for r in rows])
    return Synthesizer(Physics(linelist=str(path), balmer=False, molecules=False), compile=False)


def _builtin():
    from pathlib import Path

    return str(Path(__file__).resolve().parents[1] / "phdl" / "data" / "linelist.csv")


def test_ionized_lines_respond_more_to_logg(weak_line_engine):
    """d ln EW / d logg: ionized (majority-species) lines weaken with gravity, neutral
    minority-species lines barely move - the classical gravity diagnostic."""
    syn = weak_line_engine
    flux, g = syn(L.solar()[None], with_gradients=True)
    wl, f, dg = syn.wavelength, flux[0], g[0, L.index("logg")]

    def response(centre):
        m = np.abs(wl - centre) < 4.0
        return -dg[m].sum() / (1.0 - f[m]).sum()

    ion = {k: response(v) for k, v in IONIZED.items()}
    neu = {k: response(v) for k, v in NEUTRAL.items()}
    assert all(r < 0 for r in ion.values()), ion
    assert min(abs(r) for r in ion.values()) > max(abs(r) for r in neu.values()), (ion, neu)
