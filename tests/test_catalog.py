"""phdl catalog: shards of spectra fitted on dask.distributed, merged into Table 4.

A random-weight MLP checkpoint (120 pixels) stands in for a trained emulator; the spectra are its
own predictions with noise. Process clusters (LocalCluster, 2 workers) are started twice in this
file (each start costs seconds): once for the catalogue most tests read (:func:`catalogue`), once
for the interrupted run whose worker dies (:func:`resumed`); one test uses an in-process
threaded cluster (:func:`_threaded`). Everything else runs in-process or needs no cluster (a
rerun whose shards are all finished, a mismatched shard, a bad argument).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table, vstack

import phdl
import phdl.catalog
from phdl import cli
from phdl.cache import sha256_file
from phdl.catalog import (
    ID_COLUMNS,
    XFE,
    ShardMismatch,
    columns,
    fit_rows,
    make_job,
    resolve,
    run_catalog,
    run_shard,
    shards,
)
from phdl.catalog.shard import shard_paths
from phdl.fit import read_table

N_PIX = 120
HIDDEN = 40  # > the 28 fitted labels: a Jacobian of full rank, finite errors
WL = 10 ** (np.log10(5100.0) + 1e-4 * np.arange(N_PIX))
N_STARS = 10
BAD_STAR = 5  # all-NaN flux, in the middle of shard 1 (stars 4-7) of shard size 4
#: Gaia DR3-like source ids: beyond 2**31, so an int32 on the way would show.
SOURCEIDS = 6917528997577384320 - np.arange(N_STARS, dtype=np.int64) * 1_000_003
PARAMS = ("Teff", "logg", "[Fe/H]")


# ---------------------------------------------------------------------------------- helpers
def _model(path: Path, seed: int) -> Path:
    """A random-weight MLP checkpoint on :data:`WL` (no training)."""
    import torch
    from torch import nn

    from phdl.emulator import MLPConfig, build_network, split_segments
    from phdl.emulator.model import FORMAT
    from phdl.labels import LABELS, LOWER, UPPER

    torch.manual_seed(seed)
    segs = split_segments(N_PIX, 1)
    nets = nn.ModuleList(build_network(MLPConfig(hidden=HIDDEN), b - a) for a, b in segs)
    ckpt = {
        "format": FORMAT,
        "kind": "mlp",
        "model_config": {"hidden": HIDDEN},
        "train_config": {},
        "label_names": list(LABELS),
        "label_min": torch.tensor(LOWER),
        "label_max": torch.tensor(UPPER),
        "wavelength": torch.tensor(WL),
        "segments": [list(s) for s in segs],
        "best_state": nets.state_dict(),
        "state": nets.state_dict(),
        "optimizer": None,
        "scheduler": None,
        "progress": {"segment": 0, "epoch": 1, "best_val": 0.0, "best_epoch": 0, "finished": True},
        "history": [],
        "grid_hash": "",
        "grid_path": "",
        "split": {},
        "grad_sigma": torch.ones(34),
        "phdl_version": "0.1.0",
    }
    torch.save(ckpt, path)
    return path


def _flux(model: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(flux, ivar) (n, N_PIX): the model's spectra of random labels, with S/N 100 noise."""
    from phdl.emulator import load
    from phdl.fit import add_noise
    from phdl.labels import LOWER, UPPER, unscale

    rng = np.random.default_rng(seed)
    truth = unscale(rng.uniform(0.3, 0.7, (n, 34)), LOWER, UPPER)
    return add_noise(load(model).predict(truth), 100, seed)


def _ids(n: int) -> dict[str, np.ndarray]:
    return {
        "RA": np.linspace(10.5, 19.5, n),
        "DEC": np.linspace(-30.25, 30.25, n),
        "SOURCEID": SOURCEIDS[:n],
        "SPECID": np.array([f"20191013-HD{i:03d}N-{i % 16 + 1:02d}-{i + 100}" for i in range(n)]),
        "UQFLAG": np.arange(n, dtype=np.int64) % 3 + 1,
    }


def _hdf5(path: Path, model: Path) -> Path:
    """:data:`N_STARS` spectra, star :data:`BAD_STAR` all NaN, with every identifier dataset
    (SPECID as h5py variable-length strings, as a user would write them)."""
    import h5py

    from phdl.fit import write_spectra

    flux, ivar = _flux(model, N_STARS, seed=1)
    flux[BAD_STAR] = np.nan
    write_spectra(path, WL, flux, ivar)
    with h5py.File(path, "a") as h5:
        for name, values in _ids(N_STARS).items():
            if name == "SPECID":
                h5.create_dataset(name, data=values.astype(object), dtype=h5py.string_dtype())
            else:
                h5[name] = values
    return path


