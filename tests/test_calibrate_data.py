"""phdl.calibrate's data handling, on small hand-made tables: the wide-binary pairs (pair_rows,
pair_table, binary_cuts, pair_deltas), the catalogue helpers (as_table, native, require,
values, crossmatch) and the solar-twin zero points (solar_twins, twin_values,
reference_zero_point, zero_points). Each test calls the function it is about itself."""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.table import MaskedColumn, QTable, Table

from phdl import paper
from phdl.calibrate.binaries import binary_cuts, pair_deltas, pair_rows, pair_table
from phdl.calibrate.catalogs import as_table, crossmatch, native, require, values
from phdl.calibrate.zero_points import (
    GALAH,
    HYPATIA,
    reference_zero_point,
    solar_twins,
    twin_values,
    zero_points,
)


# ------------------------------------------------------------------------------ pair_rows
def pairs_of(pair_id, component, **cols) -> Table:
    return Table({"pair_id": pair_id, "component": component, **cols})


def test_pair_rows_gives_component_1_and_2_of_every_pair_in_pair_order():
    t = pairs_of([5, 3, 3, 5], [2, 1, 2, 1])
    i1, i2 = pair_rows(t, "pair_id", "component")
    assert i1.tolist() == [1, 3] and i2.tolist() == [2, 0]


def test_pair_rows_names_the_first_pair_without_two_rows():
    t = pairs_of([0, 0, 1, 2, 2], [1, 2, 1, 1, 2])
    with pytest.raises(
        ValueError, match=r"^pair (1|np\.int64\(1\)) in column 'pair_id' has not two rows$"
    ):
        pair_rows(t, "pair_id", "component")


def test_pair_rows_names_a_pair_with_three_rows():
    t = pairs_of([7, 7, 7, 8, 8], [1, 2, 1, 1, 2])
    with pytest.raises(
        ValueError, match=r"^pair (7|np\.int64\(7\)) in column 'pair_id' has not two rows$"
    ):
        pair_rows(t, "pair_id", "component")


@pytest.mark.parametrize(
    "component",
    [[1, 3, 1, 2], [1, 1, 2, 2]],  # a component that is neither 1 nor 2; 1 and 2 in two pairs
)
def test_pair_rows_component_must_hold_1_and_2_once_in_every_pair(component):
    t = pairs_of([0, 0, 1, 1], component)
    message = r"^column 'component' must hold 1 and 2 once in every pair$"
    with pytest.raises(ValueError, match=message):
        pair_rows(t, "pair_id", "component")


# ----------------------------------------------------------------------------- pair_table
def pair_inputs():
    pairs = Table({"source_id1": [1, 3], "source_id2": [2, 4]})
    ours = Table({"source_id": [1, 2, 3, 4], "Teff": [5000.0, 5100.0, 5200.0, 5300.0]})
    survey = Table({"source_id": [1, 2, 3, 4], "snr_g": [50.0, 60, 70, 80], "vlos": [1.0, 2, 3, 4]})
    return ours, pairs, survey


def test_pair_table_two_rows_a_pair_with_both_catalogues_columns():
    out = pair_table(*pair_inputs())
    assert out.colnames == ["pair_id", "component", "source_id", "Teff", "snr_g", "vlos"]
    assert out["pair_id"].tolist() == [0, 0, 1, 1]
    assert out["component"].tolist() == [1, 2, 1, 2]
    assert out["source_id"].tolist() == [1, 2, 3, 4]
    assert out["Teff"].tolist() == [5000.0, 5100.0, 5200.0, 5300.0]
    assert out["vlos"].tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("which", ["ours", "survey"])
@pytest.mark.parametrize("column", ["pair_id", "component"])
def test_pair_table_never_joins_silently_on_its_own_pair_columns(which, column):
    """A catalogue that already has a ``pair_id`` or ``component`` column is bad input: an
    error, not a join on that column too (that would drop or mismatch pairs silently)."""
    ours, pairs, survey = pair_inputs()
    table = ours if which == "ours" else survey
    table[column] = [1, 2, 1, 2] if column == "component" else [0, 0, 1, 1]
    with pytest.raises((KeyError, ValueError)):
        pair_table(ours, pairs, survey)


def test_pair_table_own_pair_column_is_a_value_error_naming_it():
    ours, pairs, survey = pair_inputs()
    survey["component"] = [1, 2, 1, 2]
    with pytest.raises(ValueError, match="component"):
        pair_table(ours, pairs, survey)


