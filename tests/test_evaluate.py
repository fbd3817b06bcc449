"""Emulator assessment (phdl.evaluate) and the emulation figures, on a fake engine as 'model'."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from _fakes import FakeSynthesizer  # noqa: E402

from phdl import evaluate as ev  # noqa: E402
from phdl import paper, plots  # noqa: E402
from phdl.grid import Grid, sample_labels  # noqa: E402
from phdl.labels import LABELS  # noqa: E402


class FakeModel:
    """predict/jacobian from a FakeSynthesizer, optionally biased or with zero gradients."""

    def __init__(self, syn, offset=0.0, zero_grad=False):
        self.syn, self.offset, self.zero_grad = syn, offset, zero_grad
        self.wavelength = syn.wavelength

    def predict(self, labels):
        return self.syn(labels) + self.offset

    def jacobian(self, labels):
        _, g = self.syn(labels, with_gradients=True)
        return np.zeros_like(g) if self.zero_grad else g


@pytest.fixture(scope="module")
def setup():
    syn = FakeSynthesizer(n_pix=30)
    labels = sample_labels(40, 3)
    flux, grads = syn(labels, with_gradients=True)
    grid = Grid(syn.wavelength, labels, flux, grads, LABELS)
    return syn, grid


def test_perfect_model_has_zero_errors(setup):
    syn, grid = setup
    model = FakeModel(syn)
    assert np.abs(ev.residuals(model, grid)).max() < 1e-12
    errs = ev.gradient_errors(model, grid, np.arange(10))
    assert np.nanmax(errs) < 1e-12


def test_offset_and_zero_gradient_scores(setup):
    syn, grid = setup
    res = ev.residuals(FakeModel(syn, offset=0.01), grid, np.arange(5))
    assert res.shape == (5, 30) and np.allclose(res, 0.01)
    assert ev.sigma(res) == pytest.approx(0.0, abs=1e-12)
    errs = ev.gradient_errors(FakeModel(syn, zero_grad=True), grid)
    assert np.allclose(errs, 1.0)  # a model predicting no gradient scores exactly 1


class LinesOnlyModel(FakeModel):
    """The true gradient where |∂f| > 10 % of its per-star maximum, zero elsewhere."""

    def jacobian(self, labels):
        g = super().jacobian(labels)
        return np.where(np.abs(g) > 0.1 * np.abs(g).max(axis=2, keepdims=True), g, 0.0)


def test_gradient_errors_where_the_gradient_matters(setup):
    syn, grid = setup
    rows = np.arange(10)
    model = LinesOnlyModel(syn)
    assert np.nanmax(ev.gradient_errors(model, grid, rows, matters=0.1)) < 1e-12
    everywhere = ev.gradient_errors(model, grid, rows)
    assert np.nanmin(everywhere) > 1e-6  # it misses the small gradients between the lines
    # a pixel subset does not change what a zero gradient scores: exactly 1
    zero = FakeModel(syn, zero_grad=True)
    assert np.allclose(ev.gradient_errors(zero, grid, rows, matters=0.5), 1.0)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="matters must be in"):
            ev.gradient_errors(model, grid, rows, matters=bad)
    table = ev.gradient_error_table({"a": model, "b": zero}, grid, rows, matters=0.1)
    assert table.colnames == ["label", "a", "b", "a, lines", "b, lines"]


def test_gradient_target_verdict_uses_the_target_labels_only():
    from astropy.table import Table

    ours = np.full(34, 0.9)  # every label but the target labels: far off
    target_rows = [LABELS.index(n) for n in ev.GRADIENT_TARGET_LABELS]
    ours[target_rows] = 0.3
    table = Table({"label": list(LABELS), "PhDLspec": ours, "plain Transformer": np.full(34, 0.7)})
    text = ev.gradient_target_verdict(table, "quick")
    assert "0.300 (PhDLspec) against 0.700 (plain)" in text and "**met**" in text
    table["plain Transformer"] = 0.5  # 0.3 > half of 0.5
    assert "**missed**" in ev.gradient_target_verdict(table, "quick")
    table["PhDLspec, lines"], table["plain Transformer, lines"] = 0.2, 0.8
    assert "matters, 0.200 against 0.800" in ev.gradient_target_verdict(table, "quick")
    assert "no gradient target" in ev.gradient_target_verdict(table, "tiny")


def test_summary_table(setup):
    syn, grid = setup
    rows = np.arange(20, 40)
    table = ev.emulation_summary({"good": FakeModel(syn), "noisy": NoisyModel(syn)}, grid, rows)
    assert list(table["model"][:2]) == ["good", "noisy"]
    assert table["σ all"][0] < 1e-12 < table["σ all"][1]
    assert table["σ all"][2] == paper.EMULATION_SIGMA["all"]
    per_label = ev.gradient_error_table({"good": FakeModel(syn)}, grid, rows)
    assert len(per_label) == 34 and per_label.colnames == ["label", "good"]


class NoisyModel(FakeModel):
    def predict(self, labels):
        rng = np.random.default_rng(0)
        return self.syn(labels) + rng.normal(0, 0.01, (len(labels), len(self.wavelength)))


def test_nearest_star():
    labels = sample_labels(50, 1)
    rows = np.arange(10, 50)
    k = ev.nearest_star(labels, rows, 5930.0, 4.48, 0.0)
    assert k in rows

    def d(i):
        return (labels[i, 0] - 5930) ** 2 / 1e4 + (
            (labels[i, 1] - 4.48) ** 2 + labels[i, 3] ** 2
        ) / 0.01

    assert all(d(k) <= d(i) for i in rows)


def test_bad_inputs(setup):
    syn, grid = setup
    other = FakeModel(FakeSynthesizer(n_pix=31))
    with pytest.raises(ValueError, match="wavelength grid"):
        ev.residuals(other, grid)
    with pytest.raises(ValueError, match="rows"):
        ev.residuals(FakeModel(syn), grid, np.array([0, 99]))
    no_grad = Grid(grid.wavelength, grid.labels, grid.flux, None, LABELS)
    with pytest.raises(ValueError, match="gradients"):
        ev.gradient_errors(FakeModel(syn), no_grad)


def test_fig3_and_training_curves(setup):
    syn, grid = setup
    res = ev.residuals(NoisyModel(syn), grid)
    hot = grid.labels[:, 0] > 4500
    fig = plots.fig3_emulation(grid.wavelength, grid.flux[0], grid.flux[0] + res[0], res, hot,
                               "star 0", paper.EMULATION_SIGMA)  # fmt: skip
    assert len(fig.axes) == 4
    text = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "paper" in text and "ours" in text
    with pytest.raises(ValueError, match="residuals"):
        plots.fig3_emulation(grid.wavelength, grid.flux[0], grid.flux[0], res[:, :5], hot)
    hist = [{"epoch": [1, 2, 3], "train_loss": [3.0, 2.0, 1.0], "val_loss": [3.5, 2.5, 1.5]}]
    fig = plots.training_curves({"a": hist, "b": hist})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2


def test_training_curves_draw_every_curve_their_legend_names():
    """The validation loss is NaN between evaluations (eval_every = 10): the curve joins the
    evaluated epochs instead of vanishing, and the legend names exactly the drawn curves."""
    epochs = np.arange(1, 61)
    evaluated = epochs % 10 == 0
    val = np.where(evaluated, 2.0 / epochs, np.nan)
    grad_hist = {"epoch": list(epochs), "train_loss": list(3.0 / epochs),
                 "val_loss": list(val), "val_spec": list(val / 2)}  # fmt: skip
    plain_hist = {**grad_hist, "val_spec": list(val)}  # the flux term is the loss: no 3rd curve
    fig = plots.training_curves({"PhDLspec": [grad_hist], "plain": [plain_hist]})
    for ax, names in zip(fig.axes, (["train", "validation", "validation, flux term"],
                                    ["train", "validation"]), strict=True):  # fmt: skip
        handles, labels = ax.get_legend_handles_labels()
        assert labels == names
        for line in handles:
            x, y = line.get_xdata(), line.get_ydata()
            assert len(x) >= 2 and np.isfinite(y).all(), line.get_label()
        assert len(handles[1].get_xdata()) == evaluated.sum()


def test_example_star_is_nearest_the_papers():
    labels = sample_labels(50, 1)
    rows = np.arange(10, 50)
    star = paper.EXAMPLE_STAR
    assert ev.example_star(labels, rows) == ev.nearest_star(
        labels, rows, star["Teff"], star["logg"], star["[Fe/H]"]
    )


def test_distinct_nearest_and_describe_star():
    labels = sample_labels(60, 2)
    rows = np.arange(60)
    targets = [(5000.0, 4.5, 0.0), (5000.0, 4.5, 0.0), (6500.0, 4.0, -0.5)]
    picked = ev.distinct_nearest(labels, rows, targets)
    assert len(set(picked)) == 3 and picked[0] == ev.nearest_star(labels, rows, *targets[0])
    assert ev.distinct_nearest(labels, rows[:2], targets)[2] in rows[:2]  # rows ran out
    lab = labels[0].copy()
    lab[[0, 1, 3]] = [5930.0, 4.48, 0.0]
    assert ev.describe_star(lab) == paper.example_star_text()


def test_chapter_2_and_4_sentences(setup):
    syn, grid = setup
    rows = np.arange(20, 40)
    models = {"PhDLspec": FakeModel(syn), "plain Transformer": NoisyModel(syn)}
    models["plain Transformer"].zero_grad = True
    summary = ev.emulation_summary(models, grid, rows)
    text = ev.emulation_verdict(summary, "quick", len(rows))
    assert "σ = 0.00 % over all pixels" in text and "meets the book's target" in text
    assert paper.emulation_quote() in text and "for the plain Transformer" in text
    assert "no accuracy target" in ev.emulation_verdict(summary, "tiny", len(rows))
    table = ev.gradient_comparison_table(models, grid, rows)
    assert table.colnames == ["label", "PhDLspec", "plain Transformer", "plain / PhDLspec"]
    assert np.allclose(table["plain Transformer"], 1.0)  # zero gradients score 1
    table["PhDLspec"] = 0.5  # pretend: half the plain model's error everywhere
    table["plain / PhDLspec"] = 2.0
    text = ev.gradient_summary(table, "quick", len(rows))
    assert "for 34 of 34 labels" in text and "[Co/Fe] and [La/Fe]" in text
    assert "2.00× and 2.00×" in text and paper.FIG4_FINDING in text


def test_speed_comparison_times_both(setup):
    syn, _ = setup
    text = ev.speed_comparison(syn, FakeModel(syn), sample_labels(10, 0), batch=32)
    assert text.startswith("**Measured here**: engine ") and "at batch 32" in text
    assert paper.SPEED_FINDING in text
    calls = []
    rate = ev.spectra_per_second(lambda x: calls.append(len(x)), np.zeros((20, 34)))
    assert calls == [8, 20] and rate > 0


def test_figure3_data(setup):
    syn, grid = setup
    rows = np.arange(10, 30)
    star, emulated, res, hot = ev.figure3_data(NoisyModel(syn), grid, rows)
    assert star == ev.example_star(grid.labels, rows) and res.shape == (20, 30)
    k = list(rows).index(star)
    np.testing.assert_allclose(emulated - grid.flux[star], res[k])
    assert list(hot) == list(grid.labels[rows, 0] > 4500)


def test_gradient_tradeoff_plots_each_variant_at_its_values():
    results = [
        {"name": "w0", "sigma": 0.012, "grad_err_target": 1.1, "grad_err_target_lines": 1.0},
        {"name": "w1e-4", "sigma": 0.010, "grad_err_target": 0.9, "grad_err_target_lines": 0.7},
    ]
    fig = plots.gradient_tradeoff(results)
    ax = fig.axes[0]
    filled = [ln for ln in ax.get_lines() if ln.get_marker() == "o" and len(ln.get_xdata())]
    points = sorted((float(ln.get_xdata()[0]), float(ln.get_ydata()[0])) for ln in filled)
    assert points == sorted([(1.1, 1.2), (1.0, 1.2), (0.9, 1.0), (0.7, 1.0)])
    assert [t.get_text() for t in ax.texts] == ["w0", "w1e-4"]
    assert ax.get_legend_handles_labels()[1] == ["every pixel", "where |∂f| > 10 % of its maximum"]
    with pytest.raises(ValueError, match="empty"):
        plots.gradient_tradeoff([])
