"""phdl.io.lamost_catalog on small hand-made catalogues: which rows are one star (its Gaia id, else
its designation, else none: UQFLAG -1), the S/N rank inside a star (NaN last), missing and
non-integral identifiers (masked FITS/CSV cells) with errors naming the file, column and row, the
S/N cut (strict ``>``), the columns and types of the result, and write_manifest's arguments,
errors and folders. Every test calls the function it checks (no shared fixture)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from astropy.table import MaskedColumn, Table

from phdl.io.lamost_catalog import REQUIRED, read_lamost_catalog, write_manifest

G1 = 604918594976748672  # Gaia DR3 ids of M67 stars
G2 = 604918599272123904
TABLE = "the LAMOST catalogue table"  # the name errors give a catalogue handed in as a Table


def _cat(n: int, **columns) -> Table:
    """A LAMOST LRS catalogue of ``n`` spectra of different stars (lower-case names as LAMOST
    writes them), with ``columns`` replacing or adding columns."""
    t = Table({
        "obsid": np.arange(101, 101 + n, dtype=np.int64),
        "obsdate": ["2016-11-04"] * n,
        "lmjd": np.full(n, 57697, dtype=np.int32),
        "planid": ["HD085131N113445B01"] * n,
        "spid": np.full(n, 7, dtype=np.int16),
        "fiberid": np.arange(1, n + 1, dtype=np.int16),
        "ra": np.linspace(132.8, 132.9, n),
        "dec": np.linspace(11.7, 11.8, n),
        "snrg": np.linspace(60.0, 90.0, n),
        "gaia_source_id": np.arange(G1, G1 + n, dtype=np.int64),
    })  # fmt: skip
    for name, values in columns.items():
        t[name] = values
    return t


# ------------------------------------------------------------------ which rows are one star
def test_uqflag_counts_rows_of_a_gaia_id_else_of_a_designation_else_minus_one():
    cat = read_lamost_catalog(_cat(
        10,
        gaia_source_id=np.array([G1, G1, -9999, -9999, -9999, -9999, 1, 1, 0, 0], dtype=np.int64),
        # a star's designation follows its position on each plate: rows 0 and 1 are one star by
        # their Gaia id although their designations differ
        designation=["J085123.04+114905.1", "J085123.05+114905.2", "J085124.55+114712.3",
                     "J085124.55+114712.3", "", "  ", "", "", "X", "X"],
    ))  # fmt: skip
    # 0, 1: one Gaia id; 2, 3: no Gaia id, one designation; 4, 5: neither (blank designation);
    # 6, 7: the Gaia id 1 (any positive id names a star); 8, 9: id 0 (none) and a one-letter
    # designation
    assert list(cat["UQFLAG"]) == [2, 2, 2, 2, -1, -1, 2, 2, 2, 2]
    assert list(cat["SOURCEID"]) == [G1, G1, -1, -1, -1, -1, 1, 1, -1, -1]
    # each row of no star is a star of its own for the S/N rank
    assert list(cat["snr_rank"][4:6]) == [1, 1]
    assert list(cat["designation"][4:6]) == ["", ""]


def test_designations_tell_stars_apart_when_no_row_has_a_gaia_id():
    # all keys start as short row keys; the designations must not be cut to their width
    cat = read_lamost_catalog(_cat(
        3,
        gaia_source_id=np.full(3, -9999, dtype=np.int64),
        designation=["J085123.04+114905.1", "J085124.55+114712.3", "J085123.04+114905.1"],
        snrg=[50.0, 70.0, 60.0],
    ))  # fmt: skip
    assert list(cat["UQFLAG"]) == [2, 1, 2]
    assert list(cat["snr_rank"]) == [2, 1, 1]


def test_without_a_designation_column_rows_without_gaia_id_are_no_star():
    table = _cat(4, gaia_source_id=np.array([G1, -9999, G1, -9999], dtype=np.int64))
    cat = read_lamost_catalog(table)
    assert "designation" not in cat.colnames
    assert list(cat["UQFLAG"]) == [2, -1, 2, -1]
    assert list(cat["snr_rank"]) == [2, 1, 1, 1]  # snrg 60, 70, 80, 90
    assert cat["UQFLAG"].dtype == np.int64 and cat["snr_rank"].dtype == np.int64


def test_snr_rank_puts_a_missing_snr_after_every_number():
    # one star, five visits: NaN and a masked cell rank after LAMOST's -9999
    snrg = MaskedColumn([np.nan, 50.0, -9999.0, 0.0, 80.0], mask=[0, 0, 0, 0, 0])
    cat = read_lamost_catalog(_cat(5, gaia_source_id=np.full(5, G2, dtype=np.int64), snrg=snrg))
    assert list(cat["snr_rank"]) == [5, 2, 4, 3, 1]
    masked = MaskedColumn([85.0, 1.0, 40.0], mask=[0, 1, 0])
    cat = read_lamost_catalog(_cat(3, gaia_source_id=np.full(3, G2, dtype=np.int64), snrg=masked))
    assert np.isnan(cat["snrg"][1]) and list(cat["snrg"][::2]) == [85.0, 40.0]
    assert list(cat["snr_rank"]) == [1, 3, 2]
    kept = read_lamost_catalog(
        _cat(3, gaia_source_id=np.full(3, G2, dtype=np.int64), snrg=masked), min_snr=30
    )
    assert list(kept["snrg"]) == [85.0, 40.0] and list(kept["UQFLAG"]) == [2, 2]


# ------------------------------------------------------------------ the S/N cut
def test_min_snr_keeps_snrg_strictly_above_it():
    cat = read_lamost_catalog(_cat(3, snrg=[54.9, 55.0, 55.1]), min_snr=55)
    assert list(cat["snrg"]) == [55.1]


def test_min_snr_on_an_empty_catalogue_names_the_cut():
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(_cat(0), min_snr=50)
    assert str(err.value) == f"{TABLE}: no spectrum with snrg > 50 (of 0; the highest is -inf)"


# ------------------------------------------------------------------ columns of the result
def test_the_result_carries_the_identifier_parts_as_integers_and_the_designation():
    table = _cat(2, designation=[" J085123.04+114905.1 ", "J085124.55+114712.3"])
    table["planid"] = ["M", "F5902"]  # a one-letter plan id is still a plan id
    cat = read_lamost_catalog(table)
    assert list(cat["obsdate"]) == ["2016-11-04", "2016-11-04"]
    assert list(cat["lmjd"]) == [57697, 57697] and list(cat["planid"]) == ["M", "F5902"]
    assert list(cat["spid"]) == [7, 7] and list(cat["fiberid"]) == [1, 2]
    for col in ("lmjd", "spid", "fiberid", "UQFLAG", "snr_rank", "SOURCEID"):
        assert cat[col].dtype == np.int64, col
    assert list(cat["designation"]) == ["J085123.04+114905.1", "J085124.55+114712.3"]
    assert list(cat["SPECID"]) == ["2016-11-04-M-7-1", "2016-11-04-F5902-7-2"]
    assert list(cat["path"]) == ["spec-57697-M_sp07-001.fits", "spec-57697-F5902_sp07-002.fits"]


# ------------------------------------------------------------------ CSV cells left empty
HEADER = "obsid,designation,obsdate,lmjd,planid,spid,fiberid,ra,dec,snrg,gaia_source_id\n"
ROWS = [
    f"101,J085123.04+114905.1,2016-11-04,57697,HD085131N113445B01,7,128,132.846,12,85,{G1}\n",
    f"102,J085124.55+114712.3,2016-11-04,57697,HD085131N113445B01,7,9,132.852,11,40,{G2}\n",
    "103,J000001.00+000001.0,2012-02-01,55959,F5902,1,1,0.004,0,60,-9999\n",
]


def _csv(path: Path, column: str | None = None, row: int = 0, value: str = "") -> Path:
    """The three ROWS as a CSV catalogue, the cell (``row``, ``column``) set to ``value``."""
    rows = [r.rstrip("\n").split(",") for r in ROWS]
    if column is not None:
        rows[row][HEADER.rstrip().split(",").index(column)] = value
    path.write_text(HEADER + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_empty_coordinate_and_snr_cells_read_as_nan(tmp_path):
    # whole-number dec and snrg cells make integer columns; an empty cell masks one
    path = _csv(tmp_path / "dec.csv", "dec", 1)
    cat = read_lamost_catalog(path)
    assert np.isnan(cat["DEC"][1]) and list(cat["DEC"][::2]) == [12.0, 0.0]
    assert cat["DEC"].dtype == np.float64 and str(cat["DEC"].unit) == "deg"
    cat = read_lamost_catalog(_csv(tmp_path / "ra.csv", "ra", 2))
    assert np.isnan(cat["RA"][2]) and np.allclose(cat["RA"][:2], [132.846, 132.852])
    cat = read_lamost_catalog(_csv(tmp_path / "snr.csv", "snrg", 0))
    assert np.isnan(cat["snrg"][0]) and list(cat["snrg"][1:]) == [40.0, 60.0]
    assert cat["snrg"].dtype == np.float64
    assert list(read_lamost_catalog(path, min_snr=50)["obsid"]) == [101, 103]


def test_an_empty_designation_cell_is_no_designation(tmp_path):
    cat = read_lamost_catalog(_csv(tmp_path / "des.csv", "designation", 2))
    assert cat["designation"][2] == "" and cat["UQFLAG"][2] == -1


@pytest.mark.parametrize("column", ["lmjd", "spid", "fiberid"])
def test_an_empty_integer_part_names_file_column_and_row(tmp_path, column):
    path = _csv(tmp_path / "cut.csv", column, 1)
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(path)
    assert str(err.value) == f"{path}: column '{column}' has no integer in row 1"


def test_a_non_integral_part_names_file_column_and_row(tmp_path):
    path = _csv(tmp_path / "half.csv", "spid", 2, "7.5")
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(path)
    assert str(err.value) == f"{path}: column 'spid' has no integer in row 2"


@pytest.mark.parametrize("column", ["obsdate", "planid"])
def test_an_empty_text_part_names_file_column_and_row(tmp_path, column):
    path = _csv(tmp_path / "blank.csv", column, 2)
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(path)
    assert str(err.value) == f"{path}: column '{column}' is empty in row 2"


def test_the_empty_row_is_the_first_empty_one_after_short_plan_ids():
    table = _cat(4)
    table["planid"] = ["M", "F5902", " ", ""]  # blank counts as empty
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(table)
    assert str(err.value) == f"{TABLE}: column 'planid' is empty in row 2"
    table = _cat(2, obsdate=MaskedColumn(["2016-11-04", "x"], mask=[0, 1]))
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(table)
    assert str(err.value) == f"{TABLE}: column 'obsdate' is empty in row 1"


# ------------------------------------------------------------------ errors naming the source
def test_missing_columns_are_named_with_those_the_table_has():
    table = _cat(1)
    del table["snrg"]
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(table)
    assert str(err.value) == (
        f"{TABLE} lacks the LAMOST LRS catalogue column(s) snrg (it has: obsid, obsdate, lmjd, "
        "planid, spid, fiberid, ra, dec, gaia_source_id)"
    )
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(Table())
    assert str(err.value) == (
        f"{TABLE} lacks the LAMOST LRS catalogue column(s) {', '.join(REQUIRED)} "
        "(it has: no columns)"
    )


def test_the_columns_a_table_has_are_listed_up_to_twenty():
    table = Table({f"c{i:02d}": [1.0] for i in range(25)})
    with pytest.raises(ValueError) as err:
        read_lamost_catalog(table)
    listed = ", ".join(f"c{i:02d}" for i in range(20))
    assert str(err.value).endswith(f"(it has: {listed})")


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "dr9_LRS.fits"
    with pytest.raises(FileNotFoundError) as err:
        read_lamost_catalog(path)
    assert str(err.value) == f"LAMOST catalogue {path} not found"


def test_gaia_ids_stored_as_floats_are_refused_naming_the_column():
    table = _cat(2, gaia_source_id=np.array([float(G1), float(G2)]))
    with pytest.raises(ValueError, match=re.escape(f"{TABLE} column 'gaia_source_id': Gaia ids")):
        read_lamost_catalog(table)


# ------------------------------------------------------------------ write_manifest
def _spectra(folder: Path, names) -> Path:
    """Empty files under the LAMOST names ``names`` (write_manifest only looks at names)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return folder


