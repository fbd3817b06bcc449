"""phdl.synth.solar: equivalent widths and the Lick G4300 index on profiles of known analytic
equivalent width, the solar reference table's integrity, and the issue 14 targets on the engine's
default physics (strict xfails where the engine misses a target today: they flip when fixed)."""

from __future__ import annotations

import numpy as np
import pytest

from phdl import labels as L
from phdl.synth import Physics
from phdl.synth import solar as S
from phdl.synth.linelist import air_to_vacuum

WL = np.arange(4000.0, 4600.0, 0.01)  # Å, fine enough for the trapezoid to be exact to ~1e-8


def _gauss(wl, centre, area, sigma):
    """Absorption of equivalent width ``area`` [Å]: area * normal pdf."""
    return area * np.exp(-0.5 * ((wl - centre) / sigma) ** 2) / (sigma * np.sqrt(2.0 * np.pi))


# ----------------------------------------------------------------------------- measurement


def test_gaussian_line_has_its_area_as_equivalent_width():
    flux = 1.0 - _gauss(WL, 4300.0, 0.25, 0.8)
    assert S.equivalent_width(WL, flux, (4290.0, 4310.0)) == pytest.approx(250.0, rel=1e-6)
    # half a symmetric line over half the window
    assert S.equivalent_width(WL, flux, (4290.0, 4300.0)) == pytest.approx(125.0, rel=1e-6)


def test_black_box_line_and_window_ends_between_pixels():
    flux = np.where((WL >= 4300.0) & (WL < 4302.0), 0.0, 1.0)  # a 2 Å wide black line
    assert S.equivalent_width(WL, flux, (4295.0, 4305.0)) == pytest.approx(2000.0, abs=10.0)
    # a linear 1 - F is integrated exactly, whatever the window's ends fall on
    ramp = 1.0 - 0.001 * (WL - 4000.0)
    lo, hi = 4100.004, 4200.0073
    exact = 1000.0 * 0.001 * ((hi - 4000.0) ** 2 - (lo - 4000.0) ** 2) / 2.0
    assert S.equivalent_width(WL, ramp, (lo, hi)) == pytest.approx(exact, rel=1e-10)


def test_equivalent_width_is_conserved_by_a_line_spread_of_unit_area():
    flux = 1.0 - _gauss(WL, 4300.0, 0.4, 0.05)  # narrow line
    step = WL[1] - WL[0]
    k = np.arange(-600, 601) * step
    for fwhm in (0.5, 2.4):  # R ~ 8600 and R = 1800 at 4300 Å
        lsf = np.exp(-0.5 * (k / (fwhm / 2.3548)) ** 2)
        blurred = 1.0 - np.convolve(1.0 - flux, lsf / lsf.sum(), mode="same")
        assert S.equivalent_width(WL, blurred, (4280.0, 4320.0)) == pytest.approx(400.0, rel=1e-4)
        assert S.line_depth(WL, blurred, (4290.0, 4310.0)) < S.line_depth(WL, flux, (4290, 4310))


def test_continuum_divides_out():
    cont = 2.0 + 0.003 * (WL - 4300.0)  # sloped, not normalized
    flux = cont * (1.0 - _gauss(WL, 4300.0, 0.3, 1.0))
    assert S.equivalent_width(WL, flux, (4280.0, 4320.0), cont) == pytest.approx(300.0, rel=1e-6)
    assert S.line_depth(WL, flux, (4290.0, 4310.0), cont) == pytest.approx(
        0.3 / np.sqrt(2.0 * np.pi), rel=1e-6
    )


def test_bad_input_is_named():
    flux = np.ones_like(WL)
    with pytest.raises(ValueError, match="outside the spectrum"):
        S.equivalent_width(WL, flux, (3990.0, 4010.0))
    with pytest.raises(ValueError, match="lo < hi"):
        S.equivalent_width(WL, flux, (4310.0, 4300.0))
    with pytest.raises(ValueError, match="shape of wavelength"):
        S.equivalent_width(WL, flux[:-1], (4300.0, 4310.0))
    with pytest.raises(ValueError, match="increasing"):
        S.equivalent_width(WL[::-1], flux, (4300.0, 4310.0))
    with pytest.raises(ValueError, match="holds no pixel"):
        S.line_depth(WL, flux, (4300.0011, 4300.0012))


