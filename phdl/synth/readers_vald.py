"""VALD3 reader: short ("extract stellar" / "extract all") and long formats.

A VALD record is a line that begins with a quoted species and a comma (``'Fe 1',``, ``'CN 1',``);
everything else (headers, term-designation and reference lines of the long format, the model
atmosphere and abundance lines, ``'END'``, references) is not a record. A record carries a fixed
number of numeric fields for its format (from the column header: long if it names ``E_low`` or
``J lo``, "stellar" if it names ``Vmic``, else "all"); a short-format record ends with its
quoted reference, and every long-format record is followed by two term lines and a reference
line. A record that falls short of that was cut off and raises.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from .atoms import ATOMS
from .damping import is_abo, log_gamma_vdw_from_abo
from .linelist import (
    _VALD_LINE,
    _VALD_SPECIES,
    EV_PER_INV_CM,
    LineList,
    _check_exists,
    _finish,
    _num,
    _opt,
    _replace,
    air_to_vacuum,
    molecule_formula,
    parse_species,
)

# numeric fields of one record, and where the wanted ones are (0-based, after the species)
_VALD_LAYOUT = {
    "long": (12, {"wl": 0, "loggf": 1, "excit": 2, "rad": 9, "stark": 10, "waals": 11}),
    "stellar": (9, {"wl": 0, "excit": 1, "loggf": 3, "rad": 4, "stark": 5, "waals": 6}),
    "all": (7, {"wl": 0, "excit": 1, "loggf": 2, "rad": 3, "stark": 4, "waals": 5}),
}


def _split(rest: str) -> tuple[list[str], str]:
    """The comma-separated numeric fields of a record (after the species) and its reference."""
    q = rest.find("'")
    numeric, ref = (rest, "") if q < 0 else (rest[:q], rest[q:].strip())
    fields = [f.strip() for f in numeric.split(",")]
    while fields and not fields[-1]:
        fields.pop()
    return fields, ref


def _check_complete(p: Path, k: int, n: int, ref: str, fmt: str, lines: list[str]) -> None:
    """Raise if the record at line ``k`` with ``n`` numeric fields is incomplete (cut off)."""
    n_num = _VALD_LAYOUT[fmt][0]
    if n < n_num:
        raise ValueError(
            f"{p}:{k}: VALD record has {n} numeric fields, the {fmt} format has {n_num} "
            "(record cut off?)"
        )
    if fmt == "long":  # two term lines and a reference line follow every record
        if k + 3 > len(lines) or not lines[k + 2].lstrip().startswith("'"):
            raise ValueError(f"{p}:{k}: VALD long-format record without its 3 following lines")
    elif len(ref) < 2 or not ref.endswith("'"):
        raise ValueError(f"{p}:{k}: VALD record without a closed reference field (cut off?)")


def _waals(w: float, z: int) -> float:
    """VALD's van der Waals field -> log10 gamma_vdW at 10^4 K (NaN: none given)."""
    if is_abo(w):
        return log_gamma_vdw_from_abo(w, float(ATOMS.mass[ATOMS.index_of_z(z)]))
    return float("nan") if w >= 0.0 else w


def read_vald(path: str | Path, air: bool | None = None) -> LineList:
    """Read a VALD3 extraction (short "stellar"/"all" or long format).

    Wavelength medium comes from the header (``WL_air``/``WL_vac``, ``air``/``vac``), else from
    ``air`` (default True, VALD's default). Energies in eV or cm^-1 (from the header). VALD packs
    ABO van der Waals data as positive sigma.alpha numbers: those are converted to log10
    gamma_vdW at 10^4 K by :mod:`phdl.synth.damping`; 0 (none given) is NaN.
    A record (a line that begins with a quoted species such as ``'Fe 1',``) that is garbled,
    cut short or of an unknown element raises a ValueError naming file, line and field;
    molecular records are counted per species in a warning.
    """
    p = _check_exists(path)
    header, rows, molecules = "", [], Counter()
    lines = p.read_text(errors="replace").splitlines()
    for k, raw in enumerate(lines, start=1):
        m = _VALD_LINE.match(raw.strip())
        sm = _VALD_SPECIES.fullmatch(m.group(1)) if m else None
        if sm is None:  # header, term, reference, model or abundance line
            if not header and re.search(r"(WL|Lambda)", raw):
                header = raw
            continue
        sp = parse_species(m.group(1))
        mol = molecule_formula(sm.group(1)) if sp is None else None
        if sp is None and mol is None:
            raise ValueError(f"{p}:{k}: bad value for field 'species': {m.group(1)!r}")
        if "E_low" in header or "J lo" in header:
            fmt = "long"
        elif "Vmic" in header or "Vmicro" in header or not header:
            fmt = "stellar"
        else:
            fmt = "all"
        fields, ref = _split(m.group(2))
        wanted = _VALD_LAYOUT[fmt][1].items()
        v = {key: _num(p, k, key, fields[i]) for key, i in wanted if i < len(fields)}
        _check_complete(p, k, len(fields), ref, fmt, lines)
        if mol is not None:
            molecules[mol] += 1
            continue
        rows.append(
            (
                v["wl"],
                sp[0],
                sp[1],
                v["excit"],
                v["loggf"],
                _opt(v["rad"]),
                _opt(v["stark"]),
                _waals(v["waals"], sp[0]),
            )
        )
    if not rows and not molecules:
        raise ValueError(f"{p}: no VALD line records found")
    lst = _finish(rows, molecules, p)
    hdr = header.lower()
    if re.search(r"(excit|e_low)\s*\(\s*cm", hdr):
        lst = _replace(lst, excitation=lst.excitation * EV_PER_INV_CM)
    if "(nm)" in hdr:
        lst = _replace(lst, wavelength=lst.wavelength * 10.0)
    is_air = ("air" in hdr) if ("air" in hdr or "vac" in hdr) else (True if air is None else air)
    return _replace(lst, wavelength=air_to_vacuum(lst.wavelength)) if is_air else lst
