"""The calibration figures (phdl.plots.calibration): each draws exactly the data and the fitted
corrections it is given (read back from the artists), with the paper's cuts and panel layout."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from astropy.table import Table  # noqa: E402

from phdl import paper, plots  # noqa: E402
from phdl.calibrate import fit_atm_splines, fit_logg_trends, fit_teff_trend  # noqa: E402
from phdl.calibrate.smooth import robust_std  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def panels(fig) -> list:
    """The visible axes of ``fig`` that are not colour bars."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def artist(ax, gid: str):
    """The one collection or line of ``ax`` with ``gid``."""
    found = [a for a in [*ax.collections, *ax.lines] if a.get_gid() == gid]
    assert len(found) == 1, f"{len(found)} artists with gid {gid!r}"
    return found[0]


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# ------------------------------------------------------------------------------------ Figure 7
def atm_tables(n: int = 300, seed: int = 0) -> tuple[Table, Table]:
    """Cross-matched row by row: ours = reference + an offset (dwarfs linear in Teff, giants
    constant) + noise; every third star a giant by the paper's cuts."""
    rng = np.random.default_rng(seed)
    giant = np.arange(n) % 3 == 0
    teff = np.where(giant, rng.uniform(3800, 5300, n), rng.uniform(4800, 7200, n))
    logg = np.where(giant, rng.uniform(1.0, 3.9, n), rng.uniform(4.0, 4.7, n))
    feh = rng.uniform(-0.8, 0.3, n)
    ours = Table({"source_id": np.arange(n), "Teff": teff, "logg": logg, "[Fe/H]": feh})
    off = {"Teff": np.where(giant, 60.0, 0.1 * (teff - 6000)), "logg": np.where(giant, 0.2, -0.1)}
    off["[Fe/H]"] = np.where(giant, 0.05, -0.02)
    ref = Table({"source_id": np.arange(n)})
    for name, scale in (("Teff", 25.0), ("logg", 0.05), ("[Fe/H]", 0.03)):
        ref[name] = ours[name] - off[name] + rng.normal(0, scale, n)
    return ours, ref


@pytest.fixture(scope="module")
def atm():
    ours, ref = atm_tables()
    return ours, ref, fit_atm_splines(ours, ref)


def test_fig7_three_panels_points_and_sigma_text(atm):
    ours, ref, spl = atm
    fig = plots.fig7_atm_residuals(ours, ref, spl)
    axes = panels(fig)
    assert len(axes) == 3 and len(fig.axes) == 4  # Teff, logg, [Fe/H] and one colour bar
    teff, logg = np.asarray(ours["Teff"]), np.asarray(ours["logg"])
    giant = (teff < paper.GIANT_TEFF_MAX) & (logg < paper.GIANT_LOGG_MAX)
    corr = spl(teff, logg)
    for ax, name, fmt, unit in zip(axes, ("Teff", "logg", "[Fe/H]"), (".1f", ".3f", ".3f"),
                                   ("K", "dex", "dex"), strict=True):  # fmt: skip
        resid = np.asarray(ours[name] - ref[name])
        dwarfs, giants = artist(ax, "dwarfs"), artist(ax, "giants")
        assert np.allclose(dwarfs.get_offsets(), np.c_[teff[~giant], resid[~giant]])
        assert np.allclose(giants.get_offsets(), np.c_[teff[giant], resid[giant]])
        assert np.allclose(giants.get_array(), logg[giant])  # coloured by logg
        after = resid - corr[name]
        assert np.allclose(artist(ax, "after").get_offsets(), np.c_[teff, after])
        sigma = robust_std(after)
        assert sigma == pytest.approx(spl.sigma_after[name])  # the fit's own number
        note = next(t for t in texts(ax) if t.startswith("σ after"))
        assert note == (f"σ after = {sigma:{fmt}} {unit} "
                        f"(paper: {paper.ATM_SIGMA_AFTER[name]:g} {unit})")  # fmt: skip
        assert name in ax.get_ylabel() and f"[{unit}]" in ax.get_ylabel()


