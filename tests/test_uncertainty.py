"""phdl.uncertainty: Jacobians, covariance (Eq. 17) on a linear toy, scaled errors, flags."""

import numpy as np
import pytest
from astropy.table import Table

from phdl.fit import FITTED, ToyModel
from phdl.labels import LABELS, index, solar
from phdl.uncertainty import (
    F1,
    F2,
    F3,
    F4,
    add_uncertainties,
    chi2_scan,
    correlation,
    covariance,
    cramer_rao,
    flags,
    formal_errors,
    good_fractions,
    jacobian_autograd,
    jacobian_fd,
    scaled_errors,
    scan_minimum,
)

IVAR = 1e4
FIT_IDX = [index(n) for n in FITTED]


@pytest.fixture(scope="module")
def toy():
    return ToyModel(n_pix=200, seed=0)


@pytest.fixture(scope="module")
def star():
    lab = solar(5600.0, 4.2, 1.2, -0.3)
    lab[4:] = 0.1
    return lab[None]


def test_jacobian_fd_matches_analytic(toy, star):
    exact = jacobian_autograd(toy, star)
    fd = jacobian_fd(toy, star, step=1e-3)
    assert fd.shape == exact.shape == (1, 34, 200)
    scale = np.abs(exact).max(axis=2, keepdims=True)
    assert np.all(np.abs(fd - exact) <= 1e-5 * scale)
    assert np.all(np.abs(jacobian_fd(toy, star) - exact) <= 1e-3 * scale)  # default 1 % step


def test_covariance_equals_analytic_on_linear_toy():
    lin = ToyModel(n_pix=150, seed=3, linear=True)
    labels = np.repeat(solar()[None], 2, 0)
    ivar = np.full((2, 150), IVAR)
    ivar[1, ::3] = 0.0  # masked pixels drop out
    ivar[1, 1] = np.nan  # so does a non-finite ivar
    cov = covariance(lin.jacobian(labels), ivar)
    span = (lin.label_max - lin.label_min)[FIT_IDX]
    j = 0.1 * lin.W[FIT_IDX] / span[:, None]  # ∂flux/∂label, per physical unit
    keep = np.ones(150, bool)
    keep[::3] = keep[1] = False
    for i, sel in enumerate([np.ones(150, bool), keep]):
        expect = np.linalg.inv(j[:, sel] @ (IVAR * j[:, sel].T))
        assert np.allclose(cov[i], expect, rtol=1e-8, atol=0.0)
    err = formal_errors(cov)
    assert np.allclose(cramer_rao(lin.jacobian(labels), ivar), err)
    assert err.shape == (2, 28) and np.all(err[1] > err[0])  # fewer pixels, larger errors
    corr = correlation(cov)
    assert np.allclose(np.diagonal(corr, axis1=1, axis2=2), 1.0)
    assert np.allclose(corr, np.swapaxes(corr, 1, 2)) and np.all(np.abs(corr) <= 1 + 1e-12)


def test_covariance_singular_gives_nan_and_shape_errors():
    jac = np.ones((1, 34, 10))
    jac[0, index("[Eu/Fe]")] = 0.0  # no sensitivity at all
    assert np.all(np.isnan(covariance(jac, np.ones((1, 10)))))
    with pytest.raises(ValueError, match="ivar"):
        covariance(np.ones((2, 34, 10)), np.ones((2, 9)))


def test_scaled_errors_eq21():
    err = np.array([[1.0, 2.0], [1.0, 2.0]])
    out = scaled_errors(err, np.array([4.0, 0.25]))
    assert np.allclose(out, [[2.0, 4.0], [1.0, 2.0]])  # χ² < 1 does not shrink by default
    assert np.allclose(scaled_errors(err, np.array([4.0, 0.25]), floor=0.0)[1], [0.5, 1.0])


def test_chi2_scan_finds_truth_in_one_call_per_batch(toy, star):
    labels = np.repeat(star, 3, 0)
    flux = toy.predict(labels)
    calls = toy.calls
    values, chi = chi2_scan(toy, flux, np.full_like(flux, IVAR), labels, "[Fe/H]", batch_stars=2)
    assert toy.calls - calls == 2
    assert values.shape == chi.shape == (3, 50)
    j = index("[Fe/H]")
    assert values[0, 0] == toy.label_min[j] and values[0, -1] == toy.label_max[j]
    best, edge = scan_minimum(values, chi)
    assert not edge.any() and np.allclose(best, star[0, j], atol=0.02)
    coarse, _ = scan_minimum(values, chi, refine=False)
    assert np.all(np.abs(coarse - star[0, j]) <= 0.5 * (values[0, 1] - values[0, 0]) + 1e-12)