#: A LAMOST-like observed grid covering the model's (5100-5241 Å) with margin.
OBS = 5000.0 * 10 ** (1e-4 * np.arange(300))


def _lamost(path: Path, flux: np.ndarray, header: dict) -> Path:
    """A DR8-style LAMOST file (extension 1: one row of FLUX, IVAR, WAVELENGTH, ANDMASK,
    ORMASK), as tests/test_io_lamost.py writes them."""
    head = fits.Header()
    for key, value in header.items():
        head[key] = value
    mask = np.zeros(OBS.size, dtype=np.int32)
    cols = [
        fits.Column(name=name, format=f"{OBS.size}{code}", array=arr[None])
        for name, code, arr in (
            ("FLUX", "E", flux),
            ("IVAR", "E", 1.0 / (0.01 * flux) ** 2),
            ("WAVELENGTH", "D", OBS),
            ("ANDMASK", "J", mask),
            ("ORMASK", "J", mask),
        )
    ]
    hdul = fits.HDUList(
        [fits.PrimaryHDU(header=head), fits.BinTableHDU.from_columns(cols, name="COADD")]
    )
    hdul.writeto(path)
    return path


def _lamost_folder(folder: Path, model: Path, n: int = 5, garbage: int = 2) -> list[Path]:
    """``n`` LAMOST files spec-NN.fits (sorted by name), file ``garbage`` not FITS at all."""
    folder.mkdir(parents=True, exist_ok=True)
    flux, _ = _flux(model, n, seed=3)
    files = []
    for i in range(n):
        path = folder / f"spec-{i:02d}.fits"
        if i == garbage:
            path.write_bytes(b"this is not a FITS file\n" * 200)
        else:
            continuum = 900.0 * (OBS / 5000.0) ** -1.5
            observed = np.interp(OBS, WL, flux[i]) * continuum
            header = {"Z": 0.0, "RA": 100.0 + i, "DEC": -5.0 - i, "OBSDATE": "2019-10-13",
                      "PLANID": f"HD{i}", "SPID": 7, "FIBERID": 100 + i}  # fmt: skip
            _lamost(path, observed, header)
        files.append(path)
    return files


@contextlib.contextmanager
def _one_thread():
    """torch on one thread, as on a worker (phdl.catalog.shard.worker_model), then restored."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _in_process(job, shard_size: int) -> Table:
    """The rows of every shard fitted in this process, stacked (what a cluster must match)."""
    from phdl.emulator import load

    with _one_thread():
        model = load(job.model_path)
        parts = [fit_rows(job, model, s) for s in shards(job.inputs.n, shard_size)]
    return vstack(parts, metadata_conflicts="silent")


def _assert_same_rows(got: Table, want: Table) -> None:
    assert got.colnames == want.colnames
    assert len(got) == len(want)
    for name in want.colnames:
        a, b = np.asarray(got[name]), np.asarray(want[name])
        if a.dtype.kind in "fc":
            assert np.array_equal(a, b, equal_nan=True), name
        elif a.dtype.kind in "US":
            assert _text(a) == _text(b), name
        else:
            assert np.array_equal(a, b), name


def _values(table: Table, name: str) -> np.ndarray:
    """A column's values; NaN where astropy's FITS reader masked them (mask_invalid)."""
    return np.asarray(np.ma.getdata(table[name]))


def _text(values) -> list[str]:
    """Strings of a column (FITS gives bytes back)."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values)]


def _files(shard_dir: Path, index: int) -> dict[Path, tuple[int, bytes]]:
    """mtime_ns and bytes of shard ``index``'s table and sidecar."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in shard_paths(shard_dir, index)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dies_once(job, shard):
    """The Dask task of :func:`resumed`: the worker process dies (os._exit) the first time it
    gets a shard armed by a file ``kill-<index>`` next to the shard folder; else run_shard."""
    armed = Path(job.shard_dir).parent / f"kill-{shard.index}"
    if armed.exists():
        armed.rename(armed.with_name(f"killed-{shard.index}"))
        os._exit(1)
    return run_shard(job, shard)


def _main(capfd, *args) -> tuple[int, str, str]:
    code = cli.main(["catalog", *map(str, args)])
    out, err = capfd.readouterr()
    return code, out, err


# --------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Models A and B (other weights), the HDF5 spectra with ids, a LAMOST folder."""
    root = tmp_path_factory.mktemp("catalog")
    model_a = _model(root / "a.pt", seed=0)
    model_b = _model(root / "b.pt", seed=1)
    h5 = _hdf5(root / "spectra.h5", model_a)
    lamost = _lamost_folder(root / "lamost", model_a)
    return SimpleNamespace(root=root, a=model_a, b=model_b, h5=h5, lamost=lamost)


