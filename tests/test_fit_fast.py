"""The fast strategy (phdl.fit.fast): Levenberg–Marquardt on the model's Jacobian, with the
two-stage CMA-ES for the stars it leaves unconverged or above the χ² threshold."""

import numpy as np
import pytest

from phdl.fit import FITTED, ToyModel, add_noise, fast, fit_spectra
from phdl.fit.cmaes import BOUNDS
from phdl.fit.fast import MU0, PRIOR, levenberg_marquardt, lm_step, predict_and_jacobian
from phdl.fit.spectra import chi2
from phdl.grid import sample_labels
from phdl.labels import GROUP_I, LABELS, index, scale, unscale

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


# ---------------------------------------------------------------- the algorithm, step by step
K = len(FIT_IDX)


def test_lm_step_prior_term_is_i_over_prior_squared(monkeypatch):
    """PRIOR is a width (scaled units): the weak term is I / PRIOR², whatever PRIOR is."""
    monkeypatch.setattr(fast, "PRIOR", 0.5)
    rng = np.random.default_rng(1)
    jac = 0.3 * rng.normal(size=(1, 3, 20))
    ivar = np.ones((1, 20))
    resid = rng.normal(size=(1, 20))
    h = jac[0] @ jac[0].T
    a = h + 0.1 * np.diag(np.diag(h)) + np.eye(3) / 0.5**2
    delta = lm_step(jac, ivar, resid, np.array([0.1]))
    assert delta[0] == pytest.approx(np.linalg.solve(a, jac[0] @ resid[0]), rel=1e-10)


