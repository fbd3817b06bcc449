"""phdl.fit's building blocks, one contract at a time: the spectra file, cleaning and masking,
χ² (Eq. 15), resampling onto the model's grid, the damped Gauss–Newton start (Eq. 17, 20),
the resume key and checkpoint, the label table file. Small hand-computable cases, fast."""

import warnings

import h5py
import numpy as np
import pytest
from astropy.table import Table

from phdl.fit import ResampleWarning, ToyModel, add_noise, chi2, on_model_grid
from phdl.fit.labeltable import read_table, write_table
from phdl.fit.linear import START_PRIOR, fd_rows, gauss_newton_start
from phdl.fit.resume import Checkpoint, input_key
from phdl.fit.spectra import clean, read_spectra, resample, write_spectra
from phdl.labels import N_LABELS, index, scale, unscale


# ------------------------------------------------------------------ add_noise, clean, chi2
def test_add_noise_ivar_is_float64_and_any_positive_snr_is_allowed():
    flux = np.ones((3, 4))
    _, ivar = add_noise(flux, np.array([1, 2, 4]), seed=0)  # integer S/N per star
    assert ivar.dtype == np.float64 and np.array_equal(ivar[:, 0], [1.0, 4.0, 16.0])
    _, ivar = add_noise(flux, np.array([0.5, 2.0, 3.0], dtype=np.float32), seed=0)
    assert ivar.dtype == np.float64
    noisy, ivar = add_noise(flux, 0.5, seed=0)  # S/N below 1 is noisy, not invalid
    assert np.all(ivar == 0.25) and noisy.dtype == np.float64


def test_clean_zeroes_masked_pixels_and_returns_float64():
    flux = np.array([[1.0, np.nan, 2.0, 3.0, np.inf]], dtype=np.float32)
    ivar = np.array([[4.0, 4.0, 0.0, np.nan, 4.0]], dtype=np.float32)
    f, w = clean(flux, ivar)
    assert f.dtype == w.dtype == np.float64
    assert np.array_equal(f, [[1.0, 0.0, 0.0, 0.0, 0.0]])
    assert np.array_equal(w, [[4.0, 0.0, 0.0, 0.0, 0.0]])


def test_clean_errors_name_the_shapes_and_the_negative_pixel():
    with pytest.raises(ValueError, match=r"flux \(2, 3\) and ivar \(2, 4\) must have the same"):
        clean(np.ones((2, 3)), np.ones((2, 4)))
    ivar = np.ones((3, 5))
    ivar[2, 1] = -2.0
    with pytest.raises(
        ValueError,
        match=r"ivar of star 2 is negative at pixel 1 \(-2\); "
        r"ivar must be >= 0 \(0 masks a pixel\)",
    ):
        clean(np.ones((3, 5)), ivar)
    with pytest.raises(ValueError, match="ivar must be >= 0"):  # one spectrum (n_pix,)
        clean(np.ones(3), np.array([1.0, -1.0, 1.0]))


def test_chi2_with_one_unmasked_pixel_and_silent_overflow():
    flux, ivar = np.array([[1.0, 5.0, 5.0]]), np.array([[4.0, 0.0, 0.0]])
    assert chi2(np.array([[1.5, 0.0, 0.0]]), flux, ivar)[0] == pytest.approx(1.0)  # 4·0.5² / 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflowing model is ranked last, without a warning
        out = chi2(np.array([[1e200, 1.0, 1.0]]), np.ones((1, 3)), np.ones((1, 3)))
    assert out[0] == np.inf


# ------------------------------------------------------------------ wavelength grids
MODEL_WL = np.arange(4000.0, 5000.0 + 1e-9, 10.0)  # 101 pixels
OBS_WL = np.arange(4100.0, 4900.0 + 1e-9, 5.0)  # 161 pixels, ends on model pixels


def _line(wl):
    return 1.0 + 1e-4 * (wl - 4500.0)  # linear in λ: interpolation is exact


