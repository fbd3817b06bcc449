"""Build phdl/data/vald_selection.csv.gz: a selection of the VALD line list in the pymoog wheel.

Get the wheel (88 MB; MIT-licensed wrapper, whose data we use, not its code), then run from the
repository root:

    pip download --no-deps pymoog==0.0.3 -d /tmp/pymoog
    python data/make_vald.py [/tmp/pymoog/pymoog-0.0.3-py3-none-any.whl] [--out FILE]

Steps (data/VALD.md says why): read ``pymoog/files/linelist/vald/vald_3000_11000.list`` (MOOG
format, air wavelengths; VALD3, Ryabchikova et al. 2015) straight from the wheel with the
engine's MOOG reader (air -> vacuum) -> keep the atoms the engine models (stages I and II) and
the molecules, in the engine's wavelength range -> estimate every line's strength as its
line-to-continuum opacity ratio at line centre at tau_5000 = 0.1, with the engine's own physics,
in 72 stars at the corners of the label box (:data:`TEFF` x :data:`LOGG` x :data:`FEH` x the
three abundance mixtures of :func:`corner_labels`) -> keep an atomic line if that ratio exceeds
:data:`LOG_ETA_MIN` in any of the 24 with [X/Fe] = 0, and for each of the 30 label elements
(and Fe) its :data:`FLOOR` strongest lines in any corner; of each molecule, its
:data:`MOLECULE_QUOTA` strongest lines in any corner (the engine's speed limits the count;
data/VALD.md) -> write a gzipped CSV
(fixed gzip header: byte-for-byte reproducible) whose ``#`` header holds the provenance
(pymoog version, sha256 of the wheel and of the source file, package versions, the criterion)
as JSON. Prints the counts per element and per molecule.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import sys
import tempfile
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from phdl import labels as L  # noqa: E402
from phdl.synth import Physics, Synthesizer  # noqa: E402
from phdl.synth import constants as c  # noqa: E402
from phdl.synth.atoms import ATOMS  # noqa: E402
from phdl.synth.linelist import ELEMENTS, ROMAN, air_to_vacuum  # noqa: E402
from phdl.synth.lines import K_LINE  # noqa: E402
from phdl.synth.molecules import MOL_NAMES, MOLECULES  # noqa: E402
from phdl.synth.readers_moog import read_moog_all  # noqa: E402

OUT = HERE.parent / "phdl" / "data" / "vald_selection.csv.gz"
WHEEL = Path("/tmp/pymoog/pymoog-0.0.3-py3-none-any.whl")
WHEEL_SHA256 = "95a483ac8111d57c59aeb29acf1ac9d2717a444405d66e442dfd14c7001df859"
MEMBER = "pymoog/files/linelist/vald/vald_3000_11000.list"

#: the selection's corners: Teff [K], logg [cgs], [Fe/H] [dex] (vmic 1 km/s)
TEFF = (3800.0, 5000.0, 6500.0, 8000.0)
LOGG = (0.0, 2.5, 5.5)
FEH = (-4.0, 0.5)
LOG_TAU = -1.0  #: depth of the strength estimate, log10 tau_5000
#: keep an atomic line whose log10 (line / continuum opacity) exceeds this in a corner star with
#: [X/Fe] = 0 (so that no element's extreme [X/Fe] crowds out the others' lines) ...
LOG_ETA_MIN = 2.5
#: ... and the FLOOR strongest lines of each label element and Fe, in any corner
FLOOR = 20
#: molecules: the strongest lines of each (by the same log eta), at most this many
MOLECULE_QUOTA = {"CH": 1000, "CN": 800, "C2": 500, "TiO": 1200, "MgH": 400, "OH": 50,
                  "CO": 20, "SiH": 50}  # fmt: skip
WL_RANGE = (3740.0, 9010.0)  #: vacuum Å, the default Physics' internal grid (with its margin)
#: molecules the engine's equilibrium lacks, estimated with a stand-in: (engine molecule, the
#: element whose abundance ratio to the stand-in's replaces it): SiH ~ MgH x N_Si / N_Mg
STAND_IN = {"SiH": ("MgH", "Si", "Mg")}
#: MOOG species codes of molecules the reader does not return (the engine does not model them)
OTHER_CODES = {"114": "SiH"}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def corner_labels() -> np.ndarray:
    """The 72 corner stars (n, 34): Teff x logg x [Fe/H] x three mixtures: every [X/Fe] at its
    upper bound (carbon-rich: most atomic, CH, CN and C2 absorption), the same with [C/Fe] = 0
    (oxygen-rich: TiO, OH, MgH) and every [X/Fe] = 0."""
    rows = []
    for teff in TEFF:
        for logg in LOGG:
            for feh in FEH:
                for mix in ("upper", "o-rich", "solar"):
                    x = L.solar(teff, logg, 1.0, feh)
                    if mix != "solar":
                        x[4:] = L.UPPER[4:]
                    if mix == "o-rich":
                        x[4 + list(L.ELEMENTS).index("C")] = 0.0
                    rows.append(x)
    return np.array(rows)


def read_source(wheel: Path) -> tuple[bytes, str]:
    """The MOOG list's bytes and the wheel's version, after checking the wheel's sha256."""
    raw = wheel.read_bytes()
    if sha256(raw) != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {sha256(raw)} is not the expected {WHEEL_SHA256}")
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return z.read(MEMBER), wheel.name.split("-")[1]


