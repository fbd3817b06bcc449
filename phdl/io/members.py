"""Open-cluster membership lists (M67 for chapters 06 and 07) → Gaia ids and probabilities.

:func:`read_members` takes a file (FITS, CSV, ECSV, VOTable, plain text) or a table in one of
the published layouts, column names matched case-insensitively:

- Cantat-Gaudin et al. 2018 (VizieR J/A+A/618/A93, table ``members``) and Cantat-Gaudin &
  Anders 2020 (J/A+A/640/A1): Gaia **DR2** id ``Source`` or ``GaiaDR2``, probability
  ``PMemb`` or ``proba`` (0–1), cluster name ``Cluster`` (M67 is ``NGC_2682``);
- Hunt & Reffert 2023 (J/A+A/673/A114, table ``members``; their own release): Gaia **DR3** id
  ``GaiaDR3`` or ``source_id``, probability ``Prob`` or ``probability``, cluster ``Name``;
- a plain list with a ``source_id`` column (every star a member, probability 1).

The small helpers (:func:`read_table`, :func:`find_column`, :func:`source_ids`) are shared by
the other catalogue readers of :mod:`phdl.io`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

__all__ = ["ID_COLUMNS", "PROB_COLUMNS", "find_column", "read_members", "read_table",
           "source_ids"]  # fmt: skip

#: Gaia id columns of a membership list, in order of preference (DR3 before DR2).
ID_COLUMNS: tuple[str, ...] = ("source_id", "GaiaDR3", "dr3_source_id", "GaiaDR2", "Source")
#: Id columns holding Gaia DR2 ids.
DR2_COLUMNS: frozenset[str] = frozenset({"gaiadr2", "source"})
#: Membership probability columns (0–1), in order of preference.
PROB_COLUMNS: tuple[str, ...] = ("PMemb", "proba", "Prob", "probability", "prob")
#: Cluster name columns.
CLUSTER_COLUMNS: tuple[str, ...] = ("Cluster", "Name")
#: Common names of clusters, as the catalogues spell them.
ALIASES: dict[str, str] = {"M67": "NGC_2682"}
_RA = ("ra", "RA_ICRS", "RAdeg", "RAJ2000", "_RAJ2000")
_DEC = ("dec", "DE_ICRS", "DEdeg", "DEJ2000", "_DEJ2000")
_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".vot": "votable", ".xml": "votable"}
_FITS = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")


def read_table(source: Any, what: str) -> tuple[Table, str]:
    """``source`` (a path, an astropy Table or a pandas DataFrame) as a Table, with the name to
    use in messages (the path, or ``what``). FITS: the first table extension; .csv, .ecsv,
    .vot/.xml by suffix; any other suffix is read as whitespace- or comma-separated text.

    FileNotFoundError naming the missing file; ValueError naming a file that is no table.
    """
    if isinstance(source, Table):
        return source, f"the {what} table"
    if hasattr(source, "columns") and hasattr(source, "to_numpy"):  # a pandas DataFrame
        return Table.from_pandas(source), f"the {what} table"
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"{what}: expected a path, a Table or a DataFrame, got {type(source)}")
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found")
    name = path.name.lower()
    fmt = "fits" if name.endswith(_FITS) else _FORMATS.get(path.suffix.lower(), "ascii")
    try:
        table = Table.read(path, format=fmt)
    except Exception as exc:  # astropy raises many kinds for an unreadable file
        raise ValueError(f"{what} {path} cannot be read as a table ({fmt}): {exc}") from None
    return table, str(path)


def find_column(table: Table, candidates: Sequence[str]) -> str | None:
    """The name in ``table`` of the first of ``candidates`` it has, compared case-insensitively;
    None if it has none."""
    names = {n.lower(): n for n in table.colnames}
    for cand in candidates:
        if cand.lower() in names:
            return names[cand.lower()]
    return None


def source_ids(values: Any, where: str) -> np.ndarray:
    """Gaia source ids as int64, -1 where missing (masked, empty, ≤ 0 such as LAMOST's -9999 or
    APOGEE's 0). Integers, or strings of digits (a ``"Gaia DR3 "`` prefix is dropped).
    ValueError naming ``where`` for ids stored as floating point (a 19-digit id does not fit
    a float64; read the column as integers or strings)."""
    mask = np.ma.getmaskarray(values)
    data = np.asarray(np.ma.getdata(values))
    if data.dtype.kind in "iu":
        ids = data.astype(np.int64)
    elif data.dtype.kind in "SUO":
        ids = np.array([_parse_id(v) for v in data.ravel()], dtype=np.int64).reshape(data.shape)
    elif data.dtype.kind == "f":
        finite = np.isfinite(data) & ~mask
        if np.any(np.abs(data[finite]) >= 2**53):  # 2**53 + 1 rounds to 2**53
            raise ValueError(
                f"{where}: Gaia ids stored as floating point have lost their last digits; "
                "read the column as integers or strings"
            )
        ids = np.where(finite, data, -1).astype(np.int64)
    else:
        raise ValueError(f"{where}: Gaia ids of type {data.dtype} are neither integers nor text")
    return np.where(mask | (ids <= 0), -1, ids)


def _parse_id(value: Any) -> int:
    text = value.decode() if isinstance(value, bytes) else str(value)
    text = re.sub(r"(?i)^gaia\s*(e?dr\d)?\s*", "", text.strip())
    return int(text) if text.isdigit() else -1


def _key(name: str) -> str:
    """A cluster name compared without case, spaces, underscores or hyphens."""
    name = ALIASES.get(name.strip().upper().replace(" ", ""), name)
    return re.sub(r"[\s_\-]", "", name).upper()


def read_members(path_or_table: Any, *, min_prob: float = 0.5, cluster: str | None = None) -> Table:
    """The members of an open cluster with membership probability ≥ ``min_prob`` (0–1).

    ``path_or_table``: a membership list in one of the layouts of the module docstring.
    ``cluster``: the cluster to keep when the list holds several (``"NGC_2682"`` or ``"M67"``;
    case, spaces and underscores are ignored); a list of several clusters without ``cluster``
    is a ValueError (reading every cluster's stars as members of one is never meant).

    Returns a Table with ``source_id`` (int64 Gaia id), ``prob`` (float, 1 for a plain list)
    and, when the list has them, ``ra``, ``dec`` (deg); one row per star (a repeated id keeps
    its highest probability). ``meta``: ``ID_COLUMN`` (the column read) and ``GAIA_DR``
    (``"DR2"`` for ``Source``/``GaiaDR2``, ``"DR3"`` for ``GaiaDR3``/``dr3_source_id``,
    ``"unknown"`` for a plain ``source_id``).

    Gaia DR2 and DR3 ids are not the same for every star: a few percent of sources were split,
    merged or renumbered between the releases, so a DR2 list (Cantat-Gaudin) matched on
    DR3 ids (our catalogue's SOURCEID, the surveys' ``source_id``) silently loses those
    members. Cross-match through Gaia's ``dr2_neighbourhood`` table first, or use a DR3 list.

    Errors: FileNotFoundError for a missing file; ValueError naming the file and what is wrong:
    no id column (the accepted ones are listed), probabilities outside 0–1, ``cluster`` not in
    the file (some of the file's clusters are listed), or no member left after the cut.
    """
    if not 0.0 <= float(min_prob) <= 1.0:
        raise ValueError(f"min_prob must lie in [0, 1], got {min_prob!r}")
    table, name = read_table(path_or_table, "membership list")
    id_col = find_column(table, ID_COLUMNS)
    if id_col is None:
        raise ValueError(
            f"{name} has no Gaia id column: expected one of {', '.join(ID_COLUMNS)} "
            f"(it has: {', '.join(table.colnames) or 'no columns'})"
        )
    table = _one_cluster(table, name, cluster)
    prob_col = find_column(table, PROB_COLUMNS)
    if prob_col is None:
        prob = np.ones(len(table))
    else:
        prob = np.asarray(np.ma.filled(np.ma.asarray(table[prob_col], dtype=float), np.nan))
        high = np.nanmax(prob) if np.isfinite(prob).any() else 0.0
        if high > 1.0 or np.nanmin(prob, initial=0.0) < 0.0:
            raise ValueError(
                f"{name}: column {prob_col!r} holds probabilities outside 0–1 (up to {high:g}); "
                "a percentage must be divided by 100"
            )
    ids = source_ids(table[id_col], f"{name} column {id_col!r}")
    keep = (prob >= min_prob) & (ids > 0)
    if not keep.any():
        where = f" of cluster {cluster!r}" if cluster else ""
        best = f"{np.nanmax(prob):g}" if np.isfinite(prob).any() else "none"
        raise ValueError(
            f"{name}: no member{where} with {prob_col or 'prob'} >= {min_prob:g} and a Gaia id "
            f"({len(table)} rows, highest probability {best})"
        )
    rows = np.flatnonzero(keep)
    order = rows[np.argsort(-prob[rows], kind="stable")]
    _, first = np.unique(ids[order], return_index=True)
    rows = np.sort(order[first])  # highest probability of each id, in the file's order
    out = Table({"source_id": ids[rows], "prob": prob[rows]})
    for col, cands in (("ra", _RA), ("dec", _DEC)):
        found = find_column(table, cands)
        if found is not None:
            out[col] = np.ma.filled(np.ma.asarray(table[found], dtype=float), np.nan)[rows]
            out[col].unit = "deg"
    out.meta["ID_COLUMN"] = id_col
    dr3 = {"gaiadr3", "dr3_source_id"}
    out.meta["GAIA_DR"] = ("DR2" if id_col.lower() in DR2_COLUMNS else
                           "DR3" if id_col.lower() in dr3 else "unknown")  # fmt: skip
    return out


def _one_cluster(table: Table, name: str, cluster: str | None) -> Table:
    """The rows of ``cluster`` (all rows when the list has no cluster column and ``cluster`` is
    None); ValueError when the choice is missing or impossible."""
    col = find_column(table, CLUSTER_COLUMNS)
    if col is None:
        if cluster is not None:
            raise ValueError(
                f"{name} has no cluster column ({' or '.join(CLUSTER_COLUMNS)}) to choose "
                f"{cluster!r} by; pass a list of that cluster's members only"
            )
        return table
    names = np.char.strip(np.asarray(table[col], dtype=str))
    known = list(dict.fromkeys(names))
    if cluster is None:
        if len(known) > 1:
            raise ValueError(
                f"{name} lists {len(known)} clusters in column {col!r} ({', '.join(known[:5])}, "
                "...); pass cluster= to choose one"
            )
        return table
    keys = np.array([_key(n) for n in names])
    rows = keys == _key(cluster)
    if not rows.any():
        raise ValueError(
            f"{name}: cluster {cluster!r} is not in column {col!r}; it has e.g. "
            f"{', '.join(known[:5])} ({len(known)} clusters)"
        )
    return table[rows]
