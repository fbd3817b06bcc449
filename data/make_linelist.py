"""Build phdl/data/linelist.csv from the excerpts in data/raw_linelists/ (see data/LINELIST.md).

Run from the repository root:  python data/make_linelist.py
Steps: parse each excerpt (air wavelengths) -> merge hyperfine/isotopic/fine-structure component
groups (same species and lower level, within 0.25 A; gf summed, gf-weighted wavelength) -> convert
air to vacuum (IAU/Morton 2000) -> keep 3750-9000 A -> resolve the same line found in several
sources (within 0.03 A) by source priority -> write the CSV sorted by wavelength.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from phdl.synth.linelist import ELEMENTS, ROMAN, air_to_vacuum, parse_species

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw_linelists"
OUT = HERE.parent / "phdl" / "data" / "linelist.csv"
WL_MIN, WL_MAX = 3750.0, 9000.0
ELEMENTS_KEPT = set(
    "C N O Na Mg Al Si S K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Sr Y Zr Ba Au La Ce Pr Nd Sm Eu".split()
)
# (file, source label, priority: lower wins when two sources list the same line)
SOURCES = {
    "textbook": (0, None),
    "pymoog": (1, "VALD3 via MingjieJian/pymoog"),
    "fasma_synth": (2, "VALD via MariaTsantaki/FASMA-synthesis"),
    "adibekyan": (3, "Adibekyan+2012 (astrophysical gf) via DanielAndreasen/FASMA"),
    "sousa": (4, "Sousa+2007 (astrophysical gf) via DanielAndreasen/FASMA"),
}


def _code(code: float) -> tuple[int, int]:
    z = int(code)
    return z, int(round((code - z) * 10))


def _rec(wl, z, ion, exc, gf, vdw, src):
    return {"wl": wl, "Z": z, "ion": ion, "exc": exc, "loggf": gf, "vdw": vdw, "src": src}


def read_textbook() -> list[dict]:
    rows = []
    with (RAW / "textbook_nist.csv").open() as fh:
        for rec in csv.DictReader(ln for ln in fh if not ln.startswith("#")):
            z, ion = parse_species(rec["species"])
            ref = rec["ref"]
            src = ref if ref.startswith("estimate") else f"textbook ({ref} values)"
            rows.append(
                _rec(
                    float(rec["wavelength_air"]),
                    z,
                    ion,
                    float(rec["excitation"]),
                    float(rec["loggf"]),
                    math.nan,
                    src,
                )
            )
    return rows


def read_columns(name: str, cols: tuple[int, int, int, int, int | None], label: str) -> list[dict]:
    """Whitespace-separated excerpt: indices of (wl, code, exc, loggf, vdw) columns."""
    rows = []
    for line in (RAW / name).read_text().splitlines():
        parts = line.split()
        if not parts or line.startswith("#") or not parts[0][0].isdigit():
            continue
        iw, ic, ie, ig, iv = cols
        z, ion = _code(float(parts[ic]))
        vdw = float(parts[iv]) if iv is not None else math.nan
        rows.append(
            _rec(
                float(parts[iw]),
                z,
                ion,
                float(parts[ie]),
                float(parts[ig]),
                vdw if vdw < 0 else math.nan,
                label,
            )
        )
    return rows


def merge_components(rows: list[dict]) -> list[dict]:
    """Merge component groups: same species and lower level (|dE| < 5 meV), within 0.25 A."""
    rows = sorted(rows, key=lambda r: (r["Z"], r["ion"], r["wl"]))
    out: list[list[dict]] = []
    for r in rows:
        g = out[-1] if out else None
        if (
            g
            and g[0]["Z"] == r["Z"]
            and g[0]["ion"] == r["ion"]
            and abs(g[0]["exc"] - r["exc"]) < 0.005
            and r["wl"] - g[0]["wl"] < 0.25
        ):
            g.append(r)
        else:
            out.append([r])
    merged = []
    for g in out:
        if len(g) == 1:
            merged.append(g[0])
            continue
        gf = np.array([10.0 ** m["loggf"] for m in g])
        wl = float(np.sum(gf * [m["wl"] for m in g]) / gf.sum())
        merged.append(
            _rec(
                wl,
                g[0]["Z"],
                g[0]["ion"],
                g[0]["exc"],
                float(np.log10(gf.sum())),
                g[0]["vdw"],
                g[0]["src"] + f" ({len(g)} components summed)",
            )
        )
    return merged


def build() -> list[dict]:
    raw = {
        "textbook": read_textbook(),
        "pymoog": read_columns("pymoog_vald_selected.moog", (0, 1, 2, 3, 4), SOURCES["pymoog"][1]),
        "fasma_synth": read_columns(
            "fasma_synthesis_vald.lst", (0, 1, 2, 3, 4), SOURCES["fasma_synth"][1]
        ),
        "adibekyan": read_columns(
            "adibekyan2012_elements.ares", (0, 1, 2, 3, None), SOURCES["adibekyan"][1]
        ),
        "sousa": read_columns("sousa2007_fe.ares", (0, 1, 2, 3, None), SOURCES["sousa"][1]),
    }
    kept: list[dict] = []
    for key, rows in sorted(raw.items(), key=lambda kv: SOURCES[kv[0]][0]):
        rows = [r for r in rows if ELEMENTS[r["Z"] - 1] in ELEMENTS_KEPT and r["ion"] <= 1]
        rows = merge_components(rows)
        if key == "fasma_synth":  # drop the weak lines of the large VALD excerpt
            rows = [r for r in rows if r["loggf"] >= (-2.7 if r["Z"] == 26 else -4.0)]
        wl_vac = air_to_vacuum(np.array([r["wl"] for r in rows]))
        for r, w in zip(rows, wl_vac, strict=True):
            r["wl"] = float(w)
        rows = [r for r in rows if WL_MIN <= r["wl"] <= WL_MAX]
        new: list[dict] = []
        for r in sorted(rows, key=lambda r: -r["loggf"]):  # stronger first within a source
            same = [
                k
                for k in kept
                if k["Z"] == r["Z"] and k["ion"] == r["ion"] and abs(k["wl"] - r["wl"]) < 0.03
            ]
            dup = [
                k
                for k in new
                if k["Z"] == r["Z"]
                and k["ion"] == r["ion"]
                and round(k["wl"], 3) == round(r["wl"], 3)
            ]
            if not same and not dup:
                new.append(r)
        kept.extend(new)
    return sorted(kept, key=lambda r: r["wl"])


def write(rows: list[dict]) -> None:
    def f3(x: float) -> str:
        return "" if math.isnan(x) else f"{x:.3f}"

    with OUT.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            [
                "wavelength",
                "species",
                "excitation",
                "loggf",
                "log_gamma_rad",
                "log_gamma_stark",
                "log_gamma_vdw",
                "source",
            ]
        )
        for r in rows:
            sp = f"{ELEMENTS[r['Z'] - 1]} {ROMAN[r['ion']]}"
            w.writerow(
                [
                    f"{r['wl']:.3f}",
                    sp,
                    f"{r['exc']:.3f}",
                    f"{r['loggf']:.3f}",
                    "",
                    "",
                    f3(r["vdw"]),
                    r["src"],
                ]
            )


if __name__ == "__main__":
    lines = build()
    write(lines)
    counts: dict[str, int] = {}
    for r in lines:
        counts[ELEMENTS[r["Z"] - 1]] = counts.get(ELEMENTS[r["Z"] - 1], 0) + 1
    print(f"wrote {len(lines)} lines to {OUT}")
    print(", ".join(f"{k}:{v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