def other_molecules(text: str) -> dict[str, np.ndarray]:
    """Lines of :data:`OTHER_CODES` molecules (the reader counts and skips them): vacuum
    wavelength, name, excitation, log gf (MOOG fixed format, 10-character fields)."""
    rows = []
    for raw in text.splitlines()[1:]:
        code = raw[10:20].strip().split(".")[0]
        if code in OTHER_CODES:
            rows.append((float(raw[0:10]), OTHER_CODES[code], float(raw[20:30]),
                         float(raw[30:40])))  # fmt: skip
    wl, name, exc, gf = zip(*rows, strict=True) if rows else ((), (), (), ())
    return {"wavelength": air_to_vacuum(np.array(wl)), "name": np.array(name, dtype=object),
            "excitation": np.array(exc), "loggf": np.array(gf)}  # fmt: skip


def corner_state(physics: Physics) -> dict:
    """The engine's depth quantities at log tau_5000 = LOG_TAU in the corner stars: T, vmic
    (n,), n/U per species (n, S) and a function giving the continuum at wavelengths (n, L)."""
    import torch

    syn = Synthesizer(physics, compile=False)
    with torch.no_grad():
        T, _, _, _, vmic, kc, nsp = syn._stage_a(torch.as_tensor(corner_labels()))
    d = int(np.argmin(np.abs(np.linspace(*physics.log_tau_range, physics.n_depth) - LOG_TAU)))
    kc = kc[:, d].numpy()

    def continuum(wl: np.ndarray) -> np.ndarray:
        i0, w = syn.grid.node_weights(wl)
        return kc[:, i0] * (1.0 - w) + kc[:, i0 + 1] * w

    return {"T": T[:, d].numpy(), "vmic": vmic.numpy(), "nsp": nsp[:, :, d].numpy(),
            "continuum": continuum}  # fmt: skip


def log_eta(state: dict, wl, sp, chi, loggf, mass_amu, scale=None, corners=None) -> np.ndarray:
    """max over the corners (all, or the boolean mask ``corners``) of log10 (line-centre opacity
    / continuum): the line's integrated opacity S (as in phdl.synth.lines) over sqrt(pi) x
    Doppler width x continuum opacity."""
    out = np.full(wl.size, -np.inf)
    for a in range(0, wl.size, 20000):
        s = slice(a, a + 20000)
        T = state["T"][:, None]
        n_u = state["nsp"][:, sp[s]] * (1.0 if scale is None else scale[:, None])
        S = (n_u * np.exp(-chi[s] / (c.K_B_EV * T)) * K_LINE * wl[s] ** 2 * 10.0 ** loggf[s]
             * (1.0 - np.exp(-c.HC_K_AA / (wl[s] * T))))  # fmt: skip
        v2 = 2e-10 * c.K_B * T / (mass_amu[s] * c.AMU) + state["vmic"][:, None] ** 2
        dopp = wl[s] / c.C_KMS * np.sqrt(v2)
        eta = S / (np.sqrt(np.pi) * dopp * state["continuum"](wl[s]))
        with np.errstate(divide="ignore"):
            out[s] = np.log10((eta if corners is None else eta[corners]).max(0))
    return out