@pytest.fixture(scope="module")
def catalogue(data):
    """The HDF5 spectra fitted with flags on a 2-worker LocalCluster, shards of 4 stars."""
    out = data.root / "cat" / "catalog.fits"
    job = make_job(data.a, data.h5, out, strategy="fast", flags=True)
    run = run_catalog(job, out, shard_size=4, workers=2, progress=False)
    return SimpleNamespace(job=job, run=run, out=out, table=read_table(out))


@pytest.fixture(scope="module")
def resumed(data):
    """A run interrupted earlier, run again with a task whose worker dies once.

    Shards of 2 stars (0-4). Before the run: shards 0 and 2 finished in-process; shard 1's
    sidecar torn (killed while writing it); shard 4 a stale table without sidecar; shard 3
    armed so that the worker running it dies the first time."""
    import cloudpickle

    out = data.root / "resumed" / "catalog.fits"
    job = make_job(data.a, data.h5, out, strategy="fast", flags=False)
    todo = shards(job.inputs.n, 2)
    shard_dir = Path(job.shard_dir)
    shard_dir.mkdir(parents=True)
    with _one_thread():
        for s in (todo[0], todo[1], todo[2]):
            run_shard(job, s)
    shard_paths(shard_dir, 1)[1].write_text('{"model_sha256": "')  # torn sidecar
    shard_paths(shard_dir, 4)[0].write_bytes(b"stale partial table")  # no sidecar
    (out.parent / "kill-3").touch()
    before = {i: _files(shard_dir, i) for i in (0, 2)}
    # the workers import this module by name if they can; by value otherwise
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        run = run_catalog(job, out, shard_size=2, workers=2, progress=False, task=_dies_once)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    return SimpleNamespace(job=job, run=run, out=out, before=before, shard_dir=shard_dir)


# ------------------------------------------------------------------- 1: cluster = in-process
def test_two_worker_cluster_gives_the_in_process_table(catalogue):
    run = catalogue.run
    assert run.failed == {}
    assert run.path == catalogue.out and catalogue.out.is_file()
    assert (run.fitted, run.skipped) == (3, 0)  # 10 stars in shards of 4
    assert run.dashboard.startswith("http")
    _assert_same_rows(catalogue.table, _in_process(catalogue.job, 4))


def test_each_shard_file_has_its_rows_and_a_sidecar(catalogue):
    job = catalogue.job
    for s in shards(N_STARS, 4):
        table, side = shard_paths(job.shard_dir, s.index)
        rows = read_table(table)
        assert list(rows["SOURCEID"]) == list(SOURCEIDS[s.start : s.stop])
        assert (rows.meta["SHARD"], rows.meta["FIRST"]) == (s.index, s.start)
        found = json.loads(side.read_text())
        assert found["model_sha256"] == sha256_file(Path(job.model_path))
        assert found["stars"] == [s.start, s.stop]
        assert found["options"] == job.options()
        assert (found["options"]["strategy"], found["options"]["seed"]) == ("fast", 0)
        assert found["phdl_version"] == phdl.__version__


# ---------------------------------------------------------------- Table 4 columns and header
def test_table4_column_order():
    from phdl import paper

    cols = columns()
    assert cols == [*paper.table4_names(), "reason"]  # the paper's Table 4, then phdl's reason
    xfe = [f"[{e}/Fe]" for e in paper.CATALOG_ELEMENTS]  # the paper's element order
    assert list(XFE) == xfe and len(xfe) == 25
    assert cols[:11] == ["RA", "DEC", "SOURCEID", "SPECID", "UQFLAG", "Teff", "Teff_err",
                         "logg", "logg_err", "[Fe/H]", "[Fe/H]_err"]  # fmt: skip
    assert cols[11:] == [*xfe, *(f"{x}_err" for x in xfe), *(f"{x}_flag" for x in xfe),
                         "Chisq", *(f"{x}_uncali" for x in xfe), "reason"]  # fmt: skip
    assert len(cols) == len(set(cols)) == 12 + 4 * 25 + 1


def test_catalogue_has_table4_columns_and_units(catalogue):
    table = catalogue.table
    assert table.colnames == columns()
    unit = {name: str(table[name].unit) if table[name].unit is not None else None
            for name in table.colnames}  # fmt: skip
    assert unit["RA"] == unit["DEC"] == "deg"
    assert unit["Teff"] == unit["Teff_err"] == "K"
    for name in ("logg", "[Fe/H]", *XFE):
        assert unit[name] == unit[f"{name}_err"] == "dex", name
    for name in XFE:
        assert unit[f"{name}_uncali"] == "dex" and unit[f"{name}_flag"] is None
    for name in ("SOURCEID", "SPECID", "UQFLAG", "Chisq", "reason"):
        assert unit[name] is None, name
    assert table["SOURCEID"].dtype.kind == "i" and table["SOURCEID"].dtype.itemsize == 8
    for name in XFE:  # uncalibrated: the calibrated column is the uncalibrated one
        assert np.array_equal(table[name], table[f"{name}_uncali"], equal_nan=True)


