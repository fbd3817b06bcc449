"""Line lists: the built-in list, the VALD3, Kurucz gfall and MOOG readers, air/vacuum conversion.

Map of this module and its reader files:
  :class:`LineList`               atomic lines, sorted by vacuum wavelength
  :func:`air_to_vacuum`           and :func:`vacuum_to_air` (IAU standard / Morton 2000)
  :func:`read_csv`                the project CSV format (the built-in ``phdl/data/linelist.csv``)
  :func:`read_vald`               VALD3 extractions, short and long formats (``readers_vald.py``)
  :func:`read_kurucz_gfall`       Kurucz gfall, 160 and 159 columns (``readers_gfall.py``)
  :func:`read_moog`               MOOG line lists; :func:`read_moog_all` also returns the
                                  molecular lines as :class:`MolecularLines` (``readers_moog.py``)
  :func:`read_linelist`           any of them, the format chosen from the content

Units used throughout: wavelengths in Angstrom (vacuum inside :class:`LineList`), excitation
energies in eV, damping constants as log10 values in the VALD convention (radiative: s^-1;
Stark: s^-1 cm^3 per electron at 10^4 K; van der Waals: s^-1 cm^3 per H atom at 10^4 K).
Unknown damping constants are NaN.

No record is lost without a word: a record that cannot be read raises a ValueError
``"path:line: ..."`` naming the field, and molecular lines, which :class:`LineList` does not
hold, are counted per species in a UserWarning.
"""

from __future__ import annotations

import csv
import functools
import itertools
import re
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported on first use (module __getattr__ below): they import this module
    from .readers_gfall import read_kurucz_gfall
    from .readers_moog import MolecularLines, read_moog, read_moog_all
    from .readers_vald import read_vald

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


_COMMON_MOLECULES = {  # atoms (sorted Z) -> usual name; others are named by their symbols
    (1, 1): "H2", (1, 6): "CH", (1, 7): "NH", (1, 8): "OH", (1, 12): "MgH", (1, 14): "SiH",
    (1, 20): "CaH", (1, 26): "FeH", (6, 6): "C2", (6, 7): "CN", (6, 8): "CO", (7, 7): "N2",
    (7, 8): "NO", (8, 8): "O2", (8, 14): "SiO", (8, 22): "TiO", (8, 23): "VO", (8, 40): "ZrO",
    (1, 1, 8): "H2O",
}  # fmt: skip


def molecule_name(atoms: tuple[int, ...]) -> str:
    """Conventional name of the molecule made of atomic numbers ``atoms``: (6, 1) -> ``"CH"``."""
    key = tuple(sorted(atoms))
    if key in _COMMON_MOLECULES:
        return _COMMON_MOLECULES[key]
    counts = Counter(ELEMENTS[z - 1] for z in atoms)
    return "".join(s + (str(n) if n > 1 else "") for s, n in counts.items())


def molecule_formula(text: str) -> str | None:
    """``"CN"``, ``"TiO"``, ``"C2"``, ``"H2O"`` -> its name if a molecule of known elements."""
    parts = re.findall(r"([A-Z][a-z]?)(\d*)", text)
    if not parts or "".join(s + n for s, n in parts) != text:
        return None
    if any(s not in SYMBOL_TO_Z for s, _ in parts) or sum(int(n or 1) for _, n in parts) < 2:
        return None
    return molecule_name(tuple(SYMBOL_TO_Z[s] for s, n in parts for _ in range(int(n or 1))))


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


def _count_text(counts: Counter) -> str:
    """``Counter({"CN": 2, "CH": 1})`` -> ``"CN 2, CH 1"`` (most frequent first)."""
    return ", ".join(f"{name} {n}" for name, n in counts.most_common())


def _finish(rows: list[tuple[float, ...]], molecules: Counter, path: Path) -> LineList:
    n = sum(molecules.values())
    if n:
        warnings.warn(
            f"{path}: skipped {n} molecular line(s) ({_count_text(molecules)})", stacklevel=3
        )
    names = list(LineList.__dataclass_fields__)
    cols = np.array(rows, dtype=np.float64).reshape(-1, len(names)).T
    return LineList.from_arrays(**dict(zip(names, cols, strict=True)))


def _replace(lst: LineList, **changes: np.ndarray) -> LineList:
    cols = {name: getattr(lst, name) for name in LineList.__dataclass_fields__}
    cols.update(changes)
    return LineList.from_arrays(**cols)


