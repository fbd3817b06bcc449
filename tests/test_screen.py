"""phdl.screen: the flags of Section 2.3 with full χ² scans only where a coarse scan needs them."""

import numpy as np
import pytest

from phdl.fit import FITTED, ToyModel, add_noise, fit_spectra
from phdl.grid import sample_labels
from phdl.labels import LABELS, index
from phdl.screen import N_COARSE, local_minimum, needs_full_scan, screened_flags
from phdl.uncertainty import F1, F2, N_SCAN, add_uncertainties, flags

NAMES = ["Teff", "logg", "[Fe/H]", "[Mg/Fe]", "[Ni/Fe]", "[Ba/Fe]"]


@pytest.fixture(scope="module")
def toy():
    return ToyModel(n_pix=300, seed=3)


@pytest.fixture(scope="module")
def fitted(toy):
    truth = sample_labels(6, 9)
    flux, ivar = add_noise(toy.predict(truth), 100.0, seed=2)
    table = fit_spectra(toy, toy.wavelength, flux, ivar, strategy="fast", held=truth,
                        progress=False)  # fmt: skip
    best = np.stack([np.asarray(table[n], dtype=float) for n in LABELS], 1)
    return truth, flux, ivar, table, best


def _errors_and_jacobian(toy, best, ivar, names):
    from phdl.uncertainty import covariance, formal_errors

    jac = toy.jacobian(best)
    return formal_errors(covariance(jac, ivar, names)), jac[:, [index(n) for n in names]]


def test_coarse_points_are_every_seventh_of_the_papers_fifty():
    assert (N_SCAN - 1) % (N_COARSE - 1) == 0
    fine = np.linspace(0, 1, N_SCAN)
    assert np.allclose(np.linspace(0, 1, N_COARSE), fine[:: (N_SCAN - 1) // (N_COARSE - 1)])


def test_local_minimum_is_exact_for_a_parabola():
    """χ²(x) of a linear model is a parabola: one Newton step from anywhere lands on its
    minimum, label by label."""
    jac = np.array([[[1.0, 2.0, 0.5]], [[0.0, 0.0, 0.0]]])  # (n=2, k=1, p=3)
    ivar = np.ones((2, 3))
    flux = np.array([[1.3, 1.6, 1.15], [1.0, 1.0, 1.0]])  # = 1 + 0.3 J for star 0
    model = np.ones((2, 3))  # the model at best = 0
    out = local_minimum(model, flux, ivar, np.zeros((2, 1)), jac)
    assert out[0, 0] == pytest.approx(0.3)
    assert out[1, 0] == 0.0  # no sensitivity: stays


def test_full_scan_rules():
    k = N_COARSE - 1
    chi = np.ones((5, N_COARSE))
    s = np.array([0.5, 0.5, 0.5, 0.05, 0.5])
    chi[0, 3] = 0.5  # bracketing point (0.5 * 7 = 3.5 -> 3 and 4): no full scan
    chi[1, 6] = 0.5  # a lower point far from the fit: full scan
    chi[2, 0] = 0.5  # lowest at an end: full scan
    chi[3, 0] = 0.5  # fit within one coarse step of the end: full scan
    chi[4, 4] = 0.5
    assert needs_full_scan(chi, s).tolist() == [False, True, True, True, False]
    assert k == 7


def test_screened_flags_equal_the_papers_on_converged_fits(toy, fitted):
    truth, flux, ivar, table, best = fitted
    err, jac = _errors_and_jacobian(toy, best, ivar, NAMES)
    screened, full = screened_flags(toy, flux, ivar, best, err, jac, NAMES)
    paper = flags(toy, flux, ivar, best, err, NAMES)
    agree = np.mean(screened == paper)
    assert agree >= 0.9, (agree, screened, paper)
    assert full.mean() < 0.5  # most labels needed no full scan


def test_a_fit_far_from_the_minimum_gets_the_full_scan_and_the_papers_bits(toy, fitted):
    truth, flux, ivar, table, best = fitted
    off = best.copy()
    j = index("[Mg/Fe]")
    off[:, j] = toy.label_max[j]  # at the upper end of the range: F1
    err, jac = _errors_and_jacobian(toy, off, ivar, ["[Mg/Fe]"])
    screened, full = screened_flags(toy, flux, ivar, off, err, jac, ["[Mg/Fe]"])
    paper = flags(toy, flux, ivar, off, err, ["[Mg/Fe]"])
    assert full.all()
    assert np.array_equal(screened, paper)
    assert np.all(screened & F1)
    assert not np.any(screened & F2) or np.array_equal(screened & F2, paper & F2)


def test_add_uncertainties_screen_mode(toy, fitted):
    truth, flux, ivar, table, best = fitted
    t = add_uncertainties(table[:3].copy(), toy, flux[:3], ivar[:3], flags="screen")
    assert all(f"{n}_flag" in t.colnames for n in FITTED)
    assert t.meta["FLAGSCAN"] == "screen"
    with pytest.raises(ValueError, match="flags"):
        add_uncertainties(table[:1].copy(), toy, flux[:1], ivar[:1], flags="coarse")


def test_a_screen_model_takes_the_coarse_scans(toy, fitted):
    """With a screen model (here the toy itself, counted), the model's own spectra go only to
    the windows: fewer than the 8 coarse points per label."""
    truth, flux, ivar, table, best = fitted

    class Counting(ToyModel):
        pass

    screen_model = Counting(n_pix=300, seed=3)
    err, jac = _errors_and_jacobian(toy, best, ivar, NAMES)
    before = sum(toy.rows)
    screened, fine = screened_flags(toy, flux, ivar, best, err, jac, NAMES, screen_model)
    used = sum(toy.rows) - before
    assert screen_model.calls == len(NAMES)  # one coarse scan per label, all stars at once
    assert used == len(best) + 15 * fine.sum()  # the spectra at the fit, then the windows
    assert np.array_equal(screened, screened_flags(toy, flux, ivar, best, err, jac, NAMES)[0])