def test_lick_index_on_a_sloped_continuum_returns_the_line_area():
    cont = 1.0 - 0.002 * (WL - 4300.0)
    flux = cont * (1.0 - _gauss(WL, 4300.0, 1.5, 2.0))
    idx = S.lick_index(WL, flux, (4280.0, 4320.0), (4240.0, 4260.0), (4340.0, 4360.0))
    assert idx == pytest.approx(1.5, rel=1e-4)  # the line's wings beyond ±10 sigma: < 1e-20
    assert np.allclose(S.pseudo_continuum(WL, cont, (4240.0, 4260.0), (4340.0, 4360.0)), cont)


def test_g4300_bands_are_worthey_air_converted_to_vacuum():
    assert S.G4300_AIR["band"] == (4281.375, 4316.375)
    assert S.G4300_AIR["blue"] == (4266.375, 4282.625)
    assert S.G4300_AIR["red"] == (4318.875, 4335.125)
    for key, air in S.G4300_AIR.items():
        vac = S.G4300_VACUUM[key]
        assert np.allclose(vac, air_to_vacuum(np.array(air)))
        assert all(1.1 < v - a < 1.3 for v, a in zip(vac, air, strict=True))  # ~1.2 Å at 4300 Å


def test_g4300_of_a_box_band_and_the_air_vacuum_shift():
    lo, hi = S.G4300_VACUUM["band"]
    blue_end = S.G4300_VACUUM["blue"][1]  # the blue pseudo-continuum overlaps the band by 1.25 Å
    depth = 0.2
    flux = np.where((WL >= blue_end) & (WL <= hi), 1.0 - depth, 1.0)
    assert S.g4300(WL, flux) == pytest.approx(depth * (hi - blue_end), abs=0.01)  # 6.75 Å
    # over the whole band, the overlap lowers the blue pseudo-continuum and so the index
    box = np.where((WL >= lo) & (WL <= hi), 1.0 - depth, 1.0)
    assert 6.7 < S.g4300(WL, box) < depth * (hi - lo) - 0.2
    # a black line 1 Å wide just below the vacuum band's red end is counted in full; it lies
    # beyond the air band's red end (4316.375 Å), so air bands would have missed it
    line = np.where((WL >= hi - 1.05) & (WL < hi - 0.05), 0.0, 1.0)
    assert hi - 1.05 > S.G4300_AIR["band"][1]
    assert S.g4300(WL, line) == pytest.approx(1.0, abs=0.02)


def test_without_removes_one_species():
    p = Physics(loggf_offsets={"Fe I": -0.05})
    q = S.without(p, "Na I")
    assert q.loggf_offsets == {"Fe I": -0.05, "Na I": -30.0} and q.balmer
    assert not S.without(p, "H I").balmer and S.without(p, "H I").loggf_offsets == {"Fe I": -0.05}


def test_unnormalized_is_the_flux_before_normalization(syn):
    x = L.solar()[None]
    raw = syn.unnormalized(x)
    import torch

    with torch.no_grad():
        again = (torch.as_tensor(raw) / syn.instrument.running_mean(torch.as_tensor(raw))).numpy()
    assert np.allclose(again, syn(x), rtol=1e-12, atol=1e-12)


def test_engine_bands_name_the_molecules_in_a_window():
    assert S.engine_bands(S.MOLECULAR_BANDS["TiO 7054"]) == ["TiO 7057"]
    assert "MgH 5187" in S.engine_bands(S.MOLECULAR_BANDS["MgH 5100-5200"])


# ----------------------------------------------------------------------------- reference data

ISSUE_LINES = {  # the lines issue 14 names, with approximate air wavelengths [Å]
    "Ca II K": 3933.7, "Ca I 4227": 4226.7, "Hbeta": 4861.3, "Mg b4 5167": 5167.3,
    "Mg b2 5173": 5172.7, "Mg b1 5184": 5183.6, "Na D2 5890": 5890.0, "Na D1 5896": 5895.9,
    "Halpha": 6562.8, "Ca II 8498": 8498.0, "Ca II 8542": 8542.1, "Ca II 8662": 8662.1,
}  # fmt: skip


