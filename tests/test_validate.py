"""phdl.validate: M67 scatter, survey comparisons, α bimodality, repeat visits — known answers."""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np
import pytest
from astropy.table import Table

from phdl import paper
from phdl.calibrate.smooth import robust_std
from phdl.sky import field_stars, m67
from phdl.validate import (
    alpha_bimodality,
    clipped_stats,
    compare,
    dispersion_budget,
    gaussian_mixture,
    member_stats,
    normalized_differences,
    repeat_scatter,
    scatter_comparison,
    true_fractions,
    visit_pairs,
)


def gaussian_quantiles(n: int, sigma: float) -> np.ndarray:
    """An exactly Gaussian-shaped sample (no star beyond ~2.9σ for n = 300)."""
    return np.array([sigma * NormalDist().inv_cdf((k + 0.5) / n) for k in range(n)])


# ----------------------------------------------------------------------------------- cluster
def test_clipped_stats_recovers_sigma_and_flags_exactly_the_outliers():
    x = 0.1 + gaussian_quantiles(300, 0.04)
    rng = np.random.default_rng(1)
    x = x[rng.permutation(x.size)]
    bad = np.array([3, 50, 120, 200, 299])
    x[bad] = [0.8, -0.6, 1.5, 0.5, -0.4]
    x = np.append(x, np.nan)
    mean, sigma, keep = clipped_stats(x)
    assert sigma == pytest.approx(0.04, rel=0.03)
    assert mean == pytest.approx(0.1, abs=0.005)
    assert set(np.flatnonzero(~keep)) == {*bad, 300}  # the outliers and the NaN
    assert np.std(x[np.isfinite(x)], ddof=1) > 0.1  # unclipped it would be far off


def test_clipped_stats_with_too_few_values_is_nan_without_error():
    mean, sigma, keep = clipped_stats([0.1, np.nan, 0.2])
    assert np.isnan(mean) and np.isnan(sigma)
    assert keep.tolist() == [True, False, True]


def _members(n=400, slope=0.0, noise=0.04, intrinsic=0.01, seed=2):
    rng = np.random.default_rng(seed)
    logg = rng.uniform(2.5, 4.6, n)
    true_mg = 0.02 + rng.normal(0, intrinsic, n)
    true_n = rng.normal(0, intrinsic, n)
    members = Table({"source_id": np.arange(n) + 1000, "logg": logg})
    members["[Mg/Fe]"] = true_mg + rng.normal(0, noise, n)
    members["[N/Fe]"] = true_n + slope * (logg - 3.5) + rng.normal(0, noise, n)
    truth = Table({"source_id": np.arange(n)[::-1] + 1000, "[Mg/Fe]": true_mg[::-1]})
    truth["[N/Fe]"] = true_n[::-1]
    return members, truth


def test_member_stats_recovers_slope_bands_and_measurement_noise():
    members, truth = _members(slope=0.15, intrinsic=0.03)
    stats = member_stats(members, ["Mg", "N"], truth=truth)
    mg, n_ = stats[0], stats[1]
    assert list(stats["element"]) == ["Mg", "N"]
    assert n_["logg_slope"] == pytest.approx(0.15, abs=3 * n_["logg_slope_err"])
    assert abs(mg["logg_slope"]) < 3 * mg["logg_slope_err"] and mg["logg_slope_err"] < 0.01
    assert (mg["band_lo"], mg["band_hi"]) == paper.M67_SCATTER_BANDS["Mg"]
    assert mg["sigma_true"] == pytest.approx(0.03, rel=0.1)
    assert mg["sigma_error"] == pytest.approx(0.04, rel=0.1)
    assert mg["sigma_measurement"] == pytest.approx(0.04, rel=0.1)
    assert mg["sigma"] == pytest.approx(0.05, rel=0.1)
    assert mg["n"] == 400 and mg["n_kept"] + mg["n_outliers"] == 400


def test_member_stats_on_the_skys_m67():
    truth = m67(179, 0)
    fitted = truth.copy()
    fitted["[Ca/Fe]"] += np.random.default_rng(8).normal(0, 0.04, len(fitted))
    ca = member_stats(fitted, ["Ca"], truth=truth)[0]
    assert ca["sigma_true"] < 0.012  # INTRINSIC_SCATTER = 0.01 dex, clipped at 2σ
    assert ca["sigma_measurement"] == pytest.approx(0.04, rel=0.15)
    assert ca["sigma_error"] == pytest.approx(0.04, rel=0.15)


def test_member_stats_without_truth_and_unknown_band():
    members, _ = _members()
    members["[Li/Fe]"] = 0.0 + np.linspace(-0.1, 0.1, len(members))
    stats = member_stats(members.to_pandas(), ["Mg", "Li"])
    assert "sigma_true" not in stats.colnames
    assert np.isnan(stats["band_lo"][1]) and np.isnan(stats["band_hi"][1])


def test_member_stats_names_missing_columns_and_empty_input():
    members, truth = _members()
    with pytest.raises(ValueError, match=r"\[Ca/Fe\]"):
        member_stats(members, ["Ca"])
    with pytest.raises(ValueError, match="'logg'"):
        member_stats(members[["source_id", "[Mg/Fe]"]], ["Mg"])
    with pytest.raises(ValueError, match="empty"):
        member_stats(members[:0], ["Mg"])
    with pytest.raises(ValueError, match=r"truth.*\[N/Fe\]"):
        member_stats(members, ["N"], truth=truth[["source_id", "[Mg/Fe]"]])


