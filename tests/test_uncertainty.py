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
    flag_bits,
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


# ------------------------------------------------------------ hand-computable cases (contract)
def _unit_jacobian(n_pix=6, scales=None):
    """A (34, n_pix) Jacobian whose 28 fitted rows are orthogonal: row c of the c-th fitted label
    is ``scales[c]`` at pixel c and 0 elsewhere, so Cov = diag(1 / (scales² ivar)) exactly."""
    jac = np.zeros((34, max(n_pix, 28)))
    s = np.arange(1.0, 29.0) if scales is None else np.asarray(scales, float)
    for c, j in enumerate(FIT_IDX):
        jac[j, c] = s[c]
    return jac, s


def test_covariance_of_orthogonal_jacobian_is_analytic_and_accepts_2d_input():
    jac, s = _unit_jacobian()
    ivar = np.full(jac.shape[1], 4.0)
    cov = covariance(jac, ivar)  # one star: (34, n_pix) and (n_pix,) are promoted to n = 1
    assert cov.shape == (1, 28, 28)
    assert np.allclose(cov[0], np.diag(1.0 / (4.0 * s**2)), rtol=1e-12, atol=0.0)
    assert np.allclose(formal_errors(cov)[0], 1.0 / (2.0 * s), rtol=1e-12)
    # a subset of labels, in the order asked for
    sub = covariance(jac[None], ivar[None], labels_fitted=["[Mg/Fe]", "Teff"])
    expect = [1.0 / (4.0 * s[FITTED.index("[Mg/Fe]")] ** 2), 1.0 / (4.0 * s[0] ** 2)]
    assert sub.shape == (1, 2, 2) and np.allclose(np.diagonal(sub[0]), expect, rtol=1e-12)
    cr = cramer_rao(jac[None], ivar[None], labels_fitted=["[Mg/Fe]", "Teff"])
    assert cr.shape == (1, 2) and np.allclose(cr[0], np.sqrt(expect), rtol=1e-12)


def test_covariance_correlated_pair_and_symmetry():
    # two labels on the same two pixels: J = [[1, 1], [1, -0.5]] (rows labels), W = 1
    jac = np.zeros((1, 34, 2))
    jac[0, index("Teff"), :] = [1.0, 1.0]
    jac[0, index("logg"), :] = [1.0, -0.5]
    ivar = np.array([[2.0, 1.0]])
    cov = covariance(jac, ivar, labels_fitted=["Teff", "logg"])[0]
    j = np.array([[1.0, 1.0], [1.0, -0.5]])
    expect = np.linalg.inv(j @ np.diag([2.0, 1.0]) @ j.T)
    assert np.allclose(cov, expect, rtol=1e-12, atol=0.0)
    assert cov[0, 1] == cov[1, 0]
    corr = correlation(cov[None])[0]
    assert corr[0, 1] == pytest.approx(expect[0, 1] / np.sqrt(expect[0, 0] * expect[1, 1]))


def test_covariance_collinear_labels_give_nan_only_for_that_star():
    jac, _ = _unit_jacobian()
    bad = jac.copy()
    bad[index("logg")] = 2.0 * bad[index("Teff")]  # logg indistinguishable from Teff
    ivar = np.ones((2, jac.shape[1]))
    cov = covariance(np.stack([jac, bad]), ivar)
    assert np.all(np.isfinite(cov[0])) and np.all(np.isnan(cov[1]))
    assert np.all(np.isnan(formal_errors(cov)[1]))


def test_covariance_masks_negative_and_nonfinite_ivar():
    jac, s = _unit_jacobian(n_pix=30)
    jac[index("Teff"), 29] = 1.0  # Teff also seen at pixel 29
    ivar = np.ones(30)
    full = covariance(jac, ivar)[0, 0, 0]
    assert full == pytest.approx(1.0 / (s[0] ** 2 + 1.0))
    for masked in (0.0, np.nan, np.inf, -1.0):
        ivar[29] = masked
        assert covariance(jac, ivar)[0, 0, 0] == pytest.approx(1.0 / s[0] ** 2), masked


