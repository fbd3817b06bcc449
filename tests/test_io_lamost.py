"""phdl.io: LAMOST FITS spectra (DR1–7 image and DR8+ table), rest frame, masks, normalization,
and ``phdl fit`` on FITS files."""

import numpy as np
import pytest
from astropy.io import fits

from phdl import cli
from phdl.fit import ResampleWarning, ToyModel, read_table
from phdl.io import LamostWarning, normalize, read_lamost, read_lamost_file

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