def test_scatter_comparison_on_common_members():
    rng = np.random.default_rng(3)
    ours = Table({"source_id": np.arange(200), "[Mg/Fe]": rng.normal(0, 0.03, 200)})
    ref = Table({"source_id": np.arange(100, 400), "[Mg/Fe]": rng.normal(0, 0.08, 300)})
    ref["[Mg/Fe]"][0] = np.nan  # star 100: not counted
    out = scatter_comparison(ours, ref, ["Mg"])
    assert out["n_common"][0] == 99
    assert out["sigma_ours"][0] == pytest.approx(0.03, rel=0.2)
    assert out["sigma_reference"][0] == pytest.approx(0.08, rel=0.2)
    with pytest.raises(ValueError, match="no M67 member of ours is in the reference"):
        scatter_comparison(ours, ref[ref["source_id"] >= 200], ["Mg"])
    with pytest.raises(ValueError, match=r"reference.*\[Si/Fe\]"):
        ours["[Si/Fe]"] = 0.0
        scatter_comparison(ours, ref, ["Si"])


# ----------------------------------------------------------------------------------- surveys
def _survey_pair(n=4000, seed=4):
    rng = np.random.default_rng(seed)
    teff = rng.uniform(4800, 6800, n)
    truth = Table({"source_id": np.arange(n), "Teff": teff, "[Fe/H]": rng.normal(-0.2, 0.3, n)})
    ours = Table({"source_id": np.arange(n)})
    ours["Teff"] = teff + rng.normal(0, 50, n)
    ours["[Fe/H]"] = truth["[Fe/H]"] + rng.normal(0, 0.05, n)
    ref = Table({"source_id": np.arange(n)[::-1]})  # reversed: the match must align rows
    hot = np.asarray(ours["Teff"]) >= 6000  # ours' Teff decides the split
    ref_teff = teff - 40 + rng.normal(0, 30, n) + np.where(hot, rng.normal(0, 200, n), 0)
    ref["Teff"] = ref_teff[::-1]
    ref["[Fe/H]"] = (truth["[Fe/H]"] + 0.1 + rng.normal(0, 0.10, n))[::-1]
    return ours, ref, truth


def test_compare_offsets_and_hot_star_split():
    ours, ref, _ = _survey_pair()
    out = compare(ours, ref, ["Teff", "[Fe/H]"], teff_split=paper.VALIDATION_HOT_TEFF)
    teff, feh = out[0], out[1]
    assert teff["median_delta"] == pytest.approx(40, abs=5)
    assert feh["median_delta"] == pytest.approx(-0.1, abs=0.01)
    assert feh["sigma"] == pytest.approx(np.hypot(0.05, 0.10), rel=0.05)
    assert teff["sigma_cool"] == pytest.approx(np.hypot(50, 30), rel=0.08)
    assert teff["sigma_hot"] == pytest.approx(np.hypot(np.hypot(50, 30), 200), rel=0.08)
    assert teff["robust_sigma"] < teff["sigma"]
    assert teff["n"] == teff["n_cool"] + teff["n_hot"] == 4000
    assert "sigma_cool" not in compare(ours, ref, ["[Fe/H]"]).colnames


def test_compare_names_missing_columns():
    ours, ref, _ = _survey_pair(50)
    with pytest.raises(ValueError, match="'logg'"):
        compare(ours, ref, ["logg"])
    with pytest.raises(ValueError, match="ours.*'Teff'"):
        compare(ours[["source_id", "[Fe/H]"]], ref, ["[Fe/H]"], teff_split=6000)


def test_dispersion_budget_recovers_each_catalogues_error():
    ours, ref, truth = _survey_pair()
    out = dispersion_budget(ours, ref, truth[500:], ["[Fe/H]"])[0]
    assert out["n"] == 3500
    assert out["sigma_ours"] == pytest.approx(0.05, rel=0.06)
    assert out["sigma_reference"] == pytest.approx(0.10, rel=0.06)
    assert out["share_ours"] == pytest.approx(0.2, abs=0.03)
    assert out["sigma_quadrature"] == pytest.approx(out["sigma_delta"], rel=0.06)
    with pytest.raises(ValueError, match=r"truth.*\[Fe/H\]"):
        dispersion_budget(ours, ref, truth[["source_id", "Teff"]], ["[Fe/H]"])


# -------------------------------------------------------------------------------- bimodality
def _two_discs(n=2000, seed=5):
    rng = np.random.default_rng(seed)
    high = rng.random(n) < 0.7
    return np.where(high, rng.normal(0.30, 0.05, n), rng.normal(0.05, 0.05, n)), high


def test_mixture_recovers_planted_weights_and_means():
    x, _ = _two_discs()
    fit = gaussian_mixture(x, seed=0)
    assert fit.converged
    np.testing.assert_allclose(fit.weights, [0.3, 0.7], atol=0.03)
    np.testing.assert_allclose(fit.means, [0.05, 0.30], atol=0.01)
    np.testing.assert_allclose(fit.sigmas, [0.05, 0.05], atol=0.01)
    again = gaussian_mixture(x, seed=0)
    assert again.loglike == fit.loglike and np.array_equal(again.means, fit.means)


