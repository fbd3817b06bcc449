"""Catalogues in: astropy Tables or pandas DataFrames, their columns, cross-matches, [X/Fe] names.

Every check here names the catalogue and the column it is about, so that a bad input to any
calibration step reads as one clear line. A cross-match is an inner join on one id column with
pandas ``merge(how="inner")``, as a user would join the real catalogues; a DataFrame is
accepted wherever a Table is (converted with :meth:`Table.from_pandas`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from astropy.table import Table

#: The id column the cross-matches use unless told otherwise (Gaia DR3 source id).
DEFAULT_ID: str = "source_id"


def as_table(catalog: Any, what: str) -> Table:
    """``catalog`` as an astropy Table (a DataFrame is converted; a Table is returned as is)."""
    if isinstance(catalog, Table):
        return catalog
    if hasattr(catalog, "columns") and hasattr(catalog, "to_numpy"):
        return Table.from_pandas(catalog)
    raise TypeError(
        f"catalogue {what!r} must be an astropy Table or a pandas DataFrame, "
        f"got {type(catalog).__name__}"
    )


def native(values: Any) -> np.ndarray:
    """``values`` as a numpy array in the machine's byte order (FITS columns are big-endian,
    which pandas cannot join on)."""
    a = np.asarray(values)
    return a.astype(a.dtype.newbyteorder("=")) if a.dtype.byteorder not in "=|" else a


def require(table: Table, columns: Sequence[str], what: str) -> None:
    """ValueError naming the first of ``columns`` that ``table`` (catalogue ``what``) lacks."""
    for name in columns:
        if name not in table.colnames:
            raise ValueError(
                f"catalogue {what!r} has no column {name!r} "
                f"(it has: {', '.join(table.colnames) or 'no columns'})"
            )


def values(table: Table, name: str) -> np.ndarray:
    """Column ``name`` as a float64 array, masked entries as NaN."""
    return np.asarray(np.ma.filled(np.ma.asarray(table[name], dtype=float), np.nan))


def crossmatch(
    ours: Table,
    reference: Table,
    columns: Sequence[str],
    *,
    on: str = DEFAULT_ID,
    catalogs: tuple[str, str] = ("ours", "reference"),
) -> tuple[Table, Table]:
    """The rows of ``ours`` and ``reference`` that share an ``on`` id, aligned row by row.

    Both keep all their columns (``columns`` are checked to be present in each). Ids must be
    unique within each catalogue (keep one entry per star, e.g. the highest-S/N visit,
    beforehand). No common id is a ValueError naming both catalogues and the id column.
    """
    for table, what in zip((ours, reference), catalogs, strict=True):
        require(table, [on, *columns], what)
        if len(np.unique(np.asarray(table[on]))) != len(table):
            raise ValueError(
                f"catalogue {what!r} repeats ids in column {on!r}; keep one row a star"
            )
    import pandas as pd

    left = pd.DataFrame({on: native(ours[on]), "_row_ours": np.arange(len(ours))})
    right = pd.DataFrame({on: native(reference[on]), "_row_ref": np.arange(len(reference))})
    both = left.merge(right, on=on, how="inner", sort=True)
    rows_ours, rows_ref = both["_row_ours"].to_numpy(), both["_row_ref"].to_numpy()
    if len(rows_ours) == 0:
        raise ValueError(
            f"no star in common between catalogues {catalogs[0]!r} and {catalogs[1]!r} "
            f"on column {on!r}"
        )
    return ours[rows_ours], reference[rows_ref]


def symbol(element: str) -> str:
    """The element symbol of ``element`` given as "Mg" or "[Mg/Fe]"."""
    match = re.fullmatch(r"\[([A-Z][a-z]?)/Fe\]", element)
    return match.group(1) if match else element


def xfe(element: str) -> str:
    """The column name "[X/Fe]" of ``element`` given as "X" or "[X/Fe]"."""
    return f"[{symbol(element)}/Fe]"
