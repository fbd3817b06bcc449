"""phdl.screen: the flags of Section 2.3 with full χ² scans only where a coarse scan needs them."""

import numpy as np
import pytest

from phdl.fit import FITTED, ToyModel, add_noise, fit_spectra
from phdl.grid import sample_labels
from phdl.labels import LABELS, index
from phdl.screen import N_COARSE, local_minimum, needs_full_scan, screened_flags
from phdl.uncertainty import F1, F2, F3, N_SCAN, add_uncertainties, flags

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


# --- the rules, the window and the flags at their edges -------------------------------------


def _star(toy, label, s_true, s_best=None):
    """A noise-free star at the middle of every range but ``label`` (scaled ``s_true``), fitted
    at ``s_best`` (default: the truth): flux, ivar (n=1, n_pix), truth, best (1, 34)."""
    from phdl.labels import unscale

    j = index(label)
    lo, hi = toy.label_min, toy.label_max
    truth = unscale(np.full((1, len(LABELS)), 0.5), lo, hi)
    truth[0, j] = unscale(s_true, lo[j], hi[j])
    best = truth.copy()
    if s_best is not None:
        best[0, j] = unscale(s_best, lo[j], hi[j])
    return toy.predict(truth), np.full((1, toy.W.shape[1]), 1e4), truth, best


class Recording(ToyModel):
    """The toy, keeping a copy of the labels of every ``predict``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[np.ndarray] = []

    def predict(self, labels, wavelength=None):
        self.seen.append(np.array(labels, dtype=float))
        return super().predict(labels, wavelength)


class Failing(ToyModel):
    """The toy, with a non-finite spectrum (a failed model) wherever ``label`` is above
    ``s_fail`` scaled."""

    def __init__(self, label, s_fail, **kwargs):
        super().__init__(**kwargs)
        self.j, self.s_fail = index(label), s_fail

    def predict(self, labels, wavelength=None):
        out = super().predict(labels, wavelength)
        s = self._scaled(labels)[:, self.j]
        out[s > self.s_fail] = np.nan
        return out


def test_full_scan_rules_at_one_coarse_step_from_the_ends():
    """A fit more than one coarse step inside the range whose two bracketing coarse points hold
    the lowest χ² needs no full scan; one within a coarse step of an end always does."""
    k = N_COARSE - 1
    cases = [  # (fit in coarse steps, lowest coarse point, full scan)
        (1.5, 1, False),
        (1.5, 2, False),
        (5.5, 5, False),
        (5.5, 6, False),
        (0.35, 1, True),  # bracketed, but within a step of the lower end
        (6.5, 6, True),  # bracketed, but within a step of the upper end
        (0.35, 0, True),
        (6.5, 7, True),
        (-0.5, 0, True),  # outside the range
        (7.5, 7, True),
    ]
    chi = np.ones((len(cases), N_COARSE))
    for i, (_, low, _) in enumerate(cases):
        chi[i, low] = 0.5
    s = np.array([c[0] / k for c in cases])
    assert needs_full_scan(chi, s).tolist() == [c[2] for c in cases]


def test_full_scan_rules_skip_non_finite_coarse_points():
    """A failed spectrum (+inf) or a star without pixels (NaN) is never the lowest point."""
    chi = np.ones((3, N_COARSE))
    chi[:, 3] = 0.5  # bracketing the fit at 3.5 coarse steps
    chi[0, 0], chi[1, 7], chi[2, [0, 7]] = np.inf, np.nan, [np.nan, np.inf]
    assert not needs_full_scan(chi, np.full(3, 3.5 / (N_COARSE - 1))).any()


@pytest.mark.parametrize("s_true", [0.0, 0.3, 1.0])
def test_window_scan_is_the_papers_scan_on_fifteen_points(s_true):
    """Per coarse point c, one spectrum at each of the 15 points 7·(c−1) … 7·(c−1)+14 of the
    50-point scan (clipped to 0 … 35), giving the whole scan's minimum and end flag whenever its
    lowest point lies there."""
    from phdl.screen import WINDOW, window_scan
    from phdl.uncertainty import chi2_scan, scan_minimum

    label = "[Mg/Fe]"
    j = index(label)
    toy = Recording(n_pix=300, seed=3)
    flux, ivar, _, best = _star(toy, label, s_true, s_best=0.5)
    values, chi = chi2_scan(toy, flux, ivar, best, label)
    ref_full, edge_full = scan_minimum(values, chi)
    lowest = int(np.argmin(chi[0]))
    assert lowest == round(s_true * (N_SCAN - 1))
    for c in range(N_COARSE):
        first = min(max(7 * (c - 1), 0), N_SCAN - WINDOW)
        toy.seen.clear()
        ref, edge = window_scan(toy, flux, ivar, best, label, np.array([c]))
        assert len(toy.seen) == 1 and toy.seen[0].shape == (WINDOW, len(LABELS))
        rows = toy.seen[0]
        assert np.allclose(rows[:, j], values[0, first : first + WINDOW], rtol=0, atol=1e-12)
        others = np.delete(np.arange(len(LABELS)), j)
        assert np.array_equal(rows[:, others], np.repeat(best[:, others], WINDOW, axis=0))
        assert ref.shape == edge.shape == (1,)
        if first <= lowest < first + WINDOW:
            assert ref[0] == pytest.approx(ref_full[0], abs=1e-12)
            assert edge[0] == edge_full[0] == (s_true in (0.0, 1.0))
        else:
            assert not edge[0]


def test_window_scan_of_several_stars_with_failed_spectra():
    """Stars side by side, each with its own window; failed (non-finite) spectra are ranked
    last, as in the paper's scan."""
    from phdl.screen import window_scan
    from phdl.uncertainty import chi2_scan, scan_minimum

    label = "[Mg/Fe]"
    toy = Failing(label, 0.9, n_pix=300, seed=3)
    stars = [_star(toy, label, s, s_best=0.5) for s in (0.0, 0.8, 0.3)]
    flux, ivar, _, best = (np.concatenate(x) for x in zip(*stars, strict=True))
    values, chi = chi2_scan(toy, flux, ivar, best, label)
    assert np.isinf(chi[:, -1]).all()
    ref_full, edge_full = scan_minimum(values, chi)
    before = list(toy.rows)
    ref, edge = window_scan(toy, flux, ivar, best, label, np.array([0, 6, 2]))
    assert toy.rows[len(before) :] == [3 * 15]
    assert np.allclose(ref, ref_full, rtol=0, atol=1e-12)
    assert edge.tolist() == edge_full.tolist() == [True, False, False]