def test_pair_table_leaves_out_a_pair_whose_partner_is_missing_even_if_a_star_repeats():
    ours, pairs, survey = pair_inputs()
    ours = Table({"source_id": [1, 1, 3, 4], "Teff": [5000.0, 5001.0, 5200.0, 5300.0]})
    out = pair_table(ours, pairs, survey)
    assert out["pair_id"].tolist() == [1, 1]


# ---------------------------------------------------------------------------- binary_cuts
def cut_table(**change) -> Table:
    """Two pairs well inside every cut, ΔV_los = 0.5 and 1.0 km/s."""
    cols = {
        "pair_id": [0, 0, 1, 1],
        "component": [1, 2, 1, 2],
        "Teff": [5000.0, 5100.0, 5200.0, 5300.0],
        "logg": [4.5, 4.5, 4.4, 4.4],
        "snr_g": [80.0, 90.0, 70.0, 60.0],
        "vlos": [1.0, 0.5, 2.0, 1.0],
    }
    cols.update(change)
    return Table(cols)


def test_binary_cuts_keeps_the_input_table_class_and_its_columns():
    """The rows of the pairs table given: a QTable stays a QTable with its Quantity columns."""
    t = QTable(cut_table())
    t["Teff"] = t["Teff"] * u.K
    out = binary_cuts(t, mad=1.0)
    assert type(out) is QTable
    assert isinstance(out["Teff"], u.Quantity) and out["Teff"].unit == u.K
    assert out["Teff"].value.tolist() == [5000.0, 5100.0, 5200.0, 5300.0]


def test_binary_cuts_no_pair_passing_is_an_empty_table_without_numpy_warnings():
    """The MAD of no pair is not computed (no 'Mean of empty slice'): the result is empty."""
    t = cut_table(snr_g=[10.0, 10.0, 10.0, 10.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = binary_cuts(t)
    assert len(out) == 0 and out.colnames == t.colnames


def test_binary_cuts_float32_velocities_are_cut_on_the_exact_difference():
    """FITS catalogues store V_los as float32; |ΔV|/mad < 3 is evaluated on the stored values:
    3.5 - 0.50000006 = 2.99999994 < 3 passes (float32 arithmetic would round it to 3.0)."""
    vlos = np.array([3.5, 0.50000006, 1.0, 1.0], dtype=np.float32)
    assert float(vlos[0]) - float(vlos[1]) < paper.BINARY_DVLOS_MAD_MAX
    out = binary_cuts(cut_table(vlos=vlos), mad=1.0)
    assert out["pair_id"].tolist() == [0, 0, 1, 1]


def test_binary_cuts_accepts_a_dataframe():
    t = cut_table()
    df = pd.DataFrame({c: np.asarray(t[c]) for c in t.colnames})
    out = binary_cuts(df, mad=1.0)
    assert list(out["pair_id"]) == [0, 0, 1, 1]


# ---------------------------------------------------------------------------- pair_deltas
def test_pair_deltas_without_an_error_column_uses_default_err_in_quadrature():
    t = pairs_of([0, 0, 1, 1], [1, 2, 2, 1], Teff=[5000.0, 5100, 5300, 5200])
    t["[Mg/Fe]"] = [0.30, 0.10, 0.05, 0.25]
    teff1, teff2, delta, err = pair_deltas(t, "Mg")
    assert teff1.tolist() == [5000.0, 5200.0] and teff2.tolist() == [5100.0, 5300.0]
    np.testing.assert_allclose(delta, [0.20, 0.20], rtol=0, atol=1e-15)
    np.testing.assert_allclose(err, [0.05 * np.sqrt(2)] * 2, rtol=1e-15)
    _, _, _, err = pair_deltas(t, "[Mg/Fe]", default_err=0.1)
    np.testing.assert_allclose(err, [0.1 * np.sqrt(2)] * 2, rtol=1e-15)


def test_pair_deltas_leaves_out_a_pair_without_a_positive_error():
    """Eq. 28 divides by delta_err: a pair whose two errors are 0 cannot enter it."""
    t = pairs_of([0, 0, 1, 1], [1, 2, 1, 2], Teff=[5000.0, 5100, 5200, 5300])
    t["[Mg/Fe]"] = [0.30, 0.10, 0.25, 0.05]
    t["[Mg/Fe]_err"] = [0.0, 0.0, 0.03, 0.04]
    teff1, _, delta, err = pair_deltas(t, "Mg")
    assert teff1.tolist() == [5200.0]
    np.testing.assert_allclose(delta, [0.20], atol=1e-15)
    np.testing.assert_allclose(err, [0.05], rtol=1e-14)


def test_pair_deltas_keeps_every_pair_whose_two_teffs_are_finite():
    t = pairs_of([0, 0], [1, 2], Teff=[1e308, 1e308])
    t["[Mg/Fe]"] = [0.3, 0.1]
    with np.errstate(over="ignore"):
        teff1, _, _, _ = pair_deltas(t, "Mg")
    assert len(teff1) == 1


# ------------------------------------------------------------------------------- catalogs
def test_as_table_refuses_a_series_naming_the_catalogue_and_the_type():
    with pytest.raises(TypeError) as info:
        as_table(pd.Series([1.0, 2.0]), "ours")
    assert str(info.value) == (
        "catalogue 'ours' must be an astropy Table or a pandas DataFrame, got Series"
    )


def test_native_keeps_big_endian_gaia_ids_as_exact_native_integers():
    """FITS columns are big-endian; Gaia ids (~7e18) do not survive a float."""
    ids = np.array([6917528997577384320, 6917528997577384321], dtype=">i8")
    out = native(ids)
    assert out.dtype == np.dtype(np.int64) and out.dtype.isnative
    assert out.tolist() == [6917528997577384320, 6917528997577384321]
    same = np.array([1.5, 2.5])
    assert native(same) is same  # already native: returned as it is


def test_require_names_the_catalogue_the_column_and_the_columns_it_has():
    with pytest.raises(ValueError) as info:
        require(Table({"a": [1], "b": [2]}), ["a", "c"], "Hypatia")
    assert str(info.value) == "catalogue 'Hypatia' has no column 'c' (it has: a, b)"
    with pytest.raises(ValueError) as info:
        require(Table(), ["Teff"], "ours")
    assert str(info.value) == "catalogue 'ours' has no column 'Teff' (it has: no columns)"


def test_values_is_float64_with_masked_entries_as_nan():
    t = Table({"n": MaskedColumn([1, 2, 3], mask=[False, True, False], dtype=np.int64)})
    out = values(t, "n")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, np.nan, 3.0])
    assert values(Table({"k": [4, 5]}), "k").dtype == np.float64


