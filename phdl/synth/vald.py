"""The built-in VALD selection, ``Physics(linelist="vald")``: atoms and molecules.

Data: ``phdl/data/vald_selection.csv.gz`` (made by ``data/make_vald.py`` from the VALD3 list of
the pymoog 0.0.3 wheel, Ryabchikova et al. 2015; see ``data/VALD.md``): the lines of the engine's
atoms (stages I and II) and of the molecules CH, CN, C2, MgH, TiO, OH, CO and SiH whose
line-to-continuum opacity ratio at tau_5000 = 0.1 exceeds a threshold somewhere in the label
box, with at least the strongest few lines of every label element. The file's first line is a
``#`` comment holding the provenance as JSON; then a CSV with the columns

    wavelength      vacuum Å (converted from the list's air wavelengths)
    species         ``Fe I``, ``Ca II`` for atoms; ``CH``, ``TiO`` ... for molecules
    excitation      lower-level energy [eV]
    loggf           log10 gf (VALD's, isotopic fractions included)
    log_gamma_vdw   log10 van der Waals width per H atom at 10^4 K [s^-1 cm^3]; empty: unknown
    log_eta         the selection's strength: max log10 (line / continuum opacity) (information)

Molecular lines go through the engine's dissociation equilibrium
(:func:`phdl.synth.molecules.equilibrium`) and replace its pseudo-line band model. Lines of a
molecule the equilibrium does not know (SiH) are dropped with a UserWarning naming the molecule
and its line count.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import warnings
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .linelist import LineList, _count_text, parse_species
from .molecules import MOL_NAMES
from .readers_moog import MolecularLines

DATA: Path = Path(__file__).resolve().parents[1] / "data" / "vald_selection.csv.gz"
NAME = "vald"  #: the value of ``Physics.linelist`` that selects this list
_COLUMNS = ("wavelength", "species", "excitation", "loggf", "log_gamma_vdw", "log_eta")


@dataclass(frozen=True)
class ValdSelection:
    """The selection: atoms (:class:`LineList`), molecules of the engine
    (:class:`MolecularLines`), the line counts of molecules the engine does not know (dropped),
    the provenance (dict) and the file's sha256."""

    atoms: LineList
    molecules: MolecularLines
    unknown: dict[str, int]
    provenance: dict
    sha256: str


@lru_cache(maxsize=2)
def load(path: str | Path = DATA) -> ValdSelection:
    """Read and check the selection file; FileNotFoundError / ValueError naming the file (and
    the line and field of a bad record). The arrays are shared: read-only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"VALD selection {path} not found; rebuild it with python data/make_vald.py"
        )
    raw = path.read_bytes()
    try:
        text = gzip.decompress(raw).decode()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable gzipped CSV ({exc})") from None
    head, _, body = text.partition("\n")
    try:
        provenance = json.loads(head.lstrip("# "))
    except json.JSONDecodeError:
        raise ValueError(f"{path}:1: the provenance comment is not JSON") from None
    reader = csv.reader(io.StringIO(body))
    if tuple(next(reader, ())) != _COLUMNS:
        raise ValueError(f"{path}:2: expected the columns {','.join(_COLUMNS)}")
    atoms, mols, unknown = [], [], Counter()
    for k, rec in enumerate(reader, start=3):
        if len(rec) != len(_COLUMNS):
            raise ValueError(f"{path}:{k}: expected {len(_COLUMNS)} fields, got {len(rec)}")
        try:
            wl, exc, gf = float(rec[0]), float(rec[2]), float(rec[3])
            vdw = float(rec[4]) if rec[4] else float("nan")
        except ValueError:
            raise ValueError(f"{path}:{k}: bad number in {rec!r}") from None
        sp = parse_species(rec[1]) if " " in rec[1] else None  # "C2" is a molecule, not C II
        if sp is not None:
            atoms.append((wl, sp[0], sp[1], exc, gf, np.nan, np.nan, vdw))
        elif rec[1] in MOL_NAMES:
            mols.append((wl, MOL_NAMES.index(rec[1]), exc, gf))
        elif rec[1].isalnum() and " " not in rec[1]:
            unknown[rec[1]] += 1
        else:
            raise ValueError(f"{path}:{k}: bad value for field 'species': {rec[1]!r}")
    cols = np.array(atoms, dtype=np.float64).reshape(-1, 8).T
    lst = LineList.from_arrays(**dict(zip(LineList.__dataclass_fields__, cols, strict=True)))
    m = np.array(mols, dtype=np.float64).reshape(-1, 4).T
    order = np.argsort(m[0], kind="stable")
    molecules = MolecularLines(wavelength=m[0][order], mol=m[1][order].astype(np.int64),
                               excitation=m[2][order], loggf=m[3][order],
                               dissociation=np.full(order.size, np.nan))  # fmt: skip
    for arr in (*lst.__dict__.values(), *molecules.__dict__.values()):
        arr.flags.writeable = False
    return ValdSelection(lst, molecules, dict(unknown), provenance, hashlib.sha256(raw).hexdigest())


def lines(wl_min: float, wl_max: float, path: str | Path = DATA) -> tuple[LineList, dict]:
    """The atomic lines and the molecular lines in [wl_min, wl_max] (vacuum Å), the latter in
    the layout of :func:`phdl.synth.molecules.band_lines`. Warns (UserWarning) about the lines
    of molecules the engine's equilibrium does not know, which are dropped."""
    sel = load(path)
    if sel.unknown:
        text = _count_text(Counter(sel.unknown))
        warnings.warn(
            f"{Path(path).name}: dropped {sum(sel.unknown.values())} line(s) of molecules the "
            f"engine's dissociation equilibrium does not know ({text})",
            UserWarning,
            stacklevel=2,
        )
    return sel.atoms, sel.molecules.as_bands(wl_min, wl_max)
