"""MOOG line-list reader: atoms into :class:`~phdl.synth.linelist.LineList`, molecules into
:class:`MolecularLines` for the engine's dissociation equilibrium.

The format is MOOG's (Sneden 1973; MOOG user's guide, "lines_in"; ``freeform 0``, the default):
line 1 is a comment and is never read as a line; every further line holds up to seven fields
read as ``(7e10.3)``, i.e. 10 characters each (anything after column 70, e.g. a reference, is
ignored; ``freeform 1`` lists give the same seven values separated by blanks):

    1 wavelength (A; MOOG lists usually give air wavelengths: converted to vacuum here)
    2 species code: ``26.0`` Fe I, ``26.1`` Fe II; digits after the first decimal are an
      isotope (``56.1135``); molecules join two-digit atomic numbers, lightest first:
      ``106.0`` CH, ``606.0`` C2, ``607.0`` CN, ``608.0`` CO, ``108.0`` OH, ``112.0`` MgH,
      ``822.0`` TiO, with the isotopes as two-digit masses (``606.01213`` = 12C13C)
    3 excitation potential of the lower level (eV)
    4 log gf
    5 damping, MOOG's ``dampingopt 0`` convention (MOOG's Damping.f): 0 = Unsold (NaN here);
      negative = log10 of gamma_vdW per H atom at 10^4 K (kept); below 1e-15 = C6 in
      cm^6 s^-1 (converted with gamma = 17 v^0.6 C6^0.4 at 10^4 K, as MOOG does); 1e-15 to 1e-4
      = gamma_vdW itself (log10 taken); 20 and above = a packed ABO sigma.alpha, as VALD-derived
      lists give it (converted by :mod:`phdl.synth.damping`); between = a factor on the Unsold
      C6 (NaN here: the engine's default applies)
    6 dissociation energy D0 (eV), molecules only
    7 equivalent width (mA), not used

log gf is taken as given: VALD extractions, such as pymoog's list, already include the isotopic
fraction of an isotopologue (13CH is ~1.97 dex below 12CH), which MOOG otherwise applies from
its driver's ``isotopes`` keyword. Blank lines and ``#`` comment lines are skipped.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atoms import ATOMS
from .damping import H_MASS, K_V, is_abo, log_gamma_vdw_from_abo
from .linelist import (
    _MOOG_RECORD,
    ELEMENTS,
    LineList,
    _check_exists,
    _count_text,
    _finish,
    _num,
    _replace,
    air_to_vacuum,
    molecule_name,
)
from .molecules import MOL_NAMES, MOLECULES

_NAMES = ("wavelength", "species", "excitation", "loggf", "damping", "dissociation", "ew")
_REQUIRED = 4
_CODE = re.compile(r"(\d+)(?:\.(\d*))?")
_ENGINE_MOLECULES = {
    tuple(sorted(ELEMENTS.index(a) + 1 for a in MOLECULES[name][:2])): i
    for i, name in enumerate(MOL_NAMES)
}


@dataclass(frozen=True)
class MolecularLines:
    """Molecular lines of the molecules the engine knows, sorted by vacuum wavelength.

    Attributes: ``wavelength`` vacuum Angstrom; ``mol`` index into
    :data:`phdl.synth.molecules.MOL_NAMES`; ``excitation`` lower-level energy (eV); ``loggf``;
    ``dissociation`` D0 from the list (eV, NaN where not given).
    """

    wavelength: np.ndarray
    mol: np.ndarray
    excitation: np.ndarray
    loggf: np.ndarray
    dissociation: np.ndarray

    def __len__(self) -> int:
        return int(self.wavelength.shape[0])

    def names(self) -> list[str]:
        """Molecule of every line, e.g. ``"CH"``."""
        return [MOL_NAMES[i] for i in self.mol]

    def as_bands(self, wl_min: float = 0.0, wl_max: float = np.inf) -> dict[str, np.ndarray]:
        """The lines in [wl_min, wl_max] (vacuum A) in the layout of
        :func:`phdl.synth.molecules.band_lines`: wavelength, mol, excitation, loggf."""
        keep = (self.wavelength >= wl_min) & (self.wavelength <= wl_max)
        return {k: getattr(self, k)[keep] for k in ("wavelength", "mol", "excitation", "loggf")}


def _species(p: Path, k: int, text: str) -> tuple[tuple[int, ...], int]:
    """Species code -> (atomic numbers, ion stage); ValueError naming the field if malformed."""
    m = _CODE.fullmatch(text.strip())
    whole = m.group(1) if m else ""
    digits = whole.zfill(len(whole) + len(whole) % 2)
    atoms = tuple(int(digits[i : i + 2]) for i in range(0, len(digits), 2))
    if m is None or not atoms or not all(1 <= a <= 92 for a in atoms):
        raise ValueError(f"{p}:{k}: bad value for field 'species': {text.strip()!r}")
    return atoms, int((m.group(2) or "0")[:1] or 0)


def _log_gamma_vdw(damping: float, z: int) -> float:
    """MOOG's damping column -> log10 gamma_vdW per H atom at 10^4 K (NaN: engine default)."""
    if damping < 0.0:
        return damping
    mass = ATOMS.mass[ATOMS.index_of_z(z)] if z in ATOMS.Z else 2.0 * z
    if is_abo(damping):
        return log_gamma_vdw_from_abo(damping, mass)
    if damping == 0.0 or damping >= 1e-4:
        return float("nan")
    if damping >= 1e-15:
        return float(np.log10(damping))
    v = np.sqrt(K_V * 1.0e4 * (1.0 / mass + 1.0 / H_MASS))
    return float(np.log10(17.0 * v**0.6 * damping**0.4))


