"""phdl.calibrate against the paper's §4.1-4.2: injected trends are recovered, the paper's
boundary rules and cuts hold, Table 3's zero-point logic, the calibration file, apply's signs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.table import Table
from scipy.stats import chi2, norm

from phdl import paper
from phdl.calibrate import (
    STEPS,
    AtmSplines,
    Calibration,
    LoggTrend,
    MedianSpline,
    TeffTrend,
    ZeroPoints,
    apply,
    fit_atm_splines,
    fit_logg_trend,
    fit_logg_trends,
    fit_teff_trend,
    zero_points,
)
from phdl.calibrate.teff_trend import powers


def mg_row() -> np.ndarray:
    """Table 2's (a, b, c) of [Mg/Fe]."""
    row = paper.table2()[list(paper.table2()["element"]).index("Mg")]
    return np.array([row["a"], row["b"], row["c"]], dtype=float)


def f_teff(coef: np.ndarray, teff: np.ndarray) -> np.ndarray:
    """Eq. 27 written out here, independently of the package: T in kK."""
    t = np.asarray(teff, dtype=float) / paper.TREND_TEFF_UNIT
    return coef[0] * t**3 + coef[1] * t**2 + coef[2] * t


def binaries(coef: np.ndarray, n: int, noise: float, seed: int) -> tuple[np.ndarray, ...]:
    """Wide binaries within the paper's Teff cut, Δ = star 1 − star 2 from f(Teff) + noise."""
    rng = np.random.default_rng(seed)
    t1, t2 = rng.uniform(*paper.BINARY_TEFF_RANGE, size=(2, n))
    delta = f_teff(coef, t1) - f_teff(coef, t2) + rng.normal(0, noise, n)
    return t1, t2, delta, np.full(n, noise)


# ------------------------------------------------------------------ §4.2.1: the Teff trend (emcee)
@pytest.fixture(scope="module")
def mg_fit() -> tuple[np.ndarray, TeffTrend]:
    coef = 3 * mg_row()  # Table 2's Mg shape, scaled up to stand out of the noise
    return coef, fit_teff_trend(*binaries(coef, 500, 0.05, seed=1), seed=0)


def test_teff_trend_recovers_injected_cubic_within_2_sigma(mg_fit):
    """The injected curve lies inside the posterior's simultaneous 2σ (95.45 %) band of
    f(T) − f(5800 K) over the binaries' Teff range: the pointwise posterior σ times
    sqrt(χ²₃(0.9545)) = 2.83, since the band must hold at every Teff at once (3 parameters)."""
    coef, trend = mg_fit
    teff = np.linspace(*paper.BINARY_TEFF_RANGE, 26)
    ref = 5800.0
    truth = f_teff(coef, teff) - f_teff(coef, ref)
    curves = (powers(teff) - powers(ref)) @ trend.samples.T  # the chain's own curves
    mid, sigma = np.median(curves, axis=1), np.std(curves, axis=1)
    width = np.sqrt(chi2.ppf(norm.cdf(2) - norm.cdf(-2), df=3))
    assert np.all(np.abs(truth - mid) <= width * sigma + 1e-12)  # σ = 0 at 5800 K itself
    # the band is informative: far narrower than the injected trend's own range
    assert np.max(2 * width * sigma) < 0.2 * np.ptp(truth)
    # the covariance the trend keeps gives the same σ
    assert np.allclose(trend.sigma(teff, ref), sigma, rtol=0.05, atol=1e-6)
    # Eq. 28 has no constant, so a, b, c are identified: each within 3 σ of the truth
    assert np.all(np.abs(trend.coefficients - coef) < 3 * trend.errors)


def test_teff_trend_records_convergence(mg_fit):
    _, trend = mg_fit
    assert trend.tau.shape == (3,) and np.all(trend.tau > 0)
    assert trend.converged == (trend.nsteps - trend.burn > 50 * trend.tau.max())
    assert trend.converged
    assert 0.2 < trend.acceptance < 0.9
    assert trend.samples.shape == ((trend.nsteps - trend.burn) * trend.nwalkers, 3)


def test_teff_trend_call_is_eq27_in_kelvin(mg_fit):
    _, trend = mg_fit
    teff = np.array([4500.0, 5777.0, 7000.0])
    assert np.allclose(trend(teff), f_teff(trend.coefficients, teff))
    assert np.allclose(trend.sigma(teff, 5800.0) ** 2 >= 0, True)
    assert trend.sigma(5800.0, 5800.0) == pytest.approx(0.0, abs=1e-12)


def test_teff_trend_short_chain_is_flagged_unconverged():
    trend = fit_teff_trend(*binaries(mg_row(), 200, 0.05, seed=2), nsteps=60, burn=10)
    assert not trend.converged


def test_teff_trend_deterministic_under_seed():
    pairs = binaries(mg_row(), 200, 0.05, seed=3)
    one, two = (fit_teff_trend(*pairs, seed=7, nsteps=300, burn=100) for _ in range(2))
    other = fit_teff_trend(*pairs, seed=8, nsteps=300, burn=100)
    assert np.array_equal(one.samples, two.samples)
    assert not np.array_equal(one.samples, other.samples)


