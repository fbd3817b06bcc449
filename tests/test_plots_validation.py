"""The validation and catalogue figures (phdl.plots.validation, phdl.plots.catalog): each draws
exactly the data and statistics it is given (read back from the artists), drops NaN rows panel
by panel, says "no data" for an empty panel and names a missing column."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from astropy.table import Table  # noqa: E402

from phdl import plots  # noqa: E402
from phdl.calibrate.smooth import robust_std  # noqa: E402
from phdl.paper import M67_SCATTER_BANDS  # noqa: E402
from phdl.sky.score import binned_medians  # noqa: E402

ELEMENTS = ("Mg", "Si", "Ba")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def panels(fig) -> list:
    """The visible axes of ``fig`` that are not colour bars."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def colorbars(fig) -> list:
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def artist(ax, gid: str):
    """The one collection, line, patch container or text of ``ax`` with ``gid``."""
    found = [a for a in [*ax.collections, *ax.lines, *ax.texts] if a.get_gid() == gid]
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def has(ax, gid: str) -> bool:
    return any(a.get_gid() == gid for a in [*ax.collections, *ax.lines, *ax.texts, *ax.patches])


def no_data(ax) -> bool:
    return any(t.get_text() == "no data" for t in ax.texts)


# ------------------------------------------------------------------------------ Figure 10
def m67(n: int = 60, seed: int = 1) -> tuple[Table, Table, dict[str, np.ndarray]]:
    """Members with [X/Fe] = mean + 0.02 noise; two planted outliers per element (0.5 dex low)."""
    rng = np.random.default_rng(seed)
    members = Table({"source_id": np.arange(n), "Teff": rng.uniform(4500, 6500, n),
                     "logg": rng.uniform(2.5, 4.6, n)})  # fmt: skip
    means = {"Mg": 0.012, "Si": -0.021, "Ba": 0.105}
    planted = {}
    for k, (e, mu) in enumerate(means.items()):
        x = mu + rng.normal(0, 0.02, n).clip(-0.06, 0.06)
        planted[e] = np.array([3 + k, 40 + k])
        x[planted[e]] = mu - 0.5
        members[f"[{e}/Fe]"] = x
    stats = Table({"element": list(means), "mean": list(means.values()),
                   "sigma": [0.034, 0.02, 0.02]})  # fmt: skip
    return members, stats, planted


def test_fig10_panels_outliers_hollow_and_mu_sigma_text():
    members, stats, planted = m67()
    fig = plots.fig10_m67(members, stats, ELEMENTS, ncols=2)
    axes = panels(fig)
    assert len(axes) == len(ELEMENTS) and len(colorbars(fig)) == 1
    logg, teff = np.asarray(members["logg"]), np.asarray(members["Teff"])
    for ax, e, row in zip(axes, ELEMENTS, stats, strict=True):
        x = np.asarray(members[f"[{e}/Fe]"])
        out = artist(ax, "outliers")
        assert np.allclose(out.get_offsets(), np.c_[logg[planted[e]], x[planted[e]]])
        assert np.all(out.get_facecolors()[:, 3] == 0)  # hollow
        inner = artist(ax, "members")
        keep = np.setdiff1d(np.arange(len(x)), planted[e])
        assert np.allclose(inner.get_offsets(), np.c_[logg[keep], x[keep]])
        assert np.allclose(inner.get_array(), teff[keep])  # coloured by Teff
        assert np.all(inner.get_facecolors()[:, 3] > 0)
        assert np.allclose(artist(ax, "mean").get_ydata(), row["mean"])
        text = artist(ax, "mu sigma")
        assert text.get_text() == f"μ = {row['mean']:.3f}, σ = {row['sigma']:.3f}"
        assert text.get_position()[0] > 0.9 and text.get_position()[1] < 0.1  # bottom right
    assert artist(axes[0], "mu sigma").get_text() == "μ = 0.012, σ = 0.034"
    assert "logg" in fig.get_supxlabel()


def test_fig10_nan_dropped_empty_panel_and_missing_column():
    members, stats, _ = m67()
    members["[Si/Fe]"][:5] = np.nan
    members["[Ba/Fe]"] = np.nan
    fig = plots.fig10_m67(members, stats, ["[Mg/Fe]", "[Si/Fe]", "[Ba/Fe]"])
    mg, si, ba = panels(fig)
    n = len(members)
    drawn = [len(artist(si, gid).get_offsets()) for gid in ("members", "outliers")]
    assert sum(drawn) == n - 5
    assert no_data(ba) and not has(ba, "members") and not no_data(mg)
    members.remove_column("[Si/Fe]")
    with pytest.raises(ValueError, match=r"\[Si/Fe\]"):
        plots.fig10_m67(members, stats, ELEMENTS)
    with pytest.raises(ValueError, match="'sigma'"):
        plots.fig10_m67(m67()[0], stats[["element", "mean"]], ELEMENTS)
    members = m67()[0]
    members["[Ca/Fe]"] = 0.0
    with pytest.raises(ValueError, match="'stats' has no row for element 'Ca'"):
        plots.fig10_m67(members.to_pandas(), stats, ["Mg", "Ca"])


