"""El-Badry, Rix & Heintz (2021) wide binaries (Gaia EDR3) → the pairs of the calibration.

The catalogue (``all_columns_catalog.fits``, Zenodo 4435257) has one row per pair: the two
components' Gaia EDR3 columns suffixed ``1`` and ``2`` (``source_id1``, ``source_id2``,
``ra1``, ``dec1``, ``parallax1``, ...), the projected separation ``sep_AU`` (AU) and the
probability ``R_chance_align`` that the pair is a chance alignment. :func:`read_el_badry`
keeps the likely bound pairs and every column, ready for
:func:`phdl.calibrate.pair_table` (which joins them to our labels by Gaia id).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.table import Table

from phdl.io.members import find_column, read_table, source_ids

__all__ = ["ID_COLUMNS", "read_el_badry"]

#: The two id columns a wide-binary table must have.
ID_COLUMNS: tuple[str, str] = ("source_id1", "source_id2")


def read_el_badry(path_or_table: Any, *, max_chance_align: float = 0.1) -> Table:
    """The pairs of an El-Badry et al. (2021)-layout wide-binary catalogue (a file: FITS, CSV,
    ...; or a Table / DataFrame) with ``R_chance_align < max_chance_align`` (El-Badry et al.
    call R < 0.1 a high-confidence bound pair), every column kept.

    ``source_id1`` and ``source_id2`` come back as int64 (any case of the names is accepted;
    a missing id is -1), ``pair_id`` is 0..n-1 over the kept pairs when the file has none, and
    ``sep_AU`` (AU) stays when present. Without an ``R_chance_align`` column every pair is
    kept and ``meta["CHANCE_CUT"]`` says so.

    Errors: FileNotFoundError for a missing file; ValueError naming the file and the missing
    id column, a ``max_chance_align`` that is not positive, or a cut that leaves no pair.
    """
    if not float(max_chance_align) > 0.0:
        raise ValueError(f"max_chance_align must be positive, got {max_chance_align!r}")
    table, name = read_table(path_or_table, "wide-binary catalogue")
    table = table.copy(copy_data=False)  # renaming below leaves the caller's table alone
    for want in ID_COLUMNS:
        found = find_column(table, [want])
        if found is None:
            raise ValueError(
                f"{name} has no column {want!r}; an El-Badry et al. (2021) wide-binary "
                f"catalogue has {', '.join(ID_COLUMNS)}, sep_AU, R_chance_align "
                f"(it has: {', '.join(table.colnames[:12]) or 'no columns'})"
            )
        if found != want:
            table.rename_column(found, want)
    chance = find_column(table, ["R_chance_align"])
    if chance is None:
        keep = np.ones(len(table), dtype=bool)
        cut = "none: no R_chance_align column"
    else:
        r = np.asarray(np.ma.filled(np.ma.asarray(table[chance], dtype=float), np.nan))
        keep = r < max_chance_align
        cut = f"R_chance_align < {max_chance_align:g}"
    if not keep.any():
        lowest = f"; the lowest R_chance_align is {np.nanmin(r):g}" if chance and len(r) else ""
        raise ValueError(f"{name}: no pair with {cut} (of {len(table)} pairs{lowest})")
    out = table[keep]  # a copy: the caller's table is left as it was
    for col in ID_COLUMNS:
        out[col] = source_ids(out[col], f"{name} column {col!r}")
    if "pair_id" not in out.colnames:
        out.add_column(np.arange(len(out), dtype=np.int64), name="pair_id", index=0)
    sep = find_column(out, ["sep_AU"])
    if sep is not None and out[sep].unit is None:
        out[sep].unit = "AU"
    out.meta["CHANCE_CUT"] = cut
    return out
