"""The calibration applied and chained, on small hand-made tables (mutation triage: apply).

``apply`` (Eq. 26 subtracted, step by step), ``applied`` (the chapter's stages), the steps of
``fit_calibration`` in order, ``teff_trends``' element loop, and the calibration file: each test
calls the function itself and checks what its docstring promises on values worked out by hand.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.table import Column, Table

import phdl
from phdl.calibrate import (
    STEPS,
    Calibration,
    LoggTrend,
    MedianSpline,
    TeffTrend,
    ZeroPoints,
    apply,
    binary_cuts,
    fit_calibration,
    fit_teff_trend,
    pair_deltas,
    pair_table,
    teff_trends,
)
from phdl.calibrate.chain import applied, snr_cut, without_uncali

UNDER_MUTMUT = "MUTANT_UNDER_TEST" in os.environ


# ------------------------------------------------------- warnings point at the caller's line
def _package_dirs() -> tuple[Path, Path | None]:
    """phdl's folder, and mutmut's (whose trampolines sit between phdl's frames in a mutation
    run), as the frames a warning's stacklevel must climb over."""
    try:
        import mutmut
    except ImportError:  # pragma: no cover - mutmut is a dev dependency
        return Path(phdl.__file__).parent, None
    return Path(phdl.__file__).parent, Path(mutmut.__file__).parent


def _within(frame, folder: Path | None) -> bool:
    return folder is not None and Path(frame.f_code.co_filename).is_relative_to(folder)


@pytest.fixture
def stacklevels(monkeypatch):
    """warnings.warn spied on: per call (message, stacklevel given, phdl frames between the
    warn call and the first frame outside phdl). A warning that names the user's line has
    stacklevel = phdl frames + 1 (mutmut's trampoline frames are not counted)."""
    calls = []
    real = warnings.warn
    ours, mutmut = _package_dirs()

    def spy(message, category=None, stacklevel=1, **kw):
        frame, own = sys._getframe(1), 0
        while frame is not None and (_within(frame, ours) or _within(frame, mutmut)):
            own += _within(frame, ours)
            frame = frame.f_back
        calls.append((str(message), stacklevel, own))
        real(message, category, stacklevel + 1, **kw)

    monkeypatch.setattr(warnings, "warn", spy)
    return calls


# --------------------------------------------------------------- hand-made stars and pairs
def _binaries(finite: dict[str, int], n_pairs: int = 12, seed: int = 3):
    """(ours, pairs, survey) of ``n_pairs`` dwarf pairs that pass every cut of §4.2.1: ours
    with [X/Fe] = 0.04 dex/kK (Teff − 5800 K) + noise, finite in the first ``finite[X]`` pairs
    only; S/N 100; ΔV_los = ±1 km/s (MAD 1, all |ΔV|/MAD = 1 < 3)."""
    rng = np.random.default_rng(seed)
    teff = rng.uniform(4700.0, 6800.0, 2 * n_pairs)
    ours = Table({"source_id": np.arange(2 * n_pairs) + 1000, "Teff": teff,
                  "logg": np.full(2 * n_pairs, 4.4), "[Fe/H]": np.zeros(2 * n_pairs)})  # fmt: skip
    pair_of_star = np.arange(2 * n_pairs) // 2
    for el, n in finite.items():
        x = 0.04 * (teff - 5800.0) / 1000.0 + rng.normal(0.0, 0.01, 2 * n_pairs)
        ours[f"[{el}/Fe]"] = np.where(pair_of_star < n, x, np.nan)
        ours[f"[{el}/Fe]_err"] = np.full(2 * n_pairs, 0.02)
    ids = np.asarray(ours["source_id"])
    pairs = Table({"source_id1": ids[0::2], "source_id2": ids[1::2]})
    sign = np.where(np.arange(n_pairs) % 2 == 0, 1.0, -1.0)
    vlos = np.stack([0.5 * sign, -0.5 * sign], axis=1).ravel()
    survey = Table({"source_id": ids, "snr_g": np.full(2 * n_pairs, 100.0), "vlos": vlos})
    return ours, pairs, survey