def test_teff_trend_round_trip(mg_fit):
    _, trend = mg_fit
    back = TeffTrend.from_dict(json.loads(json.dumps(trend.to_dict())))
    assert back.to_dict() == trend.to_dict()
    assert (back.a_err, back.b_err, back.c_err) == tuple(trend.errors)


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (lambda p: (p[0], p[1][:-1], p[2], p[3]), "teff2"),
        (lambda p: (p[0], p[1], np.where(np.arange(len(p[2])) == 3, np.nan, p[2]), p[3]), "delta"),
        (lambda p: (p[0], p[1], p[2], np.where(np.arange(len(p[3])) == 0, 0.0, p[3])), "delta_err"),
        (lambda p: (p[0][:, None], p[1], p[2], p[3]), "teff1"),
    ],
)
def test_teff_trend_bad_input_names_the_argument(change, name):
    pairs = change(binaries(mg_row(), 50, 0.05, seed=4))
    with pytest.raises(ValueError, match=name):
        fit_teff_trend(*pairs, nsteps=20, burn=0)


# ------------------------------------------------------------------------ §4.1: the atm splines
def giant_teff(teff: np.ndarray) -> np.ndarray:
    """The injected Teff offset of giants, K."""
    return 80.0 + 0.05 * (np.asarray(teff) - 4500.0)


def atm_sample(n: int = 1200, seed: int = 0, noise: float = 0.0) -> tuple[Table, Table]:
    """Cross-matchable catalogues: ours = reference + an injected offset, linear in Teff for
    dwarfs (+10 K per 100 K above 6000 K) and giants (+5 K per 100 K above 4500 K, from +80 K);
    constant in logg (giants +0.2, dwarfs -0.1 dex) and [Fe/H] (+0.05, -0.02 dex)."""
    rng = np.random.default_rng(seed)
    giant = np.arange(n) % 3 == 0
    teff = np.where(giant, rng.uniform(3700, 5300, n), rng.uniform(4700, 7400, n))
    logg = np.where(giant, rng.uniform(1.0, 3.9, n), rng.uniform(4.0, 4.7, n))
    feh = rng.uniform(-0.8, 0.3, n)
    off = {
        "Teff": np.where(giant, giant_teff(teff), 0.1 * (teff - 6000.0)),
        "logg": np.where(giant, 0.2, -0.1),
        "[Fe/H]": np.where(giant, 0.05, -0.02),
    }
    ours = Table({"source_id": np.arange(n), "Teff": teff, "logg": logg, "[Fe/H]": feh})
    ref = Table({"source_id": np.arange(n)[::-1] + 5})  # shuffled ids, partial overlap
    ids = np.asarray(ref["source_id"])
    inside = ids < n
    for name in ("Teff", "logg", "[Fe/H]"):
        col = np.full(n, 99.0)
        scale = 1.0 if name == "Teff" else 0.01
        col[inside] = (ours[name] - off[name] + rng.normal(0, noise * scale, n))[ids[inside]]
        ref[name] = col
    return ours, ref


@pytest.fixture(scope="module")
def atm() -> AtmSplines:
    return fit_atm_splines(*atm_sample())


def test_atm_splines_boundary_rules(atm):
    giant_floor = atm([paper.GIANT_TEFF_FLOOR], [2.0])
    lo, hi = paper.DWARF_TEFF_RANGE
    for name in ("Teff", "logg", "[Fe/H]"):
        assert atm([3800.0], [2.0])[name] == pytest.approx(giant_floor[name])
        assert atm([lo - 200], [4.4])[name] == pytest.approx(atm([lo], [4.4])[name])
        assert atm([hi + 200], [4.4])[name] == pytest.approx(atm([hi], [4.4])[name])
    # and those values are the injected offsets at 4000 K (giant), 5000 K and 7000 K (dwarfs)
    # a giant hotter than the giants' data: the value at the hottest knot
    hottest = atm.splines["Teff"]["giant"]
    assert atm([5390.0], [2.0])["Teff"] == pytest.approx(hottest.values[-1])
    assert hottest.knots[-1] < 5300.0
    floor = giant_teff(paper.GIANT_TEFF_FLOOR)
    assert atm([3800.0], [2.0])["Teff"] == pytest.approx(floor, abs=1e-6)
    assert atm([lo - 200], [4.4])["Teff"] == pytest.approx(0.1 * (lo - 6000), abs=1e-6)
    assert atm([hi + 200], [4.4])["Teff"] == pytest.approx(0.1 * (hi - 6000), abs=1e-6)


def test_atm_splines_giant_dwarf_split_at_the_papers_cuts(atm):
    t, g = paper.GIANT_TEFF_MAX, paper.GIANT_LOGG_MAX
    teff = np.array([t - 1, t, t - 1, 5000.0])
    logg = np.array([g - 0.01, g - 0.01, g, g - 0.01])
    got = atm(teff, logg)["logg"]
    assert np.allclose(got, [0.2, -0.1, -0.1, 0.2])  # giant, dwarf (Teff = cut), dwarf, giant


def test_atm_splines_recover_offsets_and_report_scatter():
    ours, ref = atm_sample(noise=20.0, seed=5)
    spl = fit_atm_splines(ours, ref)
    corr = spl(ours["Teff"], ours["logg"])
    mine = np.isin(ours["source_id"], ref["source_id"])
    dwarf = np.asarray(ours["logg"] >= 4.0) & mine
    inside = dwarf & (ours["Teff"] > 5000) & (ours["Teff"] < 7000)
    injected = 0.1 * (np.asarray(ours["Teff"]) - 6000.0)
    assert np.max(np.abs(corr["Teff"][inside] - injected[inside])) < 10.0  # 20 K noise
    assert spl.sigma_after["Teff"] == pytest.approx(20.0, rel=0.15)
    assert spl.sigma_after["logg"] == pytest.approx(0.2, rel=0.15)
    assert spl.n_used["Teff"] == int(mine.sum())


