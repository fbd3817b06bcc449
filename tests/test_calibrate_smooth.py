"""phdl.calibrate.smooth and phdl.calibrate.atm on small hand-made cases (§4.1, §4.2.2).

Each test calls the function it specifies directly, with values worked out by hand: the robust
σ, the binned medians (ties, integer and single-precision input), the natural spline, the
argument checks of fit_median_spline, and fit_atm_splines's arguments, warnings and error
messages (which catalogue they name).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.table import Table

from phdl.calibrate import atm as atm_module
from phdl.calibrate.atm import fit_atm_splines
from phdl.calibrate.smooth import MedianSpline, binned_medians, fit_median_spline, robust_std

NAMES = ("LAMOST", "APOGEE")


# ------------------------------------------------------------------------------- robust_std
def test_robust_std_is_1_4826_mad_of_the_finite_values():
    # median 3, |x - 3| = 2, 1, 0, 1, 97 -> MAD 1
    assert robust_std(np.array([1.0, 2.0, 3.0, 4.0, 100.0])) == pytest.approx(1.4826, abs=1e-15)
    assert robust_std([1.0, np.nan, 2.0, np.inf, 3.0, -np.inf, 4.0, 100.0]) == pytest.approx(
        1.4826, abs=1e-15
    )
    # median 10, |x - 10| = 10, 0, 30 -> MAD 10 (a sum with the median would give 20)
    assert robust_std([0.0, 10.0, 40.0]) == pytest.approx(14.826, abs=1e-12)


def test_robust_std_of_one_value_is_zero_and_of_none_is_nan():
    assert robust_std([7.5]) == 0.0
    assert robust_std([np.nan, 7.5]) == 0.0
    empty = robust_std(np.array([]))
    assert isinstance(empty, float) and np.isnan(empty)
    assert np.isnan(robust_std([np.nan, np.inf]))


def test_robust_std_of_single_precision_input_is_computed_in_double():
    # catalogue columns are often float32 (FITS); the σ is still 1.4826 × MAD in float64
    assert robust_std(np.array([0.0, 1.0, 2.0], dtype=np.float32)) == 1.4826


# ---------------------------------------------------------------------------- binned_medians
def tied_sample() -> tuple[np.ndarray, np.ndarray]:
    """40 stars, x = 0 (10), 1 (20), 2 (10) interleaved; y = -100 at x = 0, +100 at x = 2, and
    19, 18, ..., 0 for the stars at x = 1 in input order."""
    x = np.tile([1.0, 0.0, 1.0, 2.0], 10)
    y = np.where(x == 0, -100.0, 100.0)
    y[x == 1] = 19.0 - np.arange(20)
    return x, y


def test_binned_medians_tied_stars_fill_the_bins_in_input_order():
    # Two bins of 20: bin 1 = the ten x = 0 and the FIRST ten x = 1 stars (y 19..10), bin 2 =
    # the other ten x = 1 (y 9..0) and the ten x = 2. Knots do not depend on the sort algorithm
    # numpy picks for the CPU (a stable sort, so a calibration is reproducible across machines).
    x, y = tied_sample()
    knots, medians, counts = binned_medians(x, y, 2)
    np.testing.assert_array_equal(knots, [0.5, 1.5])
    np.testing.assert_array_equal(medians, [(-100.0 + 10.0) / 2, (9.0 + 100.0) / 2])
    np.testing.assert_array_equal(counts, [20, 20])


def test_fit_median_spline_integer_x_gives_the_exact_median_knot():
    # one bin (4 stars < MIN_PER_KNOT): the knot is at the median x 2.5, not truncated to 2
    spline = fit_median_spline([1, 2, 3, 4], [10, 20, 30, 40])
    np.testing.assert_array_equal(spline.knots, [2.5])
    np.testing.assert_array_equal(spline.values, [25.0])
    np.testing.assert_array_equal(spline.counts, [4])
    spline = fit_median_spline(np.array([4000, 4001]), [0.0, 1.0])
    np.testing.assert_array_equal(spline.knots, [4000.5])


def test_fit_median_spline_single_precision_y_gives_the_double_precision_median():
    y = np.array([0.1, 0.2], dtype=np.float32)
    spline = fit_median_spline([5000.0, 5100.0], y)
    # (compared as Python floats: a float32 median would compare equal to its float64 target)
    assert float(spline.values[0]) == (float(y[0]) + float(y[1])) / 2


# ------------------------------------------------------------------------- fit_median_spline
def test_fit_median_spline_no_finite_star_names_the_sample():
    with pytest.raises(ValueError, match=r"^no star with finite values in the sample: nothing"):
        fit_median_spline([np.nan, 1.0], [2.0, np.nan])
    with pytest.raises(ValueError, match=r"no star with finite values in the giants of X"):
        fit_median_spline([], [], what="the giants of X")


def test_fit_median_spline_one_star_is_a_constant():
    spline = fit_median_spline([np.nan, 4500.0], [3.0, 0.25])
    np.testing.assert_array_equal(spline.knots, [4500.0])
    np.testing.assert_array_equal(spline.values, [0.25])
    assert spline.n == 1
    np.testing.assert_array_equal(spline(np.array([0.0, 9000.0])), [0.25, 0.25])


def test_fit_median_spline_accepts_one_star_a_knot_and_one_knot():
    x, y = np.array([3.0, 1.0, 2.0]), np.array([30.0, 10.0, 20.0])
    every = fit_median_spline(x, y, min_per_knot=1)
    np.testing.assert_array_equal(every.knots, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(every.values, [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(every.counts, [1, 1, 1])
    one = fit_median_spline(x, y, min_per_knot=1, max_knots=1)
    np.testing.assert_array_equal(one.knots, [2.0])
    np.testing.assert_array_equal(one.values, [20.0])
    np.testing.assert_array_equal(one.counts, [3])


@pytest.mark.parametrize(("min_per_knot", "max_knots"), [(0, 8), (20, 0), (-1, -1)])
def test_fit_median_spline_rejects_knot_limits_below_one(min_per_knot, max_knots):
    message = f"min_per_knot and max_knots must be >= 1, got {min_per_knot}, {max_knots}"
    with pytest.raises(ValueError, match=f"^{message}$"):
        fit_median_spline([1.0, 2.0], [1.0, 2.0], min_per_knot=min_per_knot, max_knots=max_knots)


# ------------------------------------------------------------------------------ MedianSpline
def test_median_spline_is_the_natural_cubic_spline():
    # knots (0, 0), (1, 1), (2, 0): natural ends (S'' = 0) give S''(1) = -3 and S(0.5) = 0.6875
    # (a not-a-knot spline would be the parabola, 0.75)
    spline = MedianSpline(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 0.0]), np.ones(3, int))
    np.testing.assert_allclose(spline(np.array([0.5, 1.5])), [0.6875, 0.6875], atol=1e-12)
    np.testing.assert_allclose(spline(np.array([-3.0, 1.0, 5.0])), [0.0, 1.0, 0.0], atol=1e-12)


def test_one_knot_spline_is_its_value_and_nan_at_nan():
    got = MedianSpline.constant(0.3)(np.array([np.nan, -5.0, 7.0]))
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:], [0.3, 0.3])
    fitted = fit_median_spline([4500.0], [2.0])
    assert np.isnan(fitted(np.nan))


def test_constant_spline_defaults_to_zero_and_has_no_stars():
    zero = MedianSpline.constant()
    np.testing.assert_array_equal(zero(np.array([-1e4, 0.0, 6000.0])), [0.0, 0.0, 0.0])
    assert zero.n == 0
    assert MedianSpline.constant(2.0).n == 0
    np.testing.assert_array_equal(MedianSpline.constant(2.0).counts, [0])


# --------------------------------------------------------------------------- fit_atm_splines
def atm_tables(teff, logg, offset, *, reference_nan: bool = False) -> tuple[Table, Table]:
    """Ours and a reference on the same ids; ours' Teff = reference + ``offset`` (K), logg and
    [Fe/H] equal (a zero correction); every reference value NaN with ``reference_nan``."""
    teff = np.asarray(teff, dtype=float)
    n = teff.size
    ids = np.arange(n) + 100
    ours = Table(
        {"source_id": ids, "Teff": teff, "logg": np.asarray(logg, float) * np.ones(n)}
        | {"[Fe/H]": np.zeros(n)}
    )
    ref = Table(
        {
            "source_id": ids[::-1],
            "Teff": (teff - np.asarray(offset) * np.ones(n))[::-1],
            "logg": np.asarray(ours["logg"])[::-1],
            "[Fe/H]": np.zeros(n),
        }
    )
    if reference_nan:
        for name in ("Teff", "logg", "[Fe/H]"):
            ref[name] = np.nan
    return ours, ref


def test_fit_atm_splines_a_sample_of_giants_only_still_fits_the_giants():
    teff = 4000.0 + 10.0 * np.arange(30)  # giants: Teff < 5400 K, logg < 4
    ours, ref = atm_tables(teff, 2.5, 50.0)
    with pytest.warns(UserWarning) as record:
        result = fit_atm_splines(ours, ref, catalogs=NAMES)
    assert [str(w.message) for w in record] == [
        "no dwarf in the cross-match of 'LAMOST' and 'APOGEE': their correction is 0"
    ]
    for name in ("Teff", "logg", "[Fe/H]"):
        assert set(result.splines[name]) == {"dwarf", "giant"}
        assert result.splines[name]["dwarf"].n == 0
        assert result.splines[name]["giant"].n == 30
    np.testing.assert_allclose(result.splines["Teff"]["giant"].values, [50.0])
    np.testing.assert_allclose(result(np.array([4100.0]), np.array([2.5]))["Teff"], [50.0])
    np.testing.assert_allclose(result(np.array([6000.0]), np.array([4.4]))["Teff"], [0.0])
    assert result.n_used == {"Teff": 30, "logg": 30, "[Fe/H]": 30}


def test_fit_atm_splines_passes_min_per_knot_and_max_knots_to_each_group():
    giants = 4000.0 + 10.0 * np.arange(30)  # offset 0.1 (Teff - 4000)
    dwarfs = 5500.0 + 10.0 * np.arange(40)  # offset 25 K
    teff = np.concatenate([giants, dwarfs])
    logg = np.concatenate([np.full(30, 2.5), np.full(40, 4.4)])
    offset = np.concatenate([0.1 * (giants - 4000.0), np.full(40, 25.0)])
    ours, ref = atm_tables(teff, logg, offset)
    result = fit_atm_splines(ours, ref, catalogs=NAMES, min_per_knot=10, max_knots=2)
    giant, dwarf = result.splines["Teff"]["giant"], result.splines["Teff"]["dwarf"]
    # 30 giants // 10 = 3 bins, capped at 2: 15 + 15 stars; 40 dwarfs: 2 bins of 20
    np.testing.assert_array_equal(giant.counts, [15, 15])
    np.testing.assert_allclose(giant.knots, [4070.0, 4220.0])
    np.testing.assert_allclose(giant.values, [7.0, 22.0], atol=1e-9)
    np.testing.assert_array_equal(dwarf.counts, [20, 20])
    np.testing.assert_allclose(dwarf.knots, [5595.0, 5795.0])
    np.testing.assert_allclose(dwarf.values, [25.0, 25.0])
    three = fit_atm_splines(ours, ref, catalogs=NAMES, min_per_knot=10)
    np.testing.assert_array_equal(three.splines["Teff"]["giant"].counts, [10, 10, 10])
    np.testing.assert_array_equal(three.splines["Teff"]["dwarf"].counts, [10, 10, 10, 10])
    default = fit_atm_splines(ours, ref, catalogs=NAMES)
    np.testing.assert_array_equal(default.splines["Teff"]["giant"].counts, [30])
    np.testing.assert_array_equal(default.splines["Teff"]["dwarf"].counts, [20, 20])
    eight = fit_atm_splines(ours, ref, catalogs=NAMES, min_per_knot=1)
    assert len(eight.splines["Teff"]["dwarf"].knots) == 8


def test_fit_atm_splines_no_usable_star_warns_naming_both_groups_and_catalogues():
    ours, ref = atm_tables([4500.0, 6000.0], [2.0, 4.4], 0.0, reference_nan=True)
    with pytest.warns(UserWarning) as record:
        result = fit_atm_splines(ours, ref, catalogs=NAMES)
    assert [str(w.message) for w in record] == [
        "no dwarf or giant in the cross-match of 'LAMOST' and 'APOGEE': their correction is 0"
    ]
    assert result.n_used["Teff"] == 0 and result.n_dropped["Teff"] == 2
    np.testing.assert_array_equal(result([4500.0, 6000.0], [2.0, 4.4])["logg"], [0.0, 0.0])


@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ, reason="mutmut's trampoline adds a frame to the stack"
)
def test_fit_atm_splines_warning_points_at_the_caller():
    ours, ref = atm_tables([6000.0, 6100.0], [4.4, 4.4], 0.0)
    with pytest.warns(UserWarning, match="no giant") as record:
        fit_atm_splines(ours, ref, catalogs=NAMES)
    assert record[0].filename == __file__


def test_fit_atm_splines_warning_is_raised_at_stacklevel_2(monkeypatch):
    # the frame above fit_atm_splines, i.e. its caller (checked on the file name above; this
    # form also holds under mutmut, whose trampoline adds a frame)
    calls = []
    monkeypatch.setattr(
        atm_module.warnings, "warn", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    ours, ref = atm_tables([6000.0, 6100.0], [4.4, 4.4], 0.0)
    fit_atm_splines(ours, ref, catalogs=NAMES)
    assert len(calls) == 1
    (message,), kwargs = calls[0]
    assert message == "no giant in the cross-match of 'LAMOST' and 'APOGEE': their correction is 0"
    assert kwargs == {"stacklevel": 2}


def test_fit_atm_splines_wrong_types_name_their_catalogue():
    ours, ref = atm_tables([6000.0, 6100.0], [4.4, 4.4], 0.0)
    with pytest.raises(TypeError, match=r"^catalogue 'LAMOST' must be an astropy Table"):
        fit_atm_splines([1, 2], ref, catalogs=NAMES)
    with pytest.raises(TypeError, match=r"^catalogue 'APOGEE' must be an astropy Table"):
        fit_atm_splines(ours, {"Teff": [1.0]}, catalogs=NAMES)


def test_fit_atm_splines_ours_without_logg_names_our_catalogue():
    ours, ref = atm_tables([6000.0, 6100.0], [4.4, 4.4], 0.0)
    ours.remove_column("logg")
    with pytest.raises(ValueError, match=r"^catalogue 'LAMOST' has no column 'logg'"):
        fit_atm_splines(ours, ref, names=("Teff",), catalogs=NAMES)
    ours.remove_column("Teff")
    with pytest.raises(ValueError, match=r"^catalogue 'LAMOST' has no column 'Teff'"):
        fit_atm_splines(ours, ref, names=("[Fe/H]",), catalogs=NAMES)
