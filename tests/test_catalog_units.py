"""phdl.catalog function by function, in process and fast (the file for its mutation run).

tests/test_catalog.py checks the whole catalogue on process clusters; this file checks what each
function of phdl/catalog promises (its docstring, DESIGN.md), calling it directly: no process
cluster is started. Where Dask is needed, either a fake client runs the tasks in turn or an
in-process threaded LocalCluster (``test_catalog._threaded``) stands in. The real fits use
test_catalog's random-weight MLP (120 pixels), a few hundredths of a second per shard.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import json
import logging
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from test_catalog import _flux, _lamost, _lamost_folder, _model, _threaded

import phdl
import phdl.catalog.run as run_module
import phdl.catalog.shard as shard_module
from phdl.catalog.inputs import (
    FITS_SUFFIXES,
    ID_COLUMNS,
    MANIFEST_SUFFIXES,
    Inputs,
    Shard,
    _empty_ids,
    _fits,
    _hdf5_rows,
    _is_fits,
    _key,
    header_ids,
    read_shard,
    resolve,
    shards,
)
from phdl.catalog.run import (
    CONNECT_TIMEOUT,
    RETRIES,
    CatalogRun,
    SchedulerUnreachable,
    _run_id,
    connect,
    make_job,
    merge,
    run_catalog,
)
from phdl.catalog.shard import (
    MALLOC_OPTIONS,
    Job,
    ShardMismatch,
    finished,
    fit_rows,
    run_shard,
    shard_paths,
    sidecar,
    tune_malloc,
    worker_model,
)
from phdl.catalog.table4 import (
    PARAMS,
    XFE,
    _fit_column,
    calibrated,
    columns,
    empty,
    table4,
    units,
    write_units,
)
from phdl.fit import read_table, write_spectra, write_table

WL = 10 ** (np.log10(5100.0) + 1e-4 * np.arange(120))  # test_catalog.WL, the model's grid
N = 7  # stars of the HDF5 spectra: shards of 3 are (0, 3), (3, 6), (6, 7)
BAD = 4  # its all-NaN star
SOURCEIDS = 6917528997577384320 - np.arange(N, dtype=np.int64) * 1_000_003  # > 2**31
ELEMENTS = "C N O Na Mg Al Si Ca Sc Ti V Cr Mn Co Ni Sr Y Zr Ba La Ce Pr Nd Sm Eu".split()
FIT_LABELS = ("Teff", "logg", "[Fe/H]", *XFE)
META_KEYS = ["MODEL", "MODELSHA", "STARTMOD", "PHDLVER", "STRATEGY", "SEED", "FLAGS", "CALIB",
             "CALIBSHA", "NSTARS", "NSHARDS", "SPECTRA", "NBAD"]  # fmt: skip


# ---------------------------------------------------------------------------------- helpers
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ids(n: int) -> dict[str, np.ndarray]:
    return {
        "RA": np.linspace(10.5, 19.5, n),
        "DEC": np.linspace(-30.25, 30.25, n),
        "SOURCEID": SOURCEIDS[:n],
        "SPECID": np.array([f"20191013-HD{i:03d}N-{i + 1:02d}-{i + 100}" for i in range(n)]),
        "UQFLAG": np.arange(n, dtype=np.int64) % 3 + 1,
    }


def _fit_table(n: int, *, errors: bool = True, flags: bool = True, status=None) -> Table:
    """A fit table as add_uncertainties leaves it: labels (float32 here, to see the float64 of
    Table 4), their unscaled ``_err`` (-9: never Table 4's), ``_err_scaled``, ``_flag``, Chisq."""
    fit = Table()
    for k, name in enumerate(FIT_LABELS):
        fit[name] = (100.0 * k + np.arange(n)).astype(np.float32)
        fit[f"{name}_err"] = np.full(n, -9.0)
        if errors:
            fit[f"{name}_err_scaled"] = 0.5 * k + 0.125 * np.arange(n)
        if flags:
            fit[f"{name}_flag"] = ((k + np.arange(n)) % 16).astype(np.int32)
    fit["Chisq"] = 1.5 + np.arange(n)
    if status is not None:
        fit["status"] = status
    return fit


def _rows(shard: Shard, reasons=None) -> Table:
    """Table 4 rows of a shard without fitting (the ids of :func:`_ids`)."""
    m = shard.stop - shard.start
    ids = {k: v[shard.start : shard.stop] for k, v in _ids(N).items()}
    fit = _fit_table(m)
    fit["Teff"] += shard.start  # a different Teff per star across shards
    return table4(fit, ids, reasons or [""] * m)


def _header_file(path: Path, **cards) -> Path:
    head = fits.Header()
    for key, value in cards.items():
        head[key] = value
    fits.PrimaryHDU(header=head).writeto(path)
    return path


def _h5(path: Path, **datasets) -> Path:
    import h5py

    with h5py.File(path, "w") as h5:
        for name, values in datasets.items():
            h5[name] = values
    return path


def _no_tmp(folder: Path) -> list[str]:
    return [p.name for p in Path(folder).iterdir() if p.name.endswith(".tmp")]


def _job(data, shard_dir: Path, **kw) -> Job:
    inputs = resolve(data.h5)
    return Job(str(data.a), _sha(data.a.read_bytes()), inputs, str(shard_dir), **kw)


def _fake_fit(monkeypatch, rows=None):
    """run_shard without a model: fit_rows gives :func:`_rows`, worker_model a sentinel."""
    calls = []

    def fake_fit_rows(job, model, shard):
        calls.append((model, shard))
        return _rows(shard) if rows is None else rows(shard)

    monkeypatch.setattr(shard_module, "fit_rows", fake_fit_rows)
    monkeypatch.setattr(shard_module, "worker_model", lambda path, sha: ("model", path, sha))
    return calls


def _write_finished(job: Job, shard: Shard) -> None:
    table, side = shard_paths(job.shard_dir, shard.index)
    table.parent.mkdir(parents=True, exist_ok=True)
    rows = _rows(shard)
    rows.meta.update({"SHARD": shard.index, "FIRST": shard.start})
    write_table(rows, table)
    side.write_text(json.dumps(sidecar(job, shard)))


# --------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Models a, b (other weights); N HDF5 spectra with every id dataset, star BAD all NaN;
    4 LAMOST files, file 2 not FITS."""
    import h5py

    root = tmp_path_factory.mktemp("units")
    a = _model(root / "a.pt", seed=0)
    b = _model(root / "b.pt", seed=1)
    flux, ivar = _flux(a, N, seed=1)
    flux[BAD] = np.nan
    h5 = write_spectra(root / "spectra.h5", WL, flux, ivar)
    with h5py.File(h5, "a") as f:
        for name, values in _ids(N).items():
            if name == "SPECID":
                f.create_dataset(name, data=values.astype(object), dtype=h5py.string_dtype())
            else:
                f[name] = values
    lamost = _lamost_folder(root / "lamost", a, n=4, garbage=2)
    return SimpleNamespace(root=root, a=a, b=b, h5=h5, flux=flux, ivar=ivar, lamost=lamost)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """torch on one thread, as on a worker (worker_model sets it), restored after each test."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ============================================================================ inputs.py
# A real Dask cluster in this process leaves its threads behind; mutmut forks a child per mutant
# from the process that ran the tests once, and a child that starts Dask again deadlocks on the
# locks those threads held (every such mutant "timed out"). Under mutmut these two tests skip;
# the fake clients above and below cover the same code.
_REAL_DASK = pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ, reason="a real Dask cluster deadlocks under mutmut"
)


def test_module_constants():
    assert list(ID_COLUMNS) == ["RA", "DEC", "SOURCEID", "SPECID", "UQFLAG"]
    assert np.isnan(ID_COLUMNS["RA"]) and np.isnan(ID_COLUMNS["DEC"])
    assert [ID_COLUMNS[k] for k in ("SOURCEID", "SPECID", "UQFLAG")] == [-1, "", -1]
    assert FITS_SUFFIXES == (".fits", ".fit", ".fits.gz", ".fit.gz")
    assert MANIFEST_SUFFIXES == (".csv", ".ecsv", ".txt")
    assert PARAMS == ("Teff", "logg", "[Fe/H]")
    assert XFE == tuple(f"[{e}/Fe]" for e in ELEMENTS) and len(XFE) == 25
    assert MALLOC_OPTIONS == {-3: 67108864, -1: 134217728}
    assert (CONNECT_TIMEOUT, RETRIES) == (10, 2)
    assert issubclass(ShardMismatch, ValueError)
    assert issubclass(SchedulerUnreachable, ConnectionError)


def test_key_is_the_sha256_of_kind_source_count_and_each_file_s_size_and_time(tmp_path):
    missing = str(tmp_path / "nope.fits")
    want = _sha(json.dumps(["fits", "/src", 3, [[missing]]]).encode())
    assert _key("fits", "/src", (missing,), 3) == want  # a missing file: its path only
    f = tmp_path / "s.h5"
    f.write_bytes(b"12345")
    mtime = os.stat(f).st_mtime_ns
    want = _sha(json.dumps(["hdf5", str(f), 2, [[str(f), 5, mtime]]]).encode())
    assert _key("hdf5", str(f), (), 2) == want  # no files: the source's own stats
    assert len(want) == 64