def _fields(p: Path, k: int, raw: str, fixed: bool, last: bool) -> list[str]:
    """The seven field texts of one record ("" where blank)."""
    if not fixed:
        toks = raw.split()[:7]
        return toks + [""] * (7 - len(toks))
    body = raw[:70].rstrip()
    if last and len(body) % 10 and body[len(body) // 10 * 10] == " ":
        name = _NAMES[len(body) // 10]  # a right-justified number cut short
        raise ValueError(f"{p}:{k}: the file ends inside field {name!r} (record cut off?)")
    return [raw[10 * i : 10 * i + 10].strip() for i in range(7)]


def _is_fixed(raw: str) -> bool:
    try:
        [float(raw[10 * i : 10 * i + 10]) for i in range(_REQUIRED)]
    except ValueError:
        return False
    return _CODE.fullmatch(raw[10:20].strip()) is not None


def _parse(p: Path) -> tuple[list, list, Counter, Counter]:
    """Rows of atomic lines and of engine molecules, and the molecules counted per species."""
    lines = p.read_text(errors="replace").splitlines()
    records = [
        (k, raw)
        for k, raw in enumerate(lines[1:], start=2)
        if raw.strip() and not raw.lstrip().startswith("#")
    ]
    if lines and (_is_fixed(lines[0]) or _MOOG_RECORD.match(lines[0])):
        warnings.warn(
            f"{p}:1: looks like a line record, but line 1 of a MOOG list is a comment: not read",
            stacklevel=3,
        )
    fixed = bool(records) and _is_fixed(records[0][1])
    atoms_rows, mol_rows, known, unknown = [], [], Counter(), Counter()
    for j, (k, raw) in enumerate(records):
        f = _fields(p, k, raw, fixed, j == len(records) - 1)
        for i in range(_REQUIRED):
            if not f[i]:
                raise ValueError(f"{p}:{k}: missing value for field {_NAMES[i]!r}")
        atoms, ion = _species(p, k, f[1])
        wl, exc, loggf = (_num(p, k, _NAMES[i], f[i]) for i in (0, 2, 3))
        damp, d0 = (_num(p, k, _NAMES[i], f[i]) if f[i] else 0.0 for i in (4, 5))
        if len(atoms) == 1:
            nan = float("nan")
            atoms_rows.append(
                (wl, atoms[0], ion, exc, loggf, nan, nan, _log_gamma_vdw(damp, atoms[0]))
            )
            continue
        name = molecule_name(atoms) + "+" * ion
        idx = _ENGINE_MOLECULES.get(tuple(sorted(atoms))) if ion == 0 else None
        if idx is None:
            unknown[name] += 1
            continue
        known[name] += 1
        mol_rows.append((wl, idx, exc, loggf, d0 if d0 > 0 else float("nan")))
    return atoms_rows, mol_rows, known, unknown


def _to_vacuum(lst: LineList, air: bool) -> LineList:
    return _replace(lst, wavelength=air_to_vacuum(lst.wavelength)) if air else lst


def read_moog_all(path: str | Path, air: bool = True) -> tuple[LineList, MolecularLines]:
    """Read a MOOG line list: its atomic lines and the lines of molecules the engine knows.

    ``air`` (default True, as in VALD- and Kurucz-derived MOOG lists): the wavelengths are air
    and are converted to vacuum. Lines of a molecule the engine does not model (e.g. SiH, or an
    ion such as CH+) are counted per species in a UserWarning. A bad or missing field raises
    ``ValueError("path:line: ... field ...")``; so does a final record cut inside a number.
    """
    p = _check_exists(path)
    atoms_rows, mol_rows, _, unknown = _parse(p)
    if not atoms_rows and not mol_rows and not unknown:
        raise ValueError(f"{p}: no MOOG line records found")
    if unknown:
        warnings.warn(
            f"{p}: skipped {sum(unknown.values())} line(s) of molecules the engine does not "
            f"know ({_count_text(unknown)})",
            stacklevel=2,
        )
    atomic = _to_vacuum(_finish(atoms_rows, Counter(), p), air)
    cols = np.array(mol_rows, dtype=np.float64).reshape(-1, 5).T
    wl = air_to_vacuum(cols[0]) if air else cols[0]
    order = np.argsort(wl, kind="stable")
    mols = MolecularLines(
        wavelength=wl[order],
        mol=cols[1].astype(np.int64)[order],
        excitation=cols[2][order],
        loggf=cols[3][order],
        dissociation=cols[4][order],
    )
    return atomic, mols


def read_moog(path: str | Path, air: bool = True) -> LineList:
    """Read the atomic lines of a MOOG line list (see :func:`read_moog_all`; ``air`` as there).

    Molecular lines are not part of a :class:`LineList`: they are counted per species in a
    UserWarning (:func:`read_moog_all` returns those the engine knows).
    """
    p = _check_exists(path)
    atoms_rows, mol_rows, known, unknown = _parse(p)
    if not atoms_rows and not mol_rows and not unknown:
        raise ValueError(f"{p}: no MOOG line records found")
    lst = _finish(atoms_rows, Counter(), p)
    if known or unknown:
        note = f" (the engine does not model {_count_text(unknown)})" if unknown else ""
        warnings.warn(
            f"{p}: skipped {sum((known + unknown).values())} molecular line(s) "
            f"({_count_text(known + unknown)}); read_moog_all returns those of the engine's "
            f"molecules{note}",
            stacklevel=2,
        )
    return _to_vacuum(lst, air)