def test_atm_splines_nan_labels_dropped_and_counted():
    ours, ref = atm_sample()
    ref["[Fe/H]"][[10, 11, 12]] = np.nan  # ids n - 6 ... (in the overlap)
    ours["logg"][[30, 31]] = np.nan
    spl = fit_atm_splines(ours, ref)
    n = spl.n_used["Teff"] + spl.n_dropped["Teff"]
    assert spl.n_dropped == {"Teff": 2, "logg": 2, "[Fe/H]": 5}
    assert spl.n_used["[Fe/H]"] == n - 5
    assert all(np.isfinite(v) for v in spl.sigma_after.values())


def test_atm_splines_missing_column_names_column_and_catalogue():
    ours, ref = atm_sample()
    del ref["logg"]
    with pytest.raises(ValueError, match=r"'apogee'.*'logg'"):
        fit_atm_splines(ours, ref, catalogs=("phdl", "apogee"))
    with pytest.raises(ValueError, match=r"'ours'.*'gaia_id'"):
        fit_atm_splines(*atm_sample(), on="gaia_id")


def test_atm_splines_no_overlap_names_both_catalogues():
    ours, ref = atm_sample()
    ref["source_id"] += 10**6
    with pytest.raises(ValueError, match=r"'phdl'.*'dd-payne'.*'source_id'"):
        fit_atm_splines(ours, ref, catalogs=("phdl", "dd-payne"))


def test_atm_splines_accept_dataframes():
    pytest.importorskip("pandas")
    ours, ref = atm_sample()
    assert (
        fit_atm_splines(ours.to_pandas(), ref.to_pandas()).n_used
        == fit_atm_splines(ours, ref).n_used
    )


# --------------------------------------------------------------------- §4.2.2: the logg trends
def xfe_sample(n: int, seed: int, trend, feh: tuple[float, float], noise: float = 0.02) -> Table:
    """Stars with [Mg/Fe] = 0.1 + trend(logg) + noise, [Fe/H] uniform in ``feh``."""
    rng = np.random.default_rng(seed)
    logg = rng.uniform(1.5, 4.7, n)
    return Table(
        {
            "logg": logg,
            "[Fe/H]": rng.uniform(*feh, n),
            "[Mg/Fe]": 0.1 + trend(logg) + rng.normal(0, noise, n),
            "[C/Fe]": 0.3 * logg,
        }
    )


def ours_trend(logg):
    return 0.05 * (4.4 - np.asarray(logg))


def with_contaminants(table: Table, feh: tuple[float, float], seed: int) -> Table:
    """``table`` plus 200 stars in the [Fe/H] range the cut must drop, all +0.5 dex off."""
    from astropy.table import vstack

    bad = xfe_sample(200, seed, lambda g: 0.5 + 0 * g, feh)
    return vstack([table, bad])


def test_logg_trend_recovers_injected_trend_and_applies_the_feh_cuts():
    ours = with_contaminants(xfe_sample(1500, 0, ours_trend, (-0.5, 0.3)), (-1.5, -0.5), 1)
    lo_ref = paper.LOGG_TREND_FEH_MIN["reference"]
    ref = with_contaminants(xfe_sample(600, 2, lambda g: 0 * g, (lo_ref, 0.3)), (-0.5, lo_ref), 3)
    trend = fit_logg_trend(ours, ref, "[Mg/Fe]")
    logg = np.linspace(1.8, 4.4, 14)
    assert np.allclose(trend(logg), ours_trend(logg), atol=0.015)
    assert trend.ours.n == 1500 and trend.reference.n == 600


def test_logg_trend_reference_trend_is_not_forced_flat():
    ours = xfe_sample(1500, 4, ours_trend, (-0.3, 0.3))
    ref = xfe_sample(1500, 5, lambda g: 0.03 * (g - 3), (0.0, 0.3))
    trend = fit_logg_trend(ours, ref, "Mg")
    logg = np.linspace(1.8, 4.4, 14)
    assert np.allclose(trend(logg), ours_trend(logg) - 0.03 * (logg - 3), atol=0.015)


def test_logg_trend_small_reference_uses_its_overall_median():
    ours = xfe_sample(1000, 6, ours_trend, (-0.3, 0.3))
    ref = xfe_sample(12, 7, lambda g: 0.03 * (g - 3), (0.0, 0.3))
    trend = fit_logg_trend(ours, ref, "Mg", min_per_knot=20)
    assert len(trend.reference.knots) == 1
    assert trend.reference(3.0) == pytest.approx(np.median(ref["[Mg/Fe]"]))


def test_logg_trend_outside_the_data_takes_the_nearest_end():
    ours = xfe_sample(1000, 8, ours_trend, (-0.3, 0.3))
    trend = fit_logg_trend(ours, xfe_sample(500, 9, lambda g: 0 * g, (0.0, 0.3)), "Mg")
    lo, hi = trend.ours.knots[0], trend.ours.knots[-1]
    assert trend(0.2) == pytest.approx(trend(lo)) and trend(5.4) == pytest.approx(trend(hi))