def test_alpha_bimodality_prefers_two_discs_only_when_there_are_two():
    x, _ = _two_discs()
    single = np.random.default_rng(6).normal(0.1, 0.08, 2000)
    feh = np.concatenate([np.full(2000, -0.5), np.full(2000, 0.1), np.full(10, 0.6)])
    out = alpha_bimodality(feh, np.concatenate([x, single, np.zeros(10)]), [-1.0, 0.0, 0.5, 1.0])
    two, one, few = out[0], out[1], out[2]
    assert two["delta_bic"] > 50 and one["delta_bic"] < 0
    assert two["w_high"] == pytest.approx(0.7, abs=0.03)
    assert (two["mu_low"], two["mu_high"]) == (pytest.approx(0.05, abs=0.01),
                                              pytest.approx(0.30, abs=0.01))  # fmt: skip
    assert two["ashman_d"] == pytest.approx(5.0, rel=0.15)
    assert few["n"] == 10 and np.isnan(few["w_high"]) and np.isnan(few["delta_bic"])
    assert list(out["feh_lo"]) == [-1.0, 0.0, 0.5]


def test_two_components_follow_the_skys_high_alpha_fraction():
    stars = field_stars(3000, 0)
    bins = np.arange(-1.0, 0.6, 0.25)
    fit = alpha_bimodality(stars["[Fe/H]"], stars["[Mg/Fe]"], bins)
    true = true_fractions(stars["[Fe/H]"], stars["population"], bins)
    clear = fit["delta_bic"] > 10
    assert clear.sum() >= 3
    np.testing.assert_allclose(fit["w_high"][clear], true[clear], atol=0.05)


def test_true_fractions_exact():
    feh = [-0.8, -0.6, -0.7, 0.2, 0.3, 0.4, 0.45, 2.0]
    pop = ["high-alpha", "low-alpha", "high-alpha", "halo", "low-alpha", "low-alpha",
           "high-alpha", "high-alpha"]  # fmt: skip
    out = true_fractions(feh, pop, [-1.0, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(out[:2], [2 / 3, 1 / 4])
    assert np.isnan(out[2])


# ----------------------------------------------------------------------------------- repeats
def test_visit_pairs_exact():
    i, j = visit_pairs([5, 7, 5, -1, -1, 7, 7])
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 2), (1, 5), (1, 6), (5, 6)]
    assert visit_pairs([1, 2, -1, -1])[0].size == 0


def _visits(err_quoted, err_true=0.05, n=3000, seed=7):
    rng = np.random.default_rng(seed)
    ids = np.repeat(np.arange(n), 2)
    true = np.repeat(rng.normal(0.1, 0.1, n), 2)
    cat = Table({"SOURCEID": ids, "[Mg/Fe]": true + rng.normal(0, err_true, 2 * n)})
    cat["[Mg/Fe]_err"] = np.full(2 * n, err_quoted)
    return cat


@pytest.mark.parametrize("quoted, z", [(0.05, 1.0), (0.025, 2.0)])
def test_repeat_scatter_z_tells_whether_the_errors_are_right(quoted, z):
    out = repeat_scatter(_visits(quoted), ["Mg"])[0]
    assert out["label"] == "[Mg/Fe]" and out["n_pairs"] == 3000
    assert out["sigma_visit"] == pytest.approx(0.05, rel=0.06)
    assert out["median_err"] == pytest.approx(quoted)
    assert out["z_sigma"] == pytest.approx(z, rel=0.06)
    assert out["z_std"] == pytest.approx(z, rel=0.05)
    assert normalized_differences(_visits(quoted), "[Mg/Fe]").size == 3000


def test_repeat_scatter_bad_input():
    cat = _visits(0.05)
    with pytest.raises(ValueError, match=r"'\[Mg/Fe\]_err'"):
        repeat_scatter(cat[["SOURCEID", "[Mg/Fe]"]], ["Mg"])
    with pytest.raises(ValueError, match="'SOURCEID'"):
        repeat_scatter(cat[["[Mg/Fe]", "[Mg/Fe]_err"]], ["Mg"])
    with pytest.raises(ValueError, match="no repeat visits"):
        repeat_scatter(cat[::2], ["Mg"])


def test_sigma_min_keeps_components_from_collapsing_onto_a_few_stars():
    from phdl.validate.bimodality import alpha_bimodality, gaussian_mixture

    x = np.concatenate([np.linspace(-0.05, 0.25, 15), [0.55, 0.5501, 0.5502]])  # 3 alike stars
    free = gaussian_mixture(x, 2, seed=0)
    assert free.sigmas.min() < 0.01  # the free fit puts a spike on them
    held = gaussian_mixture(x, 2, seed=0, sigma_min=0.03)
    assert held.sigmas.min() >= 0.03 - 1e-12
    feh = np.zeros(x.size)
    table = alpha_bimodality(feh, x, [-0.5, 0.5], min_stars=10, sigma_min=0.03)
    assert min(table["sigma_low"][0], table["sigma_high"][0]) >= 0.03 - 1e-12


# ------------------------------------------------- exact specifications on small hand-made inputs
def _catalogue_errors(call, what):
    """A catalogue that is neither a Table nor a DataFrame is a TypeError naming it."""
    with pytest.raises(TypeError, match=f"catalogue '{what}' must be an astropy Table"):
        call()


