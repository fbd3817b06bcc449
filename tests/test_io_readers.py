"""phdl.io's catalogue readers on small files written in the real published layouts: open-cluster
membership lists (Cantat-Gaudin 2018/2020, Hunt & Reffert 2023), El-Badry et al. (2021) wide
binaries, the LAMOST LRS catalogue → manifest → ``phdl catalog``'s inputs, and APOGEE DR17 /
GALAH DR3 files through :func:`phdl.io.surveys.standardize`."""

from __future__ import annotations

import gzip
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from phdl.calibrate.catalogs import crossmatch
from phdl.catalog.inputs import header_ids, resolve
from phdl.io import read_el_badry, read_lamost_catalog, read_members, spec_filename, specid
from phdl.io.lamost_catalog import write_manifest
from phdl.io.members import source_ids
from phdl.io.surveys import standardize

M67 = [604918594976748672, 604918599272123904, 604918629336868992, 604920313009727104]
NGC188 = [573943296671652864, 573943296671652992]


def _fits(table: Table, path: Path, extra: Table | None = None) -> Path:
    """``table`` as HDU 1 of a FITS file (``extra`` as HDU 2), as the surveys publish them."""
    hdus = [fits.PrimaryHDU(), fits.BinTableHDU(table)]
    if extra is not None:
        hdus.append(fits.BinTableHDU(extra))
    fits.HDUList(hdus).writeto(path)
    return path


# ------------------------------------------------------------------ membership lists
def _cantat_gaudin_2018() -> Table:
    """VizieR J/A+A/618/A93 ``members``: DR2 ``Source``, ``PMemb``, ``Cluster`` (two clusters)."""
    return Table({
        "RA_ICRS": [132.846, 132.851, 132.860, 132.9, 11.8, 11.9],
        "DE_ICRS": [11.81, 11.82, 11.83, 11.9, 85.2, 85.3],
        "Source": np.array(M67 + NGC188, dtype=np.int64),
        "Plx": [1.13, 1.15, 1.14, 1.12, 0.5, 0.5], "Gmag": [12.1, 13.4, 14.0, 16.2, 13.0, 14.0],
        "PMemb": [1.0, 0.7, 0.5, 0.3, 1.0, 0.9],
        "Cluster": ["NGC_2682"] * 4 + ["NGC_188"] * 2,
    })  # fmt: skip


def test_cantat_gaudin_fits_gives_the_m67_members_above_the_cut(tmp_path):
    path = _fits(_cantat_gaudin_2018(), tmp_path / "members.fits")
    members = read_members(path, cluster="NGC_2682")
    assert list(members["source_id"]) == M67[:3]  # PMemb 1.0, 0.7, 0.5 (>= 0.5); not 0.3
    assert members["source_id"].dtype == np.int64
    assert list(members["prob"]) == [1.0, 0.7, 0.5]
    assert np.allclose(members["ra"], [132.846, 132.851, 132.860])
    assert np.allclose(members["dec"], [11.81, 11.82, 11.83])
    assert members.meta["GAIA_DR"] == "DR2" and members.meta["ID_COLUMN"] == "Source"
    for name in ("M67", "ngc 2682", "NGC2682"):  # the same cluster, spelled otherwise
        assert list(read_members(path, cluster=name)["source_id"]) == M67[:3]
    assert list(read_members(path, cluster="M67", min_prob=0.6)["source_id"]) == M67[:2]


def test_a_list_of_several_clusters_needs_a_cluster_and_a_known_one(tmp_path):
    path = _fits(_cantat_gaudin_2018(), tmp_path / "members.fits")
    with pytest.raises(ValueError, match=r"2 clusters.*NGC_2682.*cluster="):
        read_members(path)
    with pytest.raises(ValueError, match=r"'NGC_752' is not in column 'Cluster'.*NGC_188") as e:
        read_members(path, cluster="NGC_752")
    assert str(path) in str(e.value)


def test_cantat_gaudin_2020_csv_with_proba_and_one_cluster(tmp_path):
    path = tmp_path / "cg2020.csv"
    probs = (0.9, 0.8, 0.6, 0.4)
    lines = [f"{i},132.8,11.8,{p},NGC_2682\n" for i, p in zip(M67, probs, strict=True)]
    path.write_text("GaiaDR2,RA_ICRS,DE_ICRS,proba,Cluster\n" + "".join(lines))
    members = read_members(path, min_prob=0.7)
    assert list(members["source_id"]) == M67[:2] and list(members["prob"]) == [0.9, 0.8]
    assert members.meta["GAIA_DR"] == "DR2"


