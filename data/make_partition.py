"""Rebuild ``phdl/data/partition_bc2016.csv``, the engine's atomic partition functions.

Source: Barklem & Collet (2016, A&A 588, A96), Table 8 (CDS J/A+A/588/A96/table8.dat):
partition functions of 284 atoms and ions, H to U, computed from the NIST ASD energy levels,
on 42 temperatures from 1e-5 to 1e4 K. We take it from the copy that the ``exojax`` wheel ships
(``exojax/data/atom/barklem_collet_2016_pff.txt``, MIT-licensed package; the table rows only,
byte for byte those of the CDS file), so the rebuild needs nothing but the package registry:

    python data/make_partition.py                       # pip-downloads exojax==2.6.0
    python data/make_partition.py --table table8.dat    # or any copy of Table 8 (CDS layout)

One correction is applied: the authors' erratum of November 2022 (Barklem, ReadMe_Bug_fix_Oct-
Nov2022 and table8_vNov2022.dat in github.com/barklem/public-data, directory
partition-functions_and_equilibrium-constants, commit cc097727c59880d0599ec282f548e6f67a48cace)
fixes a bug in the statistical weights of levels listed with several J values. Of the engine's
species only Na I changes by more than 0.03 % (17 % at 10,000 K, 0.2 % at 5,000 K); its corrected
row is typed in below. (Y I and La I change by < 2e-4 and are left as published.)

What is written: for every element of ``phdl.synth.atoms.SYMBOLS`` and ionization stage I, II, III
that Table 8 has (all of them except H III, which does not exist), the natural log of U at the
table's temperatures from 100 K to 10,000 K (20 nodes), 8 decimals. ``phdl.synth.partition``
interpolates it. Written to a temporary name, then renamed.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "phdl" / "data" / "partition_bc2016.csv"

EXOJAX = "exojax==2.6.0"
MEMBER = "exojax/data/atom/barklem_collet_2016_pff.txt"
MEMBER_SHA256 = "6c7910298838addf3c366f5d86985f1a64c866cef5ce65613e9a126fef312650"

#: Table 8's 42 temperatures (K), as in the CDS ReadMe's header line.
T_GRID = tuple(
    float(t)
    for t in """
    1e-5 1e-4 1e-3 1e-2 0.1 0.15 0.2 0.3 0.5 0.7 1 1.3 1.7 2 3 5 7 10 15 20 30 50 70 100 130 170
    200 250 300 500 700 1000 1500 2000 3000 4000 5000 6000 7000 8000 9000 10000
    """.split()
)
T_MIN = 100.0  # lowest node kept

#: Na I from table8_vNov2022.dat (the erratum above), all 42 temperatures.
NA_I_NOV2022 = (2.0,) * 33 + tuple(
    float(u)
    for u in "2.00003 2.00178 2.01466 2.06065 2.18987 2.49793 3.11800 4.19302 5.84799".split()
)

_ROW = re.compile(r"^\s*([A-Z][a-z]?)(_I{1,3}|_IV|_V|_VI|-)\s+(.*)$")  # "Fe_II", or "H-" (anion)
_ROMAN = ("I", "II", "III")


def read_table8(text: str) -> dict[str, tuple[float, ...]]:
    """Rows of Table 8 (CDS layout, or its rows alone): ``{"Fe I": (42 values), "H-": ...}``."""
    rows = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _ROW.match(line)
        if not m:
            continue
        values = tuple(float(v) for v in m.group(3).split())
        if len(values) != len(T_GRID):
            raise ValueError(f"Table 8 line {lineno}: {len(values)} values, expected {len(T_GRID)}")
        rows[f"{m.group(1)}{m.group(2).replace('_', ' ')}"] = values
    if len(rows) != 284:
        raise ValueError(f"Table 8: {len(rows)} species read, expected 284")
    return rows


def _from_wheel() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", EXOJAX, "-d", tmp]
        subprocess.run(cmd, check=True)
        (wheel,) = Path(tmp).glob("exojax-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read(MEMBER)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MEMBER_SHA256:
        raise ValueError(f"{MEMBER}: sha256 {digest}, expected {MEMBER_SHA256}")
    return raw.decode()


def build(rows: dict[str, tuple[float, ...]]) -> tuple[list[str], list[str]]:
    """CSV lines for the engine's species, and the species that Table 8 lacks."""
    sys.path.insert(0, str(ROOT))
    from phdl.synth.atoms import SYMBOLS

    rows = dict(rows)
    rows["Na I"] = NA_I_NOV2022
    keep = [k for k, t in enumerate(T_GRID) if t >= T_MIN]
    lines = ["species," + ",".join(f"{T_GRID[k]:g}" for k in keep)]
    missing = []
    for sym in SYMBOLS:
        for roman in _ROMAN:
            name = f"{sym} {roman}"
            if name not in rows:
                missing.append(name)
                continue
            u = [rows[name][k] for k in keep]
            if min(u) <= 0 or any(b < a for a, b in zip(u, u[1:], strict=False)):
                raise ValueError(f"{name}: partition function not positive and non-decreasing")
            lines.append(name + "," + ",".join(f"{math.log(x):.8f}" for x in u))
    return lines, missing


HEADER = """\
# Atomic partition functions of the phdl engine: natural log of U(T) at the tabulated T (K).
# Source: Barklem P. S. & Collet R. 2016, A&A 588, A96, Table 8 (CDS J/A+A/588/A96), computed
# from NIST ASD levels; Na I from the authors' erratum of Nov 2022 (table8_vNov2022.dat).
# Made by data/make_partition.py (see data/PARTITION.md); do not edit by hand.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", type=Path, help="a local copy of Table 8 (default: from exojax)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    text = args.table.read_text() if args.table else _from_wheel()
    lines, missing = build(read_table8(text))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_text(HEADER + "\n".join(lines) + "\n")
    os.replace(tmp, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({len(lines) - 1} species, {args.out.stat().st_size} bytes)")
    print(f"sha256 {digest}")
    print("not in Table 8 (engine keeps its approximation):", ", ".join(missing) or "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
