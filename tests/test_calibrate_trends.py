"""phdl.calibrate's two trends, pinned on small hand-made cases (from a mutation triage).

§4.2.2's logg trend (:mod:`phdl.calibrate.logg_trend`): the [Fe/H] cuts are strict, the
smoothing options reach both splines, the catalogue names reach every error message, an element
with no star left is skipped with one warning naming them all, C and N get an exact zero.
§4.2.1's Teff trend (:mod:`phdl.calibrate.teff_trend`): the weighted least squares and its
covariance by hand, the open prior box (log posterior, refused start, walkers' start), the start
ball's documented size (1 % of the scaled errors), the convergence rule's "exceed", σ of f by
hand, float32 Teff computed in float64, the JSON dict's defaults.

Every test calls the function it is about; fits are tiny (a few walkers' steps).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import emcee
import numpy as np
import pytest
from astropy.table import Table

from phdl import paper
from phdl.calibrate import (
    LoggTrend,
    MedianSpline,
    TeffTrend,
    fit_logg_trend,
    fit_logg_trends,
    fit_teff_trend,
)
from phdl.calibrate.teff_trend import (
    PRIOR_BOUNDS,
    _least_squares,
    _log_prob,
    _summary,
    design,
    powers,
)


# ------------------------------------------------------------------------------ the logg trend
def stars(logg, feh, **xfe) -> Table:
    """A catalogue of the given logg, [Fe/H] and [X/Fe] columns (keyword X → column [X/Fe])."""
    cols = {"logg": np.asarray(logg, float), "[Fe/H]": np.asarray(feh, float)}
    cols.update({f"[{e}/Fe]": np.asarray(v, float) for e, v in xfe.items()})
    return Table(cols)


def ramp(n: int, feh: float = 0.0, slope: float = 0.1) -> Table:
    """n stars evenly in logg 1.5-4.5 at one [Fe/H], [Mg/Fe] = [Si/Fe] = slope × logg."""
    logg = np.linspace(1.5, 4.5, n)
    return stars(logg, np.full(n, feh), Mg=slope * logg, Si=slope * logg)


def test_feh_cuts_are_strict_on_both_catalogues():
    """LOGG_TREND_FEH_MIN: ours keeps [Fe/H] > -0.5, the reference > -0.2; a star exactly at the
    cut is dropped, one just above is kept (one knot each: the median of the kept stars)."""
    cut_ours, cut_ref = paper.LOGG_TREND_FEH_MIN["ours"], paper.LOGG_TREND_FEH_MIN["reference"]
    assert (cut_ours, cut_ref) == (-0.5, -0.2)
    ours = stars([2.0, 3.0, 4.0, 2.5, 3.5], [0.0, cut_ours + 0.01, 0.2, cut_ours, cut_ours],
                 Mg=[0.1, 0.2, 0.3, 5.0, 5.0])  # fmt: skip
    ref = stars([2.0, 3.0, 4.0, 2.5], [cut_ref + 0.01, 0.1, 0.2, cut_ref],
                Mg=[0.0, 0.1, -0.1, 9.0])  # fmt: skip
    trend = fit_logg_trend(ours, ref, "Mg")
    assert trend.ours.n == 3 and trend.ours.values.tolist() == [0.2]
    assert trend.reference.n == 3 and trend.reference.values.tolist() == [0.0]
    assert trend(3.0) == pytest.approx(0.2)


def test_min_per_knot_and_max_knots_reach_both_splines():
    """60 stars: 60 // 10 = 6 knots with min_per_knot=10 (3 with the default 20); max_knots=4
    caps them at 4."""
    ours, ref = ramp(60), ramp(60)
    assert len(fit_logg_trend(ours, ref, "Mg").ours.knots) == 3
    six = fit_logg_trend(ours, ref, "Mg", min_per_knot=10)
    assert len(six.ours.knots) == 6 and len(six.reference.knots) == 6
    four = fit_logg_trend(ours, ref, "Mg", min_per_knot=10, max_knots=4)
    assert len(four.ours.knots) == 4 and len(four.reference.knots) == 4


def test_trend_is_named_by_the_element_symbol():
    trend = fit_logg_trend(ramp(30), ramp(30), "[Mg/Fe]")
    assert trend.element == "Mg" and not trend.skipped
    zero = LoggTrend.zero("[N/Fe]")
    assert zero.element == "N" and zero.skipped


def test_a_catalogue_with_no_star_left_names_column_catalogue_and_cut():
    ours = ramp(10, feh=-1.0)
    expected = ("no star with finite values in [Mg/Fe] of catalogue 'lamost' with [Fe/H] > -0.5:"
                " nothing to fit a spline to")  # fmt: skip
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        fit_logg_trend(ours, ramp(10), "Mg", catalogs=("lamost", "hypatia"))
    expected = expected.replace("'lamost'", "'hypatia'").replace("-0.5", "-0.2")
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        fit_logg_trend(ramp(10), ramp(10, feh=-0.3), "Mg", catalogs=("lamost", "hypatia"))


def test_a_reference_of_the_wrong_type_is_named():
    with pytest.raises(TypeError, match=r"^catalogue 'hypatia' must be an astropy Table or a "
                                        r"pandas DataFrame, got list$"):  # fmt: skip
        fit_logg_trend(ramp(10), [1.0, 2.0], "Mg", catalogs=("lamost", "hypatia"))


@pytest.mark.parametrize("catalogs", [("lamost",), ("lamost", "hypatia", "galah")])
def test_catalogs_must_name_exactly_two_catalogues(catalogs):
    with pytest.raises(ValueError):
        fit_logg_trend(ramp(10), ramp(10), "Mg", catalogs=catalogs)


@pytest.mark.parametrize(
    ("which", "kwargs", "name"),
    [
        (0, {}, "ours"),
        (1, {}, "reference"),
        (0, {"catalogs": ("lamost", "hypatia")}, "lamost"),
        (1, {"catalogs": ("lamost", "hypatia")}, "hypatia"),
    ],
)
def test_fit_logg_trends_names_a_catalogue_of_the_wrong_type(which, kwargs, name):
    tables = [ramp(10), ramp(10)]
    tables[which] = {"logg": [3.0]}
    with pytest.raises(TypeError, match=f"^catalogue '{name}' must be an astropy Table"):
        fit_logg_trends(*tables, ("Mg",), **kwargs)


def test_fit_logg_trends_passes_its_options_on():
    trends = fit_logg_trends(ramp(60), ramp(60), ("Mg", "Si"), min_per_knot=10, max_knots=4)
    assert {e: len(t.ours.knots) for e, t in trends.items()} == {"Mg": 4, "Si": 4}


def test_fit_logg_trends_skips_elements_with_no_star_left_in_one_warning():
    """No reference star above -0.2: every element is skipped, one warning names them all."""
    with pytest.warns(UserWarning) as record:
        trends = fit_logg_trends(ramp(30), ramp(30, feh=-0.5), ("[Mg/Fe]", "Si"))
    assert trends == {}
    assert [str(r.message) for r in record] == [
        "no logg trend for Mg, Si: no star left after the [Fe/H] cuts"
    ]


def test_fit_logg_trends_skips_only_the_empty_element_and_zeroes_c():
    ours = ramp(30)
    ours["[Si/Fe]"] = np.nan  # no Si measured
    ours["[C/Fe]"] = np.nan  # C is never fitted: no warning for it
    with pytest.warns(UserWarning, match=r"^no logg trend for Si: no star left"):
        trends = fit_logg_trends(ours, ramp(30), ("Mg", "Si", "C"))
    assert sorted(trends) == ["C", "Mg"]
    assert trends["C"].skipped and not trends["Mg"].skipped


def test_fit_logg_trends_still_raises_on_a_missing_column():
    ours = ramp(30)
    del ours["[Si/Fe]"]
    with pytest.raises(ValueError, match=r"^catalogue 'ours' has no column '\[Si/Fe\]'"):
        fit_logg_trends(ours, ramp(30), ("Mg", "Si"))


def test_fit_logg_trends_warning_points_at_the_caller():
    with pytest.warns(UserWarning) as record:
        fit_logg_trends(ramp(30), ramp(30, feh=-0.5), ("Mg",))
    where = record[0].filename
    if "MUTANT_UNDER_TEST" in os.environ:
        # mutmut's trampolines stand between this test and fit_logg_trends: there the warning can
        # only be checked not to point into the module that issues it
        assert Path(where).name != "logg_trend.py"
    else:
        assert where == __file__


def test_skipped_trend_is_zero_and_keeps_nan():
    out = LoggTrend.zero("C")(np.array([np.nan, 3.0, 5.5]))
    assert out.dtype == np.float64 and out.shape == (3,)
    assert np.isnan(out[0]) and out[1:].tolist() == [0.0, 0.0]


def test_beyond_our_data_both_splines_are_read_at_our_nearest_knot():
    """Ours has knots at logg 3 and 4; the reference (a line, 0.1 × (logg − 1)) reaches 1-5:
    below 3 and above 4 the correction is the one at 3 and at 4, not ours minus the reference
    read at the star's own logg."""
    ours = MedianSpline(np.array([3.0, 4.0]), np.array([0.1, 0.3]), np.array([20, 20]))
    grid = np.arange(1.0, 6.0)
    ref = MedianSpline(grid, 0.1 * (grid - 1.0), np.full(5, 20))
    trend = LoggTrend("Mg", ours, ref)
    assert trend(np.array([1.0, 3.0, 4.0, 5.0])) == pytest.approx([-0.1, -0.1, 0.0, 0.0])