def test_key_changes_with_kind_source_count_files_size_and_time(tmp_path):
    a, b = tmp_path / "a.fits", tmp_path / "b.fits"
    a.write_bytes(b"aaaa")
    b.write_bytes(b"bbbb")
    base = _key("fits", str(tmp_path), (str(a),), 1)
    assert base == _key("fits", str(tmp_path), (str(a),), 1)  # deterministic
    others = [
        _key("hdf5", str(tmp_path), (str(a),), 1),
        _key("fits", str(tmp_path / "x"), (str(a),), 1),
        _key("fits", str(tmp_path), (str(a),), 2),
        _key("fits", str(tmp_path), (str(b),), 1),
        _key("fits", str(tmp_path), (str(a), str(b)), 1),
    ]
    assert len({base, *others}) == 6
    # the files' stats count, not the folder's, when there are files
    st = os.stat(tmp_path)
    os.utime(tmp_path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert _key("fits", str(tmp_path), (str(a),), 1) == base
    st = os.stat(a)
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # another time, same size
    timed = _key("fits", str(tmp_path), (str(a),), 1)
    assert timed != base
    a.write_bytes(b"aaaaa")
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # another size, same time
    assert _key("fits", str(tmp_path), (str(a),), 1) not in (base, timed)
    # without files the source's stats count
    source = _key("hdf5", str(b), (), 1)
    st = os.stat(b)
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert _key("hdf5", str(b), (), 1) != source


def test_shard_is_a_frozen_star_range():
    s = Shard(2, 6, 9)
    assert (s.index, s.start, s.stop) == (2, 6, 9)
    with pytest.raises(AttributeError):
        s.start = 0  # type: ignore[misc]
    assert Shard(2, 6, 9) == s


@pytest.mark.parametrize(
    ("name", "fits_"),
    [("a.fits", True), ("a.fit", True), ("a.fits.gz", True), ("a.fit.gz", True),
     ("SPEC.FITS", True), ("Spec.Fits.GZ", True), ("a.fits.bz2", False), ("a.fz", False),
     ("a.h5", False), ("fits", False), ("a.csv", False)],
)  # fmt: skip
def test_is_fits_by_the_name_s_suffix_in_any_case(name, fits_):
    assert _is_fits(Path("/some/dir.fits") / name) is fits_


def test_empty_ids_have_table4_s_empty_values_and_dtypes():
    ids = _empty_ids(3)
    assert list(ids) == list(ID_COLUMNS)
    assert ids["RA"].dtype == ids["DEC"].dtype == np.float64
    assert np.isnan(ids["RA"]).all() and np.isnan(ids["DEC"]).all()
    assert ids["SOURCEID"].dtype == ids["UQFLAG"].dtype == np.int64
    assert list(ids["SOURCEID"]) == list(ids["UQFLAG"]) == [-1, -1, -1]
    assert ids["SPECID"].dtype == object and list(ids["SPECID"]) == ["", "", ""]
    assert [len(v) for v in _empty_ids(0).values()] == [0] * 5


def test_resolve_hdf5_gives_its_rows_and_identifier_datasets(data):
    inputs = resolve(data.h5)
    assert (inputs.kind, inputs.source, inputs.files, inputs.n) == ("hdf5", str(data.h5), (), N)
    assert inputs.key == _key("hdf5", str(data.h5), (), N)
    want = _ids(N)
    assert list(inputs.ids) == list(ID_COLUMNS)
    assert inputs.ids["RA"].dtype == np.float64 and np.array_equal(inputs.ids["RA"], want["RA"])
    assert np.array_equal(inputs.ids["DEC"], want["DEC"])
    assert inputs.ids["SOURCEID"].dtype == np.int64
    assert list(inputs.ids["SOURCEID"]) == list(SOURCEIDS)  # beyond 2**31, exact
    assert inputs.ids["SPECID"].dtype.kind == "U"  # h5py's bytes decoded
    assert list(inputs.ids["SPECID"]) == list(want["SPECID"])
    assert list(inputs.ids["UQFLAG"]) == list(want["UQFLAG"])


def test_resolve_hdf5_without_id_datasets_has_empty_ids_and_keeps_the_ones_given(tmp_path):
    path = write_spectra(tmp_path / "plain.hdf5", WL[:5], np.ones((2, 5)), np.ones((2, 5)))
    inputs = resolve(path)
    assert (inputs.kind, inputs.n) == ("hdf5", 2)
    assert np.isnan(inputs.ids["RA"]).all() and list(inputs.ids["SOURCEID"]) == [-1, -1]
    assert list(inputs.ids["SPECID"]) == ["", ""] and list(inputs.ids["UQFLAG"]) == [-1, -1]
    import h5py

    with h5py.File(path, "a") as h5:
        h5["UQFLAG"] = np.array([2, 3])
        h5["SPECID"] = np.array([b"s-1", b"s-2"])
    ids = resolve(path).ids
    assert list(ids["UQFLAG"]) == [2, 3] and list(ids["SPECID"]) == ["s-1", "s-2"]
    assert np.isnan(ids["RA"]).all() and list(ids["SOURCEID"]) == [-1, -1]


def test_resolve_hdf5_of_one_1d_spectrum_is_one_star(tmp_path):
    path = _h5(tmp_path / "one", wavelength=WL[:6], flux=np.ones(6), ivar=np.ones(6))
    inputs = resolve(path)
    assert (inputs.kind, inputs.n) == ("hdf5", 1)
    assert [len(v) for v in inputs.ids.values()] == [1] * 5


@pytest.mark.parametrize(
    ("wl", "flux", "ivar"),
    [((10,), (3, 10), (3, 9)), ((9,), (3, 10), (3, 10)), ((10,), (3, 10), (2, 10)),
     ((), (), ())],
)  # fmt: skip
def test_resolve_hdf5_of_mismatched_shapes_names_the_file_and_shapes(tmp_path, wl, flux, ivar):
    path = _h5(tmp_path / "bad.h5", wavelength=np.ones(wl), flux=np.ones(flux), ivar=np.ones(ivar))
    with pytest.raises(ValueError) as info:
        resolve(path)
    assert str(info.value) == (
        f"{path}: wavelength {wl}, flux {flux} and ivar {ivar} do not match; "
        "expected (n_pix,), (n, n_pix), (n, n_pix)"
    )


def test_resolve_hdf5_refuses_a_3d_flux(tmp_path):
    path = _h5(tmp_path / "cube.h5", wavelength=WL[:5], flux=np.ones((2, 3, 5)),
               ivar=np.ones((2, 3, 5)))  # fmt: skip
    with pytest.raises(ValueError, match="do not match"):
        resolve(path)


@pytest.mark.parametrize("shape", [(4,), (3, 1), ()])
def test_resolve_hdf5_refuses_an_id_dataset_of_another_shape(tmp_path, shape):
    path = _h5(tmp_path / "ids.h5", wavelength=WL[:5], flux=np.ones((3, 5)),
               ivar=np.ones((3, 5)), SOURCEID=np.ones(shape, dtype=np.int64))  # fmt: skip
    with pytest.raises(ValueError) as info:
        resolve(path)
    assert str(info.value) == f"{path}: dataset SOURCEID has shape {shape}, not (3,)"


def test_resolve_an_unknown_suffix_is_read_as_hdf5(tmp_path):
    path = tmp_path / "stars.dat"
    path.write_text("path\nspec.fits\n")  # a manifest's text, but not a manifest's suffix
    with pytest.raises(ValueError, match="cannot be read as HDF5 spectra"):
        resolve(path)


def test_resolve_a_missing_path_names_it(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError) as info:
        resolve(missing)
    assert str(info.value) == f"spectra {missing} not found"


def test_resolve_a_relative_path_gives_absolute_paths(data, monkeypatch):
    monkeypatch.chdir(data.root)
    inputs = resolve("spectra.h5")
    assert inputs.source == str(data.h5) and Path(inputs.source).is_absolute()
    assert inputs.key == resolve(data.h5).key
    folder = resolve("lamost")
    assert folder.source == str(data.root / "lamost")
    assert folder.files == tuple(map(str, data.lamost))


def test_resolve_a_folder_takes_its_fits_files_sorted_by_name(tmp_path):
    folder = tmp_path / "spectra"
    folder.mkdir()
    for name in ("c.fits", "a.FIT", "b.fits.gz", "d.fit.gz"):
        _header_file(folder / name, RA=1.0)
    (folder / "notes.txt").write_text("not a spectrum")
    (folder / "e.fits").mkdir()  # a folder, even if named as FITS
    inputs = resolve(folder)
    names = ["a.FIT", "b.fits.gz", "c.fits", "d.fit.gz"]
    assert inputs.kind == "fits" and inputs.n == 4
    assert inputs.files == tuple(str(folder / n) for n in names)
    assert inputs.source == str(folder)
    assert inputs.key == _key("fits", str(folder), inputs.files, 4)


def test_resolve_a_folder_without_fits_names_it_and_the_suffixes(tmp_path):
    (tmp_path / "notes.txt").write_text("no spectra")
    with pytest.raises(ValueError) as info:
        resolve(tmp_path)
    assert str(info.value) == (
        f"folder {tmp_path} holds no LAMOST FITS files (.fits, .fit, .fits.gz, .fit.gz)"
    )


def test_resolve_one_fits_file_takes_its_header_ids(tmp_path):
    path = _header_file(tmp_path / "spec.fits", RA=12.5, DEC=-3.25, OBSDATE="2019-10-13",
                        PLANID="HD1", SPID=7, FIBERID=100)  # fmt: skip
    inputs = resolve(path)
    assert (inputs.kind, inputs.source, inputs.files, inputs.n) == (
        "fits", str(tmp_path), (str(path),), 1)  # fmt: skip
    assert inputs.key == _key("fits", str(tmp_path), (str(path),), 1)
    assert list(inputs.ids) == list(ID_COLUMNS)
    assert inputs.ids["RA"].dtype == np.float64 and list(inputs.ids["RA"]) == [12.5]
    assert list(inputs.ids["DEC"]) == [-3.25]
    assert inputs.ids["SPECID"].dtype == object
    assert list(inputs.ids["SPECID"]) == ["2019-10-13-HD1-7-100"]
    assert list(inputs.ids["SOURCEID"]) == [-1] and list(inputs.ids["UQFLAG"]) == [-1]


def test_fits_of_no_files_is_empty():
    inputs = _fits([])
    assert (inputs.kind, inputs.source, inputs.files, inputs.n) == ("fits", "", (), 0)
    assert inputs.key == _key("fits", "", (), 0)
    assert [len(v) for v in inputs.ids.values()] == [0] * 5


def test_fits_ids_override_the_headers(tmp_path):
    files = [_header_file(tmp_path / f"s{i}.fits", RA=1.0 + i, DEC=2.0) for i in range(2)]
    inputs = _fits(files, {"RA": np.array([7.0, 8.0]), "UQFLAG": np.array([1, 2])})
    assert list(inputs.ids["RA"]) == [7.0, 8.0] and list(inputs.ids["DEC"]) == [2.0, 2.0]
    assert list(inputs.ids["UQFLAG"]) == [1, 2] and list(inputs.ids["SOURCEID"]) == [-1, -1]
    assert list(inputs.ids["SPECID"]) == ["", ""]  # no OBSDATE... in these headers


# ----------------------------------------------------------------------------- manifests
def test_manifest_ids_override_headers_and_relative_paths_follow_the_manifest(
    tmp_path, monkeypatch
):
    spectra = tmp_path / "spectra"
    spectra.mkdir()
    files = [_header_file(spectra / f"s{i}.fits", RA=100.0 + i, DEC=-5.0 - i, OBSDATE="2020-01-02",
                          PLANID=f"P{i}", SPID=3, FIBERID=10 + i) for i in range(3)]  # fmt: skip
    manifest = tmp_path / "stars.csv"
    manifest.write_text(
        "path,SOURCEID,RA,note\n"
        f"spectra/s2.fits,{SOURCEIDS[0]},1.5,x\n"
        f"{files[0]},{SOURCEIDS[1]},2.5,y\n"
        f"spectra/s1.fits,{SOURCEIDS[2]},3.5,z\n"
    )
    monkeypatch.chdir(spectra)  # relative to the manifest's folder, not the working one
    inputs = resolve(manifest)
    assert inputs.kind == "fits" and inputs.n == 3
    assert inputs.files == (str(files[2]), str(files[0]), str(files[1]))  # the manifest's order
    assert inputs.source == str(spectra)  # the first file's folder
    assert list(inputs.ids) == list(ID_COLUMNS)
    assert list(inputs.ids["RA"]) == [1.5, 2.5, 3.5]  # the manifest's
    assert list(inputs.ids["DEC"]) == [-7.0, -5.0, -6.0]  # the headers'
    assert list(inputs.ids["SOURCEID"]) == list(SOURCEIDS[:3])
    assert inputs.ids["SOURCEID"].dtype == np.int64
    assert list(inputs.ids["SPECID"]) == [f"2020-01-02-P{i}-3-{10 + i}" for i in (2, 0, 1)]
    assert list(inputs.ids["UQFLAG"]) == [-1, -1, -1]
    assert inputs.key == _key("fits", str(spectra), inputs.files, 3)


@pytest.mark.parametrize("name", ["m.csv", "m.ecsv", "m.txt", "M.CSV"])
def test_every_manifest_suffix_is_a_manifest(tmp_path, name):
    spec = _header_file(tmp_path / "a.fits", RA=3.0)
    (tmp_path / name).write_text("path SPECID\na.fits LM-1\n")
    inputs = resolve(tmp_path / name)
    assert inputs.files == (str(spec),)
    assert list(inputs.ids["SPECID"]) == ["LM-1"] and list(inputs.ids["RA"]) == [3.0]


def test_manifest_without_a_path_column_names_its_columns(tmp_path):
    manifest = tmp_path / "stars.csv"
    manifest.write_text("file,RA\na.fits,1.0\n")
    with pytest.raises(ValueError) as info:
        resolve(manifest)
    assert str(info.value) == f"manifest {manifest} has no 'path' column (columns: ['file', 'RA'])"


def test_manifest_naming_missing_files_counts_them_and_names_the_first(tmp_path):
    _header_file(tmp_path / "here.fits", RA=1.0)
    manifest = tmp_path / "stars.csv"
    manifest.write_text("path\nhere.fits\ngone-1.fits\ngone-2.fits\n")
    with pytest.raises(FileNotFoundError) as info:
        resolve(manifest)
    assert str(info.value) == (
        f"manifest {manifest} names 2 missing file(s), the first {tmp_path / 'gone-1.fits'}"
    )


def test_an_unreadable_manifest_is_named(tmp_path):
    manifest = tmp_path / "stars.csv"
    manifest.write_text("")
    with pytest.raises(ValueError) as info:
        resolve(manifest)
    assert str(info.value).startswith(f"manifest {manifest} cannot be read as a table: ")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_an_empty_manifest_cell_is_not_a_zero(tmp_path):
    _header_file(tmp_path / "a.fits", RA=5.0, DEC=6.0)
    _header_file(tmp_path / "b.fits", RA=7.0, DEC=8.0)
    manifest = tmp_path / "stars.csv"
    manifest.write_text("path,RA,SOURCEID,SPECID,UQFLAG\na.fits,1.5,12,x,1\nb.fits,,,,\n")
    ids = resolve(manifest).ids
    assert ids["RA"][1] == 7.0 or np.isnan(ids["RA"][1])
    assert ids["SOURCEID"][1] == -1 and ids["SPECID"][1] == "" and ids["UQFLAG"][1] == -1


def test_a_manifest_specid_of_digits_is_text(tmp_path):
    _header_file(tmp_path / "a.fits", RA=5.0)
    _header_file(tmp_path / "b.fits", OBSDATE="2019-10-13", PLANID="HD1", SPID=7, FIBERID=100)
    manifest = tmp_path / "stars.csv"
    manifest.write_text("path,SPECID\na.fits,123456789\nb.fits,\n")  # astropy reads ints
    specid = resolve(manifest).ids["SPECID"]
    assert list(specid) == ["123456789", "2019-10-13-HD1-7-100"]  # the empty cell: the header's
    assert all(isinstance(s, str) for s in specid)


def test_manifest_integer_ids_written_as_floats_are_integers(tmp_path):
    _header_file(tmp_path / "a.fits", RA=5.0, DEC=6.0)
    _header_file(tmp_path / "b.fits", RA=7.0, DEC=8.0)
    manifest = tmp_path / "stars.csv"
    manifest.write_text("path,RA,UQFLAG\na.fits,12,2.0\nb.fits,,\n")  # pandas' gappy int column
    ids = resolve(manifest).ids
    assert ids["UQFLAG"].dtype == np.int64 and list(ids["UQFLAG"]) == [2, -1]
    assert ids["RA"].dtype == np.float64 and list(ids["RA"]) == [12.0, 7.0]
    assert list(ids["DEC"]) == [6.0, 8.0]


# -------------------------------------------------------------------------------- shards
@pytest.mark.parametrize(
    ("n", "size", "want"),
    [(10, 4, [(0, 0, 4), (1, 4, 8), (2, 8, 10)]), (9, 3, [(0, 0, 3), (1, 3, 6), (2, 6, 9)]),
     (3, 1, [(0, 0, 1), (1, 1, 2), (2, 2, 3)]), (3, 5, [(0, 0, 3)]), (5, 5, [(0, 0, 5)]),
     (6, 5, [(0, 0, 5), (1, 5, 6)]), (1, 1, [(0, 0, 1)]), (0, 4, []), (0, 1, [])],
)  # fmt: skip
def test_shards_exact(n, size, want):
    got = shards(n, size)
    assert isinstance(got, list) and all(type(s) is Shard for s in got)
    assert [(s.index, s.start, s.stop) for s in got] == want


def test_shards_cover_every_star_once_in_order_with_only_the_last_short():
    for n in range(0, 14):
        for size in range(1, 7):
            got = shards(n, size)
            assert [s.index for s in got] == list(range(len(got)))
            assert [i for s in got for i in range(s.start, s.stop)] == list(range(n))
            assert len(got) == -(-n // size)
            assert all(s.stop - s.start == size for s in got[:-1])
            assert all(0 < s.stop - s.start <= size for s in got)


@pytest.mark.parametrize("size", [0, -1, -64])
def test_shards_refuse_a_size_below_one(size):
    with pytest.raises(ValueError) as info:
        shards(10, size)
    assert str(info.value) == f"shard size must be a positive integer, got {size}"


# ---------------------------------------------------------------------------- header_ids
def test_header_ids_from_a_lamost_header(tmp_path):
    path = _header_file(tmp_path / "s.fits", RA=210.25, DEC=-12.5, OBSDATE="2016-11-04",
                        PLANID="HD032434N283426B01", SPID=7, FIBERID=128)  # fmt: skip
    got = header_ids(path)
    assert list(got) == ["RA", "DEC", "SPECID"]
    assert got == {"RA": 210.25, "DEC": -12.5, "SPECID": "2016-11-04-HD032434N283426B01-7-128"}
    assert type(got["RA"]) is float and type(got["DEC"]) is float


def test_header_ids_integral_coordinates_are_floats_text_ones_are_nan(tmp_path):
    path = _header_file(tmp_path / "s.fits", RA=12, DEC="-05:30:00")
    got = header_ids(path)
    assert got["RA"] == 12.0 and type(got["RA"]) is float
    assert np.isnan(got["DEC"]) and got["SPECID"] == ""


@pytest.mark.parametrize("drop", ["OBSDATE", "PLANID", "SPID", "FIBERID"])
def test_header_ids_without_one_specid_keyword_have_no_specid(tmp_path, drop):
    cards = {"RA": 1.5, "DEC": 2.5, "OBSDATE": "2019-10-13", "PLANID": "HD1", "SPID": 7,
             "FIBERID": 100}  # fmt: skip
    del cards[drop]
    got = header_ids(_header_file(tmp_path / "s.fits", **cards))
    assert got == {"RA": 1.5, "DEC": 2.5, "SPECID": ""}


def test_header_ids_with_an_empty_specid_keyword_have_no_specid(tmp_path):
    path = _header_file(tmp_path / "s.fits", OBSDATE="2019-10-13", PLANID="", SPID=7, FIBERID=1)
    got = header_ids(path)
    assert got["SPECID"] == "" and np.isnan(got["RA"]) and np.isnan(got["DEC"])


def test_header_ids_of_an_unreadable_or_missing_file_are_empty(tmp_path):
    garbage = tmp_path / "g.fits"
    garbage.write_bytes(b"this is not a FITS file\n" * 200)
    for path in (garbage, tmp_path / "missing.fits"):
        got = header_ids(path)
        assert list(got) == ["RA", "DEC", "SPECID"]
        assert np.isnan(got["RA"]) and np.isnan(got["DEC"]) and got["SPECID"] == ""


# ---------------------------------------------------------------------- reading a shard
def test_hdf5_rows_reads_the_rows_as_float64(tmp_path):
    flux = np.arange(20, dtype=np.float32).reshape(4, 5)
    path = _h5(tmp_path / "f.h5", wavelength=WL[:5].astype(np.float32), flux=flux,
               ivar=flux + 100)  # fmt: skip
    wl, f, w = _hdf5_rows(str(path), 1, 3)
    assert wl.dtype == f.dtype == w.dtype == np.float64
    assert np.array_equal(wl, WL[:5].astype(np.float32).astype(np.float64))
    assert np.array_equal(f, flux[1:3]) and np.array_equal(w, flux[1:3] + 100)
    assert _hdf5_rows(str(path), 3, 4)[1].shape == (1, 5)
    one = _h5(tmp_path / "one.h5", wavelength=WL[:5], flux=np.ones(5), ivar=np.full(5, 2.0))
    _, f, w = _hdf5_rows(str(one), 0, 1)
    assert f.shape == w.shape == (1, 5) and np.array_equal(w, np.full((1, 5), 2.0))


def test_read_shard_hdf5_gives_the_rows_of_its_range_cleaned(data):
    inputs = resolve(data.h5)
    flux, ivar, reasons = read_shard(inputs, Shard(1, 3, 6), WL)
    assert flux.shape == ivar.shape == (3, len(WL))
    assert reasons == ["", "", ""]
    assert np.array_equal(flux[[0, 2]], data.flux[[3, 5]])
    assert np.array_equal(ivar[[0, 2]], data.ivar[[3, 5]])
    assert not flux[1].any() and not ivar[1].any()  # the all-NaN star: masked, flux 0
    flux, ivar, reasons = read_shard(inputs, Shard(2, 6, 7), WL)  # the short last shard
    assert flux.shape == (1, len(WL)) and reasons == [""]
    assert np.array_equal(flux[0], data.flux[6]) and np.array_equal(ivar[0], data.ivar[6])


def test_read_shard_hdf5_on_another_grid_is_resampled_silently(tmp_path, data):
    from phdl.fit import on_model_grid

    obs = 5000.0 * 10 ** (1e-4 * np.arange(300))
    flux = 1.0 - 0.1 * np.sin(np.arange(300) / 7.0)[None] * np.array([[1.0], [0.5]])
    ivar = np.full((2, 300), 1e4)
    path = write_spectra(tmp_path / "obs.h5", obs, flux, ivar)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got_f, got_w, reasons = read_shard(resolve(path), Shard(0, 1, 2), WL)
    assert caught == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want_f, want_w = on_model_grid(WL, obs, flux[1:2], ivar[1:2])
    assert np.array_equal(got_f, want_f) and np.array_equal(got_w, want_w)
    assert reasons == [""] and got_w.all()


def test_read_shard_hdf5_with_one_malformed_star_reads_the_others(tmp_path):
    ivar = np.ones((3, 5))
    ivar[1, 2] = -1.0
    path = write_spectra(tmp_path / "neg.h5", WL[:5], np.ones((3, 5)), ivar)
    flux, got_ivar, reasons = read_shard(resolve(path), Shard(0, 0, 3), WL[:5])
    assert reasons[0] == reasons[2] == "" and reasons[1] != ""
    assert not got_ivar[1].any() and got_ivar[[0, 2]].all()


def test_read_shard_fits_reads_each_file_and_names_the_unreadable(data):
    from phdl.io import read_lamost

    inputs = resolve(data.lamost[0].parent)
    assert inputs.n == 4
    flux, ivar, reasons = read_shard(inputs, Shard(0, 1, 3), WL)  # files 1 and 2 (garbage)
    assert flux.shape == ivar.shape == (2, len(WL))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        good = read_lamost([data.lamost[1]], WL)
        with pytest.raises(ValueError) as bad:
            read_lamost([data.lamost[2]], WL)
    assert np.array_equal(flux[0], good.flux[0]) and np.array_equal(ivar[0], good.ivar[0])
    assert ivar[0].any()
    assert reasons == ["", f"unreadable: {bad.value}"]
    assert "spec-02.fits" in reasons[1]
    assert not flux[1].any() and not ivar[1].any()  # zeros: all masked


def test_read_shard_fits_of_a_vanished_file_and_no_redshift_warns_nothing(tmp_path, data):
    flux = 900.0 * np.ones(300)
    no_z = _lamost(tmp_path / "a-noz.fits", flux, {"RA": 1.0})  # no Z: a LamostWarning
    gone = tmp_path / "b-gone.fits"
    _lamost(gone, flux, {"Z": 0.0})
    inputs = resolve(tmp_path)
    gone.unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got_f, got_w, reasons = read_shard(inputs, Shard(0, 0, 2), WL)
    assert caught == []
    assert reasons[0] == "" and got_w[0].any()
    assert reasons[1].startswith("unreadable: ") and str(gone) in reasons[1]
    assert not got_w[1].any() and not got_f[1].any()
    assert inputs.files[0] == str(no_z)


def test_read_shard_hdf5_names_a_malformed_star_by_its_input_index(tmp_path):
    from phdl.fit import on_model_grid

    ivar = np.ones((5, 5))
    ivar[3, 2] = -1.0
    path = write_spectra(tmp_path / "neg.h5", WL[:5], np.ones((5, 5)), ivar)
    with pytest.raises(ValueError) as info:
        on_model_grid(WL[:5], WL[:5], np.ones((1, 5)), ivar[3:4])
    _, got_ivar, reasons = read_shard(resolve(path), Shard(1, 2, 5), WL[:5])
    assert reasons == ["", f"unreadable: star 3: {info.value}", ""]  # star 3 = shard row 1
    assert not got_ivar[1].any() and got_ivar[[0, 2]].all()


def test_read_shard_hdf5_reads_only_the_shard_s_rows(data, monkeypatch):
    import phdl.catalog.inputs as inputs_module

    real, read = inputs_module._hdf5_rows, []

    def spy(path, start, stop):
        got = real(path, start, stop)
        read.append(got[1].shape[0])
        return got

    monkeypatch.setattr(inputs_module, "_hdf5_rows", spy)
    flux, _, _ = read_shard(resolve(data.h5), Shard(1, 3, 6), WL)
    assert read == [3]  # of N = 7 stars
    assert np.array_equal(flux[[0, 2]], data.flux[[3, 5]])


def test_read_shard_silences_only_resampling_and_lamost_warnings(data, monkeypatch):
    import phdl.fit
    import phdl.io
    from phdl.fit import ResampleWarning
    from phdl.io import LamostWarning

    real_grid, real_lamost = phdl.fit.on_model_grid, phdl.io.read_lamost

    def on_model_grid(*args):
        warnings.warn("resampled", ResampleWarning, stacklevel=2)
        warnings.warn("odd pixels", RuntimeWarning, stacklevel=2)
        return real_grid(*args)

    def read_lamost(*args):
        warnings.warn("no Z", LamostWarning, stacklevel=2)
        warnings.warn("odd header", UserWarning, stacklevel=2)
        return real_lamost(*args)

    monkeypatch.setattr(phdl.fit, "on_model_grid", on_model_grid)
    monkeypatch.setattr(phdl.io, "read_lamost", read_lamost)
    for inputs in (resolve(data.h5), resolve(data.lamost[0].parent)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            read_shard(inputs, Shard(0, 0, 2), WL)
        assert sorted(str(w.message) for w in caught) == (
            ["odd pixels"] if inputs.kind == "hdf5" else ["odd header"] * 2
        )  # an HDF5 shard is resampled in one call, LAMOST files one by one


# ============================================================================== shard.py
def _bare_job(tmp_path, **kw) -> Job:
    inputs = Inputs("hdf5", "/data/s.h5", ids=_empty_ids(N), n=N, key="inputs-key-1")
    return Job("/m/a.pt", "sha-a", inputs, str(tmp_path / "shards"), **kw)


def test_job_defaults_and_options(tmp_path):
    job = _bare_job(tmp_path)
    assert (job.strategy, job.seed, job.flags, job.batch_size) == ("fast", 0, True, 64)
    assert (job.start_model_path, job.start_model_sha256) == ("", "")
    assert (job.calibration_path, job.calibration_sha256) == ("", "")
    assert job.options() == {"strategy": "fast", "seed": 0, "flags": "screen", "start_model": ""}
    assert list(job.options()) == ["strategy", "seed", "flags", "start_model"]
    other = _bare_job(tmp_path, strategy="two-stage", seed=np.int64(5), flags=False,
                      batch_size=3, start_model_path="/m/s.pt", start_model_sha256="sha-s",
                      calibration_path="/c.json", calibration_sha256="sha-c")  # fmt: skip
    opts = other.options()
    assert opts == {"strategy": "two-stage", "seed": 5, "flags": "none", "start_model": "sha-s"}
    assert type(opts["seed"]) is int
    json.dumps(opts)  # JSON-serialisable (the sidecar)
    assert job.inputs_key() == "inputs-key-1"


def test_shard_paths(tmp_path):
    assert shard_paths(tmp_path, 7) == (tmp_path / "shard-000007.fits",
                                        tmp_path / "shard-000007.json")  # fmt: skip
    assert shard_paths(str(tmp_path), 0)[0] == tmp_path / "shard-000000.fits"
    assert shard_paths(tmp_path, 1234567)[1] == tmp_path / "shard-1234567.json"


def test_sidecar_records_model_options_inputs_stars_and_version(tmp_path):
    job = _bare_job(tmp_path, seed=2, flags=False)
    side = sidecar(job, Shard(1, 3, 6))
    assert side == {
        "model_sha256": "sha-a",
        "options": {"strategy": "fast", "seed": 2, "flags": "none", "start_model": ""},
        "inputs": "inputs-key-1",
        "stars": [3, 6],
        "phdl_version": phdl.__version__,
    }
    assert list(side) == ["model_sha256", "options", "inputs", "stars", "phdl_version"]


def _finish(job: Job, shard: Shard, side: dict | str | None = None, table: bool = True):
    table_path, side_path = shard_paths(job.shard_dir, shard.index)
    table_path.parent.mkdir(parents=True, exist_ok=True)
    if table:
        table_path.write_bytes(b"a table")
    if side is not None:
        side_path.write_text(side if isinstance(side, str) else json.dumps(side))
    return side_path


def test_finished_needs_the_table_and_a_matching_sidecar(tmp_path):
    job, shard = _bare_job(tmp_path), Shard(1, 3, 6)
    assert finished(job, shard) is False  # nothing
    _finish(job, shard, table=True)
    assert finished(job, shard) is False  # a table without its sidecar
    shard_paths(job.shard_dir, 1)[0].unlink()
    _finish(job, shard, sidecar(job, shard), table=False)
    assert finished(job, shard) is False  # a sidecar without its table
    _finish(job, shard, sidecar(job, shard))
    assert finished(job, shard) is True
    old = dict(sidecar(job, shard), phdl_version="0.0.1")  # another phdl: still the same rows
    _finish(job, shard, old)
    assert finished(job, shard) is True


@pytest.mark.parametrize("torn", ['{"model_sha256": "', "", "\udcff"])
def test_finished_is_false_for_a_torn_sidecar(tmp_path, torn):
    job, shard = _bare_job(tmp_path), Shard(0, 0, 3)
    side = _finish(job, shard)
    side.write_bytes(torn.encode("utf-8", "surrogateescape"))  # bad JSON, bad UTF-8
    assert finished(job, shard) is False


def test_finished_refuses_a_shard_of_another_model_naming_what_differs(tmp_path):
    job, shard = _bare_job(tmp_path), Shard(1, 3, 6)
    side = _finish(job, shard, dict(sidecar(job, shard), model_sha256="sha-b"))
    with pytest.raises(ShardMismatch) as info:
        finished(job, shard)
    assert str(info.value) == (
        f"{side} was made with another model ('sha-b', this run 'sha-a'); use another --out, "
        f"or delete {tmp_path / 'shards'} to refit"
    )


@pytest.mark.parametrize(
    ("key", "value", "name"),
    [("options", {"strategy": "fast", "seed": 1, "flags": "screen", "start_model": ""},
      "options"),
     ("inputs", "inputs-key-2", "inputs"), ("stars", [3, 7], "stars"),
     ("stars", [2, 6], "stars")],
)  # fmt: skip
def test_finished_refuses_other_options_inputs_or_star_range(tmp_path, key, value, name):
    job, shard = _bare_job(tmp_path), Shard(1, 3, 6)
    want = sidecar(job, shard)
    side = _finish(job, shard, dict(want, **{key: value}))
    with pytest.raises(ShardMismatch) as info:
        finished(job, shard)
    assert str(info.value).startswith(
        f"{side} was made with another {name} ({value!r}, this run {want[key]!r}); "
    )


def test_finished_checks_the_model_first_and_a_missing_key_differs(tmp_path):
    job, shard = _bare_job(tmp_path), Shard(0, 0, 3)
    _finish(job, shard, dict(sidecar(job, shard), model_sha256="x", options={}, stars=[0, 1]))
    with pytest.raises(ShardMismatch, match=r"another model \('x'"):
        finished(job, shard)
    _finish(job, shard, {"options": sidecar(job, shard)["options"]})
    with pytest.raises(ShardMismatch, match=r"another model \(None, this run 'sha-a'\)"):
        finished(job, shard)


class _Libc:
    def __init__(self, results):
        self.results = list(results)
        self.calls = []

    def mallopt(self, option, value):
        self.calls.append((option, value))
        return self.results.pop(0)


def _fake_libc(monkeypatch, libc, found="libc-test.so.6"):
    asked, opened = [], []
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: asked.append(name) or found)

    def cdll(name):
        opened.append(name)
        if isinstance(libc, Exception):
            raise libc
        return libc

    monkeypatch.setattr(ctypes, "CDLL", cdll)
    return asked, opened


def test_tune_malloc_sets_the_mmap_and_trim_thresholds(monkeypatch):
    libc = _Libc([1, 1])
    asked, opened = _fake_libc(monkeypatch, libc)
    assert tune_malloc() is True
    assert libc.calls == [(-3, 64 << 20), (-1, 128 << 20)]
    assert (asked, opened) == (["c"], ["libc-test.so.6"])


def test_tune_malloc_falls_back_to_libc_so_6(monkeypatch):
    _, opened = _fake_libc(monkeypatch, _Libc([1, 1]), found=None)
    assert tune_malloc() is True and opened == ["libc.so.6"]


@pytest.mark.parametrize("results", [[0, 1], [1, 0], [0, 0]])
def test_tune_malloc_is_false_when_mallopt_refuses(monkeypatch, results):
    _fake_libc(monkeypatch, _Libc(results))
    assert tune_malloc() is False


@pytest.mark.parametrize("libc", [OSError("no libc"), object()])
def test_tune_malloc_is_false_without_glibc(monkeypatch, libc):
    _fake_libc(monkeypatch, libc)
    assert tune_malloc() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tune_malloc_on_this_glibc():
    assert tune_malloc() is True


def test_worker_model_loads_once_per_path_and_hash(monkeypatch):
    import torch

    import phdl.emulator

    loads, tuned, threads = [], [], []
    monkeypatch.setattr(shard_module, "_MODELS", {})
    monkeypatch.setattr(phdl.emulator, "load", lambda p: loads.append(p) or SimpleNamespace(p=p))
    monkeypatch.setattr(shard_module, "tune_malloc", lambda: tuned.append(1) or True)
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    first = worker_model("/m/a.pt", "sha-a")
    assert first.p == "/m/a.pt" and (loads, tuned, threads) == (["/m/a.pt"], [1], [1])
    assert worker_model("/m/a.pt", "sha-a") is first
    assert (loads, tuned, threads) == (["/m/a.pt"], [1], [1])  # cached: nothing again
    other = worker_model("/m/a.pt", "sha-b")  # a new file at the same path
    assert other is not first and loads == ["/m/a.pt"] * 2
    third = worker_model("/m/b.pt", "sha-a")
    assert third.p == "/m/b.pt" and loads == ["/m/a.pt", "/m/a.pt", "/m/b.pt"]
    assert tuned == [1] and threads == [1, 1, 1]  # malloc tuned on the first load only
    assert shard_module._MODELS == {("/m/a.pt", "sha-a"): first, ("/m/a.pt", "sha-b"): other,
                                    ("/m/b.pt", "sha-a"): third}  # fmt: skip


def test_worker_model_loads_the_checkpoint(data, monkeypatch):
    import torch

    monkeypatch.setattr(shard_module, "_MODELS", {})
    model = worker_model(str(data.a), "sha")
    assert np.allclose(model.wavelength, WL, rtol=1e-12) and torch.get_num_threads() == 1


# -------------------------------------------------------------------------------- fit_rows
def test_fit_rows_fits_a_shard_into_table4_rows(data, tmp_path):
    from phdl.emulator import load

    job = _job(data, tmp_path, flags=True)
    rows = fit_rows(job, load(data.a), Shard(1, 3, 6))
    assert rows.colnames == columns() and len(rows) == 3
    assert list(rows["SOURCEID"]) == list(SOURCEIDS[3:6])
    assert list(rows["SPECID"]) == list(_ids(N)["SPECID"][3:6])
    assert list(rows["RA"]) == list(_ids(N)["RA"][3:6])
    assert rows["reason"][0] == rows["reason"][2] == "ok"
    assert rows["reason"][1].startswith("no usable pixels")  # star 4, all NaN
    for x in XFE:
        assert rows[f"{x}_flag"][1] == -1 and 0 <= rows[f"{x}_flag"][0] <= 15, x
    for name in (*PARAMS, *XFE):
        assert np.isnan(rows[name][1]) and np.isfinite(rows[name][[0, 2]]).all(), name
        assert (rows[f"{name}_err"][[0, 2]] > 0).all(), name


def _record_fit(monkeypatch, status=None):
    """fit_spectra and add_uncertainties replaced by recorders (a synthetic fit table)."""
    import phdl.fit
    import phdl.uncertainty

    seen = {}

    def fit_spectra(model, wavelength, flux, ivar, **kw):
        seen["fit"] = (model, wavelength, flux.copy(), ivar.copy(), kw)
        return _fit_table(len(flux), status=status)

    def add_uncertainties(fit, model, flux, ivar, **kw):
        seen["unc"] = (fit, model, flux, ivar, kw)

    monkeypatch.setattr(phdl.fit, "fit_spectra", fit_spectra)
    monkeypatch.setattr(phdl.uncertainty, "add_uncertainties", add_uncertainties)
    return seen


def test_fit_rows_passes_the_job_s_options_to_the_fit(data, tmp_path, monkeypatch):
    seen = _record_fit(monkeypatch)
    model = SimpleNamespace(wavelength=WL)
    job = _job(data, tmp_path, strategy="two-stage", seed=11, flags=True, batch_size=5)
    rows = fit_rows(job, model, Shard(2, 4, 7))
    got_model, wavelength, flux, ivar, kw = seen["fit"]
    assert got_model is model and wavelength is WL
    assert flux.shape == (3, len(WL))
    assert set(kw) == {"strategy", "seed", "star_index", "batch_size", "progress"}
    assert (kw["strategy"], kw["seed"], kw["batch_size"], kw["progress"]) == (
        "two-stage", 11, 5, False)  # fmt: skip
    assert np.array_equal(kw["star_index"], [4, 5, 6])
    fit, unc_model, unc_flux, _, unc_kw = seen["unc"]
    assert unc_model is model and unc_flux.shape == (3, len(WL))
    assert unc_kw == {"flags": "screen", "screen_model": None}
    assert list(rows["SOURCEID"]) == list(SOURCEIDS[4:7])
    assert list(rows["Chisq"]) == list(fit["Chisq"])
    job = _job(data, tmp_path, flags=False)
    fit_rows(job, model, Shard(0, 0, 1))
    assert seen["unc"][4] == {"flags": False, "screen_model": None}


def test_fit_rows_uses_the_start_model_for_the_fit_and_the_screen(data, tmp_path, monkeypatch):
    seen = _record_fit(monkeypatch)
    loaded = []

    def start_model(path, sha):
        loaded.append((path, sha))
        return "the start model"

    monkeypatch.setattr(shard_module, "worker_model", start_model)
    job = _job(data, tmp_path, start_model_path="/m/start.pt", start_model_sha256="sha-s")
    fit_rows(job, SimpleNamespace(wavelength=WL), Shard(0, 0, 2))
    assert loaded == [("/m/start.pt", "sha-s")]
    assert seen["fit"][4]["start_model"] == "the start model"
    assert seen["unc"][4] == {"flags": "screen", "screen_model": "the start model"}


def test_fit_rows_masks_the_unread_stars_and_keeps_their_reasons(data, tmp_path, monkeypatch):
    seen = _record_fit(monkeypatch, status=["ok", "ok", "ok"])
    monkeypatch.setattr(
        shard_module, "read_shard",
        lambda inputs, shard, wl: (np.ones((3, 4)), np.ones((3, 4)), ["", "unreadable: x", ""]),
    )  # fmt: skip
    rows = fit_rows(_job(data, tmp_path), SimpleNamespace(wavelength=WL[:4]), Shard(0, 0, 3))
    ivar = seen["fit"][3]
    assert not ivar[1].any() and ivar[[0, 2]].all()
    assert list(rows["reason"]) == ["ok", "unreadable: x", "ok"]
    assert rows["[Mg/Fe]_flag"][1] == -1 and rows["[Mg/Fe]_flag"][0] >= 0


# ------------------------------------------------------------------------------- run_shard
def test_run_shard_writes_its_table_then_its_sidecar(data, tmp_path, monkeypatch):
    shard_dir = tmp_path / "deep" / "c.fits.shards"  # created
    job = _job(data, shard_dir, flags=False)
    monkeypatch.setattr(shard_module, "_MODELS", {})
    path = run_shard(job, Shard(1, 3, 6))
    table, side = shard_paths(shard_dir, 1)
    assert path == str(table) and isinstance(path, str)
    assert sorted(p.name for p in shard_dir.iterdir()) == ["shard-000001.fits", "shard-000001.json"]
    rows = read_table(table)
    assert rows.colnames == columns()
    assert list(rows["SOURCEID"]) == list(SOURCEIDS[3:6])
    assert (rows.meta["SHARD"], rows.meta["FIRST"]) == (1, 3)
    assert side.read_text() == json.dumps(sidecar(job, Shard(1, 3, 6)), indent=1)
    assert json.loads(side.read_text())["stars"] == [3, 6]
    assert list(shard_module._MODELS) == [(str(data.a), job.model_sha256)]
    assert finished(job, Shard(1, 3, 6))


def test_run_shard_does_not_refit_a_finished_shard(data, tmp_path, monkeypatch):
    calls = _fake_fit(monkeypatch)
    job = _job(data, tmp_path / "shards")
    shard = Shard(0, 0, 3)
    first = run_shard(job, shard)
    assert len(calls) == 1 and calls[0] == (("model", job.model_path, job.model_sha256), shard)
    before = {p: p.stat().st_mtime_ns for p in shard_paths(job.shard_dir, 0)}
    assert run_shard(job, shard) == first
    assert len(calls) == 1
    assert {p: p.stat().st_mtime_ns for p in shard_paths(job.shard_dir, 0)} == before


def test_run_shard_refuses_a_shard_of_another_model(data, tmp_path, monkeypatch):
    calls = _fake_fit(monkeypatch)
    job = _job(data, tmp_path / "shards")
    run_shard(job, Shard(0, 0, 3))
    other = Job(str(data.b), "sha-b", job.inputs, job.shard_dir)
    with pytest.raises(ShardMismatch, match="another model"):
        run_shard(other, Shard(0, 0, 3))
    assert len(calls) == 1


def test_run_shard_writes_the_sidecar_only_after_the_table(data, tmp_path, monkeypatch):
    import phdl.fit

    _fake_fit(monkeypatch)
    job = _job(data, tmp_path / "shards")
    table, side = shard_paths(job.shard_dir, 2)
    real, seen = phdl.fit.write_table, []

    def write(rows, path):
        seen.append((Path(path) == table, side.exists()))
        return real(rows, path)

    monkeypatch.setattr(phdl.fit, "write_table", write)
    run_shard(job, Shard(2, 6, 7))
    assert seen == [(True, False)] and side.is_file() and table.is_file()


def test_run_shard_that_fails_leaves_no_files(data, tmp_path, monkeypatch):
    def boom(shard):
        raise ValueError("boom")

    _fake_fit(monkeypatch, rows=boom)
    job = _job(data, tmp_path / "shards")
    with pytest.raises(ValueError, match="boom"):
        run_shard(job, Shard(0, 0, 3))
    assert list(Path(job.shard_dir).iterdir()) == []


def test_run_shard_refits_a_shard_with_a_torn_sidecar(data, tmp_path, monkeypatch):
    calls = _fake_fit(monkeypatch)
    job = _job(data, tmp_path / "shards")
    shard_dir = Path(job.shard_dir)
    shard_dir.mkdir()
    shard_paths(shard_dir, 0)[0].write_bytes(b"stale")
    shard_paths(shard_dir, 0)[1].write_text('{"model_sha')
    run_shard(job, Shard(0, 0, 3))
    assert len(calls) == 1 and finished(job, Shard(0, 0, 3))
    assert len(read_table(shard_paths(shard_dir, 0)[0])) == 3
    assert _no_tmp(shard_dir) == []


# ============================================================================= table4.py
def test_columns_are_table4_s_in_order_then_reason():
    cols = columns()
    head = ["RA", "DEC", "SOURCEID", "SPECID", "UQFLAG", "Teff", "Teff_err", "logg",
            "logg_err", "[Fe/H]", "[Fe/H]_err"]  # fmt: skip
    xfe = [f"[{e}/Fe]" for e in ELEMENTS]
    want = [*head, *xfe, *(f"{x}_err" for x in xfe), *(f"{x}_flag" for x in xfe), "Chisq",
            *(f"{x}_uncali" for x in xfe), "reason"]  # fmt: skip
    assert cols == want and len(cols) == 113


def test_units_are_deg_k_and_dex():
    want = {"RA": "deg", "DEC": "deg", "Teff": "K", "Teff_err": "K", "logg": "dex",
            "logg_err": "dex", "[Fe/H]": "dex", "[Fe/H]_err": "dex"}  # fmt: skip
    for x in XFE:
        want[x] = want[f"{x}_err"] = want[f"{x}_uncali"] = "dex"
    got = units()
    assert got == want and list(got) == list(want) and len(got) == 83
    assert "[Fe/H]_uncali" not in got and "Chisq" not in got


def test_fit_column_maps_each_kind_of_column():
    fit = _fit_table(3)
    got = _fit_column(fit, "[Mg/Fe]_uncali")
    assert got.dtype == np.float64 and np.array_equal(got, fit["[Mg/Fe]"])
    got = _fit_column(fit, "[Mg/Fe]_err")
    assert got.dtype == np.float64 and np.array_equal(got, fit["[Mg/Fe]_err_scaled"])
    got = _fit_column(fit, "[Mg/Fe]_flag")
    assert got.dtype == np.int64 and np.array_equal(got, fit["[Mg/Fe]_flag"])
    got = _fit_column(fit, "Teff")
    assert got.dtype == np.float64 and np.array_equal(got, fit["Teff"])
    bare = _fit_table(2, errors=False, flags=False)
    got = _fit_column(bare, "logg_err")
    assert got.dtype == np.float64 and got.shape == (2,) and np.isnan(got).all()
    got = _fit_column(bare, "[Eu/Fe]_flag")
    assert got.dtype == np.int64 and list(got) == [-1, -1]


def test_empty_catalogue_has_every_column_with_its_dtype():
    got = empty()
    assert got.colnames == columns() and len(got) == 0
    assert got["RA"].dtype == np.float64 and got["SOURCEID"].dtype == np.int64
    assert got["SPECID"].dtype.kind == "U" and got["reason"].dtype.kind == "U"
    assert got["UQFLAG"].dtype == np.int64 and got["[Mg/Fe]_flag"].dtype == np.int64
    assert got["Teff"].dtype == np.float64 and got["[Mg/Fe]_uncali"].dtype == np.float64


def test_table4_maps_a_fit_table_to_the_columns_in_order():
    fit = _fit_table(3)
    ids = _ids(3)
    out = table4(fit, ids, ["", "", ""])
    assert out.colnames == columns() and len(out) == 3
    for name in ("RA", "DEC", "SOURCEID", "UQFLAG"):
        assert np.array_equal(out[name], ids[name]), name
    assert out["SOURCEID"].dtype == np.int64 and out["RA"].dtype == np.float64
    assert out["SPECID"].dtype.kind == "U" and list(out["SPECID"]) == list(ids["SPECID"])
    for name in FIT_LABELS:
        assert out[name].dtype == np.float64, name
        assert np.array_equal(out[name], fit[name]), name
        assert np.array_equal(out[f"{name}_err"], fit[f"{name}_err_scaled"]), name
    for x in XFE:
        assert np.array_equal(out[f"{x}_uncali"], fit[x]), x
        assert out[f"{x}_flag"].dtype == np.int64
        assert np.array_equal(out[f"{x}_flag"], fit[f"{x}_flag"]), x
    assert list(out["Chisq"]) == [1.5, 2.5, 3.5]
    assert out["reason"].dtype.kind == "U" and list(out["reason"]) == ["ok", "ok", "ok"]


def test_table4_reasons_come_from_reading_first_then_the_fit_s_status():
    fit = _fit_table(4, status=["ok", "no usable pixels", "ok", "diverged"])
    out = table4(fit, _ids(4), ["", "", "unreadable: x", "unreadable: y"])
    assert list(out["reason"]) == ["ok", "no usable pixels", "unreadable: x", "unreadable: y"]
    for x in XFE:
        assert list(out[f"{x}_flag"][1:]) == [-1, -1, -1], x
        assert out[f"{x}_flag"][0] == fit[f"{x}_flag"][0], x
    assert np.array_equal(out["Teff"], fit["Teff"])  # the labels as the fit gave them


def test_table4_without_ids_errors_or_flags_leaves_them_empty():
    fit = _fit_table(2, errors=False, flags=False)
    out = table4(fit, {}, ["", ""])
    assert out.colnames == columns()
    assert np.isnan(out["RA"]).all() and np.isnan(out["DEC"]).all()
    assert out["RA"].dtype == np.float64
    assert list(out["SOURCEID"]) == [-1, -1] and list(out["UQFLAG"]) == [-1, -1]
    assert out["SPECID"].dtype.kind == "U" and list(out["SPECID"]) == ["", ""]
    for name in FIT_LABELS:
        assert np.isnan(out[f"{name}_err"]).all(), name
    for x in XFE:
        assert list(out[f"{x}_flag"]) == [-1, -1], x
    assert list(out["reason"]) == ["ok", "ok"]


def test_table4_needs_one_reason_per_star():
    with pytest.raises(ValueError):
        table4(_fit_table(3), {}, ["", ""])


def _dtypes(table: Table) -> dict[str, str]:
    """Each column's kind and size ("f8", "i8"), any text as "text" (FITS reads it as bytes)."""
    kinds = {k: table[k].dtype for k in table.colnames}
    return {k: "text" if d.kind in "US" else f"{d.kind}{d.itemsize}" for k, d in kinds.items()}


def test_table4_has_the_empty_catalogue_s_dtypes_whatever_the_fit_s_widths(tmp_path):
    files = [_header_file(tmp_path / f"s{i}.fits", RA=1.0 + i, OBSDATE="2019-10-13", PLANID="P",
                          SPID=1, FIBERID=i + 1) for i in range(2)]  # fmt: skip
    ids = _fits(files).ids  # LAMOST inputs: SPECID held as Python objects
    assert ids["SPECID"].dtype == object
    fit = _fit_table(2)
    for name in fit.colnames:  # single precision floats, 32-bit flags
        if fit[name].dtype.kind == "f":
            fit[name] = fit[name].astype(np.float32)
    out = table4(fit, ids, ["", ""])
    assert _dtypes(out) == _dtypes(empty())
    assert list(out["SPECID"]) == ["2019-10-13-P-1-1", "2019-10-13-P-1-2"]
    assert np.array_equal(out["Teff_err"], fit["Teff_err_scaled"])
    back = read_table(write_table(out, tmp_path / "t.fits"))  # FITS takes text, not objects
    assert list(back["SPECID"]) == list(out["SPECID"]) and _dtypes(back) == _dtypes(out)


def test_table4_of_no_stars_is_the_empty_catalogue():
    out = table4(_fit_table(0), {}, [])
    assert out.colnames == columns() and len(out) == 0
    assert _dtypes(out) == _dtypes(empty())
    out = table4(_fit_table(0, errors=False, flags=False, status=np.zeros(0, dtype=str)), {}, [])
    assert _dtypes(out) == _dtypes(empty())


def test_calibrated_applies_a_calibration_keeping_the_fitted_values():
    from phdl.calibrate import Calibration, ZeroPoints

    rows = table4(_fit_table(3), _ids(3), ["", "", ""])
    before = rows.copy()
    d = {e: 0.01 * (i + 1) for i, e in enumerate(ELEMENTS)}
    cal = Calibration(zero=ZeroPoints(d=d, source=dict.fromkeys(ELEMENTS, "Hypatia")))
    out = calibrated(rows, cal)
    assert out.colnames == columns()
    for i, e in enumerate(ELEMENTS):
        x = f"[{e}/Fe]"
        assert np.allclose(out[x], rows[x] - 0.01 * (i + 1), rtol=0, atol=1e-12), x
        assert np.array_equal(out[f"{x}_uncali"], rows[x]), x
    for name in ("Teff", "logg", "[Fe/H]", "Chisq", "SOURCEID", "[Mg/Fe]_err", "[Mg/Fe]_flag"):
        assert np.array_equal(out[name], rows[name]), name
    for name in rows.colnames:  # the input is left as it was
        assert np.array_equal(rows[name], before[name]), name


def test_write_units_sets_tunit_of_the_columns_with_a_unit(tmp_path):
    table = Table()
    table["RA"] = [1.0]  # first
    table["SOURCEID"] = np.array([5], dtype=np.int64)
    table["Chisq"] = [1.0]
    table["Teff_err"] = [50.0]
    table["[Mg/Fe]_flag"] = [0]
    table["[Eu/Fe]_uncali"] = [0.1]  # last
    path = write_table(table, tmp_path / "t.fits")
    assert write_units(path) is None
    head = fits.getheader(path, 1)
    assert [head.get(f"TUNIT{i}") for i in range(1, 7)] == ["deg", None, None, "K", None, "dex"]
    back = read_table(path)
    assert str(back["RA"].unit) == "deg" and back["Chisq"].unit is None
    write_units(path)  # again: the same
    assert [fits.getheader(path, 1).get(f"TUNIT{i}") for i in (1, 4, 6)] == ["deg", "K", "dex"]


# ================================================================================ run.py
def test_catalog_run_fields():
    run = CatalogRun(Path("c.fits"), 2, 1, "http://x", {3: "boom"})
    assert (run.path, run.fitted, run.skipped, run.dashboard, run.failed) == (
        Path("c.fits"), 2, 1, "http://x", {3: "boom"})  # fmt: skip


class _FakeClient:
    """distributed.Client's stand-in for connect: records how it was made and closed."""

    made: list = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs, self.closed = args, kwargs, False
        _FakeClient.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True
        return False


def test_connect_to_a_scheduler_waits_connect_timeout_and_closes(monkeypatch):
    import distributed

    monkeypatch.setattr(_FakeClient, "made", [])
    monkeypatch.setattr(distributed, "Client", _FakeClient)
    monkeypatch.setattr(distributed, "LocalCluster", None)  # never started
    with connect("tcp://host:8786", 4) as client:
        assert client.args == ("tcp://host:8786",) and client.kwargs == {"timeout": "10s"}
        assert not client.closed
    assert client.closed and _FakeClient.made == [client]
    monkeypatch.setattr(run_module, "CONNECT_TIMEOUT", 3)
    with connect("tcp://host:8786", None) as client:
        assert client.kwargs == {"timeout": "3s"}


@pytest.mark.parametrize("error", [OSError("refused"), TimeoutError("slow"), ValueError("bad")])
def test_connect_to_no_scheduler_is_scheduler_unreachable(monkeypatch, error):
    import distributed

    def refuse(*args, **kwargs):
        raise error

    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(SchedulerUnreachable) as info, connect("tcp://host:1", None):
        pass
    assert str(info.value) == f"no Dask scheduler answered at tcp://host:1 within 10 s ({error})"
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_connect_lets_other_errors_through(monkeypatch):
    import distributed

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(distributed, "Client", broken)
    with pytest.raises(RuntimeError, match="a bug"), connect("tcp://host:1", None):
        pass


@_REAL_DASK
def test_connect_to_a_real_scheduler_in_this_process():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
        as cluster,
        Client(cluster),
    ):  # fmt: skip
        with connect(cluster.scheduler_address, None) as client:
            assert client.scheduler.address == cluster.scheduler_address
            assert client.submit(sum, [1, 2, 3]).result() == 6
        assert client.status == "closed"


@pytest.mark.parametrize(("workers", "cpus", "n"), [(3, 8, 3), (None, 5, 5), (None, None, 1),
                                                   (0, 6, 6)])  # fmt: skip
def test_connect_without_a_scheduler_starts_one_process_per_worker(monkeypatch, workers, cpus, n):
    import distributed

    clusters = []

    class Cluster(_FakeClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            clusters.append(self)

    monkeypatch.setattr(_FakeClient, "made", [])
    monkeypatch.setattr(distributed, "LocalCluster", Cluster)
    monkeypatch.setattr(distributed, "Client", _FakeClient)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    for scheduler in (None, ""):
        clusters.clear()
        with connect(scheduler, workers) as client:
            (cluster,) = clusters
            assert cluster.args == ()
            assert cluster.kwargs == {"n_workers": n, "threads_per_worker": 1, "processes": True,
                                      "dashboard_address": ":0",
                                      "silence_logs": logging.ERROR}  # fmt: skip
            assert client.args == (cluster,) and client.kwargs == {}
            assert not client.closed and not cluster.closed
        assert client.closed and cluster.closed


def test_make_job_records_the_paths_hashes_and_options(data, tmp_path):
    model = tmp_path / "m.pt"
    model.write_bytes(b"weights")
    out = tmp_path / "out" / "cat.fits"
    job = make_job(model, data.h5, out, strategy="full", seed=4, flags=False, batch_size=9)
    assert job.model_path == str(model) and job.model_sha256 == _sha(b"weights")
    assert job.shard_dir == str(tmp_path / "out" / "cat.fits.shards")
    assert (job.strategy, job.seed, job.flags, job.batch_size) == ("full", 4, False, 9)
    assert (job.start_model_path, job.start_model_sha256) == ("", "")
    assert (job.calibration_path, job.calibration_sha256) == ("", "")
    inputs = resolve(data.h5)
    assert (job.inputs.kind, job.inputs.source, job.inputs.n, job.inputs.key) == (
        inputs.kind, inputs.source, inputs.n, inputs.key)  # fmt: skip
    assert not Path(job.shard_dir).exists()  # made by the run, not the job
    default = make_job(model, data.h5, out)
    assert (default.strategy, default.seed, default.flags, default.batch_size) == (
        "fast", 0, True, 64)  # fmt: skip


def test_make_job_with_relative_paths_gives_absolute_ones(data, tmp_path, monkeypatch):
    (tmp_path / "m.pt").write_bytes(b"w")
    monkeypatch.chdir(tmp_path)
    job = make_job("m.pt", data.h5, "cat.fits", start_model="m.pt")
    assert job.model_path == str(tmp_path / "m.pt")
    assert job.shard_dir == str(tmp_path / "cat.fits.shards")
    assert job.start_model_path == str(tmp_path / "m.pt")


def test_make_job_with_a_start_model_and_a_calibration(data, tmp_path):
    from phdl.calibrate import Calibration, ZeroPoints

    model, start = tmp_path / "m.pt", tmp_path / "s.pt"
    model.write_bytes(b"weights")
    start.write_bytes(b"start weights")
    cal = Calibration(zero=ZeroPoints(d={"Mg": 0.1})).save(tmp_path / "cal.json")
    job = make_job(model, data.h5, tmp_path / "c.fits", start_model=start, calibration=cal)
    assert (job.start_model_path, job.start_model_sha256) == (str(start), _sha(b"start weights"))
    assert (job.calibration_path, job.calibration_sha256) == (str(cal), _sha(cal.read_bytes()))
    assert job.options()["start_model"] == _sha(b"start weights")


def test_make_job_names_a_missing_model_or_start_model(data, tmp_path):
    model = tmp_path / "m.pt"
    with pytest.raises(FileNotFoundError) as info:
        make_job(model, data.h5, tmp_path / "c.fits")
    assert str(info.value) == f"model checkpoint {model} not found"
    model.write_bytes(b"w")
    with pytest.raises(FileNotFoundError) as info:
        make_job(model, data.h5, tmp_path / "c.fits", start_model=tmp_path / "s.pt")
    assert str(info.value) == f"model checkpoint {tmp_path / 's.pt'} not found"
    with pytest.raises(FileNotFoundError, match="spectra"):
        make_job(model, tmp_path / "nope.h5", tmp_path / "c.fits")


def test_make_job_checks_the_calibration_before_any_fit(data, tmp_path):
    model = tmp_path / "m.pt"
    model.write_bytes(b"w")
    with pytest.raises(FileNotFoundError, match="no calibration file"):
        make_job(model, data.h5, tmp_path / "c.fits", calibration=tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        make_job(model, data.h5, tmp_path / "c.fits", calibration=broken)
    assert not (tmp_path / "c.fits.shards").exists()


def test_run_id_is_a_short_hash_of_inputs_model_options_and_folder(tmp_path):
    job = _bare_job(tmp_path)
    blob = json.dumps(["inputs-key-1", "sha-a", job.options(), job.shard_dir])
    assert _run_id(job) == _sha(blob.encode())[:12]
    differ = [replace(job, inputs=replace(job.inputs, key="inputs-key-2")),
              replace(job, model_sha256="sha-b"), replace(job, seed=1),
              replace(job, shard_dir=job.shard_dir + "2")]  # fmt: skip
    assert len({_run_id(job), *map(_run_id, differ)}) == 5
    same = [replace(job, batch_size=1), replace(job, calibration_sha256="c"),
            replace(job, model_path="/elsewhere.pt")]  # fmt: skip
    assert {_run_id(j) for j in same} == {_run_id(job)}


# ---------------------------------------------------------------------------------- merge
def _merge_job(data, tmp_path, **kw) -> Job:
    return _job(data, tmp_path / "c.fits.shards", **kw)


def test_merge_stacks_the_shards_in_input_order_with_the_provenance_header(data, tmp_path):
    job = _merge_job(data, tmp_path, seed=3, flags=False, strategy="fast")
    todo = shards(N, 3)
    for s in reversed(todo):
        _write_finished(job, s)
    out = tmp_path / "c.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no metadata-conflict warnings between the shards
        path = merge(job, todo, out)
    assert path == out and isinstance(path, Path)
    assert _no_tmp(tmp_path) == []
    table = read_table(out)
    assert table.colnames == columns() and len(table) == N
    assert list(table["SOURCEID"]) == list(SOURCEIDS)
    assert list(table["Teff"]) == [0, 1, 2, 3, 4, 5, 6]  # _rows: shard start + row
    assert list(table.meta) == META_KEYS
    assert dict(table.meta) == {
        "MODEL": "a.pt", "MODELSHA": job.model_sha256, "STARTMOD": "none",
        "PHDLVER": phdl.__version__, "STRATEGY": "fast", "SEED": 3, "FLAGS": False,
        "CALIB": "none", "CALIBSHA": "none", "NSTARS": N, "NSHARDS": 3, "SPECTRA": "spectra.h5",
        "NBAD": 0,
    }  # fmt: skip
    assert str(table["RA"].unit) == "deg" and str(table["Teff_err"].unit) == "K"
    assert str(table["[Eu/Fe]_uncali"].unit) == "dex" and table["Chisq"].unit is None
    assert fits.getheader(out, 1)["FLAGS"] is False


def test_merge_counts_the_bad_stars_and_names_the_start_model(data, tmp_path):
    job = _merge_job(data, tmp_path, start_model_path="/m/start.pt", start_model_sha256="s")
    todo = shards(N, 4)
    for s in todo:
        reasons = ["unreadable: x" if i in (1, 5) else "" for i in range(s.start, s.stop)]
        table, _ = shard_paths(job.shard_dir, s.index)
        table.parent.mkdir(parents=True, exist_ok=True)
        write_table(_rows(s, reasons), table)
    meta = read_table(merge(job, todo, tmp_path / "c.fits")).meta
    assert (meta["NBAD"], meta["STARTMOD"], meta["NSHARDS"], meta["FLAGS"]) == (
        2, "start.pt", 2, True)  # fmt: skip


def test_merge_applies_the_job_s_calibration(data, tmp_path):
    from phdl.calibrate import Calibration, ZeroPoints

    d = {e: 0.25 for e in ELEMENTS}
    cal = Calibration(zero=ZeroPoints(d=d)).save(tmp_path / "cal.json")
    job = _merge_job(data, tmp_path, calibration_path=str(cal), calibration_sha256="sha-c")
    todo = shards(N, 3)
    for s in todo:
        _write_finished(job, s)
    table = read_table(merge(job, todo, tmp_path / "c.fits"))
    uncalibrated = replace(job, calibration_path="", calibration_sha256="")
    plain = read_table(merge(uncalibrated, todo, tmp_path / "plain.fits"))
    assert table.colnames == columns()
    for x in XFE:
        assert np.allclose(table[x], plain[x] - 0.25, rtol=0, atol=1e-12), x
        assert np.array_equal(table[f"{x}_uncali"], plain[x]), x
    assert np.array_equal(table["Teff"], plain["Teff"])
    assert (table.meta["CALIB"], table.meta["CALIBSHA"]) == ("cal.json", "sha-c")
    assert "SHARD" not in table.meta and "FIRST" not in table.meta


def test_merge_of_no_stars_skips_the_calibration(tmp_path):
    inputs = Inputs("hdf5", str(tmp_path / "empty.h5"), ids=_empty_ids(0), n=0, key="k")
    job = Job(str(tmp_path / "m.pt"), "sha", inputs, str(tmp_path / "s"),
              calibration_path=str(tmp_path / "missing.json"))  # fmt: skip
    table = read_table(merge(job, [], tmp_path / "c.fits"))
    assert len(table) == 0
    assert (table.meta["NBAD"], table.meta["NSTARS"], table.meta["NSHARDS"]) == (0, 0, 0)
    assert table.meta["CALIB"] == "missing.json"


def test_the_catalogue_of_no_stars_has_table4_s_columns(tmp_path):
    inputs = Inputs("hdf5", str(tmp_path / "empty.h5"), ids=_empty_ids(0), n=0, key="k")
    job = Job(str(tmp_path / "m.pt"), "sha", inputs, str(tmp_path / "s"))
    assert read_table(merge(job, [], tmp_path / "c.fits")).colnames == columns()


# ---------------------------------------------------------------------------- run_catalog
class _Future:
    def __init__(self, status, error=None):
        self.status, self.error = status, error

    def exception(self):
        return self.error


class _RunClient:
    """A Dask client's stand-in that runs each task at once, recording the submissions."""

    def __init__(self, dashboard_link):
        self.dashboard_link = dashboard_link
        self.submitted = []

    def submit(self, task, job, shard, **kw):
        self.submitted.append((shard.index, kw))
        try:
            task(job, shard)
        except Exception as exc:  # a task's error becomes its future's
            return _Future("error", exc)
        return _Future("finished")


def _fake_cluster(monkeypatch, dashboard_link="http://dash:8787/status"):
    import distributed

    seen = SimpleNamespace(connects=[], client=_RunClient(dashboard_link))

    @contextlib.contextmanager
    def fake_connect(scheduler, workers):
        seen.connects.append((scheduler, workers))
        yield seen.client

    monkeypatch.setattr(run_module, "connect", fake_connect)
    # completion order is not input order
    monkeypatch.setattr(distributed, "as_completed", lambda futures: list(futures)[::-1])
    return seen


def test_run_catalog_submits_the_unfinished_shards_and_merges(data, tmp_path, monkeypatch, capsys):
    _fake_fit(monkeypatch)
    seen = _fake_cluster(monkeypatch)
    out = tmp_path / "deep" / "c.fits"
    job = make_job(data.a, data.h5, out, flags=False)
    _write_finished(job, Shard(1, 3, 6))
    run = run_catalog(job, out, shard_size=3, scheduler="tcp://h:1", workers=5, progress=False)
    assert run == CatalogRun(out, 2, 1, "http://dash:8787/status", {})
    assert seen.connects == [("tcp://h:1", 5)]
    rid = _run_id(job)
    assert seen.client.submitted == [
        (i, {"key": f"phdl-shard-{i}-{rid}", "retries": 2, "pure": False}) for i in (0, 2)
    ]
    table = read_table(out)
    assert list(table["SOURCEID"]) == list(SOURCEIDS)
    assert table.meta["NSHARDS"] == 3
    err = capsys.readouterr().err
    assert "phdl: Dask dashboard: http://dash:8787/status\n" in err
    assert "catalog:" not in err  # progress=False


def test_run_catalog_shows_progress_and_no_dashboard(data, tmp_path, monkeypatch, capsys):
    _fake_fit(monkeypatch)
    _fake_cluster(monkeypatch, dashboard_link=None)
    out = tmp_path / "c.fits"
    job = make_job(data.a, data.h5, out)
    _write_finished(job, Shard(0, 0, 3))
    run = run_catalog(job, out, shard_size=3)
    assert (run.dashboard, run.fitted, run.skipped) == ("", 2, 1)
    err = capsys.readouterr().err
    assert "phdl: Dask dashboard: none\n" in err
    assert "catalog:" in err and "1/3" in err and "3/3" in err and "shard/s" in err


def test_run_catalog_reports_failed_shards_and_writes_no_catalogue(data, tmp_path, monkeypatch):
    _fake_fit(monkeypatch)
    _fake_cluster(monkeypatch)
    out = tmp_path / "c.fits"
    job = make_job(data.a, data.h5, out)
    error = ValueError("boom in shard 1")

    def task(job, shard):
        if shard.index == 1:
            raise error
        return run_shard(job, shard)

    run = run_catalog(job, out, shard_size=3, progress=False, task=task)
    assert run == CatalogRun(None, 2, 0, "http://dash:8787/status", {1: repr(error)})
    assert not out.exists()
    assert [finished(job, s) for s in shards(N, 3)] == [True, False, True]


def test_run_catalog_with_every_shard_finished_starts_no_cluster(data, tmp_path, monkeypatch):
    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(run_module, "connect", no_cluster)
    out = tmp_path / "c.fits"
    job = make_job(data.a, data.h5, out)
    for s in shards(N, 2):
        _write_finished(job, s)
    run = run_catalog(job, out, shard_size=2, progress=True)
    assert run == CatalogRun(out, 0, 4, "", {})
    assert list(read_table(out)["SOURCEID"]) == list(SOURCEIDS)


def test_run_catalog_checks_every_shard_before_any_work(data, tmp_path, monkeypatch):
    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(run_module, "connect", no_cluster)
    out = tmp_path / "c.fits"
    job = make_job(data.a, data.h5, out)
    _write_finished(replace(job, seed=99), Shard(2, 6, 7))  # the last shard: other options
    with pytest.raises(ShardMismatch, match="another options"):
        run_catalog(job, out, shard_size=3, progress=False)
    assert not out.exists()


def test_run_catalog_of_no_stars_makes_the_shard_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "connect", None)
    inputs = Inputs("hdf5", str(tmp_path / "empty.h5"), ids=_empty_ids(0), n=0, key="k")
    job = Job(str(tmp_path / "m.pt"), "sha", inputs, str(tmp_path / "a" / "b.shards"))
    run = run_catalog(job, tmp_path / "c.fits", progress=False)
    assert run == CatalogRun(tmp_path / "c.fits", 0, 0, "", {})
    assert (tmp_path / "a" / "b.shards").is_dir()


def test_run_catalog_cuts_64_stars_per_shard_by_default(tmp_path, monkeypatch):
    seen = _fake_cluster(monkeypatch)
    inputs = Inputs("hdf5", str(tmp_path / "s.h5"), ids=_empty_ids(65), n=65, key="k")
    job = Job(str(tmp_path / "m.pt"), "sha", inputs, str(tmp_path / "c.fits.shards"))
    ranges = []

    def task(job, shard):
        ranges.append((shard.start, shard.stop))
        m = shard.stop - shard.start
        return str(write_table(table4(_fit_table(m), {}, [""] * m),
                               shard_paths(job.shard_dir, shard.index)[0]))  # fmt: skip

    run = run_catalog(job, tmp_path / "c.fits", progress=False, task=task)
    assert sorted(ranges) == [(0, 64), (64, 65)]
    assert [i for i, _ in seen.client.submitted] == [0, 1]
    assert (run.fitted, run.skipped, run.failed) == (2, 0, {})
    table = read_table(run.path)
    assert len(table) == 65 and table.meta["NSHARDS"] == 2


_CALLS: list[int] = []


def _flaky(job, shard):
    """A task failing on shard 1 every time (the threaded cluster runs it in this process)."""
    _CALLS.append(shard.index)
    if shard.index == 1:
        raise ValueError("boom in shard 1")
    return run_shard(job, shard)


@_REAL_DASK
def test_run_catalog_on_a_threaded_cluster_retries_then_reruns(data, tmp_path, monkeypatch):
    _fake_fit(monkeypatch)
    monkeypatch.setattr(run_module, "connect", _threaded)
    _CALLS.clear()
    out = tmp_path / "c.fits"
    job = make_job(data.a, data.h5, out)
    run = run_catalog(job, out, shard_size=3, progress=False, task=_flaky)
    assert run.path is None and list(run.failed) == [1]
    assert run.failed[1] == repr(ValueError("boom in shard 1"))
    assert (run.fitted, run.skipped) == (2, 0) and run.dashboard.startswith("http")
    assert _CALLS.count(1) == 1 + RETRIES and _CALLS.count(0) == _CALLS.count(2) == 1
    run = run_catalog(job, out, shard_size=3, progress=False)
    assert (run.path, run.fitted, run.skipped, run.failed) == (out, 1, 2, {})
    assert list(read_table(out)["SOURCEID"]) == list(SOURCEIDS)