def _dwarfs(teff, **columns) -> Table:
    n = len(teff)
    t = Table({"source_id": np.arange(n), "Teff": np.asarray(teff, float),
               "logg": np.full(n, 4.4), "[Fe/H]": np.zeros(n)})  # fmt: skip
    for name, value in columns.items():
        t[name] = np.broadcast_to(np.asarray(value, float), (n,)).copy()
    return t


# Our uncalibrated Teff of the combined sample. Our Teff is 150 K too hot (the §4.1 step
# removes it): TOO_COOL are twins by their uncalibrated Teff only, TWINS by their calibrated
# Teff (5720-5890 K) only, except 5870 K which is both.
TOO_COOL = [5720.0, 5760.0, 5800.0, 5840.0]
TWINS = [5870.0, 5900.0, 5950.0, 6000.0, 6030.0, 6040.0]
TWINS_NA = [0.30, 0.32, 0.34, 0.36, 0.38, 0.40]  # our [Na/Fe] of TWINS: median 0.35
GALAH_NA = [0.0, 0.02, 0.04, 0.06, 0.08]  # GALAH's twins: median 0.04


def _chain_inputs() -> dict:
    """fit_calibration's inputs for elements ("Na", "Mg"): Mg has 12 good pairs and Hypatia
    twins; Na has no pair and no Hypatia value (no Teff trend, no logg trend), only GALAH twins."""
    ref_teff = np.linspace(5000.0, 6500.0, 30)
    lamost = _dwarfs(ref_teff)
    common = _dwarfs(ref_teff + 150.0)
    binaries, pairs, survey = _binaries({"Mg": 12, "Na": 0})
    teff = np.array([5000.0, 6500.0, *TOO_COOL, *TWINS])
    sample = _dwarfs(teff, **{"[Na/Fe]": [0.2, 0.2, 0.1, 0.1, 0.1, 0.1, *TWINS_NA]})
    sample["source_id"] += 500
    sample["[Mg/Fe]"] = 0.04 * (teff - 5800.0) / 1000.0 + 0.05
    hypatia = _dwarfs(np.full(6, 5800.0), **{"[Mg/Fe]": [0.01, 0.02, 0.03, 0.04, 0.05, 0.06],
                                             "[Na/Fe]": np.nan})  # fmt: skip
    galah = _dwarfs(np.full(5, 5800.0), **{"[Na/Fe]": GALAH_NA})
    return dict(common=common, lamost_reference=lamost, binaries=binaries, pairs=pairs,
                survey=survey, logg_sample=sample, hypatia=hypatia, galah=galah,
                elements=("Na", "Mg"))  # fmt: skip


# ----------------------------------------------------------------------- fit_calibration
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fit_calibration_runs_the_four_steps_in_order_on_hand_made_samples():
    """All four steps; Na (no pair, no Hypatia value) still gets its zero point from GALAH;
    the zero points select our twins on labels calibrated by the §4.1 splines (150 K off)."""
    cal = fit_calibration(**_chain_inputs())
    assert cal.steps == STEPS
    assert cal.atm.splines["Teff"]["dwarf"](5800.0) == pytest.approx(150.0)
    assert set(cal.teff) == {"Mg"} and set(cal.logg) == {"Mg"}
    assert set(cal.zero.d) == {"Na", "Mg"}
    # our twins: TWINS at calibrated Teff 5720-5890 K, not TOO_COOL (5570-5690 K calibrated)
    assert cal.zero.n_ours == {"Na": 6, "Mg": 6}
    assert cal.zero.source == {"Na": "GALAH DR3", "Mg": "Hypatia"}
    assert cal.zero.n_twins == {"Na": 5, "Mg": 6}
    assert cal.zero.reference["Na"] == pytest.approx(0.04)
    assert cal.zero.reference["Mg"] == pytest.approx(0.035)
    # Na has no Teff or logg step: d is the median of our twins' raw [Na/Fe] minus GALAH's
    assert cal.zero.d["Na"] == pytest.approx(0.35 - 0.04, abs=1e-12)
    # the default seed is 0: Mg, the second element, got emcee's seed 0 + 1
    assert cal.teff["Mg"].seed == 1


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fit_calibration_passes_its_seed_to_the_teff_step():
    inputs = _chain_inputs()
    cal = fit_calibration(**inputs, seed=3)
    assert cal.teff["Mg"].seed == 4  # seed + its place among the elements
    kept = binary_cuts(pair_table(inputs["binaries"], inputs["pairs"], inputs["survey"]))
    again = fit_teff_trend(*pair_deltas(kept, "Mg"), seed=4)
    assert np.array_equal(cal.teff["Mg"].coefficients, again.coefficients)


