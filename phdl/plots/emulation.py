"""Figures of the emulator: Figure 3 (emulated vs ab initio spectra, residual histograms) and
training curves (conventions in :mod:`phdl.plots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure


def _sigma_hist(ax, res: np.ndarray, title: str, paper: float | None, bins: np.ndarray) -> None:
    res = np.asarray(res, dtype=float).ravel()
    s = float(np.std(res))
    ax.hist(res, bins=bins, color="tab:blue", alpha=0.8, density=True)
    for sign in (-1, 1):
        ax.axvline(sign * s, color="tab:red", lw=1.0, ls="--")
    text = f"σ = {100 * s:.2f} % (ours)"
    if paper is not None:
        text += f"\nσ = {100 * paper:.2f} % (paper)"
    ax.text(0.03, 0.95, text, transform=ax.transAxes, va="top", fontsize=9)
    ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("emulated − ab initio flux")


def fig3_emulation(
    wavelength: np.ndarray,
    flux_true: np.ndarray,
    flux_emu: np.ndarray,
    residuals: np.ndarray,
    hot: np.ndarray,
    star_label: str = "",
    paper_sigma: Mapping[str, float] | None = None,
) -> Figure:
    """Figure 3: one test star's ab initio and emulated spectra with the residual below, and
    histograms of the residuals over the whole test set, all stars and Teff > 4500 K.

    ``wavelength`` (n_pix,) Å; ``flux_true`` / ``flux_emu`` (n_pix,) normalized flux of the
    example star; ``residuals`` (n_test, n_pix) emulated − ab initio; ``hot`` (n_test,) bool,
    Teff > 4500 K; ``paper_sigma`` may give the paper's σ under keys "all", "Teff > 4500 K"
    and "example star" (fractions of the continuum).
    """
    wl = np.asarray(wavelength, dtype=float)
    ft, fe = np.asarray(flux_true, dtype=float), np.asarray(flux_emu, dtype=float)
    res = np.asarray(residuals, dtype=float)
    hot = np.asarray(hot, dtype=bool)
    if ft.shape != wl.shape or fe.shape != wl.shape:
        raise ValueError(f"flux_true and flux_emu must have shape {wl.shape}")
    if res.ndim != 2 or res.shape[1] != wl.size or hot.shape != (res.shape[0],):
        raise ValueError(f"residuals must be (n, {wl.size}) and hot (n,); got {res.shape}, "
                         f"{hot.shape}")  # fmt: skip
    paper = dict(paper_sigma or {})
    fig = plt.figure(figsize=(13.0, 8.0), layout="constrained")
    gs = fig.add_gridspec(3, 2, height_ratios=[2.2, 1.0, 2.0])
    ax0 = fig.add_subplot(gs[0, :])
    ax1 = fig.add_subplot(gs[1, :], sharex=ax0)
    ax0.plot(wl, ft, lw=0.8, color="k", label="ab initio (phdl.synth)")
    ax0.plot(wl, fe, lw=0.8, color="tab:orange", alpha=0.85, label="emulated")
    ax0.set_ylabel("normalized flux")
    ax0.legend(loc="lower right", fontsize=9)
    ax0.set_title(star_label, fontsize=10)
    d = fe - ft
    ax1.plot(wl, 100 * d, lw=0.6, color="tab:blue")
    ax1.axhline(0.0, color="0.5", lw=0.5)
    s = float(np.std(d))
    note = f"σ = {100 * s:.2f} %"
    if "example star" in paper:
        note += f" (paper's example: {100 * paper['example star']:.1f} %)"
    ax1.text(0.01, 0.9, note, transform=ax1.transAxes, va="top", fontsize=9)
    ax1.set_ylabel("residual [%]")
    ax1.set_xlabel("vacuum wavelength [Å]")
    ax1.set_xlim(wl[0], wl[-1])
    lim = max(0.02, float(np.quantile(np.abs(res), 0.999)))
    bins = np.linspace(-lim, lim, 101)
    _sigma_hist(fig.add_subplot(gs[2, 0]), res, f"all test stars (n = {len(res)})",
                paper.get("all"), bins)  # fmt: skip
    ax3 = fig.add_subplot(gs[2, 1])
    if hot.any():
        _sigma_hist(ax3, res[hot], f"Teff > 4500 K (n = {int(hot.sum())})",
                    paper.get("Teff > 4500 K"), bins)  # fmt: skip
    else:
        ax3.text(0.5, 0.5, "no test star with Teff > 4500 K", ha="center", transform=ax3.transAxes)
    return fig


def training_curves(histories: Mapping[str, Sequence[Mapping[str, Sequence[float]]]]) -> Figure:
    """Training and validation loss against epoch for several models, one panel per model.

    ``histories`` maps a model name to its per-segment history (``Emulator.history``: a list of
    dicts with ``epoch``, ``train_loss``, ``val_loss``, and optionally ``val_spec``, the L1
    flux term). Losses are L1 in normalized flux (+ the weighted L1 of the gradient spectra
    where it was on). The validation loss is evaluated every ``eval_every`` epochs (NaN in
    between): each curve joins the epochs where it was evaluated. The test stars have no curve:
    training never evaluates them.
    """
    if not histories:
        raise ValueError("histories is empty")
    n = len(histories)
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.6), layout="constrained", squeeze=False)
    for ax, (name, segs) in zip(axes[0], histories.items(), strict=True):
        for s, h in enumerate(segs):
            tag = f" (segment {s + 1})" if len(segs) > 1 else ""
            _curve(ax, h, "train_loss", f"train{tag}")
            _curve(ax, h, "val_loss", f"validation{tag}")
            spec, loss = (
                np.asarray(h.get("val_spec", []), float),
                np.asarray(h.get("val_loss", []), float),
            )
            if spec.size and (
                spec.shape != loss.shape or not np.allclose(spec, loss, equal_nan=True)
            ):
                _curve(ax, h, "val_spec", f"validation, flux term{tag}", ls=":")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        if len(segs) <= 2 and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    axes[0, 0].set_ylabel("L1 loss")
    return fig


def _curve(ax: Axes, history: Mapping[str, Sequence[float]], key: str, label: str, **kw) -> None:
    """Plot ``history[key]`` against epoch over its finite values; nothing if it has none."""
    x = np.asarray(history.get("epoch", []), dtype=float)
    y = np.asarray(history.get(key, []), dtype=float)
    ok = np.isfinite(y) & (y > 0)
    if ok.any():
        ax.plot(x[ok], y[ok], lw=0.9, marker="." if ok.sum() < 30 else None, label=label, **kw)


def gradient_tradeoff(results: Sequence[Mapping[str, object]]) -> Figure:
    """Flux σ against gradient error, one point per trained variant (a sweep of the L_grad
    weight, ``benchmarks/bench_presets.py --grad-weights``).

    Each result has ``name``, ``sigma`` (residual σ of the normalized flux), ``grad_err_target``
    (median relative gradient error over the target labels, every pixel) and optionally
    ``grad_err_target_lines`` (the same where the ab initio gradient matters, |∂f| above
    ``matters``, default 0.1, of its maximum): filled and open markers, joined per variant.
    Lower left is better on both counts.
    """
    if not results:
        raise ValueError("results is empty")
    fig, ax = plt.subplots(figsize=(5.4, 4.0), layout="constrained")
    for r in results:
        x, y = float(r["grad_err_target"]), 100 * float(r["sigma"])
        ax.plot([x], [y], "o", color="C0")
        ax.annotate(str(r["name"]), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
        if "grad_err_target_lines" in r:
            xl = float(r["grad_err_target_lines"])
            ax.plot([x, xl], [y, y], color="C0", lw=0.6, alpha=0.5)
            ax.plot([xl], [y], "o", mfc="none", color="C1")
    ax.plot([], [], "o", color="C0", label="every pixel")
    if any("grad_err_target_lines" in r for r in results):
        q = 100 * float(results[0].get("matters", 0.1))
        ax.plot([], [], "o", mfc="none", color="C1", label=f"where |∂f| > {q:g} % of its maximum")
    ax.set_xlabel("median gradient error (Teff, logg, [Fe/H], Group I [X/Fe])")
    ax.set_ylabel("flux σ (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
