"""How well an emulator reproduces the ab initio grid: flux residuals and gradient errors.

Units: fluxes are normalized (Eq. 22-24), so a residual of 0.01 is 1 % of the continuum;
gradient spectra are ∂(normalized flux)/∂label per physical unit (K, dex, km/s). ``model`` is
a :class:`phdl.emulator.SpectralModel`; ``grid`` is a :class:`phdl.grid.Grid`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from astropy.table import Table

from phdl.labels import GROUP_I_XFE, LABELS, index
from phdl.paper import (
    EMULATION_SIGMA,
    EXAMPLE_STAR,
    FIG4_FINDING,
    FIG4_LABELS,
    SPEED_FINDING,
    TEST_SPECTRA,
    emulation_quote,
)

#: The book's emulation targets per profile: σ of the residuals over all test pixels (the
#: ``tiny`` profile is a smoke test and has none).
EMULATION_TARGETS: dict[str, float] = {"quick": 0.01, "full": 0.005}

#: The labels of the book's gradient target: Teff, logg, [Fe/H] and the Group I [X/Fe].
GRADIENT_TARGET_LABELS: tuple[str, ...] = ("Teff", "logg", "[Fe/H]", *GROUP_I_XFE)
#: The book's gradient targets per profile: PhDLspec's median :func:`gradient_errors` over
#: :data:`GRADIENT_TARGET_LABELS` at most this, and at most half the plain twin's.
GRADIENT_TARGETS: dict[str, float] = {"quick": 0.35}


def _rows(grid: Any, rows: np.ndarray | None) -> np.ndarray:
    n = len(grid.labels)
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.ndim != 1 or rows.size == 0:
        raise ValueError("rows must be a non-empty 1-D array of grid row indices")
    if rows.min() < 0 or rows.max() >= n:
        raise ValueError(f"rows must index the grid's {n} spectra; got {rows.min()}..{rows.max()}")
    return rows


def check_same_pixels(model: Any, grid: Any) -> None:
    """ValueError unless the model's wavelength grid is the grid file's (same pixels, Å)."""
    a, b = np.asarray(model.wavelength), np.asarray(grid.wavelength)
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-9, atol=0):
        raise ValueError(
            f"the model's wavelength grid ({a.size} pixels, {a[0]:.2f}-{a[-1]:.2f} Å) is not the "
            f"grid file's ({b.size} pixels, {b[0]:.2f}-{b[-1]:.2f} Å)"
        )


def residuals(model: Any, grid: Any, rows: np.ndarray | None = None) -> np.ndarray:
    """Emulated minus ab initio normalized flux, (len(rows), n_pix), for grid ``rows``."""
    check_same_pixels(model, grid)
    rows = _rows(grid, rows)
    return np.asarray(model.predict(grid.labels[rows]), dtype=np.float64) - grid.flux[rows]


def sigma(res: np.ndarray) -> float:
    """Standard deviation of all residuals of ``res`` (any shape), ignoring NaN."""
    res = np.asarray(res, dtype=float)
    if not np.isfinite(res).any():
        raise ValueError("no finite residuals")
    return float(np.nanstd(res))


def gradient_errors(
    model: Any, grid: Any, rows: np.ndarray | None = None, *, matters: float = 0.0
) -> np.ndarray:
    """Relative RMS error of the emulator's gradient spectra, per label, (34,).

    e_m = sqrt(Σ (J_emu - J_ab)²) / sqrt(Σ J_ab²) over the stars ``rows`` and the pixels, for
    label m (unitless: 0 is perfect, 1 is as large as the gradient itself; a model that
    predicts zero gradients scores 1). ``matters`` = 0: every pixel; ``matters`` = q > 0: only
    the pixels where the ab initio gradient matters, |J_ab| > q × its maximum over that star's
    pixels (per star and label: the lines, not the flat continuum in between, where a model
    that predicts zero is right). Labels whose ab initio gradient is zero give NaN.
    """
    return _relative_errors(*_jacobians(model, grid, rows), matters)


def _jacobians(model: Any, grid: Any, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(emulated, ab initio) gradient spectra of the grid ``rows``, float64 (n, 34, n_pix)."""
    if grid.gradients is None:
        raise ValueError("the grid has no 'gradients': gradient errors need ab initio gradients")
    check_same_pixels(model, grid)
    rows = _rows(grid, rows)
    truth = np.asarray(grid.gradients[rows], dtype=np.float64)
    return np.asarray(model.jacobian(grid.labels[rows]), dtype=np.float64), truth


