"""fit_spectra's bookkeeping around the fit: the status of stars with too few usable pixels,
the star_index check, the resume checkpoint's key, the progress bar; and the scaled ``tolchi2``
threshold of :meth:`phdl.fit.cmaes._Stage.stop_reason` (fit-cmaes mutation triage)."""

import re
from types import SimpleNamespace

import numpy as np
import pytest

from phdl.fit import ToyModel, fitting
from phdl.fit.cmaes import HISTORY, StageOptions, _Stage
from phdl.fit.resume import Checkpoint
from phdl.labels import index

FIT3 = [index("Teff"), index("logg"), index("[Fe/H]")]
# the quickest fit: given start, no Gauss-Newton, one generation of 2 per stage
QUICK = dict(max_iter=1, popsize=2, gn_steps=0)


@pytest.fixture(scope="module")
def toy():
    return ToyModel(n_pix=60, seed=5)


def _data(toy, n, seed=0):
    rng = np.random.default_rng(seed)
    init = fitting.default_labels(toy)[None].repeat(n, 0)
    init[:, FIT3] += rng.normal(0.0, 0.05, (n, 3)) * (toy.label_max - toy.label_min)[FIT3]
    flux = toy.predict(init)
    return flux, np.full_like(flux, 1e4), fitting.default_labels(toy)[None].repeat(n, 0)


# ------------------------------------------------------------------ status of unusable stars
def test_status_names_masked_stars_and_the_pixel_threshold(toy):
    flux, ivar, init = _data(toy, 5)
    n_fit = 28  # Group I + Group II, fitted in the two stages
    ivar[0] = 0.0  # every pixel masked
    ivar[1, 1:] = 0.0  # one usable pixel
    ivar[2, n_fit - 1 :] = 0.0  # 27 usable pixels: one short of the 28 labels
    ivar[3, n_fit:] = 0.0  # exactly 28 usable pixels: enough
    flux[4, : toy.wavelength.size - n_fit] = np.nan  # non-finite flux masks too: 28 left
    t = fitting.fit_spectra(toy, toy.wavelength, flux, ivar, init=init, progress=False, **QUICK)
    assert list(t["status"]) == [
        "no usable pixels: every pixel is masked (ivar 0 or non-finite flux)",
        "only 1 usable pixels for 28 fitted labels",
        "only 27 usable pixels for 28 fitted labels",
        "ok",
        "ok",
    ]
    labels = np.array([t[name] for name in fitting.FITTED]).T
    assert np.all(np.isnan(labels[:3])) and np.all(np.isfinite(labels[3:]))
    assert list(t["n_eval"][:3]) == [0, 0, 0] and all(t["n_iter"][3:] == 2)


def test_star_index_shape_error_names_both_shapes(toy):
    flux, ivar, init = _data(toy, 2)
    with pytest.raises(ValueError, match=r"^star_index must have shape \(2,\), got \(3,\)$"):
        fitting.fit_spectra(toy, toy.wavelength, flux, ivar, init=init, star_index=[0, 1, 2],
                            progress=False, **QUICK)  # fmt: skip


# ------------------------------------------------------------------ the resume key
def test_checkpoint_of_other_flux_or_ivar_is_refused(toy, tmp_path, monkeypatch):
    # keep the finished checkpoint (normally removed) to resume from it
    monkeypatch.setattr(Checkpoint, "remove", lambda self: None)
    flux, ivar, init = _data(toy, 2)
    path = tmp_path / "fit.npz"
    kw = dict(init=init, checkpoint=path, progress=False, **QUICK)
    first = fitting.fit_spectra(toy, toy.wavelength, flux, ivar, **kw)
    assert path.is_file()
    n0 = toy.calls
    again = fitting.fit_spectra(toy, toy.wavelength, flux, ivar, **kw)
    assert toy.calls - n0 == 1  # only the key's probe: every star was done
    assert list(again["Chisq"]) == list(first["Chisq"])
    other_flux = flux.copy()
    other_flux[1, 7] += 0.01
    with pytest.raises(ValueError, match="other spectra, options or model"):
        fitting.fit_spectra(toy, toy.wavelength, other_flux, ivar, **kw)
    other_ivar = ivar.copy()
    other_ivar[0, 3] *= 2.0
    with pytest.raises(ValueError, match="other spectra, options or model"):
        fitting.fit_spectra(toy, toy.wavelength, flux, other_ivar, **kw)


# ------------------------------------------------------------------ the progress bar
def _draws(err: str) -> list[str]:
    """The bar's successive states (tqdm redraws with a carriage return)."""
    return [d.strip() for d in err.split("\r") if d.strip()]


RATE = r"(\d|\?)star/s\b|\ds/star\b"  # tqdm's rate, in stars