def test_hunt_reffert_2023_dr3_ids_and_a_repeated_star(tmp_path):
    path = tmp_path / "hr23.csv"
    rows = [("NGC_2682", M67[0], 0.95), ("NGC_2682", M67[1], 0.55), ("NGC_2682", M67[1], 0.85),
            ("NGC_2682", M67[2], 0.2), ("Melotte_22", NGC188[0], 1.0)]  # fmt: skip
    path.write_text("Name,GaiaDR3,Prob\n" + "".join(f"{n},{i},{p}\n" for n, i, p in rows))
    members = read_members(path, cluster="M67")
    assert list(members["source_id"]) == M67[:2]
    assert list(members["prob"]) == [0.95, 0.85]  # the repeated star keeps its higher prob
    assert "ra" not in members.colnames and members.meta["GAIA_DR"] == "DR3"


def test_a_plain_list_of_source_ids_is_all_members(tmp_path):
    path = tmp_path / "m67.txt"
    path.write_text("source_id\n" + "".join(f"{i}\n" for i in M67))
    members = read_members(path)
    assert list(members["source_id"]) == M67 and np.all(members["prob"] == 1.0)
    assert members.meta["GAIA_DR"] == "unknown"
    import pandas as pd  # a DataFrame is read as a table

    assert list(read_members(pd.DataFrame({"GaiaDR3": M67[:2]}))["source_id"]) == M67[:2]


def test_membership_errors_name_the_file_and_what_is_wrong(tmp_path):
    no_id = tmp_path / "no_id.csv"
    no_id.write_text("ra,dec,PMemb\n1.0,2.0,0.9\n")
    with pytest.raises(ValueError, match=r"no_id.csv has no Gaia id column.*GaiaDR3.*Source"):
        read_members(no_id)
    weak = tmp_path / "weak.csv"
    weak.write_text("source_id,PMemb\n" + "".join(f"{i},0.2\n" for i in M67))
    with pytest.raises(ValueError, match=r"weak.csv: no member with PMemb >= 0.5.*highest.*0.2"):
        read_members(weak)
    percent = tmp_path / "percent.csv"
    percent.write_text("source_id,Prob\n" + "".join(f"{i},80\n" for i in M67))
    with pytest.raises(ValueError, match="outside 0–1"):
        read_members(percent)
    with pytest.raises(FileNotFoundError, match="nowhere.fits"):
        read_members(tmp_path / "nowhere.fits")
    with pytest.raises(ValueError, match="min_prob"):
        read_members(weak, min_prob=50)
    with pytest.raises(ValueError, match="no cluster column"):
        read_members(weak, cluster="M67")


def test_source_ids_of_text_masked_and_float_columns():
    ids = source_ids(np.array(["Gaia DR3 604918594976748672", "", "-9999", " 12 "]), "x")
    assert list(ids) == [604918594976748672, -1, -1, 12]
    masked = np.ma.MaskedArray([5, 6, 0], mask=[False, True, False])
    assert list(source_ids(masked, "x")) == [5, -1, -1]
    with pytest.raises(ValueError, match="x: Gaia ids stored as floating point"):
        source_ids(np.array([6.04918594976748672e17]), "x")


# ------------------------------------------------------------------ wide binaries
def _el_badry() -> Table:
    """El-Badry et al. (2021) layout: component columns suffixed 1 and 2, sep_AU, R_chance_align."""
    n = 4
    t = Table({
        "solution_id1": np.full(n, 1636148068921376768, dtype=np.int64),
        "source_id1": np.array([11, 21, 31, 41], dtype=np.int64) * 10**15,
        "ra1": [10.0, 20.0, 30.0, 40.0], "dec1": [1.0, 2.0, 3.0, 4.0],
        "parallax1": [5.0, 3.0, 2.0, 10.0],
        "source_id2": np.array([12, 22, 32, 42], dtype=np.int64) * 10**15,
        "ra2": [10.001, 20.001, 30.001, 40.001], "dec2": [1.0, 2.0, 3.0, 4.0],
        "parallax2": [5.1, 2.9, 2.0, 9.9], "pairdistance": [1e-3, 2e-3, 5e-4, 1e-4],
        "sep_AU": [720.0, 2400.0, 900.0, 36.0],
        "binary_type": ["MSMS", "MSMS", "WDMS", "MSMS"],
        "R_chance_align": [1e-4, 0.3, 0.05, np.nan],
    })  # fmt: skip
    t["phot_g_mean_mag_both"] = np.zeros((n, 2))  # a vector column must not matter
    return t