def test_logg_trend_dict_keeps_skipped_and_element():
    d = LoggTrend.zero("[C/Fe]").to_dict()
    assert d["skipped"] is True and d["element"] == "C"
    back = LoggTrend.from_dict(d)
    assert back.skipped and back.element == "C" and back(4.0) == 0.0
    fitted = fit_logg_trend(ramp(30), ramp(30), "Mg").to_dict()
    assert fitted["skipped"] is False


# ------------------------------------------------------------------------------ the Teff trend
def pairs(n: int, noise: float, stated: float, seed: int, coef=(0.3, -5.0, 25.0)):
    """n wide binaries in 4500-7000 K with Δ = f(T1) − f(T2) + N(0, noise), error ``stated``."""
    rng = np.random.default_rng(seed)
    t1, t2 = rng.uniform(*paper.BINARY_TEFF_RANGE, size=(2, n))
    f = TeffTrend(*coef)
    return t1, t2, f(t1) - f(t2) + rng.normal(0.0, noise, n), np.full(n, stated)


#: emcee's τ of a one-step chain divides 0 by 0 (harmless here: only the samples are checked)
ONE_STEP = pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")


def test_least_squares_by_hand():
    """Two measures of a (0.1 ± 0.1, 0.4 ± 0.2), one of b (2 ± 0.5), one of c (−3 ± 2):
    a = (0.1/0.01 + 0.4/0.04) / (100 + 25) = 0.16 with variance 1/125; b, c as measured."""
    x = np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    coef, cov = _least_squares(x, np.array([0.1, 0.4, 2.0, -3.0]), np.array([0.1, 0.2, 0.5, 2.0]))
    assert coef == pytest.approx([0.16, 2.0, -3.0], rel=1e-12)
    assert cov == pytest.approx(np.diag([1 / 125, 0.25, 4.0]), rel=1e-12, abs=1e-15)