def _relative_errors(emu: np.ndarray, truth: np.ndarray, matters: float) -> np.ndarray:
    """:func:`gradient_errors` from the two sets of gradient spectra."""
    if not 0.0 <= matters < 1.0:
        raise ValueError(f"matters must be in [0, 1), got {matters}")
    size = np.abs(truth)
    keep = size > matters * size.max(axis=2, keepdims=True) if matters > 0 else 1.0
    num = np.sum(keep * (emu - truth) ** 2, axis=(0, 2))
    den = np.sum(keep * truth**2, axis=(0, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.sqrt(num / den), np.nan)


def nearest_star(labels: np.ndarray, rows: np.ndarray, teff: float, logg: float, feh: float) -> int:
    """The row of ``rows`` whose (Teff, logg, [Fe/H]) is nearest the target, distances scaled
    by 100 K, 0.1 dex and 0.1 dex. ``labels`` (n, 34) physical."""
    rows = np.asarray(rows, dtype=np.int64)
    lab = np.asarray(labels)[rows]
    d = (
        ((lab[:, index("Teff")] - teff) / 100.0) ** 2
        + ((lab[:, index("logg")] - logg) / 0.1) ** 2
        + ((lab[:, index("[Fe/H]")] - feh) / 0.1) ** 2
    )
    return int(rows[int(np.argmin(d))])


def distinct_nearest(
    labels: np.ndarray, rows: np.ndarray, targets: Sequence[tuple[float, float, float]]
) -> list[int]:
    """For each (Teff, logg, [Fe/H]) of ``targets`` in turn, the :func:`nearest_star` among the
    ``rows`` not yet taken, so that the stars differ (repeats only when ``rows`` run out)."""
    rows = np.asarray(rows, dtype=np.int64)
    taken: list[int] = []
    for target in targets:
        free = np.setdiff1d(rows, taken) if len(rows) > len(taken) else rows
        taken.append(nearest_star(labels, free, *target))
    return taken


def describe_star(labels: np.ndarray) -> str:
    """One star's physical labels (34,) in words: "Teff 5930 K, logg 4.48, [Fe/H] 0.00"."""
    lab = np.asarray(labels, dtype=float)
    return (
        f"Teff {lab[index('Teff')]:.0f} K, logg {lab[index('logg')]:.2f}, "
        f"[Fe/H] {lab[index('[Fe/H]')]:.2f}"
    )


def example_star(labels: np.ndarray, rows: np.ndarray) -> int:
    """The row of ``rows`` nearest the example star of the paper's Figure 3
    (:data:`phdl.paper.EXAMPLE_STAR`), as :func:`nearest_star` measures it."""
    e = EXAMPLE_STAR
    return nearest_star(labels, rows, e["Teff"], e["logg"], e["[Fe/H]"])


def figure3_data(
    model: Any, grid: Any, rows: np.ndarray
) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """What Figure 3 shows, for the test ``rows`` of ``grid``: the row of the star nearest the
    paper's example (:func:`example_star`), its emulated flux (n_pix,), the residuals of every
    row (len(rows), n_pix; :func:`residuals`) and the mask Teff > 4500 K over ``rows``."""
    rows = _rows(grid, rows)
    star = example_star(grid.labels, rows)
    res = residuals(model, grid, rows)
    k = int(np.flatnonzero(rows == star)[0])
    hot = grid.labels[rows, index("Teff")] > 4500.0
    return star, grid.flux[star] + res[k], res, hot


def emulation_summary(models: dict[str, Any], grid: Any, rows: np.ndarray) -> Table:
    """One row per model: residual σ over all ``rows`` and over those with Teff > 4500 K
    (normalized flux), and the median over labels of :func:`gradient_errors` (or NaN when
    the grid has no gradients), beside the paper's σ."""
    rows = _rows(grid, rows)
    hot = grid.labels[rows, index("Teff")] > 4500.0
    out: dict[str, list] = {"model": [], "σ all": [], "σ Teff > 4500 K": [],
                            "median gradient error": []}  # fmt: skip
    for name, model in models.items():
        res = residuals(model, grid, rows)
        out["model"].append(name)
        out["σ all"].append(sigma(res))
        out["σ Teff > 4500 K"].append(sigma(res[hot]) if hot.any() else np.nan)
        errs = gradient_errors(model, grid, rows) if grid.gradients is not None else [np.nan]
        out["median gradient error"].append(float(np.nanmedian(errs)))
    out["model"].append(f"paper (PhDLspec, {TEST_SPECTRA} Kurucz test spectra)")
    out["σ all"].append(EMULATION_SIGMA["all"])
    out["σ Teff > 4500 K"].append(EMULATION_SIGMA["Teff > 4500 K"])
    out["median gradient error"].append(np.nan)
    table = Table(out)
    for col in ("σ all", "σ Teff > 4500 K"):
        table[col].format = ".4f"
    table["median gradient error"].format = ".3f"
    return table


def gradient_error_table(
    models: dict[str, Any], grid: Any, rows: np.ndarray, matters: float = 0.0
) -> Table:
    """Per label (rows) and model (columns): :func:`gradient_errors` on the grid ``rows``, over
    every pixel; with ``matters`` > 0 also a column ``"<model>, lines"`` per model, over the
    pixels where |∂f| > ``matters`` × its maximum."""
    if not 0.0 <= matters < 1.0:
        raise ValueError(f"matters must be in [0, 1), got {matters}")
    table, lines = Table({"label": list(LABELS)}), {}
    for name, model in models.items():
        jacobians = _jacobians(model, grid, rows)  # once per model: the costly part
        table[name] = _relative_errors(*jacobians, 0.0)
        if matters > 0:
            lines[f"{name}, lines"] = _relative_errors(*jacobians, matters)
    for name, errors in lines.items():
        table[name] = errors
    for name in table.colnames[1:]:
        table[name].format = ".3f"
    return table


def gradient_comparison_table(
    models: dict[str, Any],
    grid: Any,
    rows: np.ndarray,
    ours: str = "PhDLspec",
    plain: str = "plain Transformer",
    matters: float = 0.0,
) -> Table:
    """:func:`gradient_error_table` (``matters`` as there) with the ratio ``plain / <ours>`` of
    the two models' errors over every pixel, per label (> 1: the gradient loss helps)."""
    table = gradient_error_table(models, grid, rows, matters)
    col = f"plain / {ours}"
    with np.errstate(invalid="ignore", divide="ignore"):
        table[col] = np.asarray(table[plain], dtype=float) / np.asarray(table[ours], dtype=float)
    table[col].format = ".2f"
    return table


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def emulation_verdict(summary: Table, profile: str, n_test: int) -> str:
    """Chapter 2's findings in Markdown, from an :func:`emulation_summary` whose first row is
    PhDLspec and whose last row is the paper's: σ over all pixels and for Teff > 4500 K against
    the paper's, whether the book's target for ``profile`` (:data:`EMULATION_TARGETS`) is met,
    and the median gradient error of every model."""
    ours, others = summary[0], summary[1:-1]
    target = EMULATION_TARGETS.get(profile)
    if target is None:
        verdict = f"The {profile} profile is a smoke test, with no accuracy target."
    else:
        met = "meets" if ours["σ all"] <= target else "misses"
        verdict = f"This {met} the book's target for the {profile} profile (σ ≤ {_pct(target)})."
    rest = " and ".join(
        f"{row['median gradient error']:.3f} for the {row['model']}" for row in others
    )
    return (
        f"**Measured here** ({profile} profile, {n_test} test stars): {ours['model']} emulates "
        f"the ab initio spectra with σ = {_pct(ours['σ all'])} over all pixels and "
        f"{_pct(ours['σ Teff > 4500 K'])} for Teff > 4500 K; the paper reports "
        f"{emulation_quote()}. {verdict} Gradient spectra: median relative error "
        f"{ours['median gradient error']:.3f} for {ours['model']}"
        + (f" against {rest}" if rest else "")
        + " — the gradient loss is what teaches the emulator how the spectrum *changes*, "
        "which the fit in chapter 3 relies on."
    )


def spectra_per_second(predict: Callable[[np.ndarray], Any], labels: np.ndarray) -> float:
    """Spectra per second of ``predict`` on the batch ``labels``, after one warm-up call on
    (at most) its first 8 rows."""
    labels = np.asarray(labels)
    predict(labels[:8])
    t0 = time.perf_counter()
    predict(labels)
    return len(labels) / (time.perf_counter() - t0)


def speed_comparison(
    engine: Callable[[np.ndarray], Any],
    model: Any,
    labels: np.ndarray,
    batch: int = 256,
    name: str = "PhDLspec",
) -> str:
    """Time the ab initio ``engine`` (flux only) on the first 4 of ``labels`` and the
    emulator ``model`` on a batch of ``batch`` made from ``labels``, on this machine; a
    Markdown sentence with both rates and the speed-up, beside the paper's claim."""
    labels = np.asarray(labels, dtype=float)
    engine_rate = spectra_per_second(engine, labels[:4])
    emu_rate = spectra_per_second(model.predict, np.resize(labels, (batch, labels.shape[1])))
    return (
        f"**Measured here**: engine {engine_rate:.1f} spectra/s (no gradients), {name} "
        f"{emu_rate:.0f} spectra/s at batch {batch} — {emu_rate / engine_rate:.0f}× faster "
        f"(the paper: {SPEED_FINDING})."
    )


def gradient_summary(
    table: Table,
    profile: str,
    n_test: int,
    ours: str = "PhDLspec",
    plain: str = "plain Transformer",
    labels: Sequence[str] = FIG4_LABELS,
) -> str:
    """Chapter 4's findings in Markdown, from a :func:`gradient_comparison_table`: for how
    many labels the gradient loss lowers the error, the two models' median errors, and the
    ratio for ``labels`` (Figure 4's), beside the paper's finding; then the medians over
    :data:`GRADIENT_TARGET_LABELS` against the profile's :data:`GRADIENT_TARGETS`."""
    ratio = np.asarray(table[f"plain / {ours}"], dtype=float)
    names = [str(n) for n in table["label"]]
    better = int(np.sum(ratio > 1))
    med = {k: float(np.nanmedian(np.asarray(table[k], dtype=float))) for k in (ours, plain)}
    each = " and ".join(f"{ratio[names.index(n)]:.2f}×" for n in labels)
    return (
        f"**Measured here** ({profile} profile, {n_test} test stars): the gradient loss lowers "
        f"the gradient-spectrum error for {better} of {len(names)} labels; median relative "
        f"error {med[ours]:.3f} ({ours}) against {med[plain]:.3f} (plain); for "
        f"{' and '.join(labels)}, the labels of Figure 4, the plain model's error is {each} "
        f"{ours}'s. The paper shows the same comparison by eye (Figure 4): {FIG4_FINDING}. "
        + gradient_target_verdict(table, profile, ours, plain)
    )


def gradient_target_verdict(
    table: Table, profile: str, ours: str = "PhDLspec", plain: str = "plain Transformer"
) -> str:
    """One Markdown sentence: ``ours``' and ``plain``'s median error over
    :data:`GRADIENT_TARGET_LABELS` (every pixel, and where the gradient matters if ``table``
    has the ``", lines"`` columns), and whether the profile's target is met."""
    rows = [str(n) in GRADIENT_TARGET_LABELS for n in table["label"]]
    med = {k: float(np.nanmedian(np.asarray(table[k], dtype=float)[rows]))
           for k in table.colnames if k.startswith((ours, plain))}  # fmt: skip
    text = (
        f"Over Teff, logg, [Fe/H] and the Group I [X/Fe], the median error is "
        f"{med[ours]:.3f} ({ours}) against {med[plain]:.3f} (plain)"
    )
    if f"{ours}, lines" in med:
        text += (
            f"; where the ab initio gradient matters, {med[f'{ours}, lines']:.3f} against "
            f"{med[f'{plain}, lines']:.3f}"
        )
    target = GRADIENT_TARGETS.get(profile)
    if target is None:
        return text + f". The {profile} profile has no gradient target."
    met = med[ours] <= target and med[ours] <= 0.5 * med[plain]
    return text + (
        f". Target (≤ {target:g}, and ≤ half the plain twin's): **{'met' if met else 'missed'}**."
    )
