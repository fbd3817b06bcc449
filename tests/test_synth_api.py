"""The engine's public surface: shapes, the LAMOST grid, input validation, physics choices."""

from __future__ import annotations

import numpy as np
import pytest

from phdl import labels as L
from phdl.grid import make_grid, read_grid
from phdl.synth import Physics, Synthesizer


def test_lamost_wavelength_grid(syn):
    wl = syn.wavelength
    assert wl.shape == (3800,)
    assert wl[0] == pytest.approx(3750.0)
    assert np.allclose(np.diff(np.log10(wl)), 1e-4)
    assert wl[-1] == pytest.approx(3750.0 * 10 ** (3799e-4))  # 8993.6 Å


def test_shapes_and_finiteness(syn):
    x = np.array([L.solar(), L.solar(4000.0, 1.0, 2.0, -2.0)])
    flux = syn(x)
    assert flux.shape == (2, 3800) and np.isfinite(flux).all()
    f2, g2 = syn(x[:1], with_gradients=True)
    assert g2.shape == (1, 34, 3800) and np.isfinite(g2).all()
    assert np.allclose(f2[0], flux[0], rtol=1e-12)


def test_extreme_corners_are_finite(syn):
    corners = []
    for teff, logg in [(3800.0, 5.5), (8000.0, 5.5), (3800.0, 0.0), (8000.0, 0.0)]:
        for feh in (-4.0, 0.5):
            x = L.solar(teff, logg, 3.0, feh)
            x[4:] = L.UPPER[4:] if feh < 0 else L.LOWER[4:]
            corners.append(x)
    flux = syn(np.array(corners))
    assert np.isfinite(flux).all()
    assert (flux > 0).all()


@pytest.mark.parametrize(
    "bad, word",
    [(np.full((1, 33), 1.0), "shape"), (np.array([[np.nan] + [0.0] * 33]), "Teff")],
)
def test_bad_labels_name_the_problem(syn, bad, word):
    with pytest.raises(ValueError, match=word):
        syn(bad)


def test_out_of_range_label_is_named(syn):
    x = L.solar()
    x[L.index("[Mg/Fe]")] = 2.0
    with pytest.raises(ValueError, match=r"\[Mg/Fe\].*\[-0.4, 0.6\]"):
        syn(x[None])


def test_physics_validation_and_hash(tmp_path):
    with pytest.raises(ValueError, match="missing_line_fraction"):
        Physics(missing_line_fraction=1.5)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        Physics(linelist=str(tmp_path / "nope.csv"))
    assert Physics().hash() == Physics().hash()
    assert Physics(vdw_factor=1.5).hash() != Physics().hash()


def test_perturbed_physics_changes_the_spectrum():
    """The sky's 'real' physics goes through the same engine and differs from the default."""
    small = {"wl_start": 5100.0, "n_pix": 400}
    x = L.solar()[None]
    base = Synthesizer(Physics(**small), compile=False)(x)
    pert = Synthesizer(Physics(**small, loggf_scatter=0.1, vdw_factor=1.5, teff_scale=1.01),
                       compile=False)(x)  # fmt: skip
    assert np.abs(pert - base).max() > 0.01


def test_describe_has_grid_attributes(syn):
    d = syn.describe()
    assert d["resolution"] == 1800.0
    assert "L=50" in d["normalization"]
    assert len(d["physics_hash"]) == 16


def test_make_grid_with_the_real_engine(tmp_path):
    syn = Synthesizer(Physics(wl_start=5100.0, n_pix=200), compile=False)
    path = make_grid(3, 7, tmp_path / "g.h5", synthesizer=syn, chunk_size=2, progress=False)
    grid = read_grid(path)
    assert grid.flux.shape == (3, 200) and grid.gradients.shape == (3, 34, 200)
    f, g = syn(grid.labels, with_gradients=True)
    assert np.allclose(grid.flux, f) and np.allclose(grid.gradients, g, rtol=1e-6, atol=1e-9)


def test_make_grid_in_worker_processes_equals_in_process(tmp_path):
    """workers=2: chunks synthesized by two engine processes land in the right rows."""
    syn = Synthesizer(Physics(wl_start=5100.0, n_pix=200), compile=False)
    kw = dict(synthesizer=syn, chunk_size=1, progress=False)
    one = read_grid(make_grid(3, 7, tmp_path / "one.h5", workers=1, **kw))
    two = read_grid(make_grid(3, 7, tmp_path / "two.h5", workers=2, **kw))
    assert np.array_equal(one.labels, two.labels)
    assert np.allclose(one.flux, two.flux, rtol=1e-12, atol=0)
    assert np.allclose(one.gradients, two.gradients, rtol=1e-6, atol=1e-12)
    with pytest.raises(ValueError, match="workers"):
        make_grid(3, 7, tmp_path / "bad.h5", workers=-1, **kw)