def test_progress_bar_counts_stars_and_redraws_per_batch_only(toy, capsys):
    flux, ivar, init = _data(toy, 3)
    # 2 stages x 6 generations for each of 2 batches: the postfix changes 24 times
    fitting.fit_spectra(toy, toy.wavelength, flux, ivar, init=init, batch_size=2, tol=1e-12,
                        max_iter=6, popsize=2, gn_steps=0)  # fmt: skip
    out = capsys.readouterr()
    assert out.out == ""
    draws = _draws(out.err)
    assert draws[0].startswith("fit (two-stage):") and " 0/3 " in draws[0]
    assert " 3/3 " in draws[-1] and "100%" in draws[-1]
    assert re.search(RATE, draws[-1]), draws[-1]
    assert "running=0/1" in draws[-1] and "stage=2" in draws[-1]  # the last batch, 1 star
    # the postfix does not redraw the bar (refresh=False): the first draw, at most one per
    # batch (tqdm's mininterval), and the last one at close
    assert len(draws) <= 2 + 2, draws
    assert not any("stage=1" in d for d in draws)


def test_no_progress_prints_nothing(toy, capsys):
    flux, ivar, init = _data(toy, 2)
    fitting.fit_spectra(toy, toy.wavelength, flux, ivar, init=init, progress=False, **QUICK)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


class _Interrupting:
    """The toy, raising KeyboardInterrupt on predict call number ``fail_on``."""

    def __init__(self, model, fail_on):
        self.model, self.fail_on, self.calls = model, fail_on, 0
        self.wavelength, self.label_min, self.label_max = (
            model.wavelength, model.label_min, model.label_max,
        )  # fmt: skip

    def predict(self, labels):
        self.calls += 1
        if self.calls == self.fail_on:
            raise KeyboardInterrupt
        return self.model.predict(labels)


def test_resumed_progress_bar_starts_at_the_stars_done(toy, tmp_path, capsys):
    flux, ivar, init = _data(toy, 3)
    path = tmp_path / "fit.npz"
    kw = dict(init=init, checkpoint=path, batch_size=1, **QUICK)
    # calls: the key's probe, then per star 2 stages x (1 generation + the mean): fail in star 2
    with pytest.raises(KeyboardInterrupt):
        fitting.fit_spectra(_Interrupting(toy, 1 + 4 + 2), toy.wavelength, flux, ivar,
                            progress=False, **kw)  # fmt: skip
    with np.load(path) as z:
        assert int(z["done"].sum()) == 1
    capsys.readouterr()
    fitting.fit_spectra(toy, toy.wavelength, flux, ivar, progress=True, **kw)
    draws = _draws(capsys.readouterr().err)
    assert " 1/3 " in draws[0] and " 3/3 " in draws[-1], draws
    assert not path.exists()


# ------------------------------------------------------------------ _Stage.stop_reason
class _NoStop:
    def stop(self):
        return {}


@pytest.mark.parametrize(
    ("best_f", "spread", "expect"),
    [
        (0.5, 0.9, "tolchi2"),  # chi2_r < 1: the threshold is tol itself
        (0.5, 1.5, ""),
        (1.5, 1.4, "tolchi2"),  # chi2_r 1.5: tol x 1.5
        (1.5, 1.7, ""),
        (3.0, 2.9, "tolchi2"),
        (3.0, 3.1, ""),
    ],
)
def test_stop_reason_scales_tol_by_the_reduced_chi2_above_one(toy, best_f, spread, expect):
    n_pix = toy.wavelength.size
    flux = np.ones((1, n_pix))
    ivar = np.ones((1, n_pix))
    start = fitting.default_labels(toy)[None]
    stage = _Stage(toy, flux, ivar, start, FIT3, StageOptions(max_iter=5, tol=2.0))
    tol = 2.0 / n_pix  # reduced chi2
    stage.strategies = [_NoStop()]
    stage.best_f[0] = best_f
    stage.hist[0].extend([best_f] * (HISTORY - 1) + [best_f + spread * tol])
    f = np.array([best_f, best_f + 0.1 * tol])
    assert stage.stop_reason(0, f) == expect
    # without scale_tol the threshold is tol whatever chi2_r
    plain = _Stage(toy, flux, ivar, start, FIT3, StageOptions(max_iter=5, tol=2.0, scale_tol=False))
    plain.strategies, plain.best_f[0] = [_NoStop()], best_f
    plain.hist[0].extend(stage.hist[0])
    assert plain.stop_reason(0, f) == ("tolchi2" if spread < 1 else "")


def test_stop_reason_reports_pycma_criteria_first(toy):
    n_pix = toy.wavelength.size
    stage = _Stage(toy, np.ones((1, n_pix)), np.ones((1, n_pix)), fitting.default_labels(toy)[None],
                   FIT3, StageOptions(max_iter=5, tol=2.0))  # fmt: skip
    stage.strategies = [SimpleNamespace(stop=lambda: {"maxiter": 5, "tolx": 1e-11})]
    stage.hist[0].extend([1.0] * HISTORY)
    assert stage.stop_reason(0, np.array([1.0, 1.0])) == "maxiter,tolx"
