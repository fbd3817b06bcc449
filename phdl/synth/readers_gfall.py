"""Kurucz gfall reader: 160-column records (and the 159-column variant), hyperfine and isotope
fractions applied.

The record layout is Kurucz's (http://kurucz.harvard.edu/linelists.html, "Line files with names
of the form GF* or HY* have the following 160 column format"):

    FORMAT(F11.4,F7.3,F6.2,F12.3,F5.2,1X,A10,F12.3,F5.2,1X,A10,
           3F6.2,A4,2I2,I3,F6.3,I3,F6.3,2I5,1X,A1,A1,1X,A1,A1,I1,A3,2I5,I6)

Columns (1-based): 1-11 wavelength (nm; air above 200 nm, vacuum in ``gfallvac*`` files),
12-18 log gf, 19-24 element code (Z + charge/100), 25-36 first energy level (cm^-1, negative =
predicted), 53-64 second energy level, 81-86 / 87-92 / 93-98 log Gamma rad / Stark / van der
Waals, 99-102 reference, 103-106 NLTE level indices, 107-109 isotope number, 110-115 log of the
hyperfine component's fractional strength, 116-118 isotope number, 119-124 log isotopic
abundance fraction, 125-160 hyperfine shifts, F quantum numbers, codes, Lande g, isotope shift.
A line split into hyperfine components and isotopes keeps the whole line's log gf in columns
12-18 on every component, so the effective log gf of a component is
log gf + hyperfine log fraction + isotope log fraction (Kurucz's SYNTHE does the same).

Some distributions write the wavelength as F10.4 (the first column missing, 159 characters, as
in ``gfallvac08oct17.dat`` above 1000 nm; Korg.jl reads them by prepending a space): a record
whose wavelength has its decimal point one column early is read that way. Blank fields after
column 98 count as zero and a record may end after column 98 (Fortran's reading of short
records), but a record that ends inside a field the reader uses raises (cut off).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from .linelist import (
    EV_PER_INV_CM,
    LineList,
    _check_exists,
    _finish,
    _num,
    _opt,
    _replace,
    air_to_vacuum,
    molecule_name,
)

# name: (start, stop), 0-based slices of the 160-column record
FIELDS: dict[str, tuple[int, int]] = {
    "wavelength": (0, 11),
    "loggf": (11, 18),
    "code": (18, 24),
    "E1": (24, 36),
    "E2": (52, 64),
    "log_gamma_rad": (80, 86),
    "log_gamma_stark": (86, 92),
    "log_gamma_vdw": (92, 98),
    "hyperfine_log_fraction": (109, 115),
    "isotope_log_fraction": (118, 124),
}
_REQUIRED_END = 98  # every record holds at least wavelength .. log Gamma vdW
_OPTIONAL = ("hyperfine_log_fraction", "isotope_log_fraction")


def _record(p: Path, k: int, raw: str) -> str:
    """The record in the 160-column alignment, or a ValueError naming the defect."""
    if len(raw) > 6 and raw[6] == ".":
        rec = raw
    elif len(raw) > 5 and raw[5] == ".":  # the 159-column variant: first column missing
        rec = " " + raw
    else:
        raise ValueError(
            f"{p}:{k}: bad value for field 'wavelength': {raw[:11]!r} "
            "(gfall F11.4: decimal point in column 7, or 6 in the 159-column variant)"
        )
    if len(rec.rstrip()) < _REQUIRED_END:
        raise ValueError(
            f"{p}:{k}: gfall record too short ({len(rec.rstrip())} < {_REQUIRED_END} characters: "
            "it ends before field 'log_gamma_vdw' is complete)"
        )
    end = len(rec.rstrip())
    for name in _OPTIONAL:
        a, b = FIELDS[name]
        if a < end < b:
            raise ValueError(
                f"{p}:{k}: gfall record ends inside field {name!r} (columns {a + 1}-{b}): cut off?"
            )
    return rec


def read_kurucz_gfall(path: str | Path, air: bool | None = None) -> LineList:
    """Read a Kurucz gfall file (fixed width; wavelength in nm; energies in cm^-1).

    Wavelengths above 200 nm are air in ``gfall*`` and vacuum in ``gfallvac*`` files: ``air=None``
    decides from the file name. Lower excitation = min(|E1|, |E2|) in eV. Zero gammas -> NaN.
    The returned ``loggf`` is the effective one, log gf + hyperfine log fraction + isotope log
    fraction (columns 110-115 and 119-124). Element codes above 99 are molecules: counted per
    species in a warning. A bad field raises ``ValueError("path:line: ... field ...")``.
    """
    p = _check_exists(path)
    is_air = ("vac" not in p.name.lower()) if air is None else air
    rows, molecules = [], Counter()
    for k, raw in enumerate(p.read_text(errors="replace").splitlines(), start=1):
        if not raw.strip():
            continue
        rec = _record(p, k, raw)
        v = {
            f: (0.0 if f in _OPTIONAL and not rec[a:b].strip() else _num(p, k, f, rec[a:b]))
            for f, (a, b) in FIELDS.items()
            if f != "code"
        }
        m = re.fullmatch(r"\s*(\d+)\.(\d\d)\s*", rec[18:24])
        if m is None:
            raise ValueError(f"{p}:{k}: bad value for field 'code': {rec[18:24]!r}")
        z, ion = int(m.group(1)), int(m.group(2))
        if z > 99:  # molecules: two-digit atomic numbers, lightest first (606 = C2, 822 = TiO)
            digits = m.group(1).zfill(len(m.group(1)) + len(m.group(1)) % 2)
            atoms = tuple(int(digits[i : i + 2]) for i in range(0, len(digits), 2))
            if not all(1 <= a <= 92 for a in atoms):
                raise ValueError(f"{p}:{k}: bad value for field 'code': {rec[18:24]!r}")
            molecules[molecule_name(atoms) + "+" * ion] += 1
            continue
        if z < 1:
            raise ValueError(f"{p}:{k}: bad value for field 'code': {rec[18:24]!r}")
        exc = min(abs(v["E1"]), abs(v["E2"])) * EV_PER_INV_CM
        loggf = v["loggf"] + v["hyperfine_log_fraction"] + v["isotope_log_fraction"]
        gammas = (_opt(v[g]) for g in ("log_gamma_rad", "log_gamma_stark", "log_gamma_vdw"))
        rows.append((v["wavelength"] * 10.0, z, ion, exc, loggf, *gammas))
    lst = _finish(rows, molecules, p)
    if is_air:
        lst = _replace(lst, wavelength=air_to_vacuum(lst.wavelength))
    return lst
