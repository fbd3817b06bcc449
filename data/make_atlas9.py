"""Build phdl/data/atlas9.npz from the Castelli & Kurucz (2003) ATLAS9 grids in the pymoog wheel.

Get the wheel (88 MB; MIT-licensed wrapper, whose data we use, not its code), then run from the
repository root:

    pip download --no-deps pymoog==0.0.3 -d /tmp/pymoog
    python data/make_atlas9.py [/tmp/pymoog/pymoog-0.0.3-py3-none-any.whl] [--out FILE]

Steps (data/ATLAS9.md says why): read the solar-scaled ODFNEW grids
``pymoog/files/model/kurucz/standard/a[mp]XXk2.dat`` (one [M/H] per file, v_turb 2 km/s,
l/H 1.25) straight from the wheel -> keep Teff 3500-8000 K, logg 0-5, [M/H] -5.0 to +0.5 ->
check every model (72 layers, header values, monotone mass column, P > P_e) and reject the
unusable ones -> per layer store log RHOX, T, log P_gas, log P_e (= XNE k T), and log tau_Ross
= log of the integral of ABROSS d(RHOX) -> write a float32 npz with the provenance (pymoog
version, sha256 of the wheel and of every source file) as a JSON string. Gaps (models absent from
the grid, or rejected) stay NaN with a status code; :mod:`phdl.synth.atlas9` fills them.
The output is byte-for-byte reproducible (fixed zip timestamps).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "phdl" / "data" / "atlas9.npz"
WHEEL = Path("/tmp/pymoog/pymoog-0.0.3-py3-none-any.whl")
WHEEL_SHA256 = "95a483ac8111d57c59aeb29acf1ac9d2717a444405d66e442dfd14c7001df859"
MEMBER = re.compile(r"^pymoog/files/model/kurucz/standard/a([mp])(\d\d)k2\.dat$")
GRID_POINTS = "pymoog/files/grid_points_kurucz.csv"

TEFF = np.arange(3500.0, 8000.0 + 1, 250.0)  # 19 values
LOGG = np.arange(0.0, 5.0 + 1e-9, 0.5)  # 11 values
MH = np.array([-5.0, -4.5, -4.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5,
               -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.5])  # fmt: skip
N_LAYERS = 72
K_B = 1.380649e-16  # erg/K
#: a converged model is hotter than Teff at its bottom (tau_Ross ~ 100); below this it failed
MIN_BOTTOM_T = 1.1
ABSENT, OK, REJECTED = 1, 0, 2  # status codes
COLUMNS = ("log_rhox", "T", "log_pg", "log_pe", "log_tau_ross")

_HEAD = re.compile(r"EFF\s+([\d.]+)\s+GRAVITY\s+([-\d.]+)")
_TITLE = re.compile(r"\[([-+]\d\.\d)\]")
_SCALE = re.compile(r"BUNDANCE SCALE\s+([\d.]+)")
_DECK = re.compile(r"DECK6\s+(\d+)\s+RHOX,T,P,XNE,ABROSS")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_models(text: str, name: str, mh: float) -> list[tuple[float, float, np.ndarray]]:
    """(Teff, logg, layers (n, >=5)) of every model in one grid file.

    Some files of the wheel have lost the first character of every line ('EFF' for 'TEFF',
    'EAD DECK6'); the patterns accept both. The [M/H] in each TITLE and the ABUNDANCE SCALE must
    match the file name. Models whose TITLE is not the grid's (ap00k2.dat has a few "TEST RUN"
    models, all hotter than 8000 K) are skipped.
    """
    lines = text.splitlines()
    models, i, head = [], 0, None
    while i < len(lines):
        m = _HEAD.search(lines[i])
        if m:
            head = (float(m.group(1)), float(m.group(2)))
            t = _TITLE.search(lines[i + 1])
            if t is None:  # ap00k2.dat also holds a few "TEST RUN" models, not of the grid
                head = None
            elif abs(float(t.group(1)) - mh) > 1e-6:
                raise ValueError(f"{name}:{i + 2}: TITLE [M/H] is not {mh:+.1f}")
            s = _SCALE.search(lines[i + 4])
            if head and (s is None or abs(np.log10(float(s.group(1))) - mh) > 0.01):
                raise ValueError(f"{name}:{i + 5}: ABUNDANCE SCALE is not 10^{mh:+.1f}")
        d = _DECK.search(lines[i])
        if d and head is None:
            i += int(d.group(1))
        elif d:
            n = int(d.group(1))
            try:
                rows = np.array([[float(v) for v in lines[i + 1 + k].split()] for k in range(n)])
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{name}:{i + 2}: unreadable layer block ({exc})") from None
            models.append((head[0], head[1], rows))
            head, i = None, i + n
        i += 1
    return models


def tau_ross(rhox: np.ndarray, abross: np.ndarray) -> np.ndarray:
    """Rosseland optical depth: the integral of ABROSS d(RHOX), trapezoidal in ln RHOX, with
    tau_1 = ABROSS_1 RHOX_1 at the top (constant opacity above the first layer, as ATLAS)."""
    f = abross * rhox
    steps = 0.5 * (f[1:] + f[:-1]) * np.diff(np.log(rhox))
    return np.concatenate([[f[0]], f[0] + np.cumsum(steps)])


def check(teff: float, rows: np.ndarray) -> str | None:
    """Why a model is unusable, or None."""
    if rows.shape != (N_LAYERS, 9):
        return f"{rows.shape[0]} layers x {rows.shape[1]} columns (the grid's own are 72 x 9)"
    rhox, T, P, xne, abross = rows[:, :5].T
    if not (np.all(np.diff(rhox) > 0) and np.all(rows[:, :5] > 0)):
        return "mass column not increasing or a non-positive value"
    if np.any(P <= xne * K_B * T):
        return "electron pressure above gas pressure"
    if T[-1] < MIN_BOTTOM_T * teff:
        return f"not converged: T = {T[-1]:.0f} K < {MIN_BOTTOM_T} Teff at the bottom"
    return None


def build(wheel: Path) -> tuple[dict[str, np.ndarray], dict]:
    raw = wheel.read_bytes()
    z = zipfile.ZipFile(io.BytesIO(raw))
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    version = re.search(r"^Version: (\S+)$", z.read(meta).decode(), re.M).group(1)
    listed = {
        tuple(round(float(v), 2) for v in ln.split(",")[:3])
        for ln in z.read(GRID_POINTS).decode().splitlines()[1:]
        if ln.strip()
    }
    shape = (TEFF.size, LOGG.size, MH.size)
    out = {k: np.full(shape + (N_LAYERS,), np.nan, dtype=np.float32) for k in COLUMNS}
    status = np.full(shape, ABSENT, dtype=np.int8)
    files, rejected = {}, []
    for name in sorted(z.namelist()):
        m = MEMBER.match(name)
        if not m:
            continue
        mh = (-1.0 if m.group(1) == "m" else 1.0) * int(m.group(2)) / 10.0
        if not np.any(np.isclose(MH, mh)):
            continue
        data = z.read(name)
        files[name] = sha256(data)
        k = int(np.argmin(np.abs(MH - mh)))
        for teff, logg, rows in parse_models(data.decode("ascii"), name, mh):
            i, j = np.flatnonzero(TEFF == teff), np.flatnonzero(np.isclose(LOGG, logg))
            if i.size == 0 or j.size == 0:
                continue
            if (teff, logg, mh) not in listed:
                raise ValueError(f"{name}: model {teff:g}/{logg:g} not in {GRID_POINTS}")
            why = check(teff, rows)
            if why:
                status[i[0], j[0], k] = REJECTED
                rejected.append({"teff": teff, "logg": logg, "mh": mh, "reason": why})
                continue
            rhox, T, P, xne, abross = rows[:, :5].T
            cols = {
                "log_rhox": np.log10(rhox),
                "T": T,
                "log_pg": np.log10(P),
                "log_pe": np.log10(xne * K_B * T),
                "log_tau_ross": np.log10(tau_ross(rhox, abross)),
            }
            for key, v in cols.items():
                out[key][i[0], j[0], k] = v
            status[i[0], j[0], k] = OK
    if len(files) != MH.size:
        raise ValueError(f"{wheel}: found {len(files)} of the {MH.size} grid files needed")
    out.update(teff=TEFF, logg=LOGG, mh=MH, status=status)
    absent = [
        {"teff": float(TEFF[i]), "logg": float(LOGG[j]), "mh": float(MH[k])}
        for i, j, k in zip(*np.nonzero(status == ABSENT), strict=True)
    ]
    prov = {
        "product": "phdl/data/atlas9.npz, made by data/make_atlas9.py (see data/ATLAS9.md)",
        "reference": "Castelli F. & Kurucz R. L. 2003, IAU Symp. 210, A20 (ATLAS9 ODFNEW grids)",
        "source": f"pymoog=={version} wheel (MIT; github.com/MingjieJian/pymoog), "
        "pymoog/files/model/kurucz/standard/a[mp]XXk2.dat",
        "pymoog_version": version,
        "wheel": wheel.name,
        "wheel_sha256": sha256(raw),
        "files_sha256": files,
        "grid_points_sha256": sha256(z.read(GRID_POINTS)),
        "mixture": "Anders & Grevesse 1989 solar, scaled by [M/H]; N(H):N(He) = 0.911:0.089",
        "vturb_kms": 2.0,
        "mixing_length": 1.25,
        "columns": {
            "log_rhox": "log10 mass column RHOX [g cm^-2]",
            "T": "temperature [K]",
            "log_pg": "log10 gas pressure P [dyn cm^-2]",
            "log_pe": "log10 electron pressure XNE k T [dyn cm^-2]",
            "log_tau_ross": "log10 Rosseland optical depth, integral of ABROSS d(RHOX)",
        },
        "status": {"0": "ok", "1": "absent from the source grid", "2": "rejected"},
        "n_models": int((status == OK).sum()),
        "absent": absent,
        "rejected": rejected,
    }
    return out, prov


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed, but with fixed zip timestamps (reproducible bytes), via a temp name."""
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue(), compresslevel=9)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", nargs="?", type=Path, default=WHEEL, help=f"default {WHEEL}")
    ap.add_argument("--out", type=Path, default=OUT, help=f"default {OUT}")
    args = ap.parse_args(argv)
    if not args.wheel.is_file():
        print(f"no wheel at {args.wheel}; run: pip download --no-deps pymoog==0.0.3 "
              f"-d {WHEEL.parent}", file=sys.stderr)  # fmt: skip
        return 2
    arrays, prov = build(args.wheel)
    if prov["wheel_sha256"] != WHEEL_SHA256:
        print(f"warning: wheel sha256 {prov['wheel_sha256']} differs from {WHEEL_SHA256}")
    arrays["provenance"] = np.array(json.dumps(prov, indent=1, sort_keys=True))
    write_npz(args.out, arrays)
    st = arrays["status"]
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {st.size} grid points, "
          f"{(st == OK).sum()} models, {(st == ABSENT).sum()} absent, "
          f"{(st == REJECTED).sum()} rejected")  # fmt: skip
    for r in prov["rejected"]:
        print(f"  rejected {r['teff']:g}/{r['logg']:g}/{r['mh']:+.1f}: {r['reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
