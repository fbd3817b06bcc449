"""phdl.grid: label sampling, grid writing (cache, resume), reading and validation."""

import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest
from _fakes import FakeSynthesizer

from phdl import grid as G
from phdl.labels import LABELS, LOWER, UPPER, index

TEFF, LOGG, FEH = index("Teff"), index("logg"), index("[Fe/H]")


# ------------------------------------------------------------------ sample_labels
def test_sample_labels_deterministic_and_seeded():
    a, b = G.sample_labels(300, 7), G.sample_labels(300, 7)
    assert a.shape == (300, 34)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, G.sample_labels(300, 8))


@pytest.mark.parametrize("k", [1, 17, 256, 257, 600])
def test_sample_labels_prefix_consistent(k):
    np.testing.assert_array_equal(G.sample_labels(k, 3), G.sample_labels(700, 3)[:k])


def test_sample_labels_inside_ranges_and_feh_steps():
    x = G.sample_labels(3000, 1)
    assert np.all(x >= LOWER) and np.all(x <= UPPER)
    feh = x[:, FEH]
    np.testing.assert_allclose(feh * 10, np.round(feh * 10), atol=1e-9)
    assert len(np.unique(np.round(feh, 1))) == 46  # -4.0 ... 0.5, uniformly sampled


def test_sample_labels_follow_isochrone_loci():
    x = G.sample_labels(4000, 2)
    t, g = x[:, TEFF], x[:, LOGG]
    giants = (g < 3.5) & (t < 5200)
    dwarfs = g > 4.2
    subgiants = (g > 3.6) & (g < 4.2) & (t > 5000) & (t < 7000)
    assert giants.mean() > 0.25 and dwarfs.mean() > 0.25 and subgiants.mean() > 0.1
    # regions a uniform box would fill (~16 % and ~5 %) but isochrones leave empty
    assert np.mean((t > 6500) & (g < 2.5)) < 0.002
    assert np.mean((t < 4500) & (g > 2.8) & (g < 4.2)) < 0.005
    # metal-poor giants are hotter at the same logg
    rgb = (g > 1.0) & (g < 2.0) & (t < 6000)
    poor, rich = rgb & (x[:, FEH] < -2.5), rgb & (x[:, FEH] > -0.5)
    assert t[poor].mean() > t[rich].mean() + 200


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_sample_labels_bad_n(n):
    with pytest.raises(ValueError, match="n must be a positive integer"):
        G.sample_labels(n, 0)


# ------------------------------------------------------------------ make_grid / read_grid
def test_round_trip_equals_synthesizer(tmp_path):
    syn = FakeSynthesizer()
    path = G.make_grid(10, 5, tmp_path / "g.h5", synthesizer=syn, chunk_size=4, progress=False)
    assert path == tmp_path / "g.h5" and not G.partial_path(path).exists()
    assert syn.rows == [4, 4, 2]
    grid = G.read_grid(path)
    assert len(grid) == 10 and grid.label_names == LABELS
    np.testing.assert_array_equal(grid.labels, G.sample_labels(10, 5))
    np.testing.assert_array_equal(grid.wavelength, syn.wavelength)
    flux, grads = FakeSynthesizer()(grid.labels, with_gradients=True)
    np.testing.assert_array_equal(grid.flux, flux)
    assert grid.gradients.dtype == np.float32
    np.testing.assert_allclose(grid.gradients, grads, rtol=1e-6, atol=1e-9)
    assert grid.attrs["seed"] == 5 and grid.attrs["n_spectra"] == 10
    assert grid.attrs["source"] == "fake" and grid.attrs["physics_hash"] == "fake-v1"
    assert grid.attrs["resolution"] == 1800.0 and "phdl_version" in grid.attrs