def test_pairs_that_cannot_separate_the_coefficients_are_refused():
    t = np.array([5000.0, 5500.0, 6000.0, 6500.0])
    with pytest.raises(
        ValueError,
        match=r"^teff1, teff2: the pairs' temperatures cannot "
        r"separate a, b and c \(too few distinct pairs\)$",
    ):
        fit_teff_trend(t, t, np.zeros(4), np.full(4, 0.05), nsteps=5, burn=0)


def test_error_scale_uses_the_weighted_least_squares():
    """Unequal errors: √χ²_r (n − 3 dof) of the fit weighted by 1/σ², solved independently."""
    t1, t2, delta, _ = pairs(40, 0.2, 0.05, seed=11)
    err = np.linspace(0.02, 0.1, 40)
    x = powers(t1) - powers(t2)
    coef = np.linalg.lstsq(x / err[:, None], delta / err, rcond=None)[0]
    expected = np.sqrt(np.sum(((delta - x @ coef) / err) ** 2) / 37)
    trend = fit_teff_trend(t1, t2, delta, err, nsteps=5, burn=0)
    assert expected > 1.5 and trend.error_scale == pytest.approx(expected, rel=1e-9)


def test_a_missing_value_counts_as_non_finite():
    t1, t2, delta, err = (list(v) for v in pairs(10, 0.05, 0.05, seed=1))
    delta[4] = None
    with pytest.raises(ValueError, match=r"^delta has 1 non-finite values$"):
        fit_teff_trend(t1, t2, delta, err, nsteps=5, burn=0)