def test_fig7_dashed_lines_are_the_dwarf_and_giant_branches(atm):
    ours, ref, spl = atm
    ax = panels(plots.fig7_atm_residuals(ours, ref, spl))[0]
    dwarf, giant = artist(ax, "dwarf spline"), artist(ax, "giant spline")
    assert dwarf.get_linestyle() == "--" and giant.get_linestyle() == "--"
    x = dwarf.get_xdata()
    lo, hi = paper.DWARF_TEFF_RANGE
    assert np.allclose(dwarf.get_ydata(), spl.splines["Teff"]["dwarf"](np.clip(x, lo, hi)))
    x = giant.get_xdata()
    assert x.max() < paper.GIANT_TEFF_MAX
    floor = np.maximum(x, paper.GIANT_TEFF_FLOOR)
    assert np.allclose(giant.get_ydata(), spl.splines["Teff"]["giant"](floor))


def test_fig7_paper_sigma_optional_and_bad_input(atm):
    ours, ref, spl = atm
    ax = panels(plots.fig7_atm_residuals(ours, ref, spl, paper_sigma={}))[1]
    assert not any("paper" in t for t in texts(ax))
    with pytest.raises(ValueError, match=r"'reference'.*'\[Fe/H\]'"):
        plots.fig7_atm_residuals(ours, ref[["source_id", "Teff", "logg"]], spl)
    with pytest.raises(ValueError, match="rows"):
        plots.fig7_atm_residuals(ours, ref[:-1], spl)
    with pytest.raises(ValueError, match="source_id"):
        plots.fig7_atm_residuals(ours, ref[::-1], spl)


# ------------------------------------------------------------------------ Figures 8 and 16
MG_TREND = np.array([0.01, -0.28, 1.72])  # Table 2's (a, b, c) of Mg