def test_el_badry_fits_keeps_the_bound_pairs_and_every_column(tmp_path):
    path = _fits(_el_badry(), tmp_path / "all_columns_catalog.fits")
    pairs = read_el_badry(path)
    assert list(pairs["source_id1"]) == [11 * 10**15, 31 * 10**15]  # R 1e-4 and 0.05 < 0.1
    assert list(pairs["source_id2"]) == [12 * 10**15, 32 * 10**15]
    assert pairs["source_id1"].dtype == pairs["source_id2"].dtype == np.int64
    assert list(pairs["pair_id"]) == [0, 1] and pairs.colnames[0] == "pair_id"
    assert list(pairs["sep_AU"]) == [720.0, 900.0] and str(pairs["sep_AU"].unit) == "AU"
    assert list(pairs["binary_type"]) == ["MSMS", "WDMS"] and list(pairs["parallax2"]) == [5.1, 2.0]
    assert pairs.meta["CHANCE_CUT"] == "R_chance_align < 0.1"
    assert len(read_el_badry(path, max_chance_align=0.5)) == 3  # NaN never passes


def test_el_badry_pairs_join_our_labels_through_pair_table(tmp_path):
    from phdl.calibrate import pair_table

    pairs = read_el_badry(_fits(_el_badry(), tmp_path / "eb.fits"))
    ids = [11, 12, 31, 32, 99]
    ours = Table({"source_id": np.array(ids, dtype=np.int64) * 10**15,
                  "Teff": [5000.0, 5100.0, 6000.0, 6100.0, 4000.0]})  # fmt: skip
    survey = Table({"source_id": ours["source_id"], "snr_g": [80.0, 60.0, 90.0, 70.0, 10.0]})
    long = pair_table(ours, pairs, survey)
    assert list(long["pair_id"]) == [0, 0, 1, 1] and list(long["component"]) == [1, 2, 1, 2]
    assert list(long["Teff"]) == [5000.0, 5100.0, 6000.0, 6100.0]


def test_el_badry_errors_and_a_catalogue_without_the_chance_column(tmp_path):
    table = _el_badry()
    table.rename_column("source_id1", "SOURCE_ID1")  # any case is accepted ...
    del table["R_chance_align"]
    pairs = read_el_badry(table)
    assert len(pairs) == 4 and pairs.meta["CHANCE_CUT"].startswith("none")
    assert "SOURCE_ID1" in table.colnames  # ... and the caller's table is left alone
    del table["source_id2"], table["phot_g_mean_mag_both"]  # (CSV holds no vector column)
    path = tmp_path / "pairs.csv"
    table.write(path)
    with pytest.raises(ValueError, match=r"pairs.csv has no column 'source_id2'"):
        read_el_badry(path)
    with pytest.raises(ValueError, match=r"no pair with R_chance_align < 1e-05"):
        read_el_badry(_el_badry(), max_chance_align=1e-5)
    with pytest.raises(ValueError, match="max_chance_align"):
        read_el_badry(_el_badry(), max_chance_align=0.0)


