"""Tests for phdl.synth.linelist: built-in list, air/vacuum, the VALD, Kurucz gfall and MOOG
readers (on small files in the real published layouts, tests/data/linelists/README.md), and the
precise errors every entry point gives."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from phdl.synth import Physics
from phdl.synth.atoms import ATOMS
from phdl.synth.damping import log_gamma_vdw_from_abo
from phdl.synth.linelist import (
    LineList,
    MolecularLines,
    air_to_vacuum,
    linelist_format,
    read_csv,
    read_kurucz_gfall,
    read_linelist,
    read_moog,
    read_moog_all,
    read_vald,
    vacuum_to_air,
)

DATA = Path(__file__).parent / "data"
LL = DATA / "linelists"
REQUIRED = (
    "C N O Na Mg Al Si S K Ca Sc Ti V Cr Mn Co Ni Cu Zn Sr Y Zr Ba Au La Ce Pr Nd Sm Eu Fe".split()
)


@pytest.fixture(scope="module")
def builtin() -> LineList:
    return read_csv()


def _mass(z: int) -> float:
    """The engine's mass [amu] of element ``z``."""
    return float(ATOMS.mass[ATOMS.index_of_z(z)])


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
    # 266.223, a packed ABO sigma.alpha: phdl.synth.damping's width, matched at 5,000 K
    assert lst.log_gamma_vdw[ca] == pytest.approx(log_gamma_vdw_from_abo(266.223, _mass(20)))
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
    with pytest.warns(UserWarning, match=r"1 molecular line\(s\) \(C2 1\)"):
        lst = read_kurucz_gfall(LL / "gfall_air_sample.dat")
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
        assert len(read_linelist(LL / "gfall_air_sample.dat")) == 4
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
    lines = (LL / "gfall_air_sample.dat").read_text().splitlines()
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


# --- Kurucz gfall: hyperfine and isotope fractions, the 159-column variant, cut records --------

# Ba isotopic composition (atom fractions), NIST "Atomic Weights and Isotopic Compositions"
BA_ISOTOPES = {130: 0.00106, 132: 0.00101, 134: 0.02417, 135: 0.06592, 136: 0.07854,
               137: 0.11232, 138: 0.71698}  # fmt: skip


def test_gfall_hyperfine_and_isotope_fractions_ba6141() -> None:
    """Kurucz's 23 components of Ba II 6141.7 (gfallvac08oct17) sum back to the un-split line.

    Each record repeats the whole line's log gf (-0.030); without the hyperfine and isotope
    log fractions the 23 would sum to -0.030 + log10(23) = +1.33, the issue's 1.33 dex."""
    lst = read_kurucz_gfall(LL / "gfallvac08oct17_ba6141.dat")
    assert len(lst) == 23 and set(lst.species_names()) == {"Ba II"}
    assert np.allclose(lst.wavelength, 6143.41, atol=0.02)  # gfallvac: vacuum, not converted
    assert lst.loggf[0] == pytest.approx(-0.030 - 1.234 - 0.950)  # 137Ba, F=3 component
    i138 = int(np.argmin(np.abs(lst.wavelength - 6143.413)))
    assert lst.loggf[i138] == pytest.approx(-0.030 - 0.144)  # 138Ba, no hyperfine structure
    total = np.log10(np.sum(10.0**lst.loggf))
    # the isotope fractions are NIST's to 0.005 dex, except Kurucz's 134Ba record, which has
    # -1.167 where 2.417 % is -1.617: it adds 4.4 % (0.019 dex) to the sum
    assert total == pytest.approx(-0.030 + np.log10(1.0 + 10**-1.167 - BA_ISOTOPES[134]), abs=2e-3)
    assert abs(total - -0.030) < 0.025
    assert np.log10(BA_ISOTOPES[137]) == pytest.approx(-0.950, abs=0.005)
    assert np.log10(BA_ISOTOPES[138]) == pytest.approx(-0.144, abs=0.005)


