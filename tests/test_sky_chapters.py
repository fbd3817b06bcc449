"""The sky's samples and glue for chapters 07-09: the subgiants with repeat visits and Table 4
identifiers, M67's GALAH-like members, the identifiers in the spectra file, first visits,
Figure 15's median trends, and our labels read back in phdl names."""

import h5py
import numpy as np
import pytest
from astropy.table import Table

from phdl.paper import CATALOG_MIN_SNR, M67_GALAH_COMMON, M67_MEMBERS
from phdl.sky import sample, sky_physics
from phdl.sky.catalog_run import first_visits, median_trends
from phdl.sky.references import galah_m67
from phdl.sky.spectra import observe_sky
from phdl.sky.subgiants import DEC_RANGE, REPEAT_FRACTION
from phdl.sky.validation import common_data, m67_data, read_labels
from phdl.synth import Physics


@pytest.fixture(scope="module")
def subgiants():
    return sample("subgiants", 200, 3)


def test_subgiants_are_on_the_subgiant_branch_above_the_snr_cut(subgiants):
    first = subgiants[subgiants["visit"] == 1]
    assert len(first) == 200 and len(np.unique(first["source_id"])) == 200
    assert set(subgiants["branch"]) == {"SGB"}
    assert np.all(np.asarray(subgiants["snr_g"]) > CATALOG_MIN_SNR)
    assert {"low-alpha", "high-alpha"} <= set(subgiants["population"])


def test_a_tenth_is_observed_twice_with_the_uqflag_of_table_4(subgiants):
    second = subgiants[subgiants["visit"] == 2]
    assert len(second) == round(REPEAT_FRACTION * 200) == 20
    ids, counts = np.unique(np.asarray(subgiants["source_id"]), return_counts=True)
    visits = dict(zip(ids, counts, strict=True))
    expected = [visits[i] for i in np.asarray(subgiants["source_id"])]
    np.testing.assert_array_equal(subgiants["UQFLAG"], expected)
    assert set(np.unique(subgiants["UQFLAG"])) == {1, 2}
    # a repeat visit has the star's labels but its own S/N
    for row in second[:5]:
        one = subgiants[(subgiants["source_id"] == row["source_id"]) & (subgiants["visit"] == 1)]
        assert one["Teff"][0] == row["Teff"] and one["[Mg/Fe]"][0] == row["[Mg/Fe]"]
        assert one["snr_g"][0] != row["snr_g"]


def test_subgiants_carry_distinct_lamost_identifiers(subgiants):
    specid = np.asarray(subgiants["SPECID"], dtype=str)
    assert len(set(specid)) == len(subgiants)
    date, plan, spid, fiber = specid[0].rsplit("-", 3)[0], *specid[0].rsplit("-", 3)[1:]
    assert len(date) == 10 and plan.startswith("SKY") and 1 <= int(spid) <= 16
    assert 1 <= int(fiber) <= 250
    ra, dec = np.asarray(subgiants["RA"]), np.asarray(subgiants["DEC"])
    assert ra.min() >= 0 and ra.max() < 360 and dec.min() >= DEC_RANGE[0]
    assert dec.max() <= DEC_RANGE[1]


def test_subgiants_are_reproducible_and_check_their_options(subgiants):
    again = sample("subgiants", 200, 3)
    np.testing.assert_array_equal(again["source_id"], subgiants["source_id"])
    np.testing.assert_array_equal(again["SPECID"], subgiants["SPECID"])
    assert not np.array_equal(sample("subgiants", 200, 4)["Teff"], subgiants["Teff"])
    assert len(sample("subgiants", 10, 3, repeat_fraction=0.0)) == 10
    with pytest.raises(ValueError, match="repeat_fraction"):
        sample("subgiants", 10, 3, repeat_fraction=1.5)


def test_galah_observed_the_papers_share_of_the_members():
    members = sample("m67", 179, 0)
    galah = galah_m67(members, 0)
    assert len(galah) == M67_GALAH_COMMON
    assert set(galah["dr3_source_id"]) <= set(members["source_id"])
    assert len(galah_m67(members[:2], 0)) == 1  # at least one
    assert M67_GALAH_COMMON < M67_MEMBERS


def test_the_spectra_file_carries_table_4s_identifiers(tmp_path):
    truth = sample("subgiants", 2, 1, repeat_fraction=0.5)
    physics = sky_physics("perturbed", Physics(n_pix=200, wl_start=5000.0))
    path = observe_sky(truth, physics, tmp_path, seed=0, progress=False)
    with h5py.File(path) as h5:
        np.testing.assert_allclose(h5["RA"][()], truth["RA"])
        np.testing.assert_array_equal(h5["UQFLAG"][()], truth["UQFLAG"])
        assert [s.decode() for s in h5["SPECID"][()]] == list(truth["SPECID"])
    from phdl.catalog import resolve

    ids = resolve(path).ids
    assert list(ids["SPECID"]) == list(truth["SPECID"])
    np.testing.assert_array_equal(ids["SOURCEID"], truth["source_id"])