# ------------------------------------------------------------------ LAMOST catalogue
def _lrs(upper: bool = False) -> Table:
    """The LAMOST LRS stellar-parameter catalogue's layout: five spectra, the first star twice,
    one spectrum without a Gaia id (LAMOST writes -9999)."""
    t = Table({
        "obsid": np.array([101, 102, 103, 104, 105], dtype=np.int64),
        "designation": ["J085123.04+114905.1", "J085124.55+114712.3", "J085123.04+114905.1",
                        "J000001.00+000001.0", "J000002.00+000002.0"],
        "obsdate": ["2016-11-04", "2016-11-04", "2018-01-20", "2012-02-01", "2012-02-01"],
        "lmjd": np.array([57697, 57697, 58139, 55959, 55959], dtype=np.int32),
        "planid": ["HD085131N113445B01", "HD085131N113445B01", "M67F2", "F5902", "F5902"],
        "spid": np.array([7, 7, 12, 1, 1], dtype=np.int16),
        "fiberid": np.array([128, 9, 250, 1, 2], dtype=np.int16),
        "ra": [132.846, 132.85229, 132.84601, 0.00417, 0.00833],
        "dec": [11.81808, 11.78675, 11.81808, 0.00028, 0.00056],
        "snrg": [85.0, 40.0, 120.0, 60.0, 55.0],
        "teff": [5800.0, 6100.0, 5790.0, 4800.0, 5000.0],
        "gaia_source_id": np.array([M67[0], M67[1], M67[0], -9999, 7], dtype=np.int64),
    })  # fmt: skip
    if upper:
        for name in t.colnames:
            t.rename_column(name, name.upper())
    return t


SPECIDS = ["2016-11-04-HD085131N113445B01-7-128", "2016-11-04-HD085131N113445B01-7-9",
           "2018-01-20-M67F2-12-250", "2012-02-01-F5902-1-1", "2012-02-01-F5902-1-2"]  # fmt: skip
FILES = ["spec-57697-HD085131N113445B01_sp07-128.fits",
         "spec-57697-HD085131N113445B01_sp07-009.fits", "spec-58139-M67F2_sp12-250.fits",
         "spec-55959-F5902_sp01-001.fits", "spec-55959-F5902_sp01-002.fits"]  # fmt: skip


def test_specid_and_file_name_formats():
    assert specid("2016-11-04", "HD085131N113445B01", 7, 128) == SPECIDS[0]
    assert specid(b"2012-02-01", np.str_("F5902 "), np.int16(1), 2.0) == SPECIDS[4]
    assert spec_filename(55859, "F5902", 1, 1) == "spec-55859-F5902_sp01-001.fits"
    assert spec_filename(57697, "HD1", 16, 250, gz=True) == "spec-57697-HD1_sp16-250.fits.gz"
    with pytest.raises(ValueError, match="SPECID needs"):
        specid("2016-11-04", None, 7, 128)


@pytest.mark.parametrize("fmt", ["fits", "csv-upper"])
def test_lamost_catalogue_gives_table4_identifiers(tmp_path, fmt):
    path = tmp_path / ("dr9_v2.0_LRS_stellar.fits" if fmt == "fits" else "dr9_LRS.csv")
    _fits(_lrs(), path) if fmt == "fits" else _lrs(upper=True).write(path)
    cat = read_lamost_catalog(path)
    assert list(cat["SPECID"]) == SPECIDS and list(cat["path"]) == FILES
    assert list(cat["SOURCEID"]) == [M67[0], M67[1], M67[0], -1, 7]
    assert list(cat["UQFLAG"]) == [2, 1, 2, 1, 1]  # the first star twice; row 4 by designation
    assert list(cat["snr_rank"]) == [2, 1, 1, 1, 1]  # its 120 S/N visit ranks first
    assert np.allclose(cat["RA"], _lrs()["ra"]) and str(cat["DEC"].unit) == "deg"
    assert list(cat["snrg"]) == [85.0, 40.0, 120.0, 60.0, 55.0]
    assert list(cat["obsid"]) == [101, 102, 103, 104, 105]
    kept = read_lamost_catalog(path, min_snr=50)  # the paper's S/N > 50
    assert list(kept["SPECID"]) == [SPECIDS[i] for i in (0, 2, 3, 4)]
    assert list(kept["UQFLAG"]) == [2, 2, 1, 1]


def test_lamost_catalogue_errors_name_the_file_and_columns(tmp_path):
    table = _lrs()
    del table["snrg"], table["fiberid"]
    path = _fits(table, tmp_path / "cut.fits")
    with pytest.raises(ValueError, match=r"cut.fits lacks the LAMOST LRS catalogue column\(s\) "
                                         r"fiberid, snrg"):  # fmt: skip
        read_lamost_catalog(path)
    with pytest.raises(ValueError, match=r"no spectrum with snrg > 500.*highest is 120"):
        read_lamost_catalog(_lrs(), min_snr=500)
    with pytest.raises(FileNotFoundError, match="missing.fits"):
        read_lamost_catalog(tmp_path / "missing.fits")


