"""Convergence of the engine's line transfer with the internal grid (issue 14, item 5).

Usage: PHDL_COMPILE=0 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_convergence.py
       [--oversample 4 8 16 32] [--n-lines 30] [--every 3] [--stars sun giant poor]
       [--speed] [--speed-oversample 4 8] [--speed-batches 1 8]

1. Line sample: every ``--every``-th line of the built-in list (``phdl/data/linelist.csv``) is
   synthesized alone at oversample 4 for the Sun, and ``--n-lines`` lines with solar EW 20-3000
   mÅ are picked, stratified in log EW (about half of them 60-300 mÅ, the saturated regime),
   plus the list's strongest red lines (Na D, Ca II triplet, Mg b, Ca I 4227) when present.
2. Each line's own equivalent width [mÅ] for each star and each K = ``Physics.oversample``: a
   one-line list (temp CSV in the built-in format) on a 50 Å segment around the line,
   molecules and Balmer lines off, W = ∫ (1 − F/F₀) dλ over ±20 Å, F₀ the same run with the line
   at log gf − 30, both fluxes before the Eq. 22-24 normalization (phdl.synth.solar's method).
3. A markdown table per star (EW at each K, the ratio EW(K) / EW(4K)) and a summary: the largest
   |EW(K) − EW(4K)| / EW(4K) over the lines of 60-300 mÅ and over all lines, for each K.
4. With ``--speed``: engine throughput (spectra/s, spectra + 34 gradients/s) on the full
   LAMOST-like grid at each K of ``--speed-oversample`` (one torch thread, torch.compile as
   the engine's default unless PHDL_COMPILE=0).
"""

from __future__ import annotations

import argparse
import csv
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from phdl import labels as L
from phdl.synth import Physics, Synthesizer
from phdl.synth.linelist import BUILTIN_CSV
from phdl.synth.solar import equivalent_width

STARS = {
    "sun": ("Sun (5772/4.44/1.0/0.0)", L.solar()),
    "giant": ("cool giant (4500/2.0/1.5/0.0)", L.solar(4500.0, 2.0, 1.5, 0.0)),
    "poor": ("metal-poor giant (4800/1.8/1.5/-1.5)", L.solar(4800.0, 1.8, 1.5, -1.5)),
}
STRONG = (("Na I", 5891.6), ("Na I", 5897.6), ("Ca II", 8500.4), ("Ca II", 8544.4),
          ("Ca II", 8664.5), ("Mg I", 5174.1), ("Mg I", 5185.0), ("Ca I", 4227.9))  # fmt: skip
HALF_SEGMENT, HALF_WINDOW = 25.0, 20.0  # Å


def read_rows() -> tuple[list[str], list[dict]]:
    with open(BUILTIN_CSV) as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames), list(reader)


def line_ews(row, fields, labels, K: int, tmp: Path, **physics) -> np.ndarray:
    """Own EW [mÅ] of the one line ``row`` for each star of ``labels`` (n, 34) at oversample K."""
    path = tmp / f"line_{float(row['wavelength']):.3f}_{row['species'].replace(' ', '')}.csv"
    if not path.exists():
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerow(row)
    wl0 = float(row["wavelength"])
    n_pix = int(2 * HALF_SEGMENT / (wl0 * np.log(10.0) * 1e-4)) + 1
    base = dict(linelist=str(path), molecules=False, balmer=False, wl_start=wl0 - HALF_SEGMENT,
                n_pix=n_pix, oversample=K, **physics)  # fmt: skip
    f = Synthesizer(Physics(**base), compile=False).unnormalized(labels)
    off = {row["species"]: -30.0}
    syn0 = Synthesizer(Physics(**base, loggf_offsets=off), compile=False)
    f0 = syn0.unnormalized(labels)
    win = (wl0 - HALF_WINDOW, wl0 + HALF_WINDOW)
    return np.array([equivalent_width(syn0.wavelength, f[i], win, f0[i]) for i in range(len(f))])


def pick_lines(fields, rows, n_lines: int, every: int, tmp: Path) -> list[tuple[dict, float]]:
    """(row, solar EW at K = 4) of the sample (module docstring, step 1)."""
    sun = L.solar()[None]
    cand = rows[::every]
    for sp, wl in STRONG:
        cand += [r for r in rows if r["species"] == sp and abs(float(r["wavelength"]) - wl) < 1.0]
    seen, scanned = set(), []
    for r in cand:
        key = (r["wavelength"], r["species"])
        if key in seen:
            continue
        seen.add(key)
        ew = float(line_ews(r, fields, sun, 4, tmp)[0])
        if 20.0 <= ew <= 3000.0:
            scanned.append((r, ew))
    strong = [s for s in scanned if any(s[0]["species"] == sp and
                                        abs(float(s[0]["wavelength"]) - wl) < 1.0
                                        for sp, wl in STRONG)]  # fmt: skip
    rest = [s for s in scanned if s not in strong]
    n_sat = n_lines // 2
    n_other = max(0, n_lines - n_sat - len(strong))
    sat = [s for s in rest if 60.0 <= s[1] <= 300.0]
    other = [s for s in rest if not 60.0 <= s[1] <= 300.0]
    out = list(strong)
    for group, n in ((sat, n_sat), (other, n_other)):
        group = sorted(group, key=lambda s: s[1])
        if n and group:
            idx = np.unique(np.round(np.linspace(0, len(group) - 1, n)).astype(int))
            out += [group[i] for i in idx]
    return sorted(out, key=lambda s: float(s[0]["wavelength"]))