def test_logg_trend_skips_c_and_n():
    ours = xfe_sample(500, 10, ours_trend, (-0.3, 0.3))
    trends = fit_logg_trends(ours, ours, elements=("C", "[Mg/Fe]"))
    assert set(trends) == {"C", "Mg"}
    assert set(paper.LOGG_TREND_SKIP) == {"C", "N"}
    for element in paper.LOGG_TREND_SKIP:
        skipped = fit_logg_trend(ours, ours, element)
        assert skipped.skipped and np.all(skipped(np.linspace(0, 5, 6)) == 0.0)
    assert not trends["Mg"].skipped


def test_logg_trend_missing_column_names_column_and_catalogue():
    ours = xfe_sample(100, 11, ours_trend, (-0.3, 0.3))
    ref = xfe_sample(100, 12, ours_trend, (-0.1, 0.3))
    del ref["[Mg/Fe]"]
    with pytest.raises(ValueError, match=r"'hypatia'.*'\[Mg/Fe\]'"):
        fit_logg_trend(ours, ref, "Mg", catalogs=("ours", "hypatia"))


# ------------------------------------------------------------------- Table 3: the zero points
def twins_table(rows: list[tuple[float, float, float, dict[str, float]]]) -> Table:
    """A catalogue from (Teff, logg, [Fe/H], {element: [X/Fe]}) rows (NaN where not given)."""
    elements = sorted({e for *_, xs in rows for e in xs})
    cols = {name: [r[i] for r in rows] for i, name in enumerate(("Teff", "logg", "[Fe/H]"))}
    for e in elements:
        cols[f"[{e}/Fe]"] = [r[3].get(e, np.nan) for r in rows]
    return Table(cols)


def edges_of_the_twin_box(value: float) -> list[tuple[float, float, float, dict[str, float]]]:
    """Stars on or just outside the solar-twin box of the paper, all with [X/Fe] = value."""
    (t0, t1), (g0, g1), f = paper.TWIN_TEFF_RANGE, paper.TWIN_LOGG_RANGE, paper.TWIN_FEH_MAX
    xs = {"Mg": value, "Mn": value, "Pr": value}
    return [
        (t0, 4.4, 0.0, xs),
        (t1, 4.4, 0.0, xs),
        (5800.0, g0, 0.0, xs),
        (5800.0, g1, 0.0, xs),
        (5800.0, 4.4, f, xs),
        (5800.0, 4.4, -f, xs),
        (5000.0, 4.4, 0.0, xs),
    ]


def twin(xs: dict[str, float]) -> tuple[float, float, float, dict[str, float]]:
    return (5800.0, 4.44, 0.02, xs)


@pytest.fixture
def zero_point_catalogues() -> tuple[Table, Table, Table]:
    mg = [0.01, 0.02, 0.03, 0.04, 0.05]  # Hypatia: 5 twins with Mg, only 4 with Mn, no Pr
    hyp = [twin({"Mg": v, "Mn": 0.2}) for v in mg[:4]] + [twin({"Mg": mg[4]})]
    galah = [twin({"Mg": 0.5, "Mn": v}) for v in (-0.05, -0.04, -0.03, -0.02, -0.01)]
    ours = [
        twin({"Mg": 0.13 + v, "Mn": 0.0 + v, "Pr": 0.2 + v}) for v in (-0.02, -0.01, 0, 0.01, 0.02)
    ]
    return tuple(twins_table(t + edges_of_the_twin_box(9.0)) for t in (ours, hyp, galah))


def test_zero_points_hypatia_then_galah_then_none(zero_point_catalogues):
    ours, hyp, galah = zero_point_catalogues
    zp = zero_points(ours, hyp, galah, elements=("Mg", "Mn", "Pr"), min_twins=5)
    assert zp.source == {"Mg": "Hypatia", "Mn": "GALAH DR3", "Pr": "none"}
    assert zp.reference == pytest.approx({"Mg": 0.03, "Mn": -0.03, "Pr": 0.0})
    assert zp.n_twins == {"Mg": 5, "Mn": 5, "Pr": 0}
    assert zp.d == pytest.approx({"Mg": 0.10, "Mn": 0.03, "Pr": 0.2})
    assert zp.n_ours == {"Mg": 5, "Mn": 5, "Pr": 5}
    # the sources are spelled as in the paper's Table 3
    assert set(zp.source.values()) <= set(paper.table3()["source"])
    table = zp.table()
    assert list(table["element"]) == ["Mg", "Mn", "Pr"]
    assert list(table["source"]) == ["Hypatia", "GALAH DR3", "none"]
    # Hypatia with one twin fewer for Mg: GALAH takes over
    zp4 = zero_points(ours, hyp[1:], galah, elements=("Mg",), min_twins=5)
    assert zp4.source["Mg"] == "GALAH DR3" and zp4.reference["Mg"] == pytest.approx(0.5)
    # no GALAH at all: Mn falls to "none"
    assert zero_points(ours, hyp, elements=("Mn",), min_twins=3).source["Mn"] == "Hypatia"
    assert zero_points(ours, hyp, elements=("Mn",), min_twins=5).source["Mn"] == "none"