def test_catalogue_column_spec_dtypes_and_flag_values(catalogue):
    """Table 4's spec beyond names and units: the type of every column and the flag values (four
    bits, 0-15; -1 for a star that was not fitted)."""
    table = catalogue.table
    floats = ["RA", "DEC", "Teff", "Teff_err", "logg", "logg_err", "[Fe/H]", "[Fe/H]_err"]
    floats += ["Chisq", *XFE, *(f"{x}_err" for x in XFE), *(f"{x}_uncali" for x in XFE)]
    for name in floats:
        assert (table[name].dtype.kind, table[name].dtype.itemsize) == ("f", 8), name
    assert table["UQFLAG"].dtype.kind == "i" and table["SPECID"].dtype.kind in "SU"
    assert table["reason"].dtype.kind in "SU"
    ok = np.asarray(table["reason"]).astype(str) == "ok"
    assert ok.any() and not ok.all()  # the fixture has a star that cannot be read
    for name in XFE:
        flag = np.asarray(table[f"{name}_flag"])
        assert flag.dtype.kind == "i", name
        assert np.all((flag[ok] >= 0) & (flag[ok] <= 15)), name
        assert np.all(flag[~ok] == -1), name
        assert np.all(np.isnan(np.asarray(table[name])[~ok])), name


def test_catalogue_header_records_the_model_and_version(catalogue, data):
    meta = catalogue.table.meta
    assert meta["MODELSHA"] == sha256_file(data.a)
    assert meta["PHDLVER"] == phdl.__version__
    assert meta["MODEL"] == "a.pt"
    assert (meta["STRATEGY"], meta["SEED"], meta["FLAGS"]) == ("fast", 0, True)
    assert (meta["NSTARS"], meta["NSHARDS"], meta["NBAD"]) == (N_STARS, 3, 1)
    assert meta["CALIB"] == "none"
    assert "SHARD" not in meta and "FIRST" not in meta


def test_identifier_columns_come_from_the_hdf5_datasets(catalogue):
    table, ids = catalogue.table, _ids(N_STARS)
    for name in ("RA", "DEC", "SOURCEID", "UQFLAG"):
        assert np.array_equal(_values(table, name), ids[name]), name
    assert [str(s) for s in table["SPECID"]] == list(ids["SPECID"])


def test_identifier_columns_are_empty_without_datasets(tmp_path, data):
    h5 = tmp_path / "plain.h5"
    from phdl.fit import write_spectra

    flux, ivar = _flux(data.a, 3, seed=4)
    write_spectra(h5, WL, flux, ivar)
    inputs = resolve(h5)
    assert (inputs.kind, inputs.n) == ("hdf5", 3)
    assert np.isnan(inputs.ids["RA"]).all() and np.isnan(inputs.ids["DEC"]).all()
    assert list(inputs.ids["SOURCEID"]) == list(inputs.ids["UQFLAG"]) == [-1] * 3
    assert list(inputs.ids["SPECID"]) == [""] * 3
    assert list(inputs.ids) == list(ID_COLUMNS)


def test_an_id_dataset_of_the_wrong_length_is_refused(tmp_path, data):
    import h5py

    from phdl.fit import write_spectra

    flux, ivar = _flux(data.a, 3, seed=4)
    h5 = write_spectra(tmp_path / "bad_ids.h5", WL, flux, ivar)
    with h5py.File(h5, "a") as f:
        f["SOURCEID"] = np.arange(4)
    with pytest.raises(ValueError, match=r"SOURCEID.*\(4,\)"):
        resolve(h5)


# ------------------------------------------------------------------ 5: a corrupt spectrum
def test_an_all_nan_star_gets_a_flagged_row_and_the_others_are_fitted(catalogue):
    table = catalogue.table
    bad = table[BAD_STAR]
    assert bad["reason"] != "ok" and "no usable pixels" in bad["reason"]
    assert all(bad[f"{x}_flag"] == -1 for x in XFE)
    labels = (*PARAMS, *XFE, *(f"{x}_err" for x in (*PARAMS, *XFE)), *(f"{x}_uncali" for x in XFE))
    assert [n for n in (*labels, "Chisq") if not np.isnan(_values(table, n)[BAD_STAR])] == []
    good = np.arange(N_STARS) != BAD_STAR
    assert list(table["reason"][good]) == ["ok"] * (N_STARS - 1)
    for name in (*PARAMS, *XFE):
        assert np.isfinite(_values(table, name)[good]).all(), name
        assert (_values(table, f"{name}_err")[good] > 0).all(), name
    for name in XFE:
        assert (_values(table, f"{name}_flag")[good] >= 0).all(), name
    assert np.isfinite(_values(table, "Chisq")[good]).all()
    # the identifiers of the bad star are kept
    assert table["SOURCEID"][BAD_STAR] == SOURCEIDS[BAD_STAR]


