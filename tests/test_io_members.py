"""phdl.io.members (membership lists and the shared helpers read_table / source_ids) and
phdl.io.binaries (El-Badry et al. 2021 wide binaries), pinned on small hand-made tables: the cuts
at their thresholds, masked and missing values, the exact error messages (naming the file,
column or cluster and what is wrong) and the meta they leave.

Every test calls the reader itself (no shared fixture), so mutation testing maps each test to
the functions it exercises."""

from __future__ import annotations

import re
import warnings

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.table import MaskedColumn, Table

from phdl.io import read_el_badry, read_members
from phdl.io.members import read_table, source_ids

M67 = [604918594976748672, 604918599272123904, 604918629336868992]
MEMBERS = "the membership list table"
PAIRS = "the wide-binary catalogue table"


def _exact(message: str) -> str:
    """A ``match`` pattern for exactly ``message``."""
    return "^" + re.escape(message) + "$"


# ------------------------------------------------------------------ source_ids
def test_source_ids_keep_every_positive_id_and_mark_the_rest_minus_one():
    ids = source_ids(np.array([1, 2, 0, -9999], dtype=np.int32), "x")
    assert ids.dtype == np.int64 and list(ids) == [1, 2, -1, -1]  # id 1 is an id; ≤ 0 missing


def test_source_ids_read_bytes_as_fits_stores_text():
    ids = source_ids(np.array([b"Gaia DR3 123", b"45", b"", b"n/a"]), "x")
    assert list(ids) == [123, 45, -1, -1]


def test_source_ids_of_text_keep_the_shape_and_int64_even_when_empty():
    ids = source_ids(np.array([["1", "Gaia EDR3 2"], ["x", "4"]]), "x")
    assert ids.shape == (2, 2) and ids.tolist() == [[1, 2], [-1, 4]]
    empty = source_ids(np.array([], dtype=str), "x")
    assert empty.shape == (0,) and empty.dtype == np.int64


def test_source_ids_convert_floats_below_2_53_exactly():
    values = np.ma.MaskedArray(
        [12345.0, np.nan, 1e20, 2.0**53 - 1, 7.0], mask=[False, False, True, False, False]
    )  # a masked entry's data (here 1e20, astropy's float fill) is never looked at
    ids = source_ids(values, "x")
    assert ids.dtype == np.int64
    assert ids.tolist() == [12345, -1, -1, 2**53 - 1, 7]


