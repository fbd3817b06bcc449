"""phdl.validate: M67 scatter, survey comparisons, α bimodality, repeat visits — known answers."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from astropy.table import Table

from phdl import paper
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