def test_fake_gradients_are_exact():  # guards the fake used everywhere above
    syn = FakeSynthesizer()
    x = G.sample_labels(2, 0)
    _, grads = syn(x, with_gradients=True)
    for j in (TEFF, LOGG, index("[Ba/Fe]")):
        h = 1e-6 * (UPPER[j] - LOWER[j])
        xp, xm = x.copy(), x.copy()
        xp[:, j] += h
        xm[:, j] -= h
        fd = (syn(xp) - syn(xm)) / (2 * h)
        np.testing.assert_allclose(fd, grads[:, j], rtol=1e-5, atol=1e-10)


def test_cache_hit_does_not_synthesize(tmp_path):
    path = G.make_grid(6, 1, tmp_path / "g.h5", synthesizer=FakeSynthesizer(), progress=False)
    before = path.stat().st_mtime_ns
    syn = FakeSynthesizer()
    assert G.make_grid(6, 1, path, synthesizer=syn, progress=False) == path
    assert syn.calls == 0 and path.stat().st_mtime_ns == before


def test_existing_grid_of_other_request_is_not_overwritten(tmp_path):
    path = G.make_grid(6, 1, tmp_path / "g.h5", synthesizer=FakeSynthesizer(), progress=False)
    with pytest.raises(ValueError, match="physics_hash"):
        G.make_grid(6, 1, path, synthesizer=FakeSynthesizer(physics_hash="other"), progress=False)


def test_resume_after_interrupt(tmp_path):
    path = tmp_path / "g.h5"
    syn = FakeSynthesizer(fail_on_call=3)
    with pytest.raises(KeyboardInterrupt):
        G.make_grid(10, 4, path, synthesizer=syn, chunk_size=2, progress=False)
    partial = G.partial_path(path)
    assert not path.exists() and partial.exists()
    with h5py.File(partial, "r") as f:
        assert f["done"][()].tolist() == [True] * 4 + [False] * 6
        np.testing.assert_array_equal(f["flux"][:4], FakeSynthesizer()(G.sample_labels(4, 4)))
    with pytest.raises(ValueError, match="incomplete.*resume"):
        G.read_grid(partial)
    with pytest.raises(FileNotFoundError, match="resume"):
        G.read_grid(path)

    syn2 = FakeSynthesizer()
    G.make_grid(10, 4, path, synthesizer=syn2, chunk_size=2, progress=False)
    assert syn2.rows == [2, 2, 2] and not partial.exists()
    ref = G.make_grid(10, 4, tmp_path / "ref.h5", synthesizer=FakeSynthesizer(), progress=False)
    a, b = G.read_grid(path), G.read_grid(ref)
    for key in ("wavelength", "labels", "flux", "gradients"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert G.grid_hash(path) == G.grid_hash(ref)


def test_mismatched_resume_names_attribute(tmp_path):
    path = tmp_path / "g.h5"
    with pytest.raises(KeyboardInterrupt):
        G.make_grid(
            8, 1, path, synthesizer=FakeSynthesizer(fail_on_call=2), chunk_size=2, progress=False
        )
    with pytest.raises(ValueError, match=r"seed=1.*requested 2.*delete"):
        G.make_grid(8, 2, path, synthesizer=FakeSynthesizer(), chunk_size=2, progress=False)
    with pytest.raises(ValueError, match="with_gradients"):
        G.make_grid(8, 1, path, synthesizer=FakeSynthesizer(), with_gradients=False, progress=False)


def test_grid_without_gradients(tmp_path):
    path = G.make_grid(
        5, 0, tmp_path / "g.h5", synthesizer=FakeSynthesizer(), with_gradients=False, progress=False
    )
    grid = G.read_grid(path)
    assert grid.gradients is None and grid.flux.shape == (5, 40)


def test_custom_labels(tmp_path):
    x = G.sample_labels(4, 9)[::-1].copy()
    grid = G.read_grid(
        G.make_grid(
            4, 0, tmp_path / "g.h5", synthesizer=FakeSynthesizer(), labels=x, progress=False
        )
    )
    np.testing.assert_array_equal(grid.labels, x)
    with pytest.raises(ValueError, match="3 rows but n=4"):
        G.make_grid(4, 0, tmp_path / "h.h5", synthesizer=FakeSynthesizer(), labels=x[:3])


def test_non_finite_synthesis_is_an_error(tmp_path):
    class NaNSynth(FakeSynthesizer):
        def __call__(self, labels, with_gradients=False):
            flux, grads = super().__call__(labels, with_gradients=True)
            flux[1, 3] = np.nan
            return flux, grads

    with pytest.raises(ValueError, match="non-finite flux for grid row 1"):
        G.make_grid(4, 0, tmp_path / "g.h5", synthesizer=NaNSynth(), progress=False)
    assert not (tmp_path / "g.h5").exists()


def test_bad_arguments_fail_before_synthesis(tmp_path):
    syn = FakeSynthesizer()
    with pytest.raises(ValueError, match="n must be"):
        G.make_grid(0, 0, tmp_path / "g.h5", synthesizer=syn)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=str(blocker)):
        G.make_grid(3, 0, blocker / "g.h5", synthesizer=syn)
    with pytest.raises(ValueError, match="is a directory"):
        G.make_grid(3, 0, tmp_path, synthesizer=syn)
    assert syn.calls == 0