def test_finite_std_is_ddof_1_over_the_finite_values_and_nan_below_two():
    from phdl.validate.common import finite_std

    assert finite_std([1.0, 2.0, np.nan, 3.0, 4.0, np.inf]) == pytest.approx(np.sqrt(5 / 3))
    assert finite_std([1.0, 3.0, np.nan]) == pytest.approx(np.sqrt(2.0))  # two values suffice
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NaN quietly, without a numpy warning
        assert np.isnan(finite_std([2.0, np.nan]))
        assert np.isnan(finite_std([]))


def test_column_names_the_catalogue_and_the_missing_column():
    from phdl.validate.common import column

    with pytest.raises(ValueError, match="catalogue 'ours' has no column 'Teff'"):
        column(Table({"logg": [1.0]}), "Teff", "ours")
    masked = Table({"x": np.ma.array([1, 2], mask=[False, True])})
    out = column(masked, "x", "ours")
    assert out.dtype == np.float64 and out[0] == 1.0 and np.isnan(out[1])


def test_clipped_stats_keeps_values_exactly_at_nsigma_and_uses_ddof_1():
    x = np.array([-3.0, 0, 0, 0, 0, 0, 0, 0, 3.0])  # median 0, std (ddof=1) exactly 1.5
    mean, sigma, keep = clipped_stats(x, nsigma=2.0)  # |±3| = 2 × 1.5: on the edge, kept
    assert keep.all() and mean == 0.0 and sigma == pytest.approx(1.5)
    mean, sigma, keep = clipped_stats(x, nsigma=1.95)  # 1.95 × 1.5 < 3 (ddof=2 would keep them)
    assert keep.tolist() == [False] + [True] * 7 + [False] and sigma == 0.0


def test_clipped_stats_never_keeps_fewer_than_three():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert clipped_stats(x[:3]) == (2.0, 1.0, pytest.approx([True] * 3))  # 3 values: stats
    mean, sigma, keep = clipped_stats(x, nsigma=0.01)  # would keep only 3.0: stops before
    assert keep.all() and mean == 3.0 and sigma == pytest.approx(np.sqrt(2.5))
    mean, sigma, keep = clipped_stats(x, nsigma=0.7)  # keeps 2, 3, 4; then would keep one
    assert keep.tolist() == [False, True, True, True, False] and sigma == pytest.approx(1.0)


def _core_and_outlier():
    """50 Gaussian-shaped values (σ = 1) and one at 3.5 σ of the whole sample."""
    return np.append(gaussian_quantiles(50, 1.0), 3.97)


def test_default_nsigma_is_3():
    x = _core_and_outlier()
    assert clipped_stats(x)[2].sum() == 50 and clipped_stats(x, 4.0)[2].sum() == 51
    members = Table({"source_id": np.arange(51), "logg": np.linspace(2.5, 4.5, 51)})
    members["[Mg/Fe]"] = 0.01 * x
    assert member_stats(members, ["Mg"])["n_outliers"][0] == 1
    assert member_stats(members, ["Mg"], nsigma=4.0)["n_outliers"][0] == 0
    ref = Table({"source_id": np.arange(51), "[Mg/Fe]": 0.02 * x})
    sigma_3 = scatter_comparison(members, ref, ["Mg"])
    sigma_4 = scatter_comparison(members, ref, ["Mg"], nsigma=4.0)
    assert sigma_3["sigma_ours"][0] == pytest.approx(np.std(0.01 * x[:50], ddof=1))
    assert sigma_3["sigma_reference"][0] == pytest.approx(np.std(0.02 * x[:50], ddof=1))
    assert sigma_4["sigma_ours"][0] == pytest.approx(np.std(0.01 * x, ddof=1))
    assert sigma_4["sigma_reference"][0] == pytest.approx(np.std(0.02 * x, ddof=1))


def test_logg_slope_exact_least_squares_and_its_standard_error():
    from phdl.validate import logg_slope

    g = [0.0, 0.0, 1.0, 1.0, np.nan, 5.0]
    y = [0.0, 1.0, 2.0, 3.0, 7.0, np.nan]  # the last two rows lack one of the two
    # slope 2, residuals ±0.5: se = sqrt(1 / (4 − 2) / Σ(g − ḡ)²) with Σ(g − ḡ)² = 1
    assert logg_slope(g, y) == (pytest.approx(2.0), pytest.approx(np.sqrt(0.5)))
    g3, y3 = [1.0, 2.0, 3.0], [1.0, 2.0, 4.0]  # three stars are enough
    assert logg_slope(g3, y3) == (pytest.approx(1.5), pytest.approx(np.sqrt(1 / 12)))
    assert logg_slope(np.array(g3) + 10, np.array(y3) + 5)[1] == pytest.approx(np.sqrt(1 / 12))
    for bad in (logg_slope([1.0, 2.0], [1.0, 2.0]), logg_slope([2.0] * 3, [1.0, 2.0, 3.0])):
        assert np.isnan(bad[0]) and np.isnan(bad[1])