@pytest.mark.parametrize(
    ("jac_shape", "ivar_shape"),
    [((2, 34, 10), (2, 9)), ((2, 33, 10), (2, 10)), ((3, 34, 10), (2, 10)), ((34,), (1, 1))],
)
def test_covariance_shape_errors_name_both_arrays(jac_shape, ivar_shape):
    with pytest.raises(ValueError, match=r"jacobian must be \(n, 34, n_pix\) and ivar") as exc:
        covariance(np.ones(jac_shape), np.ones(ivar_shape))
    assert str(jac_shape) in str(exc.value) and str(ivar_shape) in str(exc.value)


def test_scaled_errors_shapes_and_floor():
    # one error per star (n,) and per star and label (n, k): each scaled by its own star's χ²
    assert np.allclose(scaled_errors(np.array([1.0, 3.0]), np.array([9.0, 16.0])), [3.0, 12.0])
    out = scaled_errors(np.ones((2, 3)), np.array([9.0, 0.5]), floor=2.0)
    assert out.shape == (2, 3) and np.allclose(out, [[3.0] * 3, [np.sqrt(2.0)] * 3])
    assert scaled_errors(np.ones((1, 1)), np.array([0.0]))[0, 0] == 1.0  # default floor = 1


def test_jacobian_autograd_promotes_one_star_and_is_float64(toy, star):
    jac = jacobian_autograd(toy, star[0])
    assert jac.shape == (1, 34, 200) and jac.dtype == np.float64
    assert np.array_equal(jac, toy.jacobian(star))


# --------------------------------------------------------------------------- scan and its minimum
def test_scan_minimum_parabola_vertex_by_hand():
    v = np.arange(10.0) * 0.5  # points 0, 0.5, ..., 4.5
    rows = np.stack([(v - t) ** 2 + 1.0 for t in (2.1, 2.4, 0.6, 3.9)])
    best, edge = scan_minimum(np.repeat(v[None], 4, 0), rows)
    # the vertex of the parabola through three points of an exact parabola is its minimum
    assert np.allclose(best, [2.1, 2.4, 0.6, 3.9], rtol=0, atol=1e-12) and not edge.any()
    coarse, _ = scan_minimum(np.repeat(v[None], 4, 0), rows, refine=False)
    assert np.array_equal(coarse, [2.0, 2.5, 0.5, 4.0])


def test_scan_minimum_asymmetric_points():
    # not a parabola: the vertex through (1, 3), (2, 1), (3, 2) is at 2 + 0.5 (3 - 2) / 3
    v = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    best, edge = scan_minimum(v, np.array([5.0, 3.0, 1.0, 2.0, 6.0]))
    assert best.shape == edge.shape == (1,)
    assert best[0] == pytest.approx(2.0 + 0.5 * (3.0 - 2.0) / (3.0 - 2.0 + 2.0)) and not edge[0]
    best, _ = scan_minimum(v, np.array([5.0, 2.0, 1.0, 3.0, 6.0]))  # mirror image
    assert best[0] == pytest.approx(2.0 - 0.5 * (3.0 - 2.0) / 3.0)


def test_scan_minimum_on_the_edges_is_not_moved():
    v = np.linspace(10.0, 20.0, 6)
    chi = np.array([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [6.0, 5.0, 4.0, 3.0, 2.0, 1.0]])
    best, edge = scan_minimum(np.repeat(v[None], 2, 0), chi)
    assert np.array_equal(best, [10.0, 20.0]) and edge.tolist() == [True, True]
    # one point inside either end is inside
    chi = np.array([[2.0, 1.0, 3.0, 4.0, 5.0, 6.0], [6.0, 5.0, 4.0, 3.0, 1.0, 2.0]])
    best, edge = scan_minimum(np.repeat(v[None], 2, 0), chi)
    assert edge.tolist() == [False, False]
    assert best[0] == pytest.approx(12.0 + 0.5 * (2.0 - 3.0) / (2.0 - 2.0 + 3.0) * 2.0)
    assert best[1] == pytest.approx(18.0 + 0.5 * (3.0 - 2.0) / (3.0 - 2.0 + 2.0) * 2.0)


def test_scan_minimum_ignores_nonfinite_points():
    v = np.arange(5.0)
    chi = np.array([[np.nan, 4.0, 1.0, 4.0, np.inf], [np.nan, np.nan, np.nan, 2.0, 3.0]])
    best, edge = scan_minimum(np.repeat(v[None], 2, 0), chi, refine=False)
    assert best.tolist() == [2.0, 3.0] and edge.tolist() == [False, False]
    best, _ = scan_minimum(np.repeat(v[None], 2, 0), chi)
    assert best[0] == pytest.approx(2.0)