def test_source_ids_refuse_floats_beyond_2_53_naming_where():
    message = (
        "list.csv column 'Source': Gaia ids stored as floating point have lost their last "
        "digits; read the column as integers or strings"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        source_ids(np.array([5.0, 2.0**53 + 2]), "list.csv column 'Source'")


def test_source_ids_refuse_a_float_id_of_exactly_2_53():
    with pytest.raises(ValueError, match="lost their last digits"):
        source_ids(np.array([2.0**53]), "x")


def test_source_ids_refuse_other_types_naming_where_and_the_type():
    message = "t column 'Source': Gaia ids of type bool are neither integers nor text"
    with pytest.raises(ValueError, match=_exact(message)):
        source_ids(np.array([True, False]), "t column 'Source'")


# ------------------------------------------------------------------ read_table
def test_read_table_reads_a_votable_by_its_suffix(tmp_path):
    path = tmp_path / "members.vot"
    Table({"source_id": np.array(M67, dtype=np.int64)}).write(path, format="votable")
    assert list(read_members(path)["source_id"]) == M67
    table, name = read_table(path, "membership list")
    assert name == str(path) and list(table["source_id"]) == M67


def test_read_table_refuses_a_series_naming_what_and_the_type():
    series = pd.Series(M67)  # has to_numpy but no columns: not a DataFrame
    message = f"membership list: expected a path, a Table or a DataFrame, got {type(series)}"
    with pytest.raises(TypeError, match=_exact(message)):
        read_table(series, "membership list")


def test_read_table_names_the_file_and_format_it_cannot_read(tmp_path):
    path = tmp_path / "members.fits"
    path.write_text("not a FITS file")
    pattern = "^" + re.escape(f"membership list {path} cannot be read as a table (fits): ")
    with pytest.raises(ValueError, match=pattern):
        read_table(path, "membership list")


# ------------------------------------------------------------------ read_members
def _clusters(names: list[str]) -> Table:
    n = len(names)
    return Table({"Source": np.arange(1, n + 1, dtype=np.int64) * 10**15,
                  "PMemb": np.full(n, 0.9), "Cluster": names})  # fmt: skip


def test_min_prob_may_be_1_but_not_above():
    table = Table({"source_id": np.array(M67, dtype=np.int64), "prob": [1.0, 0.99, 1.0]})
    members = read_members(table, min_prob=1.0)
    assert list(members["source_id"]) == [M67[0], M67[2]]
    with pytest.raises(ValueError, match=_exact("min_prob must lie in [0, 1], got 1.5")):
        read_members(table, min_prob=1.5)


def test_a_list_without_an_id_column_names_the_accepted_and_the_present_ones():
    message = (
        f"{MEMBERS} has no Gaia id column: expected one of source_id, GaiaDR3, dr3_source_id, "
        "GaiaDR2, Source (it has: ra, PMemb)"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(Table({"ra": [1.0], "PMemb": [0.9]}))
    message = (
        f"{MEMBERS} has no Gaia id column: expected one of source_id, GaiaDR3, dr3_source_id, "
        "GaiaDR2, Source (it has: no columns)"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(Table())


def test_m67_with_a_space_and_any_case_selects_ngc_2682():
    table = _clusters(["NGC_2682", "NGC_188", "NGC_2682"])
    for name in ("M 67", "m 67", " M67 "):
        assert list(read_members(table, cluster=name)["source_id"]) == [10**15, 3 * 10**15]


def test_choosing_a_cluster_in_a_list_without_a_cluster_column():
    message = (
        f"{MEMBERS} has no cluster column (Cluster or Name) to choose 'M67' by; pass a list of "
        "that cluster's members only"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(Table({"source_id": np.array(M67, dtype=np.int64)}), cluster="M67")


def test_a_list_of_several_clusters_names_five_of_them():
    table = _clusters(["A", "B", "C", "D", "E", "F", "G"])
    message = (
        f"{MEMBERS} lists 7 clusters in column 'Cluster' (A, B, C, D, E, ...); pass cluster= "
        "to choose one"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(table)
    message = (
        f"{MEMBERS}: cluster 'NGC_752' is not in column 'Cluster'; it has e.g. A, B, C, D, E "
        "(7 clusters)"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(table, cluster="NGC_752")


def test_probabilities_above_1_are_refused_as_a_percentage():
    table = Table({"source_id": np.array(M67[:2], dtype=np.int64), "PMemb": [0.9, 1.5]})
    message = (
        f"{MEMBERS}: column 'PMemb' holds probabilities outside 0–1 (up to 1.5); "
        "a percentage must be divided by 100"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(table)


def test_a_masked_probability_is_not_a_member_and_no_error():
    prob = MaskedColumn([0.9, 0.8, 0.7], mask=[False, True, False])  # fill value 1e20
    table = Table({"source_id": np.array(M67, dtype=np.int64), "PMemb": prob})
    members = read_members(table)
    assert list(members["source_id"]) == [M67[0], M67[2]]
    assert list(members["prob"]) == [0.9, 0.7]


def test_the_cut_compares_the_files_float32_probabilities_exactly():
    just_below = np.nextafter(np.float32(0.7), np.float32(0))  # 0.69999993...
    prob = np.array([0.9, np.float32(0.7), just_below], dtype=np.float32)
    table = Table({"source_id": np.array(M67, dtype=np.int64), "PMemb": prob})
    members = read_members(table, min_prob=0.69999999)  # between the two largest float32s
    assert list(members["source_id"]) == M67[:1]  # 0.699999988 >= 0.69999999 is false
    assert members["prob"].dtype == np.float64


def test_an_all_masked_probability_column_says_none_and_warns_nothing():
    prob = MaskedColumn([0.9, 0.8], mask=[True, True])
    table = Table({"source_id": np.array(M67[:2], dtype=np.int64), "PMemb": prob})
    message = (
        f"{MEMBERS}: no member with PMemb >= 0.5 and a Gaia id (2 rows, highest probability none)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=_exact(message)):
            read_members(table)


def test_an_empty_list_with_a_probability_column_has_no_member():
    table = Table({"source_id": np.array([], dtype=np.int64), "PMemb": np.array([], float)})
    message = (
        f"{MEMBERS}: no member with PMemb >= 0.5 and a Gaia id (0 rows, highest probability none)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=_exact(message)):
            read_members(table)


def test_no_member_left_names_the_cluster_the_column_and_the_best_probability():
    table = _clusters(["NGC_2682", "NGC_188"])
    table["PMemb"] = [0.3, 0.9]
    message = (
        f"{MEMBERS}: no member of cluster 'M67' with PMemb >= 0.5 and a Gaia id "
        "(1 rows, highest probability 0.3)"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(table, cluster="M67")


def test_a_plain_list_without_valid_ids_says_prob():
    table = Table({"source_id": np.array([0, -9999], dtype=np.int64)})
    message = f"{MEMBERS}: no member with prob >= 0.5 and a Gaia id (2 rows, highest probability 1)"
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(table)


def test_float_ids_beyond_2_53_name_the_list_and_its_column():
    table = Table({"source_id": np.array(M67, dtype=float)})
    message = (
        f"{MEMBERS} column 'source_id': Gaia ids stored as floating point have lost their "
        "last digits; read the column as integers or strings"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_members(table)


def test_small_positive_ids_are_members():
    members = read_members(Table({"source_id": np.array([1, 2, 0], dtype=np.int64)}))
    assert list(members["source_id"]) == [1, 2]


def test_a_repeated_id_of_equal_probability_keeps_its_first_row():
    # 40 stars listed twice each (the second copy 40 rows later, with the same probability,
    # 0.9, 0.8, 0.7 or 0.6): every star's first row is kept (its position and coordinates),
    # whatever sort numpy uses.
    n = 40
    ids = np.tile(np.arange(1, n + 1, dtype=np.int64) * 10**15, 2)
    prob = np.tile(np.array([0.9, 0.8, 0.7, 0.6])[np.arange(n) % 4], 2)
    table = Table({"source_id": ids, "PMemb": prob, "ra": np.arange(2 * n, dtype=float)})
    members = read_members(table)
    assert list(members["source_id"]) == list(ids[:n])
    assert list(members["ra"]) == list(range(n))
    assert list(members["prob"]) == list(prob[:n])


def test_coordinates_come_back_as_float_degrees_with_nan_where_masked():
    table = Table(
        {
            "source_id": np.array(M67, dtype=np.int64),
            "RAdeg": MaskedColumn([132.846, 132.851, 132.860], mask=[False, True, False]),
            "DEdeg": MaskedColumn(
                np.array([11, 12, 13], dtype=np.int64), mask=[False, False, True]
            ),
        }
    )  # fmt: skip  (integer degrees, one masked: still floats with NaN)
    members = read_members(table)
    assert members["ra"][0] == 132.846 and np.isnan(members["ra"][1])
    assert members["ra"][2] == 132.860
    assert members["dec"].dtype == np.float64
    assert list(members["dec"][:2]) == [11.0, 12.0] and np.isnan(members["dec"][2])
    assert members["ra"].unit == u.deg and members["dec"].unit == u.deg


def test_a_dr3_source_id_column_is_dr3():
    members = read_members(Table({"DR3_Source_ID": np.array(M67, dtype=np.int64)}))
    assert members.meta["ID_COLUMN"] == "DR3_Source_ID" and members.meta["GAIA_DR"] == "DR3"


# ------------------------------------------------------------------ read_el_badry
def _pairs(r=(0.01, 0.1, 0.3)) -> Table:
    n = len(r)
    return Table({"source_id1": np.arange(1, n + 1, dtype=np.int64) * 10**15,
                  "source_id2": np.arange(1, n + 1, dtype=np.int64) * 10**15 + 1,
                  "R_chance_align": list(r)})  # fmt: skip


def test_a_missing_id_column_names_the_table_the_layout_and_its_columns():
    message = (
        f"{PAIRS} has no column 'source_id2'; an El-Badry et al. (2021) wide-binary catalogue "
        "has source_id1, source_id2, sep_AU, R_chance_align (it has: source_id1, ra1)"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_el_badry(Table({"source_id1": [1], "ra1": [1.0]}))
    message = (
        f"{PAIRS} has no column 'source_id1'; an El-Badry et al. (2021) wide-binary catalogue "
        "has source_id1, source_id2, sep_AU, R_chance_align (it has: no columns)"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_el_badry(Table())


def test_a_missing_id_column_lists_only_the_first_12_columns():
    table = Table({f"c{i:02d}": [1.0] for i in range(20)})
    with pytest.raises(ValueError) as info:
        read_el_badry(table)
    listed = str(info.value).split("(it has: ")[1].rstrip(")")
    assert listed == ", ".join(f"c{i:02d}" for i in range(12))


def test_the_chance_cut_is_strict_and_recorded():
    pairs = read_el_badry(_pairs())
    assert list(pairs["source_id1"]) == [10**15]  # R 0.1 is not < 0.1
    assert pairs.meta["CHANCE_CUT"] == "R_chance_align < 0.1"


def test_without_a_chance_or_separation_column_every_pair_is_kept():
    table = _pairs()
    del table["R_chance_align"]
    pairs = read_el_badry(table)
    assert list(pairs["pair_id"]) == [0, 1, 2] and "sep_AU" not in pairs.colnames
    assert pairs.meta["CHANCE_CUT"] == "none: no R_chance_align column"


def test_a_masked_chance_is_never_a_bound_pair_whatever_its_fill_value():
    table = _pairs()
    table["R_chance_align"] = MaskedColumn([0.01, 0.02, 0.3], mask=[False, True, False],
                                           fill_value=0.0)  # fmt: skip
    assert list(read_el_badry(table)["source_id1"]) == [10**15]


def test_the_chance_cut_compares_the_files_float32_values_exactly():
    below = np.nextafter(np.float32(0.1), np.float32(0))  # 0.099999994
    table = _pairs(r=(0.01,))
    table["R_chance_align"] = np.array([below], dtype=np.float32)
    assert len(read_el_badry(table, max_chance_align=0.099999997)) == 1  # 0.099999994 < it


def test_no_pair_left_says_the_lowest_chance():
    message = (
        f"{PAIRS}: no pair with R_chance_align < 0.1 (of 2 pairs; the lowest R_chance_align is 0.3)"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_el_badry(_pairs(r=(0.5, 0.3)))


def test_an_empty_catalogue_has_no_pair_with_or_without_the_chance_column():
    message = f"{PAIRS}: no pair with R_chance_align < 0.1 (of 0 pairs)"
    with pytest.raises(ValueError, match=_exact(message)):
        read_el_badry(_pairs(r=()))
    table = _pairs(r=())
    del table["R_chance_align"]
    message = f"{PAIRS}: no pair with none: no R_chance_align column (of 0 pairs)"
    with pytest.raises(ValueError, match=_exact(message)):
        read_el_badry(table)


def test_float_pair_ids_beyond_2_53_name_the_table_and_column():
    table = _pairs()
    table["source_id1"] = np.array(M67, dtype=float)
    message = (
        f"{PAIRS} column 'source_id1': Gaia ids stored as floating point have lost their "
        "last digits; read the column as integers or strings"
    )
    with pytest.raises(ValueError, match=_exact(message)):
        read_el_badry(table)


def test_the_files_own_pair_id_is_kept():
    table = _pairs(r=(0.01, 0.02))
    table["pair_id"] = [70, 71]
    pairs = read_el_badry(table)
    assert list(pairs["pair_id"]) == [70, 71] and pairs.colnames.count("pair_id") == 1
