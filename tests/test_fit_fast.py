"""The fast strategy (phdl.fit.fast): Levenberg–Marquardt on the model's Jacobian, with the
two-stage CMA-ES for the stars it leaves unconverged or above the χ² threshold."""

import numpy as np
import pytest

from phdl.fit import FITTED, ToyModel, add_noise, fit_spectra
from phdl.fit.fast import PRIOR, levenberg_marquardt, lm_step, predict_and_jacobian
from phdl.grid import sample_labels
from phdl.labels import GROUP_I, LABELS, index, scale

FIT_IDX = [index(n) for n in FITTED]
GROUP_I_IDX = [index(n) for n in LABELS if n in GROUP_I]


def _labels(table) -> np.ndarray:
    return np.stack([np.asarray(table[n], dtype=float) for n in LABELS], 1)


def _scaled(model, labels):
    return scale(labels, model.label_min, model.label_max)


@pytest.fixture(scope="module")
def toy():
    return ToyModel(n_pix=300, seed=3)


@pytest.fixture(scope="module")
def noisy(toy):
    truth = sample_labels(12, 5)
    flux, ivar = add_noise(toy.predict(truth), 100.0, seed=6)
    return truth, flux, ivar


@pytest.fixture(scope="module")
def fits(toy, noisy):
    truth, flux, ivar = noisy
    kw = dict(held=truth, progress=False, seed=1)
    return {s: fit_spectra(toy, toy.wavelength, flux, ivar, strategy=s, **kw)
            for s in ("fast", "two-stage")}  # fmt: skip


def test_lm_step_is_the_damped_normal_equations():
    rng = np.random.default_rng(0)
    jac = rng.normal(size=(2, 3, 40))
    ivar = rng.uniform(1.0, 2.0, size=(2, 40))
    resid = rng.normal(size=(2, 40))
    mu = np.array([0.0, 0.5])
    delta = lm_step(jac, ivar, resid, mu)
    for i in range(2):
        h = jac[i] @ np.diag(ivar[i]) @ jac[i].T
        a = h + mu[i] * np.diag(np.diag(h)) + np.eye(3) / PRIOR**2
        assert delta[i] == pytest.approx(np.linalg.solve(a, jac[i] @ (ivar[i] * resid[i])))


def test_lm_reaches_the_minimum_of_a_linear_model_at_once():
    """For a linear model χ² is quadratic: the first kept step lands on its minimum (up to
    the weak prior and μ), the next ones only polish, and the fit converges."""
    toy = ToyModel(n_pix=200, seed=1, linear=True)
    truth = sample_labels(4, 2)
    start = truth.copy()
    start[:, FIT_IDX] += 0.05 * (toy.label_max - toy.label_min)[FIT_IDX]
    res = levenberg_marquardt(toy, toy.predict(truth), np.full((4, 200), 1e4), start, FIT_IDX)
    err = np.abs(_scaled(toy, res.labels) - _scaled(toy, truth))[:, FIT_IDX]
    assert err.max() < 1e-4
    assert res.stop == ["converged"] * 4
    assert np.all(res.n_iter <= 4)
    # each iteration: one Jacobian (k + 1 spectra) at most and one trial spectrum
    assert np.all(res.n_eval <= res.n_iter * (len(FIT_IDX) + 2) + len(FIT_IDX) + 1)


def test_lm_stops_at_max_iter_and_keeps_held_labels(toy, noisy):
    truth, flux, ivar = noisy
    start = truth.copy()
    start[:, FIT_IDX] = 0.5 * (toy.label_min + toy.label_max)[FIT_IDX]
    res = levenberg_marquardt(toy, flux[:2], ivar[:2], start[:2], FIT_IDX, max_iter=1)
    assert res.stop == ["maxiter", "maxiter"] and list(res.n_iter) == [1, 1]
    held = [j for j in range(len(LABELS)) if j not in FIT_IDX]
    assert np.array_equal(res.labels[:, held], truth[:2, held])


def test_fast_recovers_noisy_spectra_as_well_as_cma_es(toy, noisy, fits):
    """The emulator's own spectra at S/N 100: per label, the fast strategy's rms error is
    within 10 % of the two-stage CMA-ES one (or better)."""
    truth = noisy[0]
    rms = {
        s: np.sqrt(np.mean((_scaled(toy, _labels(t)) - _scaled(toy, truth)) ** 2, axis=0))
        for s, t in fits.items()
    }
    worse = [
        (LABELS[j], rms["fast"][j], rms["two-stage"][j])
        for j in GROUP_I_IDX
        if rms["fast"][j] > 1.1 * rms["two-stage"][j] + 1e-3
    ]
    assert not worse
    assert np.median(fits["fast"]["Chisq"]) <= np.median(fits["two-stage"]["Chisq"]) * 1.02


def test_fast_costs_far_fewer_spectra_than_cma_es(fits):
    fast, cma = (np.asarray(fits[s]["n_eval"]) for s in ("fast", "two-stage"))
    assert np.median(fast) < 0.5 * np.median(cma)