def test_member_stats_columns_and_truth_over_the_kept_members_only():
    mg = np.array([0, 0.01, -0.01, 0.02, -0.02, 0.0, 0.01, -0.01, 0.0, 1.0])  # last one clipped
    members = Table({"source_id": np.arange(10), "logg": np.linspace(3.0, 4.0, 10), "[Mg/Fe]": mg})
    truth = Table({"source_id": np.arange(10)[::-1], "[Mg/Fe]": np.r_[1.0, np.zeros(9)]})
    row = member_stats(members, ["Mg"], truth=truth)
    assert row.colnames == ["element", "n", "n_kept", "n_outliers", "mean", "sigma", "logg_slope",
                            "logg_slope_err", "band_lo", "band_hi", "sigma_true", "sigma_error",
                            "sigma_measurement"]  # fmt: skip
    assert row["n_outliers"][0] == 1 and row["mean"][0] == 0.0
    assert row["sigma_true"][0] == 0.0  # the clipped star's truth (1.0) is left out
    assert row["sigma_error"][0] == pytest.approx(np.std(mg[:9], ddof=1))
    assert row["sigma_measurement"][0] == pytest.approx(np.std(mg[:9], ddof=1))


def test_member_stats_errors_name_the_catalogue():
    members, truth = _members(n=20)
    _catalogue_errors(lambda: member_stats([1, 2], ["Mg"]), "members")
    _catalogue_errors(lambda: member_stats(members, ["Mg"], truth=[1, 2]), "truth")
    with pytest.raises(ValueError, match="^member_stats needs at least one element$"):
        member_stats(members, [])
    with pytest.raises(
        ValueError, match="^catalogue 'members' is empty: no M67 member to measure$"
    ):
        member_stats(members[:0], ["Mg"])
    with pytest.raises(ValueError, match="catalogue 'members' has no column 'logg'"):
        member_stats(members[["source_id", "[Mg/Fe]"]], ["Mg"])
    with pytest.raises(ValueError, match="catalogue 'members' has no column 'source_id'"):
        member_stats(members[["logg", "[Mg/Fe]"]], ["Mg"], truth=truth)
    with pytest.raises(ValueError, match=r"catalogue 'truth' has no column '\[N/Fe\]'"):
        member_stats(members, ["N"], truth=truth[["source_id", "[Mg/Fe]"]])
    truth["source_id"] += 10_000
    with pytest.raises(ValueError, match="catalogues 'members' and 'truth'"):
        member_stats(members, ["Mg"], truth=truth)


def test_scatter_comparison_columns_and_errors():
    ours = Table({"source_id": np.arange(5), "[Mg/Fe]": [0.0, 0.1, 0.2, 0.3, np.nan]})
    ref = Table({"source_id": np.arange(5), "[Mg/Fe]": [0.0, 0.2, 0.4, 0.6, 0.8]})
    out = scatter_comparison(ours, ref, ["Mg"])
    assert out.colnames == ["element", "n_common", "sigma_ours", "sigma_reference"]
    assert out["element"][0] == "Mg" and out["n_common"][0] == 4
    assert out["sigma_reference"][0] == pytest.approx(2 * out["sigma_ours"][0])
    _catalogue_errors(lambda: scatter_comparison([1], ref, ["Mg"]), "ours")
    _catalogue_errors(lambda: scatter_comparison(ours, [1], ["Mg"]), "reference")
    with pytest.raises(ValueError, match=r"catalogue 'ours' has no column '\[Si/Fe\]'"):
        scatter_comparison(ours, ref, ["Si"])
    ours["[Si/Fe]"] = 0.0
    with pytest.raises(ValueError, match=r"catalogue 'reference' has no column '\[Si/Fe\]'"):
        scatter_comparison(ours, ref, ["Si"])


# ------------------------------------------------------------------------- surveys, exactly
def test_compare_exact_on_a_small_match_with_the_split_half_open():
    ours = Table({"source_id": [1, 2, 3, 4, 5], "Teff": [5000.0, 6000.0, 6500.0, 5500.0, 5800.0]})
    ours["[Fe/H]"] = [0.0, 0.1, 0.2, np.nan, 0.4]
    ref = Table({"source_id": [5, 4, 3, 2, 1, 9], "Teff": [5700.0, 5400, 6300, 5950, 5010, 0]})
    ref["[Fe/H]"] = [0.1, 0.0, 0.0, 0.0, 0.0, 0.0]
    out = compare(ours, ref, ["[Fe/H]", "Teff"], teff_split=6000.0)
    assert out.colnames == [
        "label",
        "n",
        "median_delta",
        "sigma",
        "robust_sigma",
        "n_cool",
        "n_hot",
        "median_cool",
        "median_hot",
        "sigma_cool",
        "sigma_hot",
    ]
    feh, teff = out[0], out[1]
    assert feh["label"] == "[Fe/H]" and feh["n"] == 4  # star 4 has no [Fe/H]
    assert feh["median_delta"] == pytest.approx(0.15)  # Δ = 0, 0.1, 0.2, 0.3
    assert feh["sigma"] == pytest.approx(np.std([0, 0.1, 0.2, 0.3], ddof=1))
    # Teff = 6000 K is hot (lo ≤ Teff): cool are stars 1, 4, 5, hot stars 2 and 3
    assert (teff["n_cool"], teff["n_hot"]) == (3, 2)
    assert teff["median_cool"] == pytest.approx(100.0)  # Δ = −10, 100, 100
    assert teff["median_hot"] == pytest.approx(125.0)  # Δ = 50, 200
    assert teff["sigma_hot"] == pytest.approx(np.std([50.0, 200.0], ddof=1))
    assert feh["n_cool"] == 3 and feh["n_hot"] == 2  # NaN Δ counted by Teff, not in medians
    assert feh["median_cool"] == pytest.approx(0.15)  # Δ = 0, NaN, 0.3


