"""The sky's physics presets, observed spectra (cache, noise, LAMOST files) and ``phdl sky``."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from astropy.table import Table

from phdl import cli
from phdl.io import read_lamost
from phdl.labels import LABELS
from phdl.sky import PRESETS, observe_sky, sample, sky_physics, write_lamost_files
from phdl.sky.spectra import sky_key, truth_labels
from phdl.synth.physics import Physics


def test_the_control_preset_is_the_model_physics_and_the_default_is_not():
    assert sky_physics("sky-equals-model") == Physics()
    perturbed = sky_physics("perturbed")
    assert perturbed != Physics()
    assert perturbed.hash() != Physics().hash()
    # wavelengths, resolution and normalization stay the model's: only the physics differs
    for name in ("resolution", "norm_length", "wl_start", "n_pix", "log_step"):
        assert getattr(perturbed, name) == getattr(Physics(), name)
    assert set(PRESETS) == {"perturbed", "sky-equals-model"}


def test_a_preset_keeps_the_base_physics_grid():
    base = Physics(n_pix=500, wl_start=5000.0)
    p = sky_physics("perturbed", base)
    assert (p.n_pix, p.wl_start) == (500, 5000.0)
    assert p.loggf_offsets == dict(PRESETS["perturbed"]["loggf_offsets"])


def test_an_unknown_preset_is_named():
    with pytest.raises(ValueError, match="unknown sky physics preset 'wrong'.*perturbed"):
        sky_physics("wrong")


def test_truth_labels_name_the_bad_column():
    t = sample("common", 3, 0)
    assert truth_labels(t).shape == (3, len(LABELS))
    t["[Mg/Fe]"][1] = np.nan
    with pytest.raises(ValueError, match=r"\[Mg/Fe\]"):
        truth_labels(t)
    del t["logg"]
    with pytest.raises(ValueError, match="logg"):
        truth_labels(t)


def test_the_key_changes_with_labels_snr_physics_and_seed():
    t = sample("common", 2, 0)
    x, snr = truth_labels(t), np.asarray(t["snr_g"], float)
    key = sky_key(x, snr, Physics(), 0)
    assert key == sky_key(x.copy(), snr.copy(), Physics(), 0)
    assert (
        len(
            {
                key,
                sky_key(x + 1e-9, snr, Physics(), 0),
                sky_key(x, snr * 2, Physics(), 0),
                sky_key(x, snr, sky_physics("perturbed"), 0),
                sky_key(x, snr, Physics(), 1),
            }
        )
        == 5
    )


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """Three common stars through a small perturbed physics (500 pixels)."""
    cache = tmp_path_factory.mktemp("sky")
    truth = sample("common", 3, 5)
    physics = sky_physics("perturbed", Physics(n_pix=500, wl_start=5000.0))
    path = observe_sky(truth, physics, cache, seed=2, progress=False)
    return truth, physics, cache, path


def test_observed_spectra_follow_the_contract_and_the_snr(observed):
    truth, physics, cache, path = observed
    with h5py.File(path) as h5:
        flux, ivar, wl = h5["flux"][()], h5["ivar"][()], h5["wavelength"][()]
        np.testing.assert_array_equal(h5["SOURCEID"][()], np.asarray(truth["source_id"]))
        np.testing.assert_allclose(h5["truth"][()], truth_labels(truth))
        assert h5.attrs["physics_hash"] == physics.hash()
    assert flux.shape == ivar.shape == (3, 500) and wl.shape == (500,)
    np.testing.assert_allclose(ivar[:, 0], np.asarray(truth["snr_g"]) ** 2)
    clean = h5py.File(cache / f"{path.stem}-noiseless.h5")["flux"][()]
    resid = (flux - clean) * np.asarray(truth["snr_g"])[:, None]  # unit Gaussian if right
    assert 0.8 < resid.std() < 1.2 and abs(resid.mean()) < 0.15


def test_observed_spectra_are_cached_and_reproducible(observed, tmp_path):
    truth, physics, cache, path = observed
    mtime = path.stat().st_mtime_ns
    assert observe_sky(truth, physics, cache, seed=2, progress=False) == path
    assert path.stat().st_mtime_ns == mtime  # reused, not rewritten
    other = observe_sky(truth, physics, cache, seed=3, progress=False)
    assert other != path
    with h5py.File(path) as a, h5py.File(other) as b:
        assert not np.allclose(a["flux"][()], b["flux"][()])


def test_lamost_files_read_back_through_the_real_loader(observed, tmp_path):
    truth, physics, cache, path = observed
    files = write_lamost_files(path, tmp_path / "lamost", [0, 2])
    assert [f.name for f in files] == [f"sky-{truth['source_id'][i]}.fits" for i in (0, 2)]
    with h5py.File(path) as h5:
        wl, flux = h5["wavelength"][()], h5["flux"][()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = read_lamost(files, wl)
    core = slice(50, -50)  # away from the edges of the normalization window
    diff = got.flux[:, core] - flux[[0, 2]][:, core]
    # back to a few per cent: the reader divides by the running mean of the normalized flux,
    # which differs from 1 where lines are dense (write_lamost_files' docstring)
    assert np.all(np.abs(np.median(diff, axis=1)) < 0.01)
    assert np.all(diff.std(axis=1) < 0.03)
    # ... and that is the running mean, not a wrong wavelength or scale
    from phdl.io import normalize

    renorm = normalize(wl, flux[[0, 2]], np.ones((2, wl.size)), physics.norm_length)[0]
    np.testing.assert_allclose(got.flux[:, core], renorm[:, core], atol=0.01)


def test_phdl_sky_writes_truth_catalogues_and_spectra(tmp_path, capsys):
    out = tmp_path / "binaries"
    code = cli.main(["sky", "--sample", "binaries", "--n", "2", "--seed", "1", "--out", str(out),
                     "--lamost", "1", "--quiet"])  # fmt: skip
    assert code == 0
    truth = Table.read(out / "truth.fits")
    assert len(truth) == 4
    pairs = Table.read(out / "el_badry.fits")
    assert pairs.colnames == ["source_id1", "source_id2", "sep_AU", "R_chance_align"]
    with h5py.File(out / "spectra.h5") as h5:
        assert h5["flux"].shape[0] == 4
    assert len(list((out / "lamost").glob("*.fits"))) == 1


def test_phdl_sky_bad_input_exits_2_with_one_line(tmp_path, capsys):
    code = cli.main(["sky", "--sample", "common", "--n", "0", "--out", str(tmp_path)])
    assert code == 2
    assert "--n must be a positive integer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["sky", "--sample", "nope", "--n", "3", "--out", str(tmp_path)])


def test_the_chapter_sky_draws_samples_that_pass_the_papers_cuts():
    from phdl.calibrate import binary_cuts
    from phdl.calibrate.chain import snr_cut
    from phdl.sky.survey import SAMPLE_ORDER, make_sky

    sizes = {"common": 12, "binaries": 10, "m67": 3, "giants": 4, "hypatia": 20}
    sky = make_sky(sizes, 3)
    assert len(snr_cut(sky.truth["common"])) == 12
    assert len(np.unique(sky.truth["binaries"]["pair_id"])) == 10
    assert len(binary_cuts(sky.truth["binaries"], mad=1e9)) == 20  # all pass the other cuts
    stars = sky.stars()
    assert len(stars) == 12 + 20 + 3 + 4 and list(dict.fromkeys(stars["sample"])) == list(
        SAMPLE_ORDER
    )
    assert len(np.unique(stars["source_id"])) == len(stars)
    assert set(sky.catalogs) == {"dd_payne", "apogee", "galah", "el_badry", "hypatia", "galah_m67"}
    assert len(sky.catalogs["el_badry"]) == 10 and len(sky.catalogs["hypatia"]) == 20
    raw = make_sky(sizes, 3, observable=False)
    assert len(snr_cut(raw.truth["common"])) < 12  # as drawn, most fail the S/N cuts
    with pytest.raises(ValueError, match="hypatia"):
        make_sky({k: v for k, v in sizes.items() if k != "hypatia"}, 3)
