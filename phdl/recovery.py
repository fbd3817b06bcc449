"""Label recovery on a test set: bias and σ per label, the paper's bins, the Cramér–Rao bound,
and the correlation of gradient spectra (Sections 3.3 and 3.4).

Units: labels physical (Teff K, logg dex, vmic km/s, abundances dex); biases and σ in the
label's unit; gradient spectra ∂(normalized flux)/∂label per physical unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from astropy.table import Table

from phdl.labels import LABELS, NOT_FITTED, RANGES, UNITS, index
from phdl.paper import (
    FIG6_FINDING,
    GOOD_FLAGS_QUOTED,
    RECOVERY_BIN,
    RECOVERY_SIGMA_QUOTED,
    recovery_quote,
)


def paper_bins(labels: np.ndarray) -> dict[str, np.ndarray]:
    """The paper's two bins of Section 3.3 for physical labels (n, 34): boolean masks
    :data:`phdl.paper.RECOVERY_BIN` ("4500-7000 K, [Fe/H] > -1") and "the rest"."""
    lab = np.asarray(labels, dtype=float)
    if lab.ndim != 2 or lab.shape[1] != len(LABELS):
        raise ValueError(f"labels must be (n, {len(LABELS)}); got {lab.shape}")
    teff, feh = lab[:, index("Teff")], lab[:, index("[Fe/H]")]
    core = (teff >= 4500.0) & (teff <= 7000.0) & (feh > -1.0)
    return {RECOVERY_BIN: core, "the rest": ~core}


def label_columns(table: Table, names: Sequence[str], suffix: str = "") -> np.ndarray:
    """The columns ``<name><suffix>`` of a label table (``suffix`` "" for the values, "_err",
    "_flag", ...) stacked as an (n, len(names)) float array, in the order of ``names``."""
    missing = [n + suffix for n in names if n + suffix not in table.colnames]
    if missing:
        raise ValueError(f"the label table has no column(s) {missing}")
    return np.stack([np.asarray(table[n + suffix], dtype=float) for n in names], axis=1)


def _check(truth: np.ndarray, fitted: np.ndarray, names: Sequence[str]) -> None:
    if truth.shape != fitted.shape or truth.ndim != 2 or truth.shape[1] != len(names):
        raise ValueError(
            f"truth and fitted must both be (n, {len(names)}) for the labels given; "
            f"got {truth.shape} and {fitted.shape}"
        )


def crlb_sigma(crlb: np.ndarray) -> np.ndarray:
    """σ that an unbiased, efficient estimator reaches over a set of stars whose per-star
    Cramér–Rao bounds are ``crlb`` (n, k): sqrt(mean over stars of σ_CRLB²), per label (k,)."""
    c = np.asarray(crlb, dtype=float)
    return np.sqrt(np.nanmean(c**2, axis=0))


def recovery_table(
    truth: np.ndarray,
    fitted: np.ndarray,
    names: Sequence[str],
    bins: Mapping[str, np.ndarray] | None = None,
    crlb: np.ndarray | None = None,
) -> Table:
    """Bias and σ of ``fitted − truth`` per label, overall and in each of ``bins``.

    ``truth``, ``fitted`` (n, k) physical for the labels ``names``; ``bins`` maps a name to a
    boolean mask (n,); ``crlb`` (n, k) per-star Cramér–Rao σ. Columns: ``label``, ``unit``,
    ``bias``, ``σ``, ``σ <bin>`` per bin, and with ``crlb`` also ``σ CRLB`` (see
    :func:`crlb_sigma`), ``σ / σ CRLB`` and ``vs CRLB (≤ 1.5)`` (:func:`crlb_status` at
    :data:`CRLB_TARGET`: "meets", "misses" or "no information"); ``σ paper`` from
    :data:`phdl.paper.RECOVERY_SIGMA_QUOTED`.
    Stars with a NaN fit (failed) are left out per label.
    """
    truth, fitted = np.asarray(truth, dtype=float), np.asarray(fitted, dtype=float)
    names = list(names)
    _check(truth, fitted, names)
    d = fitted - truth
    ok = np.isfinite(d)
    table = Table({"label": names, "unit": [UNITS.get(n, "dex") for n in names]})
    table["n"] = ok.sum(0)
    table["bias"] = [
        np.mean(d[ok[:, k], k]) if ok[:, k].any() else np.nan for k in range(len(names))
    ]
    table["σ"] = [np.std(d[ok[:, k], k]) if ok[:, k].any() else np.nan for k in range(len(names))]
    for name, mask in (bins or {}).items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(d),):
            raise ValueError(f"bin {name!r} must be a boolean mask of shape ({len(d)},)")
        col = []
        for k in range(len(names)):
            sel = mask & ok[:, k]
            col.append(np.std(d[sel, k]) if sel.sum() >= 2 else np.nan)
        table[f"σ {name}"] = col
    if crlb is not None:
        crlb = np.asarray(crlb, dtype=float)
        if crlb.shape != d.shape:
            raise ValueError(f"crlb must be {d.shape}; got {crlb.shape}")
        table["σ CRLB"] = crlb_sigma(crlb)
        table["σ / σ CRLB"] = np.asarray(table["σ"]) / np.asarray(table["σ CRLB"])
        table[f"vs CRLB (≤ {CRLB_TARGET:g})"] = crlb_status(table)
    table["σ paper"] = [RECOVERY_SIGMA_QUOTED.get(n, "") for n in names]
    for col in table.colnames:
        if table[col].dtype.kind == "f":
            table[col].format = ".3f"
    return table


#: The recovery target of chapter 3: σ_fit / σ_CRLB at most this.
CRLB_TARGET: float = 1.5
#: The status of a label whose Cramér–Rao bound exceeds its whole allowed range.
NO_INFORMATION = "no information"


def crlb_status(rec: Table, target: float = CRLB_TARGET) -> list[str]:
    """Per row of a :func:`recovery_table` made with ``crlb``: how the fit compares with the
    Cramér–Rao bound.

    "no information" where σ_CRLB exceeds the label's whole allowed range
    (:data:`phdl.labels.RANGES`): the spectra cannot constrain the label, the fit is held by
    the bounds, and its ratio says nothing (it is neither a pass nor a miss). Otherwise
    "meets" where σ_fit / σ_CRLB ≤ ``target`` and "misses" where not (a NaN ratio misses).
    """
    if "σ / σ CRLB" not in rec.colnames:
        raise ValueError("the recovery table has no 'σ / σ CRLB' column; pass crlb= to make it")
    out = []
    for name, bound, ratio in zip(rec["label"], rec["σ CRLB"], rec["σ / σ CRLB"], strict=True):
        lo, hi = RANGES.get(str(name), (-np.inf, np.inf))
        if float(bound) > hi - lo:
            out.append(NO_INFORMATION)
        else:
            out.append("meets" if float(ratio) <= target else "misses")
    return out


def crlb_verdict(
    rec: Table, labels: Sequence[str], target: float = CRLB_TARGET
) -> tuple[str, list[str]]:
    """The recovery target on a :func:`recovery_table` made with ``crlb``, in a sentence, for
    ``labels``: whether σ_fit / σ_CRLB ≤ ``target`` for every label the spectra constrain, by
    how much each one that misses it misses, and which labels have no information (see
    :func:`crlb_status`; they are not counted as meeting the target, nor as missing it).
    Also returns the labels with information sorted by decreasing ratio."""
    status = dict(zip((str(n) for n in rec["label"]), crlb_status(rec, target), strict=True))
    ratio = {str(n): float(r) for n, r in zip(rec["label"], rec["σ / σ CRLB"], strict=True)}
    unknown = [n for n in labels if n not in ratio]
    if unknown:
        raise ValueError(f"labels {unknown} are not rows of the recovery table")
    blind = [n for n in labels if status[n] == NO_INFORMATION]
    informed = [n for n in labels if status[n] != NO_INFORMATION]
    missed = [n for n in informed if status[n] == "misses"]
    worst = sorted(informed, key=lambda n: -ratio[n] if np.isfinite(ratio[n]) else -np.inf)
    what = f"σ_fit / σ_CRLB ≤ {target:g}"
    if not informed:
        text = f"none of the {len(labels)} labels has information in the spectra"
    elif not missed:
        text = f"all {len(informed)} meet the target {what}"
    else:
        misses = ", ".join(f"{n} ({ratio[n]:.2f}, {ratio[n] / target:.1f}× over)" for n in missed)
        text = f"{len(missed)} of {len(informed)} miss the target {what}: {misses}"
    if blind and informed:
        text += (
            f"; no information on {', '.join(blind)} (the bound exceeds the label's range), "
            "not counted"
        )
    return text, worst


def emulator_limit(
    chi_truth: np.ndarray, chi_fit: np.ndarray, threshold: float = 1.5, exact: float = 1.1
) -> str:
    """A sentence on whether the emulator's errors or the noise limit a test-set fit.

    ``chi_truth`` (n,): reduced χ² of the emulator at the true labels against the noisy
    spectra; ``chi_fit`` (n,): the fit's reduced χ². Noise alone gives χ²_r ≈ 1, and
    χ²_r − 1 is the emulator's error variance in units of the noise variance. Median
    ``chi_truth`` above ``threshold``: the emulator's errors dominate and the Cramér–Rao bound
    (which assumes an exact model) is out of reach; at most ``exact``: the emulator is close to
    exact and what remains is the optimizer's; in between, both can hold the fit above the
    bound."""
    truth, fit = np.asarray(chi_truth, dtype=float), np.asarray(chi_fit, dtype=float)
    if truth.shape != fit.shape or truth.ndim != 1:
        raise ValueError(f"chi_truth and chi_fit must both be (n,); got {truth.shape}, {fit.shape}")
    head = (
        f"at the true labels the emulator leaves a median reduced χ² of {np.median(truth):.2f} "
        f"(noise alone: 1); the fitted labels reach {np.median(fit):.2f}, below the truth's χ² "
        f"for {np.mean(fit < truth):.0%} of the stars. "
    )
    if np.median(truth) > threshold:
        return head + (
            "The emulator's errors dominate the noise, so σ_fit / σ_CRLB cannot approach 1 with "
            "this model: the fit moves the labels to wherever the emulator's errors are smallest. "
            "A better emulator (more training spectra, the full profile) is the way to the bound."
        )
    excess = np.median(truth) - 1.0
    if np.median(truth) > exact:
        return head + (
            f"The emulator's errors add about {excess:.0%} of the noise variance: less than the "
            "noise, but not negligible, so both they and the optimizer can hold σ_fit / σ_CRLB "
            "above 1."
        )
    return head + (
        "The emulator is close to exact here, so the remaining gap to the bound is the optimizer's."
    )


def flag_table(flags: np.ndarray, names: Sequence[str]) -> Table:
    """Per label, the fraction of good flags (0) and of each bit F1–F4 set (Section 2.3), among
    the stars with a flag (≥ 0; -1 marks a star that was not fitted), beside the paper's good
    fractions (:data:`phdl.paper.GOOD_FLAGS_QUOTED`). ``flags`` (n, k) int, columns ``names``."""
    fl = np.atleast_2d(np.asarray(flags))
    if fl.shape[1] != len(names):
        raise ValueError(f"flags has {fl.shape[1]} columns but {len(names)} names")
    valid = fl >= 0
    n_valid = valid.sum(0)

    def fraction(hit: np.ndarray) -> np.ndarray:
        return np.where(n_valid > 0, (hit & valid).sum(0) / np.maximum(n_valid, 1), np.nan)

    table = Table({"label": list(names)})
    table["good (ours)"] = fraction(fl == 0)
    for b in range(4):
        table[f"F{b + 1}"] = fraction(fl & (1 << b) > 0)
    table["good (paper)"] = [GOOD_FLAGS_QUOTED.get(n, "") for n in names]
    for col in ("good (ours)", "F1", "F2", "F3", "F4"):
        table[col].format = ".2f"
    return table


def gradient_correlation(gradients: np.ndarray) -> np.ndarray:
    """Pearson correlation over pixels between gradient spectra: (k, n_pix) -> (k, k).

    A label whose gradient spectrum is zero everywhere gets NaN correlations.
    """
    g = np.asarray(gradients, dtype=float)
    if g.ndim != 2:
        raise ValueError(f"gradients must be (k, n_pix); got {g.shape}")
    c = g - g.mean(1, keepdims=True)
    norm = np.sqrt((c**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (c @ c.T) / np.outer(norm, norm)


def strongest_pairs(corr: np.ndarray, names: Sequence[str], n: int = 8) -> list[tuple]:
    """The ``n`` label pairs with the largest |correlation| (off-diagonal, NaN skipped):
    a list of (name_a, name_b, r), strongest first."""
    corr = np.asarray(corr, dtype=float)
    names = list(names)
    if corr.shape != (len(names), len(names)):
        raise ValueError(f"corr must be ({len(names)}, {len(names)}); got {corr.shape}")
    i, j = np.triu_indices(len(names), k=1)
    r = corr[i, j]
    keep = np.isfinite(r)
    order = np.argsort(-np.abs(r[keep]), kind="stable")[:n]
    return [(names[a], names[b], float(v)) for a, b, v in
            zip(i[keep][order], j[keep][order], r[keep][order], strict=True)]  # fmt: skip


def block_strength(corr: np.ndarray, names: Sequence[str], blocks: Mapping[str, Sequence[str]]):
    """Mean |correlation| within and between named blocks of labels: a Table with one row and
    one column per block pair ("A × B"), the diagonal excluded within a block."""
    corr = np.asarray(corr, dtype=float)
    names = list(names)
    idx = {b: [names.index(x) for x in members] for b, members in blocks.items()}
    keys = list(blocks)
    out = {}
    for a_i, a in enumerate(keys):
        for b in keys[a_i:]:
            sub = np.abs(corr[np.ix_(idx[a], idx[b])])
            if a == b:
                sub = sub[~np.eye(len(idx[a]), dtype=bool)]
            out[f"{a} × {b}"] = [float(np.nanmean(sub))] if sub.size else [np.nan]
    table = Table(out)
    for col in table.colnames:
        table[col].format = ".2f"
    return table


def recovery_summary(
    rec: Table,
    labels: Sequence[str],
    profile: str,
    snr: float,
    n_stars: int,
    what: str = "Teff, logg, [Fe/H] and the Group I elements",
) -> str:
    """Chapter 3's findings in Markdown, from a :func:`recovery_table` made with ``crlb``: σ of
    Teff, logg and [Fe/H] beside the paper's, and :func:`crlb_verdict` on ``labels`` (described
    in words by ``what``) with the largest ratios. ``snr`` is the median S/N of the
    ``n_stars`` test stars."""
    verdict, worst = crlb_verdict(rec, labels)
    s = {str(n): float(v) for n, v in zip(rec["label"], rec["σ"], strict=True)}
    ratio = {str(n): float(r) for n, r in zip(rec["label"], rec["σ / σ CRLB"], strict=True)}
    largest = ", ".join(f"{n} {ratio[n]:.2f}" for n in worst[:4])
    return (
        f"**Measured here** ({profile} profile, {n_stars} test stars, median S/N {snr:.0f}): "
        f"σ = {s['Teff']:.1f} K (Teff), {s['logg']:.3f} dex (logg), {s['[Fe/H]']:.3f} dex "
        f"([Fe/H]); the paper: {recovery_quote()}. Against the Cramér–Rao bound, for {what}: "
        f"{verdict}." + (f" The largest ratios: {largest}." if largest else "")
    )


def sensitivity_summary(table: Table, n: int = 6) -> str:
    """Chapter 1's findings in Markdown, from :func:`phdl.synth.diagnostics.gradient_table`:
    the ``n`` elements with the strongest and the weakest response (max over the stars of the
    max |∂f/∂[X/Fe]|, per dex), and the ranks of the elements the paper does not fit."""
    from phdl.synth.diagnostics import weakest_elements

    ranked = weakest_elements(table, n=len(table))  # weakest first
    rank = {e: i + 1 for i, (e, _) in enumerate(ranked)}
    unfitted = sorted((n[1:-4] for n in NOT_FITTED if n.startswith("[")), key=rank.get)

    def fmt(pairs: Sequence[tuple[str, float]]) -> str:
        return ", ".join(f"{e} ({v:.1e})" for e, v in pairs)

    return (
        f"**Measured here** (max over both stars of max |∂f/∂[X/Fe]|, per dex): the strongest "
        f"responses are {fmt(ranked[::-1][:n])}; the weakest are {fmt(ranked[:n])}. The paper "
        f"does not fit {', '.join(sorted(unfitted))} at all (§2.2.1); in our engine their ranks "
        f"from the weakest (1) to the strongest ({len(ranked)}) are "
        f"{', '.join(f'{e} {rank[e]}' for e in unfitted)}."
    )


def correlation_blocks(names: Sequence[str]) -> dict[str, list[str]]:
    """Figure 6's labels ``names`` in three blocks: "atm+CNO" (Teff, logg, [Fe/H], C, N, O),
    "light/α/Fe-peak" (the other elements up to Ni) and "heavy" (Sr and beyond)."""
    atm = ["Teff", "logg", "[Fe/H]", "[C/Fe]", "[N/Fe]", "[O/Fe]"]
    ni, sr = LABELS.index("[Ni/Fe]"), LABELS.index("[Sr/Fe]")
    return {
        "atm+CNO": [n for n in names if n in atm],
        "light/α/Fe-peak": [n for n in names if n not in atm and LABELS.index(n) <= ni],
        "heavy": [n for n in names if LABELS.index(n) >= sr],
    }


def block_strength_table(
    matrices: Mapping[str, np.ndarray], names: Sequence[str], blocks: Mapping[str, Sequence[str]]
) -> Table:
    """:func:`block_strength` of each named correlation matrix, one row each, with the name in
    a first column ``matrix``."""
    from astropy.table import vstack

    table = vstack([block_strength(m, names, blocks) for m in matrices.values()])
    table.add_column(list(matrices), name="matrix", index=0)
    return table


def correlation_summary(
    grad_corr: np.ndarray, err_corr: np.ndarray, names: Sequence[str], strength: Table, n: int = 6
) -> str:
    """Chapter 5's findings in Markdown: the ``n`` strongest pairs of the gradient-spectrum
    and of the label-error correlations, and the mean |r| within each block (the first row of
    a :func:`block_strength_table`), beside the paper's reading of Figure 6."""

    def fmt(pairs: Sequence[tuple]) -> str:
        return "; ".join(f"{a}–{b} {r:+.2f}" for a, b, r in pairs)

    g = strength[0]
    return (
        f"**Measured here**: the strongest gradient-spectrum correlations are "
        f"{fmt(strongest_pairs(grad_corr, names, n))}. Mean |r| is "
        f"{g['atm+CNO × atm+CNO']:.2f} among Teff, logg, [Fe/H], C, N, O, "
        f"{g['light/α/Fe-peak × light/α/Fe-peak']:.2f} among the lighter elements and "
        f"{g['heavy × heavy']:.2f} among the heavy ones. The paper (Figure 6): {FIG6_FINDING}. "
        f"In the error correlations the strongest pairs are "
        f"{fmt(strongest_pairs(err_corr, names, n))}."
    )