def test_zero_points_need_our_twins(zero_point_catalogues):
    ours, hyp, galah = zero_point_catalogues
    with pytest.warns(UserWarning, match=r"fewer than 6 solar twins of ours with \[Mg/Fe\] \(5\)"):
        zero_points(ours, hyp, galah, elements=("Mg",), min_twins=6)
    ours["[Mg/Fe]"][:5] = np.nan  # no twin of ours left: d = 0, said, and counted as 0
    with pytest.warns(UserWarning, match=r"solar twins of ours with \[Mg/Fe\] \(0\)"):
        zp = zero_points(ours, hyp, galah, elements=("Mg",), min_twins=1)
    assert zp.d["Mg"] == 0.0 and zp.n_ours["Mg"] == 0
    del ours["[Mn/Fe]"]
    with pytest.raises(ValueError, match=r"'ours'.*'\[Mn/Fe\]'"):
        zero_points(ours, hyp, galah, elements=("Mn",), min_twins=1)


# ----------------------------------------------------------- the calibration file and apply()
def mg_calibration() -> Calibration:
    """A hand-made calibration of Mg: Table 2's f(Teff), a logg trend falling 0.1 dex from
    logg 2 to 4, d = 0.1; dwarfs' Teff +50 K, giants' −30 K (logg, [Fe/H] +0.1 dex)."""
    a, b, c = mg_row()
    logg = LoggTrend(
        "Mg",
        MedianSpline(np.array([2.0, 3.0, 4.0]), np.array([0.1, 0.05, 0.0]), np.array([30, 30, 30])),
        MedianSpline.constant(0.0),
    )
    const = MedianSpline.constant
    atm = AtmSplines(
        {
            "Teff": {"dwarf": const(50.0), "giant": const(-30.0)},
            "logg": {"dwarf": const(0.1), "giant": const(0.1)},
            "[Fe/H]": {"dwarf": const(0.1), "giant": const(0.1)},
        }
    )
    zero = ZeroPoints({"Mg": 0.0}, {"Mg": "Hypatia"}, {"Mg": 9}, {"Mg": 0.1}, {"Mg": 9})
    return Calibration(atm=atm, teff={"Mg": TeffTrend(a, b, c)}, logg={"Mg": logg}, zero=zero)


def biased_stars() -> tuple[Table, np.ndarray]:
    """Uncalibrated stars whose [Mg/Fe] = truth + f(Teff) + f(logg) + d, and the truth."""
    teff = np.array([5800.0, 4700.0, 6500.0, 4300.0])
    logg = np.array([4.4, 2.5, 4.1, 1.5])
    truth = np.array([0.0, 0.2, -0.1, 0.3])
    f_logg = np.interp(np.clip(logg, 2, 4), [2, 3, 4], [0.1, 0.05, 0.0])  # linear: collinear knots
    table = Table(
        {
            "source_id": np.arange(4),
            "Teff": teff,
            "logg": logg,
            "[Fe/H]": np.zeros(4),
            # f(Teff) is not extrapolated beyond the binaries' 4500-7000 K (the 4300 K giant),
            # and its value at the solar twins' 5800 K belongs to the zero point d
            "[Mg/Fe]": truth
            + f_teff(mg_row(), np.clip(teff, 4500.0, 7000.0))
            - f_teff(mg_row(), 5800.0)
            + f_logg
            + 0.1,
            "[Mg/Fe]_err": np.full(4, 0.03),
            "[Mg/Fe]_flag": np.array([0, 1, 0, 2]),
            "Chisq": np.array([1.1, 0.9, 1.0, 1.3]),
        }
    )
    return table, truth


def test_apply_brings_biased_stars_back_to_truth():
    table, truth = biased_stars()
    before = table.copy()
    out = apply(table, mg_calibration())
    assert np.allclose(out["[Mg/Fe]"], truth, atol=1e-9)
    assert np.array_equal(out["[Mg/Fe]_uncali"], before["[Mg/Fe]"])
    for name in ("[Mg/Fe]_err", "[Mg/Fe]_flag", "Chisq", "source_id"):
        assert np.array_equal(out[name], before[name])
    # atm: dwarfs (logg >= 4) had +50 K, giants -30 K
    assert np.allclose(out["Teff"], before["Teff"] - [50, -30, 50, -30])
    assert np.allclose(out["logg"], before["logg"] - 0.1)
    # a NEW table: the input is untouched
    assert all(np.array_equal(table[n], before[n]) for n in before.colnames)
    assert table.colnames == before.colnames


def test_apply_a_star_biased_by_d_alone_comes_back():
    cal = Calibration(
        zero=ZeroPoints({"Mg": 0}, {"Mg": "Hypatia"}, {"Mg": 5}, {"Mg": 0.1}, {"Mg": 5})
    )
    table = Table({"Teff": [5800.0], "logg": [4.4], "[Mg/Fe]": [0.35]})
    assert apply(table, cal)["[Mg/Fe]"][0] == pytest.approx(0.25)