def test_a_minimum_at_the_end_of_the_range_sets_f2_as_the_paper_does():
    label = "[Mg/Fe]"
    toy = ToyModel(n_pix=300, seed=3)
    for s_true in (0.0, 1.0):
        flux, ivar, _, best = _star(toy, label, s_true, s_best=s_true)
        err, jac = _errors_and_jacobian(toy, best, ivar, [label])
        screened, fine = screened_flags(toy, flux, ivar, best, err, jac, [label])
        assert fine.dtype == bool and fine.shape == (1, 1) and fine.all()
        assert np.array_equal(screened, flags(toy, flux, ivar, best, err, [label]))
        assert screened[0, 0] & F2 and screened[0, 0] & F1


def test_screened_flags_rank_failed_coarse_spectra_last():
    """A model failing over part of the range: the coarse and fine scans pass over the failed
    spectra, as the paper's scan does."""
    label = "[Mg/Fe]"
    toy = Failing(label, 0.9, n_pix=300, seed=3)
    stars = [_star(toy, label, s_true, s_best=0.5) for s_true in (0.8, 0.2, 0.5)]
    flux, ivar, _, best = (np.concatenate(x) for x in zip(*stars, strict=True))
    err, jac = _errors_and_jacobian(toy, best, ivar, [label])
    screened, fine = screened_flags(toy, flux, ivar, best, err, jac, [label])
    assert fine.tolist() == [[True], [True], [False]]
    assert np.array_equal(screened, flags(toy, flux, ivar, best, err, [label]))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_local_minimum_stays_within_the_training_range(sign):
    """Where no full scan runs, the minimum is the Newton step's, stopped at the ends of the
    range (the paper's scan never looks beyond them): a Jacobian a million times too weak
    steps far out, and |fit − minimum| is then at most the distance to the end."""
    label = "Teff"
    toy = ToyModel(n_pix=300, seed=3)
    flux, ivar, _, best = _star(toy, label, 0.5)
    flux = flux + 0.01 * np.random.default_rng(5).normal(size=flux.shape)
    _, jac = _errors_and_jacobian(toy, best, ivar, [label])
    span = toy.label_max[index(label)] - toy.label_min[index(label)]
    err = np.full((1, 1), 0.2 * span)  # 3σ covers half the range, not more than that
    screened, fine = screened_flags(toy, flux, ivar, best, err, sign * 1e-6 * jac, [label])
    assert not fine.any()
    assert screened.tolist() == [[0]]
    screened, _ = screened_flags(toy, flux, ivar, best, err / 2, sign * 1e-6 * jac, [label])
    assert screened.tolist() == [[F3]]  # the step did leave the fit: half the range away


def test_labels_given_as_a_list_of_whole_numbers():
    """best_labels as a nested list of Python ints (physical values that happen to be whole)
    give the flags of the same labels as floats."""
    label = "[Mg/Fe]"
    toy = ToyModel(n_pix=300, seed=3)
    truth = np.rint(_star(toy, label, 0.5)[2])
    truth[0, index(label)] = toy.label_max[index(label)]  # 0.6: the minimum at the end
    flux, ivar = toy.predict(truth), np.full((1, toy.W.shape[1]), 1e4)
    best = truth.copy()
    best[0, index(label)] = 0.0
    err, jac = _errors_and_jacobian(toy, best, ivar, [label])
    as_ints = [[int(v) for v in row] for row in best]
    screened, fine = screened_flags(toy, flux, ivar, as_ints, err, jac, [label])
    expected, fine_float = screened_flags(toy, flux, ivar, best, err, jac, [label])
    assert fine.all() and np.array_equal(fine, fine_float)
    assert np.array_equal(screened, expected)
    assert expected[0, 0] & F2


def test_exactly_one_coarse_step_from_an_end_is_not_near_it():
    """ "Less than one coarse step from an end" (module docstring): at exactly one step, with
    the fit's own coarse point the lowest, no fine scan."""
    k = N_COARSE - 1
    for point in (1, k - 1):
        chi = np.ones((1, N_COARSE))
        chi[0, point] = 0.5
        s = np.array([point / k])
        assert s[0] * k == point  # exactly on the coarse point
        assert not needs_full_scan(chi, s)[0]