def test_chi2_scan_default_batch_and_shape_error(toy, star):
    labels = np.repeat(star, 33, 0)
    flux = toy.predict(labels)
    calls = toy.calls
    values, chi = chi2_scan(toy, flux, np.full_like(flux, IVAR), labels, "logg", n_points=7)
    assert toy.calls - calls == 2  # 32 stars per predict call by default
    assert values.shape == chi.shape == (33, 7)
    j = index("logg")
    assert np.allclose(values[5], np.linspace(toy.label_min[j], toy.label_max[j], 7))
    # each star's own χ² at each point
    rows = np.repeat(star, 7, 0)
    rows[:, j] = values[0]
    expect = np.mean(IVAR * (toy.predict(rows) - flux[0]) ** 2, axis=1)
    assert np.allclose(chi[32], expect, rtol=1e-12)
    values[0, 0] = -1.0  # the values returned are the caller's own
    assert values[1, 0] == toy.label_min[j]
    with pytest.raises(ValueError, match=r"best_labels must be \(33, 34\), got \(2, 34\)"):
        chi2_scan(toy, flux, np.full_like(flux, IVAR), labels[:2], "logg")


# -------------------------------------------------------------------------------- flag edge cases
def _exact_offset(ref, target):
    """A value b near ``ref + target`` with |b - ref| == target exactly in float64."""
    b = ref + target
    for _ in range(64):
        d = abs(b - ref)
        if d == target:
            return b
        b = np.nextafter(b, -np.inf if d > target else np.inf)
    raise AssertionError("no exact offset")


def test_f4_and_f3_at_their_exact_thresholds(lin, star):
    """F4 is ≥ 0.3 dex (set at exactly 0.3), F3 is > 3σ (clear at exactly 3σ)."""
    mg = index("[Mg/Fe]")
    truth = star.copy()
    truth[0, mg] = -0.4 + 10.0 / 49  # near a scan point (range [-0.4, 0.6])
    flux = lin.predict(truth)
    values, chi = chi2_scan(lin, flux, np.full_like(flux, IVAR), truth, "[Mg/Fe]")
    ref = values[0, np.argmin(chi[0])]
    best = truth.copy()
    best[0, mg] = _exact_offset(ref, 0.3)
    ivar = np.full_like(flux, IVAR)
    get = lambda sig: int(  # noqa: E731
        flags(lin, flux, ivar, best, [[sig]], labels_fitted=["[Mg/Fe]"], refine=False)[0, 0]
    )
    assert get(HUGE) == F4
    d = abs(best[0, mg] - ref)
    s3 = d / 3.0
    while 3.0 * s3 != d:
        s3 = np.nextafter(s3, np.inf)
    assert get(s3) == F4  # exactly 3σ: not beyond
    assert get(np.nextafter(s3, 0.0)) == F4 | F3
    while abs(best[0, mg] - ref) >= 0.3:  # just under 0.3 dex
        best[0, mg] = np.nextafter(best[0, mg], ref)
    assert get(HUGE) == 0


def test_f3_is_set_by_a_nonfinite_sigma_and_bits_accumulate(lin, star):
    ca = index("[Ca/Fe]")
    truth = star.copy()
    truth[0, ca] = lin.label_min[ca]  # on the boundary: F1 and F2
    flux = lin.predict(truth)
    ivar = np.full_like(flux, IVAR)
    fl = flags(lin, flux, ivar, truth, [[np.nan]], labels_fitted=["[Ca/Fe]"])
    assert fl.dtype.kind == "i" and fl[0, 0] == F1 | F2 | F3
    best = truth.copy()
    best[0, ca] += 0.35 * (lin.label_max[ca] - lin.label_min[ca])
    fl = flags(lin, flux, ivar, best, [[1e-6]], labels_fitted=["[Ca/Fe]"])
    assert fl[0, 0] == F2 | F3 | F4  # the scan at the edge, CMA-ES far from it
    assert flags(lin, flux, ivar, truth, [[np.inf]], labels_fitted=["[Ca/Fe]"])[0, 0] & F3