def _spectrum(path: Path, row) -> Path:
    """A tiny DR8-layout LAMOST spectrum whose header carries the row's identifiers."""
    head = fits.Header()
    for key in ("obsdate", "planid", "spid", "fiberid", "RA", "DEC"):
        value = row[key]
        head[key.upper()] = value.item() if hasattr(value, "item") else value
    wl = 3700.0 * 10 ** (1e-4 * np.arange(50))
    arrays = (("FLUX", np.ones(50)), ("IVAR", np.ones(50)), ("WAVELENGTH", wl))
    cols = [fits.Column(name=n, format="50D", array=a[None]) for n, a in arrays]
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([fits.PrimaryHDU(header=head), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    return path


def test_manifest_from_the_catalogue_is_what_phdl_catalog_reads(tmp_path):
    cat = read_lamost_catalog(_lrs(), min_snr=50)  # rows 0, 2, 3, 4
    spectra = tmp_path / "lamost"
    _spectrum(spectra / cat["path"][0], cat[0])  # flat
    _spectrum(spectra / "20180120" / "M67F2" / cat["path"][1], cat[1])  # LAMOST's archive layout
    plain = _spectrum(tmp_path / "plain.fits", cat[2])
    (spectra / (cat["path"][2] + ".gz")).write_bytes(gzip.compress(plain.read_bytes()))
    manifest = tmp_path / "run" / "stars.csv"  # its folder is made
    with pytest.raises(FileNotFoundError, match=r"1 of 4 spectra.*spec-55959-F5902_sp01-002"):
        write_manifest(cat, manifest, spectra)
    assert not manifest.exists()
    written = write_manifest(cat, manifest, spectra, missing="skip")
    assert list(written["SPECID"]) == [SPECIDS[i] for i in (0, 2, 3)]
    text = manifest.read_text().splitlines()
    assert text[0] == "path,RA,DEC,SOURCEID,SPECID,UQFLAG,snrg"
    assert text[1].startswith("../lamost/spec-57697-")  # relative to the manifest's folder
    inputs = resolve(manifest)
    assert inputs.kind == "fits" and inputs.n == 3
    want = [spectra / FILES[0], spectra / "20180120/M67F2" / FILES[2], spectra / (FILES[3] + ".gz")]
    assert [Path(f).resolve() for f in inputs.files] == [p.resolve() for p in want]
    assert list(inputs.ids["SOURCEID"]) == [M67[0], M67[0], -1]
    assert list(inputs.ids["UQFLAG"]) == [2, 2, 1]
    assert list(inputs.ids["SPECID"]) == [SPECIDS[i] for i in (0, 2, 3)]
    assert np.allclose(inputs.ids["RA"], cat["RA"][:3])
    # one SPECID implementation: a header gives the catalogue's SPECID
    assert [header_ids(Path(f))["SPECID"] for f in inputs.files[:2]] == [SPECIDS[0], SPECIDS[2]]
    with pytest.raises(FileNotFoundError, match="spectra folder"):
        write_manifest(cat, manifest, tmp_path / "none")
    with pytest.raises(ValueError, match="no spectrum to write"):
        write_manifest(cat[:0], manifest, spectra)


# ------------------------------------------------------------------ surveys from files
def _allstar() -> Table:
    """APOGEE DR17 allStar (HDU 1): upper-case names, flags, a vector column (FPARAM)."""
    n = 4
    t = Table({
        "APOGEE_ID": ["2M08512280+1148016", "2M08512898+1150330", "2M08513577+1153347",
                      "2M08514234+1154089"],
        "TEFF": np.float32([5750.0, 4800.0, 6100.0, 5000.0]),
        "LOGG": np.float32([4.4, 2.5, 4.1, 3.6]),
        "FE_H": np.float32([0.02, -0.01, 0.05, 0.0]), "FE_H_FLAG": np.int32([0, 0, 0, 2]),
        "MG_FE": np.float32([0.01, 0.05, -0.02, 0.03]), "MG_FE_FLAG": np.int32([0, 4, 0, 0]),
        "ASPCAPFLAG": np.array([0, 0, 1 << 23, 0], dtype=np.uint64),
        "SNR": np.float32([150.0, 300.0, 90.0, 60.0]),
        "GAIAEDR3_SOURCE_ID": np.array(M67, dtype=np.int64),
    })  # fmt: skip
    t["FPARAM"] = np.zeros((n, 9), dtype=np.float32)
    return t


def _galah() -> Table:
    """GALAH DR3 (GALAH_DR3_main_allstar): lower-case names, ``Mg_fe``, integer flags."""
    return Table({
        "sobject_id": np.array([131216001101059, 131216001101060, 140209005201151]),
        "dr3_source_id": np.array([M67[0], M67[2], NGC188[0]], dtype=np.int64),
        "teff": [5760.0, 6080.0, 4500.0], "logg": [4.35, 4.05, 2.4],
        "fe_h": [0.03, 0.01, -0.2], "flag_sp": np.int32([0, 0, 1]),
        "flag_fe_h": np.int32([0, 1, 0]),
        "Mg_fe": [0.02, -0.05, 0.2], "flag_Mg_fe": np.int32([0, 0, 0]),
        "snr_c1_iraf": [45.0, 60.0, 20.0], "snr_c3_iraf": [80.0, 95.0, 40.0],
    })  # fmt: skip


def test_apogee_allstar_file_reads_with_its_flags(tmp_path):
    path = _fits(_allstar(), tmp_path / "allStar-dr17-synspec_rev1.fits",
                 extra=Table({"PARAM_SYMBOL": ["TEFF", "LOGG"]}))  # fmt: skip
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="hdu= was not specified")
        apogee = standardize(path, "apogee")
    assert list(apogee["source_id"]) == M67
    assert np.allclose(apogee["Teff"], [5750.0, 4800.0, np.nan, 5000.0], equal_nan=True)
    assert np.allclose(apogee["[Fe/H]"], [0.02, -0.01, np.nan, np.nan], equal_nan=True)
    assert np.allclose(apogee["[Mg/Fe]"], [0.01, np.nan, np.nan, 0.03], equal_nan=True)
    assert list(apogee["snr"]) == [150.0, 300.0, 90.0, 60.0]
    broken = _allstar()
    del broken["LOGG"]
    with pytest.raises(ValueError, match="apogee catalogue has no column 'LOGG'"):
        standardize(_fits(broken, tmp_path / "broken.fits"), "apogee")


@pytest.mark.parametrize("suffix", [".fits", ".csv"])
def test_galah_dr3_file_reads_with_its_flags(tmp_path, suffix):
    path = tmp_path / f"GALAH_DR3_main_allstar_v2{suffix}"
    if suffix == ".fits":
        _fits(_galah(), path)
    else:
        _galah().write(path)
    galah = standardize(path, "galah")
    assert list(galah["source_id"]) == [M67[0], M67[2], NGC188[0]]
    assert np.allclose(galah["Teff"], [5760.0, 6080.0, np.nan], equal_nan=True)  # flag_sp
    assert np.allclose(galah["[Fe/H]"], [0.03, np.nan, np.nan], equal_nan=True)  # flag_fe_h
    assert np.allclose(galah["[Mg/Fe]"], [0.02, -0.05, np.nan], equal_nan=True)
    assert list(galah["snr_c3_iraf"]) == [80.0, 95.0, 40.0]


def test_members_cross_match_the_galah_file_and_no_overlap_is_named(tmp_path):
    path = _fits(_cantat_gaudin_2018(), tmp_path / "members.fits")
    galah = standardize(_fits(_galah(), tmp_path / "galah.fits"), "galah")
    members = read_members(path, cluster="M67", min_prob=0.0)
    ours, ref = crossmatch(members, galah, [], catalogs=("members", "galah"))
    assert list(ours["source_id"]) == list(ref["source_id"]) == [M67[0], M67[2]]
    assert np.allclose(ref["[Mg/Fe]"], [0.02, -0.05])
    others = read_members(path, cluster="NGC_188")[1:]  # not in the GALAH file
    with pytest.raises(ValueError, match=r"no star in common.*'members' and 'galah'"):
        crossmatch(others, galah, [], catalogs=("members", "galah"))


def test_reading_catalogues_does_not_import_torch():
    code = ("import sys; from phdl.io import read_members, read_el_badry, read_lamost_catalog, "
            "standardize, write_manifest; print('torch' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