def test_a_garbage_lamost_file_gets_a_flagged_row_and_the_others_are_fitted(data, capfd):
    folder = data.lamost[0].parent
    inputs = resolve(folder)
    assert inputs.kind == "fits" and inputs.files == tuple(map(str, data.lamost))
    # the headers' identifiers; the garbage file's are empty
    assert np.array_equal(inputs.ids["RA"], [100.0, 101.0, np.nan, 103.0, 104.0], equal_nan=True)
    assert np.array_equal(inputs.ids["DEC"], [-5.0, -6.0, np.nan, -8.0, -9.0], equal_nan=True)
    specids = [f"2019-10-13-HD{i}-7-{100 + i}" if i != 2 else "" for i in range(5)]
    assert list(inputs.ids["SPECID"]) == specids
    # one shard of the five files, fitted in-process with flags; then the CLI only merges
    out = data.root / "lamost_cat" / "catalog.fits"
    job = make_job(data.a, folder, out, strategy="fast", flags=True)
    Path(job.shard_dir).mkdir(parents=True)
    with _one_thread():
        run_shard(job, shards(5, 5)[0])
    code, stdout, stderr = _main(capfd, "--model", data.a, "--spectra", folder, "--out", out,
                                 "--shard-size", 5, "--quiet")  # fmt: skip
    assert code == 0, stderr
    assert stdout.strip() == str(out)
    assert "0 shards fitted, 1 already done" in stderr
    table = read_table(out)
    assert table.colnames == columns()
    bad = table[2]
    assert bad["reason"].startswith("unreadable") and "spec-02.fits" in bad["reason"]
    assert all(bad[f"{x}_flag"] == -1 for x in XFE)
    assert [n for n in (*PARAMS, *XFE) if not np.isnan(_values(table, n)[2])] == []
    good = [0, 1, 3, 4]
    assert list(table["reason"][good]) == ["ok"] * 4
    for name in (*PARAMS, *XFE):
        assert np.isfinite(_values(table, name)[good]).all(), name
    for name in XFE:
        assert (_values(table, f"{name}_flag")[good] >= 0).all(), name
    assert list(table["RA"][good]) == [100.0, 101.0, 103.0, 104.0]
    assert table.meta["NBAD"] == 1


def test_manifest_columns_give_the_identifiers(data, tmp_path):
    good = [data.lamost[i] for i in (0, 1, 3)]
    manifest = tmp_path / "stars.csv"
    lines = ["path,RA,DEC,SOURCEID,SPECID,UQFLAG"]
    for i, path in enumerate(good):
        rel = os.path.relpath(path, tmp_path)  # relative to the manifest's folder
        lines.append(f"{rel},{200.5 + i},{-40.25 + i},{SOURCEIDS[i]},LM-{i}-x,{i + 1}")
    manifest.write_text("\n".join(lines) + "\n")
    inputs = resolve(manifest)
    assert inputs.kind == "fits" and inputs.n == 3
    assert [Path(f).resolve() for f in inputs.files] == [p.resolve() for p in good]
    ids = inputs.ids
    assert list(ids["RA"]) == [200.5, 201.5, 202.5]  # the manifest's, not the headers'
    assert list(ids["DEC"]) == [-40.25, -39.25, -38.25]
    assert list(ids["SOURCEID"]) == list(SOURCEIDS[:3])
    assert list(ids["SPECID"]) == ["LM-0-x", "LM-1-x", "LM-2-x"]
    assert list(ids["UQFLAG"]) == [1, 2, 3]
    job = make_job(data.a, manifest, tmp_path / "m.fits", strategy="fast", flags=False)
    with _one_thread():
        rows = _in_process(job, 3)
    assert list(rows["reason"]) == ["ok"] * 3
    assert list(rows["SOURCEID"]) == list(SOURCEIDS[:3])
    assert list(rows["SPECID"]) == ["LM-0-x", "LM-1-x", "LM-2-x"]
    assert list(rows["RA"]) == [200.5, 201.5, 202.5] and list(rows["UQFLAG"]) == [1, 2, 3]


def test_manifest_without_id_columns_takes_them_from_the_headers(data, tmp_path):
    manifest = tmp_path / "paths.csv"
    manifest.write_text("path\n" + "".join(f"{p}\n" for p in data.lamost[:2]))  # absolute
    ids = resolve(manifest).ids
    assert list(ids["RA"]) == [100.0, 101.0]
    assert list(ids["SPECID"]) == ["2019-10-13-HD0-7-100", "2019-10-13-HD1-7-101"]
    assert list(ids["SOURCEID"]) == [-1, -1] and list(ids["UQFLAG"]) == [-1, -1]