# ---------------------------------------------------------------------------- teff_trends
def test_teff_trends_skips_elements_with_fewer_than_four_pairs_and_names_them(stacklevels):
    """Na 3 pairs, Mg 4, Ca 0, Si 12: Mg and Si get trends; one warning names Na and Ca;
    element k is fitted with seed + k (default seed 0); keywords reach fit_teff_trend."""
    ours, pairs, survey = _binaries({"Na": 3, "Mg": 4, "Ca": 0, "Si": 12})
    with pytest.warns(UserWarning) as record:
        trends, kept = teff_trends(ours, pairs, survey, ["Na", "Mg", "Ca", "Si"],
                                   nsteps=300, burn=100)  # fmt: skip
    assert [str(w.message) for w in record] == ["no Teff trend for Na (3 pairs), Ca (0 pairs)"]
    assert list(trends) == ["Mg", "Si"] and len(kept) == 24
    assert (trends["Mg"].n_pairs, trends["Si"].n_pairs) == (4, 12)
    assert (trends["Mg"].seed, trends["Si"].seed) == (1, 3)
    assert (trends["Mg"].nsteps, trends["Mg"].burn) == (300, 100)
    again = fit_teff_trend(*pair_deltas(kept, "Mg"), seed=1, nsteps=300, burn=100)
    assert np.array_equal(trends["Mg"].coefficients, again.coefficients)
    # the warning is reported at the caller's line (stacklevel climbs over teff_trends)
    assert [(level, own + 1) for _, level, own in stacklevels] == [(2, 2)]


def test_teff_trends_skips_an_element_whose_pairs_cannot_separate_the_coefficients():
    """Every pair's two stars at one Teff (a poor fit pinned at a bound): Eq. 28's design
    matrix is zero; that element is named and skipped, the chapter goes on."""
    ours, pairs, survey = _binaries({"Mg": 12})
    ours["Teff"] = 5800.0
    with pytest.warns(UserWarning) as record:
        trends, kept = teff_trends(ours, pairs, survey, ["Mg"], nsteps=200, burn=50)
    assert trends == {} and len(kept) == 24  # 12 pairs, one row per star
    assert [str(w.message) for w in record] == [
        "no Teff trend for Mg (12 pairs, degenerate temperatures)"
    ]


def test_teff_trends_seed_is_offset_by_the_elements_place():
    ours, pairs, survey = _binaries({"Mg": 12, "Si": 12})
    trends, _ = teff_trends(ours, pairs, survey, ["[Mg/Fe]", "Si"], seed=10, nsteps=200, burn=50)
    assert (trends["Mg"].seed, trends["Si"].seed) == (10, 11)


@pytest.mark.skipif(UNDER_MUTMUT, reason="mutmut's trampolines add frames to the stack")
def test_teff_trends_warning_names_the_callers_file():
    ours, pairs, survey = _binaries({"Na": 0, "Si": 12})
    with pytest.warns(UserWarning, match="no Teff trend for Na") as record:
        teff_trends(ours, pairs, survey, ["Na", "Si"], nsteps=200, burn=50)
    assert record[0].filename == __file__


# -------------------------------------------------------------------------------- applied
def _partial_calibration(zero: bool = True) -> Calibration:
    """Mg: f(Teff) = 0.1 dex/kK T; Ca: f(logg) = 0.02 dex; Si: d = 0.05 dex."""
    return Calibration(
        teff={"Mg": TeffTrend(0.0, 0.0, 0.1)},
        logg={"Ca": LoggTrend("Ca", MedianSpline.constant(0.02), MedianSpline.constant(0.0))},
        zero=ZeroPoints({"Si": 0.0}, {"Si": "Hypatia"}, {"Si": 5}, {"Si": 0.05}, {"Si": 5})
        if zero
        else None,
    )