def _errors(model, labels):
    return formal_errors(covariance(model.jacobian(labels), np.full((len(labels), 200), IVAR)))


def test_flags_clean_star_is_zero(toy, star):
    flux = toy.predict(star)
    fl = flags(toy, flux, np.full_like(flux, IVAR), star, _errors(toy, star))
    assert fl.shape == (1, 28) and np.all(fl == 0), dict(zip(FITTED, fl[0], strict=True))


def test_flags_boundary_cases(toy, star):
    lo, span = toy.label_min, toy.label_max - toy.label_min
    mg, ca = index("[Mg/Fe]"), index("[Ca/Fe]")
    truth = np.repeat(star, 2, 0)
    truth[0, mg] = lo[mg]  # star 0: the solution exactly on the grid boundary
    truth[1, ca] = lo[ca] + 1.15 * span[ca]  # star 1: the true value beyond the range ...
    best = truth.copy()
    best[1, ca] = lo[ca] + 0.98 * span[ca]  # ... CMA-ES inside, the scan's minimum on the edge
    flux = toy.predict(truth)
    fl = flags(toy, flux, np.full_like(flux, IVAR), best, _errors(toy, best))
    assert fl[0, FITTED.index("[Mg/Fe]")] & F1 and fl[0, FITTED.index("[Mg/Fe]")] & F2
    assert fl[1, FITTED.index("[Ca/Fe]")] & F2 and not fl[1, FITTED.index("[Ca/Fe]")] & F1
    assert fl[1, FITTED.index("[Mg/Fe]")] & (F1 | F2) == 0


def test_flags_planted_offsets(toy, star):
    flux = toy.predict(star)
    best = star.copy()
    best[0, index("[Mg/Fe]")] += 0.4  # dex: > 3σ and >= 0.3 dex
    best[0, index("Teff")] += 300.0  # K: > 3σ; F4 does not apply to Teff
    names = ["Teff", "[Mg/Fe]", "[Ni/Fe]"]
    err = _errors(toy, star)[:, [FITTED.index(n) for n in names]]
    fl = flags(toy, flux, np.full_like(flux, IVAR), best, err, labels_fitted=names)[0]
    assert fl[1] & F3 and fl[1] & F4 and not fl[1] & (F1 | F2)
    assert fl[0] & F3 and not fl[0] & F4
    big = flags(toy, flux, np.full_like(flux, IVAR), best, err * 1e3, labels_fitted=names)[0]
    assert not big[0] & F3 and big[1] & F4  # huge σ: no F3, the 0.3 dex test still holds


# ------------------------------------------------------------------ flag thresholds (Section 2.3)
# On the linear toy χ² is exactly quadratic along every label, so the scan's refined minimum
# (the parabola through the lowest point and its neighbours) is the truth to rounding: the CMA-ES
# offsets planted below are the |CMA − scan| differences the paper's thresholds are about.
HUGE = 1e3  # a σ that keeps F3 out of the tests of the other bits


@pytest.fixture(scope="module")
def lin():
    return ToyModel(n_pix=200, seed=0, linear=True)


def _flag(model, truth, best, label, sigma=HUGE):
    """The flag of one label for noiseless spectra of ``truth`` fitted as ``best`` (1, 34)."""
    flux = model.predict(truth)
    err = np.full((len(truth), 1), sigma)
    out = flags(model, flux, np.full_like(flux, IVAR), best, err, labels_fitted=[label])
    return int(out[0, 0])


def test_flag_bits_are_the_documented_values():
    # Section 2.3 lists F1..F4 as the four digits of a binary code, F1 the lowest
    assert (F1, F2, F3, F4) == (1, 2, 4, 8)