def test_gfall_159_column_variant() -> None:
    """gfallvac08oct17 writes wavelengths above 1000 nm as F10.4: 159 characters per record."""
    path = LL / "gfallvac08oct17_159col.dat"
    assert {len(r) for r in path.read_text().splitlines() if r} == {159}
    lst = read_kurucz_gfall(path)
    assert lst.species_names() == ["Be II", "Cr II", "Co I", "Ba I"]
    assert lst.wavelength[0] == pytest.approx(72320.699)  # vacuum (file name), nm -> A
    assert lst.loggf[0] == pytest.approx(-0.826)
    assert lst.excitation[0] == pytest.approx(140020.580 / 8065.543937)
    assert lst.log_gamma_rad[0] == pytest.approx(7.93)
    assert lst.log_gamma_stark[1] == pytest.approx(-5.25)
    assert lst.log_gamma_vdw[3] == pytest.approx(-6.67)
    assert lst.loggf[2] == pytest.approx(-2.971 - 1.776)  # 59Co hyperfine component


def _same(a: LineList, b: LineList) -> None:
    for name in LineList.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


def test_gfall_159_and_160_columns_agree(tmp_path: Path) -> None:
    rows = (LL / "gfallvac08oct17_159col.dat").read_text().splitlines()
    wide = tmp_path / "gfallvac_160.dat"
    wide.write_text("\n".join(" " + r if r else r for r in rows) + "\n")
    _same(read_kurucz_gfall(LL / "gfallvac08oct17_159col.dat"), read_kurucz_gfall(wide))
    # a 159-character record may also have lost its last column (the isotope shift, unused)
    full = (LL / "gfallvac08oct17_ba6141.dat").read_text().splitlines()
    narrow = tmp_path / "gfallvac_trailing.dat"
    narrow.write_text("\n".join(r[:159] for r in full) + "\n")
    _same(read_kurucz_gfall(LL / "gfallvac08oct17_ba6141.dat"), read_kurucz_gfall(narrow))


def test_gfall_short_and_cut_records(tmp_path: Path) -> None:
    rows = (LL / "gfallvac08oct17_ba6141.dat").read_text().splitlines()
    short = tmp_path / "gfallvac_short.dat"  # Fortran reads blanks past column 98 as zeros
    short.write_text("\n".join([rows[0][:98], rows[1][:106], rows[2]]) + "\n")
    assert read_kurucz_gfall(short).loggf[:2] == pytest.approx([-0.030, -0.030])
    cut = tmp_path / "gfallvac_cut.dat"
    cut.write_text("\n".join(rows[:22] + [rows[22][:112]]))
    with pytest.raises(ValueError, match=r"gfallvac_cut.dat:23: .*'hyperfine_log_fraction'"):
        read_kurucz_gfall(cut)
    cut.write_text("\n".join(rows[:22] + [rows[22][:90]]))
    with pytest.raises(ValueError, match=r"gfallvac_cut.dat:23: .*too short"):
        read_kurucz_gfall(cut)
    bad = tmp_path / "gfallvac_bad.dat"
    bad.write_text("\n".join(rows[:4] + [rows[4][:110] + "x" + rows[4][111:]] + rows[5:]))
    with pytest.raises(ValueError, match=r"gfallvac_bad.dat:5: .*'hyperfine_log_fraction'"):
        read_kurucz_gfall(bad)
    bad.write_text(rows[0][:3] + "xxxx" + rows[0][7:])
    with pytest.raises(ValueError, match=r"gfallvac_bad.dat:1: .*'wavelength'"):
        read_kurucz_gfall(bad)


# --- VALD: no record dropped without a word ----------------------------------------------------