def test_f4_never_for_vmic_and_errors_shape_is_checked(lin, star):
    vm = index("vmic")
    truth = star.copy()
    truth[0, vm] = 1.3
    best = truth.copy()
    best[0, vm] += 0.8  # 0.8 km/s away: F3 with a small σ, but F4 (dex) does not apply
    flux = lin.predict(truth)
    ivar = np.full_like(flux, IVAR)
    assert flags(lin, flux, ivar, best, [[0.01]], labels_fitted=["vmic"])[0, 0] == F3
    assert flags(lin, flux, ivar, best, [[HUGE]], labels_fitted=["vmic"])[0, 0] == 0
    with pytest.raises(ValueError, match=r"errors must be \(1, 2\), got \(1, 1\)"):
        flags(lin, flux, ivar, best, [[HUGE]], labels_fitted=["vmic", "logg"])


def test_flags_default_labels_are_the_28_fitted(lin, star):
    flux = lin.predict(star)
    fl = flags(lin, flux, np.full_like(flux, IVAR), star, np.full((1, 28), HUGE), n_points=9)
    assert fl.shape == (1, 28)


# -------------------------------------------------------------------------------- add_uncertainties
class _NoJacobian:
    """A model with ``predict`` only (no ``jacobian``): errors must come from finite differences."""

    def __init__(self, model):
        self._m = model
        self.wavelength = model.wavelength
        self.label_min, self.label_max = model.label_min, model.label_max

    def predict(self, labels, wavelength=None):
        return self._m.predict(labels, wavelength)


class _TwiceJacobian(_NoJacobian):
    """A model whose own ``jacobian`` is twice the truth, so that its errors are half the FD ones
    (tells which Jacobian was used); counts the stars of each ``jacobian`` call."""

    def __init__(self, model):
        super().__init__(model)
        self.jac_rows = []

    def jacobian(self, labels, wavelength=None):
        self.jac_rows.append(len(labels))
        return 2.0 * self._m.jacobian(labels, wavelength)


def _table(labels, chisq, status=None):
    cols = {n: labels[:, j] for j, n in enumerate(LABELS)}
    cols["Chisq"] = chisq
    if status is not None:
        cols["status"] = status
    return Table(cols)


def test_add_uncertainties_errors_are_eq16_and_eq21_per_star(lin, star):
    labels = np.repeat(star, 3, 0)
    labels[1, index("[Fe/H]")] = -1.0
    flux = lin.predict(labels)
    ivar = np.full_like(flux, IVAR)
    ivar[2, :100] = 0.0  # star 2: half the pixels
    spy = _TwiceJacobian(lin)
    table = _table(labels, [4.0, 0.25, 9.0])  # no status column: every finite row is fitted
    add_uncertainties(table, spy, flux, ivar, flags=False, batch_stars=2)
    assert spy.jac_rows == [2, 1]  # batches of 2 stars
    err = formal_errors(covariance(2.0 * lin.jacobian(labels), ivar))
    for c, name in enumerate(FITTED):
        assert np.allclose(table[f"{name}_err"], err[:, c], rtol=1e-10, atol=0)
        assert np.allclose(table[f"{name}_err_scaled"], err[:, c] * [2.0, 1.0, 3.0], rtol=1e-10)
        assert f"{name}_flag" not in table.colnames
    assert np.all(err[2] > err[0])


@pytest.mark.parametrize("which", ["auto", "autograd", "fd"])
def test_add_uncertainties_jacobian_choice(lin, star, which):
    flux = lin.predict(star)
    ivar = np.full_like(flux, IVAR)
    true_err = formal_errors(covariance(lin.jacobian(star), ivar))[0]
    spy = _TwiceJacobian(lin)
    table = add_uncertainties(_table(star, [1.0]), spy, flux, ivar, flags=False, jacobian=which)
    got = np.array([table[f"{n}_err"][0] for n in FITTED])
    # the model's own (wrong by 2x here) for auto and autograd; central differences for fd
    expect = true_err if which == "fd" else 0.5 * true_err
    assert np.allclose(got, expect, rtol=1e-6)
    assert len(spy.jac_rows) == (0 if which == "fd" else 1)


