"""phdl.io: the survey tables' flags and inputs (:func:`phdl.io.surveys.standardize`), the
LAMOST reader's header redshift and warning locations, and the lazy names of ``phdl.io``
(PEP 562 ``__getattr__`` / ``__dir__``). Small hand-made tables; every test calls the reader."""

from __future__ import annotations

import importlib
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.table import MaskedColumn, Table

import phdl.io
from phdl.fit import ResampleWarning
from phdl.io import lamost
from phdl.io.lamost import LamostWarning, read_lamost, read_lamost_file
from phdl.io.surveys import STAR_BAD, standardize

IDS = [604918594976748672, 604918599272123904, 604918629336868992]


# ------------------------------------------------------------------ survey tables
def _apogee(**extra) -> Table:
    t = Table({
        "GAIAEDR3_SOURCE_ID": np.array(IDS, dtype=np.int64),
        "TEFF": [5750.0, 4800.0, 6100.0], "LOGG": [4.4, 2.5, 4.1], "FE_H": [0.02, -0.01, 0.05],
        "MG_FE": [0.01, 0.05, -0.02],
    })  # fmt: skip
    for k, v in extra.items():
        t[k] = v
    return t


def _galah(**extra) -> Table:
    t = Table({
        "dr3_source_id": np.array(IDS, dtype=np.int64),
        "teff": [5760.0, 6080.0, 4500.0], "logg": [4.35, 4.05, 2.4], "fe_h": [0.03, 0.01, -0.2],
        "Mg_fe": [0.02, -0.05, 0.2],
    })  # fmt: skip
    for k, v in extra.items():
        t[k] = v
    return t


def _dd_payne(**extra) -> Table:
    t = Table({
        "gaia_source_id": np.array(IDS, dtype=np.int64),
        "teff": [5700.0, 4900.0, 6000.0], "logg": [4.5, 2.6, 4.0], "feh": [0.0, -0.1, 0.1],
        "mg_fe": [0.05, 0.1, 0.0],
    })  # fmt: skip
    for k, v in extra.items():
        t[k] = v
    return t


def _hypatia(**extra) -> Table:
    t = Table({
        "source_id": np.array(IDS, dtype=np.int64),
        "Teff": [5770.0, 5600.0, 6050.0], "logg": [4.44, 4.3, 4.2], "[Fe/H]": [0.0, -0.2, 0.1],
        "[Mg/H]": [0.1, -0.1, 0.1],
    })  # fmt: skip
    for k, v in extra.items():
        t[k] = v
    return t


def test_dd_payne_qflag_chi2_not_good_masks_the_whole_star():
    """``qflag_chi2 != "good"`` (blank-padded "good" is good) masks every value of the star."""
    t = _dd_payne(qflag_chi2=["good", "bad", "good  "])
    out = standardize(t, "dd_payne")
    nan = np.nan
    assert list(out["source_id"]) == IDS
    assert np.allclose(out["Teff"], [5700.0, nan, 6000.0], equal_nan=True)
    assert np.allclose(out["logg"], [4.5, nan, 4.0], equal_nan=True)
    assert np.allclose(out["[Fe/H]"], [0.0, nan, 0.1], equal_nan=True)
    assert np.allclose(out["[Mg/Fe]"], [0.05, nan, 0.0], equal_nan=True)


# A star flag of another survey, set on every star: each survey reads only its own.
FOREIGN = {
    "qflag_chi2": ["bad", "bad", "bad"],
    "ASPCAPFLAG": np.full(3, 1 << STAR_BAD, dtype=np.int64),
    "flag_sp": np.ones(3, dtype=np.int32),
}
TABLES = {"dd_payne": _dd_payne, "apogee": _apogee, "galah": _galah, "hypatia": _hypatia}
OWN = {"dd_payne": "qflag_chi2", "apogee": "ASPCAPFLAG", "galah": "flag_sp", "hypatia": None}


@pytest.mark.parametrize("survey", list(TABLES))
def test_a_survey_without_its_star_flag_is_unflagged_and_ignores_other_surveys_flags(survey):
    foreign = {k: v for k, v in FOREIGN.items() if k != OWN[survey]}
    out = standardize(TABLES[survey](**foreign), survey)
    assert np.all(np.isfinite(out["Teff"])) and np.all(np.isfinite(out["logg"]))
    assert np.all(np.isfinite(out["[Fe/H]"])) and np.all(np.isfinite(out["[Mg/Fe]"]))