def _vald_with(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (DATA / "vald_short_sample.vald").read_text()
    assert old in text
    out = tmp_path / name
    out.write_text(text.replace(old, new))
    return out


def test_vald_garbled_wavelength_raises(tmp_path: Path) -> None:
    bad = _vald_with(tmp_path, "garbled.vald", "5001.8633", "5O01.8633")
    with pytest.raises(ValueError, match=r"garbled.vald:5: bad value for field 'wl'"):
        read_vald(bad)


def test_vald_record_cut_off_raises(tmp_path: Path) -> None:
    text = (DATA / "vald_short_sample.vald").read_text().splitlines()
    for cut_at, why in ((60, "numeric fields"), (110, "reference")):
        bad = tmp_path / f"cut{cut_at}.vald"
        bad.write_text("\n".join(text[:4] + [text[4][:cut_at]]))  # the file ends mid-record
        with pytest.raises(ValueError, match=rf"cut{cut_at}.vald:5: .*{why}"):
            read_vald(bad)


def test_vald_unknown_species_raises(tmp_path: Path) -> None:
    bad = _vald_with(tmp_path, "species.vald", "'Fe 1',", "'Fx 1',")
    with pytest.raises(ValueError, match=r"species.vald:5: .*'species'.*Fx 1"):
        read_vald(bad)


def test_vald_long_format_and_its_cut(tmp_path: Path) -> None:
    good = LL / "vald_long_stellar.vald"
    lst = read_vald(good)  # the model and abundance lines after the record are not records
    assert lst.species_names() == ["Ti I"]
    assert lst.wavelength[0] == pytest.approx(5000.1235)  # WL_vac: not converted
    assert lst.loggf[0] == pytest.approx(-0.760) and lst.excitation[0] == pytest.approx(3.1124)
    assert lst.log_gamma_rad[0] == pytest.approx(7.970)
    assert lst.log_gamma_stark[0] == pytest.approx(-5.260)
    assert lst.log_gamma_vdw[0] == pytest.approx(-7.540)
    cut = tmp_path / "long_cut.vald"
    cut.write_text("\n".join(good.read_text().splitlines()[:5]))
    with pytest.raises(ValueError, match=r"long_cut.vald:4: .*3 following lines"):
        read_vald(cut)


# --- precise errors through every entry point --------------------------------------------------


def _bad_files(tmp_path: Path) -> list[tuple[Path, str]]:
    gf = (LL / "gfall_air_sample.dat").read_text().splitlines()
    gf[3] = gf[3][:11] + " -x.077" + gf[3][18:]
    gfall = tmp_path / "gfall_bad.dat"
    gfall.write_text("\n".join(gf) + "\n")
    moog = tmp_path / "moog_bad.list"
    moog.write_text((LL / "vald_moog_sample.list").read_text().replace(" 5889.9510", " 5889.95l0"))
    vald = _vald_with(tmp_path, "vald_bad.vald", "5001.8633", "5O01.8633")
    return [
        (gfall, r"gfall_bad.dat:4: bad value for field 'loggf'"),
        (moog, r"moog_bad.list:18: bad value for field 'wavelength'"),
        (vald, r"vald_bad.vald:5: bad value for field 'wl'"),
    ]


def test_read_linelist_surfaces_the_readers_error(tmp_path: Path) -> None:
    for path, msg in _bad_files(tmp_path):
        with pytest.raises(ValueError, match=msg):
            read_linelist(path)


def test_physics_linelist_surfaces_the_readers_error(tmp_path: Path) -> None:
    for path, msg in _bad_files(tmp_path):
        with pytest.raises(ValueError, match=msg):
            Physics(linelist=str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # validation reads quietly; the Synthesizer warns
        assert Physics(linelist=str(LL / "gfall_air_sample.dat")).linelist is not None


def test_linelist_format() -> None:
    assert linelist_format(LL / "gfall_air_sample.dat") == "gfall"
    assert linelist_format(LL / "gfallvac08oct17_159col.dat") == "gfall"
    assert linelist_format(LL / "vald_moog_sample.list") == "moog"
    assert linelist_format(DATA / "vald_short_sample.vald") == "vald"
    assert linelist_format(Path(__file__).parents[1] / "phdl" / "data" / "linelist.csv") == "csv"


def test_read_linelist_cache_repeats_warnings_and_is_read_only() -> None:
    for _ in range(2):
        with pytest.warns(UserWarning, match="1 molecular"):
            lst = read_linelist(LL / "gfall_air_sample.dat")
    with pytest.raises(ValueError, match="read-only"):
        lst.loggf[0] = 0.0


def test_read_csv_species(tmp_path: Path) -> None:
    head = (
        "wavelength,species,excitation,loggf,log_gamma_rad,log_gamma_stark,log_gamma_vdw,source\n"
    )
    ok = tmp_path / "mol.csv"
    ok.write_text(head + "5000.0,Fe I,1.0,-1.0,,,,x\n4300.0,CH,0.1,-2.0,,,,x\n")
    with pytest.warns(UserWarning, match=r"1 molecular line\(s\) \(CH 1\)"):
        assert len(read_csv(ok)) == 1
    bad = tmp_path / "sp.csv"
    bad.write_text(head + "5000.0,Fe I,1.0,-1.0,,,,x\n5001.0,Xq I,1.0,-1.0,,,,x\n")
    with pytest.raises(ValueError, match=r"sp.csv:3: .*'species'"):
        read_csv(bad)


# --- MOOG ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moog() -> tuple[LineList, MolecularLines]:
    with pytest.warns(UserWarning, match=r"2 line\(s\) of molecules the engine does not know"):
        return read_moog_all(LL / "vald_moog_sample.list")


def test_moog_atoms_air_to_vacuum(moog: tuple[LineList, MolecularLines]) -> None:
    atoms = moog[0]
    names = atoms.species_names()
    assert len(atoms) == 11
    assert sorted(set(names)) == ["Ba II", "Ca II", "Ce II", "Fe I", "Fe II", "H I", "Na I"]
    # pymoog's VALD list gives AIR wavelengths: Na D2 5889.951 -> 5891.583 vacuum (NIST),
    # H-alpha 6562.797 -> 6564.61, Ca II 8542.09 -> 8544.44
    for species, vac in (("Na I", 5891.583), ("H I", 6564.61), ("Ca II", 8544.44)):
        i = _nearest(atoms, species, vac)
        assert atoms.wavelength[i] == pytest.approx(vac, abs=0.01)
    ba = _nearest(atoms, "Ba II", 6143.41)
    assert atoms.loggf[ba] == pytest.approx(-0.076) and atoms.excitation[ba] == pytest.approx(0.704)
    # 365.264: a packed ABO sigma.alpha, converted (tests/test_damping.py checks the numbers)
    assert atoms.log_gamma_vdw[ba] == pytest.approx(log_gamma_vdw_from_abo(365.264, _mass(56)))
    fe = _nearest(atoms, "Fe I", air_to_vacuum(np.array([4309.713]))[0])
    assert atoms.log_gamma_vdw[fe] == pytest.approx(-7.390)  # negative: log gamma
    assert np.all(np.isnan(atoms.log_gamma_rad)) and np.all(np.isnan(atoms.log_gamma_stark))


def test_moog_molecules(moog: tuple[LineList, MolecularLines]) -> None:
    from phdl.synth.molecules import band_lines

    mols = moog[1]
    counts = {n: mols.names().count(n) for n in set(mols.names())}
    assert counts == {"OH": 2, "CO": 1, "CN": 2, "CH": 2, "MgH": 1, "TiO": 2, "C2": 1}
    assert np.all(np.diff(mols.wavelength) >= 0)
    ch13 = int(np.argmin(np.abs(mols.wavelength - air_to_vacuum(np.array([4277.293]))[0])))
    assert mols.names()[ch13] == "CH" and mols.loggf[ch13] == pytest.approx(-2.892)
    assert mols.dissociation[ch13] == pytest.approx(3.507)
    mgh = mols.names().index("MgH")
    assert mols.excitation[mgh] == pytest.approx(0.575) and mols.loggf[mgh] == pytest.approx(-1.511)
    bands = mols.as_bands(5000.0, 7000.0)
    assert set(bands) == set(band_lines(5000.0, 5100.0))  # the engine's band-line layout
    assert sorted(bands["wavelength"]) == pytest.approx([5161.6415, 6143.3289, 6143.4469], abs=1e-3)


def test_read_moog_counts_molecules_per_species() -> None:
    with pytest.warns(UserWarning, match=r"13 molecular line\(s\) .*SiH 2.*not model SiH 2"):
        atoms = read_moog(LL / "vald_moog_sample.list")
    assert len(atoms) == 11
    with pytest.warns(UserWarning, match="13 molecular"):
        assert len(read_linelist(LL / "vald_moog_sample.list")) == 11


def test_moog_bad_records(tmp_path: Path) -> None:
    rows = (LL / "vald_moog_sample.list").read_text().splitlines()
    bad = tmp_path / "moog.list"
    bad.write_text("\n".join(rows[:-1] + [rows[-1][:37]]))  # cut inside log gf
    with pytest.raises(ValueError, match=r"moog.list:25: .*ends inside field 'loggf'"):
        read_moog(bad)
    bad.write_text("\n".join(rows[:3] + [rows[3][:30]] + rows[4:]))
    with pytest.raises(ValueError, match=r"moog.list:4: missing value for field 'loggf'"):
        read_moog(bad)
    bad.write_text("\n".join(rows[:5] + [rows[5][:10] + "  26.0x000" + rows[5][20:]] + rows[6:]))
    with pytest.raises(ValueError, match=r"moog.list:6: bad value for field 'species'"):
        read_moog(bad)


def test_moog_free_format_damping_and_isotopes(tmp_path: Path) -> None:
    path = tmp_path / "free.moog"
    path.write_text(
        "free-format MOOG list\n"
        "6141.713 56.1135 0.704 -0.5 -7.47 0 0\n"  # isotope 135: ion from the first decimal
        "10001.29 14.1 6.08 -2.91 3.0e-30 0 0\n"  # C6 [cm^6 s^-1]
        "5000.0 26.0 1.0 -1.0 2.5e-8 0 0\n"  # gamma itself
        "5001.0 26.0 1.0 -1.0 2.5 0 0\n"  # a factor on Unsold: unknown here
        "\n# a comment\n"
        "4300.0 106.0 0.5 -3.0 0 3.465 0\n"
    )
    with pytest.warns(UserWarning, match=r"1 molecular line\(s\) \(CH 1\)"):
        lst = read_moog(path, air=False)
    assert lst.species_names() == ["Fe I", "Fe I", "Ba II", "Si II"]
    assert lst.wavelength[2] == pytest.approx(6141.713)
    assert lst.log_gamma_vdw[2] == pytest.approx(-7.47)
    assert lst.log_gamma_vdw[0] == pytest.approx(np.log10(2.5e-8))
    assert np.isnan(lst.log_gamma_vdw[1])
    # Unsold/Lindholm: gamma = 17 v^0.6 C6^0.4, v the mean Si-H relative speed at 10^4 K
    k_b, amu = 1.380649e-16, 1.66053907e-24
    v = np.sqrt(8 * k_b * 1e4 / (np.pi * amu) * (1 / 28.086 + 1 / 1.008))
    assert lst.log_gamma_vdw[3] == pytest.approx(np.log10(17 * v**0.6 * 3.0e-30**0.4), abs=1e-3)
    assert -8.0 < lst.log_gamma_vdw[3] < -6.5
    _, mols = read_moog_all(path, air=False)
    assert mols.names() == ["CH"] and mols.dissociation[0] == pytest.approx(3.465)


def test_moog_first_line_is_never_a_record(tmp_path: Path) -> None:
    rows = (LL / "vald_moog_sample.list").read_text().splitlines()
    path = tmp_path / "noheader.list"
    path.write_text("\n".join(rows[1:]) + "\n")
    with pytest.warns(UserWarning, match="SiH 2"):
        with pytest.warns(UserWarning, match=r"noheader.list:1: looks like a line record"):
            atoms, mols = read_moog_all(path)
    assert len(atoms) + len(mols) == 21  # the 3110.226 OH record on line 1 is not read