# --------------------------------------------------------- 2 and 6: interrupted, worker death
def test_rerun_skips_finished_shards_and_does_not_rewrite_them(resumed):
    run = resumed.run
    assert run.failed == {} and run.path == resumed.out
    assert (run.skipped, run.fitted) == (2, 3)  # 0 and 2 done; 1 (torn sidecar), 3, 4 not
    for i, files in resumed.before.items():
        assert _files(resumed.shard_dir, i) == files, f"shard {i} was rewritten"


def test_rerun_table_has_every_star_once_in_input_order(resumed, data):
    table = read_table(resumed.out)
    assert list(table["SOURCEID"]) == list(SOURCEIDS)
    assert table.meta["NSHARDS"] == 5 and table.meta["NSTARS"] == N_STARS
    # torn and stale shards were refitted, each with its sidecar
    for i in (1, 4):
        assert json.loads(shard_paths(resumed.shard_dir, i)[1].read_text())["stars"] == [
            2 * i,
            2 * i + 2,
        ]
    _assert_same_rows(table, _in_process(resumed.job, 2))


def test_a_worker_that_dies_loses_its_shard_only_and_it_is_retried(resumed):
    parent = resumed.out.parent
    assert (parent / "killed-3").exists() and not (parent / "kill-3").exists()  # it died
    assert resumed.run.failed == {}
    rows = read_table(shard_paths(resumed.shard_dir, 3)[0])
    assert list(rows["SOURCEID"]) == list(SOURCEIDS[6:8])
    assert list(rows["reason"]) == ["ok", "ok"]


def test_a_finished_catalogue_is_merged_again_without_a_cluster(catalogue, monkeypatch):
    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started with every shard finished")

    monkeypatch.setattr(phdl.catalog.run, "connect", no_cluster)
    out = catalogue.out.with_name("again.fits")
    run = run_catalog(catalogue.job, out, shard_size=4, progress=False)
    assert (run.fitted, run.skipped, run.failed) == (0, 3, {})
    _assert_same_rows(read_table(out), catalogue.table)


# --------------------------------------------------------------- 4: a shard of another model
def test_a_shard_of_another_model_is_refused(data, tmp_path, capfd):
    out = tmp_path / "cat.fits"
    job_a = make_job(data.a, data.h5, out, strategy="fast", flags=True)
    Path(job_a.shard_dir).mkdir(parents=True)
    with _one_thread():
        run_shard(job_a, shards(N_STARS, 4)[1])
    side = shard_paths(job_a.shard_dir, 1)[1]
    job_b = make_job(data.b, data.h5, out, strategy="fast", flags=True)
    with pytest.raises(ShardMismatch, match="model") as info:
        run_catalog(job_b, out, shard_size=4, workers=2, progress=False)
    assert isinstance(info.value, ValueError)
    assert str(side) in str(info.value)
    with pytest.raises(ShardMismatch, match="model"):
        run_shard(job_b, shards(N_STARS, 4)[1])
    code, stdout, stderr = _main(capfd, "--model", data.b, "--spectra", data.h5, "--out", out,
                                 "--shard-size", 4, "--workers", 2, "--quiet")  # fmt: skip
    assert code == 2 and stdout == ""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("phdl: error:")
    assert str(side) in lines[0] and "model" in lines[0]
    assert not out.exists()


def test_a_shard_of_other_options_or_star_range_is_refused(data, tmp_path):
    out = tmp_path / "cat.fits"
    job = make_job(data.a, data.h5, out, strategy="fast", flags=False)
    Path(job.shard_dir).mkdir(parents=True)
    with _one_thread():
        run_shard(job, shards(N_STARS, 4)[0])
    seeded = make_job(data.a, data.h5, out, strategy="fast", seed=3, flags=False)
    with pytest.raises(ShardMismatch, match="options"):
        run_catalog(seeded, out, shard_size=4, progress=False)
    with pytest.raises(ShardMismatch, match="stars"):  # another --shard-size, same --out
        run_catalog(job, out, shard_size=2, progress=False)