# ------------------------------------------------------------------ read_grid validation
@pytest.fixture
def good(tmp_path):
    return G.make_grid(6, 0, tmp_path / "g.h5", synthesizer=FakeSynthesizer(), progress=False)


def _edit(path, fn):
    with h5py.File(path, "r+") as f:
        fn(f)
    return path


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        G.read_grid(tmp_path / "nope.h5")


@pytest.mark.parametrize("how", ["truncated", "text"])
def test_not_hdf5(good, how):
    good.write_bytes(good.read_bytes()[:500] if how == "truncated" else b"wavelength,flux\n")
    with pytest.raises(ValueError, match=r"g\.h5 (is not an HDF5 file|cannot be read as HDF5)"):
        G.read_grid(good)


def test_missing_flux(good):
    _edit(good, lambda f: f.__delitem__("flux"))
    with pytest.raises(ValueError, match="missing dataset 'flux'"):
        G.read_grid(good)


def test_flux_with_nan(good):
    def poison(f):
        f["flux"][4, 2] = np.nan

    _edit(good, poison)
    with pytest.raises(ValueError, match="'flux' has non-finite values.*row 4"):
        G.read_grid(good)


def test_wrong_wavelength_length(good):
    def shorten(f):
        wl = f["wavelength"][:-1]
        del f["wavelength"]
        f["wavelength"] = wl

    _edit(good, shorten)
    with pytest.raises(ValueError, match=r"flux has shape \(6, 40\).*wavelength 39 pixels"):
        G.read_grid(good)


def test_wavelength_not_increasing(good):
    def flip(f):
        f["wavelength"][:] = f["wavelength"][()][::-1]

    _edit(good, flip)
    with pytest.raises(ValueError, match="strictly increasing"):
        G.read_grid(good)


def test_different_label_names(good):
    def rename(f):
        names = list(LABELS)
        names[7] = "[Xx/Fe]"
        f.attrs["label_names"] = names

    _edit(good, rename)
    with pytest.raises(ValueError, match=r"missing \['\[Na/Fe\]'\], unexpected \['\[Xx/Fe\]'\]"):
        G.read_grid(good)


def test_label_names_in_another_order_are_refused(good):
    """The contract's ``labels`` columns follow ``label_names``; a grid whose names are the 34
    labels in another order than phdl.labels.LABELS is refused (not silently read with its
    columns under the wrong names), and the error names the field and the first position."""
    names = list(LABELS)
    names[5], names[6] = names[6], names[5]  # [N/Fe] <-> [O/Fe], columns swapped to match
    assert set(names) == set(LABELS)

    def reorder(f):
        f.attrs["label_names"] = names
        perm = [LABELS.index(n) for n in names]
        f["labels"][:] = f["labels"][()][:, perm]
        f["gradients"][:] = f["gradients"][()][:, perm]

    _edit(good, reorder)
    with pytest.raises(
        ValueError,
        match=r"label_names.*another order \(position 5: '\[O/Fe\]', expected '\[N/Fe\]'\)",
    ):
        G.read_grid(good)


