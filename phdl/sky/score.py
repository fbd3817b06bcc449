"""Score fitted (or calibrated) labels against the sky's truth: what the paper cannot show.

For each label, the bias is fitted − true per star, matched by ``source_id``. Summaries:

- ``median``: the median bias over all matched stars [K or dex];
- ``teff_spread``: the standard deviation, across true-Teff bins (:data:`TEFF_BINS`, K), of
  the median bias in each bin with at least ``min_per_bin`` stars; ``teff_range``: the largest
  minus the smallest of those bin medians (the stricter reading, noisier for small bins);
- ``logg_spread``, ``logg_range``: the same across true-logg bins (:data:`LOGG_BINS`, dex).

A calibration that removes the systematic errors drives ``median`` and the spreads to the
noise floor; on the control sky (the sky's physics equals the model's) it should change
neither.
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

__all__ = [
    "LOGG_BINS", "TEFF_BINS", "binned_medians", "score", "score_stages", "shift_summary",
    "shifts", "verdicts",
]  # fmt: skip

#: Edges of the true-Teff bins of the spreads, K (the wide binaries' 4500-7000 K range).
TEFF_BINS: tuple[float, ...] = (4500.0, 5000.0, 5500.0, 6000.0, 6500.0, 7000.0)
#: Edges of the true-logg bins of the spreads, dex.
LOGG_BINS: tuple[float, ...] = (1.0, 2.0, 3.0, 3.8, 4.2, 4.6, 5.2)


def binned_medians(
    x: np.ndarray, y: np.ndarray, edges, min_per_bin: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and median of ``y`` in each bin of ``x`` with ≥ ``min_per_bin`` finite
    values (other bins left out)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    edges = np.asarray(edges, float)
    which = np.digitize(x, edges) - 1
    centres, medians = [], []
    for b in range(len(edges) - 1):
        sel = (which == b) & np.isfinite(y)
        if sel.sum() >= min_per_bin:
            centres.append(0.5 * (edges[b] + edges[b + 1]))
            medians.append(float(np.median(y[sel])))
    return np.array(centres), np.array(medians)


def _matched(fitted: Table, truth: Table, on: str) -> tuple[np.ndarray, np.ndarray]:
    for table, what in ((fitted, "fitted"), (truth, "truth")):
        if on not in table.colnames:
            raise ValueError(f"the {what} table lacks the id column {on!r}")
    f_ids, t_ids = np.asarray(fitted[on]), np.asarray(truth[on])
    _, fi, ti = np.intersect1d(f_ids, t_ids, return_indices=True)
    if fi.size == 0:
        raise ValueError(f"no star of the fitted table matches the truth by {on!r}")
    return fi, ti


def _spread(values: np.ndarray) -> tuple[float, float]:
    if values.size < 2:
        return np.nan, np.nan
    return float(np.std(values)), float(np.ptp(values))


def score(
    fitted: Table, truth: Table, names, *, on: str = "source_id", min_per_bin: int = 5
) -> Table:
    """One row per label of ``names``: ``n`` matched stars, ``median`` bias, ``teff_spread``,
    ``teff_range``, ``logg_spread``, ``logg_range`` (module docstring; K for Teff, dex
    otherwise). ValueError naming the missing column or an empty match."""
    fi, ti = _matched(fitted, truth, on)
    t_teff = np.asarray(truth["Teff"], float)[ti]
    t_logg = np.asarray(truth["logg"], float)[ti]
    rows = []
    for name in names:
        for table, what in ((fitted, "fitted"), (truth, "truth")):
            if name not in table.colnames:
                raise ValueError(f"the {what} table lacks the column {name!r}")
        bias = np.asarray(fitted[name], float)[fi] - np.asarray(truth[name], float)[ti]
        ok = np.isfinite(bias)
        _, by_t = binned_medians(t_teff, bias, TEFF_BINS, min_per_bin)
        _, by_g = binned_medians(t_logg, bias, LOGG_BINS, min_per_bin)
        med = float(np.median(bias[ok])) if ok.any() else np.nan
        rows.append((name, int(ok.sum()), med, *_spread(by_t), *_spread(by_g)))
    cols = ("label", "n", "median", "teff_spread", "teff_range", "logg_spread", "logg_range")
    return Table(rows=rows, names=cols)


def score_stages(stages: dict, truth: Table, names, **kw) -> Table:
    """:func:`score` of each stage (name -> fitted table, in order) stacked, with a ``stage``
    column first: the before / after-each-step table of chapter 06."""
    from astropy.table import vstack

    parts = []
    for stage, table in stages.items():
        s = score(table, truth, names, **kw)
        s.add_column([stage] * len(s), name="stage", index=0)
        parts.append(s)
    return vstack(parts)


def shifts(before: Table, after: Table, names) -> Table:
    """How far a calibration moves each label: the median of after − before per star (rows in
    the same order), ``label`` and ``median_shift`` (K or dex), and ``max_abs_shift`` over
    stars. The control sky's test: a calibration of a sky whose physics is the model's should
    move no [X/Fe] by more than a few hundredths of a dex."""
    rows = []
    for name in names:
        d = np.asarray(after[name], float) - np.asarray(before[name], float)
        ok = np.isfinite(d)
        rows.append((name, float(np.median(d[ok])) if ok.any() else np.nan,
                     float(np.max(np.abs(d[ok]))) if ok.any() else np.nan))  # fmt: skip
    return Table(rows=rows, names=("label", "median_shift", "max_abs_shift"))


def shift_summary(moved: Table, limit: float = 0.02) -> dict:
    """From a :func:`shifts` table: ``n_within`` labels whose |median shift| ≤ ``limit`` (dex)
    of ``n`` with a finite shift, and the ``worst`` label with its ``worst_shift``."""
    d = np.asarray(moved["median_shift"], float)
    ok = np.isfinite(d)
    k = int(np.argmax(np.where(ok, np.abs(d), -1.0)))
    return {"n_within": int(np.sum(np.abs(d[ok]) <= limit)), "n": int(ok.sum()),
            "worst": str(moved["label"][k]), "worst_shift": float(d[k])}  # fmt: skip


def verdicts(scores: Table, labels, *, median_max: float = 0.03, spread_max: float = 0.03):
    """The issue's targets per label of ``labels`` from a :func:`score` table: ``label``,
    ``median``, ``teff_spread`` and whether |median| ≤ ``median_max`` and the Teff spread ≤
    ``spread_max`` (dex), each and both (``met``)."""
    rows = []
    by_label = {str(r["label"]): r for r in scores}
    for name in labels:
        r = by_label[name]
        ok_m = bool(abs(r["median"]) <= median_max)
        ok_s = bool(r["teff_spread"] <= spread_max)
        rows.append((name, float(r["median"]), float(r["teff_spread"]), ok_m, ok_s, ok_m and ok_s))
    names = ("label", "median", "teff_spread", "median_ok", "spread_ok", "met")
    return Table(rows=rows, names=names)