# ---------------------------------------------------------------- 3: unreachable scheduler
def test_an_unreachable_scheduler_gives_one_line_and_exit_2(data, tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(phdl.catalog.run, "CONNECT_TIMEOUT", 2)
    address = f"tcp://127.0.0.1:{_free_port()}"
    code, stdout, stderr = _main(capfd, "--model", data.a, "--spectra", data.h5,
                                 "--out", tmp_path / "c.fits", "--scheduler", address,
                                 "--quiet")  # fmt: skip
    assert code == 2 and stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("phdl: error:") and address in lines[0]
    assert not (tmp_path / "c.fits").exists()


# ------------------------------------------------------------------------ errors of the CLI
def test_missing_spectra_is_named(data, tmp_path, capfd):
    missing = tmp_path / "nope.h5"
    code, _, stderr = _main(capfd, "--model", data.a, "--spectra", missing, "--out",
                            tmp_path / "c.fits")  # fmt: skip
    assert code == 2
    assert stderr.startswith("phdl: error:") and str(missing) in stderr
    assert len(stderr.splitlines()) == 1


def test_missing_model_is_named(data, tmp_path, capfd):
    missing = tmp_path / "nope.pt"
    code, _, stderr = _main(capfd, "--model", missing, "--spectra", data.h5, "--out",
                            tmp_path / "c.fits")  # fmt: skip
    assert code == 2 and str(missing) in stderr and stderr.startswith("phdl: error:")


def test_an_empty_folder_is_named(data, tmp_path, capfd):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no spectra here")
    code, _, stderr = _main(capfd, "--model", data.a, "--spectra", empty, "--out",
                            tmp_path / "c.fits")  # fmt: skip
    assert code == 2
    assert stderr.startswith("phdl: error:") and str(empty) in stderr and "FITS" in stderr


def test_a_manifest_without_a_path_column_is_named(data, tmp_path, capfd):
    manifest = tmp_path / "stars.csv"
    manifest.write_text("file,RA\na.fits,1.0\n")
    code, _, stderr = _main(capfd, "--model", data.a, "--spectra", manifest, "--out",
                            tmp_path / "c.fits")  # fmt: skip
    assert code == 2
    assert stderr.startswith("phdl: error:") and str(manifest) in stderr and "path" in stderr


def test_a_manifest_naming_a_missing_file_is_named(data, tmp_path, capfd):
    manifest = tmp_path / "stars.csv"
    manifest.write_text("path\nspec-missing.fits\n")
    code, _, stderr = _main(capfd, "--model", data.a, "--spectra", manifest, "--out",
                            tmp_path / "c.fits")  # fmt: skip
    assert code == 2 and "spec-missing.fits" in stderr and str(manifest) in stderr


@pytest.mark.parametrize("option", [("--shard-size", "0"), ("--shard-size", "-3"),
                                    ("--workers", "-1")])  # fmt: skip
def test_bad_numbers_exit_2(data, tmp_path, capfd, option):
    code, _, stderr = _main(capfd, "--model", data.a, "--spectra", data.h5, "--out",
                            tmp_path / "c.fits", *option)  # fmt: skip
    assert code == 2
    assert stderr.startswith("phdl: error:") and option[0] in stderr
    assert not (tmp_path / "c.fits.shards").exists()


@contextlib.contextmanager
def _threaded(scheduler, workers):
    """phdl.catalog.run.connect's stand-in: a LocalCluster of threads in this process (starts
    in a second; monkeypatches of this process reach its tasks)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None)
        as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        yield client


def test_a_failing_shard_exits_1_keeps_the_others_and_a_rerun_finishes(
    data, tmp_path, capfd, monkeypatch
):
    import phdl.catalog.shard as shard_module

    fit = shard_module.fit_rows
    calls = []

    def fails_on_shard_1(job, model, shard):
        calls.append(shard.index)
        if shard.index == 1:
            raise ValueError("boom in shard 1")
        return fit(job, model, shard)

    monkeypatch.setattr(phdl.catalog.run, "connect", _threaded)
    monkeypatch.setattr(shard_module, "fit_rows", fails_on_shard_1)
    out = tmp_path / "c.fits"
    args = ("--model", data.a, "--spectra", data.h5, "--out", out, "--shard-size", 4,
            "--no-flags", "--quiet")  # fmt: skip
    with _one_thread():
        code, stdout, stderr = _main(capfd, *args)
    assert code == 1 and stdout == "" and not out.exists()
    assert calls.count(1) == 1 + phdl.catalog.run.RETRIES  # retried, then given up
    assert "1 shard(s) failed" in stderr and "shard 1" in stderr and "boom in shard 1" in stderr
    assert "rerun the same command" in stderr
    job = make_job(data.a, data.h5, out, strategy="fast", flags=False)
    assert [all(p.is_file() for p in shard_paths(job.shard_dir, i)) for i in range(3)] == [
        True,
        False,
        True,
    ]
    monkeypatch.setattr(shard_module, "fit_rows", fit)
    with _one_thread():
        code, stdout, stderr = _main(capfd, *args)
    assert code == 0 and stdout.strip() == str(out), stderr
    assert "1 shards fitted, 2 already done" in stderr
    assert list(read_table(out)["SOURCEID"]) == list(SOURCEIDS)


def test_spectra_named_relatively_or_absolutely_are_the_same_inputs(data, tmp_path, monkeypatch):
    monkeypatch.chdir(data.h5.parent)
    out = tmp_path / "c.fits"
    relative = make_job(data.a, data.h5.name, out, strategy="fast", flags=False)
    assert Path(relative.inputs.source).is_absolute()  # what a remote worker needs
    Path(relative.shard_dir).mkdir(parents=True)
    with _one_thread():
        for s in shards(N_STARS, 4):
            run_shard(relative, s)
    absolute = make_job(data.a, data.h5, out, strategy="fast", flags=False)
    run = run_catalog(absolute, out, shard_size=4, progress=False)  # all finished: no cluster
    assert (run.fitted, run.skipped) == (0, 3)


def test_changed_spectra_are_not_mixed_with_shards_of_the_old(data, tmp_path):
    """The same file name and star count but new content (another size or time): refused."""
    import shutil

    h5 = tmp_path / "s.h5"
    shutil.copy(data.h5, h5)
    out = tmp_path / "c.fits"
    job = make_job(data.a, h5, out, strategy="fast", flags=False)
    with _one_thread():
        run_shard(job, shards(N_STARS, 4)[0])
    stat = os.stat(h5)
    os.utime(h5, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = make_job(data.a, h5, out, strategy="fast", flags=False)
    with pytest.raises(ShardMismatch, match="inputs"):
        run_catalog(again, out, shard_size=4, progress=False)


def test_run_shard_alone_creates_the_shard_folder(data, tmp_path):
    job = make_job(data.a, data.h5, tmp_path / "c.fits", strategy="fast", flags=False)
    with _one_thread():
        path = run_shard(job, shards(N_STARS, 4)[2])
    assert Path(path) == shard_paths(job.shard_dir, 2)[0] and Path(path).is_file()
    assert shard_paths(job.shard_dir, 2)[1].is_file()


def test_shards_cover_the_stars():
    assert [(s.index, s.start, s.stop) for s in shards(10, 4)] == [(0, 0, 4), (1, 4, 8),
                                                                   (2, 8, 10)]  # fmt: skip
    assert shards(0, 4) == []
    assert [(s.start, s.stop) for s in shards(3, 5)] == [(0, 3)]
    with pytest.raises(ValueError, match="shard size"):
        shards(10, 0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_worker_malloc_is_tuned_on_glibc():
    """Dask's MALLOC_TRIM_THRESHOLD_=65536 made worker fits 3.5× slower; the worker undoes it."""
    from phdl.catalog.shard import tune_malloc

    assert tune_malloc() is True


# ------------------------------------------------------- 6: a calibration applied at the merge
def test_a_calibration_is_applied_at_the_merge_reusing_the_shards(catalogue, tmp_path, capfd):
    from phdl.calibrate import Calibration, ZeroPoints

    zero = ZeroPoints(d={"Mg": 0.1, "Ni": -0.2}, source={"Mg": "Hypatia", "Ni": "Hypatia"})
    cal = Calibration(zero=zero).save(tmp_path / "cal.json")
    out = catalogue.out.with_name("calibrated.fits")
    job = catalogue.job
    args = ["--model", job.model_path, "--spectra", job.inputs.source, "--out", out,
            "--shard-size", 4, "--quiet", "--calibration", cal]  # fmt: skip
    # the same shard folder as the uncalibrated run: nothing is fitted again
    Path(out.with_name(out.name + ".shards")).symlink_to(catalogue.job.shard_dir)
    rc, _, err = _main(capfd, *args)
    assert rc == 0, err
    assert "0 shards fitted" in err
    got, plain = read_table(out), catalogue.table
    assert got.colnames == plain.colnames
    ok = np.isfinite(_values(plain, "[Mg/Fe]"))
    assert ok.any()
    np.testing.assert_allclose(_values(got, "[Mg/Fe]")[ok], _values(plain, "[Mg/Fe]")[ok] - 0.1)
    np.testing.assert_allclose(_values(got, "[Ni/Fe]")[ok], _values(plain, "[Ni/Fe]")[ok] + 0.2)
    np.testing.assert_array_equal(_values(got, "[Mg/Fe]_uncali"), _values(plain, "[Mg/Fe]"))
    np.testing.assert_array_equal(_values(got, "Teff"), _values(plain, "Teff"))
    assert got.meta["CALIB"] == "cal.json"
    assert got.meta["CALIBSHA"] == sha256_file(cal)


def test_a_missing_calibration_file_is_named_before_any_fit(data, tmp_path, capfd):
    rc, _, err = _main(capfd, "--model", str(data.a), "--spectra", str(data.h5),
                       "--out", str(tmp_path / "c.fits"), "--calibration",
                       str(tmp_path / "nope.json"))  # fmt: skip
    assert rc == 2
    assert "nope.json" in err
    assert not (tmp_path / "c.fits.shards").exists()