# ------------------------------------------------------------------------------ Figure 11
def comparison() -> Table:
    return Table({"element": ["Mg", "[Ca/Fe]", "Ba", "Eu"],
                  "sigma_ours": [0.035, 0.04, 0.08, np.nan],
                  "sigma_reference": [0.06, 0.09, 0.07, 0.2],
                  "n_common": [77, 77, 77, 77]})  # fmt: skip


def test_fig11_points_labels_one_to_one_and_title():
    fig = plots.fig11_scatter(comparison(), bands=M67_SCATTER_BANDS)
    (ax,) = panels(fig)
    pts = artist(ax, "elements").get_offsets()
    assert np.allclose(pts, [[0.035, 0.06], [0.04, 0.09], [0.08, 0.07]])  # Eu (NaN) dropped
    assert [t.get_text() for t in ax.texts] == ["Mg", "Ca", "Ba"]
    line = artist(ax, "1:1")
    assert np.allclose(line.get_xdata(), line.get_ydata())
    assert line.get_xdata()[0] <= pts.min() and line.get_xdata()[-1] >= pts.max()
    assert "77" in ax.get_title()
    bands = [a for a in ax.lines if a.get_gid() == "band"]
    assert [tuple(b.get_xdata()) for b in bands] == [(0.03, 0.04), (0.03, 0.04), (0.05, 0.10)]


def test_fig11_empty_and_missing_column():
    table = comparison()
    table["sigma_ours"] = np.nan
    (ax,) = panels(plots.fig11_scatter(table))
    assert no_data(ax)
    with pytest.raises(ValueError, match="n_common"):
        plots.fig11_scatter(comparison()[["element", "sigma_ours", "sigma_reference"]])


# -------------------------------------------------------------------------- scatter budget
def budget() -> Table:
    return Table({"element": ["Mg", "Si", "Zr"], "sigma": [0.035, 0.04, 0.25],
                  "sigma_true": [0.01, 0.01, np.nan], "sigma_measurement": [0.033, 0.038, 0.25],
                  "band_lo": [0.03, 0.03, 0.2], "band_hi": [0.04, 0.04, 0.3]})  # fmt: skip


def test_scatter_budget_markers_bands_and_legend():
    table = budget()
    (ax,) = panels(plots.m67_scatter_budget(table))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Mg", "Si", "Zr"]
    for column in ("sigma", "sigma_measurement"):
        line = artist(ax, column)
        assert np.allclose(line.get_xdata(), [0, 1, 2])
        assert np.allclose(line.get_ydata(), table[column])
    assert np.allclose(artist(ax, "sigma_true").get_xdata(), [0, 1])  # the NaN left out
    bars = [p for p in ax.patches if p.get_gid() == "band"] or ax.containers[0].patches
    assert np.allclose([b.get_y() for b in bars], table["band_lo"])
    assert np.allclose([b.get_y() + b.get_height() for b in bars], table["band_hi"])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 4 and any("band" in t for t in legend)
    assert any("intrinsic" in t for t in legend) and any("error" in t for t in legend)


def test_scatter_budget_empty_and_missing_column():
    (ax,) = panels(plots.m67_scatter_budget(budget()[:0]))
    assert no_data(ax)
    with pytest.raises(ValueError, match="sigma_true"):
        plots.m67_scatter_budget(budget()[["element", "sigma", "band_lo", "band_hi"]])


# ---------------------------------------------------------------------- Figures 12-14
LABELS = ("Teff", "logg", "[Fe/H]", "Mg")