def test_fast_records_its_stop_and_options(fits):
    table = fits["fast"]
    assert table.meta["STRATEGY"] == "fast" and table.meta["FALLBACK"] == "inf"
    assert all(s.startswith("lm:") for s in table["stop"])
    assert "FALLBACK" not in fits["two-stage"].meta


def test_stars_above_the_threshold_are_refitted_with_cma_es(toy, noisy):
    truth, flux, ivar = noisy
    kw = dict(strategy="fast", held=truth[:3], progress=False)
    never = fit_spectra(toy, toy.wavelength, flux[:3], ivar[:3], fallback_chi2=np.inf, **kw)
    always = fit_spectra(toy, toy.wavelength, flux[:3], ivar[:3], fallback_chi2=1e-9, **kw)
    assert not any("fallback" in s for s in never["stop"])
    assert all(s.startswith("lm:converged | fallback: ") for s in always["stop"])
    # the refit starts at the Levenberg–Marquardt result, which is kept unless CMA-ES ends lower
    assert np.all(np.asarray(always["Chisq"]) <= np.asarray(never["Chisq"]) * (1 + 1e-9))
    assert np.all(np.asarray(always["n_eval"]) > np.asarray(never["n_eval"]))


def test_fast_is_deterministic_and_independent_of_the_batch(toy, noisy, fits):
    truth, flux, ivar = noisy
    one = fit_spectra(toy, toy.wavelength, flux[:4], ivar[:4], strategy="fast", held=truth[:4],
                      batch_size=1, progress=False, seed=1)  # fmt: skip
    assert np.array_equal(_labels(one), _labels(fits["fast"])[:4])


def test_fast_reports_unusable_stars(toy, noisy):
    truth, flux, ivar = noisy
    ivar = ivar[:2].copy()
    ivar[1] = 0.0
    table = fit_spectra(toy, toy.wavelength, flux[:2], ivar, strategy="fast", held=truth[:2],
                        progress=False)  # fmt: skip
    assert table["status"][0] == "ok" and "no usable pixels" in table["status"][1]
    assert np.isfinite(table["Teff"][0])


def test_fallback_threshold_must_be_positive(toy, noisy):
    truth, flux, ivar = noisy
    with pytest.raises(ValueError, match="fallback_chi2"):
        fit_spectra(toy, toy.wavelength, flux[:1], ivar[:1], strategy="fast", fallback_chi2=0)


def test_predict_and_jacobian_falls_back_to_the_protocol(toy, noisy):
    truth = noisy[0][:2]
    f, jac = predict_and_jacobian(toy, truth, [0, 5])
    assert np.array_equal(f, toy.predict(truth))
    assert np.array_equal(jac, toy.jacobian(truth)[:, [0, 5]])


def test_a_start_model_is_fitted_first(toy, noisy):
    """With a start model (here a copy of the toy: its minimum is the model's own), the fit on
    the model starts at that minimum and needs almost no iterations."""

    class Counting(ToyModel):
        pass

    start_model = Counting(n_pix=300, seed=3)
    truth, flux, ivar = noisy
    kw = dict(strategy="fast", held=truth[:3], progress=False)
    alone = fit_spectra(toy, toy.wavelength, flux[:3], ivar[:3], **kw)
    helped = fit_spectra(toy, toy.wavelength, flux[:3], ivar[:3], start_model=start_model, **kw)
    assert start_model.calls > 0
    assert np.all(np.asarray(helped["n_iter"]) <= np.asarray(alone["n_iter"]))
    assert np.asarray(helped["n_iter"]).max() <= 2
    assert helped.meta["STARTMOD"] == "Counting" and alone.meta["STARTMOD"] == "none"
    assert np.allclose(_labels(helped), _labels(alone), atol=1e-3 * np.ptp(truth, 0) + 1e-9)


def test_lm_iter_caps_the_iterations_on_the_model(toy, noisy):
    truth, flux, ivar = noisy
    table = fit_spectra(toy, toy.wavelength, flux[:2], ivar[:2], strategy="fast", lm_iter=1,
                        held=truth[:2], progress=False)  # fmt: skip
    assert list(table["n_iter"]) == [1, 1] and table.meta["LMITER"] == 1
    with pytest.raises(ValueError, match="lm_iter"):
        fit_spectra(toy, toy.wavelength, flux[:1], ivar[:1], strategy="fast", lm_iter=0)


def test_cli_start_model_needs_the_fast_strategy(tmp_path, capsys, monkeypatch, toy, noisy):
    from phdl import cli
    from phdl.fit import read_table, write_spectra

    monkeypatch.setattr(cli, "_load_model", lambda path: toy)
    truth, flux, ivar = noisy
    spectra = write_spectra(tmp_path / "s.h5", toy.wavelength, flux[:2], ivar[:2])
    out = tmp_path / "t.fits"
    base = ["fit", "--model", "m.pt", "--spectra", str(spectra), "--out", str(out), "--quiet"]
    assert cli.main([*base, "--strategy", "two-stage", "--start-model", "mlp.pt"]) == 2
    assert "--start-model is for --strategy fast" in capsys.readouterr().err
    assert cli.main([*base, "--strategy", "fast", "--start-model", "mlp.pt"]) == 0
    assert read_table(out).meta["STARTMOD"] == "ToyModel"