@pytest.mark.parametrize("offset", [0.29, -0.29, 0.31, -0.31])
def test_f4_is_set_from_0p3_dex_on(lin, star, offset):
    """F4: |CMA-ES − scan| ≥ 0.3 dex; 0.29 dex leaves it clear, 0.31 dex sets it (bit value 8)."""
    mg = index("[Mg/Fe]")
    truth = star.copy()
    truth[0, mg] = 0.12  # inside [-0.4, 0.6], off the scan's points
    best = truth.copy()
    best[0, mg] += offset  # still inside the range: no F1, and the scan's minimum is inside
    assert _flag(lin, truth, best, "[Mg/Fe]") == (8 if abs(offset) >= 0.3 else 0)


@pytest.mark.parametrize("n_sigma", [2.9, 3.1])
def test_f3_is_set_beyond_3_sigma(lin, star, n_sigma):
    """F3: |CMA-ES − scan| > 3σ; at 2.9σ it is clear, at 3.1σ set (bit value 4)."""
    mg = index("[Mg/Fe]")
    truth = star.copy()
    truth[0, mg] = 0.12
    best = truth.copy()
    best[0, mg] += 0.1  # below 0.3 dex: F4 stays clear
    got = _flag(lin, truth, best, "[Mg/Fe]", sigma=0.1 / n_sigma)
    assert got == (4 if n_sigma > 3 else 0)


@pytest.mark.parametrize(("where", "expect"), [(1.0, 0), (0.3, 2), (48.0, 0), (48.7, 2)])
def test_f2_is_set_when_the_scan_minimum_is_on_the_range_edge(lin, star, where, expect):
    """F2: the scan's minimum on the boundary of the range. The 50 scan points are 1/49 of the
    range apart; ``where`` is the true value in those steps from the lower end: at point 1 (or
    48) the minimum is inside, 0.3 step from an end it is the end point itself (bit value 2)."""
    ca = index("[Ca/Fe]")
    lo, hi = lin.label_min[ca], lin.label_max[ca]
    truth = star.copy()
    truth[0, ca] = lo + where * (hi - lo) / 49
    assert _flag(lin, truth, truth.copy(), "[Ca/Fe]") == expect  # CMA-ES inside: no F1


@pytest.mark.parametrize(
    ("s", "expect_f1"),
    [(0.0, True), (1.0, True), (1.1, True), (-0.05, True), (0.02, False), (0.98, False)],
)
def test_f1_is_set_when_cma_reaches_or_exceeds_the_grid_boundary(lin, star, s, expect_f1):
    """F1: the CMA-ES solution reaches (scaled 0 or 1) or exceeds the model grid's boundary;
    one scan step inside (scaled 0.02, 0.98) it is clear (bit value 1)."""
    ca = index("[Ca/Fe]")
    lo, hi = lin.label_min[ca], lin.label_max[ca]
    truth = star.copy()
    truth[0, ca] = lo + s * (hi - lo)
    got = _flag(lin, truth, truth.copy(), "[Ca/Fe]")
    assert bool(got & 1) is expect_f1
    if not expect_f1:
        assert got == 0


def test_good_fractions():
    fl = np.array([[0, 1], [0, 0], [4, -1], [0, 8]])
    out = good_fractions(fl, ["[Mg/Fe]", "[Eu/Fe]"])
    assert out == {"[Mg/Fe]": 0.75, "[Eu/Fe]": pytest.approx(1 / 3)}
    with pytest.raises(ValueError, match="names"):
        good_fractions(fl, ["[Mg/Fe]"])


def test_add_uncertainties_columns(toy, star):
    labels = np.repeat(star, 2, 0)
    flux = toy.predict(labels)
    cols = {n: labels[:, j] for j, n in enumerate(LABELS)}
    table = Table({**cols, "Chisq": [4.0, np.nan], "status": ["ok", "no usable pixels"]})
    table[LABELS[0]][1] = np.nan
    add_uncertainties(table, toy, flux, np.full_like(flux, IVAR))
    names = table.colnames
    i = names.index("[Mg/Fe]")
    assert names[i + 1 : i + 4] == ["[Mg/Fe]_err", "[Mg/Fe]_err_scaled", "[Mg/Fe]_flag"]
    assert "vmic_err" not in names  # not fitted
    assert table["[Mg/Fe]_err_scaled"][0] == pytest.approx(2 * table["[Mg/Fe]_err"][0])
    assert table["[Mg/Fe]_flag"][1] == -1 and np.isnan(table["Teff_err"][1])
    assert table["Teff_flag"][0] == 0