def test_add_uncertainties_auto_without_model_jacobian_uses_fd(lin, star):
    flux = lin.predict(star)
    ivar = np.full_like(flux, IVAR)
    table = add_uncertainties(_table(star, [1.0]), _NoJacobian(lin), flux, ivar, flags=False)
    expect = formal_errors(covariance(lin.jacobian(star), ivar))[0]
    assert np.allclose([table[f"{n}_err"][0] for n in FITTED], expect, rtol=1e-6)
    with pytest.raises(ValueError, match="jacobian must be 'auto', 'autograd' or 'fd', got 'x'"):
        add_uncertainties(_table(star, [1.0]), lin, flux, ivar, jacobian="x")


def test_add_uncertainties_row_mismatch_and_bad_rows(lin, star):
    labels = np.repeat(star, 2, 0)
    flux = lin.predict(labels)
    ivar = np.full_like(flux, IVAR)
    with pytest.raises(ValueError, match="table has 1 rows but flux has 2 spectra"):
        add_uncertainties(_table(star, [1.0]), lin, flux, ivar)
    # no star fitted: no flags computed, all -1, NaN errors
    table = _table(labels, [1.0, 1.0], ["failed", "failed"])
    add_uncertainties(table, lin, flux, ivar)
    assert np.all(table["[Fe/H]_flag"] == -1) and np.all(np.isnan(table["[Fe/H]_err_scaled"]))
    # a non-finite label without a status column: that star only
    labels[0, index("vmic")] = np.nan
    table = add_uncertainties(_table(labels, [1.0, 1.0]), lin, flux, ivar)
    assert table["logg_flag"].tolist() == [-1, 0] and np.isnan(table["logg_err"][0])
    assert np.isfinite(table["logg_err"][1])


def test_add_uncertainties_column_layout_and_rerun(lin, star):
    flux = lin.predict(star)
    ivar = np.full_like(flux, IVAR)
    table = _table(star, [4.0], ["ok"])
    add_uncertainties(table, lin, flux, ivar, labels_fitted=["Teff", "[Eu/Fe]"])
    names = table.colnames
    assert names[:4] == ["Teff", "Teff_err", "Teff_err_scaled", "Teff_flag"]
    i = names.index("[Eu/Fe]")
    assert names[i : i + 4] == ["[Eu/Fe]", "[Eu/Fe]_err", "[Eu/Fe]_err_scaled", "[Eu/Fe]_flag"]
    assert "logg_err" not in names and len(names) == 34 + 2 + 6
    first = table["Teff_err"][0]
    table["Chisq"] = [16.0]
    add_uncertainties(table, lin, flux, ivar, labels_fitted=["Teff", "[Eu/Fe]"])
    assert table.colnames == names  # the columns are replaced, not added again
    assert table["Teff_err"][0] == first and table["Teff_err_scaled"][0] == 4.0 * first


def test_add_uncertainties_resamples_onto_the_model_grid(lin, star):
    from phdl.fit.spectra import ResampleWarning, on_model_grid

    wl = np.geomspace(3800.0, 8900.0, 321)
    flux = np.interp(wl, lin.wavelength, lin.predict(star)[0])[None]
    ivar = np.full_like(flux, IVAR)
    with pytest.warns(ResampleWarning):
        table = add_uncertainties(_table(star, [1.0]), lin, flux, ivar, wavelength=wl)
    with pytest.warns(ResampleWarning):
        f, w = on_model_grid(lin.wavelength, wl, flux, ivar)
    ref = add_uncertainties(_table(star, [1.0]), lin, f, w)
    for name in ("Teff", "[Mg/Fe]"):
        assert table[f"{name}_err"][0] == ref[f"{name}_err"][0]
        assert table[f"{name}_flag"][0] == ref[f"{name}_flag"][0]


def test_good_fractions_unfitted_column_and_one_star():
    out = good_fractions(np.array([[-1, 0], [-1, 2]]), ["Teff", "logg"])
    assert np.isnan(out["Teff"]) and out["logg"] == 0.5
    assert good_fractions(np.array([0, 4]), ["Teff", "logg"]) == {"Teff": 1.0, "logg": 0.0}
    with pytest.raises(ValueError, match="flag_array has 2 columns but 3 names"):
        good_fractions(np.zeros((1, 2)), ["Teff", "logg", "vmic"])