def pairs_table(n: int = 80, seed: int = 1) -> tuple[Table, dict]:
    """Two rows per pair, rows shuffled; [Mg/Fe] carries Eq. 27's trend, the others noise.
    Also returns the expected per-pair arrays in pair_id order."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(*paper.BINARY_TEFF_RANGE, size=(n, 2))
    tk = t / paper.TREND_TEFF_UNIT
    f = MG_TREND[0] * tk**3 + MG_TREND[1] * tk**2 + MG_TREND[2] * tk
    cols = {"pair_id": np.repeat(np.arange(n), 2), "component": np.tile([1, 2], n)}
    cols["Teff"] = t.ravel()
    for e in paper.CATALOG_ELEMENTS:
        x = rng.normal(0.1, 0.03, (n, 2)) + (f if e == "Mg" else 0.0)
        cols[f"[{e}/Fe]"] = x.ravel()
    table = Table(cols)[rng.permutation(2 * n)]
    x = cols["[Mg/Fe]"].reshape(n, 2)
    return table, {"t1": t[:, 0], "t2": t[:, 1], "mg": x[:, 0] - x[:, 1]}


@pytest.fixture(scope="module")
def mg_trend():
    table, exp = pairs_table(200, seed=2)
    return fit_teff_trend(exp["t1"], exp["t2"], exp["mg"], np.full(200, 0.04), seed=0,
                          nwalkers=16, nsteps=150, burn=50)  # fmt: skip


def test_fig16_one_panel_per_element_with_the_pairs_deltas():
    table, exp = pairs_table()
    fig = plots.fig16_binary_deltas(table, paper.CATALOG_ELEMENTS, title="uncalibrated")
    axes = panels(fig)
    assert len(axes) == 25 and len(fig.axes) == 26  # 5 × 5, all used, one shared colour bar
    assert fig.get_suptitle() == "uncalibrated"
    mg = axes[paper.CATALOG_ELEMENTS.index("Mg")]
    points = artist(mg, "delta")
    assert np.allclose(points.get_offsets(), np.c_[exp["t1"], exp["mg"]])
    assert np.allclose(points.get_array(), exp["t1"] - exp["t2"])  # coloured by ΔTeff
    assert "[Mg/Fe]" in texts(mg)
    assert f"σ = {robust_std(exp['mg']):.3f}" in texts(mg)
    zero = [line for line in mg.lines if line.get_gid() is None]  # the zero line
    assert len(zero) == 1 and list(zero[0].get_ydata()) == [0.0, 0.0]
    assert all(ax.get_ylim() == mg.get_ylim() for ax in axes)  # shared axes
    span = np.max(np.abs(exp["t1"] - exp["t2"]))
    assert (points.norm.vmin, points.norm.vmax) == pytest.approx((-span, span))
    fixed = plots.fig16_binary_deltas(table, ["Mg", "Si"], ylim=0.3)
    assert all(ax.get_ylim() == pytest.approx((-0.3, 0.3)) for ax in panels(fixed))


def test_fig16_binned_median_follows_the_points():
    table, exp = pairs_table(400, seed=3)
    ax = panels(plots.fig16_binary_deltas(table, ["[Mg/Fe]"]))[0]
    line = artist(ax, "binned median")
    edges = np.linspace(exp["t1"].min(), exp["t1"].max(), 9)
    first = (exp["t1"] >= edges[0]) & (exp["t1"] < edges[1])
    assert line.get_xdata()[0] == pytest.approx((edges[0] + edges[1]) / 2)
    assert line.get_ydata()[0] == pytest.approx(np.median(exp["mg"][first]))


def test_fig8_overlays_the_predicted_delta_of_the_trend(mg_trend):
    table, exp = pairs_table()
    fig = plots.fig16_binary_deltas(table, ["Mg", "Ca"], trends={"Mg": mg_trend})
    mg, ca = panels(fig)
    pred = artist(mg, "predicted").get_offsets()
    assert np.allclose(pred, np.c_[exp["t1"], mg_trend(exp["t1"]) - mg_trend(exp["t2"])])
    assert all(c.get_gid() != "predicted" for c in ca.collections)  # Ca has no trend


def test_fig16_missing_element_names_the_column():
    table, _ = pairs_table()
    del table["[Zr/Fe]"]
    with pytest.raises(ValueError, match=r"'pairs'.*'\[Zr/Fe\]'"):
        plots.fig16_binary_deltas(table, paper.CATALOG_ELEMENTS)
    with pytest.raises(ValueError, match="pair"):
        plots.fig16_binary_deltas(table[1:], ["Mg"])  # one pair left with one star


# ------------------------------------------------------------------------------------ Figure 9
def logg_tables(seed: int = 4) -> tuple[Table, Table]:
    """Ours: [Mg/Fe] with a logg trend, [Fe/H] down to -1.5; the reference flat, [Fe/H] ≥ -0.8."""
    rng = np.random.default_rng(seed)

    def table(n, feh_lo, trend):
        logg = rng.uniform(1.5, 4.7, n)
        return Table({"logg": logg, "[Fe/H]": rng.uniform(feh_lo, 0.3, n),
                      "[Mg/Fe]": 0.1 + trend * (4.4 - logg) + rng.normal(0, 0.02, n),
                      "[C/Fe]": rng.normal(0.0, 0.05, n)})  # fmt: skip

    return table(600, -1.5, 0.05), table(300, -0.8, 0.0)


def test_fig9_points_after_the_feh_cuts_and_both_trends():
    ours, ref = logg_tables()
    trends = fit_logg_trends(ours, ref, ["Mg", "C"])
    fig = plots.fig9_logg_trends(ours, ref, trends, ["Mg", "[C/Fe]"])
    mg, c = panels(fig)
    assert len(fig.axes) == 2
    keep = np.asarray(ours["[Fe/H]"]) > -0.5
    assert np.allclose(artist(mg, "ours").get_offsets(),
                       np.c_[ours["logg"], ours["[Mg/Fe]"]][keep])  # fmt: skip
    keep = np.asarray(ref["[Fe/H]"]) > -0.2
    assert np.allclose(artist(mg, "reference").get_offsets(),
                       np.c_[ref["logg"], ref["[Mg/Fe]"]][keep])  # fmt: skip
    for gid, spline in (
        ("ours trend", trends["Mg"].ours),
        ("reference trend", trends["Mg"].reference),
    ):
        line = artist(mg, gid)
        assert np.allclose(line.get_ydata(), spline(line.get_xdata()))
    assert not c.lines and "no logg correction" in texts(c)  # C: skipped by the calibration
    assert "[Mg/Fe]" in texts(mg)


def test_fig9_bad_input():
    ours, ref = logg_tables()
    trends = fit_logg_trends(ours, ref, ["Mg"])
    fig = plots.fig9_logg_trends(ours, ref, trends, ["Mg", "C"])  # C has no trend: no lines
    c = fig.axes[1]
    assert not c.lines and any("no trend fitted" in t.get_text() for t in c.texts)
    del ref["[Mg/Fe]"]
    with pytest.raises(ValueError, match=r"'reference'.*'\[Mg/Fe\]'"):
        plots.fig9_logg_trends(ours, ref, trends, ["Mg"])


# --------------------------------------------------------------------- calibration stages
STAGES = ("before", "after Teff step", "after logg step", "after zero points")


def scores_table() -> Table:
    rows = [(s, lab, 0.1 / (k + 1) + j * 0.01, 0.05 / (k + 1), 0.02)
            for k, s in enumerate(STAGES) for j, lab in enumerate(("[Mg/Fe]", "[Si/Fe]", "[Ca/Fe]"))
            if not (s == "after logg step" and lab == "[Si/Fe]")]  # fmt: skip
    return Table(rows=rows, names=("stage", "label", "median", "teff_spread", "logg_spread"))


def test_stages_figure_one_marker_series_per_stage():
    fig = plots.calibration_stages_figure(scores_table(), ["Mg", "[Si/Fe]", "Ca"], title="t")
    top, bottom = panels(fig)
    series = [line for line in top.lines if line.get_label() in STAGES]
    assert [line.get_label() for line in series] == list(STAGES)
    assert len({line.get_marker() for line in series}) == 4
    for k, line in enumerate(series):
        expected = 0.1 / (k + 1) + np.array([0.0, 0.01, 0.02])
        if STAGES[k] == "after logg step":
            expected[1] = np.nan  # no row: not drawn
        assert np.allclose(line.get_ydata(), expected, equal_nan=True)
        assert np.allclose(line.get_xdata(), np.arange(3) + (k - 1.5) * 0.15)
    spreads = [line for line in bottom.lines if line.get_marker() != "None"]
    assert np.allclose(spreads[0].get_ydata(), 0.05)
    assert [t.get_text() for t in bottom.get_xticklabels()] == ["[Mg/Fe]", "[Si/Fe]", "[Ca/Fe]"]
    assert [line.get_ydata()[0] for line in bottom.lines if line.get_linestyle() == "--"] == [0.03]


def test_stages_figure_bad_input():
    with pytest.raises(ValueError, match=r"'\[Ti/Fe\]'.*'label'"):
        plots.calibration_stages_figure(scores_table(), ["Mg", "Ti"])
    with pytest.raises(ValueError, match="'teff_spread'"):
        plots.calibration_stages_figure(scores_table()["stage", "label", "median"], ["Mg"])
    duplicated = scores_table()
    duplicated.add_row(duplicated[0])
    with pytest.raises(ValueError, match="2 rows"):
        plots.calibration_stages_figure(duplicated, ["Mg"])
