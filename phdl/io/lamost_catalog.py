"""The LAMOST low-resolution (LRS) catalogue → Table 4's identifiers, spectrum file names and
the manifest ``phdl catalog --spectra`` reads (chapter 09).

The LRS stellar-parameter catalogue (DR8 and later; FITS or CSV) has one row per spectrum with,
among many others, ``obsid``, ``designation``, ``obsdate`` (e.g. ``2016-11-04``), ``lmjd``
(the local modified Julian day of the night), ``planid``, ``spid`` (spectrograph 1–16),
``fiberid`` (1–250), ``ra``, ``dec`` (deg), ``snrg`` (S/N in g) and ``gaia_source_id``
(Gaia DR3). Names are lower case in the files; any case is accepted.

- :func:`specid`: the paper's SPECID, obsdate-planid-spid-fiberid (Table 4), the one
  implementation (:func:`phdl.catalog.inputs.header_ids` builds it from a spectrum's header
  with it);
- :func:`spec_filename`: the file LAMOST serves a spectrum as,
  ``spec-{lmjd}-{planid}_sp{spid:02d}-{fiberid:03d}.fits[.gz]``;
- :func:`read_lamost_catalog`: the catalogue in Table 4's identifier names (``RA``, ``DEC``,
  ``SOURCEID``, ``SPECID``, ``UQFLAG``) with ``path`` (the file name) and ``snrg``;
- :func:`write_manifest`: those rows whose files are in a folder, as a CSV manifest.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from astropy.table import Table

from phdl.io.members import find_column, read_table, source_ids

__all__ = ["REQUIRED", "read_lamost_catalog", "spec_filename", "specid", "write_manifest"]

#: The catalogue columns :func:`read_lamost_catalog` needs (matched case-insensitively).
REQUIRED: tuple[str, ...] = ("obsdate", "lmjd", "planid", "spid", "fiberid", "ra", "dec",
                             "snrg", "gaia_source_id")  # fmt: skip
#: Columns of the manifest :func:`write_manifest` writes, after ``path``.
MANIFEST_COLUMNS: tuple[str, ...] = ("RA", "DEC", "SOURCEID", "SPECID", "UQFLAG", "snrg")


def _text(value: Any) -> str:
    """One SPECID part as text: bytes decoded, an integral number without its ``.0``."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    return str(value).strip()


def specid(obsdate: Any, planid: Any, spid: Any, fiberid: Any) -> str:
    """Table 4's SPECID of one spectrum: ``obsdate-planid-spid-fiberid`` with the parts as the
    catalogue or header gives them (``specid("2016-11-04", "HD032434N283426B01", 7, 128)`` is
    ``"2016-11-04-HD032434N283426B01-7-128"``; numbers not zero-padded). ValueError for a
    missing (None or empty) part."""
    parts = [_text(p) if p is not None else "" for p in (obsdate, planid, spid, fiberid)]
    if not all(parts):
        raise ValueError(f"SPECID needs obsdate, planid, spid and fiberid; got {parts}")
    return "-".join(parts)


def spec_filename(lmjd: int, planid: str, spid: int, fiberid: int, *, gz: bool = False) -> str:
    """LAMOST's file name of one LRS spectrum,
    ``spec-{lmjd}-{planid}_sp{spid:02d}-{fiberid:03d}.fits`` (``.fits.gz`` with ``gz``), e.g.
    ``spec-55859-F5902_sp01-001.fits``. ``lmjd``: local modified Julian day (d)."""
    name = f"spec-{int(lmjd)}-{_text(planid)}_sp{int(spid):02d}-{int(fiberid):03d}.fits"
    return name + ".gz" if gz else name