def test_manifest_text_has_integer_flags_and_goes_into_new_nested_folders(tmp_path):
    cat = read_lamost_catalog(_cat(3, gaia_source_id=np.array([G1, G1, -9999], dtype=np.int64)))
    spectra = _spectra(tmp_path / "lamost", cat["path"])
    manifest = tmp_path / "runs" / "m67" / "stars.csv"  # two folders to make
    written = write_manifest(cat, manifest, spectra)
    assert list(written["UQFLAG"]) == [2, 2, -1]
    lines = manifest.read_text().splitlines()
    assert lines[0] == "path,RA,DEC,SOURCEID,SPECID,UQFLAG,snrg"
    assert lines[1].startswith("../../lamost/spec-57697-HD085131N113445B01_sp07-001.fits,")
    assert [line.split(",")[5] for line in lines[1:]] == ["2", "2", "-1"]
    assert lines[3].split(",")[3] == "-1"
    # into a folder that exists, again over the same file
    again = tmp_path / "stars.csv"
    write_manifest(cat, again, spectra)
    write_manifest(cat, again, spectra)
    assert again.read_text().splitlines()[1].startswith("lamost/spec-57697-")
    rewritten = write_manifest(cat, manifest, spectra)
    assert rewritten["SPECID"][2] == "2016-11-04-HD085131N113445B01-7-3"