def test_log_prob_is_gaussian_inside_an_open_box():
    """χ² = |θ|² here; a walker outside the box, or exactly on an edge, has log p = −∞."""
    x, delta, err = np.eye(3), np.zeros(3), np.ones(3)
    lo, hi = np.full(3, -1.0), np.full(3, 1.0)
    theta = np.array([
        [0.5, 0.0, 0.0], [0.2, 0.3, -0.4], [1.5, 0.0, 0.0], [0.0, 0.0, -2.0],
        [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0],
    ])  # fmt: skip
    out = _log_prob(theta, x, delta, err, lo, hi)
    assert out.dtype == np.float64
    assert out.tolist() == pytest.approx([-0.125, -0.145, -np.inf, -np.inf, -np.inf, -np.inf])


@pytest.mark.parametrize("edge", [0, 1])
def test_a_least_squares_start_on_the_box_edge_is_refused(edge):
    t1, t2, delta, err = pairs(30, 0.05, 0.05, seed=2)
    start = _least_squares(design(t1, t2), delta, err)[0]
    box = [list(b) for b in PRIOR_BOUNDS]
    box[0][edge] = float(start[0])
    with pytest.raises(ValueError, match=r"^the least-squares \(a, b, c\) = .* outside the prior"):
        fit_teff_trend(t1, t2, delta, err, nsteps=5, burn=0, bounds=tuple(map(tuple, box)))


@ONE_STEP
@pytest.mark.parametrize("side", ["low", "high"])
def test_walkers_start_strictly_inside_a_box_edge_near_the_start(side):
    """The box's edge half a ball-σ from the start (a ≈ −3, so lo + hi < 0 on either side): the
    walkers beyond it are put back inside, so even the first step's samples are all inside."""
    t1, t2, delta, err = pairs(60, 0.05, 0.05, seed=5, coef=(-3.0, 50.0, -200.0))
    start, cov = _least_squares(design(t1, t2), delta, err)
    half = 0.5 * 0.01 * np.sqrt(cov[0, 0])
    box = [list(b) for b in PRIOR_BOUNDS]
    box[0] = [start[0] - half, 2.0] if side == "low" else [-10.0, start[0] + half]
    trend = fit_teff_trend(t1, t2, delta, err, nsteps=1, burn=0, bounds=tuple(map(tuple, box)))
    assert trend.error_scale == 1.0
    lo, hi = np.array(box).T
    assert np.all((trend.samples > lo) & (trend.samples < hi))


def test_a_narrow_box_is_sampled_inside():
    """a held to ±5e-6 (far narrower than the start ball): the walkers start inside it, spread
    over it, and stay inside."""
    t1, t2, delta, err = pairs(60, 0.05, 0.05, seed=5)
    start = _least_squares(design(t1, t2), delta, err)[0]
    box = [list(b) for b in PRIOR_BOUNDS]
    box[0] = [start[0] - 5e-6, start[0] + 5e-6]
    trend = fit_teff_trend(t1, t2, delta, err, nsteps=10, burn=0, bounds=tuple(map(tuple, box)))
    assert np.all((trend.samples[:, 0] > box[0][0]) & (trend.samples[:, 0] < box[0][1]))
    # spread over the box, not stacked on one value (where the stretch move never moves them)
    assert np.ptp(trend.samples[:, 0]) > 0.5e-5


@ONE_STEP
def test_walkers_start_in_a_ball_of_one_percent_of_the_scaled_errors(monkeypatch):
    """The module docstring: a Gaussian ball around the weighted least squares, shaped by its
    covariance (scaled by √χ²_r, here ≈ 3), σ 1 % of its errors. 4000 walkers: the ball's σ is
    measured to ~1 %."""
    starts = []
    run_mcmc = emcee.EnsembleSampler.run_mcmc

    def spy(self, initial_state, nsteps, **kwargs):
        starts.append(np.array(initial_state.coords))
        return run_mcmc(self, initial_state, nsteps, **kwargs)

    monkeypatch.setattr(emcee.EnsembleSampler, "run_mcmc", spy)
    t1, t2, delta, err = pairs(80, 0.15, 0.05, seed=3)
    trend = fit_teff_trend(t1, t2, delta, err, nwalkers=4000, nsteps=1, burn=0)
    assert 2.5 < trend.error_scale < 3.5
    x = powers(t1) - powers(t2)
    coef = np.linalg.lstsq(x / err[:, None], delta / err, rcond=None)[0]
    cov = np.linalg.inv((x / err[:, None]).T @ (x / err[:, None])) * trend.error_scale**2
    sd = np.sqrt(np.diag(cov))
    (ball,) = starts
    assert ball.shape == (4000, 3)
    assert np.all(np.abs(ball.mean(axis=0) - coef) < 4 * 0.01 * sd / np.sqrt(4000))
    assert ball.std(axis=0) / (0.01 * sd) == pytest.approx(np.ones(3), abs=0.06)
    assert np.corrcoef(ball.T) == pytest.approx(cov / np.outer(sd, sd), abs=0.02)