def read_csv(path: str | Path | None = None) -> LineList:
    """Read the project CSV format (default: the built-in ``phdl/data/linelist.csv``).

    Columns: wavelength (vacuum A), species (``Fe I``), excitation (eV), loggf, log_gamma_rad,
    log_gamma_stark, log_gamma_vdw (empty = unknown), source. A molecular species (``CN``) is
    counted and skipped; any other unreadable species raises.
    """
    p = _check_exists(BUILTIN_CSV if path is None else path)
    rows, molecules = [], Counter()
    with p.open(newline="") as fh:
        reader = csv.DictReader(line for line in fh if not line.startswith("#"))
        for k, rec in enumerate(reader, start=2):
            text = (rec.get("species") or "").strip()
            sp = parse_species(text)
            if sp is None:
                mol = molecule_formula(text.split()[0]) if text else None
                if mol is None:
                    raise ValueError(f"{p}:{k}: bad value for field 'species': {text!r}")
                molecules[mol] += 1
                continue
            vals = [_num(p, k, f, rec.get(f) or "") for f in ("wavelength", "excitation", "loggf")]
            damp = [
                _num(p, k, f, rec[f]) if (rec.get(f) or "").strip() else float("nan")
                for f in ("log_gamma_rad", "log_gamma_stark", "log_gamma_vdw")
            ]
            rows.append((vals[0], sp[0], sp[1], vals[1], vals[2], *damp))
    return _finish(rows, molecules, p)


_VALD_LINE = re.compile(r"^'([^']*)',(.*)$")
_VALD_SPECIES = re.compile(r"\s*([A-Z][A-Za-z0-9]*)\s+(\d+)\s*")  # 'Fe 1', 'CN 1', 'TiO 1'


# --- format detection and the dispatcher -------------------------------------------------------

_GFALL_RECORD = re.compile(r"^.{5,6}\.\d{4}.{3}\.\d{3}.{3}\.\d{2}(\s|$)")  # F11.4 F7.3 F6.2
_MOOG_RECORD = re.compile(r"^\s*\d+\.\d*\s+\d+(\.\d*)?\s+-?\d*\.?\d+\s+-?\d*\.?\d+(\s|$)")


def linelist_format(path: str | Path) -> str:
    """The format of a line-list file from its content: ``"csv"``, ``"vald"``, ``"gfall"``
    or ``"moog"``; ValueError naming the file when it is none of them."""
    p = _check_exists(path)
    if p.suffix.lower() == ".csv":
        return "csv"
    with p.open(errors="replace") as fh:
        head = [ln.rstrip("\r\n") for ln in itertools.islice(fh, 60)]
    body = [ln for ln in head if ln.strip() and not ln.lstrip().startswith("#")]
    if body and body[0].replace(" ", "").startswith("wavelength,species"):
        return "csv"
    if any((m := _VALD_LINE.match(ln.strip())) and _VALD_SPECIES.fullmatch(m[1]) for ln in body):
        return "vald"
    if any(_GFALL_RECORD.match(ln) for ln in body):
        return "gfall"
    if any(_MOOG_RECORD.match(ln) for ln in body[1:] or body):
        return "moog"
    raise ValueError(
        f"{p}: unrecognized line-list format (expected CSV, VALD3, Kurucz gfall or MOOG)"
    )


def _read_any(p: Path) -> LineList:
    fmt = linelist_format(p)
    if fmt == "csv":
        return read_csv(p)
    if fmt == "vald":
        from .readers_vald import read_vald

        return read_vald(p)
    if fmt == "gfall":
        from .readers_gfall import read_kurucz_gfall

        return read_kurucz_gfall(p)
    from .readers_moog import read_moog

    return read_moog(p)


@functools.lru_cache(maxsize=4)
def _read_cached(path: str, mtime_ns: int, size: int) -> tuple[LineList, tuple[str, ...]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lst = _read_any(Path(path))
    for name in LineList.__dataclass_fields__:  # shared by every caller: read-only
        getattr(lst, name).flags.writeable = False
    return lst, tuple(str(w.message) for w in caught)


def read_linelist(path: str | Path) -> LineList:
    """Read any supported line list (CSV, VALD3, Kurucz gfall, MOOG), chosen by
    :func:`linelist_format`. A reader's error (``path:line: ... field ...``) reaches the caller
    unchanged. The result is cached per file (path, size and modification time), its arrays
    read-only; the reader's warnings are repeated on every call."""
    p = _check_exists(path)
    st = p.stat()
    lst, notes = _read_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)
    return lst


_LAZY = {
    "read_kurucz_gfall": "readers_gfall",
    "read_moog": "readers_moog",
    "read_moog_all": "readers_moog",
    "read_vald": "readers_vald",
    "MolecularLines": "readers_moog",
}


def __getattr__(
    name: str,
) -> object:  # PEP 562: the reader files import this module, not the reverse
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_CSV", "ELEMENTS", "EV_PER_INV_CM", "LineList", "MolecularLines", "ROMAN",
    "SYMBOL_TO_Z", "air_to_vacuum", "linelist_format", "molecule_formula", "molecule_name",
    "parse_species", "read_csv", "read_kurucz_gfall", "read_linelist", "read_moog",
    "read_moog_all", "read_vald", "vacuum_to_air",
]  # fmt: skip