def test_first_visits_keep_one_row_per_star_and_every_row_without_an_id():
    t = Table({"SOURCEID": [5, 7, 5, -1, -1, 7], "x": [1, 2, 3, 4, 5, 6]})
    assert list(first_visits(t)["x"]) == [1, 2, 4, 5]


def test_median_trends_are_binned_medians_of_the_reference():
    feh = np.repeat([-0.45, -0.15, 0.15], 6)
    mg = np.repeat([0.3, 0.2, 0.0], 6) + np.tile(np.linspace(-0.01, 0.01, 6), 3)
    ref = Table({"[Fe/H]": feh, "[Mg/Fe]": mg})
    trends = median_trends(ref, ["Mg", "Eu"], edges=np.array([-0.6, -0.3, 0.0, 0.3]))
    assert set(trends) == {"Mg"}
    centres, medians = trends["Mg"]
    np.testing.assert_allclose(centres, [-0.45, -0.15, 0.15])
    np.testing.assert_allclose(medians, [0.3, 0.2, 0.0], atol=1e-12)


def test_read_labels_gives_phdl_names(tmp_path):
    Table({"SOURCEID": [1, 2], "Teff": [5000.0, 6000.0]}).write(tmp_path / "c.fits")
    assert read_labels(tmp_path / "c.fits").colnames == ["source_id", "Teff"]
    Table({"Teff": [5000.0]}).write(tmp_path / "bad.fits")
    with pytest.raises(ValueError, match="SOURCEID"):
        read_labels(tmp_path / "bad.fits")


def test_real_data_branches_say_what_is_missing(tmp_path):
    Table({"SOURCEID": [1, 2], "Teff": [5000.0, 6000.0]}).write(tmp_path / "c.fits")
    with pytest.raises(ValueError, match="members_path and galah_path"):
        m67_data(labels_path=tmp_path / "c.fits")
    with pytest.raises(ValueError, match="paths needs files"):
        common_data(labels_path=tmp_path / "c.fits", paths={"apogee": ""})
    with pytest.raises(ValueError, match="paths needs files"):
        common_data(labels_path=tmp_path / "c.fits", paths={"sdss": "x.fits"})


def test_m67_real_branch_keeps_only_the_members(tmp_path):
    Table({"SOURCEID": [1, 2, 3], "Teff": [5000.0, 6000.0, 5500.0]}).write(tmp_path / "c.fits")
    Table({"source_id": [2, 3, 9]}).write(tmp_path / "m.csv", format="ascii.csv")
    Table({"dr3_source_id": [2], "teff": [6000.0], "logg": [4.0], "fe_h": [0.0],
           "flag_sp": [0], "flag_fe_h": [0]}).write(tmp_path / "g.fits")  # fmt: skip
    data = m67_data(labels_path=tmp_path / "c.fits", members_path=tmp_path / "m.csv",
                    galah_path=tmp_path / "g.fits")  # fmt: skip
    assert list(data.ours["source_id"]) == [2, 3] and data.truth is None
    assert list(data.references["galah"]["source_id"]) == [2]
    Table({"source_id": [8, 9]}).write(tmp_path / "none.csv", format="ascii.csv")
    with pytest.raises(ValueError, match="membership list"):
        m67_data(labels_path=tmp_path / "c.fits", members_path=tmp_path / "none.csv",
                 galah_path=tmp_path / "g.fits")  # fmt: skip


def test_stale_shards_are_refitted_not_fatal(tmp_path, monkeypatch):
    """A retrained model makes the chapter's finished shards stale: the run clears them."""
    import phdl.catalog as catalog
    from phdl.sky.catalog_run import _run_fresh

    shards = tmp_path / "c.fits.shards"
    shards.mkdir()
    (shards / "old").write_text("x")
    calls = []

    def fake(job, out, **kw):
        calls.append(shards.exists() and (shards / "old").exists())
        if len(calls) == 1:
            raise catalog.ShardMismatch("made with another model")
        return "ran"

    monkeypatch.setattr(catalog, "run_catalog", fake)
    job = type("J", (), {"shard_dir": str(shards)})()
    with pytest.warns(UserWarning, match="refitting every shard"):
        assert _run_fresh(job, tmp_path / "c.fits") == "ran"
    assert calls == [True, False]