class FinishedChain:
    """What :func:`_summary` reads of an emcee sampler, with a chosen τ."""

    nwalkers = 2
    acceptance_fraction = np.array([0.25, 0.75])

    def __init__(self, tau):
        self.tau = np.asarray(tau, dtype=float)

    def get_chain(self, discard=0, flat=False):
        return np.arange(30.0).reshape(10, 3)

    def get_autocorr_time(self, discard=0, tol=50):
        return self.tau


def test_converged_means_the_kept_steps_exceed_50_tau():
    """100 kept steps: converged for τ = 1.99, not for τ = 2 exactly (100 is not > 50 × 2)."""
    at = _summary(FinishedChain([2.0, 1.0, 0.5]), 0, 100, 5, 7)
    below = _summary(FinishedChain([1.99, 1.0, 0.5]), 0, 100, 5, 7)
    assert at.converged is False and below.converged is True
    assert (at.seed, at.n_pairs, at.nwalkers, at.nsteps, at.burn) == (7, 5, 2, 100, 0)
    assert at.acceptance == 0.5
    assert _summary(FinishedChain([1.0, 1.0, 1.0]), 50, 100, 5, 0).converged is False


def test_the_seed_is_recorded():
    trend = fit_teff_trend(*pairs(10, 0.05, 0.05, seed=1), seed=7, nsteps=5, burn=0)
    assert trend.seed == 7 and trend.to_dict()["seed"] == 7


def test_sigma_by_hand():
    """cov = diag(1e-4, 4e-4, 9e-4): at 5000 K, g = (125, 25, 5) and σ² = 1.835; against 6000 K,
    g = (−91, −11, −1) and σ² = 0.8774."""
    trend = TeffTrend(0.1, -1.0, 2.0, cov=np.diag([1e-4, 4e-4, 9e-4]))
    assert trend.sigma(5000.0) == pytest.approx(np.sqrt(1.835), rel=1e-12)
    assert trend.sigma(5000.0, 6000.0) == pytest.approx(np.sqrt(0.8774), rel=1e-12)
    assert trend.sigma(np.array([5000.0, 6000.0]), 6000.0) == pytest.approx(
        [np.sqrt(0.8774), 0.0], abs=1e-12
    )


def test_float32_teff_is_computed_in_float64():
    """FITS catalogues store Teff as float32: f and its powers are those of the same numbers in
    float64, exactly."""
    teff = np.array([4612.3, 5777.7, 6891.1], dtype=np.float32)
    assert powers(teff).dtype == np.float64
    assert np.array_equal(powers(teff), powers(teff.astype(np.float64)))
    mg = paper.table2()[list(paper.table2()["element"]).index("Mg")]
    trend = TeffTrend(float(mg["a"]), float(mg["b"]), float(mg["c"]))
    assert np.array_equal(trend(teff), trend(teff.astype(np.float64)))


def test_teff_trend_dict_without_teff_range_reads_with_the_binaries_range():
    d = TeffTrend(0.1, -1.0, 2.0, converged=True).to_dict()
    assert d["converged"] is True
    del d["teff_range"]  # a file written before teff_range was saved
    back = TeffTrend.from_dict(d)
    assert back.teff_range == paper.BINARY_TEFF_RANGE == (4500.0, 7000.0)
    assert back.converged is True and back(3000.0) == pytest.approx(back(4500.0))


def test_teff_trend_dict_does_not_depend_on_the_dtype_of_cov():
    """A covariance given as integers writes the same JSON as the equal floats: every number of
    the dict but the counts is a float."""
    as_int = TeffTrend(0.1, -1.0, 2.0, cov=np.eye(3, dtype=int)).to_dict()
    assert json.dumps(as_int) == json.dumps(TeffTrend(0.1, -1.0, 2.0, cov=np.eye(3)).to_dict())
    assert all(type(v) is float for row in as_int["cov"] for v in row)
    listed = TeffTrend(0.1, -1.0, 2.0, cov=[[1, 0, 0], [0, 1, 0], [0, 0, 1]]).to_dict()
    assert listed["cov"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert all(type(v) is float for row in listed["cov"] for v in row)
