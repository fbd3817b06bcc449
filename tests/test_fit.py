"""phdl.fit: χ², noise, masking, resampling, batched CMA-ES recovery, determinism, phdl fit."""

import numpy as np
import pytest
from astropy.table import Table

from phdl import cli
from phdl.fit import (
    BOUNDS,
    FITTED,
    ResampleWarning,
    ToyModel,
    add_noise,
    chi2,
    fit_spectra,
    fitting,
    on_model_grid,
    read_spectra,
    read_table,
    write_spectra,
)
from phdl.fit.cmaes import run_stage, set_covariance
from phdl.grid import sample_labels
from phdl.labels import GROUP_I, GROUP_II, LABELS, index

FIT_IDX = [index(n) for n in FITTED]
IVAR = 1e4  # S/N 100


@pytest.fixture(scope="module")
def toy():
    return ToyModel(n_pix=200, seed=0)


@pytest.fixture(scope="module")
def truth():
    return sample_labels(3, 11)


def _labels(table: Table) -> np.ndarray:
    return np.stack([np.asarray(table[n], dtype=float) for n in LABELS], 1)


def _scaled_err(model, fitted, truth):
    span = model.label_max - model.label_min
    return np.abs(fitted - truth)[:, FIT_IDX] / span[FIT_IDX]


def _fit(model, flux, ivar=None, **kw):
    ivar = np.full_like(flux, IVAR) if ivar is None else ivar
    kw.setdefault("progress", False)
    return fit_spectra(model, model.wavelength, flux, ivar, **kw)


# ------------------------------------------------------------------ χ², noise, grids
def test_add_noise_scalar_and_per_star():
    flux = np.ones((3, 500))
    noisy, ivar = add_noise(flux, 50.0, seed=1)
    assert noisy.shape == ivar.shape == (3, 500) and np.all(ivar == 2500.0)
    assert abs(np.std(noisy - 1.0) - 0.02) < 0.002
    again, _ = add_noise(flux, 50.0, seed=1)
    assert np.array_equal(noisy, again)
    _, ivar2 = add_noise(flux, np.array([10.0, 20.0, 40.0]), seed=1)
    assert np.allclose(ivar2[:, 0], [100.0, 400.0, 1600.0])
    with pytest.raises(ValueError, match="snr"):
        add_noise(flux, [1.0, 2.0], seed=0)
    with pytest.raises(ValueError, match="snr"):
        add_noise(flux, 0.0, seed=0)


def test_chi2_masks_nan_and_zero_ivar():
    model = np.ones((2, 4))
    flux = np.array([[1.1, np.nan, 0.9, 5.0], [np.nan] * 4])
    ivar = np.array([[100.0, 100.0, 100.0, 0.0], [1.0] * 4])
    out = chi2(model, flux, ivar)
    assert out[0] == pytest.approx((1.0 + 1.0) / 2)  # NaN pixel and ivar-0 pixel masked
    assert np.isnan(out[1])  # no usable pixel: NaN, not an exception


def test_chi2_total_and_broadcast_models_against_spectra():
    flux = np.array([[1.0, 1.0, 1.0], [0.5, 0.5, 0.5]])
    ivar = np.array([[4.0, 4.0, 0.0], [1.0, 1.0, 1.0]])
    models = np.array([[1.0, 1.0, 1.0], [1.5, 1.0, 1.0]])  # two models for every star
    total = chi2(models, flux[:, None], ivar[:, None], reduced=False)
    assert total.shape == (2, 2)
    np.testing.assert_allclose(total, [[0.0, 1.0], [0.75, 1.5]])
    np.testing.assert_allclose(chi2(models, flux[:, None], ivar[:, None]), total / [[2], [3]])
    with pytest.raises(ValueError, match="model_flux"):
        chi2(np.ones((2, 4)), flux, ivar)


def test_on_model_grid_shape_errors_name_arrays():
    wl = np.linspace(4000, 5000, 10)
    with pytest.raises(ValueError, match=r"flux has shape \(2, 10\) but ivar has shape \(2, 9\)"):
        on_model_grid(wl, wl, np.ones((2, 10)), np.ones((2, 9)))
    with pytest.raises(ValueError, match=r"wavelength has shape \(9,\)"):
        on_model_grid(wl, wl[:9], np.ones((2, 10)), np.ones((2, 10)))
    with pytest.raises(ValueError, match="ivar of star 1 is negative"):
        on_model_grid(wl, wl, np.ones((2, 10)), np.array([[1.0] * 10, [1.0] * 9 + [-1.0]]))


