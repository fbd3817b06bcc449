"""Tests for phdl.synth.linelist: built-in list, air/vacuum, VALD and Kurucz readers."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from phdl.synth.linelist import (
    LineList,
    air_to_vacuum,
    read_csv,
    read_kurucz_gfall,
    read_linelist,
    read_vald,
    vacuum_to_air,
)

DATA = Path(__file__).parent / "data"
REQUIRED = (
    "C N O Na Mg Al Si S K Ca Sc Ti V Cr Mn Co Ni Cu Zn Sr Y Zr Ba Au La Ce Pr Nd Sm Eu Fe".split()
)


@pytest.fixture(scope="module")
def builtin() -> LineList:
    return read_csv()


def _nearest(lst: LineList, species: str, wl: float) -> int:
    names = np.array(lst.species_names())
    idx = np.flatnonzero(names == species)
    assert idx.size, f"no {species} lines"
    return int(idx[np.argmin(np.abs(lst.wavelength[idx] - wl))])


def test_builtin_size_range_and_order(builtin: LineList) -> None:
    wl = builtin.wavelength
    assert len(builtin) >= 500
    assert wl.min() >= 3750.0 and wl.max() <= 9000.0
    assert np.all(np.diff(wl) >= 0.0)
    assert np.all(np.isfinite(builtin.loggf)) and np.all(np.isfinite(builtin.excitation))
    assert np.all(builtin.excitation >= 0.0) and np.all(builtin.excitation < 15.0)
    assert set(np.unique(builtin.ion)) <= {0, 1}


def test_builtin_elements_and_iron_share(builtin: LineList) -> None:
    elements = {name.split()[0] for name in builtin.species_names()}
    missing = [el for el in REQUIRED if el not in elements]
    assert not missing, f"elements without lines: {missing}"
    assert "H" not in elements
    fe_share = np.mean(builtin.Z == 26)
    assert 0.3 <= fe_share <= 0.42


def test_builtin_no_duplicates(builtin: LineList) -> None:
    keys = list(zip(builtin.species_names(), np.round(builtin.wavelength, 3), strict=True))
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize(
    "species,wl_vac",
    [
        ("Na I", 5891.58),
        ("Na I", 5897.56),
        ("Ca II", 3934.777),
        ("Ca II", 3969.591),
        ("Ca I", 4227.918),
        ("Mg I", 5168.76),
        ("Mg I", 5174.13),
        ("Mg I", 5185.05),
        ("Ca II", 8500.36),
        ("Ca II", 8544.44),
        ("Ca II", 8664.52),
        ("Sr II", 4078.86),
        ("Sr II", 4216.71),
        ("Ba II", 4555.31),
        ("Ba II", 6143.41),
        ("Eu II", 4130.89),
        ("Eu II", 6646.94),
        ("K I", 7667.01),
        ("O I", 7774.08),
        ("Mn I", 4031.89),
        ("Al I", 3945.12),
        ("Zn I", 4811.87),
        ("Cu I", 5106.96),
    ],
)
def test_builtin_classic_lines_vacuum(builtin: LineList, species: str, wl_vac: float) -> None:
    i = _nearest(builtin, species, wl_vac)
    assert abs(builtin.wavelength[i] - wl_vac) < 0.05


def test_builtin_damping_and_select(builtin: LineList) -> None:
    i = _nearest(builtin, "Na I", 5891.58)
    assert builtin.log_gamma_vdw[i] == pytest.approx(-7.526)
    assert np.isnan(builtin.log_gamma_rad[i])
    vdw = builtin.log_gamma_vdw[np.isfinite(builtin.log_gamma_vdw)]
    assert vdw.size > 100 and np.all((vdw > -9.0) & (vdw < -5.0))
    sub = builtin.select(builtin.Z == 20)
    assert len(sub) > 10 and set(n.split()[0] for n in sub.species_names()) == {"Ca"}


def test_air_vacuum_round_trip_and_known_value() -> None:
    air = np.linspace(3000.0, 11000.0, 2001)
    assert np.max(np.abs(vacuum_to_air(air_to_vacuum(air)) - air)) < 1e-6
    assert float(air_to_vacuum(np.array([5889.95]))[0]) == pytest.approx(5891.58, abs=0.01)
    assert float(vacuum_to_air(np.array([6564.61]))[0]) == pytest.approx(6562.80, abs=0.01)
    assert float(air_to_vacuum(np.array([1500.0]))[0]) == 1500.0


def test_read_vald_short_stellar() -> None:
    with pytest.warns(UserWarning, match="1 molecular"):
        lst = read_vald(DATA / "vald_short_sample.vald")
    assert len(lst) == 4
    names = lst.species_names()
    assert names == ["Ca II", "Fe I", "Na I", "Ba II"]
    fe = names.index("Fe I")
    assert lst.wavelength[fe] == pytest.approx(air_to_vacuum(np.array([5001.8633]))[0])
    assert lst.wavelength[fe] - 5001.8633 == pytest.approx(1.395, abs=0.01)
    assert lst.excitation[fe] == pytest.approx(3.8816)
    assert lst.loggf[fe] == pytest.approx(-0.010)
    assert lst.log_gamma_rad[fe] == pytest.approx(8.140)
    assert lst.log_gamma_stark[fe] == pytest.approx(-5.510)
    assert lst.log_gamma_vdw[fe] == pytest.approx(-7.210)
    ca = names.index("Ca II")
    assert np.isnan(lst.log_gamma_vdw[ca])  # packed ABO sigma.alpha -> unknown
    na = names.index("Na I")
    assert lst.wavelength[na] == pytest.approx(5891.58, abs=0.01)


def test_read_vald_medium_from_parameter(tmp_path: Path) -> None:
    text = "'Fe 1',  5001.8633,   3.8816,  1.0, -0.010, 8.140,-5.510,-7.210, 0.0, 0.1, 'x'\n"
    path = tmp_path / "bare.vald"
    path.write_text(text)
    vac = read_vald(path, air=False)
    assert vac.wavelength[0] == pytest.approx(5001.8633)
    assert read_vald(path).wavelength[0] == pytest.approx(5003.258, abs=0.01)


def test_read_kurucz_gfall() -> None:
    with pytest.warns(UserWarning, match="1 molecular"):
        lst = read_kurucz_gfall(DATA / "gfall_sample.dat")
    assert len(lst) == 4
    assert lst.species_names() == ["Fe I", "Na I", "Ba II", "Ca I"]
    na = 1
    assert lst.wavelength[na] == pytest.approx(5891.58, abs=0.01)  # 588.9950 nm air
    assert lst.excitation[na] == pytest.approx(0.0)  # min(E1, E2)
    ba = 2
    assert lst.Z[ba] == 56 and lst.ion[ba] == 1
    assert lst.excitation[ba] == pytest.approx(5674.807 / 8065.544, abs=1e-4)
    assert lst.loggf[ba] == pytest.approx(-0.077)
    assert lst.log_gamma_rad[ba] == pytest.approx(8.20)
    assert lst.log_gamma_vdw[ba] == pytest.approx(-7.47)
    assert np.isnan(lst.log_gamma_rad[3])  # 0.00 means unknown
    assert lst.log_gamma_stark[3] == pytest.approx(-5.32)


def test_read_linelist_dispatch(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(read_linelist(DATA / "gfall_sample.dat")) == 4
        assert len(read_linelist(DATA / "vald_short_sample.vald")) == 4
    assert len(read_linelist(Path(__file__).parents[1] / "phdl" / "data" / "linelist.csv")) >= 500
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\n")
    with pytest.raises(ValueError, match="junk.txt"):
        read_linelist(junk)


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError, match="nope.vald"):
        read_vald("nope.vald")


def test_bad_rows_name_line_and_field(tmp_path: Path) -> None:
    lines = (DATA / "gfall_sample.dat").read_text().splitlines()
    lines[3] = lines[3][:11] + " -x.077" + lines[3][18:]
    bad = tmp_path / "gfall_bad.dat"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"gfall_bad.dat:4: .*'loggf'"):
        read_kurucz_gfall(bad)
    csv_bad = tmp_path / "bad.csv"
    csv_bad.write_text(
        "wavelength,species,excitation,loggf,log_gamma_rad,log_gamma_stark,log_gamma_vdw,source\n"
        "5000.0,Fe I,1.0,-1.0,,,,x\n5001.0,Fe I,abc,-1.0,,,,x\n"
    )
    with pytest.raises(ValueError, match=r"bad.csv:3: .*'excitation'"):
        read_csv(csv_bad)
    vald_bad = tmp_path / "bad.vald"
    vald_bad.write_text("'Fe 1',  5001.8633,   3.88x6,  1.0, -0.010, 8.140,-5.510,-7.210, 0.0\n")
    with pytest.raises(ValueError, match=r"bad.vald:1: .*'excit'"):
        read_vald(vald_bad)