def test_gradients_wrong_shape(good):
    def cut(f):
        g = f["gradients"][:, :33]
        del f["gradients"]
        f["gradients"] = g

    _edit(good, cut)
    with pytest.raises(ValueError, match=r"gradients has shape \(6, 33, 40\)"):
        G.read_grid(good)


def test_converted_grid_loads(tmp_path):
    """A user's grid with only the contract's datasets and extra attributes loads."""
    syn = FakeSynthesizer()
    x = G.sample_labels(3, 0)
    path = tmp_path / "kurucz.h5"
    with h5py.File(path, "w") as f:
        f["wavelength"] = syn.wavelength
        f["labels"] = x
        f["flux"] = syn(x).astype(np.float32)
        f.attrs["label_names"] = list(LABELS)
        f.attrs["source"] = "ATLAS12/SYNTHE"
        f.attrs["comment"] = "extra"
    grid = G.read_grid(path)
    assert grid.gradients is None and grid.attrs["comment"] == "extra"
    assert grid.flux.dtype == np.float64 and len(grid) == 3


def test_grid_hash_tracks_content(good, tmp_path):
    h = G.grid_hash(good)
    assert len(h) == 64 and G.grid_hash(good) == h

    def nudge(f):
        f["flux"][0, 0] += 1e-9

    assert G.grid_hash(_edit(good, nudge)) != h


def test_unreadable_partial_is_restarted(tmp_path):
    path = tmp_path / "g.h5"
    G.partial_path(path).write_bytes(b"killed mid-write")
    with pytest.warns(UserWarning, match="unreadable"):
        G.make_grid(3, 0, path, synthesizer=FakeSynthesizer(), progress=False)
    assert len(G.read_grid(path)) == 3


