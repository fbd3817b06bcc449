"""phdl.io.surveys: the surveys' published columns read into phdl's names, flags applied."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.table import Table

from phdl.io.surveys import SURVEYS, standardize
from phdl.sky import references as ref
from phdl.sky import sample


@pytest.fixture(scope="module")
def truth() -> Table:
    return sample("common", 300, 3)


def _match(table: Table, truth: Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    _, i, j = np.intersect1d(table["source_id"], truth["source_id"], return_indices=True)
    return np.asarray(table[name], float)[i], np.asarray(truth[name], float)[j]


@pytest.mark.parametrize(
    "survey, make, sigma_mg",
    [("dd_payne", ref.dd_payne, 0.05), ("apogee", ref.apogee_dr17, 0.03),
     ("galah", ref.galah_dr3, 0.06)],
)  # fmt: skip
def test_each_survey_reads_back_onto_the_truth(truth, survey, make, sigma_mg):
    table = standardize(make(truth, 1), survey)
    assert {"source_id", "Teff", "logg", "[Fe/H]", "[Mg/Fe]"} <= set(table.colnames)
    got, want = _match(table, truth, "[Mg/Fe]")
    ok = np.isfinite(got)
    assert ok.mean() > 0.8
    diff = got[ok] - want[ok]
    assert abs(np.median(diff)) < 0.02
    # a robust σ near the survey's stated noise: the right column, not a neighbour's
    assert 0.5 * sigma_mg < 1.4826 * np.median(np.abs(diff - np.median(diff))) < 2 * sigma_mg


def test_apogee_star_bad_and_value_flags_give_nan(truth):
    raw = ref.apogee_dr17(truth, 1)
    raw["MG_FE"] = 0.0  # flagged values must not come through, whatever they hold
    raw["MG_FE_FLAG"][:5] = 4
    raw["ASPCAPFLAG"][5] = 1 << 23
    raw["ASPCAPFLAG"][6] = 1 << 22  # another bit: the star is kept
    raw["TEFF"][6] = 5000.0
    table = standardize(raw, "apogee")
    assert np.all(np.isnan(table["[Mg/Fe]"][:6]))
    assert np.isnan(table["Teff"][5])
    assert table["Teff"][6] == 5000.0
    assert "[Sr/Fe]" not in table.colnames  # APOGEE has no Sr


def test_galah_flags_mask_values_and_stars(truth):
    raw = ref.galah_dr3(truth, 1)
    raw["Mg_fe"] = 0.3
    raw["flag_Mg_fe"] = 0
    raw["flag_Mg_fe"][0] = 1
    raw["flag_sp"] = 0
    raw["flag_sp"][1] = 1
    table = standardize(raw, "galah")
    assert np.isnan(table["[Mg/Fe]"][0]) and np.isnan(table["Teff"][1])
    assert table["[Mg/Fe]"][2] == pytest.approx(0.3)
    assert "[N/Fe]" not in table.colnames and "snr_c3_iraf" in table.colnames


def test_hypatia_x_over_h_on_its_solar_scale_becomes_our_x_over_fe():
    raw = Table({"source_id": [1, 2], "Teff": [5800.0, 5000.0], "logg": [4.4, 4.6],
                 "[Fe/H]": [0.1, np.nan], "[Mg/H]": [0.25, 0.3]})  # fmt: skip
    table = standardize(raw, "hypatia", solar_offset={"Fe": 0.05, "Mg": -0.02})
    # ours: [Fe/H] = 0.1 - 0.05, [Mg/H] = 0.25 + 0.02, [Mg/Fe] = 0.27 - 0.05
    assert table["[Fe/H]"][0] == pytest.approx(0.05)
    assert table["[Mg/Fe]"][0] == pytest.approx(0.22)
    assert np.isnan(table["[Mg/Fe]"][1])


def test_the_sky_hypatia_on_lodders_returns_to_the_truth_scale():
    stars = ref.hypatia_stars(200, 4)
    table = standardize(ref.hypatia_catalog(stars, 4), "hypatia",
                        solar_offset=ref.hypatia_solar_offset())  # fmt: skip
    got, want = _match(table, stars, "[Ca/Fe]")
    ok = np.isfinite(got)
    assert abs(np.median(got[ok] - want[ok])) < 0.02
    raw = standardize(ref.hypatia_catalog(stars, 4), "hypatia")  # no offset: off the scale
    got_raw, _ = _match(raw, stars, "[Ca/Fe]")
    off = ref.hypatia_solar_offset()
    assert np.nanmedian(got_raw - got) == pytest.approx(off["Ca"] - off["Fe"], abs=1e-9)


def test_bad_input_names_the_survey_and_column(truth, tmp_path):
    with pytest.raises(ValueError, match="unknown survey 'sdss'"):
        standardize(Table(), "sdss")
    raw = ref.galah_dr3(truth, 1)
    del raw["dr3_source_id"]
    with pytest.raises(ValueError, match="galah catalogue has no id column 'dr3_source_id'"):
        standardize(raw, "galah")
    raw = ref.apogee_dr17(truth, 1)
    del raw["LOGG"]
    with pytest.raises(ValueError, match="apogee catalogue has no column 'LOGG'"):
        standardize(raw, "apogee")
    with pytest.raises(FileNotFoundError, match="nope.fits"):
        standardize(tmp_path / "nope.fits", "apogee")
    with pytest.raises(ValueError, match="solar_offset is for the hypatia"):
        standardize(ref.apogee_dr17(truth, 1), "apogee", solar_offset={"Fe": 0.0})


def test_a_fits_file_reads_like_the_table(truth, tmp_path):
    raw = ref.dd_payne(truth, 2)
    raw.write(tmp_path / "dd.fits")
    a, b = standardize(tmp_path / "dd.fits", "dd_payne"), standardize(raw, "dd_payne")
    assert a.colnames == b.colnames
    np.testing.assert_array_equal(np.asarray(a["[Mg/Fe]"]), np.asarray(b["[Mg/Fe]"]))
    assert set(SURVEYS) == {"dd_payne", "apogee", "galah", "hypatia"}