# ---------------------------------------------------------------- order, precision, batching
def test_covariance_singular_star_first_does_not_stop_the_others():
    jac, s = _unit_jacobian()
    zero = jac.copy()
    zero[index("[Eu/Fe]")] = 0.0  # no sensitivity
    twin = jac.copy()
    twin[index("logg")] = 2.0 * twin[index("Teff")]  # collinear
    cov = covariance(np.stack([zero, twin, jac, zero]), np.ones((4, jac.shape[1])))
    assert np.all(np.isnan(cov[[0, 1, 3]]))
    assert np.allclose(np.diagonal(cov[2]), 1.0 / s**2, rtol=1e-12)


def test_covariance_is_exactly_symmetric(lin, star):
    # a covariance matrix is symmetric; the raw inverse of a 28 x 28 matrix is so only to rounding
    ivar = np.random.default_rng(5).uniform(0.5, 2.0, (1, 200)) * IVAR
    cov = covariance(lin.jacobian(star), ivar)
    assert np.array_equal(cov, np.swapaxes(cov, 1, 2))


def test_float32_inputs_are_computed_in_float64(lin, star):
    """χ² and covariances from float32 catalogue columns, a float32 emulator's Jacobian: the
    results are float64 (jacobian_autograd's documented dtype) and as precise as from float64."""

    class Float32Model(_NoJacobian):
        def jacobian(self, labels, wavelength=None):
            return self._m.jacobian(labels, wavelength).astype(np.float32)

    jac = jacobian_autograd(Float32Model(lin), star)
    assert jac.dtype == np.float64
    assert np.array_equal(jac, lin.jacobian(star).astype(np.float32).astype(np.float64))
    out = scaled_errors(np.ones((1, 2)), np.array([2.0], dtype=np.float32))
    assert out.dtype == np.float64 and np.all(out == np.sqrt(2.0))
    err = formal_errors(np.diag([2.0, 3.0]).astype(np.float32)[None])
    assert err.dtype == np.float64 and np.array_equal(err[0], np.sqrt([2.0, 3.0]))


def test_chi2_scan_batches_rows_and_accepts_integer_labels(lin):
    truth = np.rint(np.atleast_2d(np.asarray(solar(5600.0, 4.0, 1.0, 0.0))))
    labels = np.repeat(truth, 5, 0)
    flux = lin.predict(labels)
    ivar = np.full_like(flux, IVAR)
    start = len(lin.rows)
    values, chi = chi2_scan(lin, flux, ivar, labels, "[Fe/H]", n_points=4, batch_stars=2)
    assert lin.rows[start:] == [8, 8, 4]  # 2, 2 and 1 stars, 4 points each
    ints = labels.astype(np.int64)  # whole-number labels given as integers: same scan
    v2, chi_int = chi2_scan(lin, flux, ivar, ints, "[Fe/H]", n_points=4, batch_stars=2)
    assert np.array_equal(v2, values) and np.allclose(chi_int, chi, rtol=1e-12)
    assert np.allclose(values[0], [-4.0, -2.5, -1.0, 0.5])


def test_flags_uses_its_n_points_for_the_scan(lin, star):
    ca = index("[Ca/Fe]")
    truth = star.copy()
    truth[0, ca] = lin.label_min[ca] + 0.1 * (lin.label_max[ca] - lin.label_min[ca])
    flux = lin.predict(truth)
    ivar = np.full_like(flux, IVAR)
    # 3 points (scaled 0, 0.5, 1): the lowest is the end point 0; 50 points: inside
    assert flags(lin, flux, ivar, truth, [[HUGE]], ["[Ca/Fe]"], n_points=3)[0, 0] & F2
    assert flags(lin, flux, ivar, truth, [[HUGE]], ["[Ca/Fe]"])[0, 0] == 0


def test_scan_minimum_of_two_tied_lowest_points_is_their_midpoint():
    # the parabola through (-1, 4), (0, 0.3), (1, 0.3) has its vertex at 0.5, half a step
    best, edge = scan_minimum(np.arange(5.0) - 2.0, np.array([9.0, 4.0, 0.3, 0.3, 9.0]))
    assert best[0] == 0.5 and not edge[0]


def test_good_fractions_of_an_unfitted_label_warns_nothing():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = good_fractions(np.array([[-1], [-1]]), ["[Eu/Fe]"])
    assert np.isnan(out["[Eu/Fe]"])


