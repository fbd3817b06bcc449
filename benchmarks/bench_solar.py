"""The engine's solar spectrum against the observed Sun, for each combination of the engine's
physics options (issue 14, items 7-8): what each option does to the distance from the Sun.

Usage: PHDL_COMPILE=0 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_solar.py
       [--atmospheres grey atlas9] [--partition-functions two-level bc2016]
       [--oversample 4 16] [--linelist PATH]

Per combination of ``Physics(atmosphere=..., partition_functions=..., oversample=...)`` (all else
default, or the line list of ``--linelist``; oversample 4 is the default internal grid, 16 a
4x finer one that shows what is not yet converged, issue 14 item 5), it prints:
1. each line's own equivalent width in the engine's solar spectrum (phdl.synth.solar, module
   docstring: with minus without the line's species, flux before the Eq. 22-24 normalization,
   full LAMOST-like spectrum at R = 1800), the Sun's (Moore, Minnaert & Houtgast 1966) and the
   ratio; target: every ratio within 0.85-1.15;
2. the depths of the Ca II triplet in the normalized spectrum (and of the line alone); target:
   8542 the deepest;
3. the G4300 index [Å] on the flux before normalization (Lick's definition), on the normalized
   flux, and the part of it due to molecules (CH); the Sun's value is not in the data
   (phdl.synth.solar.SOLAR_G4300 is None: no source found), so no ratio;
4. for a 4,000 K dwarf (logg 4.6, vmic 1 km/s, solar abundances): the molecular depth of the TiO
   7054 band and of the 5100-5200 Å region (MgH, with the engine's TiO alpha and C2 Swan bands
   there too) and the ripple of the molecular absorption across the band (a comb of
   pseudo-lines shows as a large ripple);
5. a summary of the targets met per combination.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import time

import numpy as np

from phdl import labels as L
from phdl.synth import Physics
from phdl.synth import solar as S

DWARF = L.solar(4000.0, 4.6, 1.0, 0.0)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True)  # fmt: skip
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def measure(physics: Physics) -> dict:
    t0 = time.perf_counter()
    out = {
        "ews": S.own_line_ews(physics),
        "g4300": S.g4300_of(physics),
        "mol": S.molecular_depths(physics, DWARF),
    }
    out["seconds"] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--atmospheres", nargs="+", default=["grey", "atlas9"])
    ap.add_argument("--partition-functions", nargs="+", default=["two-level", "bc2016"])
    ap.add_argument("--oversample", nargs="+", type=int, default=[4, 16])
    ap.add_argument("--linelist", default=None, help="line list for Physics(linelist=...)")
    args = ap.parse_args()
    combos = [(a, p, k) for k in args.oversample for a in args.atmospheres
              for p in args.partition_functions]  # fmt: skip
    print(f"# bench_solar: commit {_commit()}, {platform.node()}, "
          f"line list {args.linelist or 'built-in'}")  # fmt: skip
    res = {}
    for atm, pf, k in combos:
        res[(atm, pf, k)] = measure(Physics(atmosphere=atm, partition_functions=pf,
                                            oversample=k, linelist=args.linelist))  # fmt: skip
    heads = [f"{a}/{p}/K{k}" for a, p, k in combos]
    print("combinations: atmosphere/partition functions/K = Physics.oversample")

    print("\n## 1. Solar equivalent widths [mÅ]: engine's own EW (engine/Sun)")
    print("| line | Sun | " + " | ".join(heads) + " |")
    print("|---|---:|" + "---:|" * len(combos))
    for line in S.SOLAR_LINES:
        sun = line.ew_sun
        cells = []
        for c in combos:
            ew = res[c]["ews"][line.name]["ew"]
            cells.append(f"{ew:.0f} ({ew / sun:.2f})" if sun else f"{ew:.0f}")
        sun_txt = f"{sun:.0f}" if sun else "n/a"
        print(f"| {line.name} | {sun_txt} | " + " | ".join(cells) + " |")

    print("\n## 2. Ca II triplet depths: in the normalized spectrum (line alone)")
    print("| combination | " + " | ".join(S.TRIPLET) + " | 8542 deepest |")
    print("|---|" + "---:|" * len(S.TRIPLET) + "---|")
    for c, h in zip(combos, heads, strict=True):
        e = res[c]["ews"]
        cells = [f"{e[n]['spectrum_depth']:.3f} ({e[n]['depth']:.3f})" for n in S.TRIPLET]
        print(f"| {h} | " + " | ".join(cells) + f" | {_deepest(e)} |")

    print("\n## 3. G4300 [Å] of the solar spectrum (observed value: not in the data)")
    print("| combination | raw flux (Lick) | normalized flux | due to molecules (CH) |")
    print("|---|---:|---:|---:|")
    for c, h in zip(combos, heads, strict=True):
        g = res[c]["g4300"]
        print(f"| {h} | {g['raw']:.2f} | {g['norm']:.2f} | {g['CH']:.2f} |")

    print("\n## 4. A 4,000 K dwarf (logg 4.6, [Fe/H] 0): molecular depth (ripple) per band")
    names = list(S.MOLECULAR_BANDS)
    print("| combination | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for c, h in zip(combos, heads, strict=True):
        m = res[c]["mol"]
        cells = [f"{m[n]['depth']:.3f} ({m[n]['ripple']:.3f})" for n in names]
        print(f"| {h} | " + " | ".join(cells) + " |")
    for n in names:
        lo, hi = S.MOLECULAR_BANDS[n]
        bands = ", ".join(S.engine_bands((lo, hi))) or "none"
        print(f"{n}: {lo:.0f}-{hi:.0f} Å air; the engine's bands with an origin there: {bands}")

    print("\n## 5. Targets met (EWs within 15 % of the Sun; 8542 deepest; G4300 within 30 %)")
    print("| combination | EWs within 15 % | worst line (ratio) | 8542 deepest | G4300 | s |")
    print("|---|---|---|---|---|---:|")
    for c, h in zip(combos, heads, strict=True):
        ratios = {line.name: res[c]["ews"][line.name]["ew"] / line.ew_sun
                  for line in S.SOLAR_LINES if line.ew_sun}  # fmt: skip
        ok = [n for n, r in ratios.items() if abs(r - 1.0) <= 0.15]
        worst = max(ratios, key=lambda n: abs(np.log(ratios[n])))
        print(f"| {h} | {len(ok)}/{len(ratios)} ({', '.join(ok) or 'none'}) | "
              f"{worst} ({ratios[worst]:.2f}) | {_deepest(res[c]['ews'])} | "
              f"no reference | {res[c]['seconds']:.1f} |")  # fmt: skip


def _deepest(ews: dict) -> str:
    depths = {n: ews[n]["spectrum_depth"] for n in S.TRIPLET}
    top = max(depths, key=depths.get)
    return "yes" if top == "Ca II 8542" else f"no ({top})"


if __name__ == "__main__":
    main()