@pytest.mark.skipif(
    os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() == "FALSE", reason="HDF5 locking off"
)
def test_partial_in_use_is_not_deleted(tmp_path):
    path = tmp_path / "g.h5"
    with pytest.raises(KeyboardInterrupt):
        G.make_grid(
            4, 0, path, synthesizer=FakeSynthesizer(fail_on_call=2), chunk_size=2, progress=False
        )
    code = (
        "import h5py, sys, time; f = h5py.File(sys.argv[1], 'r+'); "
        "print('open', flush=True); time.sleep(30)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(G.partial_path(path))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(ValueError, match="in use by another process"):
            G.make_grid(4, 0, path, synthesizer=FakeSynthesizer(), chunk_size=2, progress=False)
    finally:
        proc.kill()
        proc.wait()
    assert G.partial_path(path).exists()


# ------------------------------------------------------------------ the grid file contract
# Files written directly with h5py (no synthesizer): the contract of phdl.gridfile's docstring.
def _contract_grid(path, n_spec=3, n_pix=5, **data):
    """A contract grid file; ``data`` replaces datasets (None leaves one out) or label_names."""
    rng = np.random.default_rng(0)
    content = {
        "wavelength": 5000.0 + 0.1 * np.arange(n_pix),  # sub-Å steps, as real grids have
        "labels": rng.uniform(LOWER, UPPER, size=(n_spec, 34)),
        "flux": rng.uniform(0.5, 1.0, size=(n_spec, n_pix)),
        "gradients": rng.normal(size=(n_spec, 34, n_pix)).astype(np.float32),
    }
    label_names = data.pop("label_names", list(LABELS))
    content.update(data)
    with h5py.File(path, "w") as f:
        for key, value in content.items():
            if value is not None:
                f[key] = value
        if label_names is not None:
            f.attrs["label_names"] = label_names
    return path


def test_partial_path_is_path_dot_partial(tmp_path):
    assert G.partial_path(tmp_path / "g.h5") == tmp_path / "g.h5.partial"
    assert G.partial_path(str(tmp_path / "out.h5")) == tmp_path / "out.h5.partial"


def test_contract_grid_reads_as_written(tmp_path):
    path = _contract_grid(tmp_path / "g.h5", 3, 5)
    with h5py.File(path, "r") as f:
        ref = {key: f[key][()] for key in ("wavelength", "labels", "flux", "gradients")}
    grid = G.read_grid(path)
    assert grid.path == path and len(grid) == 3 and grid.label_names == LABELS
    for key in ("wavelength", "labels", "flux"):
        assert getattr(grid, key).dtype == np.float64
        np.testing.assert_array_equal(getattr(grid, key), ref[key])
    assert grid.gradients.dtype == np.float32 and grid.gradients.shape == (3, 34, 5)
    np.testing.assert_array_equal(grid.gradients, ref["gradients"])
    assert grid.attrs["label_names"] == list(LABELS)
    assert G.read_grid(str(path), gradients=False).gradients is None


@pytest.mark.parametrize("n_spec, n_pix", [(1, 5), (3, 1), (1, 1)])
def test_smallest_grids_are_valid(tmp_path, n_spec, n_pix):
    grid = G.read_grid(_contract_grid(tmp_path / "g.h5", n_spec, n_pix))
    assert grid.flux.shape == (n_spec, n_pix) and grid.labels.shape == (n_spec, 34)


@pytest.mark.parametrize("n_spec, n_pix", [(0, 5), (3, 0), (0, 0)])
def test_empty_grid_is_refused(tmp_path, n_spec, n_pix):
    path = _contract_grid(tmp_path / "g.h5", n_spec, n_pix)
    with pytest.raises(
        ValueError, match=rf"g\.h5: empty grid \({n_spec} spectra, {n_pix} pixels\)"
    ):
        G.read_grid(path)


def test_missing_label_names_attribute(tmp_path):
    path = _contract_grid(tmp_path / "g.h5", label_names=None)
    with pytest.raises(ValueError, match=r"g\.h5: missing attribute 'label_names'"):
        G.read_grid(path)


def test_label_names_lacking_one_label(tmp_path):
    names = [x for x in LABELS if x != "[Eu/Fe]"]
    path = _contract_grid(tmp_path / "g.h5", label_names=names)
    with pytest.raises(
        ValueError,
        match=r"g\.h5: label_names differ from phdl\.labels\.LABELS: "
        r"missing \['\[Eu/Fe\]'\], unexpected \[\]",
    ):
        G.read_grid(path)


def _with_trailing_duplicate(tmp_path):
    names = [*LABELS, LABELS[-1]]  # every label, in order, then one of them again
    rng = np.random.default_rng(1)
    return _contract_grid(
        tmp_path / "g.h5",
        label_names=names,
        labels=rng.uniform(0, 1, (3, 35)),
        gradients=np.zeros((3, 35, 5), np.float32),
    )


def test_label_names_with_a_duplicate_are_refused(tmp_path):
    with pytest.raises(ValueError):
        G.read_grid(_with_trailing_duplicate(tmp_path))


def test_label_names_with_a_duplicate_error_names_file_and_field(tmp_path):
    with pytest.raises(ValueError, match=r"g\.h5: label_names.*repeated \['\[Eu/Fe\]'\]"):
        G.read_grid(_with_trailing_duplicate(tmp_path))


@pytest.mark.parametrize("key", ["wavelength", "labels", "flux", "gradients"])
def test_integer_dataset_is_refused(tmp_path, key):
    shapes = {"wavelength": (5,), "labels": (3, 34), "flux": (3, 5), "gradients": (3, 34, 5)}
    values = np.arange(np.prod(shapes[key]), dtype=np.int64).reshape(shapes[key]) + 1
    path = _contract_grid(tmp_path / "g.h5", **{key: values})
    with pytest.raises(
        ValueError, match=rf"g\.h5: dataset '{key}' has dtype int64, expected float"
    ):
        G.read_grid(path)


def test_wavelength_must_be_one_dimensional(tmp_path):
    path = _contract_grid(tmp_path / "g.h5", wavelength=5000.0 + 0.1 * np.arange(5)[None, :])
    with pytest.raises(ValueError, match=r"g\.h5: wavelength has shape \(1, 5\), expected"):
        G.read_grid(path)


@pytest.mark.parametrize("shape", [(3, 33), (3, 35), (102,)])
def test_labels_need_one_column_per_label_name(tmp_path, shape):
    path = _contract_grid(tmp_path / "g.h5", labels=np.ones(shape))
    with pytest.raises(
        ValueError,
        match=rf"g\.h5: labels has shape {re.escape(str(shape))}, "
        r"expected \(n_spec, 34\) for 34 label_names",
    ):
        G.read_grid(path)


@pytest.mark.parametrize(
    "key, index, row",
    [
        ("wavelength", (0,), 0),
        ("wavelength", (3,), 3),
        ("labels", (0, 0), 0),
        ("labels", (2, 7), 2),
        ("flux", (0, 4), 0),
        ("gradients", (1, 33, 2), 1),
    ],
)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_value_names_dataset_and_first_row(tmp_path, key, index, row, bad):
    path = _contract_grid(tmp_path / "g.h5")

    def poison(f):
        values = f[key][()]
        values[index] = bad
        f[key][...] = values

    _edit(path, poison)
    with pytest.raises(
        ValueError, match=rf"g\.h5: dataset '{key}' has non-finite values \(first at row {row}\)"
    ):
        G.read_grid(path)


@pytest.mark.parametrize("rows", [[0], [255], [256], [299], [298, 260]])
def test_non_finite_rows_found_in_a_long_grid(tmp_path, rows):
    """Rows are checked in slabs: the first bad row is found wherever it lies."""
    path = _contract_grid(tmp_path / "g.h5", 300, 3)
    assert len(G.read_grid(path)) == 300  # a clean long grid (a last, partial slab) reads

    def poison(f):
        flux = f["flux"][()]
        flux[rows, 1] = np.nan
        f["flux"][...] = flux

    _edit(path, poison)
    with pytest.raises(
        ValueError, match=rf"'flux' has non-finite values \(first at row {min(rows)}\)"
    ):
        G.read_grid(path)


@pytest.mark.parametrize(
    "wavelength",
    [
        [5000.0, 5000.1, 5000.1, 5000.2, 5000.3],  # repeated pixel
        [5000.0, 5000.2, 5000.1, 5000.3, 5000.4],  # one step back
        [0.0, 0.1, 0.2, 0.3, 0.4],  # starts at zero
        [-0.2, 0.1, 0.2, 0.3, 0.4],  # negative
    ],
)
def test_wavelength_must_be_positive_and_strictly_increasing(tmp_path, wavelength):
    path = _contract_grid(tmp_path / "g.h5", wavelength=np.array(wavelength))
    with pytest.raises(
        ValueError, match=r"g\.h5: wavelength must be positive and strictly increasing"
    ):
        G.read_grid(path)


@pytest.mark.parametrize("start, step", [(5000.0, 0.01), (0.5, 0.25), (1e-3, 1e-4)])
def test_any_positive_increasing_wavelength_is_accepted(tmp_path, start, step):
    wl = start + step * np.arange(5)
    grid = G.read_grid(_contract_grid(tmp_path / "g.h5", wavelength=wl))
    np.testing.assert_array_equal(grid.wavelength, wl)


def test_incomplete_grid_says_how_much_is_done(tmp_path):
    path = _contract_grid(tmp_path / "g.h5", done=np.array([True, False, True]))
    with pytest.raises(
        ValueError,
        match=r"g\.h5 is incomplete \(2 of 3 spectra done\); rerun make_grid / phdl grid "
        "with the same arguments to resume",
    ):
        G.read_grid(path)
    assert len(G.read_grid(_contract_grid(path, done=np.ones(3, bool)))) == 3


def test_missing_file_message(tmp_path):
    path = tmp_path / "nope.h5"
    with pytest.raises(FileNotFoundError, match=rf"^grid file {re.escape(str(path))} not found$"):
        G.read_grid(path)
    G.partial_path(path).write_bytes(b"")
    with pytest.raises(
        FileNotFoundError,
        match=rf"^grid file {re.escape(str(path))} not found; only the incomplete "
        rf"{re.escape(str(G.partial_path(path)))} exists: rerun make_grid / phdl grid with the "
        "same arguments to resume it$",
    ):
        G.read_grid(path)


# ------------------------------------------------------------------ grid_hash
def test_grid_hash_missing_dataset(tmp_path):
    path = _contract_grid(tmp_path / "g.h5", labels=None)
    with pytest.raises(ValueError, match=r"g\.h5: missing dataset 'labels'"):
        G.grid_hash(path)


def test_grid_hash_covers_label_names(tmp_path):
    """Same numbers under other column names are another grid."""
    a = _contract_grid(tmp_path / "a.h5")
    names = list(LABELS)
    names[1], names[2] = names[2], names[1]
    b = _contract_grid(tmp_path / "b.h5", label_names=names)
    c = _contract_grid(tmp_path / "c.h5", label_names=[n + " " for n in LABELS])
    assert len({G.grid_hash(a), G.grid_hash(b), G.grid_hash(c)}) == 3


def test_grid_hash_ignores_layout_attributes_and_gradients(tmp_path):
    """The hash is of the values as float64: storage dtype, chunks, compression, attributes
    and gradients do not enter it."""
    rng = np.random.default_rng(3)
    labels = rng.uniform(LOWER, UPPER, (4, 34)).astype(np.float32)
    flux = rng.uniform(0.5, 1, (4, 6)).astype(np.float32)
    wl = np.linspace(5000.0, 5001.0, 6)
    a = _contract_grid(
        tmp_path / "a.h5", 4, 6, wavelength=wl, labels=labels.astype(np.float64),
        flux=flux.astype(np.float64),
    )  # fmt: skip
    b = tmp_path / "b.h5"
    with h5py.File(b, "w") as f:
        f.create_dataset("wavelength", data=wl, chunks=(2,), compression="gzip")
        f.create_dataset("labels", data=labels, chunks=(1, 34), compression="gzip")
        f.create_dataset("flux", data=flux, chunks=(3, 2))
        f["gradients"] = np.ones((4, 34, 6), np.float32)
        f.attrs["label_names"] = list(LABELS)
        f.attrs["source"] = "elsewhere"
    assert G.grid_hash(a) == G.grid_hash(b)


def test_grid_hash_absent_label_names_are_no_label_names(tmp_path):
    a = _contract_grid(tmp_path / "a.h5", label_names=None)
    b = _contract_grid(tmp_path / "b.h5", label_names=np.array([], dtype=h5py.string_dtype()))
    assert G.grid_hash(a) == G.grid_hash(b) != G.grid_hash(_contract_grid(tmp_path / "c.h5"))


def test_grid_hash_is_stable_across_versions(tmp_path):
    """Checkpoints store grid_hash and resuming compares it (phdl.train.loop): a change of the
    hash would make every existing checkpoint unresumable, so its value is pinned here."""
    path = tmp_path / "g.h5"
    with h5py.File(path, "w") as f:
        f["wavelength"] = np.array([5000.0, 5000.5, 5001.0])
        f["labels"] = np.arange(68, dtype=np.float64).reshape(2, 34) / 8
        f["flux"] = np.array([[1.0, 0.5, 0.25], [0.75, 1.0, 0.125]])
        f.attrs["label_names"] = list(LABELS)
    assert G.grid_hash(path) == "29ff68be57c511a135bd05c82962ed1f894e665a578d0056eb076c75dc7b77a6"
