"""phdl.io: LAMOST FITS spectra (DR1–7 image and DR8+ table), rest frame, masks, normalization,
and ``phdl fit`` on FITS files."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from phdl import cli
from phdl.fit import ResampleWarning, ToyModel, read_table
from phdl.io import LamostWarning, is_fits, normalize, read_lamost, read_lamost_file

C_KMS = 299792.458
TARGET = 3750.0 * 10 ** (1e-4 * np.arange(3800))  # the model grid (Physics defaults)
OBS = 3690.0 * 10 ** (1e-4 * np.arange(3909))  # a LAMOST-like observed grid
LINES = (4500.0, 6000.0, 8000.0)  # rest wavelengths (Å) of three absorption lines


def _continuum(wl):
    return 800.0 * (wl / 5000.0) ** -1.5


def _lines(wl_rest):
    out = np.ones_like(wl_rest)
    for c in LINES:
        out -= 0.5 * np.exp(-0.5 * ((wl_rest - c) / 2.0) ** 2)
    return out


def _observed(z, continuum=True):
    flux = _lines(OBS / (1 + z)) * (_continuum(OBS) if continuum else 1.0)
    ivar = 1.0 / (0.01 * flux) ** 2
    return flux, ivar


def _write(path, flux, ivar, *, z=None, fmt="dr8", andmask=None, ormask=None):
    andmask = np.zeros(OBS.size, dtype=np.int32) if andmask is None else andmask
    ormask = andmask if ormask is None else ormask
    header = fits.Header()
    if z is not None:
        header["Z"] = z
    if fmt == "dr8":
        cols = [
            fits.Column(name=name, format=f"{OBS.size}{code}", array=arr[None])
            for name, code, arr in (
                ("FLUX", "E", flux),
                ("IVAR", "E", ivar),
                ("WAVELENGTH", "D", OBS),
                ("ANDMASK", "J", andmask),
                ("ORMASK", "J", ormask),
            )
        ]
        hdul = fits.HDUList(
            [fits.PrimaryHDU(header=header), fits.BinTableHDU.from_columns(cols, name="COADD")]
        )
    else:
        # DR1–7: the primary image's rows are flux, ivar, wavelength, and-mask, or-mask
        data = np.stack([flux, ivar, OBS, andmask, ormask]).astype(np.float32)
        hdul = fits.HDUList([fits.PrimaryHDU(data, header=header)])
    hdul.writeto(path)
    return path


def test_flat_continuum_without_lines_normalizes_to_one(tmp_path):
    flux = np.full(OBS.size, 300.0)
    path = _write(tmp_path / "flat.fits", flux, np.full(OBS.size, 4.0), z=0.0)
    with pytest.warns(ResampleWarning, match="rest frame"):
        s = read_lamost([path], TARGET)
    assert s.flux.shape == (1, TARGET.size) and np.array_equal(s.wavelength, TARGET)
    assert np.allclose(s.flux, 1.0, atol=1e-6)
    assert np.allclose(s.ivar, 4.0 * 300.0**2, rtol=1e-5)


@pytest.mark.parametrize("fmt", ["dr8", "dr5"])
def test_lines_land_at_rest_wavelengths_and_continuum_is_removed(tmp_path, fmt):
    z = 60.0 / C_KMS  # 60 km/s: 1.2 Å at 6000 Å, more than a pixel
    flux, ivar = _observed(z)
    path = _write(tmp_path / f"{fmt}.fits", flux, ivar, z=z, fmt=fmt)
    with pytest.warns(ResampleWarning):
        s = read_lamost([path], TARGET)
    f = s.flux[0]
    for c in LINES:
        near = np.abs(TARGET - c) < 10.0
        centre = TARGET[near][np.argmin(f[near])]
        assert abs(centre - c) < 0.6 * c * 2.3e-4, (c, centre)  # within 0.6 pixel
    free = np.ones(TARGET.size, bool)
    for c in LINES:
        free &= np.abs(TARGET - c) > 15.0
    # as the engine would normalize the same star on the model grid (edges included) ...
    direct, _ = normalize(TARGET, (_lines(TARGET) * _continuum(TARGET * (1 + z)))[None],
                          np.ones((1, TARGET.size)))  # fmt: skip
    assert np.allclose(f[free], direct[0][free], atol=2e-3)
    # ... which removes the continuum away from the edges (the kernel is truncated there) and
    # from the lines (they lower the running mean within ~3 L)
    inner = (TARGET > TARGET[0] + 250.0) & (TARGET < TARGET[-1] - 250.0)
    for c in LINES:
        inner &= np.abs(TARGET - c) > 150.0
    assert np.all(np.abs(f[inner] - 1.0) < 0.01)
    assert np.all(s.ivar[0] > 0)  # nothing masked: the observed grid covers the target


def test_both_formats_read_the_same(tmp_path):
    flux, ivar = _observed(0.0)
    a = read_lamost_file(_write(tmp_path / "a.fits", flux, ivar, z=0.0, fmt="dr8"))
    b = read_lamost_file(_write(tmp_path / "b.fits", flux, ivar, z=0.0, fmt="dr5"))
    for x, y in zip(a[:3], b[:3], strict=True):
        assert np.allclose(x, y, rtol=1e-6)
    assert a[3] == b[3] == 0.0


def test_andmask_masks_pixels_and_stays_out_of_the_running_mean(tmp_path):
    flux, ivar = _observed(0.0, continuum=False)
    spiked = flux.copy()
    bad = (OBS > 5500.0) & (OBS < 5510.0)
    spiked[bad] = 1e6  # a cosmic ray, flagged by the pipeline
    mask = np.where(bad, 4, 0).astype(np.int32)
    with pytest.warns(ResampleWarning):
        clean = read_lamost([_write(tmp_path / "c.fits", flux, ivar, z=0.0)], TARGET)
        hit = read_lamost([_write(tmp_path / "m.fits", spiked, ivar, z=0.0, andmask=mask)], TARGET)
    masked = hit.ivar[0] == 0
    assert masked.sum() >= bad.sum() and np.all(np.abs(TARGET[masked] - 5505.0) < 8.0)
    assert np.allclose(hit.flux[0][~masked], clean.flux[0][~masked], atol=2e-3)


@pytest.mark.parametrize("fmt", ["dr5", "dr8"])
def test_the_and_mask_masks_not_the_or_mask(tmp_path, fmt):
    """LAMOST's and-mask marks pixels bad in every exposure, the or-mask those bad in at least
    one (a superset). Only the and-mask masks a pixel: in the DR1–7 image that is row 4 (index
    3), row 5 being the or-mask; in DR8+ the ANDMASK column, not ORMASK."""
    flux, ivar = _observed(0.0)
    andmask = np.zeros(OBS.size, dtype=np.int32)
    andmask[100:110] = 1 << 23  # e.g. BADSKY in every exposure
    ormask = andmask.copy()
    ormask[300:320] = 1 << 17  # bad in one exposure only: still usable
    path = _write(tmp_path / f"{fmt}.fits", flux, ivar, z=0.0, fmt=fmt, andmask=andmask,
                  ormask=ormask)  # fmt: skip
    wl, f, w, _ = read_lamost_file(path)
    assert np.array_equal(wl, OBS.astype(np.float32) if fmt == "dr5" else OBS)
    assert np.all(w[100:110] == 0.0) and np.all(f[100:110] == 0.0)
    keep = np.ones(OBS.size, bool)
    keep[100:110] = False
    assert np.all(w[keep] > 0)  # the or-mask's pixels 300–319 included
    assert np.allclose(w[300:320], ivar[300:320], rtol=1e-6)
    assert np.allclose(f[keep], flux[keep], rtol=1e-6)


def test_normalize_ignores_masked_pixels_exactly():
    flux = np.full((1, TARGET.size), 2.0)
    ivar = np.ones_like(flux)
    flux[0, 1000:1010] = 50.0
    ivar[0, 1000:1010] = 0.0
    nf, nw = normalize(TARGET, flux, ivar)
    assert np.all(nw[0, 1000:1010] == 0) and np.allclose(np.delete(nf[0], range(1000, 1010)), 1.0)


def test_missing_redshift_warns_and_reads_observed_frame(tmp_path):
    flux, ivar = _observed(0.0)
    path = _write(tmp_path / "noz.fits", flux, ivar, z=None)
    with pytest.warns(LamostWarning, match="noz.fits"), pytest.warns(ResampleWarning):
        s = read_lamost([path], TARGET)
    assert np.all(np.isfinite(s.flux))


def test_bad_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="gone.fits"):
        read_lamost_file(tmp_path / "gone.fits")
    cols = [fits.Column(name="FLUX", format="3E", array=np.ones((1, 3)))]
    path = tmp_path / "nocols.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    with pytest.raises(ValueError, match=r"nocols\.fits.*IVAR"):
        read_lamost_file(path)
    path = tmp_path / "img.fits"
    fits.PrimaryHDU(np.ones(10)).writeto(path)
    with pytest.raises(ValueError, match=r"img\.fits.*\(5, n_pix\)"):
        read_lamost_file(path)


def test_cli_fit_reads_lamost_files(tmp_path, capsys, monkeypatch):
    model = ToyModel(n_pix=300, seed=2)
    monkeypatch.setattr(cli, "_load_model", lambda path: model)
    truth = np.repeat(((model.label_min + model.label_max) / 2)[None], 2, 0)
    target = model.predict(truth)
    paths = []
    for i in range(2):  # the toy spectrum times a continuum, on the observed grid
        flux = np.interp(OBS, model.wavelength, target[i]) * _continuum(OBS)
        paths.append(_write(tmp_path / f"s{i}.fits", flux, np.full(OBS.size, 1e2), z=0.0))
    out = tmp_path / "labels.fits"
    rc = cli.main(
        ["fit", "--model", "m.pt", "--spectra", *map(str, paths), "--out", str(out), "--quiet"]
        + ["--strategy", "full"]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "2 LAMOST spectra" in captured.err and "normalized" in captured.err
    table = read_table(out)
    assert len(table) == 2 and list(table["status"]) == ["ok", "ok"]


def test_cli_fit_refuses_a_mixture(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_load_model", lambda path: ToyModel(n_pix=50))
    rc = cli.main(
        ["fit", "--model", "m.pt", "--spectra", "a.h5", "b.fits", "--out", str(tmp_path / "o")]
    )
    assert rc == 2 and "not a mixture" in capsys.readouterr().err


# --- the file format: which HDU, row and column is which ------------------------------------


def _table(path, columns, *, header=None):
    """A DR8+-like file: an empty primary HDU (with ``header``) and a one-row binary table of
    the array ``columns`` {name: (format code, array)}."""
    cols = [
        fits.Column(name=name, format=f"{arr.size}{code}", array=np.asarray(arr)[None])
        for name, (code, arr) in columns.items()
    ]
    primary = fits.PrimaryHDU(header=header)
    fits.HDUList([primary, fits.BinTableHDU.from_columns(cols)]).writeto(path)
    return path


def test_dr8_column_names_are_case_insensitive_and_the_masks_optional(tmp_path):
    """FLUX, IVAR, WAVELENGTH are matched whatever their case; without ANDMASK (optional) no
    pixel is masked by a mask."""
    flux, ivar = _observed(0.0)
    path = _table(
        tmp_path / "lower.fits",
        {"flux": ("E", flux), "Ivar": ("E", ivar), "wavelength": ("D", OBS)},
    )
    wl, f, w, z = read_lamost_file(path)
    assert np.array_equal(wl, OBS) and z is None
    assert np.allclose(f, flux, rtol=1e-6) and np.allclose(w, ivar, rtol=1e-6)
    assert np.all(w > 0)


def test_dr8_lowercase_andmask_column_masks(tmp_path):
    flux, ivar = _observed(0.0)
    andmask = np.zeros(OBS.size, dtype=np.int32)
    andmask[50:60] = 1
    path = _table(
        tmp_path / "m.fits",
        {
            "Flux": ("E", flux),
            "IVAR": ("E", ivar),
            "Wavelength": ("D", OBS),
            "andmask": ("J", andmask),
        },
    )
    _, f, w, _ = read_lamost_file(path)
    assert np.all(w[50:60] == 0) and np.all(f[50:60] == 0)
    assert np.all(np.delete(w, range(50, 60)) > 0)


@pytest.mark.parametrize("fmt", ["dr8", "dr5"])
def test_arrays_come_back_native_float64(tmp_path, fmt):
    """FITS stores big-endian float32 (flux, ivar; DR1–7 wavelength) and float64: the reader
    hands back native-byte-order float64 arrays (what numpy, the fit and torch work with)."""
    flux, ivar = _observed(0.0)
    wl, f, w, _ = read_lamost_file(_write(tmp_path / "a.fits", flux, ivar, z=0.0, fmt=fmt))
    for arr in (wl, f, w):
        assert arr.dtype == np.dtype("=f8") and arr.dtype.isnative


def test_dr5_image_without_mask_rows_and_with_the_and_mask_only(tmp_path):
    """The DR1–7 image rows are flux, ivar, wavelength[, and-mask[, or-mask]]: an image of 3
    rows has no mask (like a DR8+ table without ANDMASK), one of 4 rows an and-mask."""
    flux, ivar = _observed(0.0)
    three = tmp_path / "three.fits"
    fits.PrimaryHDU(np.stack([flux, ivar, OBS]).astype(np.float32)).writeto(three)
    wl, f, w, _ = read_lamost_file(three)
    assert np.allclose(wl, OBS, rtol=1e-7) and np.allclose(f, flux, rtol=1e-6)
    assert np.all(w > 0)
    andmask = np.zeros(OBS.size)
    andmask[7:9] = 2
    four = tmp_path / "four.fits"
    fits.PrimaryHDU(np.stack([flux, ivar, OBS, andmask]).astype(np.float32)).writeto(four)
    _, f, w, _ = read_lamost_file(four)
    assert np.all(w[7:9] == 0) and np.all(f[7:9] == 0)
    assert np.all(np.delete(w, [7, 8]) > 0)


def test_dr5_primary_image_with_extra_image_extension(tmp_path):
    """Only a binary table extension makes a file DR8+: an image extension after a DR1–7
    primary image is not a table and the primary is read."""
    flux, ivar = _observed(0.0)
    data = np.stack([flux, ivar, OBS, np.zeros(OBS.size), np.zeros(OBS.size)])
    path = tmp_path / "extra.fits"
    hdul = fits.HDUList([fits.PrimaryHDU(data.astype(np.float32)), fits.ImageHDU(np.ones(4))])
    hdul.writeto(path)
    wl, f, w, _ = read_lamost_file(path)
    assert np.allclose(wl, OBS, rtol=1e-7) and np.allclose(f, flux, rtol=1e-6)


# --- the header redshift ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [-9999.0, -9999, -1.0, -1.5, "NaN", "inf", "none"])
def test_unusable_header_z_is_none(tmp_path, value):
    """LAMOST's -9999 (no RV), z ≤ -1 (1 + z ≤ 0: no rest frame), non-finite or non-numeric
    values are not a redshift."""
    flux, ivar = _observed(0.0)
    header = fits.Header()
    header["Z"] = value
    path = _table(
        tmp_path / "z.fits",
        {"FLUX": ("E", flux), "IVAR": ("E", ivar), "WAVELENGTH": ("D", OBS)},
        header=header,
    )
    assert read_lamost_file(path)[3] is None
    with pytest.warns(LamostWarning, match=r"z\.fits.*no usable redshift Z"):
        with pytest.warns(ResampleWarning):
            s = read_lamost([path], TARGET)
    assert np.all(np.isfinite(s.flux)) and np.mean(s.ivar[0] > 0) > 0.95


@pytest.mark.parametrize("value", [0.0, 2e-4, -3e-4, -0.999])
def test_usable_header_z_is_returned(tmp_path, value):
    flux, ivar = _observed(0.0)
    path = _write(tmp_path / "z.fits", flux, ivar, z=value)
    assert read_lamost_file(path)[3] == pytest.approx(value, rel=1e-12)


def _line_centres(flux):
    out = []
    for c in LINES:
        near = np.abs(TARGET - c) < 10.0
        out.append(TARGET[near][np.argmin(flux[near])])
    return np.array(out)


def test_file_without_z_is_read_in_the_observed_frame(tmp_path):
    flux, ivar = _observed(0.0)  # lines at their rest wavelengths in the observed frame
    path = _write(tmp_path / "noz.fits", flux, ivar, z=None)
    with pytest.warns(LamostWarning, match="noz.fits"), pytest.warns(ResampleWarning):
        s = read_lamost([path], TARGET)
    assert np.allclose(_line_centres(s.flux[0]), LINES, atol=1.5)
    assert np.all(s.ivar[0] > 0)


def test_z_argument_overrides_every_header(tmp_path):
    z_true = 60.0 / C_KMS
    flux, ivar = _observed(z_true)
    wrong = _write(tmp_path / "wrong.fits", flux, ivar, z=300.0 / C_KMS)
    noz = _write(tmp_path / "noz.fits", flux, ivar, z=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = read_lamost([wrong, noz], TARGET, z=z_true)
    assert not [w for w in caught if issubclass(w.category, LamostWarning)]
    for f in s.flux:
        assert np.allclose(_line_centres(f), LINES, atol=0.6 * 6000.0 * 2.3e-4)
    # and the header's Z is what is used without the argument: 240 km/s off (~ 4 Å at 6000 Å)
    with pytest.warns(ResampleWarning):
        off = read_lamost([wrong], TARGET)
    shift = np.array(LINES) * (z_true - 300.0 / C_KMS)
    assert np.allclose(_line_centres(off.flux[0]) - LINES, shift, atol=1.5)


# --- masks -------------------------------------------------------------------------------------


def test_bad_pixels_get_zero_ivar_and_zero_flux(tmp_path):
    """ivar ≤ 0 and non-finite flux or ivar mask a pixel: ivar 0 (and flux 0, as clean())."""
    flux, ivar = _observed(0.0)
    flux, ivar = flux.copy(), ivar.copy()
    ivar[10] = 0.0
    ivar[20] = -1.0
    flux[30] = np.nan
    ivar[40] = np.inf
    flux[50] = -np.inf
    bad = [10, 20, 30, 40, 50]
    wl, f, w, _ = read_lamost_file(_write(tmp_path / "b.fits", flux, ivar, z=0.0))
    assert np.all(w[bad] == 0) and np.all(f[bad] == 0)
    assert np.all(np.isfinite(f)) and np.all(np.isfinite(w))
    keep = np.delete(np.arange(OBS.size), bad)
    assert np.all(w[keep] > 0) and np.allclose(f[keep], flux[keep], rtol=1e-6)


# --- normalize: Eq. 24 and the 10 % rule, with a given running mean ---------------------------


def test_normalize_masks_below_min_weight_and_nonpositive_continuum(monkeypatch):
    """f_n = f / f̃ and ivar_n = ivar · f̃² where the window's good weight fraction is ≥
    MIN_WEIGHT and f̃ > 0; elsewhere (and at masked pixels) flux 0, ivar 0."""
    from phdl.io import lamost

    mw = lamost.MIN_WEIGHT
    cont = np.array([2.0, 2.0, 0.0, -1.0, 4.0, 2.0, 0.5])
    frac = np.array([mw, np.nextafter(mw, 0.0), 1.0, 1.0, 1.0, 1.0, 0.5])
    monkeypatch.setattr(lamost, "masked_running_mean", lambda wl, f, good, length: (
        cont[None], frac[None]))  # fmt: skip
    flux = np.array([[3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 1.0]])
    ivar = np.array([[1.0, 1.0, 1.0, 1.0, 2.0, 0.0, 8.0]])
    nf, nw = normalize(TARGET[:7], flux, ivar)
    ok = np.array([True, False, False, False, True, False, True])
    assert np.array_equal(nw[0] > 0, ok)
    assert np.allclose(nf[0][ok], flux[0][ok] / cont[ok])
    assert np.allclose(nw[0][ok], ivar[0][ok] * cont[ok] ** 2)
    assert np.all(nf[0][~ok] == 0) and np.all(nw[0][~ok] == 0)


def test_isolated_good_pixel_among_masked_ones_is_masked():
    flux = np.full((1, TARGET.size), 2.0)
    ivar = np.zeros_like(flux)
    ivar[0, :500] = 1.0
    ivar[0, 1500] = 1.0  # alone: its window holds < 10 % good weight
    nf, nw = normalize(TARGET, flux, ivar)
    assert nw[0, 1500] == 0 and nf[0, 1500] == 0
    assert np.all(nw[0, :400] > 0) and np.allclose(nf[0, :400], 1.0)
    assert np.all(nf[0, 500:] == 0)


def test_read_lamost_uses_the_given_kernel_width(tmp_path):
    z = 0.0
    flux, ivar = _observed(z)
    path = _write(tmp_path / "a.fits", flux, ivar, z=z)
    with pytest.warns(ResampleWarning, match=r"L = 20 Å"):
        s = read_lamost([path], TARGET, length=20.0)
    direct, _ = normalize(TARGET, (_lines(TARGET) * _continuum(TARGET))[None],
                          np.ones((1, TARGET.size)), 20.0)  # fmt: skip
    free = np.ones(TARGET.size, bool)
    for c in LINES:
        free &= np.abs(TARGET - c) > 15.0
    assert np.allclose(s.flux[0][free], direct[0][free], atol=2e-3)


# --- read_lamost's output and messages --------------------------------------------------------


def test_spectra_name_their_files_and_are_float64(tmp_path):
    flux, ivar = _observed(0.0)
    a = _write(tmp_path / "a.fits", flux, ivar, z=0.0)
    b = _write(tmp_path / "b.fits", flux, ivar, z=0.0, fmt="dr5")
    with pytest.warns(ResampleWarning) as rec:
        s = read_lamost([a, b], TARGET.astype(np.float32))
    assert s.path == f"{a}, {b}"
    for arr in (s.wavelength, s.flux, s.ivar):
        assert arr.dtype == np.float64
    assert s.flux.shape == (2, TARGET.size)
    msg = str(rec[0].message)
    t32 = TARGET.astype(np.float32).astype(np.float64)
    assert f"2 LAMOST spectra ({OBS.size}–{OBS.size} pixels each)" in msg
    assert f"model's {TARGET.size} pixels ({t32[0]:.2f}–{t32[-1]:.2f} Å)" in msg
    assert "L = 50 Å" in msg


def test_warnings_point_at_the_caller_not_the_reader(tmp_path):
    flux, ivar = _observed(0.0)
    path = _write(tmp_path / "noz.fits", flux, ivar, z=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_lamost([path], TARGET)
    assert {w.category for w in caught} >= {LamostWarning, ResampleWarning}
    for w in caught:
        assert Path(w.filename).name != "lamost.py", (w.category, w.filename)


def test_no_files_is_an_error():
    with pytest.raises(ValueError, match="^no LAMOST files given$"):
        read_lamost([], TARGET)


def test_malformed_files_are_named(tmp_path):
    junk = tmp_path / "junk.fits"
    junk.write_text("not a FITS file\n" * 200)
    with pytest.raises(ValueError, match=r"junk\.fits cannot be read as FITS"):
        read_lamost_file(junk)
    empty = tmp_path / "empty.fits"
    fits.PrimaryHDU().writeto(empty)
    with pytest.raises(ValueError, match=r"empty\.fits.*\(5, n_pix\); the primary image is None"):
        read_lamost_file(empty)
    img = tmp_path / "img.fits"
    fits.PrimaryHDU(np.ones(10)).writeto(img)
    with pytest.raises(ValueError, match=r"img\.fits.*the primary image is \(10,\)"):
        read_lamost_file(img)
    two = tmp_path / "two.fits"
    fits.PrimaryHDU(np.ones((2, 10))).writeto(two)
    with pytest.raises(ValueError, match=r"two\.fits.*the primary image is \(2, 10\)"):
        read_lamost_file(two)
    nocols = tmp_path / "nocols.fits"
    _table(nocols, {"FLUX": ("E", np.ones(3)), "IVAR": ("E", np.ones(3))})
    with pytest.raises(
        ValueError,
        match=r"nocols\.fits.*\['WAVELENGTH'\].*\['FLUX', 'IVAR', 'WAVELENGTH', 'ANDMASK', "
        r"'ORMASK'\]",
    ):
        read_lamost_file(nocols)


def test_shapes_and_wavelengths_are_checked(tmp_path):
    uneven = _table(
        tmp_path / "uneven.fits",
        {"FLUX": ("E", np.ones(5)), "IVAR": ("E", np.ones(4)), "WAVELENGTH": ("D", OBS[:5])},
    )
    with pytest.raises(
        ValueError,
        match=r"uneven\.fits: flux \(5,\), ivar \(4,\) and wavelength \(5,\) must be 1-D arrays "
        "of one length",
    ):
        read_lamost_file(uneven)
    one = _table(
        tmp_path / "one.fits",
        {"FLUX": ("E", np.ones(1)), "IVAR": ("E", np.ones(1)), "WAVELENGTH": ("D", OBS[:1])},
    )
    with pytest.raises(ValueError, match=r"one\.fits.*1-D arrays of one length"):
        read_lamost_file(one)
    one_pixel_image = tmp_path / "one_pixel.fits"
    fits.PrimaryHDU(np.array([[1.0], [1.0], [4000.0], [0.0], [0.0]])).writeto(one_pixel_image)
    with pytest.raises(
        ValueError, match=r"one_pixel\.fits: flux \(1,\), ivar \(1,\) and wavelength \(1,\)"
    ):
        read_lamost_file(one_pixel_image)
    # two pixels (one interval to interpolate on) is the smallest spectrum
    two = _table(
        tmp_path / "two.fits",
        {"FLUX": ("E", np.ones(2)), "IVAR": ("E", np.ones(2)), "WAVELENGTH": ("D", OBS[:2])},
    )
    assert np.array_equal(read_lamost_file(two)[0], OBS[:2])
    for name, wl in (
        ("repeat", np.array([4000.0, 4001.0, 4001.0, 4002.0])),
        ("decrease", np.array([4003.0, 4002.0, 4001.0, 4000.0])),
        ("nan", np.array([4000.0, np.nan, 4002.0, 4003.0])),
    ):
        path = _table(
            tmp_path / f"{name}.fits",
            {"FLUX": ("E", np.ones(4)), "IVAR": ("E", np.ones(4)), "WAVELENGTH": ("D", wl)},
        )
        with pytest.raises(
            ValueError, match=rf"{name}\.fits: the wavelength array is not finite and increasing"
        ):
            read_lamost_file(path)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("spec.fits", True),
        ("spec.fit", True),
        ("spec.fts", True),
        ("spec.fits.gz", True),
        ("spec.fit.gz", True),
        ("spec.fts.gz", True),
        ("SPEC.FITS", True),
        ("Spec.Fit", True),
        ("SPEC.FTS", True),
        ("SPEC.FITS.GZ", True),
        ("spec.FIT.GZ", True),
        ("spec.Fts.Gz", True),
        ("spec.h5", False),
        ("spec.fits.txt", False),
        ("fits", False),
        ("spec.gz", False),
    ],
)
def test_is_fits_by_suffix(name, expected):
    assert is_fits(name) is expected
    assert is_fits(Path("dir.fits") / name) is expected