def surveys(n: int = 200, seed: int = 2) -> tuple[Table, Table]:
    """ours ⊃ common stars; reference = ours − offset + noise, in another order, plus extras."""
    rng = np.random.default_rng(seed)
    ours = Table({"source_id": np.arange(n), "Teff": rng.uniform(4500, 7000, n),
                  "logg": rng.uniform(2.0, 4.6, n), "[Fe/H]": rng.uniform(-1, 0.4, n),
                  "[Mg/Fe]": rng.uniform(-0.1, 0.4, n)})  # fmt: skip
    common = rng.permutation(n)[: n // 2]
    ref = Table({"source_id": np.r_[common, 10_000 + np.arange(20)]})
    for name, off, s in (("Teff", 30.0, 60.0), ("logg", 0.05, 0.1), ("[Fe/H]", -0.02, 0.07),
                         ("[Mg/Fe]", 0.01, 0.05)):  # fmt: skip
        ref[name] = np.r_[ours[name][common] - off + rng.normal(0, s, common.size),
                          rng.uniform(0, 1, 20)]  # fmt: skip
    return ours, ref


def common_rows(ours: Table, ref: Table) -> tuple[Table, Table]:
    ids = np.intersect1d(ours["source_id"], ref["source_id"])
    o = ours[np.searchsorted(ours["source_id"], ids)]
    order = np.argsort(ref["source_id"])
    r = ref[order[np.searchsorted(ref["source_id"][order], ids)]]
    return o, r


def test_survey_comparison_matched_points_and_delta_text():
    ours, ref = surveys()
    ours["logg"][0:3] = np.nan
    fig = plots.survey_comparison(ours, ref.to_pandas(), LABELS, survey="APOGEE DR17-like")
    axes = panels(fig)
    assert len(axes) == len(LABELS) and len(colorbars(fig)) == 1
    o, r = common_rows(ours, ref)
    for ax, name in zip(axes, ("Teff", "logg", "[Fe/H]", "[Mg/Fe]"), strict=True):
        x, y = np.asarray(o[name]), np.asarray(r[name])
        ok = np.isfinite(x)
        stars = artist(ax, "stars")
        got = stars.get_offsets()
        assert len(got) == ok.sum()
        assert np.allclose(np.sort(got[:, 0]), np.sort(x[ok]))
        assert np.allclose(np.sort(stars.get_array()), np.sort(np.asarray(o["Teff"])[ok]))
        line = artist(ax, "1:1")
        assert np.allclose(line.get_xdata(), line.get_ydata()) and line.get_linestyle() == "--"
        assert line.get_xdata()[0] <= got.min() and line.get_xdata()[-1] >= got.max()
        d = x[ok] - y[ok]
        fmt = ".0f" if name == "Teff" else ".3f"
        text = artist(ax, "delta sigma").get_text()
        assert f"Δ median = {np.median(d):{fmt}}" in text
        assert f"σ = {robust_std(d):{fmt}}" in text
        assert "PhDLspec" in ax.get_xlabel() and "APOGEE DR17-like" in ax.get_ylabel()


def test_survey_comparison_empty_panel_no_overlap_and_missing_column():
    ours, ref = surveys()
    ref["[Mg/Fe]"] = np.nan
    axes = panels(plots.survey_comparison(ours, ref, LABELS, survey="GALAH"))
    assert no_data(axes[-1]) and not no_data(axes[0])
    ref["source_id"] += 50_000
    apart = plots.survey_comparison(ours, ref, LABELS, survey="GALAH")
    assert all(no_data(ax) for ax in panels(apart))
    with pytest.raises(ValueError, match=r"'reference'.*\[Mg/Fe\]"):
        plots.survey_comparison(ours, ref[["source_id", "Teff"]], ["Teff", "Mg"], survey="x")
    with pytest.raises(ValueError, match="'vmic'"):
        plots.survey_comparison(ours, ref, ["Teff"], survey="x", color="vmic")


def test_delta_vs_teff_binned_median_and_hot_line():
    ours, ref = surveys(400)
    fig = plots.delta_vs_teff(ours, ref, LABELS, survey="DD-Payne", hot_teff=6000.0)
    axes = panels(fig)
    assert len(axes) == len(LABELS)
    o, r = common_rows(ours, ref)
    teff = np.asarray(o["Teff"])
    for ax, name in zip(axes, ("Teff", "logg", "[Fe/H]", "[Mg/Fe]"), strict=True):
        d = np.asarray(o[name]) - np.asarray(r[name])
        got = artist(ax, "delta").get_offsets()
        assert np.allclose(np.sort(got[:, 1]), np.sort(d))
        edges = np.linspace(teff.min(), np.nextafter(teff.max(), np.inf), 9)
        xb, yb = binned_medians(teff, d, edges, 5)
        line = artist(ax, "binned median")
        assert np.allclose(line.get_xdata(), xb) and np.allclose(line.get_ydata(), yb)
        assert np.allclose(artist(ax, "hot_teff").get_xdata(), 6000.0)
        assert "DD-Payne" in ax.get_ylabel()
    no_hot = panels(plots.delta_vs_teff(ours, ref, ["logg"], survey="x"))
    assert not has(no_hot[0], "hot_teff")


# ------------------------------------------------------------------------------ Figure 15
def catalog(n: int = 3000, seed: int = 3) -> Table:
    rng = np.random.default_rng(seed)
    feh = rng.uniform(-1.5, 0.5, n)
    high = rng.random(n) < 0.3
    mg = np.where(high, 0.3, 0.05) + rng.normal(0, 0.04, n)
    return Table(
        {
            "source_id": np.arange(n),
            "[Fe/H]": feh,
            "[Mg/Fe]": mg,
            "[Mn/Fe]": 0.2 * feh + rng.normal(0, 0.05, n),
            "[Eu/Fe]": np.full(n, np.nan),
        }
    )


def test_fig15_densities_count_the_stars_and_trend_is_red():
    table = catalog()
    table["[Mn/Fe]"][:10] = np.nan
    trend = {"Mg": (np.array([-1.0, 0.0, np.nan]), np.array([0.3, 0.05, 0.0]))}
    fig = plots.fig15_trends(table, ["Mg", "Mn", "Eu"], trend=trend, bins=20)
    mg, mn, eu = panels(fig)
    assert len(colorbars(fig)) == 1
    assert artist(mg, "density").get_array().sum() == len(table)
    assert artist(mn, "density").get_array().sum() == len(table) - 10
    assert artist(mg, "density").get_array().shape == (20, 20)
    line = artist(mg, "trend")
    assert np.allclose(line.get_xdata(), [-1.0, 0.0]) and line.get_color() == "red"
    assert not has(mn, "trend")
    assert no_data(eu) and not has(eu, "density")
    with pytest.raises(ValueError, match=r"\[Ti/Fe\]"):
        plots.fig15_trends(table, ["Mg", "Ti"])


# ----------------------------------------------------------------------------- bimodality
def mixtures() -> Table:
    return Table({"feh_lo": [-1.0, -0.5, 0.0, 2.0], "feh_hi": [-0.5, 0.0, 0.5, 3.0],
                  "n": [700, 700, 700, 0], "w_high": [0.3, 0.28, np.nan, np.nan],
                  "mu_low": [0.05, 0.05, np.nan, np.nan], "mu_high": [0.3, 0.3, np.nan, np.nan],
                  "sigma_low": [0.04, 0.04, np.nan, np.nan],
                  "sigma_high": [0.04, 0.04, np.nan, np.nan]})  # fmt: skip


def test_bimodality_components_sum_titles_and_nan_bins():
    table = catalog()
    fig = plots.bimodality_figure(table, "Mg", mixtures(), truth_fraction=[0.3, 0.31, 0.29, 0.0])
    first, second, nofit, empty = panels(fig)
    low, high, total = artist(first, "low"), artist(first, "high"), artist(first, "sum")
    assert np.allclose(low.get_ydata() + high.get_ydata(), total.get_ydata())
    grid = low.get_xdata()
    area_high = np.sum(high.get_ydata()) * (grid[1] - grid[0])
    assert area_high == pytest.approx(0.3, abs=0.01)  # weight of the high-α component
    assert "f_high = 0.30" in first.get_title() and "true 0.30" in first.get_title()
    assert "f_high = 0.28" in second.get_title() and "true 0.31" in second.get_title()
    feh = np.asarray(table["[Fe/H]"])
    counts = [p.get_height() for p in first.patches]
    width = first.patches[0].get_width()
    assert np.sum(counts) * width == pytest.approx(1.0)  # a density
    inside = (feh >= 0.0) & (feh < 0.5)
    assert has(nofit, "histogram") and not has(nofit, "sum") and "no fit" in nofit.get_title()
    assert inside.sum() > 0 and no_data(empty)
    with pytest.raises(ValueError, match="truth_fraction"):
        plots.bimodality_figure(table, "Mg", mixtures(), truth_fraction=[0.3])
    with pytest.raises(ValueError, match="sigma_high"):
        plots.bimodality_figure(table, "Mg", mixtures()[list(mixtures().colnames[:-1])])


# --------------------------------------------------------------------------- repeat visits
def test_repeat_visits_histogram_normal_and_robust_sigma():
    z = np.random.default_rng(4).normal(0, 1.2, 2000)
    z[:3] = np.nan
    (ax,) = panels(plots.repeat_visits(z, label="[Mg/Fe]"))
    assert ax.get_title() == "[Mg/Fe]"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"robust σ = {robust_std(z):.2f} (N = 1997)" in legend and "N(0, 1)" in legend
    normal = artist(ax, "normal")
    assert normal.get_ydata().max() == pytest.approx(1 / np.sqrt(2 * np.pi), rel=1e-3)
    area = sum(p.get_height() for p in ax.patches) * ax.patches[0].get_width()
    assert area == pytest.approx(1.0)


def test_repeat_visits_dict_of_panels_with_an_empty_one():
    fig = plots.repeat_visits({"Teff": np.random.default_rng(5).normal(0, 1, 300),
                               "logg": np.array([np.nan])}, label="visits")  # fmt: skip
    teff, logg = panels(fig)
    assert teff.get_title() == "Teff" and fig.get_suptitle() == "visits"
    assert no_data(logg) and not no_data(teff)