def test_add_uncertainties_default_batch_status_and_no_scans_without_flags(lin, star):
    labels = np.repeat(star, 33, 0)
    flux = lin.predict(labels)
    ivar = np.full_like(flux, IVAR)
    spy = _TwiceJacobian(lin)
    calls = lin.calls
    table = add_uncertainties(_table(labels, np.ones(33)), spy, flux, ivar, flags=False)
    assert spy.jac_rows == [32, 1]  # 32 stars per Jacobian call by default
    assert lin.calls == calls  # flags=False: no χ² scan, no predict call
    assert np.all(np.isfinite(table["Teff_err"]))
    # status "ok" does not rescue a star without finite labels
    labels = np.repeat(star, 2, 0)
    labels[1, index("[Fe/H]")] = np.nan
    table = _table(labels, [1.0, 1.0], ["ok", "ok"])
    add_uncertainties(table, lin, lin.predict(np.repeat(star, 2, 0)), ivar[:2])
    assert table["[Mg/Fe]_flag"].tolist() == [0, -1] and np.isnan(table["[Mg/Fe]_err"][1])


def test_f3_at_exactly_3_sigma_with_float32_errors(lin, star):
    """σ read from a float32 column: the 3σ of F3 is still exact (3σ is not rounded to float32)."""
    x = np.float32(0.05)
    while float(np.float32(3) * x) >= 3.0 * float(x):  # a σ whose 3σ rounds down in float32
        x = np.nextafter(x, np.float32(1))
    mg = index("[Mg/Fe]")
    truth = star.copy()
    truth[0, mg] = -0.4 + 10.0 / 49
    flux = lin.predict(truth)
    ivar = np.full_like(flux, IVAR)
    values, chi = chi2_scan(lin, flux, ivar, truth, "[Mg/Fe]")
    ref = values[0, np.argmin(chi[0])]
    best = truth.copy()
    best[0, mg] = _exact_offset(ref, 3.0 * float(x))
    err = np.array([[x]], dtype=np.float32)
    assert flags(lin, flux, ivar, best, err, ["[Mg/Fe]"], refine=False)[0, 0] == 0
    err = np.array([[np.nextafter(x, np.float32(0))]], dtype=np.float32)
    assert flags(lin, flux, ivar, best, err, ["[Mg/Fe]"], refine=False)[0, 0] == F3