def _stars(ids: np.ndarray, designation: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """A key per row naming its star (its Gaia id; its designation where it has no Gaia id)
    and whether the row names no star at all (a key of its own)."""
    keys = np.array([f"g{i}" if i > 0 else f"r{k}" for k, i in enumerate(ids)], dtype=object)
    orphan = ids <= 0
    if designation is not None:
        named = orphan & (np.char.str_len(designation) > 0)
        keys[named] = np.char.add("d", designation[named])
        orphan = orphan & ~named
    return keys.astype(str), orphan


def _uqflag(keys: np.ndarray, orphan: np.ndarray) -> np.ndarray:
    """The number of rows of each row's star; -1 for a row of no known star."""
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return np.where(orphan, -1, counts[inverse]).astype(np.int64)


def _snr_rank(keys: np.ndarray, snr: np.ndarray) -> np.ndarray:
    """1 for each star's highest-S/N row, 2 for the next, ..."""
    order = np.lexsort((-np.nan_to_num(snr, nan=-np.inf), keys))
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(keys)) - first + 1
    return rank


def read_lamost_catalog(path_or_table: Any, *, min_snr: float | None = None) -> Table:
    """The LAMOST LRS catalogue (a FITS or CSV file, a Table or a DataFrame; module docstring)
    with Table 4's identifier columns, one row per spectrum with ``snrg > min_snr`` (all rows
    without ``min_snr``; the paper's catalogue took S/N > 50):

    ``RA``, ``DEC`` (deg), ``SOURCEID`` (Gaia DR3; -1 where the catalogue has none),
    ``SPECID`` (:func:`specid`), ``UQFLAG`` (the number of the kept rows of the same star: 1
    unique, > 1 repeat visits; the star is its Gaia id, or its ``designation`` where it has
    no Gaia id, and -1 when it has neither), ``snr_rank`` (1 for the star's highest-``snrg``
    spectrum, 2 for the next, ...: ``snr_rank == 1`` keeps one row a star), ``path``
    (:func:`spec_filename`), ``snrg``, the parts ``obsdate``, ``lmjd``, ``planid``, ``spid``,
    ``fiberid``, and ``obsid`` and ``designation`` where present.

    Errors: FileNotFoundError for a missing file; ValueError naming the file and the missing
    columns (all of them), an empty or non-integer identifier (with its row), or the S/N cut
    when it leaves no row.
    """
    table, name = read_table(path_or_table, "LAMOST catalogue")
    cols = {want: find_column(table, [want]) for want in REQUIRED}
    missing = [want for want, got in cols.items() if got is None]
    if missing:
        raise ValueError(
            f"{name} lacks the LAMOST LRS catalogue column(s) {', '.join(missing)} "
            f"(it has: {', '.join(table.colnames[:20]) or 'no columns'})"
        )
    snr = np.asarray(np.ma.filled(np.ma.asarray(table[cols["snrg"]], dtype=float), np.nan))
    if min_snr is not None:
        keep = snr > float(min_snr)
        if not keep.any():
            raise ValueError(
                f"{name}: no spectrum with snrg > {min_snr:g} (of {len(table)}; the highest "
                f"is {np.nanmax(snr, initial=-np.inf):g})"
            )
        table, snr = table[keep], snr[keep]

    ids = source_ids(table[cols["gaia_source_id"]], f"{name} column 'gaia_source_id'")
    found = find_column(table, ["designation"])
    desig = None if found is None else np.char.strip(_as_str(table[found]))
    obsdate, planid = (np.char.strip(_as_str(table[cols[w]])) for w in ("obsdate", "planid"))
    lmjd, spid, fiberid = (_ints(table, cols[w], name) for w in ("lmjd", "spid", "fiberid"))
    for want, values in (("obsdate", obsdate), ("planid", planid)):
        if not np.all(np.char.str_len(values) > 0):
            row = int(np.argmin(np.char.str_len(values) > 0))
            raise ValueError(f"{name}: column {cols[want]!r} is empty in row {row}")
    out = Table()
    for key, want in (("RA", "ra"), ("DEC", "dec")):
        out[key] = np.ma.filled(np.ma.asarray(table[cols[want]], dtype=float), np.nan)
        out[key].unit = "deg"
    out["SOURCEID"] = ids
    out["SPECID"] = [specid(*row) for row in zip(obsdate, planid, spid, fiberid, strict=True)]
    keys, orphan = _stars(ids, desig)
    out["UQFLAG"] = _uqflag(keys, orphan)
    out["snr_rank"] = _snr_rank(keys, snr)
    out["path"] = [spec_filename(*row) for row in zip(lmjd, planid, spid, fiberid, strict=True)]
    out["snrg"] = snr
    out["obsdate"], out["lmjd"], out["planid"] = obsdate, lmjd, planid
    out["spid"], out["fiberid"] = spid, fiberid
    obsid = find_column(table, ["obsid"])
    if obsid is not None:
        out["obsid"] = np.asarray(table[obsid])
    if desig is not None:
        out["designation"] = desig
    return out


