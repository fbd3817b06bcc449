"""Wide binaries for the Teff step (§4.2.1): pairs of our labels, the paper's cuts, Eq. 28's data.

A pairs table has two rows per pair (``pair_id``, ``component`` 1 and 2). :func:`pair_table`
builds one from our fitted labels, a wide-binary catalogue (El-Badry et al. 2021 columns
``source_id1``, ``source_id2``) and a survey table with the S/N and line-of-sight velocity of
each star, cross-matched by Gaia id with pandas ``merge``. :func:`binary_cuts` keeps the pairs
that pass the paper's four cuts; :func:`pair_deltas` gives Eq. 28's data for one element.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.table import Table

from phdl.paper import BINARY_DVLOS_MAD_MAX, BINARY_LOGG_MIN, BINARY_MIN_SNR, BINARY_TEFF_RANGE

__all__ = ["binary_cuts", "pair_deltas", "pair_rows", "pair_table"]


def pair_rows(table: Any, pair_col: str, component_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (i1, i2) of component 1 and 2 of every pair; ValueError if not two per pair."""
    pair = np.asarray(table[pair_col])
    comp = np.asarray(table[component_col])
    ids, counts = np.unique(pair, return_counts=True)
    if np.any(counts != 2):
        raise ValueError(f"pair {ids[counts != 2][0]!r} in column {pair_col!r} has not two rows")
    i1, i2 = np.flatnonzero(comp == 1), np.flatnonzero(comp == 2)
    if len(i1) != len(ids) or len(i2) != len(ids):
        raise ValueError(f"column {component_col!r} must hold 1 and 2 once in every pair")
    i1, i2 = i1[np.argsort(pair[i1], kind="stable")], i2[np.argsort(pair[i2], kind="stable")]
    if not np.array_equal(pair[i1], pair[i2]):
        raise ValueError(f"column {component_col!r} must hold 1 and 2 once in every pair")
    return i1, i2


def pair_table(ours: Any, pairs: Any, survey: Any, *, on: str = "source_id") -> Table:
    """Two rows per pair of the wide-binary catalogue ``pairs`` (``source_id1``,
    ``source_id2``): ``pair_id`` (row of ``pairs``), ``component``, every column of ``ours``
    (our labels, id column ``on``) and of ``survey`` (e.g. ``snr_g``, ``vlos``; id ``on``).
    Pairs with a star missing from ``ours`` or ``survey`` are left out. ValueError naming
    the table and column that is missing."""
    import pandas as pd

    from phdl.calibrate.catalogs import as_table, native, require

    ours, pairs = as_table(ours, "ours"), as_table(pairs, "pairs")
    survey = as_table(survey, "survey")
    require(pairs, ["source_id1", "source_id2"], "pairs")
    require(ours, [on], "ours")
    require(survey, [on], "survey")
    for what, table in (("ours", ours), ("survey", survey)):
        for name in ("pair_id", "component"):
            if name in table.colnames:
                raise ValueError(f"catalogue {what!r} has a column {name!r}; pair_table makes it")
    n = len(pairs)
    long = pd.DataFrame({
        "pair_id": np.repeat(np.arange(n, dtype=np.int64), 2),
        "component": np.tile(np.array([1, 2], dtype=np.int64), n),
        on: np.stack([native(pairs["source_id1"]), native(pairs["source_id2"])], 1).ravel(),
    })  # fmt: skip
    extra = [c for c in survey.colnames if c not in ours.colnames or c == on]
    merged = long.merge(_frame(ours), on=on, how="inner").merge(_frame(survey[extra]), on=on)
    by_pair = merged.groupby("pair_id")["component"]  # both components, each once
    whole = (by_pair.transform("size") == 2) & (by_pair.transform("nunique") == 2)
    merged = merged[whole].sort_values(["pair_id", "component"], kind="stable")
    return Table.from_pandas(merged.reset_index(drop=True))


def _frame(table: Table):
    import pandas as pd

    from phdl.calibrate.catalogs import native

    return pd.DataFrame({c: native(table[c]) for c in table.colnames if table[c].ndim == 1})


def pair_deltas(pairs: Table, element: str, *, default_err: float = 0.05) -> tuple:
    """Eq. 28's data for ``element`` ("Mg" or "[Mg/Fe]") from a pairs table: (teff1, teff2
    [K], delta = [X/Fe]_1 − [X/Fe]_2, delta_err [dex]) over pairs with both values finite.
    delta_err is the two errors (``[X/Fe]_err``) in quadrature, or ``default_err`` × √2
    per pair where a table has no error column."""
    from phdl.calibrate.catalogs import values, xfe

    name = xfe(element)
    i1, i2 = pair_rows(pairs, "pair_id", "component")
    x = values(pairs, name)
    err_col = f"{name}_err"
    e = values(pairs, err_col) if err_col in pairs.colnames else np.full(len(pairs), default_err)
    teff = values(pairs, "Teff")
    delta, err = x[i1] - x[i2], np.hypot(e[i1], e[i2])
    ok = np.isfinite(delta) & np.isfinite(err) & (err > 0)
    ok &= np.isfinite(teff[i1]) & np.isfinite(teff[i2])
    return teff[i1][ok], teff[i2][ok], delta[ok], err[ok]


def binary_cuts(
    pairs_table: Any,
    teff_col: str = "Teff",
    logg_col: str = "logg",
    snr_col: str = "snr_g",
    vlos_col: str = "vlos",
    pair_col: str = "pair_id",
    component_col: str = "component",
    mad: float | None = None,
) -> Table:
    """The rows of the pairs that pass all four wide-binary cuts of §4.2.1, both components:
    S/N > BINARY_MIN_SNR, BINARY_TEFF_RANGE[0] < Teff < BINARY_TEFF_RANGE[1] K,
    logg > BINARY_LOGG_MIN (:mod:`phdl.paper`; strict inequalities; a NaN fails), and
    |ΔV_los| / mad < BINARY_DVLOS_MAD_MAX.

    ``mad`` (km/s) is the median absolute deviation of ΔV_los, median(|ΔV - median(ΔV)|)
    without the 1.4826 normal factor, over the pairs that pass the first three cuts, unless
    given. Works on any table with those columns (truth or fitted labels). ValueError naming a
    missing column.
    """
    from phdl.calibrate.catalogs import as_table

    table = as_table(pairs_table, "pairs table")
    for name in (teff_col, logg_col, snr_col, vlos_col, pair_col, component_col):
        if name not in table.colnames:
            raise ValueError(f"pairs table has no column {name!r}")
    i1, i2 = pair_rows(table, pair_col, component_col)

    def col(name):
        return np.asarray(table[name], dtype=np.float64)

    teff, logg, snr = col(teff_col), col(logg_col), col(snr_col)
    star_ok = (snr > BINARY_MIN_SNR) & (logg > BINARY_LOGG_MIN)
    star_ok &= (teff > BINARY_TEFF_RANGE[0]) & (teff < BINARY_TEFF_RANGE[1])
    ok = star_ok[i1] & star_ok[i2]
    dv = col(vlos_col)[i1] - col(vlos_col)[i2]
    if mad is None:
        base = dv[ok & np.isfinite(dv)]
        mad = float(np.median(np.abs(base - np.median(base)))) if len(base) else np.nan
    ok &= np.abs(dv) / mad < BINARY_DVLOS_MAD_MAX
    keep = np.sort(np.concatenate([i1[ok], i2[ok]]))
    return table[keep]