def _stars() -> Table:
    return Table({
        "source_id": [1, 2], "Teff": [5800.0, 6300.0], "logg": [4.4, 4.0],
        "[Fe/H]": [0.0, 0.1], "[Fe/H]_err": [0.02, 0.03],
        "[Mg/Fe]": [0.1, 0.2], "[Mg/Fe]_err": [0.02, 0.03], "[Mg/Fe]_flag": [0, 1],
        "[Ca/Fe]": [0.3, 0.4], "[Si/Fe]": [0.5, 0.6], "[Na/Fe]": [0.7, 0.8],
        "[Na/Fe]_err": [0.05, 0.05], "Chisq": [1.0, 1.2],
    })  # fmt: skip


def test_applied_drops_the_elements_the_calibration_does_not_cover():
    """Covered: the Teff, logg and zero-point elements together (Mg, Ca, Si); Na and its
    error go; [Fe/H], its error and every covered element's columns stay."""
    table = _stars()
    before = applied(table, _partial_calibration(), ())
    assert before.colnames == [c for c in table.colnames if not c.startswith("[Na/Fe]")]
    # no zero points: Si is not covered either
    no_zero = applied(table, _partial_calibration(zero=False), ())
    assert no_zero.colnames == [c for c in before.colnames if c != "[Si/Fe]"]
    # given elements decide instead of the calibration
    only = applied(table, _partial_calibration(), (), elements=["[Na/Fe]", "Mg"])
    assert only.colnames == [c for c in table.colnames if not c.startswith(("[Ca", "[Si"))]


def test_applied_without_steps_is_the_table_itself_not_a_copy():
    """The "before" stage (and steps the calibration lacks) reuse the table's data."""
    table = _stars()
    for steps in ((), ("atm",)):
        out = applied(table, _partial_calibration(), steps)
        assert all(np.shares_memory(out[c], table[c]) for c in out.colnames), steps
        assert "[Mg/Fe]_uncali" not in out.colnames


def test_applied_runs_only_the_steps_asked_for_and_drops_the_uncali_copies():
    table = _stars()
    cal = _partial_calibration()
    mg = np.array([0.1, 0.2]) - 0.1 * np.array([0.0, 0.5])  # f(T) − f(5800 K) = 0.1 (T − 5.8)
    with pytest.warns(UserWarning, match="lacks steps"):
        teff_only = applied(table, cal, ("teff",))
    assert np.allclose(teff_only["[Mg/Fe]"], mg, rtol=0, atol=1e-12)
    for name in ("[Ca/Fe]", "[Si/Fe]", "Teff", "logg"):
        assert np.array_equal(teff_only[name], table[name]), name
    with pytest.warns(UserWarning, match="lacks steps"):
        every = applied(table, cal, STEPS)  # "atm" is not held: left out
    assert np.allclose(every["[Mg/Fe]"], mg, rtol=0, atol=1e-12)
    assert np.allclose(every["[Ca/Fe]"], [0.28, 0.38], rtol=0, atol=1e-12)
    assert np.allclose(every["[Si/Fe]"], [0.45, 0.55], rtol=0, atol=1e-12)
    assert not any(c.endswith("_uncali") for c in every.colnames)


def test_without_uncali_drops_only_the_uncali_columns_and_copies_no_data():
    table = _stars()[["Teff", "logg", "[Mg/Fe]", "[Mg/Fe]_err"]]
    with pytest.warns(UserWarning, match="lacks steps"):
        done = apply(table, _partial_calibration(zero=False))
    assert "[Mg/Fe]_uncali" in done.colnames
    out = without_uncali(done)
    assert out.colnames == ["Teff", "logg", "[Mg/Fe]", "[Mg/Fe]_err"]
    assert all(np.shares_memory(out[c], done[c]) for c in out.colnames)


@pytest.mark.parametrize("function", ["apply", "applied", "snr_cut"])
def test_a_table_that_is_not_a_table_is_named_in_the_error(function):
    call = {
        "apply": lambda t: apply(t, _partial_calibration()),
        "applied": lambda t: applied(t, _partial_calibration(), ()),
        "snr_cut": snr_cut,
    }[function]
    with pytest.raises(TypeError, match=r"^catalogue 'table' must be an astropy Table or a pandas"):
        call({"Teff": [5800.0], "logg": [4.4], "snr_g": [50.0]})