def test_resampling_is_linear_and_masks_outside():
    model_wl = np.linspace(4000.0, 5000.0, 101)
    obs_wl = np.linspace(4100.0, 5100.0, 57)
    flux = 1.0 + 1e-4 * (obs_wl - 4500.0)  # linear: interpolation is exact
    ivar = np.full_like(flux, 4.0)
    ivar[20] = 0.0
    with pytest.warns(ResampleWarning, match="resampling"):
        f, w = on_model_grid(model_wl, obs_wl, flux, ivar)
    inside = (model_wl >= 4100.0) & (w[0] > 0)
    assert np.allclose(f[0, inside], 1.0 + 1e-4 * (model_wl[inside] - 4500.0))
    assert np.all(w[0, model_wl < 4100.0] == 0.0)
    near = np.abs(model_wl - obs_wl[20]) < (obs_wl[1] - obs_wl[0])
    assert np.all(w[0, near] == 0.0)  # neighbours of a masked pixel are masked


def test_spectra_file_roundtrip_and_errors(tmp_path):
    wl = np.linspace(4000, 5000, 8)
    path = write_spectra(tmp_path / "s.h5", wl, np.ones((2, 8)), np.ones((2, 8)))
    s = read_spectra(path)
    assert s.flux.shape == (2, 8) and np.array_equal(s.wavelength, wl)
    with pytest.raises(FileNotFoundError):
        read_spectra(tmp_path / "missing.h5")
    import h5py

    with h5py.File(tmp_path / "bad.h5", "w") as h5:
        h5["wavelength"] = wl
        h5["flux"] = np.ones((2, 8))
    with pytest.raises(ValueError, match="ivar"):
        read_spectra(tmp_path / "bad.h5")


# ------------------------------------------------------------------ fitting
@pytest.fixture(scope="module")
def full_fit(toy, truth):
    flux = toy.predict(truth)
    return _fit(toy, flux[:2], strategy="full", held=truth[:2], tol=0.05)


def test_full_fit_recovers_noiseless_spectra(toy, truth, full_fit):
    assert list(full_fit["status"]) == ["ok"] * 2
    err = _scaled_err(toy, _labels(full_fit), truth[:2])
    assert err.max() < 0.01, err.max(1)  # 1 % of each label's range (Teff: 42 K)
    assert np.all(np.asarray(full_fit["Chisq"]) < 0.05 / 200 * 10)
    assert set(full_fit.colnames) >= {"Chisq", "n_iter", "n_eval", "stop", "status", "[Mg/Fe]"}
    assert np.all(np.asarray(full_fit["n_eval"]) > np.asarray(full_fit["n_iter"]))
    assert full_fit.meta["STRATEGY"] == "full" and full_fit.meta["TOL"] == 0.05


def test_two_stage_recovers_when_group_ii_starts_right(toy):
    truth = sample_labels(2, 3)
    truth[:, [index(n) for n in GROUP_II]] = 0.0  # the default start of Group II
    table = _fit(toy, toy.predict(truth), strategy="two-stage", held=truth, tol=0.05)
    assert _scaled_err(toy, _labels(table), truth).max() < 0.01
    assert all(s.count("|") == 1 for s in table["stop"])  # one reason per stage


def test_two_stage_second_stage_fits_group_ii(toy, monkeypatch):
    """Section 2.2.1: stage I fits the 16 Group I labels, stage II the 12 Group II labels with
    Group I held at the stage I result. Started 0.3 of their range away from the truth, every
    Group II label ends closer to it than it started."""
    truth = sample_labels(2, 5)
    g1, g2 = [index(n) for n in GROUP_I], [index(n) for n in GROUP_II]
    assert len(g1) == 16 and len(g2) == 12
    stages = []  # (fitted label indices, start, result) of each CMA-ES stage

    def spy(model, flux, ivar, start, fit_idx, *args, **kw):
        res = run_stage(model, flux, ivar, start, fit_idx, *args, **kw)
        stages.append((sorted(fit_idx), start.copy(), res.labels.copy()))
        return res

    monkeypatch.setattr(fitting, "run_stage", spy)
    span = toy.label_max - toy.label_min
    middle = 0.5 * (toy.label_max + toy.label_min)
    start = truth.copy()  # Group II moved 0.3 of the range towards the middle (inside it)
    start[:, g2] += np.where(truth[:, g2] < middle[g2], 0.3, -0.3) * span[g2]
    table = _fit(toy, toy.predict(truth), strategy="two-stage", init=start, held=truth)
    assert list(table["status"]) == ["ok", "ok"]
    before = np.abs(start - truth)[:, g2]
    after = np.abs(_labels(table) - truth)[:, g2]
    assert np.all(after < before), dict(zip(GROUP_II, (after / before).max(0), strict=True))
    assert np.median(after / before) < 0.5  # most of them by far
    (fit1, _, res1), (fit2, start2, res2) = stages
    assert fit1 == sorted(g1) and fit2 == sorted(g2)
    assert np.array_equal(start2[:, g1], res1[:, g1])  # Group I held at the stage I result
    assert np.array_equal(_labels(table)[:, g1], res1[:, g1])
    assert np.array_equal(_labels(table), res2)