class OnePass(ToyModel):
    """A model with its own one-pass ``predict_and_jacobian`` in float32 (as the emulator's
    forward-mode autodiff): :func:`predict_and_jacobian` must use it, never ``jacobian``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.passes: list[list[int]] = []

    def jacobian(self, labels, wavelength=None):
        raise AssertionError("a model's own predict_and_jacobian is to be used")

    def predict_and_jacobian(self, labels, which):
        self.passes.append(list(which))
        f = ToyModel.predict(self, labels)
        jac = ToyModel.jacobian(self, labels)[:, which]
        return f.astype(np.float32), jac.astype(np.float32)


def test_predict_and_jacobian_uses_the_models_one_pass_in_float64(toy, noisy):
    truth = noisy[0][:2]
    model = OnePass(n_pix=300, seed=3)
    f, jac = predict_and_jacobian(model, truth, [0, 5])
    assert model.passes == [[0, 5]]
    assert f.dtype == np.float64 and jac.dtype == np.float64
    assert jac.shape == (2, 2, 300)
    assert np.array_equal(f, toy.predict(truth).astype(np.float32))
    assert np.array_equal(jac, toy.jacobian(truth)[:, [0, 5]].astype(np.float32))
    # no columns: an empty Jacobian (n, 0, n_pix)
    f0, jac0 = predict_and_jacobian(toy, truth, [])
    assert jac0.shape == (2, 0, 300) and np.array_equal(f0, toy.predict(truth))


def test_predict_and_jacobian_matches_finite_differences(toy, noisy):
    labels = noisy[0][:1]
    which = [FIT_IDX[0], FIT_IDX[3]]
    _, jac = predict_and_jacobian(toy, labels, which)
    for c, j in enumerate(which):
        h = 1e-6 * (toy.label_max[j] - toy.label_min[j])
        up, down = labels.copy(), labels.copy()
        up[0, j] += h
        down[0, j] -= h
        fd = (toy.predict(up) - toy.predict(down)) / (2 * h)
        assert jac[0, c] == pytest.approx(fd[0], rel=1e-5, abs=1e-9 * np.abs(fd).max())


def test_lm_starts_just_inside_the_bounds_as_cma_es(toy, noisy):
    """A start outside BOUNDS (scaled) is moved 1e-6 of their width inside them (as CMA-ES's
    start, phdl.fit.cmaes); held labels are not touched. ``max_iter=0``: only the start's
    flux, χ² and Jacobian (k + 1 spectra)."""
    truth, flux, ivar = noisy
    lo, hi = toy.label_min, toy.label_max
    start = truth[:1].copy()
    a, b = FIT_IDX[0], FIT_IDX[4]
    held = next(j for j in range(len(LABELS)) if j not in FIT_IDX)
    start[0, a] = unscale(-1.0, lo[a], hi[a])
    start[0, b] = unscale(3.0, lo[b], hi[b])
    start[0, held] = unscale(5.0, lo[held], hi[held])
    res = levenberg_marquardt(toy, flux[:1], ivar[:1], start, FIT_IDX, max_iter=0)
    eps = 1e-6 * (BOUNDS[1] - BOUNDS[0])
    x = scale(res.labels[0], lo, hi)
    assert x[a] == pytest.approx(BOUNDS[0] + eps, abs=1e-12)
    assert x[b] == pytest.approx(BOUNDS[1] - eps, abs=1e-12)
    assert res.labels[0, held] == start[0, held]
    rest = [j for j in FIT_IDX if j not in (a, b)]
    assert res.labels[0, rest] == pytest.approx(start[0, rest], rel=1e-12)
    assert res.stop == ["maxiter"] and res.n_iter[0] == 0 and res.n_eval[0] == K + 1


def test_lm_trial_points_stay_within_the_bounds():
    """The trial point is clip(x + δ, BOUNDS): a minimum beyond them is not followed."""
    toy = ToyModel(n_pix=200, seed=1, linear=True)
    truth = sample_labels(2, 2)
    j = FIT_IDX[2]
    truth[:, j] = unscale(1.6, toy.label_min[j], toy.label_max[j])  # beyond BOUNDS[1]
    start = truth.copy()
    start[:, FIT_IDX] = 0.5 * (toy.label_min + toy.label_max)[FIT_IDX]
    res = levenberg_marquardt(toy, toy.predict(truth), np.full((2, 200), 1e4), start, FIT_IDX)
    x = _scaled(toy, res.labels)[:, FIT_IDX]
    assert np.all(x >= BOUNDS[0] - 1e-12) and np.all(x <= BOUNDS[1] + 1e-12)
    assert np.all(_scaled(toy, res.labels)[:, j] > BOUNDS[1] - 0.05)


def test_lm_stalls_where_no_step_lowers_chi2(noisy, monkeypatch):
    """Labels without any effect on the flux: every step leaves χ² where it is, so it is
    refused (a step is kept only if χ² is lower), μ grows 4× per refusal with the same
    Jacobian (no new one: n_eval = k + 1 + n_iter), and the star is "stalled" at the first
    refusal where μ exceeds MU_MAX (not when it reaches it)."""
    flat = ToyModel(n_pix=50, seed=0, linear=True, strength=np.zeros(len(LABELS)))
    start = noisy[0][:2]
    flux, ivar = add_noise(np.ones((2, 50)), 50.0, seed=2)
    for mu0 in (MU0, fast.MU_MAX / 4**3):
        monkeypatch.setattr(fast, "MU0", mu0)
        mu, n = mu0, 0
        while mu <= fast.MU_MAX:
            mu, n = mu * 4.0, n + 1
        res = levenberg_marquardt(flat, flux, ivar, start, FIT_IDX)
        assert res.stop == ["stalled", "stalled"]
        assert list(res.n_iter) == [n, n]
        assert list(res.n_eval) == [K + 1 + n] * 2
        assert res.labels == pytest.approx(start, rel=1e-12)
    assert n == 4


def _step(model, flux, ivar, labels, mu):
    """One damped step of the module docstring, by hand: (trial labels, total χ² there)."""
    lo, hi = model.label_min[FIT_IDX], model.label_max[FIT_IDX]
    f, jac = predict_and_jacobian(model, labels, FIT_IDX)
    delta = lm_step(jac * (hi - lo)[None, :, None], ivar, flux - f, np.array([mu]))
    trial = labels.copy()
    trial[:, FIT_IDX] = unscale(np.clip(scale(labels[:, FIT_IDX], lo, hi) + delta, *BOUNDS),
                                lo, hi)  # fmt: skip
    return trial, chi2(model.predict(trial), flux, ivar, reduced=False)[0]


def test_lm_takes_the_damped_steps_and_shrinks_mu_3x_after_a_kept_one(toy, noisy):
    truth, flux, ivar = noisy
    flux, ivar = flux[:1], ivar[:1]
    start = truth[:1].copy()
    start[:, FIT_IDX] = 0.5 * (truth[:1, FIT_IDX] + 0.5 * (toy.label_min + toy.label_max)[FIT_IDX])
    x0 = levenberg_marquardt(toy, flux, ivar, start, FIT_IDX, max_iter=0).labels
    chi0 = chi2(toy.predict(x0), flux, ivar, reduced=False)[0]
    x1, chi1 = _step(toy, flux, ivar, x0, MU0)
    x2, chi2_ = _step(toy, flux, ivar, x1, MU0 / 3.0)
    assert chi1 < chi0 and chi2_ < chi1  # both steps are kept
    for n, want in ((1, x1), (2, x2)):
        res = levenberg_marquardt(toy, flux, ivar, start, FIT_IDX, tol=0.0, max_iter=n)
        got = _scaled(toy, res.labels)[:, FIT_IDX]
        assert got == pytest.approx(_scaled(toy, want)[:, FIT_IDX], abs=1e-10)
        assert res.n_eval[0] == (n + 1) * (K + 1) + n  # a new Jacobian after each kept step


def _first_gain(model, flux, ivar, start):
    """The χ² gain of the first (kept) step and the reduced χ² of the stop rule."""
    x0 = levenberg_marquardt(model, flux, ivar, start, FIT_IDX, max_iter=0).labels
    one = levenberg_marquardt(model, flux, ivar, start, FIT_IDX, tol=np.inf, max_iter=1)
    # a kept step that ends the fit costs one trial spectrum and no new Jacobian
    assert one.stop == ["converged"] and one.n_iter[0] == 1 and one.n_eval[0] == K + 2
    c0 = chi2(model.predict(x0), flux, ivar, reduced=False)[0]
    c1 = chi2(model.predict(one.labels), flux, ivar, reduced=False)[0]
    assert c1 < c0
    return c0 - c1, min(c0, c1) / (ivar > 0).sum()


def test_lm_stop_rule_is_a_gain_below_tol_times_the_reduced_chi2():
    """A kept step ends the fit iff its χ² gain is less than tol (default 1) times
    max(1, reduced χ²)."""
    toy = ToyModel(n_pix=200, seed=1, linear=True)
    truth = sample_labels(1, 2)
    ivar = np.full((1, 200), 1e4)
    span = (toy.label_max - toy.label_min)[FIT_IDX]

    def stop(flux, start, **kw):
        res = levenberg_marquardt(toy, flux, ivar, start, FIT_IDX, max_iter=1, **kw)
        return res.stop[0], res.n_eval[0]

    # noiseless (reduced χ² < 1): the threshold is tol itself; a gain of about 1.5
    flux = toy.predict(truth)
    start = truth.copy()
    start[:, FIT_IDX] += 0.02 * span
    g, _ = _first_gain(toy, flux, ivar, start)
    start[:, FIT_IDX] = truth[:, FIT_IDX] + 0.02 * span * np.sqrt(1.5 / g)
    g, red = _first_gain(toy, flux, ivar, start)
    assert 1.2 < g < 1.8 and red < 1
    assert stop(flux, start) == ("maxiter", 2 * (K + 1) + 1)  # default tol = 1 < gain
    assert stop(flux, start, tol=2.0)[0] == "converged"
    assert stop(flux, start, tol=g)[0] == "maxiter"  # "less than tol": a gain of tol goes on
    assert stop(flux, start, tol=np.nextafter(g, np.inf))[0] == "converged"
    # noisy (reduced χ² well above 1): the threshold is tol · reduced χ²
    flux = flux + np.random.default_rng(4).normal(0.0, 0.03, size=flux.shape)
    start[:, FIT_IDX] = truth[:, FIT_IDX] + 0.05 * span
    g, red = _first_gain(toy, flux, ivar, start)
    assert red > 2
    assert stop(flux, start, tol=1.02 * g / red)[0] == "converged"
    assert stop(flux, start, tol=0.98 * g / red)[0] == "maxiter"


def test_lm_chisq_is_reduced_over_the_unmasked_pixels_and_masked_ones_are_ignored(toy, noisy):
    truth, flux, ivar = noisy
    flux = flux[:2].copy()
    ivar = np.full_like(flux, 0.5)  # ivar below 1 counts too
    ivar[0, ::2] = 0.0
    ivar[1, 1:] = 0.0  # a single unmasked pixel
    flux[1, 0] += 0.3
    start = truth[:2].copy()
    start[:, FIT_IDX] = 0.5 * (toy.label_min + toy.label_max)[FIT_IDX]
    res = levenberg_marquardt(toy, flux, ivar, start, FIT_IDX, max_iter=3)
    assert res.chisq == pytest.approx(chi2(toy.predict(res.labels), flux, ivar), rel=1e-12)
    assert res.chisq[1] == pytest.approx(0.5 * (flux[1, 0] - toy.predict(res.labels)[1, 0]) ** 2)
    garbage = np.where(ivar > 0, flux, 7.0)
    other = levenberg_marquardt(toy, garbage, ivar, start, FIT_IDX, max_iter=3)
    assert np.array_equal(other.labels, res.labels) and np.array_equal(other.chisq, res.chisq)


def test_lm_result_is_float64_labels_and_integer_counts(toy, noisy):
    """A float32 start (as read from a float32 table) is fitted in float64."""
    truth, flux, ivar = noisy
    start = truth[:2].astype(np.float32)
    res = levenberg_marquardt(toy, flux[:2], ivar[:2], start, FIT_IDX, max_iter=2)
    ref = levenberg_marquardt(toy, flux[:2], ivar[:2], start.astype(np.float64), FIT_IDX,
                              max_iter=2)  # fmt: skip
    assert res.labels.dtype == np.float64 and res.chisq.dtype == np.float64
    assert np.issubdtype(res.n_iter.dtype, np.integer)
    assert np.issubdtype(res.n_eval.dtype, np.integer)
    assert np.array_equal(res.labels, ref.labels) and np.array_equal(res.chisq, ref.chisq)


def test_lm_with_no_labels_to_fit_returns_the_start(toy, noisy):
    truth, flux, ivar = noisy
    res = levenberg_marquardt(toy, flux[:2], ivar[:2], truth[:2], [], max_iter=3)
    assert np.array_equal(res.labels, truth[:2])
    assert res.chisq == pytest.approx(chi2(toy.predict(truth[:2]), flux[:2], ivar[:2]))