def test_solar_table_covers_the_issue_lines_with_sources_and_units():
    by_name = {line.name: line for line in S.SOLAR_LINES}
    assert set(by_name) == set(ISSUE_LINES) and len(by_name) == len(S.SOLAR_LINES)
    for name, wl in ISSUE_LINES.items():
        line = by_name[name]
        assert abs(line.wl_air - wl) < 0.2, name
        assert line.window[0] < line.wl_air < line.window[1]
        assert line.window_vacuum[0] < line.wl_vacuum < line.window_vacuum[1]
        assert 1.0 < line.wl_vacuum - line.wl_air < 2.5  # air -> vacuum applied
        assert line.source
        if line.ew_sun is None:
            assert "no published value found" in line.source
        else:  # mÅ: strong lines of 0.5 to 5 Å
            assert isinstance(line.ew_sun, float) and 500.0 <= line.ew_sun <= 5000.0, name
            assert "Moore" in line.source and "nbsmonograph61" in line.source
            assert "71e850d7f59ca48c83408e4cbd0357b9d8730472" in line.source
    assert by_name["Ca II K"].ew_sun is None  # not found in any stored source: left out
    assert S.SOLAR_G4300 is None and "no published value found" in S.SOLAR_G4300_SOURCE


def test_solar_table_is_physically_ordered():
    """The Sun's own ordering, a check on the typing: b1 > b2 > b4 (Mg I 5183/5172/5167, the
    last a blend), D2 > D1 (gf ratio 2), and 8542 > 8662 > 8498 in the Ca II triplet."""
    ew = {line.name: line.ew_sun for line in S.SOLAR_LINES}
    assert ew["Mg b1 5184"] > ew["Mg b2 5173"] > ew["Mg b4 5167"]
    assert ew["Na D2 5890"] > ew["Na D1 5896"]
    assert ew["Ca II 8542"] > ew["Ca II 8662"] > ew["Ca II 8498"]
    assert ew["Halpha"] > ew["Hbeta"]


def test_windows_do_not_overlap_between_neighbours():
    lines = sorted(S.SOLAR_LINES, key=lambda line: line.wl_air)
    for a, b in zip(lines[:-1], lines[1:], strict=True):
        assert a.window[1] <= b.window[0] + 1e-9, (a.name, b.name)


# ----------------------------------------------------------------------------- issue 14 targets

# engine/Sun on default physics, as measured (benchmarks/bench_solar.py); a line listed here is a
# strict xfail: it flips to a failure (remove it from here) once the engine meets the target
MISSES = {
    "Ca I 4227": "2213 mÅ (1.50)", "Hbeta": "5085 mÅ (1.38)", "Mg b4 5167": "1260 mÅ (1.35)",
    "Mg b2 5173": "1712 mÅ (1.36)", "Mg b1 5184": "2333 mÅ (1.47)",
    "Na D2 5890": "1086 mÅ (1.44)", "Na D1 5896": "838 mÅ (1.49)", "Halpha": "5062 mÅ (1.26)",
    "Ca II 8498": "970 mÅ (0.66)", "Ca II 8542": "2703 mÅ (0.74)", "Ca II 8662": "2092 mÅ (0.80)",
}  # fmt: skip


def _target_param(line):
    if line.name in MISSES:
        reason = f"issue 14: measured {MISSES[line.name]}, target {line.ew_sun:.0f} mÅ ± 15 %"
        return pytest.param(line, id=line.name,
                            marks=pytest.mark.xfail(strict=True, reason=reason))  # fmt: skip
    return pytest.param(line, id=line.name)


@pytest.fixture(scope="module")
def default_ews():
    return S.own_line_ews(Physics())


@pytest.mark.parametrize("line", [_target_param(x) for x in S.SOLAR_LINES if x.ew_sun])
def test_solar_ew_within_15_percent(default_ews, line):
    ew = default_ews[line.name]["ew"]
    assert abs(ew / line.ew_sun - 1.0) <= 0.15, f"{line.name}: {ew:.0f} vs {line.ew_sun:.0f} mÅ"


def test_8542_is_the_deepest_of_the_triplet(default_ews):
    depths = {name: default_ews[name]["spectrum_depth"] for name in S.TRIPLET}
    assert max(depths, key=depths.get) == "Ca II 8542", depths


def test_solar_g4300_within_30_percent():
    if S.SOLAR_G4300 is None:
        pytest.skip("issue 14: no sourced observed solar G4300 (phdl.synth.solar.SOLAR_G4300); "
                    "the engine's default gives -1.17 Å (benchmarks/bench_solar.py)")  # fmt: skip
    index = S.g4300_of(Physics())["raw"]
    assert abs(index / S.SOLAR_G4300 - 1.0) <= 0.30, index