def test_chisq_is_eq15_over_the_unmasked_pixels(toy, truth):
    """Eq. 15: χ² = (1/n) Σ_i ((f_obs - f) / σ)², n the pixels used. With pixels masked (ivar
    0, flux garbage) the table's ``Chisq`` is that sum over the unmasked pixels only, divided by
    their number, at the returned labels (no other degrees-of-freedom correction)."""
    rng = np.random.default_rng(12)
    n_pix = len(toy.wavelength)
    snr = rng.uniform(50.0, 150.0, size=(2, n_pix))  # per-pixel σ
    flux = toy.predict(truth[:2]) + rng.standard_normal((2, n_pix)) / snr
    ivar = snr**2
    ivar[0, ::2] = 0.0  # star 0: half the pixels masked
    ivar[1, n_pix // 4 :] = 0.0  # star 1: three quarters masked
    flux[ivar == 0] = 7.0  # garbage where masked
    table = _fit(toy, flux, ivar, strategy="two-stage", init=truth[:2], max_iter=40)
    model = toy.predict(_labels(table))
    for i in range(2):
        good = ivar[i] > 0
        assert good.sum() in (n_pix // 2, n_pix - 3 * n_pix // 4)
        resid = (flux[i, good] - model[i, good]) * np.sqrt(ivar[i, good])
        expect = np.sum(resid**2) / good.sum()
        assert table["Chisq"][i] == pytest.approx(expect, rel=1e-9)
        assert 0.5 < expect < 2.0  # the noise level: a reduced χ² near 1


def test_plain_cma_start_also_converges(toy, truth):
    """Without the Gauss–Newton start CMA-ES needs more generations (about 200 for 28 labels
    with pycma 4.5.0, where 150 no longer suffice), but gets there and stops by itself."""
    flux = toy.predict(truth[:1])
    table = _fit(toy, flux, strategy="full", held=truth[:1], gn_steps=0, max_iter=300)
    assert _scaled_err(toy, _labels(table), truth[:1]).max() < 0.05
    assert table["stop"][0] == "tolchi2" and table["n_iter"][0] < 300


def test_bounds_respected(toy, truth):
    lab = truth[:1].copy()
    j = index("[Mg/Fe]")
    span = toy.label_max[j] - toy.label_min[j]
    lab[0, j] = toy.label_min[j] + 1.6 * span  # beyond the upper search bound 1.25
    table = _fit(toy, toy.predict(lab), strategy="full", held=lab, max_iter=60)
    s = (_labels(table) - toy.label_min) / (toy.label_max - toy.label_min)
    assert np.all(s[:, FIT_IDX] >= BOUNDS[0]) and np.all(s[:, FIT_IDX] <= BOUNDS[1])
    assert s[0, j] > 1.2  # pushed against the bound


def test_masked_pixels_do_not_change_result(toy, truth):
    flux = toy.predict(truth[:1])
    ivar = np.full_like(flux, IVAR)
    masked = np.zeros(flux.shape, bool)
    masked[:, ::5] = True
    ivar[masked] = 0.0
    a = _fit(toy, flux, ivar, strategy="full", held=truth[:1], max_iter=30)
    garbage = flux.copy()
    garbage[masked] = np.where(np.arange(masked.sum()) % 2, np.nan, 1e6)
    b = _fit(toy, garbage, ivar, strategy="full", held=truth[:1], max_iter=30)
    assert np.array_equal(_labels(a), _labels(b))
    assert np.array_equal(np.asarray(a["Chisq"]), np.asarray(b["Chisq"]))


def test_all_masked_star_gets_status_others_fitted(toy, truth):
    flux = toy.predict(truth)
    ivar = np.full_like(flux, IVAR)
    ivar[1] = 0.0
    table = _fit(toy, flux, ivar, strategy="full", held=truth, max_iter=10)
    assert "masked" in table["status"][1] and np.all(np.isnan(_labels(table)[1]))
    assert table["status"][0] == table["status"][2] == "ok"
    assert np.all(np.isfinite(_labels(table)[[0, 2]]))


def test_mismatched_lengths_in_fit(toy):
    flux = np.ones((2, len(toy.wavelength)))
    with pytest.raises(ValueError, match="ivar has shape"):
        fit_spectra(toy, toy.wavelength, flux, np.ones((2, 5)), progress=False)
    with pytest.raises(ValueError, match="wavelength has shape"):
        fit_spectra(toy, toy.wavelength[:-1], flux, flux, progress=False)
    with pytest.raises(ValueError, match="strategy"):
        fit_spectra(toy, toy.wavelength, flux, flux, strategy="three", progress=False)
    with pytest.raises(ValueError, match=r"init must have shape \(2, 34\)"):
        fit_spectra(toy, toy.wavelength, flux, flux, init=np.zeros((3, 34)), progress=False)


def test_other_wavelength_grid_is_resampled(toy, truth):
    flux = toy.predict(truth[:1])
    fine = np.linspace(toy.wavelength[0], toy.wavelength[-1], 3 * len(toy.wavelength))
    fine_flux = np.interp(fine, toy.wavelength, flux[0])[None]
    with pytest.warns(ResampleWarning, match="resampling"):
        table = fit_spectra(
            toy, fine, fine_flux, np.full_like(fine_flux, IVAR), held=truth[:1], max_iter=5
        )
    assert table["status"][0] == "ok"


def test_deterministic_and_batched_equals_one_at_a_time(toy, truth):
    flux, ivar = add_noise(toy.predict(truth), 100.0, seed=4)
    kw = dict(strategy="two-stage", held=truth, seed=7, max_iter=25)
    calls = toy.calls
    batched = _fit(toy, flux, ivar, batch_size=3, **kw)
    n_calls = toy.calls - calls
    calls = toy.calls
    single = _fit(toy, flux, ivar, batch_size=1, **kw)
    n_calls_single = toy.calls - calls
    again = _fit(toy, flux, ivar, batch_size=3, **kw)
    other = _fit(toy, flux, ivar, batch_size=3, **{**kw, "seed": 8})
    assert np.array_equal(_labels(batched), _labels(single))
    assert np.array_equal(_labels(batched), _labels(again))
    assert list(batched["n_eval"]) == list(single["n_eval"])
    assert not np.array_equal(_labels(batched), _labels(other))
    # one predict call per generation for the whole batch: far fewer calls than one at a time
    assert n_calls < 0.6 * n_calls_single, (n_calls, n_calls_single)


def test_chi2_scaled_stop_saves_evaluations_where_the_model_cannot_match(toy, truth):
    # a systematic misfit of ~4 % leaves chi2_r >> 1 at S/N 100: the scaled stop ends sooner
    wiggle = 0.04 * np.sin(np.linspace(0.0, 40.0, toy.wavelength.size))
    flux = toy.predict(truth) + wiggle
    runs = {s: _fit(toy, flux, strategy="full", scale_tol=s) for s in (False, True)}
    assert np.all(np.asarray(runs[False]["Chisq"]) > 3.0)
    assert runs[True]["n_eval"].sum() < runs[False]["n_eval"].sum()
    assert runs[True].meta["SCALETOL"] is True and runs[False].meta["SCALETOL"] is False


class _Interrupting:
    """The toy, raising KeyboardInterrupt on predict call number ``fail_on``."""

    def __init__(self, model, fail_on):
        self.model, self.fail_on, self.calls = model, fail_on, 0
        self.wavelength, self.label_min, self.label_max = (
            model.wavelength, model.label_min, model.label_max,
        )  # fmt: skip

    def predict(self, labels):
        self.calls += 1
        if self.calls == self.fail_on:
            raise KeyboardInterrupt
        return self.model.predict(labels)


def test_interrupted_fit_resumes_from_checkpoint(tmp_path, toy, truth):
    flux, ivar = add_noise(toy.predict(truth), 100.0, seed=2)
    kw = dict(strategy="full", held=truth, max_iter=15, batch_size=1, progress=False)
    ckpt = tmp_path / "fit.partial.npz"
    whole = fit_spectra(toy, toy.wavelength, flux, ivar, **kw)
    with pytest.raises(KeyboardInterrupt):
        fit_spectra(_Interrupting(toy, 40), toy.wavelength, flux, ivar, checkpoint=ckpt, **kw)
    assert ckpt.is_file()  # the first star(s) are saved
    counting = _Interrupting(toy, 0)
    resumed = fit_spectra(counting, toy.wavelength, flux, ivar, checkpoint=ckpt, **kw)
    assert np.array_equal(_labels(resumed), _labels(whole)) and not ckpt.exists()
    fresh = _Interrupting(toy, 0)
    fit_spectra(fresh, toy.wavelength, flux, ivar, **kw)
    assert counting.calls < fresh.calls  # finished stars were not fitted again
    with pytest.raises(KeyboardInterrupt):
        fit_spectra(_Interrupting(toy, 40), toy.wavelength, flux, ivar, checkpoint=ckpt, **kw)
    with pytest.raises(ValueError, match="checkpoint"):
        fit_spectra(toy, toy.wavelength, flux, ivar, checkpoint=ckpt, **{**kw, "seed": 1})


def test_nan_model_spectra_are_ranked_last(toy, truth):
    j = index("[Mg/Fe]")

    class NaNAbove(_Interrupting):  # NaN flux where [Mg/Fe] > truth + 0.05: never chosen
        def predict(self, labels):
            out = self.model.predict(labels)
            out[labels[:, j] > truth[0, j] + 0.05] = np.nan
            return out

    flux = toy.predict(truth[:1])
    table = _fit(NaNAbove(toy, 0), flux, strategy="full", held=truth[:1], max_iter=20)
    assert np.isfinite(table["Chisq"][0]) and table["[Mg/Fe]"][0] <= truth[0, j] + 0.05
    chi = chi2(np.array([[1.0, np.nan], [1.0, 1.0]]), np.ones((2, 2)), np.ones((2, 2)))
    assert chi[0] == np.inf and chi[1] == 0.0


def test_initial_covariance_is_used():
    import cma

    c = np.array([[4.0, 1.9], [1.9, 1.0]])
    opts = {"seed": 1, "verbose": -9, "popsize": 4000, "verb_log": 0}
    es = cma.CMAEvolutionStrategy([0.5, 0.5], 0.01, opts)
    set_covariance(es, c)
    x = (np.array(es.ask()) - 0.5) / 0.01
    shape = c / np.sqrt(np.prod(np.diag(c)))
    assert np.allclose(np.cov(x.T), shape, rtol=0.1, atol=0.05)


# ------------------------------------------------------------------ CLI
@pytest.fixture
def cli_toy(monkeypatch):
    model = ToyModel(n_pix=120, seed=2)
    monkeypatch.setattr(cli, "_load_model", lambda path: model)
    return model


def test_cli_fit_happy_path(tmp_path, capsys, cli_toy):
    truth = sample_labels(2, 1)
    flux, ivar = add_noise(cli_toy.predict(truth), 100.0, seed=0)
    spectra = write_spectra(tmp_path / "s.h5", cli_toy.wavelength, flux, ivar)
    out = tmp_path / "labels.fits"
    rc = cli.main(
        ["fit", "--model", "m.pt", "--spectra", str(spectra), "--out", str(out)]
        + ["--strategy", "full", "--seed", "3", "--errors", "--quiet"]
    )
    assert rc == 0
    assert capsys.readouterr().out.strip() == str(out)
    table = read_table(out)
    assert table.meta["STRATEGY"] == "full" and table.meta["SEED"] == 3
    assert len(table) == 2 and "[Fe/H]" in table.colnames and "Teff_err" in table.colnames
    assert list(table["status"]) == ["ok", "ok"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize(
    "extra, expect",
    [
        (["--seed", "-1"], "--seed"),
        (["--batch-size", "0"], "--batch-size"),
        (["--spectra-missing"], "spectra"),
    ],
)
def test_cli_fit_bad_args_exit_2(tmp_path, capsys, cli_toy, extra, expect):
    spectra = tmp_path / "s.h5"
    if extra != ["--spectra-missing"]:
        write_spectra(spectra, cli_toy.wavelength, np.ones((1, 120)), np.ones((1, 120)))
        args = extra
    else:
        args = []
    rc = cli.main(
        ["fit", "--model", "m.pt", "--spectra", str(spectra), "--out", str(tmp_path / "o.fits")]
        + args
        + ["--quiet"]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("phdl: error: ") and err.count("\n") == 1 and expect in err
    assert not (tmp_path / "o.fits").exists()


def test_cli_fit_bad_strategy_is_argparse_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["fit", "--model", "m", "--spectra", "s", "--out", "o", "--strategy", "x"])
    assert exc.value.code == 2 and "--strategy" in capsys.readouterr().err


def test_cli_fit_missing_model_file(tmp_path, capsys):
    spectra = write_spectra(tmp_path / "s.h5", np.linspace(4000, 5000, 5), np.ones(5), np.ones(5))
    rc = cli.main(
        ["fit", "--model", str(tmp_path / "none.pt"), "--spectra", str(spectra)]
        + ["--out", str(tmp_path / "o.fits"), "--quiet"]
    )
    assert rc == 2 and "none.pt" in capsys.readouterr().err
