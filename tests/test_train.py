"""phdl.train: losses, split, checkpoints (round trip, resume), errors; the `phdl train` CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _fakes import FakeSynthesizer, fake_grid_file

from phdl import cli
from phdl.emulator import load
from phdl.grid import make_grid, read_grid
from phdl.labels import N_LABELS
from phdl.train import (
    HISTORY_KEYS,
    TrainConfig,
    batch_loss,
    evaluate,
    gradient_sigma,
    preset,
    split_indices,
    train,
)
from phdl.train.data import TrainData, label_scaling

N_SPEC, N_PIX = 40, 60


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def grid_path(tmp_path_factory):
    return fake_grid_file(tmp_path_factory, N_SPEC, N_PIX)


@pytest.fixture(scope="module")
def grid(grid_path):
    return read_grid(grid_path)


def _cfg(**changes) -> TrainConfig:
    """The tiny Transformer preset, shortened for tests."""
    base = {"epochs": 6, "patience": 50, "batch_size": 12, "pixels_per_step": 24}
    return preset("tiny", **{**base, **changes})


@pytest.fixture(scope="module")
def trained(grid_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m.pt"
    return train(grid_path, out, _cfg(), progress=False)


def test_split_is_seeded_disjoint_and_keeps_the_papers_test_set():
    train_idx, val_idx, test_idx = split_indices(6222, 0.1, 0, val_fraction=0.1)
    assert len(test_idx) == 623 and len(val_idx) == 623 and len(train_idx) == 4976
    both = np.concatenate([train_idx, val_idx, test_idx])
    assert np.array_equal(np.sort(both), np.arange(6222))  # disjoint and complete
    two_way = split_indices(6222, 0.1, 0)
    assert len(two_way.val) == 0 and len(two_way.train) == 5599  # the paper's 9:1
    assert np.array_equal(two_way.test, test_idx)  # the validation set comes from training rows
    again = split_indices(6222, 0.1, 0, val_fraction=0.1)
    assert np.array_equal(again.val, val_idx) and np.array_equal(again.test, test_idx)
    assert not np.array_equal(split_indices(6222, 0.1, 1, val_fraction=0.1).val, val_idx)
    with pytest.raises(ValueError, match="at least 2"):
        split_indices(1, 0.1, 0)
    with pytest.raises(ValueError, match="at least 3"):
        split_indices(2, 0.1, 0, val_fraction=0.1)
    with pytest.raises(ValueError, match="no training spectra"):
        split_indices(10, 0.5, 0, val_fraction=0.5)


@pytest.mark.parametrize("bad", [0.0, -0.1, 0.9, 1.0])
def test_val_fraction_must_leave_training_stars(bad):
    with pytest.raises(ValueError, match="val_fraction must be in"):
        TrainConfig(test_fraction=0.1, val_fraction=bad)


def test_gradient_sigma_and_scaling(grid):
    rows = np.arange(N_SPEC)
    sigma = gradient_sigma(grid.gradients, rows, chunk=7)
    expected = np.sqrt(grid.gradients.astype(np.float64).var(axis=2).mean(axis=0))
    np.testing.assert_allclose(sigma, expected, rtol=1e-10)
    lo, hi = label_scaling(grid.labels)
    assert np.all(hi > lo) and np.allclose(lo, grid.labels.min(0))


def _data(grid, plain=False):
    train_idx, val_idx, _ = split_indices(N_SPEC, 0.1, 0, val_fraction=0.1)
    lo, hi = label_scaling(grid.labels[train_idx])
    return TrainData.build(
        grid, train_idx, val_idx, lo, hi, gradient_sigma(grid.gradients, train_idx)
    )


@pytest.mark.parametrize("plain", [True, False], ids=["plain", "with-L_grad"])
def test_loss_falls_within_a_few_steps(grid, plain):
    from phdl.emulator import TransformerConfig, build_network

    torch.manual_seed(0)
    data = _data(grid)
    net = build_network(TransformerConfig(16, 1, 2, 4, 32, 32), N_PIX)
    enc = net.query(torch.as_tensor(grid.wavelength)).float()
    which = None if plain else torch.tensor([0, 1, 3, 5, 8, 19, 28])
    rows, pix = data.train[:16], torch.arange(0, N_PIX, 2)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss, spec, grad = batch_loss(net, data, rows, pix, enc[pix], which)
        assert torch.isclose(loss, spec if plain else spec + grad)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < (0.7 if plain else 0.99) * losses[0], losses


def test_gradient_term_lowers_gradient_error(grid_path, grid, tmp_path):
    """Same model, seed and schedule: with L_grad the test gradient spectra are closer."""
    errors = {}
    for plain in (True, False):
        cfg = preset("tiny", mlp=True, plain=plain, epochs=200, patience=200, batch_size=12)
        emu = load(
            train(grid_path, tmp_path / f"{plain}.pt", cfg.replace(grad_labels=34), progress=False)
        )
        te = emu.test_indices
        jac, true = emu.jacobian(grid.labels[te]), grid.gradients[te]
        errors[plain] = np.sqrt(((jac - true) ** 2).sum() / (true**2).sum())
    assert errors[False] < 0.95 * errors[True], errors


def _full_and_estimates(grid, draw, norm: str = "l1", n: int = 600):
    """The full gradient term of a small MLP on 8 training spectra, and ``n`` estimates of it,
    each from the labels or directions ``draw(data, generator)``."""
    from phdl.emulator import MLPConfig, build_network

    torch.manual_seed(0)
    data = _data(grid)
    net = build_network(MLPConfig(hidden=16), N_PIX)
    rows, pix = data.train[:8], torch.arange(N_PIX)

    def term(selection):
        return batch_loss(net, data, rows, pix, None, selection, norm=norm)[2]

    with torch.no_grad():
        full = term(torch.arange(N_LABELS)).item()
        g = torch.Generator().manual_seed(0)
        est = torch.stack([term(draw(data, g)) for _ in range(n)]).numpy()
    return full, est


def test_label_subset_is_unbiased(grid):
    """(34/k) Σ over a random k-subset averages to the full gradient term."""
    full, est = _full_and_estimates(grid, lambda d, g: torch.randperm(N_LABELS, generator=g)[:4])
    assert abs(est.mean() - full) < 4 * est.std() / np.sqrt(len(est))
    assert est.std() > 0.01 * full  # it is an estimate, not the full term


def test_directional_l2_is_unbiased_for_the_full_squared_term(grid):
    """The mean over random directions u = w ∘ z of (u·Δ)² averages to Σ_m w_m² Δ_m²."""
    from phdl.train.loss import random_directions

    full, est = _full_and_estimates(
        grid, lambda d, g: random_directions(2, d.weights, g), norm="l2"
    )
    assert abs(est.mean() - full) < 4 * est.std() / np.sqrt(len(est))
    assert est.std() > 0.01 * full


@pytest.mark.parametrize("kind", ["mlp", "transformer"])
def test_directional_derivative_is_the_jacobian_along_the_direction(grid, kind):
    from phdl.emulator import MLPConfig, TransformerConfig, build_network
    from phdl.emulator.model import flux_and_directional, flux_and_jacobian

    torch.manual_seed(0)
    data = _data(grid)
    cfg = MLPConfig(hidden=16) if kind == "mlp" else TransformerConfig(16, 1, 2, 4, 32, 32)
    net = build_network(cfg, N_PIX)
    query = net.query(torch.as_tensor(grid.wavelength)).float() if kind != "mlp" else None
    x, u = data.labels[:5], torch.randn(3, N_LABELS) * data.weights
    with torch.no_grad():
        f1, jac = flux_and_jacobian(net, x, query, data.lo, data.hi, torch.arange(N_LABELS))
        f2, d = flux_and_directional(net, x, query, data.lo, data.hi, u)
    assert d.shape == (5, 3, N_PIX)
    torch.testing.assert_close(f2, f1)
    torch.testing.assert_close(d, torch.einsum("km,bmp->bkp", u, jac), rtol=1e-4, atol=1e-6)


def test_checkpoint_contents_and_round_trip(trained, grid):
    ckpt = torch.load(trained, weights_only=True)
    assert ckpt["progress"]["finished"] and ckpt["kind"] == "transformer"
    assert ckpt["optimizer"] is None and list(ckpt["label_names"]) == list(grid.label_names)
    emu = load(trained)
    assert emu.kind == "transformer" and len(emu.test_indices) == 4 and len(emu.val_indices) == 4
    assert len(emu.train_indices) == 32 and np.array_equal(emu.wavelength, grid.wavelength)
    split = ckpt["split"]  # the checkpoint records the split: three disjoint sets of rows
    rows = [np.asarray(split[k]) for k in ("train", "val", "test")]
    assert np.array_equal(np.sort(np.concatenate(rows)), np.arange(N_SPEC))
    assert all(
        np.array_equal(r, i) for r, i in zip(rows, split_indices(N_SPEC, 0.1, 0, 0.1), strict=True)
    )
    hist = emu.history[0]
    assert set(HISTORY_KEYS) <= set(hist) and hist["epoch"] == [1, 2, 3, 4, 5, 6]
    # bit for bit: the loaded weights give exactly the best validation loss recorded
    cfg = TrainConfig.from_dict(ckpt["train_config"])
    data = _data(grid)
    eval_pix = torch.arange(N_PIX)  # eval_pixels (128) >= N_PIX: every pixel
    spec, grad = evaluate(
        emu.nets[0],
        data,
        data.val,
        eval_pix,
        emu.nets[0].query(torch.as_tensor(grid.wavelength)).float(),
        with_grad=True,
    )
    assert spec + cfg.grad_weight * grad == min(hist["val_loss"])
    p1 = emu.predict(grid.labels[:5])
    assert np.array_equal(p1, load(trained).predict(grid.labels[:5]))


def test_resume_continues_the_schedule(grid_path, grid, tmp_path, trained):
    """Interrupted after epoch 3 and resumed = the uninterrupted run, bit for bit."""
    out = tmp_path / "r.pt"

    def stop_at_3(rec):
        if rec["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(grid_path, out, _cfg(), progress=False, callback=stop_at_3)
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["progress"]["epoch"] == 3 and not ckpt["progress"]["finished"]
    assert ckpt["optimizer"] is not None and len(ckpt["history"][0]["epoch"]) == 3
    with pytest.warns(UserWarning, match="unfinished"):
        load(out)
    seen = []
    train(grid_path, out, _cfg(), progress=False, callback=lambda r: seen.append(r["epoch"]))
    assert seen == [4, 5, 6]
    a, b = load(trained), load(out)
    for key in ("epoch", "lr", "train_loss", "val_loss", "val_grad"):
        assert a.history[0][key] == b.history[0][key], key
    assert np.array_equal(a.predict(grid.labels[:3]), b.predict(grid.labels[:3]))


def test_finished_checkpoint_is_reused(grid_path, trained):
    before = trained.stat().st_mtime_ns
    assert train(grid_path, trained, _cfg(), progress=False) == trained
    assert trained.stat().st_mtime_ns == before


def test_resume_with_other_config_or_grid_is_refused(grid_path, trained, tmp_path):
    with pytest.raises(ValueError, match="epochs=6, requested 7"):
        train(grid_path, trained, _cfg(epochs=7), progress=False)
    other = make_grid(
        N_SPEC, 1, tmp_path / "o.h5", synthesizer=FakeSynthesizer(n_pix=50), progress=False
    )
    with pytest.raises(ValueError, match="wavelength"):
        train(other, trained, _cfg(), progress=False)
    with pytest.raises(ValueError, match="wavelength differs"):
        load(trained).check_grid(read_grid(other))
    # same wavelengths, other label set: edit the checkpoint's label names
    ckpt = torch.load(trained, weights_only=True)
    ckpt["label_names"][5] = "[Xx/Fe]"
    torch.save(ckpt, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="label_names"):
        train(grid_path, tmp_path / "edited.pt", _cfg(), progress=False)
    reseeded = make_grid(
        N_SPEC, 2, tmp_path / "s.h5", synthesizer=FakeSynthesizer(n_pix=N_PIX), progress=False
    )
    with pytest.raises(ValueError, match="grid hash"):
        train(reseeded, trained, _cfg(), progress=False)
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(ValueError, match="not a phdl model checkpoint"):
        train(grid_path, tmp_path / "junk.pt", _cfg(), progress=False)


def test_replace_retrains_a_checkpoint_of_another_config(grid_path, trained, tmp_path):
    stale = tmp_path / "stale.pt"
    stale.write_bytes(trained.read_bytes())
    with pytest.warns(UserWarning, match="epochs=6, requested 7.*retraining") as record:
        train(grid_path, stale, _cfg(epochs=7), progress=False, replace=True)
    assert "delete it" not in str(record[0].message)  # the reason, without the advice
    assert load(stale).train_config["epochs"] == 7
    junk = tmp_path / "junk.pt"
    junk.write_text("junk")
    with pytest.warns(UserWarning, match="not a phdl model checkpoint .*; retraining"):
        train(grid_path, junk, _cfg(epochs=7), progress=False, replace=True)
    assert load(junk).train_config["epochs"] == 7


def test_a_checkpoint_of_the_old_format_is_named_and_retrained(grid_path, trained, tmp_path):
    """Format 1 kept the weights of the lowest *test* loss: refused by load, retrained."""
    ckpt = torch.load(trained, weights_only=True)
    ckpt["format"] = "phdl-emulator-1"
    old = tmp_path / "old.pt"
    torch.save(ckpt, old)
    with pytest.raises(ValueError, match=r"older phdl \(format 'phdl-emulator-1'.*retrain"):
        load(old)
    with pytest.raises(ValueError, match="older phdl"):
        train(grid_path, old, _cfg(), progress=False)
    ckpt["format"] = "phdl-emulator-9"  # a newer phdl's: not called older
    torch.save(ckpt, tmp_path / "newer.pt")
    with pytest.raises(ValueError, match="format 'phdl-emulator-9'; this phdl reads") as info:
        load(tmp_path / "newer.pt")
    assert "older" not in str(info.value)
    with pytest.warns(UserWarning, match="older phdl.*retraining"):
        train(grid_path, old, _cfg(), progress=False, replace=True)
    assert np.array_equal(
        load(old).predict(np.zeros((1, N_LABELS))), load(trained).predict(np.zeros((1, N_LABELS)))
    )


def test_grid_without_gradients(tmp_path):
    path = make_grid(
        20, 1, tmp_path / "ng.h5", synthesizer=FakeSynthesizer(n_pix=30),
        with_gradients=False, progress=False,
    )  # fmt: skip
    with pytest.raises(ValueError, match="no 'gradients' dataset"):
        train(path, tmp_path / "m.pt", _cfg(epochs=2), progress=False)
    assert not (tmp_path / "m.pt").exists()
    out = train(path, tmp_path / "m.pt", _cfg(epochs=2, plain=True), progress=False)
    emu = load(out)
    assert np.isnan(emu.history[0]["val_grad"]).all() and np.isnan(emu.grad_sigma).all()
    assert emu.predict(np.zeros((1, N_LABELS)) + emu.label_min).shape == (1, 30)


def test_segments_and_mlp(grid_path, grid, tmp_path):
    out = train(grid_path, tmp_path / "seg.pt", _cfg(epochs=2, segments=3), progress=False)
    emu = load(out)
    assert emu.segments == [(0, 20), (20, 40), (40, 60)] and len(emu.history) == 3
    assert emu.predict(grid.labels[:2]).shape == (2, N_PIX)
    mlp = load(
        train(grid_path, tmp_path / "mlp.pt", preset("tiny", mlp=True, epochs=3), progress=False)
    )
    assert mlp.kind == "mlp" and mlp.jacobian(grid.labels[:2]).shape == (2, N_LABELS, N_PIX)


def test_config_validation():
    with pytest.raises(ValueError, match="grad_labels"):
        TrainConfig(grad_labels=35)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="unknown profile"):
        preset("huge")
    cfg = preset("quick", mlp=True)
    assert cfg.plain and not preset("quick").plain  # the Payne: flux only; PhDLspec: L_grad
    assert not preset("quick", mlp=True, plain=False).plain
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig().model.d_model == 128 and TrainConfig().segments == 11  # the paper


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("phdl: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    "args, word",
    [
        (["--epochs", "0"], "--epochs"),
        (["--profile", "huge"], "--profile"),
        (["--grad-labels", "40"], "--grad-labels"),
    ],
)
def test_cli_bad_arguments(grid_path, tmp_path, capsys, args, word):
    rc = cli.main(["train", "--grid", str(grid_path), "--out", str(tmp_path / "m.pt"), *args])
    assert rc == 2 and word in _one_line_error(capsys)
    assert not (tmp_path / "m.pt").exists()


def test_cli_missing_grid_and_happy_path(grid_path, tmp_path, capsys):
    rc = cli.main(["train", "--grid", str(tmp_path / "none.h5"), "--out", str(tmp_path / "m.pt")])
    assert rc == 2 and "none.h5" in _one_line_error(capsys)
    out = tmp_path / "m.pt"
    args = ["train", "--grid", str(grid_path), "--out", str(out), "--profile", "tiny"]
    assert cli.main([*args, "--epochs", "2", "--mlp", "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    emu = load(out)
    assert emu.kind == "mlp" and emu.train_config["plain"] and len(emu.history[0]["epoch"]) == 2


def _poisoned(grid_path, rows, out):
    """A copy of the grid with the fluxes and gradient spectra of ``rows`` replaced by noise."""
    import shutil

    import h5py

    shutil.copy(grid_path, out)
    rng = np.random.default_rng(7)
    with h5py.File(out, "r+") as f:
        for name in ("flux", "gradients"):
            data = f[name][...]
            data[np.sort(rows)] = rng.uniform(0.0, 2.0, data[np.sort(rows)].shape)
            f[name][...] = data
    return out


def test_training_never_reads_the_test_stars(grid_path, grid, trained, tmp_path):
    """Poisoned test fluxes: the same model, bit for bit. Poisoned validation fluxes: another
    model (so the comparison can tell)."""
    emu = load(trained)
    twin = load(train(_poisoned(grid_path, emu.test_indices, tmp_path / "t.h5"),
                      tmp_path / "t.pt", _cfg(), progress=False))  # fmt: skip
    assert np.array_equal(twin.test_indices, emu.test_indices)
    for a, b in zip(emu.nets.state_dict().values(), twin.nets.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for key in set(HISTORY_KEYS) - {"seconds"}:
        assert twin.history[0][key] == emu.history[0][key], key
    other = load(train(_poisoned(grid_path, emu.val_indices, tmp_path / "v.h5"),
                       tmp_path / "v.pt", _cfg(), progress=False))  # fmt: skip
    assert other.history[0]["val_loss"] != emu.history[0]["val_loss"]
    assert not np.array_equal(other.predict(grid.labels[:3]), emu.predict(grid.labels[:3]))


def test_warm_up_epochs_neither_keep_weights_nor_spend_patience(grid_path, tmp_path):
    """With a warm-up longer than the patience, training runs past the warm-up and keeps
    weights from after it (the validation loss includes L_grad: a warm-up epoch's loss does not
    compare with a later one's)."""
    cfg = _cfg(epochs=9, patience=2, grad_warmup=5, grad_weight=1e3, eval_every=1)
    out = train(grid_path, tmp_path / "w.pt", cfg, progress=False)
    ckpt = torch.load(out, weights_only=True)
    assert len(ckpt["history"][0]["val_loss"]) > cfg.grad_warmup
    assert ckpt["progress"]["best_epoch"][0] >= cfg.grad_warmup
