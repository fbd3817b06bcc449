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
    hist = [{"epoch": [1, 2, 3], "train_loss": [3.0, 2.0, 1.0], "test_loss": [3.5, 2.5, 1.5]}]
    fig = plots.training_curves({"a": hist, "b": hist})
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2


def test_example_star_is_nearest_the_papers():
    labels = sample_labels(50, 1)
    rows = np.arange(10, 50)
    star = paper.EXAMPLE_STAR
    assert ev.example_star(labels, rows) == ev.nearest_star(
        labels, rows, star["Teff"], star["logg"], star["[Fe/H]"]
    )
