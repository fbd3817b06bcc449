"""phdl.sky truth: samples, chemistry, isochrone, binaries and cuts, M67, reference catalogues."""

import numpy as np
import pytest
from astropy.table import Table

from phdl import paper
from phdl.labels import ELEMENTS, LABELS, RANGES
from phdl.sky import abundances as ab
from phdl.sky import isochrone as iso
from phdl.sky import references as ref
from phdl.sky.binaries import binary_cuts, wide_binaries
from phdl.sky.cluster import m67
from phdl.sky.population import field_stars, solar_giants, survey_common
from phdl.sky.samples import CATALOGS, SAMPLES, references_for, sample

NAMES = ("field", "common", "giants", "binaries", "m67", "hypatia", "subgiants")


@pytest.fixture(scope="module")
def common():
    return survey_common(1500, 11)


# ------------------------------------------------------------------ every sample
def test_every_sample_is_named():
    assert set(SAMPLES) == set(CATALOGS) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_sample_reproducible_and_seeded(name):
    a, b, c = sample(name, 30, 3), sample(name, 30, 3), sample(name, 30, 4)
    assert a.colnames == b.colnames == c.colnames
    for col in a.colnames:
        np.testing.assert_array_equal(a[col], b[col], err_msg=col)
    assert not np.array_equal(a["Teff"], c["Teff"])
    for cat, table in references_for(name, a, 3).items():
        again = references_for(name, b, 3)[cat]
        for col in table.colnames:
            np.testing.assert_array_equal(table[col], again[col], err_msg=f"{cat}.{col}")


@pytest.mark.parametrize("name", NAMES)
def test_sample_columns_and_ranges(name):
    t = sample(name, 200, 1)
    if name == "subgiants":  # a repeat visit is a second row of the same star
        t = t[t["visit"] == 1]
    assert t["source_id"].dtype == np.int64
    assert len(np.unique(t["source_id"])) == len(t)
    assert all(len(str(i)) == 19 for i in t["source_id"])
    for label in LABELS:
        x = np.asarray(t[label])
        assert x.dtype == np.float64, label
        assert np.all(np.isfinite(x)) and np.all(x >= RANGES[label][0]), label
        assert np.all(x <= RANGES[label][1]), label
    assert np.all((t["snr_g"] >= 10) & (t["snr_g"] <= 500))
    assert set(t["branch"]) <= {"MS", "SGB", "RGB"}
    assert set(t["population"]) <= {*ab.POPULATIONS, "M67"}
    assert t["Teff"].unit == "K" and t["vmic"].unit == "km / s"


def test_ids_distinct_across_samples():
    ids = np.concatenate([np.unique(sample(name, 50, 0)["source_id"]) for name in NAMES])
    assert len(np.unique(ids)) == len(ids)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n", [0, -2, 1.5])
def test_bad_n(name, n):
    with pytest.raises(ValueError, match=r"n(_pairs)? must be a positive integer"):
        sample(name, n, 0)