def convergence(args, fields, sample, tmp: Path) -> dict:
    labels = np.array([STARS[s][1] for s in args.stars])
    Ks = sorted(args.oversample)
    ew = np.zeros((len(sample), len(Ks), len(labels)))
    for i, (row, _) in enumerate(sample):
        for j, K in enumerate(Ks):
            ew[i, j] = line_ews(row, fields, labels, K, tmp)
    summary = {}
    for s, star in enumerate(args.stars):
        print(f"\n### {STARS[star][0]}\n")
        pairs = [(j, Ks.index(4 * K)) for j, K in enumerate(Ks) if 4 * K in Ks]
        head = " | ".join(f"K{K}" for K in Ks)
        ratios = " | ".join(f"K{Ks[a]}/K{Ks[b]}" for a, b in pairs)
        print(f"| line | {head} | {ratios} |")
        print("| --- " * (1 + len(Ks) + len(pairs)) + "|")
        for i, (row, _) in enumerate(sample):
            cells = " | ".join(f"{ew[i, j, s]:.1f}" for j in range(len(Ks)))
            rat = " | ".join(f"{ew[i, a, s] / ew[i, b, s]:.3f}" for a, b in pairs)
            print(f"| {row['species']} {float(row['wavelength']):.2f} | {cells} | {rat} |")
        for a, b in pairs:
            ref = ew[:, b, s]
            dev = np.abs(ew[:, a, s] / ref - 1.0)
            sat = (ref >= 60.0) & (ref <= 300.0)
            summary[(star, Ks[a])] = (dev[sat].max() if sat.any() else np.nan, dev.max(),
                                      int(sat.sum()))  # fmt: skip
    print("\n### Summary: max |EW(K) − EW(4K)| / EW(4K)\n")
    print("| star | K vs 4K | lines 60–300 mÅ (at 4K) | all lines |")
    print("| --- | --- | --- | --- |")
    for (star, K), (m_sat, m_all, n_sat) in summary.items():
        print(f"| {star} | {K} vs {4 * K} | {100 * m_sat:.1f} % ({n_sat} lines) | "
              f"{100 * m_all:.1f} % ({len(sample)} lines) |")  # fmt: skip
    return summary


def speed(Ks, batches) -> None:
    from phdl.grid import sample_labels

    print("\n### Engine speed (full LAMOST-like grid, 3800 pixels)\n")
    print("| K | what | batch | spectra/s |")
    print("| --- | --- | --- | --- |")
    x = sample_labels(16, 123)
    for K in Ks:
        syn = Synthesizer(Physics(oversample=K))
        for grads in (False, True):
            for batch in batches:
                n = batch if grads else max(batch, 4)
                syn(x[:n], with_gradients=grads, batch_size=batch)  # warm-up / compilation
                t0 = time.perf_counter()
                syn(x[:n], with_gradients=grads, batch_size=batch)
                r = n / (time.perf_counter() - t0)
                kind = "spectra + 34 gradients" if grads else "spectra"
                print(f"| {K} | {kind} | {batch} | {r:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--oversample", type=int, nargs="+", default=[4, 8, 16, 32])
    ap.add_argument("--n-lines", type=int, default=30)
    ap.add_argument("--every", type=int, default=3, help="scan every n-th line of the list")
    ap.add_argument("--stars", nargs="+", default=list(STARS), choices=list(STARS))
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--speed-oversample", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--speed-batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--skip-ews", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} thread, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}")  # fmt: skip
    fields, rows = read_rows()
    t0 = time.perf_counter()
    if not args.skip_ews:
        with tempfile.TemporaryDirectory() as d:
            sample = pick_lines(fields, rows, args.n_lines, args.every, Path(d))
            print(f"{len(sample)} lines picked in {time.perf_counter() - t0:.0f} s")
            convergence(args, fields, sample, Path(d))
        print(f"\nEW part: {time.perf_counter() - t0:.0f} s")
    if args.speed:
        speed(args.speed_oversample, args.speed_batches)


if __name__ == "__main__":
    main()