def test_apply_stages_use_the_uncalibrated_teff_and_logg():
    table, _ = biased_stars()
    cal = mg_calibration()
    raw = np.asarray(table["[Mg/Fe]"])
    # at the input (uncalibrated) Teff, relative to the solar twins' 5800 K (the constant is d's)
    f_t = cal.teff["Mg"](table["Teff"]) - cal.teff["Mg"](5800.0)
    f_g = cal.logg["Mg"](table["logg"])
    stages = {
        ("atm",): raw,
        ("atm", "teff"): raw - f_t,
        ("atm", "teff", "logg"): raw - f_t - f_g,
        STEPS: raw - f_t - f_g - 0.1,
        ("teff", "zero"): raw - f_t - 0.1,
    }
    for steps, expected in stages.items():
        out = apply(table, cal, steps=steps)
        assert np.allclose(out["[Mg/Fe]"], expected, atol=1e-12), steps
        shift = np.array([50.0, -30.0, 50.0, -30.0]) if "atm" in steps else 0.0
        assert np.allclose(out["Teff"], table["Teff"] - shift), steps
    assert "[Mg/Fe]_uncali" not in apply(table, cal, steps=("atm",)).colnames


def test_apply_partial_calibrations_and_bad_steps():
    table, _ = biased_stars()
    full = mg_calibration()
    only_atm = Calibration(atm=full.atm)
    out = apply(table, only_atm)
    assert np.array_equal(out["[Mg/Fe]"], table["[Mg/Fe]"]) and only_atm.steps == ("atm",)
    with pytest.raises(ValueError, match="'logg'"):
        apply(table, only_atm, steps=("atm", "logg"))
    with pytest.raises(ValueError, match="'spline'"):
        apply(table, full, steps=("spline",))
    with pytest.raises(ValueError, match="already calibrated"):
        apply(apply(table, full), full)
    with pytest.raises(ValueError, match=r"'table'.*'logg'"):
        apply(table[["Teff", "[Mg/Fe]"]], full)


def test_apply_leaves_elements_it_lacks_with_a_warning():
    table, _ = biased_stars()
    table["[Ca/Fe]"] = [0.1, 0.2, 0.3, 0.4]
    with pytest.warns(UserWarning, match=r"Ca \(no teff, logg, zero\)") as record:
        out = apply(table, mg_calibration())
    assert np.array_equal(out["[Ca/Fe]"], table["[Ca/Fe]"]) and len(record) == 1
    assert np.array_equal(out["[Ca/Fe]_uncali"], table["[Ca/Fe]"])


def test_calibration_file_round_trip(tmp_path, atm, mg_fit):
    table, _ = biased_stars()
    ours = xfe_sample(500, 13, ours_trend, (-0.3, 0.3))
    cal = Calibration(
        atm=atm,
        teff={"Mg": mg_fit[1]},
        logg=fit_logg_trends(ours, ours, ("C", "Mg")),
        zero=mg_calibration().zero,
    )
    path = cal.save(tmp_path / "calibration.json")
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.json"]  # no temporary left
    back = Calibration.load(path)
    assert back.to_dict() == cal.to_dict()
    a, b = apply(table, cal), apply(table, back)
    assert all(np.array_equal(a[n], b[n]) for n in a.colnames)


