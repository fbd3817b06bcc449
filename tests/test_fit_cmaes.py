"""phdl.fit.cmaes and phdl.fit.fitting in detail: pycma's options, the initial covariance, the
starting bank, the default held labels, option validation, the label table's meta, the
bookkeeping of the stages (n_iter, n_eval, stop reasons, progress)."""

from types import SimpleNamespace

import cma
import numpy as np
import pytest

from phdl.fit import ToyModel, fitting
from phdl.fit.cmaes import BOUNDS, StageOptions, _Stage, new_strategy, run_stage, set_covariance
from phdl.fit.spectra import chi2
from phdl.labels import LABELS, N_LABELS, NOT_FITTED, index, unscale


@pytest.fixture(scope="module")
def toy():
    return ToyModel(n_pix=120, seed=3)


def _run_es(es):
    while not es.stop():
        x = es.ask()
        es.tell(x, [float(np.sum(np.asarray(v) ** 2)) for v in x])
    return es


# ------------------------------------------------------------------ new_strategy, set_covariance
def test_new_strategy_passes_its_options_to_pycma(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    state = np.random.get_state()[1].copy()
    es = new_strategy(np.full(3, 0.5), 0.2, (1, 2, 3), popsize=7, max_iter=4)
    assert es.popsize == 7
    assert list(es.opts["bounds"]) == list(BOUNDS)
    assert isinstance(es.boundary_handler, cma.BoundTransform)
    _run_es(es)
    assert es.countiter == 4 and "maxiter" in es.stop()
    # own generator: reproducible from the seed, global numpy RNG untouched
    a = np.asarray(new_strategy(np.full(3, 0.5), 0.2, (1, 2, 3), 7, 4).ask())
    b = np.asarray(new_strategy(np.full(3, 0.5), 0.2, (1, 2, 3), 7, 4).ask())
    c = np.asarray(new_strategy(np.full(3, 0.5), 0.2, (1, 2, 4), 7, 4).ask())
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.array_equal(np.random.get_state()[1], state)
    # silent: nothing printed, no pycma log files written
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert list(tmp_path.iterdir()) == []


def test_set_covariance_sets_the_normalized_shape():
    es = new_strategy(np.full(3, 0.5), 0.1, (0,), 8, 10)
    cov = np.array([[1.0, 0.5, 0.0], [0.5, 4.0, 1.0], [0.0, 1.0, 16.0]], dtype=np.float32)
    set_covariance(es, cov)
    expect = cov.astype(np.float64) / 4.0  # geometric mean of the variances 1, 4, 16
    assert es.sm.C.dtype == np.float64
    assert np.allclose(es.sm.C, expect)
    assert np.allclose(es.D, np.sqrt(np.diag(expect)))
    assert np.allclose(es.dC, np.diag(expect))
    assert es.sigma == pytest.approx(0.1)
    for bad in (
        np.eye(2),  # wrong shape, positive diagonal
        np.diag([1.0, 0.0, 1.0]),  # a zero variance
        np.diag([1.0, -1.0, 1.0]),
        np.where(np.eye(3) > 0, 1.0, np.nan),  # non-finite off-diagonal, positive diagonal
    ):
        with pytest.raises(ValueError, match=r"\(3, 3\) positive definite"):
            set_covariance(new_strategy(np.full(3, 0.5), 0.1, (0,), 8, 10), bad)


# ------------------------------------------------------------------ _Stage / run_stage
FIT3 = [index("Teff"), index("logg"), index("[Fe/H]")]


def _stage_data(toy, m=2, seed=1):
    rng = np.random.default_rng(seed)
    truth = np.repeat(fitting.default_labels(toy)[None], m, 0)
    truth[:, FIT3] = unscale(rng.uniform(0.2, 0.8, (m, 3)), toy.label_min[FIT3],
                             toy.label_max[FIT3])  # fmt: skip
    flux = toy.predict(truth)
    ivar = np.full_like(flux, 1e4)
    start = fitting.default_labels(toy)[None].repeat(m, 0)
    return flux, ivar, start


def test_run_stage_popsize_evaluations_and_callback(toy):
    flux, ivar, start = _stage_data(toy, m=2)
    calls = []
    n0 = len(toy.rows)
    res = run_stage(toy, flux, ivar, start, FIT3, [(0, 0, 0), (0, 1, 0)],
                    StageOptions(max_iter=3, tol=1e-12, popsize=5), sigma0=0.1,
                    on_generation=calls.append)  # fmt: skip
    rows = toy.rows[n0:]
    assert rows[:3] == [10, 10, 10] and rows[3:] == [2]  # 2 stars x λ=5, then the two means
    assert calls == [2, 2, 0]
    assert list(res.n_iter) == [3, 3] and list(res.n_eval) == [16, 16]
    assert all("maxiter" in s for s in res.stop)
    # reported χ² is that of the reported labels (mean or sample, whichever won)
    assert np.allclose(res.chisq, chi2(toy.predict(res.labels), flux, ivar))
    # the held labels stay at start, the fitted ones in the bounds
    others = np.setdiff1d(np.arange(N_LABELS), FIT3)
    assert np.array_equal(res.labels[:, others], start[:, others])
    # default popsize: pycma's 4 + floor(3 ln 3) = 7
    n0 = len(toy.rows)
    run_stage(toy, flux[:1], ivar[:1], start[:1], FIT3, [(0, 0, 0)],
              StageOptions(max_iter=1, tol=1e-12), sigma0=0.1)  # fmt: skip
    assert toy.rows[n0] == 7


class _Spy:
    """A model recording every spectrum it predicts."""

    def __init__(self, model):
        self.model, self.out = model, []
        self.wavelength, self.label_min, self.label_max = (
            model.wavelength, model.label_min, model.label_max)  # fmt: skip

    def predict(self, labels):
        f = self.model.predict(labels)
        self.out.append(f)
        return f


def test_run_stage_keeps_the_best_evaluated_point(toy):
    m, lam = 6, 8
    flux, ivar, start = _stage_data(toy, m=m, seed=4)
    spy = _Spy(toy)
    res = run_stage(spy, flux, ivar, start, FIT3, [(3, i, 0) for i in range(m)],
                    StageOptions(max_iter=2, tol=1e-12, popsize=lam), sigma0=0.3)  # fmt: skip
    gens = [chi2(f, np.repeat(flux, lam, 0), np.repeat(ivar, lam, 0)).reshape(m, lam)
            for f in spy.out[:-1]]  # fmt: skip
    means = chi2(spy.out[-1], flux, ivar)
    assert np.array_equal(res.chisq, np.minimum(np.min(np.concatenate(gens, 1), 1), means))
    assert list(res.n_eval) == [2 * lam + 1] * m


def test_stage_tolerance_and_start_inside_bounds(toy):
    flux, ivar, start = _stage_data(toy, m=2)
    ivar = np.full_like(flux, 0.5)
    ivar[0, :20] = 0.0
    stage = _Stage(toy, flux, ivar, start, FIT3, StageOptions(max_iter=3, tol=2.0))
    n = flux.shape[1]
    assert np.allclose(stage.tol, [2.0 / (n - 20), 2.0 / n])  # tol in total χ², per usable pixel
    # a start outside the search bounds begins just inside them
    lo, hi = toy.label_min[FIT3], toy.label_max[FIT3]
    start = start.copy()
    start[0, FIT3] = unscale(np.array([2.0, -1.0, 1.25]), lo, hi)
    start[1, FIT3] = unscale(np.array([-0.25, 0.5, 0.5]), lo, hi)
    stage = _Stage(toy, flux, ivar, start, FIT3, StageOptions(max_iter=3, tol=2.0))
    stage.begin([(0, 0, 0), (0, 1, 0)], np.array([0.1, 0.1]), None)
    mean = np.array([np.asarray(es.x0, dtype=float) for es in stage.strategies])
    assert np.all(mean > BOUNDS[0]) and np.all(mean < BOUNDS[1])
    assert np.allclose(mean, [[1.25, -0.25, 1.25], [-0.25, 0.5, 0.5]], rtol=0, atol=1e-5)
    eps = 1e-6 * (BOUNDS[1] - BOUNDS[0])  # the documented inward margin
    assert mean[0, 0] == mean[0, 2] == BOUNDS[1] - eps
    assert mean[0, 1] == mean[1, 0] == BOUNDS[0] + eps


def test_run_stage_int_start_and_cov0(toy):
    flux, ivar, start = _stage_data(toy, m=1)
    opts = StageOptions(max_iter=3, tol=1e-12, popsize=6)
    res = run_stage(toy, flux, ivar, start, FIT3, [(0, 0, 0)], opts, sigma0=0.1)
    int_start = np.round(start).astype(np.int64)
    res_int = run_stage(toy, flux, ivar, int_start, FIT3, [(0, 0, 0)], opts, sigma0=0.1)
    assert res_int.labels.dtype == np.float64
    assert not np.allclose(res_int.labels[:, FIT3], np.round(res_int.labels[:, FIT3]))
    cov0 = np.diag([1.0, 1e-4, 1e-4])[None]
    res_cov = run_stage(toy, flux, ivar, start, FIT3, [(0, 0, 0)], opts, sigma0=0.1, cov0=cov0)
    assert not np.allclose(res.labels, res_cov.labels)
    # the strategies get the covariance shape
    stage = _Stage(toy, flux, ivar, start, FIT3, opts)
    stage.begin([(0, 0, 0)], np.array([0.1]), cov0)
    c = stage.strategies[0].sm.C
    assert np.allclose(c, cov0[0] / np.exp(np.mean(np.log(np.diag(cov0[0])))))


# ------------------------------------------------------------------ default_labels, bank_start
def test_default_labels_middle_and_solar_xfe(toy):
    lo, hi = toy.label_min.copy(), toy.label_max.copy()
    out = fitting.default_labels(toy)
    for j, name in enumerate(LABELS):
        if name.endswith("/Fe]") and lo[j] <= 0 <= hi[j]:
            assert out[j] == 0.0, name
        else:
            assert out[j] == pytest.approx(0.5 * (lo[j] + hi[j])), name
    assert out[index("vmic")] == pytest.approx(1.75)
    assert out[index("Teff")] == pytest.approx(0.5 * (lo[0] + hi[0]))
    # 0 at an edge of the range is inside it; a range excluding 0 keeps its middle
    xfe = [j for j, n in enumerate(LABELS) if n.endswith("/Fe]")]
    lo[xfe[0]], hi[xfe[1]] = 0.0, 0.0
    lo[xfe[2]], hi[xfe[2]] = 0.1, 0.5
    out = fitting.default_labels(SimpleNamespace(label_min=lo, label_max=hi))
    assert out[xfe[0]] == 0.0 and out[xfe[1]] == 0.0
    assert out[xfe[2]] == pytest.approx(0.3)


def test_bank_start_picks_the_bank_cell(toy):
    idx = [index("Teff"), index("logg"), index("[Fe/H]")]
    base = fitting.default_labels(toy)
    cells = [(2, 3, 4), (7, 0, 5), (0, 5, 0)]
    truth = np.repeat(base[None], len(cells), 0)
    for r, c in enumerate(cells):
        s = (np.array(c) + 0.5) / np.array(fitting.BANK_SHAPE)
        truth[r, idx] = unscale(s, toy.label_min[idx], toy.label_max[idx])
    flux = toy.predict(truth)
    ivar = np.ones_like(flux)
    n0 = len(toy.rows)
    out = fitting.bank_start(toy, flux, ivar, base)
    assert toy.rows[n0:] == [288]
    assert np.allclose(out, truth, rtol=0, atol=1e-9)
    # an integer-valued base: the cell centres are not truncated
    out = fitting.bank_start(toy, flux, ivar, [int(round(v)) for v in base])
    assert np.allclose(out[:, idx], truth[:, idx], rtol=0, atol=1e-9)


# ------------------------------------------------------------------ option validation
def test_check_options_errors_name_the_option():
    ok = dict(strategy="two-stage", popsize=8, max_iter=10, tol=1.0, batch_size=4, sigma0=0.1)
    fitting._check_options(**ok)
    for good in (dict(popsize=None), dict(popsize=2), dict(max_iter=1), dict(batch_size=1),
                 dict(sigma0=1.0), dict(popsize=np.int64(3))):  # fmt: skip
        fitting._check_options(**{**ok, **good})
    bad = [
        ("strategy", "nope"),
        ("popsize", 1),
        ("popsize", 2.5),
        ("popsize", 8.0),
        ("max_iter", 0),
        ("max_iter", 1.5),
        ("tol", 0.0),
        ("tol", -1.0),
        ("batch_size", 0),
        ("batch_size", 2.5),
        ("sigma0", 0.0),
        ("sigma0", 1.5),
    ]
    for name, value in bad:
        with pytest.raises(ValueError, match=name):
            fitting._check_options(**{**ok, name: value})


def test_labels_arg_broadcasts_and_names_the_bad_value():
    row = list(range(N_LABELS))  # ints: returned as float64
    arr = fitting._labels_arg(row, 3, "init")
    assert arr.shape == (3, N_LABELS) and arr.dtype == np.float64
    assert np.array_equal(arr, np.repeat(np.arange(N_LABELS, dtype=float)[None], 3, 0))
    with pytest.raises(ValueError, match=r"init must have shape \(3, 34\)"):
        fitting._labels_arg(np.zeros((2, N_LABELS)), 3, "init")
    bad = np.zeros((3, N_LABELS))
    bad[1, index("logg")] = np.nan
    bad[2, index("Teff")] = np.inf
    with pytest.raises(ValueError, match=r"init of star 1 has a non-finite logg"):
        fitting._labels_arg(bad, 3, "init")


def test_start_held_errors_name_held(toy):
    flux = toy.predict(fitting.default_labels(toy)[None].repeat(2, 0))
    ivar = np.ones_like(flux)
    init = fitting.default_labels(toy)[None].repeat(2, 0)
    with pytest.raises(ValueError, match=r"^held must have shape"):
        fitting._start(toy, flux, ivar, np.arange(2), init, np.zeros((3, N_LABELS)))
    held = np.zeros(N_LABELS)
    held[[index(n) for n in NOT_FITTED]] = 0.25
    start = fitting._start(toy, flux, ivar, np.arange(2), init, held)
    assert np.all(start[:, [index(n) for n in NOT_FITTED]] == 0.25)


# ------------------------------------------------------------------ the table
def _fake_ckpt(n):
    return SimpleNamespace(labels=np.zeros((n, N_LABELS)), chisq=np.ones(n),
                           n_iter=np.ones(n, dtype=np.int64), n_eval=np.ones(n, dtype=np.int64),
                           stop=["maxiter"] * n)  # fmt: skip


def test_table_columns_and_meta():
    stage = StageOptions(max_iter=7, tol=2.0, popsize=None, scale_tol=True)
    opts = fitting.FitOptions("two-stage", 5, stage, sigma0=0.2, gn_steps=1)
    t = fitting._table(_fake_ckpt(2), np.array(["ok", "bad"], dtype=object), opts)
    assert t.colnames == [*LABELS, "Chisq", "n_iter", "n_eval", "stop", "status"]
    assert t.meta == {"STRATEGY": "two-stage", "SEED": 5, "POPSIZE": "pycma default",
                      "MAXITER": 7, "TOL": 2.0, "SCALETOL": True, "SIGMA0": 0.2,
                      "GNSTEPS": 1}  # fmt: skip
    assert list(t["status"]) == ["ok", "bad"]
    # no stars: the string columns are still strings
    t0 = fitting._table(_fake_ckpt(0), np.array([], dtype=object), opts)
    assert t0["stop"].dtype.kind == "U" and t0["status"].dtype.kind == "U"
    stage = StageOptions(max_iter=7, tol=2.0, popsize=9, scale_tol=False)
    opts = fitting.FitOptions("fast", 5, stage, sigma0=0.2, gn_steps=1, lm_iter=3,
                              start_model="mlp")  # fmt: skip
    t = fitting._table(_fake_ckpt(1), np.array(["ok"], dtype=object), opts)
    assert t.meta["POPSIZE"] == 9 and t.meta["SCALETOL"] is False
    assert t.meta["FALLBACK"] == "inf" and t.meta["LMITER"] == 3 and t.meta["STARTMOD"] == "mlp"


def test_model_name():
    assert fitting._model_name(None) == ""
    assert fitting._model_name(SimpleNamespace(kind="mlp")) == "mlp"
    assert fitting._model_name(ToyModel(n_pix=10)) == "ToyModel"


# ------------------------------------------------------------------ fit_spectra bookkeeping
class _Bar:
    posts: list = []

    def __init__(self, *a, **k):
        self.kw = k

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def set_postfix(self, **k):
        _Bar.posts.append((k["stage"], k["running"]))

    def update(self, n):
        pass


def _truth_flux(toy, m, seed=2):
    rng = np.random.default_rng(seed)
    lab = fitting.default_labels(toy)[None].repeat(m, 0)
    fit = [index(n) for n in fitting.FITTED]
    lab[:, fit] = unscale(rng.uniform(0.3, 0.7, (m, len(fit))), toy.label_min[fit],
                          toy.label_max[fit])  # fmt: skip
    return lab, toy.predict(lab)


def test_fit_spectra_two_stage_bookkeeping(toy, monkeypatch):
    monkeypatch.setattr("tqdm.tqdm", _Bar)
    _Bar.posts = []
    stages = []
    real_run_stage = fitting.run_stage

    def spy_stage(*a, **k):
        stages.append((a[4], k["sigma0"], k["cov0"]))
        return real_run_stage(*a, **k)

    monkeypatch.setattr(fitting, "run_stage", spy_stage)
    lab, flux = _truth_flux(toy, 2)
    init = fitting.default_labels(toy)[None].repeat(2, 0)
    n0 = len(toy.rows)
    t = fitting.fit_spectra(toy, toy.wavelength, flux, np.full_like(flux, 1e4), init=init,
                            max_iter=2, popsize=5, gn_steps=1, progress=False)  # fmt: skip
    rows = sum(toy.rows[n0:])
    assert list(t["n_iter"]) == [4, 4]  # 2 generations in each of the 2 stages
    assert int(np.sum(t["n_eval"])) == rows  # every spectrum evaluated for these stars
    k1, k2 = len(fitting.GROUP_I), len(fitting.GROUP_II)
    # one Gauss-Newton step (2k + 4 spectra) and 2 generations of 5 plus the mean, per stage
    assert list(t["n_eval"]) == [(2 * k1 + 4) + (2 * k2 + 4) + 2 * (5 * 2 + 1)] * 2
    # Group I first, then Group II; CMA-ES starts from the Gauss-Newton covariance, its step
    # 1 geometric-mean sigma capped at sigma0
    assert [list(s[0]) for s in stages] == fitting.stage_columns("two-stage")
    for fit_idx, sigma0, cov0 in stages:
        k = len(fit_idx)
        assert cov0.shape == (2, k, k)
        geo = np.exp(np.mean(np.log(np.diagonal(cov0, axis1=1, axis2=2)), axis=1))
        assert np.allclose(sigma0, np.minimum(np.sqrt(geo), 0.1))
    stages.clear()
    fitting.fit_spectra(toy, toy.wavelength, flux, np.full_like(flux, 1e4), init=init,
                        max_iter=1, popsize=5, gn_steps=0, sigma0=0.3, progress=False)  # fmt: skip
    assert [(s[1], s[2]) for s in stages] == [(0.3, None), (0.3, None)]
    assert all(s.split(" | ") == ["maxiter", "maxiter"] for s in t["stop"])
    assert t.meta["POPSIZE"] == 5 and t.meta["SCALETOL"] is True
    # progress: stage 1 then stage 2, the running count per batch
    assert _Bar.posts[0] == (1, "2/2") and _Bar.posts[-1] == (2, "0/2")
    assert {p[0] for p in _Bar.posts} == {1, 2}
    with pytest.raises(ValueError, match="popsize"):
        fitting.fit_spectra(toy, toy.wavelength, flux, np.full_like(flux, 1e4), popsize=1)


def test_fit_spectra_star_index_and_default_batch(toy):
    lab, flux = _truth_flux(toy, 3)
    ivar = np.full_like(flux, 1e4)
    kw = dict(max_iter=2, popsize=4, gn_steps=0, progress=False)
    init = fitting.default_labels(toy)[None].repeat(3, 0)
    full = fitting.fit_spectra(toy, toy.wavelength, flux, ivar, init=init, **kw)
    part = fitting.fit_spectra(toy, toy.wavelength, flux[2:], ivar[2:], init=init[2:],
                               star_index=[2], **kw)  # fmt: skip
    first = fitting.fit_spectra(toy, toy.wavelength, flux[:1], ivar[:1], init=init[:1], **kw)
    assert full["Teff"][2] == part["Teff"][0]
    assert full["Teff"][0] == first["Teff"][0] and first["Teff"][0] != part["Teff"][0]


def test_fit_spectra_default_batch_is_64(toy):
    lab, flux = _truth_flux(toy, 65)
    n0 = len(toy.rows)
    fitting.fit_spectra(toy, toy.wavelength, flux, np.full_like(flux, 1e4), init=lab,
                        max_iter=1, popsize=2, gn_steps=0, progress=False)  # fmt: skip
    assert toy.rows[n0] == 64 * 2


def test_fit_spectra_progress_by_default(toy, capsys):
    lab, flux = _truth_flux(toy, 1)
    fitting.fit_spectra(toy, toy.wavelength, flux, np.full_like(flux, 1e4), init=lab,
                        strategy="fast", lm_iter=1)  # fmt: skip
    assert "fit (fast)" in capsys.readouterr().err


def test_fast_fallback_bookkeeping(toy, monkeypatch):
    monkeypatch.setattr("tqdm.tqdm", _Bar)
    lab, flux = _truth_flux(toy, 2)
    flux = flux + np.random.default_rng(5).normal(0.0, 1e-3, flux.shape)
    ivar = np.ones_like(flux)  # small χ²: below the generation counts
    init = lab.copy()
    init[1] = fitting.default_labels(toy)  # star 0 starts at its truth, star 1 far
    kw = dict(strategy="fast", init=init, lm_iter=1, max_iter=5, popsize=6, progress=False)
    lm_calls = []
    real_lm = fitting.levenberg_marquardt

    def spy_lm(model, *a, **k):
        lm_calls.append((model, k))
        return real_lm(model, *a, **k)

    monkeypatch.setattr(fitting, "levenberg_marquardt", spy_lm)
    lm = fitting.fit_spectra(toy, toy.wavelength, flux, ivar, tol=0.5, **kw)
    assert lm_calls == [(toy, {"tol": 0.5, "max_iter": 1})]
    assert all("fallback" not in s for s in lm["stop"])
    # a threshold equal to a star's χ² does not send it to CMA-ES
    same = fitting.fit_spectra(toy, toy.wavelength, flux, ivar, tol=0.5,
                               fallback_chi2=float(np.max(lm["Chisq"])), **kw)  # fmt: skip
    assert all("fallback" not in s for s in same["stop"])

    cma_out = []
    real_batch = fitting._fit_batch

    def spy_batch(*a):
        out = real_batch(*a)
        cma_out.append(out)
        return out

    monkeypatch.setattr(fitting, "_fit_batch", spy_batch)
    _Bar.posts = []
    fb = fitting.fit_spectra(toy, toy.wavelength, flux, ivar, tol=0.5, fallback_chi2=1e-300,
                             **kw)  # fmt: skip
    ((labels, chisq, n_iter, n_eval, stop),) = cma_out
    assert _Bar.posts[0] == (1, "2/2") and {p[0] for p in _Bar.posts} == {1, 2, 3}
    assert _Bar.posts[-1] == (3, "0/2")
    better = chisq < np.asarray(lm["Chisq"])
    assert list(better) == [False, True]  # star 0 is at its truth already
    assert np.allclose(fb["Chisq"], np.where(better, chisq, lm["Chisq"]))
    assert np.allclose(fb["Chisq"], chi2(toy.predict(_labels(fb)), flux, ivar))
    assert np.array_equal(fb["n_iter"], np.asarray(lm["n_iter"]) + n_iter)
    assert np.array_equal(fb["n_eval"], np.asarray(lm["n_eval"]) + n_eval)
    assert fb["stop"][0] == f"{lm['stop'][0]} | fallback: {stop[0]} (kept lm)"
    assert fb["stop"][1] == f"{lm['stop'][1]} | fallback: {stop[1]}"
    # a start model: Levenberg-Marquardt to convergence on it first, with the same tol
    lm_calls.clear()
    start_model = ToyModel(n_pix=120, seed=3)
    t = fitting.fit_spectra(toy, toy.wavelength, flux, ivar, tol=0.5, start_model=start_model,
                            strategy="fast", init=init, progress=False)  # fmt: skip
    assert lm_calls == [(start_model, {"tol": 0.5}), (toy, {"tol": 0.5, "max_iter": 2})]
    assert t.meta["LMITER"] == 2 and t.meta["STARTMOD"] == "ToyModel"


def _labels(table):
    return np.stack([np.asarray(table[n], dtype=float) for n in LABELS], 1)