def test_apogee_aspcapflag_bit_23_even_when_the_flags_are_floats():
    """A CSV or DataFrame export may hold ASPCAPFLAG as floats; bit 23 still marks STAR_BAD,
    other bits (22, 24) do not."""
    flags = np.array([float(1 << 22), float((1 << STAR_BAD) | 1), float(1 << 24)])
    out = standardize(_apogee(ASPCAPFLAG=flags), "apogee")
    assert np.allclose(out["Teff"], [5750.0, np.nan, 6100.0], equal_nan=True)
    assert np.allclose(out["[Fe/H]"], [0.02, np.nan, 0.05], equal_nan=True)


@pytest.mark.parametrize(("survey", "flags"), [
    ("apogee", {"TEFF_FLAG": [1, 1, 1], "LOGG_FLAG": [2, 2, 2]}),
    ("galah", {"flag_teff": [1, 1, 1], "flag_logg": [1, 1, 1]}),
])  # fmt: skip
def test_value_flags_mask_only_fe_h_and_the_abundances_not_teff_or_logg(survey, flags):
    """Only ``FE_H_FLAG`` / ``flag_fe_h`` and the ``[X/Fe]`` flags mask a single value; a
    Teff or logg flag column is not read (the star flag decides those)."""
    own_fe = {"apogee": "FE_H_FLAG", "galah": "flag_fe_h"}[survey]
    out = standardize(TABLES[survey](**flags, **{own_fe: [0, 1, 0]}), survey)
    teff = {"apogee": [5750.0, 4800.0, 6100.0], "galah": [5760.0, 6080.0, 4500.0]}[survey]
    assert np.allclose(out["Teff"], teff)
    assert np.all(np.isfinite(out["logg"]))
    assert np.isnan(out["[Fe/H]"][1]) and np.all(np.isfinite(out["[Fe/H]"][[0, 2]]))


def test_masked_values_become_nan_whatever_the_column_dtype():
    """A masked entry (a FITS null, an integer column with TNULL) is NaN, never the mask's fill
    value; integer and float columns come back as floats."""
    t = _galah()
    t["teff"] = MaskedColumn(np.int32([5760, 6080, 4500]), mask=[False, True, False])
    t["Mg_fe"] = MaskedColumn([0.02, -0.05, 0.2], mask=[True, False, False])
    t["snr_c1_iraf"] = MaskedColumn(np.int16([45, 60, 20]), mask=[False, False, True])
    t["snr_c3_iraf"] = np.int16([80, 95, 40])
    out = standardize(t, "galah")
    assert np.allclose(out["Teff"], [5760.0, np.nan, 4500.0], equal_nan=True)
    assert np.allclose(out["[Mg/Fe]"], [np.nan, -0.05, 0.2], equal_nan=True)
    assert np.allclose(out["snr_c1_iraf"], [45.0, 60.0, np.nan], equal_nan=True)
    assert out["snr_c1_iraf"].dtype == np.float64 and out["snr_c3_iraf"].dtype == np.float64
    assert list(out["snr_c3_iraf"]) == [80.0, 95.0, 40.0]


def test_numbers_stored_as_text_are_read_as_numbers():
    """Ids and parameters written as text (a CSV read without type guessing) are exact int64
    Gaia ids and floats."""
    t = Table({
        "gaia_source_id": np.array([str(i) for i in IDS]),
        "teff": np.array(["5700.5", "4900", "6000"]), "logg": [4.5, 2.6, 4.0],
        "feh": [0.0, -0.1, 0.1], "snr_g": np.array(["55.5", "60", "7"]),
    })  # fmt: skip
    out = standardize(t, "dd_payne")
    assert out["source_id"].dtype == np.int64 and list(out["source_id"]) == IDS
    assert list(out["Teff"]) == [5700.5, 4900.0, 6000.0]
    assert list(out["snr_g"]) == [55.5, 60.0, 7.0]


def test_a_pandas_dataframe_reads_as_its_table():
    frame = _galah(flag_sp=np.int32([0, 1, 0])).to_pandas()
    assert isinstance(frame, pd.DataFrame)
    out = standardize(frame, "galah")
    assert list(out["source_id"]) == IDS
    assert np.allclose(out["Teff"], [5760.0, np.nan, 4500.0], equal_nan=True)
    assert np.allclose(out["[Mg/Fe]"], [0.02, np.nan, 0.2], equal_nan=True)


