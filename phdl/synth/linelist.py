"""Atomic line lists: the built-in list, VALD3 and Kurucz gfall readers, air/vacuum conversion.

Units used throughout: wavelengths in Angstrom (vacuum inside :class:`LineList`), excitation
energies in eV, damping constants as log10 values in the VALD convention (radiative: s^-1;
Stark: s^-1 cm^3 per electron at 10^4 K; van der Waals: s^-1 cm^3 per H atom at 10^4 K).
Unknown damping constants are NaN.  Molecular lines are skipped by every reader.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ELEMENTS: tuple[str, ...] = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb "
    "Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U"
).split()
"""Element symbols, index + 1 = atomic number Z (H..U)."""
SYMBOL_TO_Z: dict[str, int] = {s: i + 1 for i, s in enumerate(ELEMENTS)}
ROMAN: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI")
EV_PER_INV_CM: float = 1.0 / 8065.543937  # eV per cm^-1 (CODATA 2018)
BUILTIN_CSV: Path = Path(__file__).resolve().parents[1] / "data" / "linelist.csv"


@dataclass(frozen=True)
class LineList:
    """A list of atomic lines, sorted by vacuum wavelength.

    Attributes: ``wavelength`` vacuum Angstrom (float64); ``Z`` atomic number; ``ion`` 0 neutral,
    1 singly ionized, 2 doubly; ``excitation`` lower-level energy (eV); ``loggf``; and the log10
    damping constants ``log_gamma_rad`` (s^-1), ``log_gamma_stark`` (s^-1 cm^3 per electron) and
    ``log_gamma_vdw`` (s^-1 cm^3 per H atom), both at 10^4 K, NaN where unknown.
    """

    wavelength: np.ndarray
    Z: np.ndarray
    ion: np.ndarray
    excitation: np.ndarray
    loggf: np.ndarray
    log_gamma_rad: np.ndarray
    log_gamma_stark: np.ndarray
    log_gamma_vdw: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.wavelength)
        for name in self.__dataclass_fields__:
            if np.shape(getattr(self, name)) != (n,):
                raise ValueError(f"LineList field {name!r} must have shape ({n},)")

    @classmethod
    def from_arrays(cls, **cols: np.ndarray) -> LineList:
        """Build a list from unsorted columns (same names as the fields), sorting by wavelength."""
        wl = np.asarray(cols["wavelength"], dtype=np.float64)
        order = np.argsort(wl, kind="stable")
        out = {}
        for name in cls.__dataclass_fields__:
            dtype = np.int64 if name in ("Z", "ion") else np.float64
            out[name] = np.asarray(cols[name], dtype=dtype)[order]
        return cls(**out)

    def __len__(self) -> int:
        return int(self.wavelength.shape[0])

    def select(self, mask: np.ndarray) -> LineList:
        """Subset by a boolean mask or an index array (order kept)."""
        return LineList(**{name: getattr(self, name)[mask] for name in self.__dataclass_fields__})

    def species_names(self) -> list[str]:
        """Species of every line, e.g. ``"Fe I"``, ``"Ca II"``."""
        return [f"{ELEMENTS[z - 1]} {ROMAN[i]}" for z, i in zip(self.Z, self.ion, strict=True)]


def _refractive_index_vac(wl_vac: np.ndarray) -> np.ndarray:
    """Refractive index of standard air at vacuum wavelength (Angstrom), Morton (2000)."""
    s2 = (1.0e4 / wl_vac) ** 2
    return 1.0 + 8.34254e-5 + 2.406147e-2 / (130.0 - s2) + 1.5998e-4 / (38.9 - s2)


def vacuum_to_air(wl_vac: np.ndarray) -> np.ndarray:
    """Vacuum -> air wavelength (Angstrom), IAU standard / Morton (2000); unchanged below 2000 A."""
    wl = np.asarray(wl_vac, dtype=np.float64)
    return np.where(wl > 2000.0, wl / _refractive_index_vac(np.maximum(wl, 2000.0)), wl)


def air_to_vacuum(wl_air: np.ndarray) -> np.ndarray:
    """Air -> vacuum wavelength (Angstrom): exact inverse of :func:`vacuum_to_air` (iterated)."""
    air = np.asarray(wl_air, dtype=np.float64)
    safe = np.maximum(air, 2000.0)
    vac = safe * _refractive_index_vac(safe)
    for _ in range(4):  # fixed point, converges to ~1e-12 A
        vac = safe * _refractive_index_vac(vac)
    return np.where(air > 2000.0, vac, air)


def parse_species(text: str) -> tuple[int, int] | None:
    """``"Fe I"``/``"Fe 1"``/``"FeII"`` -> (Z, ion); None for a molecule or unknown symbol."""
    m = re.fullmatch(r"\s*([A-Z][a-z]?)\s*(I{1,3}|IV|V|VI|\d)\s*", text)
    if m is None or m.group(1) not in SYMBOL_TO_Z:
        return None
    stage = m.group(2)
    ion = int(stage) - 1 if stage.isdigit() else ROMAN.index(stage)
    return SYMBOL_TO_Z[m.group(1)], ion


def _num(path: Path, lineno: int, field: str, text: str) -> float:
    """Parse one number or raise a ValueError naming file, line and field."""
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}:{lineno}: bad value for field {field!r}: {text!r}") from None


def _opt(value: float, unknown: Callable[[float], bool] = lambda v: v == 0.0) -> float:
    return float("nan") if unknown(value) else value


def _check_exists(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"line list not found: {p}")
    return p


def _finish(rows: list[tuple[float, ...]], molecules: int, path: Path) -> LineList:
    if molecules:
        warnings.warn(f"{path}: skipped {molecules} molecular line(s)", stacklevel=3)
    names = list(LineList.__dataclass_fields__)
    cols = np.array(rows, dtype=np.float64).reshape(-1, len(names)).T
    return LineList.from_arrays(**dict(zip(names, cols, strict=True)))


def read_csv(path: str | Path | None = None) -> LineList:
    """Read the project CSV format (default: the built-in ``phdl/data/linelist.csv``).

    Columns: wavelength (vacuum A), species (``Fe I``), excitation (eV), loggf, log_gamma_rad,
    log_gamma_stark, log_gamma_vdw (empty = unknown), source.
    """
    p = _check_exists(BUILTIN_CSV if path is None else path)
    rows, molecules = [], 0
    with p.open(newline="") as fh:
        reader = csv.DictReader(line for line in fh if not line.startswith("#"))
        for k, rec in enumerate(reader, start=2):
            sp = parse_species(rec.get("species") or "")
            if sp is None:
                molecules += 1
                continue
            vals = [_num(p, k, f, rec.get(f) or "") for f in ("wavelength", "excitation", "loggf")]
            damp = [
                _num(p, k, f, rec[f]) if (rec.get(f) or "").strip() else float("nan")
                for f in ("log_gamma_rad", "log_gamma_stark", "log_gamma_vdw")
            ]
            rows.append((vals[0], sp[0], sp[1], vals[1], vals[2], *damp))
    return _finish(rows, molecules, p)


_VALD_LINE = re.compile(r"^'([^']*)',(.*)$")


def read_vald(path: str | Path, air: bool | None = None) -> LineList:
    """Read a VALD3 extraction (short "stellar"/"all" or long format).

    Wavelength medium comes from the header (``WL_air``/``WL_vac``, ``air``/``vac``), else from
    ``air`` (default True, VALD's default). Energies in eV or cm^-1 (from the header). VALD packs
    ABO van der Waals data as positive sigma.alpha numbers: those are returned as NaN.
    """
    p = _check_exists(path)
    header, rows, molecules, long_fmt, stellar = "", [], 0, False, True
    lines = p.read_text(errors="replace").splitlines()
    for k, raw in enumerate(lines, start=1):
        m = _VALD_LINE.match(raw.strip())
        if m is None:
            if not header and re.search(r"(WL|Lambda)", raw):
                header = raw
                long_fmt = "E_low" in raw or "J lo" in raw
                stellar = "Vmic" in raw or "Vmicro" in raw
            continue
        fields = [f.strip() for f in m.group(2).split(",")]
        if len(fields) < 6 or not re.fullmatch(r"[\d.Ee+-]+", fields[0] or "x"):
            continue  # term-designation or reference lines of the long format
        sp = parse_species(m.group(1))
        if sp is None:
            molecules += 1
            continue
        if long_fmt:  # wl, loggf, E_low, J_lo, E_up, J_up, lande x3, rad, stark, waals
            idx = {"wl": 0, "loggf": 1, "excit": 2, "rad": 9, "stark": 10, "waals": 11}
        elif stellar:  # wl, excit, vmic, loggf, rad, stark, waals, ...
            idx = {"wl": 0, "excit": 1, "loggf": 3, "rad": 4, "stark": 5, "waals": 6}
        else:  # wl, excit, loggf, rad, stark, waals, ...
            idx = {"wl": 0, "excit": 1, "loggf": 2, "rad": 3, "stark": 4, "waals": 5}
        if len(fields) <= max(idx.values()):
            raise ValueError(f"{p}:{k}: too few fields for VALD format ({len(fields)})")
        v = {key: _num(p, k, key, fields[i]) for key, i in idx.items()}
        rows.append(
            (
                v["wl"],
                sp[0],
                sp[1],
                v["excit"],
                v["loggf"],
                _opt(v["rad"]),
                _opt(v["stark"]),
                _opt(v["waals"], lambda w: w == 0.0 or w > 0.0),
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


def _replace(lst: LineList, **changes: np.ndarray) -> LineList:
    cols = {name: getattr(lst, name) for name in LineList.__dataclass_fields__}
    cols.update(changes)
    return LineList.from_arrays(**cols)


_GFALL_FIELDS = {  # name: (start, stop) in the fixed-width gfall record
    "wavelength": (0, 11),
    "loggf": (11, 18),
    "code": (18, 24),
    "E1": (24, 36),
    "E2": (52, 64),
    "log_gamma_rad": (80, 86),
    "log_gamma_stark": (86, 92),
    "log_gamma_vdw": (92, 98),
}


def read_kurucz_gfall(path: str | Path, air: bool | None = None) -> LineList:
    """Read a Kurucz gfall file (fixed width; wavelength in nm; energies in cm^-1).

    Wavelengths above 200 nm are air in ``gfall*`` and vacuum in ``gfallvac*`` files: ``air=None``
    decides from the file name. Lower excitation = min(|E1|, |E2|) in eV. Zero gammas -> NaN.
    """
    p = _check_exists(path)
    is_air = ("vac" not in p.name.lower()) if air is None else air
    rows, molecules = [], 0
    for k, raw in enumerate(p.read_text(errors="replace").splitlines(), start=1):
        if not raw.strip():
            continue
        if len(raw) < 98:
            raise ValueError(f"{p}:{k}: gfall record too short ({len(raw)} < 98 characters)")
        v = {f: _num(p, k, f, raw[a:b]) for f, (a, b) in _GFALL_FIELDS.items()}
        z = int(v["code"])
        if z > 99 or z < 1:
            molecules += 1
            continue
        ion = int(round((v["code"] - z) * 100))
        exc = min(abs(v["E1"]), abs(v["E2"])) * EV_PER_INV_CM
        wl = v["wavelength"] * 10.0
        rows.append((wl, z, ion, exc, v["loggf"], *(_opt(v[g]) for g in list(_GFALL_FIELDS)[5:])))
    lst = _finish(rows, molecules, p)
    if is_air:
        lst = _replace(lst, wavelength=air_to_vacuum(lst.wavelength))
    return lst


def read_linelist(path: str | Path) -> LineList:
    """Read any supported line list, choosing the reader from the extension or the content."""
    p = _check_exists(path)
    if p.suffix.lower() == ".csv":
        return read_csv(p)
    head = [ln for ln in p.read_text(errors="replace").splitlines()[:50] if ln.strip()]
    if any(_VALD_LINE.match(ln.strip()) for ln in head):
        return read_vald(p)
    try:
        float(head[0][0:11])
        float(head[0][18:24])
        if len(head[0]) >= 98:
            return read_kurucz_gfall(p)
    except (ValueError, IndexError):
        pass
    raise ValueError(f"{p}: unrecognized line-list format (expected CSV, VALD3 or Kurucz gfall)")