# ---------------------------------------------------------------------------------- apply
def test_apply_keeps_each_columns_unit_description_and_format():
    from phdl.calibrate import AtmSplines

    const = MedianSpline.constant
    cal = _partial_calibration()
    cal.atm = AtmSplines({"Teff": {"dwarf": const(50.0), "giant": const(-30.0)}})
    table = Table()
    table["Teff"] = Column([5800.0, 6300.0], unit="K", description="effective temperature",
                           format=".1f")  # fmt: skip
    table["logg"] = Column([4.4, 4.0], unit="dex", description="surface gravity", format=".2f")
    for el in ("Mg", "Ca", "Si"):
        table[f"[{el}/Fe]"] = Column([0.1, 0.2], unit="dex", description=f"{el} abundance",
                                     format=".3f")  # fmt: skip
    with pytest.warns(UserWarning, match="lacks steps"):
        out = apply(table, cal)
    assert np.allclose(out["Teff"], [5750.0, 6250.0])
    assert np.allclose(out["[Si/Fe]"], [0.05, 0.15])
    for name in ("Teff", "[Mg/Fe]", "[Ca/Fe]", "[Si/Fe]"):
        old, new = table[name], out[name]
        assert (new.unit, new.description, new.format) == (old.unit, old.description,
                                                           old.format), name  # fmt: skip
        assert new.dtype == np.float64, name  # the zero step too: a float column, fit for FITS


def test_apply_warning_lists_every_element_it_lacks_and_names_the_callers_line(stacklevels):
    table = _stars()[["Teff", "logg", "[Mg/Fe]", "[Na/Fe]", "[Ca/Fe]"]]
    with pytest.warns(UserWarning) as record:
        apply(table, _partial_calibration(), steps=("teff",))
    assert [str(w.message) for w in record] == [
        "the calibration lacks steps for Na (no teff); Ca (no teff): left without them"
    ]
    assert [(level, own + 1) for _, level, own in stacklevels] == [(3, 3)]


@pytest.mark.skipif(UNDER_MUTMUT, reason="mutmut's trampolines add frames to the stack")
def test_apply_warning_names_the_callers_file():
    table = _stars()[["Teff", "logg", "[Na/Fe]"]]
    with pytest.warns(UserWarning, match="lacks steps for Na") as record:
        apply(table, _partial_calibration())
    assert record[0].filename == __file__


# ------------------------------------------------------------------------ the calibration file
def test_calibration_without_atm_or_zero_round_trips(tmp_path):
    empty = Calibration()
    back = Calibration.from_dict(empty.to_dict())
    assert back.atm is None and back.zero is None and back.steps == ()
    only_teff = Calibration(teff={"Mg": TeffTrend(0.1, -1.0, 2.0)})
    loaded = Calibration.load(only_teff.save(tmp_path / "c.json"))
    assert loaded.atm is None and loaded.zero is None and loaded.steps == ("teff",)


def test_the_file_is_json_indented_by_one_space_per_level(tmp_path):
    path = Calibration().save(tmp_path / "c.json")
    assert path.read_text() == (
        '{\n "format": "phdl-calibration",\n "version": 1,\n "atm": null,\n "teff": {},\n'
        ' "logg": {},\n "zero": null\n}'
    )


def test_nan_values_are_saved_and_read_back(tmp_path):
    """A hand-made Teff trend (Table 2's a, b, c only) has no percentiles, τ or acceptance."""
    cal = Calibration(teff={"Mg": TeffTrend(0.1, -1.0, 2.0)})
    path = cal.save(tmp_path / "c.json")
    assert "NaN" in path.read_text()  # JSON's usual extension, as Python's json reads it
    back = Calibration.load(path).teff["Mg"]
    assert np.all(np.isnan(back.p16)) and np.isnan(back.acceptance)
    assert (back.a, back.b, back.c) == (0.1, -1.0, 2.0)


def test_a_file_of_another_version_says_which_version_it_has(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({**Calibration().to_dict(), "version": 2}))
    with pytest.raises(ValueError, match=r"c\.json has version 2; this phdl reads version 1$"):
        Calibration.load(path)