def test_bad_names_and_seed():
    with pytest.raises(ValueError, match="unknown sample 'stars'"):
        sample("stars", 10, 0)
    with pytest.raises(ValueError, match="unknown sample 'stars'"):
        references_for("stars", Table(), 0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        field_stars(10, -1)
    with pytest.raises(ValueError, match="takes no option"):
        sample("field", 10, 0, diffusion=True)
    with pytest.raises(ValueError, match="no column 'Teff'"):
        ref.apogee_dr17(Table({"source_id": [1]}), 0)


# ------------------------------------------------------------------ chemistry and isochrone
def test_abundance_trends():
    assert tuple(ab.TRENDS) == ELEMENTS
    lo, hi = "low-alpha", "high-alpha"
    assert ab.mean_xfe("Mg", -1.5, lo) == pytest.approx(0.3)
    assert ab.mean_xfe("[Mg/Fe]", 0.0, lo) == pytest.approx(0.0)
    assert ab.mean_xfe("Mg", -0.5, hi) > ab.mean_xfe("Mg", -0.5, lo) + 0.1
    np.testing.assert_allclose(ab.mean_xfe("Mn", [-1.0, 0.0], lo), [-0.3, 0.0])
    assert ab.mean_xfe("Eu", -1.5, lo) > 0.3 and ab.mean_xfe("Ba", -1.5, lo) == 0.0
    x = ab.abundance_pattern(np.full(2000, -3.9), "halo", np.random.default_rng(0))
    for j, el in enumerate(ELEMENTS):
        assert RANGES[f"[{el}/Fe]"][0] <= x[:, j].min() and x[:, j].max() <= RANGES[f"[{el}/Fe]"][1]
    with pytest.raises(ValueError, match="unknown element 'Xx'"):
        ab.xfe("Xx", 0.0, lo, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown population 'disc'"):
        ab.mean_xfe("Mg", 0.0, "disc")


def test_isochrone_loci_and_masses():
    assert iso.turnoff_teff(4.0, 0.0) == pytest.approx(6100.0)
    assert 5500 < iso.turnoff_teff(10.0, 0.0) < iso.turnoff_teff(1.0, 0.0) < 6700
    teff, logg = iso.locus([0.0, 1.0, 2.0, 3.0], -0.5, 6200.0)
    np.testing.assert_allclose(logg, [4.9, 4.1, 3.8, 0.5])
    np.testing.assert_allclose(teff[[0, 1, 3]], [3800.0, 6200.0, 3900.0 + 75.0])
    g = np.linspace(0.5, 3.8, 7)  # the grid's RGB line
    np.testing.assert_allclose(
        iso.locus(2 + (3.8 - g) / 3.3, 0.3, 6000.0)[0], 3900 + 400 * (g - 0.5) - 45
    )
    m = iso.turnoff_mass(5.0) * np.array([0.7, 0.9])  # two masses on one isochrone
    t, gg = iso.isochrone(5.0, -0.2, m)
    assert t[0] < t[1] and gg[0] > gg[1]
    assert list(
        iso.branch_of(
            iso.eep_of_mass(iso.turnoff_mass(5.0) * np.array([0.9, 1.02, 1.08]), 5.0, 0.0)
        )
    ) == ["MS", "SGB", "RGB"]
    with pytest.raises(ValueError, match="not on the isochrone"):
        iso.isochrone(5.0, 0.0, 1.2 * iso.turnoff_mass(5.0))
    assert iso.vmic(5772.0, 4.44) == pytest.approx(1.035, abs=0.01)
    assert iso.vmic(4000.0, 0.5) > iso.vmic(4800.0, 3.0)


def test_field_on_loci_and_bimodal_alpha():
    t = field_stars(3000, 2)
    teff, logg = np.asarray(t["Teff"]), np.asarray(t["logg"])
    assert np.mean((teff > 6500) & (logg < 2.5)) == 0
    giants = t[t["branch"] == "RGB"]
    line = iso.rgb_teff(giants["logg"], giants["[Fe/H]"])
    assert np.median(np.abs(giants["Teff"] - line)) < 100
    disc = t[(t["[Fe/H]"] > -0.6) & (t["[Fe/H]"] < -0.3)]
    mg = {
        p: np.median(disc["[Mg/Fe]"][disc["population"] == p]) for p in ("low-alpha", "high-alpha")
    }
    assert mg["high-alpha"] > mg["low-alpha"] + 0.1


def test_solar_giants_cuts():
    t = solar_giants(400, 3)
    assert np.all(t["snr_g"] > paper.SOLAR_GIANT_MIN_SNR)
    assert np.all(t["logg"] < paper.SOLAR_GIANT_LOGG_MAX)
    assert np.all(np.abs(t["[Fe/H]"]) < paper.SOLAR_GIANT_FEH_MAX)


def test_common_sample_snr(common):
    cut = paper.ATM_MIN_SNR
    ok = np.all([common[c] > v for c, v in cut.items()], axis=0)
    assert 0.07 < ok.mean() < 0.25  # the paper keeps 440 of 3,283 (13 %)


# ------------------------------------------------------------------ binaries
def test_binaries_share_abundances():
    t = wide_binaries(400, 5)
    assert len(t) == 800 and list(t["component"][:4]) == [1, 2, 1, 2]
    one, two = t[0::2], t[1::2]
    assert np.all(one["pair_id"] == two["pair_id"])
    bound = np.asarray(one["bound"])
    assert 0.01 < 1 - bound.mean() < 0.12
    for label in LABELS[3:]:
        np.testing.assert_array_equal(one[label][bound], two[label][bound], err_msg=label)
        assert np.all(one["age"][bound] == two["age"][bound])
    assert np.all(one["[Mg/Fe]"][~bound] != two["[Mg/Fe]"][~bound])
    dv = np.abs(one["vlos"] - two["vlos"])
    assert np.median(dv[~bound]) > 2 * np.median(dv[bound])
    ms = bound & (one["branch"] == "MS") & (two["branch"] == "MS") & (one["mass"] > two["mass"])
    assert np.all(one["Teff"][ms] >= two["Teff"][ms])
    assert np.mean(t["logg"] > 4.0) > 0.6  # dwarfs mostly


def _pairs_table(n=10, **star2):
    """n pairs passing every cut (ΔV_los = 0), the last one's component 2 changed by star2."""
    t = Table({"pair_id": np.repeat(np.arange(n), 2), "component": np.tile([1, 2], n)})
    t["Teff"], t["logg"], t["snr_g"] = (
        np.full(2 * n, 5800.0),
        np.full(2 * n, 4.4),
        np.full(2 * n, 80.0),
    )
    t["vlos"] = np.zeros(2 * n)
    for col, value in star2.items():
        t[col][-1] = value
    return t


@pytest.mark.parametrize(
    "col, passing, failing",
    [
        ("snr_g", 40.01, 40.0),
        ("snr_g", 40.01, 39.9),
        ("Teff", 4500.1, 4500.0),
        ("Teff", 6999.9, 7000.0),
        ("logg", 4.01, 4.0),
        ("logg", 4.01, np.nan),
        ("vlos", 2.99, 3.0),
        ("vlos", -2.99, -3.01),
    ],
)
def test_binary_cuts_thresholds(col, passing, failing):
    kept = binary_cuts(_pairs_table(**{col: passing}), mad=1.0)
    assert len(kept) == 20
    kept = binary_cuts(_pairs_table(**{col: failing}), mad=1.0)
    assert len(kept) == 18 and 9 not in kept["pair_id"]
    swapped = _pairs_table(**{col: failing})
    swapped["component"] = 3 - swapped["component"]  # the other component fails: same answer
    assert len(binary_cuts(swapped, mad=1.0)) == 18


def test_binary_cuts_mad_from_data_and_on_other_columns():
    t = _pairs_table(5)
    t["vlos"][1::2] = [1.0, -1.0, 2.0, -2.0, 10.0]  # ΔV = -1, 1, -2, 2, -10: MAD = 2
    t.rename_column("Teff", "TEFF")
    kept = binary_cuts(t, teff_col="TEFF")
    assert sorted(set(kept["pair_id"])) == [0, 1, 2, 3]  # |ΔV| / 2 < 3, except the last
    with pytest.raises(ValueError, match="no column 'Teff'"):
        binary_cuts(t)
    with pytest.raises(ValueError, match="has not two rows"):
        binary_cuts(_pairs_table(3)[:-1])


# ------------------------------------------------------------------ M67
def test_m67_one_pattern():
    t = m67(300, 2)
    assert np.all(t["population"] == "M67") and np.all(t["diffusion"] == 0)
    assert np.max(np.abs(t["[Fe/H]"])) <= 0.02
    for el in ELEMENTS:
        x = np.asarray(t[f"[{el}/Fe]"])
        assert x.std() <= 0.02 and x.max() - x.min() <= 0.04 + 1e-12, el
    assert {"MS", "SGB", "RGB"} <= set(t["branch"])


def test_m67_diffusion_dip():
    off, on = m67(300, 2), m67(300, 2, diffusion=True)
    d = np.asarray(on["diffusion"])
    assert 0.05 < d.max() <= 0.1 and np.all(d[on["branch"] == "RGB"] == 0)
    np.testing.assert_allclose(on["[Fe/H]"], np.asarray(off["[Fe/H]"]) - d)
    np.testing.assert_array_equal(on["[Mg/Fe]"], off["[Mg/Fe]"])
    np.testing.assert_allclose(on["[C/Fe]"] - off["[C/Fe]"], d * 0.4)
    near = np.abs(on["Teff"] - iso.turnoff_teff(4.0, 0.0)) < 300
    assert np.all(d[near & (on["logg"] > 3.8)] > 0.05)


# ------------------------------------------------------------------ reference catalogues
def test_reference_columns(common):
    refs = references_for("common", common, 1)
    dd, ap, ga = refs["dd_payne"], refs["apogee"], refs["galah"]
    for cols, table in (
        (["gaia_source_id", "teff", "logg", "feh", "mg_fe", "ba_fe"], dd),
        (["TEFF", "LOGG", "FE_H", "MG_FE", "MG_FE_FLAG", "CE_FE", "ASPCAPFLAG", "SNR",
          "GAIAEDR3_SOURCE_ID"], ap),
        (["teff", "logg", "fe_h", "Mg_fe", "flag_Mg_fe", "Eu_fe", "snr_c1_iraf", "snr_c3_iraf",
          "dr3_source_id"], ga),
    ):  # fmt: skip
        assert set(cols) <= set(table.colnames) and len(table) == len(common)
    for el in ("Sc", "Sr", "Y", "Zr", "Ba", "La", "Pr", "Nd", "Sm", "Eu"):
        assert not [c for c in ap.colnames if c.startswith(f"{el.upper()}_FE")], el
    for el in ("N", "S", "Pr", "Au"):
        assert not [c for c in ga.colnames if c.lower().startswith(f"{el.lower()}_fe")], el
    np.testing.assert_array_equal(ap["GAIAEDR3_SOURCE_ID"], common["source_id"])
    np.testing.assert_array_equal(ga["snr_c3_iraf"], common["snr_c3_iraf"])
    assert np.all(np.isnan(ga["Eu_fe"][ga["flag_Eu_fe"] == 32]))
    bad = (ap["ASPCAPFLAG"] & (1 << 23)) > 0
    assert np.all(np.isnan(ap["TEFF"][bad])) and np.all(np.isfinite(ap["TEFF"][~bad]))
    assert np.all(np.isnan(ap["MG_FE"][ap["MG_FE_FLAG"] > 0]))
    good = ~bad & (common["Teff"] < 6000)
    assert abs(np.median(dd["teff"] - common["Teff"])) < 10
    assert abs(np.median(ap["TEFF"][good] - common["Teff"][good])) < 10
    eb = ref.el_badry(wide_binaries(50, 1), 1)
    assert eb.colnames == ["source_id1", "source_id2", "sep_AU", "R_chance_align"] and len(eb) == 50


def test_apogee_teff_fault_above_6000():
    truth = field_stars(600, 4)
    truth["Teff"][:300] = 6800.0
    ap = ref.apogee_dr17(truth, 0)
    hot = np.asarray(ap["TEFF"][:300])
    hot = hot[np.isfinite(hot)]
    assert np.median(hot) == pytest.approx(6800.0 - 0.1 * 800.0, abs=15)


def test_galah_hot_feh_fault():
    truth = field_stars(1000, 6)
    truth["Teff"][:100] = 6700.0
    truth["Teff"][100:] = np.minimum(truth["Teff"][100:], 6400.0)
    ga = ref.galah_dr3(truth, 0)
    far = np.asarray(ga["fe_h"] - truth["[Fe/H]"]) < -0.4
    assert far.sum() == 20 and np.all(far[100:] == 0)  # 2 % of the stars, all hot


def test_hypatia_scale_and_thin_elements():
    truth = ref.hypatia_stars(600, 2)
    cat = ref.hypatia_catalog(truth, 2)
    assert ["source_id", "Teff", "logg", "[Fe/H]"] == cat.colnames[:4]
    assert {f"[{el}/H]" for el in ELEMENTS} <= set(cat.colnames)
    off = ref.HYPATIA_SOLAR_OFFSET
    assert off["Fe"] == pytest.approx(7.50 - ref.LODDERS_2009["Fe"])
    assert np.median(cat["[Fe/H]"] - truth["[Fe/H]"]) == pytest.approx(off["Fe"], abs=0.01)
    xh = truth["[Mg/Fe]"] + truth["[Fe/H]"] + off["Mg"]
    assert np.nanmedian(cat["[Mg/H]"] - xh) == pytest.approx(0.0, abs=0.01)
    tw = (truth["Teff"] > paper.TWIN_TEFF_RANGE[0]) & (truth["Teff"] < paper.TWIN_TEFF_RANGE[1])
    tw &= (truth["logg"] > paper.TWIN_LOGG_RANGE[0]) & (truth["logg"] < paper.TWIN_LOGG_RANGE[1])
    tw &= np.abs(truth["[Fe/H]"]) < paper.TWIN_FEH_MAX
    assert tw.sum() >= 20
    sources = dict(zip(paper.table3()["element"], paper.table3()["source"], strict=True))
    for el, source in sources.items():
        n_twins = np.isfinite(cat[f"[{el}/H]"][tw]).sum()
        assert n_twins < 5 if source != "Hypatia" else n_twins >= 5, el
    assert np.isfinite(cat["[Pr/H]"][tw]).sum() == 0
    assert np.mean(truth["logg"] > 3.5) > 0.8