def test_a_catalogue_read_back_from_fits_gives_the_same_manifest(tmp_path):
    cat = read_lamost_catalog(_cat(2))
    cat.write(tmp_path / "cat.fits")
    back = Table.read(tmp_path / "cat.fits")  # FITS text columns come back as bytes
    assert back["path"].dtype.kind == "S"
    spectra = _spectra(tmp_path / "lamost", cat["path"])
    write_manifest(back, tmp_path / "from_fits.csv", spectra)
    write_manifest(cat, tmp_path / "from_table.csv", spectra)
    assert (tmp_path / "from_fits.csv").read_text() == (tmp_path / "from_table.csv").read_text()


def test_missing_spectra_name_the_count_the_first_and_the_skip_hint(tmp_path):
    cat = read_lamost_catalog(_cat(3))
    spectra = _spectra(tmp_path / "lamost", cat["path"][:1])
    manifest = tmp_path / "stars.csv"
    with pytest.raises(FileNotFoundError) as err:
        write_manifest(cat, manifest, spectra)
    assert str(err.value) == (
        f"2 of 3 spectra are not in {spectra} or its subfolders, the first "
        "spec-57697-HD085131N113445B01_sp07-002.fits; pass missing='skip' to leave them out"
    )
    # no file at all: skipping would leave nothing, so no hint
    empty = _spectra(tmp_path / "empty", [])
    for missing in ("error", "skip"):
        with pytest.raises(FileNotFoundError) as err:
            write_manifest(cat, manifest, empty, missing=missing)
        assert str(err.value) == (
            f"3 of 3 spectra are not in {empty} or its subfolders, the first "
            "spec-57697-HD085131N113445B01_sp07-001.fits"
        ), missing
    assert not manifest.exists()


def test_write_manifest_refuses_bad_arguments_by_name(tmp_path):
    cat = read_lamost_catalog(_cat(1))
    spectra = _spectra(tmp_path / "lamost", cat["path"])
    with pytest.raises(ValueError) as err:
        write_manifest(cat, tmp_path / "m.csv", spectra, missing="ignore")
    assert str(err.value) == "missing must be 'error' or 'skip', got 'ignore'"
    del cat["UQFLAG"], cat["snrg"]
    with pytest.raises(ValueError) as err:
        write_manifest(cat, tmp_path / "m.csv", spectra)
    assert str(err.value) == (
        "table lacks column(s) ['UQFLAG', 'snrg']; read it with read_lamost_catalog"
    )
    assert not (tmp_path / "m.csv").exists()