def test_compare_empty_side_of_the_split_is_nan_quietly():
    ours = Table({"source_id": [1, 2, 3], "Teff": [5000.0, 5100.0, 5200.0]})
    ref = Table({"source_id": [1, 2, 3], "Teff": [4900.0, 5000.0, 5150.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = compare(ours, ref, ["Teff"], teff_split=6000.0)[0]
    assert row["n_hot"] == 0 and np.isnan(row["median_hot"]) and np.isnan(row["sigma_hot"])
    assert row["median_cool"] == 100.0


def test_compare_without_split_needs_no_teff_and_no_labels_give_no_rows():
    ours = Table({"source_id": [1, 2, 3], "logg": [4.0, 4.1, 4.2]})
    ref = Table({"source_id": [1, 2, 3], "logg": [4.0, 4.0, 4.0]})
    out = compare(ours, ref, ["logg"])
    assert out.colnames == ["label", "n", "median_delta", "sigma", "robust_sigma"]
    assert out["median_delta"][0] == pytest.approx(0.1)
    assert len(compare(ours, ref, [])) == 0
    _catalogue_errors(lambda: compare([1], ref, ["logg"]), "ours")
    _catalogue_errors(lambda: compare(ours, [1], ["logg"]), "reference")
    with pytest.raises(ValueError, match="catalogue 'ours' has no column 'Teff'"):
        compare(ours, ref, ["logg"], teff_split=6000)


def test_dispersion_budget_exact_quadrature_share_and_finite_rows():
    truth = Table({"source_id": np.arange(6), "[Fe/H]": np.zeros(6)})
    ours = Table({"source_id": np.arange(6), "[Fe/H]": [0.0, 0.0, 0.0, 0.0, 0.0, np.nan]})
    ref = Table({"source_id": np.arange(6), "[Fe/H]": [0.1, -0.1, 0.2, -0.2, 0.0, 5.0]})
    truth["[Fe/H]"][4] = np.nan  # star 4 lacks the truth, star 5 lacks ours: both left out
    row = dispersion_budget(ours, ref, truth, ["[Fe/H]"])[0]
    assert row["n"] == 4 and row["sigma_ours"] == 0.0
    s_ref = robust_std(np.array([0.1, -0.1, 0.2, -0.2]))
    assert row["sigma_reference"] == pytest.approx(s_ref) and row["share_ours"] == 0.0
    assert row["sigma_quadrature"] == pytest.approx(s_ref)
    assert row["sigma_delta"] == pytest.approx(s_ref)
    same = dispersion_budget(truth, truth, truth, ["[Fe/H]"])[0]  # nobody errs: no share
    assert same["sigma_quadrature"] == 0.0 and np.isnan(same["share_ours"])
    _catalogue_errors(lambda: dispersion_budget([1], ref, truth, ["[Fe/H]"]), "ours")
    _catalogue_errors(lambda: dispersion_budget(ours, [1], truth, ["[Fe/H]"]), "reference")
    _catalogue_errors(lambda: dispersion_budget(ours, ref, [1], ["[Fe/H]"]), "truth")
    truth["source_id"] += 100
    with pytest.raises(ValueError, match="catalogues 'ours' and 'truth'"):
        dispersion_budget(ours, ref, truth, ["[Fe/H]"])


# ---------------------------------------------------------------------- bimodality, exactly
def _three_clumps():
    rng = np.random.default_rng(5)
    return np.concatenate([rng.normal(m, 0.05, 40) for m in (0.0, 0.3, 0.6)])


def test_one_component_is_the_sample_mean_and_variance_with_exact_loglike_and_bic():
    x = _three_clumps()
    n = x.size
    one = gaussian_mixture(x, 1)
    assert one.means[0] == pytest.approx(x.mean()) and one.sigmas[0] == pytest.approx(x.std())
    assert one.loglike == pytest.approx(-n / 2 * (np.log(2 * np.pi * x.var()) + 1))
    assert one.bic == pytest.approx(2 * np.log(n) - 2 * one.loglike)  # (3K − 1) ln n − 2 ln L
    two = gaussian_mixture(x, 2)
    assert two.bic == pytest.approx(5 * np.log(n) - 2 * two.loglike)
    assert gaussian_mixture(x, 1, tol=0.0).converged  # EM reaches the fixed point exactly


def test_mixture_keeps_the_best_start_and_is_reproducible_per_seed():
    x = _three_clumps()
    best = gaussian_mixture(x, seed=0)
    quantiles_only = gaussian_mixture(x, seed=0, n_init=1)
    assert best.loglike > quantiles_only.loglike  # a random start beats the quantile start
    again = gaussian_mixture(x, seed=0, n_init=4, max_iter=500)  # the defaults
    assert again.loglike == best.loglike and np.array_equal(again.means, best.means)
    assert not gaussian_mixture(x, max_iter=1).converged
    default = gaussian_mixture(x)  # seed=0, n_init=4
    assert default.loglike == best.loglike and np.array_equal(default.means, best.means)
    # n_init=1: the quantile start alone, whatever the seed; n_init=2 adds one random start
    assert {gaussian_mixture(x, seed=s, n_init=1).loglike for s in range(4)} == {
        quantiles_only.loglike
    }
    assert gaussian_mixture(x, seed=2, n_init=2).loglike > quantiles_only.loglike
    four, five = (gaussian_mixture(x, seed=1, n_init=n).loglike for n in (4, 5))
    assert gaussian_mixture(x, seed=1).loglike == four < five  # n_init=4 by default


def test_mixture_tolerance_is_relative_to_the_loglike():
    x = _three_clumps()  # ln L ≈ 33: tol = 1e-4 stops at a change of ≈ 3e-3 in ln L
    assert gaussian_mixture(x, n_init=1, tol=1e-4, max_iter=16).converged


def test_variance_floors():
    x = np.concatenate([np.linspace(-0.05, 0.25, 15), [0.55, 0.55, 0.55]])
    assert gaussian_mixture(x, 2).sigmas.min() == pytest.approx(np.sqrt(1e-6 * np.var(x)))
    assert gaussian_mixture(x, 2, sigma_min=0.03).sigmas.min() == pytest.approx(0.03)
    same = gaussian_mixture(np.full(6, 0.2), 2)  # no spread at all: 1e-12 dex², finite ln L
    np.testing.assert_allclose(same.sigmas, 1e-6)
    assert np.isfinite(same.loglike)


def test_mixture_needs_three_values_per_component():
    assert gaussian_mixture(np.arange(6.0), 2).means.size == 2
    with pytest.raises(ValueError, match=r"^gaussian_mixture: 2 component\(s\) need at least "
                                         r"6 finite values, got 5$"):  # fmt: skip
        gaussian_mixture([0.0, 1, 2, 3, 4, np.nan], 2)
    with pytest.raises(ValueError, match="1 component.* at least 3 finite values, got 2"):
        gaussian_mixture([0.0, 1.0], 1)
    with pytest.raises(ValueError, match="0 component.* at least 3 finite values"):
        gaussian_mixture(np.arange(10.0), 0)


def _staircase_of_outliers():
    """100 Gaussian-shaped values (σ = 1) and 11 outliers that clipping removes one a round."""
    x = gaussian_quantiles(100, 1.0)
    for _ in range(11):
        o = 3.0
        for _ in range(200):  # o = 3.05 σ above the median, σ and median including o
            o = 3.05 * np.std(np.append(x, o), ddof=1) + np.median(np.append(x, o))
        x = np.append(x, o)
    return x


def test_clipped_stats_stops_after_max_iter_rounds():
    x = _staircase_of_outliers()
    assert clipped_stats(x)[2].sum() == 101  # 10 rounds by default: the last outlier stays
    assert clipped_stats(x, max_iter=9)[2].sum() == 102
    assert clipped_stats(x, max_iter=11)[2].sum() == 100


def test_logsumexp_is_per_row():
    from phdl.validate.bimodality import _logsumexp

    out = _logsumexp(np.array([[0.0, 0.0], [-2000.0, -2000.0]]))
    np.testing.assert_allclose(out, [np.log(2), -2000 + np.log(2)])


def test_alpha_bimodality_row_is_the_two_fits_with_the_given_seed_and_sigma_min():
    x = _three_clumps()
    feh = np.full(x.size, 0.25)
    row = alpha_bimodality(feh, x, [0.0, 0.5], seed=2, sigma_min=0.3)[0]
    two = gaussian_mixture(x, 2, seed=2, sigma_min=0.3)
    one = gaussian_mixture(x, 1, seed=2, sigma_min=0.3)  # the floor binds here too
    assert one.sigmas[0] == pytest.approx(0.3)
    assert row["delta_bic"] == one.bic - two.bic
    assert (row["mu_low"], row["mu_high"]) == tuple(two.means)
    assert (row["sigma_low"], row["sigma_high"]) == tuple(two.sigmas)
    assert row["w_high"] == two.weights[1]
    d = abs(two.means[1] - two.means[0]) / np.sqrt((two.sigmas[0] ** 2 + two.sigmas[1] ** 2) / 2)
    assert row["ashman_d"] == pytest.approx(d)
    default = alpha_bimodality(feh, x, [0.0, 0.5])[0]
    assert default["mu_low"] == gaussian_mixture(x, 2, seed=0).means[0]


def test_alpha_bimodality_bins_counts_and_min_stars():
    x = np.tile(np.linspace(0.0, 0.3, 6), 10)  # 60 values
    feh = np.repeat([-0.5, 0.0, 0.5, 1.0, np.nan], [30, 10, 10, 5, 5])  # 1.0: outside [0.5, 1)
    xfe = x.copy()
    xfe[35] = np.nan  # not counted in bin [0, 0.5)
    out = alpha_bimodality(feh, xfe, [-1.0, 0.0, 0.5, 1.0])
    assert list(out["feh_lo"]) == [-1.0, 0.0, 0.5] and list(out["feh_hi"]) == [0.0, 0.5, 1.0]
    assert list(out["n"]) == [30, 9, 10]  # 30 stars exactly: enough by default (min_stars=30)
    assert np.isfinite(out["w_high"][0]) and np.isnan(out["w_high"][1:]).all()
    six = alpha_bimodality(np.zeros(6), np.linspace(0, 1, 6), [-1.0, 1.0], min_stars=6)
    assert six["n"][0] == 6 and np.isfinite(six["delta_bic"][0])
    empty = alpha_bimodality([5.0], [0.1], [-1.0, 0.0, 1.0])
    assert empty.colnames[-1] == "delta_bic" and np.all(np.isnan(empty["delta_bic"]))
    with pytest.raises(ValueError, match="feh and xfe differ in shape"):
        alpha_bimodality([0.0, 1.0], [0.0], [-1.0, 1.0])


@pytest.mark.parametrize("edges", [[0.0], [[0.0, 1.0], [2.0, 3.0]], [1.0, 0.0], [0.0, 0.0, 1.0]])
def test_bins_must_be_increasing_one_dimensional_edges(edges):
    with pytest.raises(ValueError, match=r"^feh_bins must be .* increasing \[Fe/H\] edges"):
        true_fractions([0.5], ["halo"], edges)


def test_true_fractions_last_bin_and_shape_check():
    out = true_fractions([0.1, 0.7, 0.8, 0.99], ["halo", "high-alpha", "x", "high-alpha"],
                         [0.0, 0.5, 1.0])  # fmt: skip
    np.testing.assert_allclose(out, [0.0, 2 / 3])
    with pytest.raises(ValueError, match="feh and population differ in shape"):
        true_fractions([0.1, 0.2], ["halo"], [0.0, 1.0])


# ------------------------------------------------------------------------- repeats, exactly
def test_visit_pairs_masked_and_string_ids_and_integer_rows():
    ids = np.ma.array([5, 5, 7, 7, 7], mask=[False, False, False, True, True])
    i, j = visit_pairs(ids)
    assert (i.tolist(), j.tolist()) == ([0], [1])  # masked ids never pair, not even together
    i, j = visit_pairs(np.array(["a", "b", "a"]))
    assert (i.tolist(), j.tolist()) == ([0], [2])
    i, j = visit_pairs([1, 2, 3])
    assert i.size == j.size == 0 and i.dtype.kind == j.dtype.kind == "i"


def _small_visits():
    cat = Table({"SOURCEID": [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, -1, -1]})
    cat["[Mg/Fe]"] = [0.3, 0.0, 0.1, 0.5, 1.0, np.nan, 0.2, 0.2, 0.0, 0.4, 0.0, 1.0]
    cat["[Mg/Fe]_err"] = [0.3, 0.4, 0.0, 0.0, 0.1, 0.1, 0.05, 0.05, 0.6, 0.8, 9.0, 9.0]
    return cat


def test_repeat_z_values_exact():
    # pair 1: Δ 0.3 / hypot(0.3, 0.4) = 0.6; pair 2: zero errors and pair 3: NaN, unusable;
    # pair 4: Δ 0; pair 5: Δ −0.4 / hypot(0.6, 0.8) = −0.4; the −1 rows never pair
    z = normalized_differences(_small_visits(), "Mg")
    np.testing.assert_allclose(z, [0.6, 0.0, -0.4], atol=1e-12)
    row = repeat_scatter(_small_visits(), ["Mg"])[0]
    assert row["n_pairs"] == 3
    assert row["median_err"] == pytest.approx(0.35)  # errors of rows 0, 1, 6, 7, 8, 9
    assert row["z_std"] == pytest.approx(np.std([0.6, 0.0, -0.4], ddof=1))
    assert row["z_sigma"] == pytest.approx(robust_std(np.array([0.6, 0.0, -0.4])))
    assert row["sigma_visit"] == pytest.approx(robust_std(np.array([0.3, 0.0, -0.4]) / np.sqrt(2)))


def test_repeat_errors_name_the_catalogue():
    cat = _small_visits()
    for call in (lambda c: repeat_scatter(c, ["Mg"]), lambda c: normalized_differences(c, "Mg")):
        _catalogue_errors(lambda call=call: call([1, 2]), "catalog")
        with pytest.raises(ValueError, match="catalogue 'catalog' has no column 'SOURCEID'"):
            call(cat[["[Mg/Fe]", "[Mg/Fe]_err"]])
        with pytest.raises(ValueError, match=r"catalogue 'catalog' has no column '\[Mg/Fe\]_err'"):
            call(cat[["SOURCEID", "[Mg/Fe]"]])


def test_no_usable_star_or_pair_gives_nan_quietly():
    from phdl.validate import logg_slope

    cat = Table({"SOURCEID": [1, 1], "[Mg/Fe]": [0.1, np.nan], "[Mg/Fe]_err": [0.1, 0.1]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert all(np.isnan(logg_slope([np.nan, 4.0], [1.0, np.nan])))
        row = repeat_scatter(cat, ["Mg"])[0]
    assert row["n_pairs"] == 0 and np.isnan(row["median_err"]) and np.isnan(row["z_std"])


def test_survey_labels_are_the_parameters_then_the_catalogue_elements_it_has():
    from phdl.validate import survey_labels

    ref = Table({"source_id": [1], "[Eu/Fe]": [0.1], "[Mg/Fe]": [0.0], "[S/Fe]": [0.0],
                 "[C/Fe]": [0.2]})  # fmt: skip
    assert survey_labels(ref) == ["Teff", "logg", "[Fe/H]", "[C/Fe]", "[Mg/Fe]", "[Eu/Fe]"]
    assert survey_labels(ref, k=1) == ["Teff", "logg", "[Fe/H]", "[C/Fe]"]