def match_inputs():
    ours = Table({"source_id": [30, 10, 20], "x": [3.0, 1.0, 2.0]})
    ref = Table({"source_id": [20, 40, 30, 10], "y": [2.0, 4.0, 3.0, 1.0]})
    return ours, ref


def test_crossmatch_rows_come_out_in_increasing_id_order_whatever_the_inputs_order():
    ours, ref = match_inputs()
    a, b = crossmatch(ours, ref, [])
    assert a["source_id"].tolist() == [10, 20, 30] and a["x"].tolist() == [1.0, 2.0, 3.0]
    assert b["source_id"].tolist() == [10, 20, 30] and b["y"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("names", [("ours",), ("ours", "APOGEE", "GALAH")])
def test_crossmatch_catalogue_names_must_be_two(names):
    ours, ref = match_inputs()
    with pytest.raises(ValueError):
        crossmatch(ours, ref, [], catalogs=names)


def test_crossmatch_repeated_ids_name_the_catalogue_and_the_id_column():
    ours, ref = match_inputs()
    ref["source_id"][1] = 20
    with pytest.raises(ValueError) as info:
        crossmatch(ours, ref, [], catalogs=("ours", "APOGEE"))
    assert str(info.value) == (
        "catalogue 'APOGEE' repeats ids in column 'source_id'; keep one row a star"
    )


# ---------------------------------------------------------------------------- zero points
def twins_table(values_, n_other=2, element="[Mg/Fe]") -> Table:
    """Solar twins (5800 K, 4.4, [Fe/H] 0) with ``values_`` of ``element``, and ``n_other``
    stars that are no twins (5000 K) with a far-off value."""
    n = len(values_)
    return Table(
        {
            "Teff": [5800.0] * n + [5000.0] * n_other,
            "logg": [4.4] * (n + n_other),
            "[Fe/H]": [0.0] * (n + n_other),
            element: list(values_) + [9.0] * n_other,
        }
    )


@pytest.mark.parametrize("missing", ["Teff", "logg", "[Fe/H]"])
def test_solar_twins_and_twin_values_name_the_catalogue_and_the_missing_column(missing):
    t = twins_table([0.1, 0.2])
    del t[missing]
    message = "^" + re.escape(f"catalogue 'GALAH DR3' has no column '{missing}'")
    with pytest.raises(ValueError, match=message):
        solar_twins(t, GALAH)
    with pytest.raises(ValueError, match=message):
        twin_values(t, "Mg", GALAH)
    with pytest.raises(ValueError, match=message):
        reference_zero_point("Mg", [(GALAH, t)], 1)


def test_twin_values_of_a_catalogue_without_the_element_is_empty():
    out = twin_values(twins_table([0.1, 0.2]), "Si", HYPATIA)
    assert out.shape == (0,)
    assert twin_values(twins_table([0.1, np.nan, 0.3]), "Mg", HYPATIA).tolist() == [0.1, 0.3]


def test_zero_points_default_min_twins_is_5_and_5_twins_are_enough():
    ours = twins_table([0.1, 0.2, 0.3, 0.4, 0.5])
    hyp = twins_table([0.0, 0.01, 0.02, 0.03, 0.04])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = zero_points(ours, hyp, elements=("Mg",))
    assert result.source == {"Mg": HYPATIA} and result.n_twins == {"Mg": 5}
    assert result.reference["Mg"] == pytest.approx(0.02, abs=1e-15)
    assert result.d["Mg"] == pytest.approx(0.28, abs=1e-15)
    assert result.n_ours == {"Mg": 5}


def test_zero_points_warning_lists_every_short_element_and_its_count():
    ours = twins_table([0.1, 0.2], element="[Mg/Fe]")
    ours["[Si/Fe]"] = np.nan
    hyp = twins_table([0.0] * 5)
    with pytest.warns(UserWarning) as record:
        result = zero_points(ours, hyp, elements=("Mg", "[Si/Fe]"))
    assert [str(w.message) for w in record] == [
        "fewer than 5 solar twins of ours with [Mg/Fe] (2), [Si/Fe] (0)"
    ]
    assert result.d["Si"] == 0.0 and result.n_ours == {"Mg": 2, "Si": 0}


def test_zero_points_warning_points_at_the_caller():
    """stacklevel: the warning is reported at the line that called zero_points, not in phdl.
    (Under mutmut its trampoline sits between the caller and the function, so there only the
    'not in zero_points.py' half can be checked.)"""
    ours, hyp = twins_table([0.1]), twins_table([0.0] * 5)
    with pytest.warns(UserWarning, match="fewer than 5") as record:
        zero_points(ours, hyp, elements=("Mg",))
    (w,) = record
    module_file = sys.modules[zero_points.__module__].__file__
    assert Path(w.filename).resolve() != Path(module_file).resolve()
    if not hasattr(zero_points, "__wrapped__"):  # not under mutmut
        assert Path(w.filename).resolve() == Path(__file__).resolve()


@pytest.mark.parametrize("which, name", [("ours", "ours"), ("hypatia", HYPATIA), ("galah", GALAH)])
def test_zero_points_a_catalogue_of_the_wrong_type_is_named(which, name):
    args = {"ours": twins_table([0.1]), "hypatia": twins_table([0.0]), "galah": None}
    args[which] = [[5800.0, 4.4, 0.0, 0.1]]
    with pytest.raises(TypeError, match=rf"^catalogue '{name}' must be an astropy Table"):
        zero_points(args["ours"], args["hypatia"], args["galah"], elements=("Mg",))


def test_zero_points_our_catalogue_without_logg_is_named():
    ours = twins_table([0.1] * 5)
    del ours["logg"]
    with pytest.raises(ValueError, match=r"^catalogue 'ours' has no column 'logg'"):
        zero_points(ours, twins_table([0.0] * 5), elements=("Mg",))


@pytest.mark.parametrize(
    ("which", "name"), [("ours", "pair_id"), ("ours", "component"), ("survey", "pair_id")]
)
def test_pair_table_names_the_catalogue_and_the_column_it_would_make(which, name):
    ours, pairs, survey = pair_inputs()
    (ours if which == "ours" else survey)[name] = [0, 0, 1, 1]
    with pytest.raises(ValueError) as info:
        pair_table(ours, pairs, survey)
    assert str(info.value) == f"catalogue {which!r} has a column {name!r}; pair_table makes it"


def test_pair_deltas_drops_a_pair_with_one_teff_missing():
    t = pairs_of([0, 0, 1, 1], [1, 2, 1, 2], Teff=[5000.0, np.nan, 5200.0, 5300.0])
    t["[Mg/Fe]"] = [0.3, 0.1, 0.2, 0.0]
    teff1, teff2, delta, _ = pair_deltas(t, "Mg")
    assert teff1.tolist() == [5200.0] and teff2.tolist() == [5300.0]
    assert delta == pytest.approx([0.2])


def test_binary_cuts_refuses_what_is_no_table_naming_it():
    with pytest.raises(TypeError) as info:
        binary_cuts({"Teff": [5000.0]})
    assert str(info.value) == (
        "catalogue 'pairs table' must be an astropy Table or a pandas DataFrame, got dict"
    )
