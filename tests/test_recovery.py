"""Recovery statistics, the paper's bins, CRLB aggregation, gradient correlations, Figs. 4-6."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from phdl import paper, plots  # noqa: E402
from phdl import recovery as rc  # noqa: E402
from phdl.grid import sample_labels  # noqa: E402
from phdl.labels import GROUP_I, GROUP_II, LABELS  # noqa: E402

NAMES = ["Teff", "logg", "[Mg/Fe]"]


def test_recovery_table_bias_sigma_bins_and_crlb():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=(400, 3))
    err = rng.normal(size=(400, 3)) * np.array([30.0, 0.1, 0.05]) + np.array([5.0, 0.0, -0.02])
    fitted = truth + err
    fitted[0, 2] = np.nan  # a failed fit is left out
    bins = {"first half": np.arange(400) < 200, "second half": np.arange(400) >= 200}
    crlb = np.tile([15.0, 0.1, 0.05], (400, 1))
    t = rc.recovery_table(truth, fitted, NAMES, bins, crlb)
    assert list(t["n"]) == [400, 400, 399]
    assert t["bias"][0] == pytest.approx(5.0, abs=4.0)
    assert t["σ"][0] == pytest.approx(30.0, rel=0.15)
    assert t["σ / σ CRLB"][0] == pytest.approx(2.0, rel=0.15)
    assert t["σ / σ CRLB"][1] == pytest.approx(1.0, rel=0.15)
    assert t["σ first half"][2] == pytest.approx(0.05, rel=0.2)
    assert t["σ paper"][0] == "28.03" and t["σ paper"][2] == "< 0.1"
    with pytest.raises(ValueError, match="truth and fitted"):
        rc.recovery_table(truth, fitted[:, :2], NAMES)
    with pytest.raises(ValueError, match="crlb"):
        rc.recovery_table(truth, fitted, NAMES, crlb=crlb[:10])


def test_crlb_sigma_is_rms():
    assert rc.crlb_sigma(np.array([[3.0], [4.0]]))[0] == pytest.approx(np.sqrt(12.5))


def test_paper_bins():
    lab = sample_labels(200, 0)
    bins = rc.paper_bins(lab)
    core = bins["4500-7000 K, [Fe/H] > -1"]
    assert (core ^ bins["the rest"]).all()
    assert (lab[core, 0] >= 4500).all() and (lab[core, 3] > -1).all()
    with pytest.raises(ValueError):
        rc.paper_bins(lab[:, :5])


def test_gradient_correlation():
    x = np.linspace(0, 10, 500)
    g = np.stack([np.sin(x), 2 * np.sin(x) + 1, -np.sin(x), np.cos(3 * x), np.zeros_like(x)])
    c = rc.gradient_correlation(g)
    assert c[0, 1] == pytest.approx(1.0) and c[0, 2] == pytest.approx(-1.0)
    assert abs(c[0, 3]) < 0.1 and np.isnan(c[4, 0])


def test_flag_table_fractions_skip_unfitted_stars():
    flags = np.array([[0, 1], [3, 0], [-1, 8], [0, -1]])
    t = rc.flag_table(flags, ["Teff", "[Mg/Fe]"])
    assert list(t["good (ours)"]) == pytest.approx([2 / 3, 1 / 3])
    assert list(t["F1"]) == pytest.approx([1 / 3, 1 / 3])  # -1 is not "every bit set"
    assert list(t["F2"]) == pytest.approx([1 / 3, 0.0]) and list(t["F4"]) == pytest.approx(
        [0, 1 / 3]
    )
    assert list(t["good (paper)"]) == ["", paper.GOOD_FLAGS_QUOTED["[Mg/Fe]"]]
    with pytest.raises(ValueError, match="2 columns but 1 names"):
        rc.flag_table(flags, ["Teff"])


def test_paper_quotes_cover_every_fitted_label():
    fitted = list(GROUP_I) + list(GROUP_II)
    assert sorted(paper.RECOVERY_SIGMA_QUOTED) == sorted(fitted)
    assert sorted(paper.GOOD_FLAGS_QUOTED) == sorted(n for n in fitted if n.endswith("/Fe]"))


def test_figures_4_5_6():
    wl = np.linspace(3750, 4500, 200)
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, 34, 200))
    fig = plots.fig4_gradients(wl, {"ab initio": g, "PhDLspec": g + 0.01, "plain": g * 1.2},
                               ["[Co/Fe]", "[La/Fe]"], LABELS, ["a", "b", "c"])  # fmt: skip
    assert len(fig.axes) == 12
    assert len(fig.axes[0].lines) == 3  # three sources in the top panel
    with pytest.raises(ValueError, match="shape"):
        plots.fig4_gradients(wl, {"x": g[:2]}, ["[Co/Fe]"], LABELS, ["a", "b", "c"])
    truth = rng.normal(size=(30, 3))
    fig = plots.fig5_one_to_one(truth, truth + 0.1, NAMES, rng.uniform(-2, 0, 30), ncols=2)
    assert "bias" in fig.axes[0].texts[0].get_text()
    c = rc.gradient_correlation(g[0, :5])
    fig = plots.fig6_correlations({"gradients": c, "covariance": c}, LABELS[:5])
    assert len(fig.axes) == 3  # two heatmaps and the colorbar


def test_strongest_pairs_and_blocks():
    names = ["a", "b", "c", "d"]
    corr = np.eye(4)
    corr[0, 1] = corr[1, 0] = -0.9
    corr[2, 3] = corr[3, 2] = 0.5
    assert rc.strongest_pairs(corr, names, 2) == [("a", "b", -0.9), ("c", "d", 0.5)]
    t = rc.block_strength(corr, names, {"ab": ["a", "b"], "cd": ["c", "d"]})
    assert t["ab × ab"][0] == pytest.approx(0.9) and t["ab × cd"][0] == pytest.approx(0.0)
    assert t["cd × cd"][0] == pytest.approx(0.5)


def test_crlb_verdict_names_each_miss_and_its_size():
    truth = np.zeros((50, 3))
    rng = np.random.default_rng(0)
    fitted = truth + rng.normal(0, 1, (50, 3)) * np.array([1.0, 3.0, 0.5])
    crlb = np.ones((50, 3))
    names = ["Teff", "logg", "[Fe/H]"]
    rec = rc.recovery_table(truth, fitted, names, crlb=crlb)
    text, worst = rc.crlb_verdict(rec, names)
    assert worst[0] == "logg" and worst[-1] == "[Fe/H]"
    assert text.startswith("1 of 3 miss") and "logg (" in text and "Teff" not in text
    r = float(rec["σ / σ CRLB"][1])
    assert f"{r / 1.5:.1f}× over" in text
    ok, _ = rc.crlb_verdict(rec, ["[Fe/H]"])
    assert ok.startswith("all 1 meet")
    with pytest.raises(ValueError, match="not rows"):
        rc.crlb_verdict(rec, ["[Mg/Fe]"])
    with pytest.raises(ValueError, match="crlb="):
        rc.crlb_verdict(rc.recovery_table(truth, fitted, names), names)


def test_emulator_limit_says_which_limits_the_fit():
    text = rc.emulator_limit(np.array([2.0, 3.0, 2.5]), np.array([1.8, 2.9, 2.6]))
    assert "median reduced χ² of 2.50" in text and "for 67% of the stars" in text
    assert "errors dominate the noise" in text
    exact = rc.emulator_limit(np.array([1.0, 1.1]), np.array([0.98, 1.05]))
    assert "close to exact" in exact and "dominate" not in exact
    between = rc.emulator_limit(np.array([1.30, 1.36, 1.40]), np.array([1.2, 1.23, 1.3]))
    assert "add about 36% of the noise variance" in between
    assert "close to exact" not in between and "dominate" not in between
    with pytest.raises(ValueError, match="chi_truth"):
        rc.emulator_limit(np.ones(3), np.ones(2))


def test_a_bound_wider_than_the_range_is_no_information_not_a_pass():
    rng = np.random.default_rng(2)
    names = ["Teff", "[C/Fe]", "[Mg/Fe]"]  # [C/Fe] spans 3 dex (Table 1)
    truth = np.zeros((60, 3))
    fitted = truth + rng.normal(0, 1, (60, 3)) * np.array([30.0, 0.5, 0.3])
    crlb = np.tile([25.0, 4.0, 0.1], (60, 1))  # the [C/Fe] bound exceeds its range
    rec = rc.recovery_table(truth, fitted, names, crlb=crlb)
    assert list(rec["vs CRLB (≤ 1.5)"]) == ["meets", rc.NO_INFORMATION, "misses"]
    assert rec["σ / σ CRLB"][1] < 0.25  # a tiny ratio, and still not a pass
    text, worst = rc.crlb_verdict(rec, names)
    assert text.startswith("1 of 2 miss") and "[Mg/Fe] (" in text
    assert "no information on [C/Fe]" in text and worst == ["[Mg/Fe]", "Teff"]
    ok, _ = rc.crlb_verdict(rec, ["Teff", "[C/Fe]"])
    assert ok.startswith("all 1 meet") and "no information on [C/Fe]" in ok
    none, worst = rc.crlb_verdict(rec, ["[C/Fe]"])
    assert none.startswith("none of the 1") and "meet" not in none and worst == []
    with pytest.raises(ValueError, match="crlb="):
        rc.crlb_status(rc.recovery_table(truth, fitted, names))


def test_label_columns_and_the_chapter_3_sentence():
    from astropy.table import Table

    table = Table({"Teff": [1.0, 2.0], "Teff_flag": [0, 3], "logg": [3.0, 4.0]})
    cols = rc.label_columns(table, ["logg", "Teff"])
    assert cols.shape == (2, 2) and list(cols[:, 0]) == [3.0, 4.0]
    assert list(rc.label_columns(table, ["Teff"], "_flag")[:, 0]) == [0, 3]
    with pytest.raises(ValueError, match="logg_flag"):
        rc.label_columns(table, ["logg"], "_flag")
    truth = np.zeros((50, 3))
    fitted = truth + np.random.default_rng(0).normal(0, 1, (50, 3)) * np.array([30.0, 0.1, 0.1])
    rec = rc.recovery_table(truth, fitted, ["Teff", "logg", "[Fe/H]"], crlb=np.ones((50, 3)))
    text = rc.recovery_summary(rec, ["Teff", "logg", "[Fe/H]"], "quick", 101.4, 50)
    assert "(quick profile, 50 test stars, median S/N 101)" in text
    assert paper.recovery_quote() in text and "miss the target" in text
    assert "The largest ratios: Teff" in text


def test_sensitivity_and_correlation_sentences():
    from astropy.table import Table

    from phdl.labels import ELEMENTS

    strength = np.linspace(1e-4, 1e-1, len(ELEMENTS))
    table = Table({"element": list(ELEMENTS), "max |df/d[X/Fe]| a": strength})
    text = rc.sensitivity_summary(table, n=2)
    assert "the strongest responses are Eu (1.0e-01), Sm" in text
    assert "the weakest are C (1.0e-04), N" in text
    assert "does not fit Au, Cu, K, S, Zn" in text and "S 8, K 9" in text
    names = list(paper.FIG6_LABELS)
    blocks = rc.correlation_blocks(names)
    assert blocks["atm+CNO"] == names[:6] and blocks["heavy"][0] == "[Sr/Fe]"
    assert sum(len(b) for b in blocks.values()) == len(names) == 28
    corr = np.eye(len(names))
    corr[0, 1] = corr[1, 0] = 0.8
    t = rc.block_strength_table({"gradients": corr, "errors": np.eye(len(names))}, names, blocks)
    assert list(t["matrix"]) == ["gradients", "errors"] and len(t) == 2
    text = rc.correlation_summary(corr, np.eye(len(names)), names, t, n=1)
    assert "Teff–logg +0.80" in text and paper.FIG6_FINDING in text