def select(strength: np.ndarray, group: np.ndarray, floors: dict, threshold: float) -> np.ndarray:
    """Lines above ``threshold``, and the ``floors[g]`` strongest of each group ``g``."""
    keep = strength > threshold
    for g, n in floors.items():
        idx = np.flatnonzero(group == g)
        keep[idx[np.argsort(-strength[idx], kind="stable")[:n]]] = True
    return keep


def build(wheel: Path) -> tuple[str, dict]:
    """The CSV text of the selection and the counts (per species, per element, per molecule)."""
    import numpy
    import torch

    source, version = read_source(wheel)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = Path(tmp) / "vald.list"
        path.write_bytes(source)
        atoms, mols = read_moog_all(path)
    for w in caught:
        print(f"reader: {w.message}".replace(str(path), MEMBER))
    other = other_molecules(source.decode(errors="replace"))
    physics = Physics(atmosphere="atlas9", partition_functions="bc2016")
    state = corner_state(physics)

    # atoms: the engine's elements (not H: Balmer lines are the engine's own), stages I and II
    known = np.isin(atoms.Z, ATOMS.Z) & (atoms.Z > 1) & (atoms.ion <= 1)
    in_range = (atoms.wavelength >= WL_RANGE[0]) & (atoms.wavelength <= WL_RANGE[1])
    a = atoms.select(known & in_range)
    el = np.array([ATOMS.index_of_z(int(z)) for z in a.Z], dtype=int)
    args = (state, a.wavelength, 3 * el + a.ion, a.excitation, a.loggf, ATOMS.mass[el])
    s_atoms = log_eta(*args)
    solar_mix = np.arange(len(corner_labels())) % 3 == 2  # [X/Fe] = 0: the threshold's corners
    label_z = {ELEMENTS.index(e) + 1 for e in (*L.ELEMENTS, "Fe")}
    floor = select(s_atoms, a.Z, dict.fromkeys(label_z, FLOOR), np.inf)
    keep_a = floor | (log_eta(*args, corners=solar_mix) > LOG_ETA_MIN)

    # molecules of the engine, and the stand-ins
    n_el = len(ATOMS.symbols)
    mass = {n: sum(ATOMS.mass[ATOMS.index(x)] for x in MOLECULES[n][:2]) for n in MOL_NAMES}
    mm = (mols.wavelength >= WL_RANGE[0]) & (mols.wavelength <= WL_RANGE[1])
    m_wl, m_id = mols.wavelength[mm], mols.mol[mm]
    m_names = np.array([MOL_NAMES[i] for i in m_id], dtype=object)
    s_mol = log_eta(state, m_wl, 3 * n_el + m_id, mols.excitation[mm], mols.loggf[mm],
                    np.array([mass[MOL_NAMES[i]] for i in m_id]))  # fmt: skip
    keep_m = select(s_mol, m_names, MOLECULE_QUOTA, np.inf)
    om = (other["wavelength"] >= WL_RANGE[0]) & (other["wavelength"] <= WL_RANGE[1])
    o = {k: v[om] for k, v in other.items()}
    s_o = np.full(o["wavelength"].size, -np.inf)
    for name, (proxy, x, y) in STAND_IN.items():
        sel = o["name"] == name
        ratio = 10.0 ** (ATOMS.log_eps_sun[ATOMS.index(x)] - ATOMS.log_eps_sun[ATOMS.index(y)])
        lab = corner_labels()
        dx = lab[:, 4 + list(L.ELEMENTS).index(x)] - lab[:, 4 + list(L.ELEMENTS).index(y)]
        mass_x = ATOMS.mass[ATOMS.index(x)] + ATOMS.mass[ATOMS.index("H")]
        s_o[sel] = log_eta(state, o["wavelength"][sel],
                           np.full(sel.sum(), 3 * n_el + MOL_NAMES.index(proxy)),
                           o["excitation"][sel], o["loggf"][sel], np.full(sel.sum(), mass_x),
                           scale=ratio * 10.0**dx)  # fmt: skip
    keep_o = select(s_o, o["name"], MOLECULE_QUOTA, np.inf)

    rows = []
    names_a = a.species_names()
    for i in np.flatnonzero(keep_a):
        vdw = a.log_gamma_vdw[i]
        rows.append((a.wavelength[i], names_a[i], a.excitation[i], a.loggf[i],
                     f"{vdw:.3f}" if np.isfinite(vdw) else "", s_atoms[i]))  # fmt: skip
    for i in np.flatnonzero(keep_m):
        rows.append((m_wl[i], m_names[i], mols.excitation[mm][i], mols.loggf[mm][i], "",
                     s_mol[i]))  # fmt: skip
    for i in np.flatnonzero(keep_o):
        rows.append((o["wavelength"][i], o["name"][i], o["excitation"][i], o["loggf"][i], "",
                     s_o[i]))  # fmt: skip
    rows.sort(key=lambda r: (r[0], r[1]))
    counts = {
        "species": Counter(r[1] for r in rows),
        "element": Counter(r[1].split()[0] for r in rows if " " in r[1]),
        "molecule": Counter(r[1] for r in rows if " " not in r[1]),
        "read": {"atoms in range": int(in_range.sum()), "engine atoms in range": len(a),
                 "molecules in range": int(mm.sum()), "other molecules in range": int(om.sum())},
    }  # fmt: skip
    provenance = {
        "product": "phdl VALD selection (data/make_vald.py, data/VALD.md)",
        "source": f"pymoog {version} wheel, {MEMBER}",
        "wheel_sha256": WHEEL_SHA256,
        "source_sha256": sha256(source),
        "data": "VALD3 (Ryabchikova et al. 2015) via pymoog (github.com/MingjieJian/pymoog), "
        "MOOG format, air wavelengths",
        "criterion": {"log_eta_min_atoms": LOG_ETA_MIN, "threshold_corners": "[X/Fe] = 0",
                      "floor_per_element": FLOOR,
                      "molecule_quota": MOLECULE_QUOTA,
                      "log_tau5000": LOG_TAU, "teff": TEFF, "logg": LOGG, "feh": FEH,
                      "mixtures": ["[X/Fe] upper", "[X/Fe] upper, [C/Fe] 0", "[X/Fe] 0"],
                      "vmic": 1.0, "physics": "Physics(atmosphere='atlas9', "
                      "partition_functions='bc2016')", "wl_range_vacuum": WL_RANGE,
                      "stand_in": {k: v[0] for k, v in STAND_IN.items()}},
        "versions": {"python": sys.version.split()[0], "numpy": numpy.__version__,
                     "torch": torch.__version__},
        "lines": len(rows),
    }  # fmt: skip
    out = io.StringIO()
    out.write(f"# {json.dumps(provenance, sort_keys=True)}\n")
    out.write("wavelength,species,excitation,loggf,log_gamma_vdw,log_eta\n")
    for wl, sp, exc, gf, vdw, eta in rows:
        out.write(f"{wl:.4f},{sp},{exc:.4f},{gf:.3f},{vdw},{eta:.2f}\n")
    return out.getvalue(), counts


def write_gz(text: str, out: Path) -> None:
    """Gzip with a fixed header (no name, mtime 0): the same text gives the same bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode())
    out.write_bytes(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel", nargs="?", type=Path, default=WHEEL)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    text, counts = build(args.wheel)
    write_gz(text, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB), "
          f"{sum(counts['species'].values())} lines; read: {counts['read']}")  # fmt: skip
    print("| element | lines (I + II) |")
    for e in (*L.ELEMENTS, "Fe"):
        sp = [f"{e} {r}" for r in ROMAN[:2]]
        n = [counts["species"].get(s, 0) for s in sp]
        print(f"| {e} | {sum(n)} ({n[0]} + {n[1]}) |")
    others = sorted(set(counts["element"]) - {*L.ELEMENTS, "Fe"})
    print("other elements: " + ", ".join(f"{e} {counts['element'][e]}" for e in others))
    print("molecules: " + ", ".join(f"{m} {n}" for m, n in counts["molecule"].most_common()))
    missing = [e for e in L.ELEMENTS if counts["element"].get(e, 0) == 0]
    if missing:
        raise SystemExit(f"label elements without lines: {', '.join(missing)}")


if __name__ == "__main__":
    main()