def test_input_errors_name_the_survey(tmp_path):
    with pytest.raises(TypeError, match=r"^galah catalogue: expected a path, a Table or a "
                       r"DataFrame$"):  # fmt: skip
        standardize([[1, 2, 3]], "galah")
    missing = tmp_path / "allStar.fits"
    with pytest.raises(FileNotFoundError, match=r"^apogee catalogue .*allStar\.fits not found$"):
        standardize(missing, "apogee")
    with pytest.raises(FileNotFoundError, match=r"^hypatia catalogue .*hyp\.csv not found$"):
        standardize(str(tmp_path / "hyp.csv"), "hypatia")


def test_an_unknown_survey_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"^unknown survey 'gaia'; known: dd_payne, apogee, "
                       r"galah, hypatia$"):  # fmt: skip
        standardize(_galah(), "gaia")


# ------------------------------------------------------------------ LAMOST files
WL = 3700.0 * 10 ** (1e-4 * np.arange(400))


def _spectrum(path, z):
    header = fits.Header()
    if z is not None:
        header["Z"] = z
    cols = [
        fits.Column(name=name, format=f"{WL.size}D", array=arr[None])
        for name, arr in (("FLUX", np.full(WL.size, 100.0)), ("IVAR", np.ones(WL.size)),
                          ("WAVELENGTH", WL))
    ]  # fmt: skip
    fits.HDUList([fits.PrimaryHDU(header=header), fits.BinTableHDU.from_columns(cols)]).writeto(
        path
    )
    return path


@pytest.mark.parametrize("value", [9999.0, 3.0])
def test_only_lamosts_negative_sentinel_is_refused_a_large_positive_z_is_read(tmp_path, value):
    """The module docstring: a Z is unusable when absent, non-finite, ≤ -1 or LAMOST's -9999;
    +9999 (or a quasar's z = 3) is a redshift like any other."""
    path = _spectrum(tmp_path / "z.fits", value)
    assert read_lamost_file(path)[3] == value


def test_warnings_are_attributed_to_the_line_that_called_read_lamost(tmp_path, monkeypatch):
    """Both warnings (no redshift; resampled) carry ``stacklevel=2``: the file and line of the
    code that called :func:`read_lamost`. That frame is found from inside the reader (the
    frame above the one that calls ``read_lamost_file``), so a wrapper around the reader (as
    mutation testing's) changes nothing."""
    callers = []
    real = lamost.read_lamost_file

    def spy(path):
        frame = sys._getframe(2)  # 0: spy, 1: read_lamost's body, 2: its caller
        callers.append((frame.f_code.co_filename, frame.f_lineno))
        return real(path)

    monkeypatch.setattr(lamost, "read_lamost_file", spy)
    path = _spectrum(tmp_path / "noz.fits", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_lamost([path], WL[50:350])
    assert len(callers) == 1
    got = {w.category: (w.filename, w.lineno) for w in caught}
    assert set(got) == {LamostWarning, ResampleWarning}
    assert got[LamostWarning] == callers[0]
    assert got[ResampleWarning] == callers[0]


# ------------------------------------------------------------------ lazy names of phdl.io
EXPORTS = {
    "LamostWarning": "lamost", "is_fits": "lamost", "normalize": "lamost",
    "read_lamost": "lamost", "read_lamost_file": "lamost",
    "read_lamost_catalog": "lamost_catalog", "spec_filename": "lamost_catalog",
    "specid": "lamost_catalog", "write_manifest": "lamost_catalog",
    "standardize": "surveys", "read_members": "members", "read_el_badry": "binaries",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_getattr_imports_each_public_name_from_its_module_and_keeps_it(name, monkeypatch):
    namespace = vars(phdl.io)
    monkeypatch.delitem(namespace, name, raising=False)
    value = phdl.io.__getattr__(name)
    assert value is getattr(importlib.import_module(f"phdl.io.{EXPORTS[name]}"), name)
    assert namespace[name] is value  # the next lookup does not go through __getattr__


def test_getattr_of_an_unknown_name_is_an_attribute_error_naming_it():
    with pytest.raises(AttributeError, match=r"^module 'phdl.io' has no attribute 'surveys_x'$"):
        phdl.io.__getattr__("surveys_x")
    assert sorted(EXPORTS) == sorted(phdl.io.__all__)


def test_dir_lists_the_public_names_before_their_first_use_and_the_module_globals(monkeypatch):
    monkeypatch.delitem(vars(phdl.io), "read_el_badry", raising=False)
    names = phdl.io.__dir__()
    assert names == sorted(names)
    assert set(phdl.io.__all__) <= set(names)  # read_el_badry not yet imported
    assert {"importlib", "_EXPORTS", "__getattr__", "__doc__"} <= set(names)
    assert len(names) == len(set(names))