def test_resample_is_exact_for_a_linear_spectrum_and_keeps_the_end_pixels():
    ivar = np.full((1, len(OBS_WL)), 0.5)  # σ > 1 still usable
    f, w = resample(OBS_WL, _line(OBS_WL)[None], ivar, MODEL_WL)
    inside = (MODEL_WL >= 4100.0) & (MODEL_WL <= 4900.0)
    assert inside.sum() == 81
    np.testing.assert_allclose(f[0, inside], _line(MODEL_WL[inside]), rtol=1e-12)
    np.testing.assert_allclose(w[0, inside], 0.5, rtol=1e-12)  # incl. 4100 Å and 4900 Å
    assert np.all(w[0, ~inside] == 0.0) and np.all(f[0, ~inside] == 0.0)  # flux 0, not NaN


def test_resample_masks_neighbours_of_masked_pixels_with_flux_zero():
    ivar = np.full((1, len(OBS_WL)), 4.0)
    ivar[0, 20] = 0.0  # 4200 Å masked; 4195 and 4205 Å not
    f, w = resample(OBS_WL, _line(OBS_WL)[None], ivar, MODEL_WL + 2.5)
    bad = (MODEL_WL + 2.5 > 4195.0) & (MODEL_WL + 2.5 < 4205.0)  # 4192.5 Å usable, 4202.5 not
    assert bad.sum() == 1
    assert np.all(w[0, bad] == 0.0) and np.all(f[0, bad] == 0.0)
    assert np.all(w[0, (MODEL_WL + 2.5 >= 4100.0) & (MODEL_WL + 2.5 <= 4900.0) & ~bad] == 4.0)


def test_on_model_grid_warning_says_what_is_resampled():
    flux = _line(OBS_WL)[None]
    with pytest.warns(ResampleWarning) as rec:
        on_model_grid(MODEL_WL, OBS_WL, flux, np.ones_like(flux))
    assert len(rec) == 1
    assert str(rec[0].message) == (
        "spectra are on a wavelength grid of 161 pixels (4100.00–4900.00 Å), the model's has "
        "101 (4000.00–5000.00 Å): resampling by linear interpolation onto the model's grid; "
        "20 model pixels outside the observed range get ivar 0"
    )