def test_calibration_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.json"):
        Calibration.load(tmp_path / "nothere.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "phdl-calibration", "version": 1, "atm"')
    with pytest.raises(ValueError, match="bad.json"):
        Calibration.load(bad)
    doc = Calibration().to_dict()
    for change, word in (
        ({"version": 99}, "version"),
        ({"format": "x"}, "format"),
        ({"teff": {"Mg": {"a": 1}}}, "corrupt"),
    ):
        (tmp_path / "c.json").write_text(json.dumps({**doc, **change}))
        with pytest.raises(ValueError, match=f"c.json.*{word}|{word}.*c.json"):
            Calibration.load(tmp_path / "c.json")


# ------------------------------------------------------------------- the whole chain, end to end
def test_chain_removes_an_injected_eq26_error():
    """Stars with ε = f(Teff) + f(logg) + d (Eq. 26) injected into a flat [Mg/Fe]: the chain
    (wide binaries → logg trend against an unbiased flat reference → zero points from its twins)
    gives back the truth, with no trend left in Teff or logg: the constants the Teff and logg
    fits cannot pin down end up in d."""
    rng = np.random.default_rng(20)
    coef, d0 = 3 * mg_row(), 0.07

    def measured(teff, logg, truth):
        eps = f_teff(coef, teff) + 0.08 * (4.4 - logg) + d0
        return truth + eps + rng.normal(0, 0.02, len(truth))

    t1, t2 = rng.uniform(*paper.BINARY_TEFF_RANGE, size=(2, 400))
    g1, g2 = rng.uniform(4.3, 4.5, size=(2, 400))
    truth = rng.normal(0.05, 0.03, 400)
    delta = measured(t1, g1, truth) - measured(t2, g2, truth)
    cal = Calibration(teff={"Mg": fit_teff_trend(t1, t2, delta, np.full(400, 0.03))})

    def survey(n):
        giant = rng.random(n) < 0.4
        teff = np.where(giant, rng.uniform(4500, 5200, n), rng.uniform(5000, 6800, n))
        logg = np.where(giant, rng.uniform(1.5, 3.5, n), rng.uniform(4.0, 4.6, n))
        truth = rng.normal(0.05, 0.03, n)
        table = Table(
            {
                "Teff": teff,
                "logg": logg,
                "[Fe/H]": rng.uniform(-0.1, 0.1, n),
                "[Mg/Fe]": measured(teff, logg, truth),
            }
        )
        return table, truth

    sample, _ = survey(3000)
    twins = survey(300)[0]
    twins["Teff"], twins["logg"] = rng.uniform(5710, 5890, 300), rng.uniform(4.2, 4.6, 300)
    reference = Table(
        {
            "Teff": rng.uniform(5710, 5890, 300),
            "logg": rng.uniform(1.5, 4.6, 300),
            "[Fe/H]": rng.uniform(-0.1, 0.1, 300),
            "[Mg/Fe]": rng.normal(0.05, 0.03, 300),
        }
    )
    cal.logg = fit_logg_trends(apply(sample, cal), reference, ("Mg",))
    twins["[Mg/Fe]"] = measured(twins["Teff"], twins["logg"], rng.normal(0.05, 0.03, 300))
    cal.zero = zero_points(apply(twins, cal), reference, elements=("Mg",))

    test, truth = survey(2000)
    resid = np.asarray(apply(test, cal)["[Mg/Fe]"]) - truth
    assert abs(np.median(resid)) < 0.01
    for x in ("Teff", "logg"):
        edges = np.quantile(test[x], np.linspace(0, 1, 6))
        which = np.digitize(test[x], edges[1:-1])
        assert all(abs(np.median(resid[which == k])) < 0.015 for k in range(5)), x


def test_the_teff_trend_is_not_extrapolated_beyond_the_binaries_range():
    trend = TeffTrend(0.1, -1.0, 2.0)
    assert trend(3000.0) == pytest.approx(trend(4500.0))
    assert trend(9000.0) == pytest.approx(trend(7000.0))
    assert trend(6000.0) != pytest.approx(trend(7000.0))
    again = TeffTrend.from_dict(TeffTrend(0.1, -1.0, 2.0, teff_range=(5000.0, 6000.0)).to_dict())
    assert again.teff_range == (5000.0, 6000.0) and again(4000.0) == pytest.approx(again(5000.0))


def test_errors_too_small_for_the_scatter_are_scaled_by_the_reduced_chi2():
    rng = np.random.default_rng(4)
    t1, t2 = rng.uniform(4600, 6900, 300), rng.uniform(4600, 6900, 300)
    truth = TeffTrend(0.02, -0.3, 1.5)
    delta = truth(t1) - truth(t2) + rng.normal(0.0, 0.1, 300)  # scatter 0.1, stated 0.01
    scaled = fit_teff_trend(t1, t2, delta, np.full(300, 0.01), nsteps=600, burn=200)
    assert scaled.error_scale == pytest.approx(10.0, rel=0.15)
    plain = fit_teff_trend(t1, t2, delta, np.full(300, 0.01), nsteps=600, burn=200,
                           scale_errors=False)  # fmt: skip
    assert plain.error_scale == 1.0
    assert scaled.a_err == pytest.approx(scaled.error_scale * plain.a_err, rel=0.3)
    honest = fit_teff_trend(t1, t2, delta, np.full(300, 0.1), nsteps=600, burn=200)
    assert honest.error_scale == pytest.approx(1.0, abs=0.1)


def test_a_sample_without_giants_leaves_giants_uncorrected_and_says_so():
    ours = Table({"source_id": np.arange(30), "Teff": np.linspace(5000, 6800, 30),
                  "logg": np.full(30, 4.4), "[Fe/H]": np.zeros(30)})  # fmt: skip
    ref = ours.copy()
    ours["Teff"] += 40.0
    with pytest.warns(UserWarning, match="no giant in the cross-match"):
        splines = fit_atm_splines(ours, ref, min_per_knot=10)
    corr = splines(np.array([5800.0, 4500.0]), np.array([4.4, 2.0]))["Teff"]
    assert corr[0] == pytest.approx(40.0) and corr[1] == 0.0


# ------------------------------------------- the Teff fit's defaults, summary and input checks
@pytest.fixture(scope="module")
def small_pairs() -> tuple[np.ndarray, ...]:
    return binaries(3 * mg_row(), 60, 0.05, seed=5)


def test_teff_trend_defaults_and_summary_of_the_kept_chain(small_pairs):
    """Defaults: 32 walkers, 3000 steps, 500 burnt, seed 0; the summary is of the kept steps:
    medians, 16/84 % percentiles, covariance, and τ of emcee's integrated_time (tol=0)."""
    import emcee

    trend = fit_teff_trend(*small_pairs)
    assert (trend.nwalkers, trend.nsteps, trend.burn, trend.seed, trend.n_pairs) == (
        32, 3000, 500, 0, 60)  # fmt: skip
    flat = trend.samples
    assert flat.shape == (2500 * 32, 3)
    assert np.array_equal(trend.coefficients, np.percentile(flat, 50, axis=0))
    assert np.array_equal(trend.p16, np.percentile(flat, 16, axis=0))
    assert np.array_equal(trend.p84, np.percentile(flat, 84, axis=0))
    assert np.allclose(trend.cov, np.cov(flat.T), rtol=1e-12, atol=0)
    tau = emcee.autocorr.integrated_time(flat.reshape(2500, 32, 3), tol=0)
    assert np.allclose(trend.tau, tau, rtol=1e-12)
    assert trend.converged is True and 2500 > 50 * np.max(trend.tau)
    assert isinstance(trend.acceptance, float) and 0.2 < trend.acceptance < 0.9
    # the default seed is 0: the same chain as asked for explicitly
    again = fit_teff_trend(*small_pairs, seed=0, nsteps=300, burn=100)
    assert np.array_equal(again.samples, fit_teff_trend(*small_pairs, nsteps=300, burn=100).samples)
    assert again.seed == 0 and again.n_pairs == 60


def test_teff_trend_convergence_counts_only_the_kept_steps(small_pairs):
    """400 steps with 350 burnt keep 50: below 50 τ although 400 (or 750) steps are not."""
    trend = fit_teff_trend(*small_pairs, nsteps=400, burn=350)
    assert 50 < 50 * trend.tau.max() < 400
    assert trend.converged is False
    assert trend.samples.shape == (50 * 32, 3)


def test_teff_trend_seeded_chain_ignores_numpys_global_state(small_pairs):
    np.random.seed(1)
    one = fit_teff_trend(*small_pairs, seed=3, nsteps=50, burn=0)
    np.random.seed(2)
    two = fit_teff_trend(*small_pairs, seed=3, nsteps=50, burn=0)
    assert np.array_equal(one.samples, two.samples)


def test_teff_trend_prints_no_progress_bar(small_pairs, capsys):
    fit_teff_trend(*small_pairs, nsteps=30, burn=0)
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""


def weighted_ls_scale(t1, t2, delta, err) -> float:
    """√χ²_r of the weighted least-squares fit of Eq. 28, written out here (n − 3 dof)."""
    x = powers(t1) - powers(t2)
    coef = np.linalg.lstsq(x / err[:, None], delta / err, rcond=None)[0]
    return float(np.sqrt(np.sum(((delta - x @ coef) / err) ** 2) / (len(t1) - 3)))


@pytest.mark.parametrize("n", [4, 8])
def test_teff_trend_error_scale_is_the_root_reduced_chi2_with_n_minus_3_dof(n):
    rng = np.random.default_rng(n)
    t1, t2 = rng.uniform(4600.0, 6900.0, size=(2, n))
    delta = rng.normal(0.0, 0.5, n)  # far more scatter than the stated 0.01
    err = np.full(n, 0.01)
    trend = fit_teff_trend(t1, t2, delta, err, nsteps=40, burn=0)
    expected = weighted_ls_scale(t1, t2, delta, err)
    assert expected > 1.5
    assert trend.error_scale == pytest.approx(expected, rel=1e-9)


def test_teff_trend_three_binaries_are_enough_and_not_scaled():
    t1, t2 = np.array([4600.0, 5500.0, 6800.0]), np.array([5000.0, 6300.0, 4700.0])
    trend = fit_teff_trend(t1, t2, np.array([0.1, -0.2, 0.05]), np.full(3, 0.05),
                           nsteps=20, burn=0)  # fmt: skip
    assert trend.error_scale == 1.0 and trend.n_pairs == 3
    with pytest.raises(ValueError, match=r"^teff1: 2 binaries cannot constrain three"):
        fit_teff_trend(t1[:2], t2[:2], np.zeros(2), np.full(2, 0.05), nsteps=20, burn=0)


def test_teff_trend_burn_must_lie_in_0_to_nsteps(small_pairs):
    assert fit_teff_trend(*small_pairs, nsteps=20, burn=0).samples.shape == (20 * 32, 3)
    with pytest.raises(ValueError, match=r"^burn must be in \[0, nsteps=20\), got 20$"):
        fit_teff_trend(*small_pairs, nsteps=20, burn=20)
    with pytest.raises(ValueError, match=r"^burn must be in \[0, nsteps=20\), got -1$"):
        fit_teff_trend(*small_pairs, nsteps=20, burn=-1)


@pytest.mark.parametrize("side", ["low", "high"])
def test_teff_trend_least_squares_outside_the_prior_box_is_refused(small_pairs, side):
    a = 3 * mg_row()[0]
    box = [list(b) for b in paper_bounds()]
    box[0] = [a + 1.0, 10.0] if side == "low" else [-10.0, a - 1.0]
    with pytest.raises(ValueError, match=r"^the least-squares \(a, b, c\) = .* outside the prior"):
        fit_teff_trend(*small_pairs, nsteps=20, burn=0, bounds=tuple(map(tuple, box)))


def paper_bounds():
    from phdl.calibrate.teff_trend import PRIOR_BOUNDS

    return PRIOR_BOUNDS


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: (p[0][:, None], p[1], p[2], p[3]), r"^teff1 must be one-dimensional"),
        (lambda p: (p[0], p[1][:-1], p[2], p[3]), r"^teff2 has 49 values, teff1 has 50"),
        (lambda p: (p[0], p[1], p[2][:-1], p[3]), r"^delta has 49 values, teff1 has 50"),
        (lambda p: (p[0], p[1], np.where(np.arange(50) == 3, np.nan, p[2]), p[3]),
         r"^delta has 1 non-finite"),
        (lambda p: (p[0], p[1], p[2], p[3][:-1]), r"^delta_err has 49 values, teff1 has 50"),
        (lambda p: (p[0], p[1], p[2], np.where(np.arange(50) == 0, np.nan, p[3])),
         r"^delta_err has 1 non-finite"),
        (lambda p: (p[0], p[1], p[2], np.where(np.arange(50) == 0, 0.0, p[3])),
         r"^delta_err has 1 values <= 0; errors must be > 0$"),
    ],
)  # fmt: skip
def test_teff_trend_bad_input_messages_start_with_the_argument(change, message):
    pairs = change(binaries(mg_row(), 50, 0.05, seed=4))
    with pytest.raises(ValueError, match=message):
        fit_teff_trend(*pairs, nsteps=20, burn=0)