def test_scan_minimum_at_an_end_among_nonfinite_points_is_silent():
    """Failed model spectra (χ² = +inf) are ranked last without numpy warnings; the only finite
    point at an end is the minimum, on the edge, not moved."""
    import warnings

    v = np.arange(5.0)
    inf = np.inf
    chi = np.array([[1.0, inf, inf, inf, inf], [inf, inf, inf, inf, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best, edge = scan_minimum(np.repeat(v[None], 2, 0), chi)
    assert best.tolist() == [0.0, 4.0] and edge.tolist() == [True, True]


# ------------------------------------------------------------- flag_bits and the flags= modes
def test_flag_bits_by_hand():
    """Section 2.3's four bits from hand-made inputs: F1 scaled ≤ 0 or ≥ 1, F2 edge, F3 diff > 3σ
    or σ not finite, F4 diff ≥ 0.3 dex for dex labels only."""
    scaled = np.array([0.0, -0.2, 1.0, 1.3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    edge = np.array([False, False, False, False, True, False, False, False, False, False])
    diff = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 0.29, 3.0, 3.0000001, 0.0])
    sigma = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, np.nan])
    dex = flag_bits("[Mg/Fe]", scaled, edge, diff, sigma)
    assert dex.dtype == np.int64 and dex.shape == (10,)
    assert dex.tolist() == [F1, F1, F1, F1, F2, F4, 0, F4, F3 | F4, F3]
    assert flag_bits("logg", scaled, edge, diff, sigma).tolist() == dex.tolist()
    for name in ("Teff", "vmic"):  # not dex: never F4
        assert flag_bits(name, scaled, edge, diff, sigma).tolist() == [
            F1, F1, F1, F1, F2, 0, 0, 0, F3, F3
        ]  # fmt: skip
    inside = flag_bits("Teff", np.array([0.01, 0.99]), np.zeros(2, bool), np.zeros(2), np.ones(2))
    assert inside.tolist() == [0, 0]
    every = flag_bits("[Fe/H]", np.array([1.0]), np.array([True]), np.array([5.0]), np.ones(1))
    assert every.tolist() == [F1 | F2 | F3 | F4]


def test_add_uncertainties_flags_modes(lin, star):
    labels = np.repeat(star, 2, 0)
    labels[1, index("[Mg/Fe]")] += 0.4  # star 1: CMA-ES 0.4 dex off in [Mg/Fe] (F3, F4)
    flux = lin.predict(np.repeat(star, 2, 0))
    ivar = np.full_like(flux, IVAR)
    names = ["Teff", "[Mg/Fe]", "[Ca/Fe]"]
    tables = {}
    for mode in (True, "full", "screen", False):
        t = _table(labels, [1.0, 1.0])
        tables[mode] = add_uncertainties(
            t, lin, flux, ivar, flags=mode, labels_fitted=names, batch_stars=1
        )
    assert tables[True].meta["FLAGSCAN"] == "full" and tables["full"].meta["FLAGSCAN"] == "full"
    assert tables["screen"].meta["FLAGSCAN"] == "screen"
    assert "FLAGSCAN" not in tables[False].meta and "Teff_flag" not in tables[False].colnames
    mg = tables[True]["[Mg/Fe]_flag"].tolist()
    assert mg[0] == 0 and mg[1] & (F3 | F4) == F3 | F4
    for name in names:  # the screen gives the paper's bits here; so does "full"
        for mode in ("full", "screen"):
            assert tables[mode][f"{name}_flag"].tolist() == tables[True][f"{name}_flag"].tolist()
            assert tables[mode][f"{name}_flag"].dtype == np.int64
        assert np.array_equal(tables["screen"][f"{name}_err"], tables[True][f"{name}_err"])
    with pytest.raises(ValueError, match="flags must be True, False, 'full' or 'screen', got 'x'"):
        add_uncertainties(_table(labels, [1.0, 1.0]), lin, flux, ivar, flags="x")


def test_add_uncertainties_screen_is_screened_flags_per_star(lin, star):
    from phdl.screen import screened_flags

    labels = np.repeat(star, 3, 0)
    labels[0, index("[Ca/Fe]")] += 0.35
    labels[2, index("Teff")] += 400.0
    flux = lin.predict(np.repeat(star, 3, 0))
    ivar = np.full_like(flux, IVAR)
    names = ["Teff", "[Ca/Fe]"]
    table = _table(labels, [1.0, 1.0, 1.0], ["ok", "failed", "ok"])
    add_uncertainties(table, lin, flux, ivar, flags="screen", labels_fitted=names, batch_stars=1)
    sel = [0, 2]
    jac = lin.jacobian(labels[sel])[:, [index(n) for n in names]]
    err = formal_errors(covariance(lin.jacobian(labels[sel]), ivar[sel], names))
    expect, _ = screened_flags(lin, flux[sel], ivar[sel], labels[sel], err, jac, names)
    for c, name in enumerate(names):
        got = table[f"{name}_flag"]
        assert got[1] == -1 and got[sel].tolist() == expect[:, c].tolist()
    assert table["[Ca/Fe]_flag"][0] & F4 and table["Teff_flag"][2] & F3


def test_an_infinite_neighbour_does_not_hide_the_scan_minimum():
    """A failed model spectrum (χ² = +inf) beside the lowest scan point: the minimum stays that
    point (no parabola through an infinite value), so F3 and F4 can still be set."""
    best, edge = scan_minimum(np.arange(5.0)[None] - 2, np.array([[9.0, 5.0, 1.0, np.inf, 9.0]]))
    assert best[0] == 0.0 and not edge[0]


def test_add_uncertainties_gives_the_screen_model_the_coarse_scans():
    """flags="screen" with a screen model: the coarse scans (one call per label) go to it."""
    from phdl.fit import ToyModel, add_noise, fit_spectra
    from phdl.grid import sample_labels

    toy = ToyModel(n_pix=150, seed=4)
    truth = sample_labels(2, 3)
    flux, ivar = add_noise(toy.predict(truth), 100.0, seed=1)
    table = fit_spectra(toy, toy.wavelength, flux, ivar, strategy="fast", held=truth,
                        progress=False)  # fmt: skip
    screen = ToyModel(n_pix=150, seed=4)
    add_uncertainties(table, toy, flux, ivar, flags="screen", screen_model=screen,
                      labels_fitted=["Teff", "[Mg/Fe]"])  # fmt: skip
    assert screen.calls == 2
