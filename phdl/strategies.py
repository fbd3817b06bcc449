"""Fitting strategies side by side on the same stars (chapter 3): accuracy, χ² and cost.

:func:`side_by_side` gives σ and bias of fitted − true per label and strategy;
:func:`cost_table` the median reduced χ², model spectra and seconds per star;
:func:`accuracy_verdict` whether a strategy's σ is within a tolerance of a reference's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from astropy.table import Table

from phdl.recovery import label_columns, recovery_table

#: The fast strategy's accuracy target: σ at most this much above the reference's (10 %).
SIGMA_TOLERANCE: float = 0.10


def side_by_side(truth: np.ndarray, tables: Mapping[str, Table], names: Sequence[str]) -> Table:
    """Per label (rows): ``σ <strategy>`` and ``bias <strategy>`` of fitted − true for each
    fit table in ``tables`` (strategy -> table), ``truth`` (n, k) physical for ``names``."""
    out = Table({"label": list(names)})
    for strategy, table in tables.items():
        rec = recovery_table(truth, label_columns(table, names), names)
        out[f"σ {strategy}"] = rec["σ"]
        out[f"bias {strategy}"] = rec["bias"]
    for col in out.colnames[1:]:
        out[col].format = ".3f"
    return out


def cost_table(tables: Mapping[str, Table], seconds: Mapping[str, float]) -> Table:
    """Per strategy: stars, median reduced χ² (Eq. 15), median model spectra per star,
    seconds per star and stars per second (``seconds``: wall time of each fit), and how
    many stars the fast strategy handed to CMA-ES (``stop`` containing "fallback")."""
    rows = []
    for strategy, table in tables.items():
        n = len(table)
        fallback = sum("fallback" in str(s) for s in table["stop"])
        rows.append((strategy, n, float(np.nanmedian(table["Chisq"])),
                     float(np.median(table["n_eval"])), seconds[strategy] / n,
                     n / seconds[strategy], fallback))  # fmt: skip
    names = ("strategy", "stars", "median χ²_r", "spectra / star", "s / star", "stars / s",
             "CMA-ES fallbacks")  # fmt: skip
    out = Table(rows=rows, names=names)
    for col in ("median χ²_r", "s / star", "stars / s"):
        out[col].format = ".3f"
    out["spectra / star"].format = ".0f"
    return out


def accuracy_verdict(
    side: Table,
    names: Sequence[str],
    candidate: str = "fast",
    reference: str = "two-stage",
    tolerance: float = SIGMA_TOLERANCE,
) -> dict[str, bool]:
    """Per label of ``names``: whether σ of ``candidate`` ≤ (1 + ``tolerance``) σ of
    ``reference`` in a :func:`side_by_side` table."""
    rows = {str(r["label"]): r for r in side}
    return {
        n: bool(rows[n][f"σ {candidate}"] <= (1 + tolerance) * rows[n][f"σ {reference}"])
        for n in names
    }