def test_on_model_grid_resamples_any_real_difference_in_wavelength():
    flux = np.ones((1, len(MODEL_WL)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same grid up to round-off: no resampling
        f, w = on_model_grid(MODEL_WL, MODEL_WL * (1 + 1e-12), flux, flux)
    assert f.shape == (1, 101)
    for shifted in (MODEL_WL * (1 + 1e-6), MODEL_WL + 0.5):  # 0.005 Å, 0.5 Å
        with pytest.warns(ResampleWarning):
            on_model_grid(MODEL_WL, shifted, flux, flux)


def test_on_model_grid_checks_the_wavelengths():
    def call(wl, n=None):
        n = len(wl) if n is None else n
        return on_model_grid(wl, wl, np.ones((1, n)), np.ones((1, n)))

    f, w = call(np.array([4000.0, 4000.5]))  # two pixels, 0.5 Å apart: fine
    assert f.shape == w.shape == (1, 2)
    with pytest.raises(ValueError, match=r"^wavelength must be a 1-D array of >= 2 finite values"):
        call(np.array([4000.0]))
    with pytest.raises(ValueError, match=r"^wavelength must be a 1-D array of >= 2 finite values"):
        call(np.array([4000.0, np.nan, 4002.0]))
    with pytest.raises(ValueError, match=r"^wavelength must be strictly increasing \(Å\)"):
        call(np.array([4000.0, 4001.0, 4001.0]))
    for ivar in (np.ones((1, 2, 3)), np.ones((2, 3))):  # flux (1, 2, 3): one axis too many
        with pytest.raises(
            ValueError, match=r"flux and ivar must be \(n, n_pix\), got \(1, 2, 3\)"
        ):
            on_model_grid(np.arange(3.0), np.arange(3.0), np.ones((1, 2, 3)), ivar)


# ------------------------------------------------------------------ the spectra file
def _h5(path, **datasets):
    with h5py.File(path, "w") as h5:
        for k, v in datasets.items():
            h5[k] = v
    return path


def test_spectra_file_round_trip_float64_and_one_star(tmp_path):
    wl = np.linspace(4000.0, 5000.0, 8)
    flux = np.linspace(0.5, 1.0, 16).reshape(2, 8)
    path = write_spectra(tmp_path / "s.h5", wl, flux, 2 * flux)
    s = read_spectra(path)
    assert s.path == str(path)
    assert np.array_equal(s.flux, flux) and np.array_equal(s.ivar, 2 * flux)
    # float32 data come back as float64 (the file stores float64)
    path = write_spectra(
        tmp_path / "f.h5", wl.astype(np.float32), flux.astype(np.float32), flux.astype(np.float32)
    )
    with h5py.File(path) as h5:
        assert {h5[k].dtype for k in ("wavelength", "flux", "ivar")} == {np.dtype(np.float64)}
    s = _h5(
        tmp_path / "g.h5",
        wavelength=wl.astype(np.float32),
        flux=flux.astype(np.float32),
        ivar=flux.astype(np.float32),
    )
    s = read_spectra(s)
    assert s.wavelength.dtype == s.flux.dtype == s.ivar.dtype == np.float64
    one = read_spectra(_h5(tmp_path / "one.h5", wavelength=wl, flux=flux[0], ivar=flux[0]))
    assert one.flux.shape == one.ivar.shape == (1, 8)


def test_spectra_file_errors_name_the_file_and_the_dataset(tmp_path):
    wl = np.linspace(4000.0, 5000.0, 8)
    bad = _h5(tmp_path / "b.h5", wavelength=wl, flux=np.ones((2, 7)), ivar=np.ones((2, 7)))
    with pytest.raises(
        ValueError,
        match=r"b\.h5: dataset flux has shape \(2, 7\), expected "
        r"\(n, 8\) to match wavelength \(8,\)",
    ):
        read_spectra(bad)
    bad = _h5(tmp_path / "c.h5", wavelength=wl, flux=np.ones((2, 8)), ivar=np.ones((2, 7)))
    with pytest.raises(ValueError, match=r"c\.h5: dataset ivar has shape \(2, 7\)"):
        read_spectra(bad)
    bad = _h5(tmp_path / "d.h5", wavelength=wl, flux=np.ones((2, 8)), ivar=np.ones((3, 8)))
    with pytest.raises(ValueError, match=r"d\.h5: flux \(2, 8\) and ivar \(3, 8\) differ in shape"):
        read_spectra(bad)
    bad = _h5(tmp_path / "e.h5", wavelength=wl, flux=np.ones((2, 8)))
    with pytest.raises(
        ValueError,
        match=r"e\.h5 lacks dataset\(s\) \['ivar'\]; expected "
        r"wavelength \(n_pix,\), flux \(n, n_pix\), ivar \(n, n_pix\)$",
    ):
        read_spectra(bad)
    (tmp_path / "t.h5").write_text("not HDF5")
    with pytest.raises(ValueError, match=r"t\.h5 cannot be read as HDF5 spectra"):
        read_spectra(tmp_path / "t.h5")
    for name in ("x.fits", "x.fit", "x.fz", "X.FITS"):
        (tmp_path / name).write_bytes(b"SIMPLE  =                    T")
        with pytest.raises(ValueError) as exc:
            read_spectra(tmp_path / name)
        assert str(exc.value) == (
            f"{tmp_path / name}: a FITS file; read LAMOST spectra with "
            "phdl.io.read_lamost(paths, model.wavelength), or convert to HDF5 with datasets "
            "wavelength (n_pix,), flux (n, n_pix), ivar (n, n_pix)"
        )


# ------------------------------------------------------------------ Gauss–Newton start
def test_fd_rows_are_plus_then_minus_one_label_at_a_time():
    labels = np.arange(2 * N_LABELS, dtype=float).reshape(2, N_LABELS)
    h = np.linspace(1.0, 2.0, N_LABELS)
    rows = fd_rows(labels, np.array([3, 7]), h).reshape(2, 2, 2, N_LABELS)
    for star in range(2):
        for sign, half in ((1.0, 0), (-1.0, 1)):
            for t, j in enumerate((3, 7)):
                expect = labels[star].copy()
                expect[j] += sign * h[j]
                assert np.array_equal(rows[star, half, t], expect)


def _toy(strength_of=None, n_pix=40):
    strength = np.full(N_LABELS, 0.5)
    if strength_of is not None:
        strength[:] = 0.0
        strength[strength_of] = 1.0
    return ToyModel(n_pix=n_pix, seed=3, linear=True, strength=strength)


def _scaled(model, labels):
    return scale(np.asarray(labels, float), model.label_min, model.label_max)


def _at(model, s):
    return unscale(np.asarray(s, float), model.label_min, model.label_max)


def test_gauss_newton_step_is_the_damped_normal_equations_by_hand():
    """One label, a linear model (flux = 1 + 0.1 (s - 0.5) W): JᵀWJ = a, JᵀW r = a Δ for the
    offset Δ of the truth. With ivar chosen so that a = 1/START_PRIOR², the step is
    δ = a Δ / (a + 1/START_PRIOR²) = Δ/2; of the fractions 1, 1/2, 1/4 the full step lowers χ²
    most (χ² is falling all the way to 2δ), so the start moves exactly half way."""
    j = index("[Fe/H]")
    model = _toy(strength_of=j)
    prior = 1.0 / START_PRIOR**2
    ivar = np.full((1, 40), prior / (0.01 * np.sum(model.W[j] ** 2)))
    s_true = np.full((1, N_LABELS), 0.5)
    s0 = s_true.copy()
    s0[0, j] = 0.2  # Δ = 0.3
    flux = model.predict(_at(model, s_true))
    calls = model.calls
    x, cov, evals = gauss_newton_start(model, flux, ivar, _at(model, s0), [j], steps=1)
    assert model.calls - calls == 2  # the centre with its Jacobian, then the trial steps
    assert _scaled(model, x)[0, j] == pytest.approx(0.35, abs=1e-9)
    others = np.arange(N_LABELS) != j
    assert np.array_equal(x[:, others], _at(model, s0)[:, others])
    assert cov.shape == (1, 1, 1) and cov[0, 0, 0] == pytest.approx(1.0 / (2 * prior), rel=1e-9)
    assert evals.tolist() == [2 * 1 + 1 + 3]


def _reference(model, flux, ivar, labels, fit_idx, steps):
    """The documented algorithm with the linear toy's exact Jacobian per scaled unit."""
    s = _scaled(model, labels)
    jac = 0.1 * model.W[fit_idx]  # (k, n_pix)
    hess = np.einsum("ip,np,jp->nij", jac, ivar, jac) + np.eye(len(fit_idx)) / START_PRIOR**2
    for _ in range(steps):
        resid = flux - model.predict(_at(model, s))
        delta = np.linalg.solve(hess, np.einsum("ip,np,np->ni", jac, ivar, resid)[..., None])
        best, best_chi = s.copy(), chi2(model.predict(_at(model, s)), flux, ivar, reduced=False)
        for a in (1.0, 0.5, 0.25):
            t = s.copy()
            t[:, fit_idx] = np.clip(s[:, fit_idx] + a * delta[..., 0], -0.2, 1.2)
            c = chi2(model.predict(_at(model, t)), flux, ivar, reduced=False)
            take = c < best_chi
            best[take], best_chi[take] = t[take], c[take]
        s = best
    return s, np.linalg.inv(hess)


def test_gauss_newton_start_follows_the_damped_steps_and_respects_the_bounds():
    model = _toy()
    fit_idx = [index(n) for n in ("Teff", "logg", "[Fe/H]", "[Mg/Fe]")]
    rng = np.random.default_rng(0)
    s_true = rng.uniform(0.3, 0.7, size=(2, N_LABELS))
    s_true[1, fit_idx[3]] = 1.6  # beyond the upper bound 1.2
    s0 = s_true.copy()
    s0[:, fit_idx] = 0.5
    flux = model.predict(_at(model, s_true))
    ivar = np.full_like(flux, 30.0)
    calls = model.calls
    x, cov, evals = gauss_newton_start(model, flux, ivar, _at(model, s0), fit_idx)  # 2 steps
    assert model.calls - calls == 4
    assert evals.tolist() == [2 * (2 * 4 + 1 + 3)] * 2
    s_ref, cov_ref = _reference(model, flux, ivar, _at(model, s0), fit_idx, steps=2)
    np.testing.assert_allclose(_scaled(model, x), s_ref, rtol=0, atol=1e-9)
    assert np.all(_scaled(model, x)[:, fit_idx] <= 1.2) and _scaled(model, x)[1, fit_idx[3]] == (
        pytest.approx(1.2)
    )
    np.testing.assert_allclose(cov, cov_ref, rtol=1e-9)
    assert np.array_equal(cov, np.swapaxes(cov, 1, 2))  # exactly symmetric: a covariance
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        gauss_newton_start(model, flux, ivar, _at(model, s0), fit_idx, steps=0)


class _Trap:
    """The linear toy plus a flat flux offset growing with |s_j - s_start_j| beyond 0.01 (the
    finite-difference steps stay inside): the Jacobian sees the linear model, every trial step
    of the Gauss–Newton start raises χ²."""

    def __init__(self, model, s_start, j):
        self.model, self.s_start, self.j = model, s_start, j
        self.wavelength, self.label_min, self.label_max = (
            model.wavelength, model.label_min, model.label_max,
        )  # fmt: skip

    def predict(self, labels):
        s = scale(labels, self.label_min, self.label_max)[:, self.j]
        off = 0.5 * np.maximum(np.abs(s - self.s_start) - 0.011, 0.0)
        return self.model.predict(labels) + off[:, None]


def test_gauss_newton_keeps_the_start_where_no_step_lowers_chi2():
    j = index("logg")
    model = _toy()
    s_true = np.full((1, N_LABELS), 0.5)
    s0 = s_true.copy()
    s0[0, j] = 0.3
    flux = model.predict(_at(model, s_true))
    ivar = np.full_like(flux, 100.0)
    x, _, evals = gauss_newton_start(_Trap(model, 0.3, j), flux, ivar, _at(model, s0), [j])
    assert np.array_equal(x, _at(model, s0)) and evals.tolist() == [2 * (2 + 1 + 3)]
    # a label the model does not see, started outside the bounds: χ² cannot decrease, the
    # start is kept (not moved onto the bound)
    blind = _toy(strength_of=index("Teff"))
    s0[0, j] = 1.5
    x, _, _ = gauss_newton_start(blind, flux, ivar, _at(blind, s0), [j], steps=1)
    assert np.array_equal(x, _at(blind, s0))


class _Float32:
    """A model whose label ranges and flux are float32 (as an emulator's may be)."""

    def __init__(self, model, as64=False):
        cast = np.float64 if as64 else np.float32
        self.model, self.cast = model, cast
        self.wavelength = model.wavelength
        self.label_min = model.label_min.astype(np.float32).astype(cast)
        self.label_max = model.label_max.astype(np.float32).astype(cast)

    def predict(self, labels):
        return (
            self.model.predict(np.asarray(labels, np.float64)).astype(np.float32).astype(self.cast)
        )


def test_gauss_newton_start_computes_in_float64_whatever_the_models_dtype():
    model = _toy()
    fit_idx = [index("Teff"), index("logg")]
    s = np.full((1, N_LABELS), 0.5)
    flux = model.predict(_at(model, s))
    s[0, fit_idx] = 0.3
    start = _at(model, s).astype(np.float32)
    ivar = np.full_like(flux, 100.0)
    kw = dict(step=0.013)  # a step whose float32 quotients round differently
    x32, c32, _ = gauss_newton_start(_Float32(model), flux, ivar, start, fit_idx, **kw)
    x64, c64, _ = gauss_newton_start(
        _Float32(model, as64=True), flux, ivar, start.astype(np.float64), fit_idx, **kw
    )
    assert x32.dtype == np.float64
    assert np.array_equal(x32, x64) and np.array_equal(c32, c64)


# ------------------------------------------------------------------ resume
def test_input_key_changes_with_every_input_and_only_with_them():
    model = ToyModel(n_pix=12, seed=0)
    flux, ivar = np.ones((2, 12)), np.full((2, 12), 4.0)
    start = np.tile(0.5 * (model.label_min + model.label_max), (2, 1))
    opts = {"seed": 1, "strategy": "full", "out": tmp_path_like()}
    key = input_key(model, flux, ivar, start, opts)
    rows = len(model.rows)
    assert model.rows[rows - 1] == 1  # the model is probed at the first star only
    assert len(key) == 64
    same = [
        input_key(model, flux.astype(np.float32), ivar.astype(np.float32), start, opts),
        input_key(model, flux, ivar, start, dict(reversed(list(opts.items())))),
    ]
    # a model that predicts the same float32 values, as float32 or as float64
    k32 = input_key(_Float32(model), flux, ivar, start, opts)
    assert k32 == input_key(_Float32(model, as64=True), flux, ivar, start, opts)
    assert same == [key, key]
    other_model = ToyModel(n_pix=12, seed=1)  # same grid and ranges, other spectra
    changed = [
        input_key(model, flux + 1e-9, ivar, start, opts),
        input_key(model, flux, ivar * 2, start, opts),
        input_key(model, flux, ivar, start + 1e-6, opts),
        input_key(model, flux, ivar, start, {**opts, "seed": 2}),
        input_key(model, flux.reshape(3, 8), ivar.reshape(3, 8), start, opts),
        input_key(other_model, flux, ivar, start, opts),
    ]
    assert len({key, *changed}) == 1 + len(changed)


def tmp_path_like():
    from pathlib import Path

    return Path("/some/where.npz")  # not JSON: written with str()


def test_checkpoint_starts_empty_and_round_trips(tmp_path):
    path = tmp_path / "deep" / "er" / "fit.partial.npz"  # folders are created
    ck = Checkpoint(path, "k" * 64, 3)
    assert not ck.done.any() and np.isnan(ck.labels).all() and np.isnan(ck.chisq).all()
    assert list(ck.stop) == ["", "", ""]
    assert ck.n_iter.dtype.kind == ck.n_eval.dtype.kind == "i"
    ck.save(np.array([1]), np.ones((1, N_LABELS)), [0.9], [12], [345], ["tolfun"])
    back = Checkpoint(path, "k" * 64, 3)
    assert back.done.tolist() == [False, True, False]
    assert np.array_equal(back.labels, ck.labels, equal_nan=True)
    assert back.n_iter.tolist() == [0, 12, 0] and back.n_eval.tolist() == [0, 345, 0]
    assert back.n_iter.dtype.kind == back.n_eval.dtype.kind == "i"
    assert list(back.stop) == ["", "tolfun", ""]
    with pytest.raises(
        ValueError,
        match=r"belongs to a fit of other spectra, options or model; "
        "delete it or give another checkpoint path",
    ):
        Checkpoint(path, "j" * 64, 3)
    with pytest.raises(ValueError, match="delete it or give another checkpoint path"):
        Checkpoint(path, "k" * 64, 4)
    back.remove()
    assert not path.exists()


def test_checkpoint_refuses_torn_or_pickled_files(tmp_path):
    torn = tmp_path / "torn.npz"
    torn.write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(ValueError, match=r"checkpoint .*torn\.npz cannot be read"):
        Checkpoint(torn, "k" * 64, 1)
    pickled = tmp_path / "pickled.npz"  # the right key and size, but an object array
    with open(pickled, "wb") as fh:
        np.savez(
            fh,
            key=np.array("k" * 64),
            done=np.zeros(1, bool),
            labels=np.zeros((1, 34)),
            chisq=np.zeros(1),
            n_iter=np.zeros(1, int),
            n_eval=np.zeros(1, int),
            stop=np.array([{"not": "a string"}], dtype=object),
        )
    with pytest.raises(ValueError, match="cannot be read"):
        Checkpoint(pickled, "k" * 64, 1)


# ------------------------------------------------------------------ the label table
def test_write_table_replaces_a_stale_temporary_file(tmp_path):
    import os

    path = tmp_path / "labels.fits"
    stale = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # left by a killed run
    stale.write_text("half a table")
    write_table(Table({"Teff": [5000.0], "[Fe/H]": [-0.5]}), path)
    back = read_table(path)
    assert list(back["[Fe/H]"]) == [-0.5] and not stale.exists()


@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in __import__("os").environ,
    reason="mutmut's trampolines add stack frames between fit_spectra and on_model_grid",
)
def test_resample_warning_points_at_the_caller_of_fit_spectra():
    from phdl.fit import fit_spectra

    model = ToyModel(n_pix=20, seed=0)
    wl = np.linspace(model.wavelength[0], model.wavelength[-1], 25)
    flux = np.ones((1, 25))
    with pytest.warns(ResampleWarning) as rec:
        fit_spectra(model, wl, flux, np.zeros_like(flux), progress=False)  # masked: no fit
    assert [r.filename for r in rec if r.category is ResampleWarning] == [__file__]


# ------------------------------------------------------------------ jacobian_fd (Eq. 20)
class _Recording:
    """A model that keeps every row it is asked for; ``dtype`` of the flux it returns;
    flux = exp(10 s_Teff) per pixel (steep: the two sides of a difference differ by > 2x)."""

    def __init__(self, model, dtype=np.float64):
        self.model, self.dtype, self.seen = model, dtype, []
        self.wavelength, self.label_min, self.label_max = (
            model.wavelength, model.label_min, model.label_max,
        )  # fmt: skip

    def predict(self, labels):
        labels = np.array(labels, dtype=np.float64)
        self.seen.append(labels)
        s = scale(labels, self.label_min, self.label_max)[:, index("Teff")]
        flux = np.exp(10.0 * s)[:, None] * np.linspace(0.9, 1.1, len(self.wavelength))
        if self.dtype == "float32 as float64":
            return flux.astype(np.float32).astype(np.float64)
        return flux.astype(self.dtype)


def test_jacobian_fd_steps_batches_and_arguments():
    from phdl.fit.linear import jacobian_fd

    toy = ToyModel(n_pix=6, seed=0)
    span = toy.label_max - toy.label_min
    model = _Recording(toy)
    labels = np.tile(0.5 * (toy.label_min + toy.label_max), (5, 1))
    which = [index("Teff"), index("logg")]
    jac = jacobian_fd(model, labels, step=0.02, which=which, batch_stars=2)
    assert jac.shape == (5, 2, 6)
    assert [len(r) for r in model.seen] == [8, 8, 4]  # 2k rows per star, 2 stars per call
    first = model.seen[0].reshape(2, 2, 2, N_LABELS)  # (star, +/-, label, 34)
    for t, j in enumerate(which):
        np.testing.assert_allclose(first[0, 0, t, j] - labels[0, j], 0.02 * span[j], rtol=1e-12)
        np.testing.assert_allclose(labels[0, j] - first[0, 1, t, j], 0.02 * span[j], rtol=1e-12)
    s = 0.5  # d/dTeff of exp(10 s) at s = 0.5, central difference over ±0.02 (scaled)
    expect = np.exp(10 * s) * np.sinh(0.2) / (0.02 * span[index("Teff")])
    expect = np.tile(expect * np.linspace(0.9, 1.1, 6), (5, 1))
    np.testing.assert_allclose(jac[:, 0], expect, rtol=1e-9)
    assert np.all(jac[:, 1] == 0.0)
    model.seen.clear()
    jacobian_fd(model, np.tile(labels[:1], (40, 1)), which=which)  # default: 32 stars a call
    assert [len(r) for r in model.seen] == [32 * 4, 8 * 4]
    # float32 labels and a float32 model: differences taken in float64
    m32 = _Recording(toy, np.float32)
    x32 = (labels[:1] + 0.3).astype(np.float32)  # ± h is not a float32 number
    a = jacobian_fd(m32, x32, step=0.1037, which=which[:1])
    b = jacobian_fd(m32, x32.astype(np.float64), step=0.1037, which=which[:1])
    m32.dtype = "float32 as float64"  # the same values, handed over as float64
    c = jacobian_fd(m32, x32.astype(np.float64), step=0.1037, which=which[:1])
    assert np.array_equal(a, b) and np.array_equal(b, c)
    with pytest.raises(ValueError, match=r"labels must have shape \(n, 34\), got \(2, 5\)"):
        jacobian_fd(model, np.ones((2, 5)))
    for bad in (0.0, -0.01):
        with pytest.raises(
            ValueError, match=r"step must be > 0 \(fraction of each label's range\)"
        ):
            jacobian_fd(model, labels, step=bad)