def _ints(table: Table, col: str, name: str) -> np.ndarray:
    """Column ``col`` as int64; ValueError naming the file, column and row of a missing or
    non-integral value."""
    values = np.ma.filled(np.ma.asarray(table[col], dtype=float), np.nan)
    bad = ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(f"{name}: column {col!r} has no integer in row {row}")
    return values.astype(np.int64)


def _as_str(values: Any) -> np.ndarray:
    """A text column as a numpy str array (bytes decoded, masked entries empty)."""
    return np.asarray(np.ma.filled(np.ma.asarray(values).astype(str), ""), dtype=str)


def _index(folder: Path) -> dict[str, Path]:
    """Every LAMOST spectrum file under ``folder`` (any depth: flat, or LAMOST's archive tree
    ``YYYYMMDD/planid/``) by its name."""
    return {p.name: p for p in folder.rglob("spec-*.fit*") if p.is_file()}


def write_manifest(
    table: Table,
    out_path: str | os.PathLike[str],
    spectra_dir: str | os.PathLike[str],
    *,
    missing: str = "error",
) -> Table:
    """Write the CSV manifest of ``table`` (:func:`read_lamost_catalog`'s rows) for
    ``phdl catalog --spectra out_path``: a ``path`` column with each spectrum's file, relative
    to the manifest's folder, and :data:`MANIFEST_COLUMNS` (Table 4's identifiers override the
    headers'; ``snrg`` is carried along).

    A file is looked for in ``spectra_dir`` and its subfolders (flat, or LAMOST's archive
    layout ``YYYYMMDD/planid/``) as named by :func:`spec_filename`, with or without ``.gz``
    (a catalogue row's ``path``). ``missing``:
    ``"error"`` (FileNotFoundError naming how many are missing and the first) or ``"skip"``
    (rows without a file are left out). The file is written atomically. Returns the rows
    written (their ``path`` as written).
    """
    from phdl.atomic import atomic_path

    if missing not in ("error", "skip"):
        raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
    folder = Path(spectra_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"spectra folder {folder} not found")
    absent = [c for c in ("path", *MANIFEST_COLUMNS) if c not in table.colnames]
    if absent:
        raise ValueError(f"table lacks column(s) {absent}; read it with read_lamost_catalog")
    if len(table) == 0:
        raise ValueError(f"no spectrum to write into the manifest {out_path}")
    out_path = Path(out_path)
    base = out_path.resolve().parent
    index = _index(folder)
    files, rows, lost = [], [], []
    for i, name in enumerate(np.asarray(table["path"], dtype=str)):
        found = index.get(name) or index.get(name + ".gz")
        if found is None:
            lost.append(name)
        else:
            files.append(os.path.relpath(found.resolve(), base))
            rows.append(i)
    if lost and (missing == "error" or not rows):
        hint = "; pass missing='skip' to leave them out" if rows else ""
        raise FileNotFoundError(
            f"{len(lost)} of {len(table)} spectra are not in {folder} or its subfolders, "
            f"the first {lost[0]}{hint}"
        )
    out = Table({"path": files})
    for col in MANIFEST_COLUMNS:
        out[col] = table[col][rows]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp:
        out.write(tmp, format="ascii.csv")
    return out
